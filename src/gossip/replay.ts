/**
 * Replay protection: per sender, the epoch (its boot time) and a 64-message
 * sliding window over its sequence numbers, as IPsec and WireGuard do. A
 * datagram from an older epoch, below the window, or already seen is refused.
 */

interface Window {
  epoch: number;
  top: number;
  /** Bits for top-1 … top-32 and top-33 … top-64. */
  lo: number;
  hi: number;
  seenAt: number;
}

export const REPLAY_WINDOW = 64;

export class ReplayGuard {
  readonly #senders = new Map<string, Window>();

  get size(): number {
    return this.#senders.size;
  }

  /** True (and remembered) if (epoch, seq) from sender is new. */
  accept(sender: string, epoch: number, seq: number, now: number): boolean {
    const w = this.#senders.get(sender);
    if (w === undefined || epoch > w.epoch) {
      this.#senders.set(sender, { epoch, top: seq, lo: 0, hi: 0, seenAt: now });
      return true;
    }
    if (epoch < w.epoch) return false;
    w.seenAt = now;
    if (seq > w.top) {
      const d = seq - w.top;
      if (d >= 64) {
        w.hi = 0;
        w.lo = 0;
      } else if (d >= 32) {
        w.hi = (w.lo << (d - 32)) >>> 0;
        w.lo = 0;
      } else {
        w.hi = ((w.hi << d) | (w.lo >>> (32 - d))) >>> 0;
        w.lo = (w.lo << d) >>> 0;
      }
      // Mark the previous top, now at distance d.
      if (d <= 32) w.lo = (w.lo | (1 << (d - 1))) >>> 0;
      else if (d <= 64) w.hi = (w.hi | (1 << (d - 33))) >>> 0;
      w.top = seq;
      return true;
    }
    const d = w.top - seq;
    if (d === 0 || d > REPLAY_WINDOW) return false;
    if (d <= 32) {
      const bit = 1 << (d - 1);
      if (w.lo & bit) return false;
      w.lo = (w.lo | bit) >>> 0;
    } else {
      const bit = 1 << (d - 33);
      if (w.hi & bit) return false;
      w.hi = (w.hi | bit) >>> 0;
    }
    return true;
  }

  /** Forgets senders not heard from since `before`. */
  sweep(before: number): void {
    for (const [id, w] of this.#senders) if (w.seenAt < before) this.#senders.delete(id);
  }
}
