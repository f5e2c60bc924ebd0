/**
 * Answers packets too big for the overlay with ICMP "fragmentation needed" /
 * ICMPv6 "packet too big", written back into the TUN, so the sender's path
 * MTU discovery works through tulle as it does through a router. Rate
 * limited like the kernel's own ICMP (net.ipv4.icmp_msgs_per_sec: 1000/s,
 * burst 50), so a flood of oversize packets cannot turn into a flood of errors.
 * The budget is one per engine: with two threads, the TX thread and the RX
 * thread (which sends replies inline) share it.
 */
import * as wire from '@tulle/wire';
import { Batch } from './batch.js';
import type { Clock } from './clock.js';
import { C } from './counters.js';
import { TokenBucket } from './token-bucket.js';
import type { TunDevice } from './tun-device.js';
import { DROP_OVERSIZE } from './verdicts.js';

const MAX_PER_BATCH = 16;
const HEADROOM = 16; // room for the virtio-net header before each error
const SLOT = HEADROOM + wire.icmp.MAX_ERROR;
const RATE_PER_MS = 1; // 1000 per second
const BURST = 50;

export class TooBigResponder {
  private readonly errors = new Batch(MAX_PER_BATCH, MAX_PER_BATCH, HEADROOM, SLOT);
  private readonly bucket: TokenBucket;

  constructor(
    /** The errors go back into this TUN, as packets the overlay delivered. */
    private readonly tun: TunDevice,
    private readonly clock: Clock,
    private readonly mtu: number,
    private readonly counters: Float64Array,
    /** TokenBucket.allocate(), shared by every responder of one engine. */
    bucket: SharedArrayBuffer,
  ) {
    this.bucket = new TokenBucket(bucket, RATE_PER_MS, BURST);
  }

  /** Writes an error for each DROP_OVERSIZE packet of the batch, as the rate allows. */
  answer(slab: Uint8Array, desc: Int32Array, count: number): void {
    const { slab: out, desc: outDesc } = this.errors;
    let k = 0;
    for (let i = 0; i < count && k < MAX_PER_BATCH; i++) {
      const d = i * wire.DESC_STRIDE;
      if (desc[d + wire.DESC_VERDICT] !== DROP_OVERSIZE) continue;
      const off = desc[d + wire.DESC_OFFSET];
      const at = k * SLOT + HEADROOM;
      const length = wire.icmp.tooBig(out, at, slab, off, desc[d + wire.DESC_LENGTH], this.mtu);
      // Only errors that would be sent spend the budget (none for non-DF packets, fragments, errors).
      if (length === 0 || !this.bucket.take(this.clock.now())) continue;
      const e = k * wire.DESC_STRIDE;
      outDesc[e + wire.DESC_OFFSET] = at;
      outDesc[e + wire.DESC_LENGTH] = length;
      outDesc[e + wire.DESC_VERDICT] = 0;
      outDesc[e + wire.DESC_FLAGS] = 0;
      k++;
    }
    if (k === 0) return;
    this.counters[C.icmpTooBig] += this.tun.write(this.errors, k, 0);
  }
}
