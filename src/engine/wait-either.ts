/**
 * How the one-thread (duplex) loop sleeps: on the TUN and the socket at once,
 * waking for whichever becomes readable first. One object per pair of a
 * TunDevice and a Bind, made by the side that knows how to wait on both
 * (native-wait.ts: one poll() on both fds; memory-network.ts: the queues).
 * An object with a method rather than a closure: the loop's call site then
 * sees one class, whichever pair it waits on, and the warm-up's compiled
 * code (warm-up.ts) still fits the real loop's.
 */
export const TUN_READY = 1;
export const BIND_READY = 2;

export interface WaitEither {
  /** Waits at most `timeoutMs`; returns TUN_READY | BIND_READY bits, 0 on timeout. */
  wait(timeoutMs: number): number;
}
