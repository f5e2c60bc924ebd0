/**
 * A batch's memory: the slab its packets sit in and their descriptors
 * (src/wire/batch.ts has the descriptor layout). Made once by a pipeline and
 * reused for every batch; the TUN and socket sides (tun-device.ts, bind.ts)
 * fill and read it but never keep it.
 *
 * Slot i starts at i * stride; its packet starts `headroom` bytes in, so the
 * outer headers (and a virtio-net header) can be written in front of it in
 * place. `descriptors` may exceed `slots`: with UDP GRO one received datagram
 * becomes one descriptor per segment, all inside one slot.
 */
import { DESC_STRIDE } from '../wire/index.js';

export class Batch {
  readonly slab: Uint8Array;
  readonly desc: Int32Array;

  constructor(
    /** Packets (or received datagrams) the slab holds. */
    readonly slots: number,
    /** Descriptors: at least `slots`. */
    readonly descriptors: number,
    readonly headroom: number,
    readonly stride: number,
  ) {
    for (const [field, value] of [['slots', slots], ['descriptors', descriptors], ['headroom', headroom], ['stride', stride]] as const) {
      if (!Number.isInteger(value) || value < 0) throw new Error(`Batch: ${field} ${value} is not allowed (a non-negative integer)`);
    }
    if (slots < 1) throw new Error(`Batch: slots ${slots} is not allowed (at least 1)`);
    if (descriptors < slots) throw new Error(`Batch: descriptors ${descriptors} is not allowed (at least slots, ${slots})`);
    if (headroom >= stride) throw new Error(`Batch: headroom ${headroom} is not allowed (less than stride, ${stride})`);
    this.slab = new Uint8Array(slots * stride);
    this.desc = new Int32Array(descriptors * DESC_STRIDE);
  }

  /** Bytes a slot has for its packet. */
  get room(): number {
    return this.stride - this.headroom;
  }
}
