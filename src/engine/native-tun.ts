/**
 * A kernel TUN through the native addon (tun-device.ts has the contract).
 * It borrows the fd: the engine opened it and closes it after the threads exit.
 */
import type { NativeAddon } from '../native/load.js';
import type { Batch } from './batch.js';
import type { TunDevice } from './tun-device.js';

export class NativeTun implements TunDevice {
  constructor(
    private readonly native: NativeAddon,
    /** Mutable only for the warm-up, which points it at its stand-in TUN for a moment (warm-up.ts). */
    public fd: number,
    readonly vnet: boolean,
    /** Low-latency mode: microseconds waitReadable() busy-polls before it sleeps (0: off). */
    private readonly spinUs = 0,
  ) {}

  read(batch: Batch, timeoutMs: number): number {
    return this.native.tunReadBatch(this.fd, batch.slab, batch.desc, batch.slots, batch.headroom, batch.stride, timeoutMs, this.vnet);
  }

  write(batch: Batch, count: number, mtu: number): number {
    return this.native.tunWriteBatch(this.fd, batch.slab, batch.desc, count, this.vnet, mtu);
  }

  writeCoalesced(batch: Batch, count: number, verify: boolean, mtu: number, status: Int32Array, uso = 0): number {
    if (!this.vnet) throw new Error('NativeTun.writeCoalesced: the TUN has no virtio-net header (vnet false); use write()');
    return this.native.tunWriteCoalesced(this.fd, batch.slab, batch.desc, count, status, verify, mtu, uso);
  }

  waitReadable(timeoutMs: number): boolean {
    return this.native.waitReadable(this.fd, timeoutMs, this.spinUs);
  }
}
