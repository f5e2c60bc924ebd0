/**
 * The simulator's event queue: a binary min-heap on (time, insertion order),
 * so events at the same instant run in the order they were scheduled and a
 * seeded run replays exactly.
 */

export interface SimEvent {
  t: number;
  seq: number;
  /** A timer's callback; undefined for a datagram delivery. */
  fn: (() => void) | undefined;
  cancelled: boolean;
  /** Delivery: destination slot, sender address, bytes. */
  dst: number;
  from: string;
  data: Uint8Array | undefined;
}

export class EventHeap {
  readonly #a: SimEvent[] = [];
  #seq = 0;

  get size(): number {
    return this.#a.length;
  }

  push(e: Omit<SimEvent, 'seq'>): SimEvent {
    const ev = e as SimEvent;
    ev.seq = this.#seq++;
    const a = this.#a;
    a.push(ev);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(ev, a[p])) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = ev;
    return ev;
  }

  peekTime(): number {
    return this.#a.length > 0 ? this.#a[0].t : Infinity;
  }

  pop(): SimEvent | undefined {
    const a = this.#a;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      const n = a.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && less(a[r], a[l]) ? r : l;
        if (!less(a[c], last)) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

function less(x: SimEvent, y: SimEvent): boolean {
  return x.t < y.t || (x.t === y.t && x.seq < y.seq);
}
