/**
 * The duplex loop's sleep over a kernel TUN and socket: one poll() on both fds (wait-either.ts), after
 * `spinUs` microseconds of busy-polling in the low-latency mode.
 */
import type { NativeAddon } from '../native/load.js';
import type { NativeBind } from './native-bind.js';
import type { NativeTun } from './native-tun.js';
import type { WaitEither } from './wait-either.js';

export function nativeWaitEither(native: NativeAddon, tun: NativeTun, bind: NativeBind, spinUs = 0): WaitEither {
  // waitEither's bit 0 is its first fd, bit 1 its second: TUN_READY and BIND_READY.
  return (timeoutMs) => native.waitEither(tun.fd, bind.fd, timeoutMs, spinUs);
}
