/**
 * The duplex loop's sleep over a kernel TUN and socket: one poll() on both fds (wait-either.ts), after
 * `spinUs` microseconds of busy-polling in the low-latency mode.
 */
import type { NativeAddon } from '../native/load.js';
import type { NativeBind } from './native-bind.js';
import type { NativeTun } from './native-tun.js';
import type { WaitEither } from './wait-either.js';

export class NativeWaitEither implements WaitEither {
  constructor(
    private readonly native: NativeAddon,
    private readonly tun: NativeTun,
    private readonly bind: NativeBind,
    private readonly spinUs: number,
  ) {}

  wait(timeoutMs: number): number {
    // waitEither's bit 0 is its first fd, bit 1 its second: TUN_READY and BIND_READY.
    return this.native.waitEither(this.tun.fd, this.bind.fd, timeoutMs, this.spinUs);
  }
}

export function nativeWaitEither(native: NativeAddon, tun: NativeTun, bind: NativeBind, spinUs = 0): WaitEither {
  return new NativeWaitEither(native, tun, bind, spinUs);
}
