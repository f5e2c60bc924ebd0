/** Microseconds on the monotonic clock, mod 2^32: the probes' timestamps. */
export function nowUs(): number {
  return Math.floor(performance.now() * 1000) >>> 0;
}

/** Seconds on the monotonic clock. */
export function nowSeconds(): number {
  return performance.now() / 1000;
}

/** CPU time of this process (user + system) in µs. */
export function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Resolves with `onTimeout()` after `ms` unless `promise` settles first; the timer never outlives the race. */
export async function within<T>(promise: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<T>((resolve) => (timer = setTimeout(() => resolve(onTimeout()), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
