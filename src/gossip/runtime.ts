/** The seams the protocol core is driven through: time, datagrams, logging. */

/** Time and timers; the simulator's is virtual, the real one wraps setTimeout. */
export interface Clock {
  /** ms (the simulator starts at 0; the real clock is Date.now()). */
  now(): number;
  setTimer(delayMs: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
}

/** Sends one datagram; delivery is the transport's business (and may fail silently). */
export interface Transport {
  send(addr: string, data: Uint8Array): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFn = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

export const silentLog: LogFn = () => {};

/** Wall-clock time and Node timers (unref'd: gossip alone does not keep a process alive). */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs, fn) {
    const t = setTimeout(fn, delayMs);
    t.unref();
    return t;
  },
  clearTimer(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/**
 * Sees the probes of this node's own round: each one's first direct ping, then either its ack within the probe
 * timeout or the timeout (path health: round-trip time and loss per member; src/daemon/path-health).
 */
export interface ProbeObserver {
  sent(seq: number, addr: string): void;
  acked(seq: number): void;
  /** No ack within the probe timeout; a later ack, direct or relayed, is not reported. */
  missed(seq: number): void;
}
