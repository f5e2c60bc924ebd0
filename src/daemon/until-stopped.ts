/**
 * Start-up waits that a stop signal ends: a store may wait for its server
 * (etcd) indefinitely, as flannel does. The step that waits throws Stopped,
 * and the daemon returns from start-up to its teardown as after a normal stop.
 */
export class Stopped extends Error {
  override name = 'Stopped';

  constructor(signal: string) {
    super(`stopped by ${signal} during start-up`);
  }
}

/** `work`'s result, or Stopped thrown if a stop signal comes first (a later failure of `work` is then of no interest). */
export async function untilStopped<T>(work: Promise<T>, stopped: Promise<string>): Promise<T> {
  work.catch(() => undefined);
  return Promise.race([
    work,
    stopped.then((signal): never => {
      throw new Stopped(signal);
    }),
  ]);
}
