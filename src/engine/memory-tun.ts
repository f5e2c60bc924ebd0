/**
 * A TUN in memory (tun-device.ts has the contract), for engines tested
 * without root: inject() queues an IP packet as if the host had routed it
 * into the TUN, and drain() hands over what the engine wrote, as the host's
 * stack would receive it. No virtio-net header (offloads off), so no
 * super-packets either way. Never blocks: read() and waitReadable() answer at
 * once whatever their timeout, since whoever injects runs on the same thread.
 * One thread only.
 */
import * as wire from '@tulle/wire';
import type { Batch } from './batch.js';
import { copyBytes, PacketQueue } from './packet-queue.js';
import type { TunDevice } from './tun-device.js';
import { VERDICT_WRITE_FAILED } from './verdicts.js';

const { DESC_STRIDE, DESC_OFFSET, DESC_LENGTH, DESC_VERDICT, DESC_SRC_PORT, DESC_SOCKET, DESC_OUT_OFFSET, DESC_OUT_LENGTH, DESC_GSO_SIZE, DESC_FLAGS } = wire;

export interface MemoryTunOptions {
  /** Packets each direction holds before refusing more (a TUN's queue). Default 1024. */
  queueLimit?: number;
  /** The longest packet it carries, bytes. Default 4096. */
  maxPacket?: number;
}

export class MemoryTun implements TunDevice {
  readonly vnet = false;
  /** Packets refused: injected into a full queue, or written when the host's side was full. */
  injectDropped = 0;
  writeFailed = 0;
  private readonly toEngine: PacketQueue;
  private readonly toHost: PacketQueue;

  constructor(o: MemoryTunOptions = {}) {
    this.toEngine = new PacketQueue(o.queueLimit ?? 1024, o.maxPacket ?? 4096);
    this.toHost = new PacketQueue(o.queueLimit ?? 1024, o.maxPacket ?? 4096);
  }

  /** Queues an IP packet for the engine to read; false (and counted) when the queue is full or the packet too long. */
  inject(bytes: Uint8Array, offset = 0, length = bytes.length - offset): boolean {
    if (this.toEngine.push(bytes, offset, length, 0, undefined, 0)) return true;
    this.injectDropped++;
    return false;
  }

  /** Packets waiting for the engine. */
  get queued(): number {
    return this.toEngine.size;
  }

  /** Packets the engine wrote that the host has not drained yet. */
  get pending(): number {
    return this.toHost.size;
  }

  /**
   * Hands each packet the engine wrote to `receive`, oldest first, at most `max`. The bytes are valid only
   * during the call. Returns the packets handed over.
   */
  drain(receive: (bytes: Uint8Array, offset: number, length: number) => void, max = Infinity): number {
    let n = 0;
    while (n < max && this.toHost.size > 0) {
      const e = this.toHost.shift();
      receive(e.data, 0, e.length);
      n++;
    }
    return n;
  }

  read(batch: Batch, _timeoutMs: number): number {
    const { slab, desc, headroom, stride } = batch;
    const room = stride - headroom;
    let n = 0;
    while (n < batch.slots && this.toEngine.size > 0) {
      const e = this.toEngine.shift();
      const at = n * stride + headroom;
      const length = e.length < room ? e.length : room;
      copyBytes(slab, at, e.data, 0, length);
      const d = n * DESC_STRIDE;
      desc[d + DESC_OFFSET] = at;
      desc[d + DESC_LENGTH] = length;
      desc[d + DESC_VERDICT] = 0;
      desc[d + DESC_SRC_PORT] = 0;
      desc[d + DESC_SOCKET] = 0;
      desc[d + DESC_OUT_OFFSET] = 0;
      desc[d + DESC_OUT_LENGTH] = 0;
      desc[d + DESC_GSO_SIZE] = 0;
      desc[d + DESC_FLAGS] = 0;
      n++;
    }
    return n;
  }

  /** `mtu` cuts nothing here: no super-packet crosses the memory network. */
  write(batch: Batch, count: number, _mtu: number): number {
    const { slab, desc } = batch;
    let written = 0;
    for (let i = 0; i < count; i++) {
      const d = i * DESC_STRIDE;
      if (desc[d + DESC_VERDICT] < 0) continue;
      const off = desc[d + DESC_OFFSET];
      const len = desc[d + DESC_LENGTH];
      if (len <= 0 || off < 0 || off + len > slab.length || !this.toHost.push(slab, off, len, 0, undefined, 0)) {
        desc[d + DESC_VERDICT] = VERDICT_WRITE_FAILED;
        this.writeFailed++;
        continue;
      }
      written++;
    }
    return written;
  }

  writeCoalesced(_batch: Batch, _count: number, _verify: boolean, _mtu: number, _status: Int32Array): number {
    throw new Error('MemoryTun.writeCoalesced: a memory TUN has no virtio-net header (vnet false); use write()');
  }

  waitReadable(_timeoutMs: number): boolean {
    return this.toEngine.size > 0;
  }
}
