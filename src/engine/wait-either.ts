/**
 * How the one-thread (duplex) loop sleeps: on the TUN and the socket at once,
 * waking for whichever becomes readable first. One function per pair of a
 * TunDevice and a Bind, made by the side that knows how to wait on both
 * (native-wait.ts: one poll() on both fds; memory-network.ts: the queues).
 * Waits at most `timeoutMs`; returns TUN_READY | BIND_READY bits, 0 on timeout.
 */
export const TUN_READY = 1;
export const BIND_READY = 2;

export type WaitEither = (timeoutMs: number) => number;
