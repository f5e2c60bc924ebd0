/**
 * The queue the memory fakes (memory-tun.ts, memory-network.ts) keep packets
 * in: a ring of entries ordered by the time each may leave, FIFO among equal
 * times. Every entry owns a buffer of `maxLength` bytes, made on its first
 * use and reused after, so a warm queue allocates nothing per packet: the
 * allocation test (test/engine-allocation.test.ts) runs the pipelines over
 * these fakes. A full queue refuses, as a full socket buffer or TUN queue
 * drops.
 */
export interface QueuedPacket {
  data: Uint8Array;
  length: number;
  /** When it may leave (the memory network's delivery time; 0 for the TUN). */
  at: number;
  /** Who sent it, and from which port (the memory network's sender). */
  from: unknown;
  port: number;
}

export class PacketQueue {
  private readonly ring: QueuedPacket[] = [];
  private head = 0;
  private count = 0;
  private static readonly EMPTY = new Uint8Array(0);

  constructor(
    readonly capacity: number,
    readonly maxLength: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`PacketQueue: capacity ${capacity} is not allowed (a positive integer)`);
    if (!Number.isInteger(maxLength) || maxLength < 1) throw new Error(`PacketQueue: maxLength ${maxLength} is not allowed (a positive integer)`);
    for (let i = 0; i < capacity; i++) this.ring.push({ data: PacketQueue.EMPTY, length: 0, at: 0, from: undefined, port: 0 });
  }

  get size(): number {
    return this.count;
  }

  /** Copies bytes[offset, offset+length) in; false when full or longer than maxLength. */
  push(bytes: Uint8Array, offset: number, length: number, at: number, from: unknown, port: number): boolean {
    if (this.count === this.capacity || length > this.maxLength) return false;
    const ring = this.ring;
    let i = (this.head + this.count) % this.capacity;
    const e = ring[i];
    if (e.data.length === 0) e.data = new Uint8Array(this.maxLength);
    copyBytes(e.data, 0, bytes, offset, length);
    e.length = length;
    e.at = at;
    e.from = from;
    e.port = port;
    this.count++;
    // Keep the ring ordered by time: move the new entry back past later ones (a later time is rare: reordering).
    for (let k = this.count - 1; k > 0; k--) {
      const p = (i + this.capacity - 1) % this.capacity;
      if (ring[p].at <= e.at) break;
      ring[i] = ring[p];
      ring[p] = e;
      i = p;
    }
    return true;
  }

  /** Whether the first entry may leave at `now`. */
  ready(now: number): boolean {
    return this.count > 0 && this.ring[this.head].at <= now;
  }

  /** Takes the first entry. Its buffer stays valid until the next push(). */
  shift(): QueuedPacket {
    if (this.count === 0) throw new Error('PacketQueue.shift: the queue is empty');
    const e = this.ring[this.head];
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return e;
  }
}

/** A byte loop: set(subarray()) would allocate a view per packet. */
export function copyBytes(dst: Uint8Array, dstOffset: number, src: Uint8Array, srcOffset: number, length: number): void {
  for (let i = 0; i < length; i++) dst[dstOffset + i] = src[srcOffset + i];
}
