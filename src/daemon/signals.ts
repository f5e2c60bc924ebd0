/**
 * What each signal does to the daemon. Every signal a supervisor or an
 * operator may send gets a handler and a log line; none ends the process
 * without undoing what it set up:
 *
 *   SIGTERM, SIGINT, SIGQUIT  stop: undo everything, exit 0 (QUIT's default
 *                             would dump core and skip the teardown); a second
 *                             one while stopping exits 1 at once
 *   SIGHUP                    reload what can change without a restart, and
 *                             restore what the daemon keeps on the host
 *                             (reload.ts); it runs on
 *   SIGUSR1                   one log line with the daemon's status (without
 *                             a handler, Node would start its inspector)
 *   SIGUSR2                   ignored, with a log line
 *
 * SIGKILL cannot be caught: the next start removes what is left (leftovers.ts).
 */
import type { Logger } from 'pino';

export const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;
const OTHER_SIGNALS = ['SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;

export class DaemonSignals {
  /** Resolves with the first stop signal's name. */
  readonly stopped: Promise<string>;
  #resolve!: (signal: string) => void;
  #stops = 0;
  #reload: (() => Promise<void>) | undefined;
  #reloading = false;
  #status: (() => void) | undefined;
  readonly #handler = (signal: NodeJS.Signals) => this.#on(signal);

  constructor(private readonly log: Logger) {
    this.stopped = new Promise<string>((resolve) => (this.#resolve = resolve));
    for (const signal of [...STOP_SIGNALS, ...OTHER_SIGNALS]) process.on(signal, this.#handler);
  }

  /** What SIGHUP does once the daemon runs; undefined once it stops (the teardown must not race a reload). */
  onReload(reload: (() => Promise<void>) | undefined): void {
    this.#reload = reload;
  }

  /** False once stopping: a reload that was reading the configuration then leaves the host alone. */
  get reloadable(): boolean {
    return this.#reload !== undefined;
  }

  /** What SIGUSR1 logs once the daemon runs. */
  onStatus(status: () => void): void {
    this.#status = status;
  }

  dispose(): void {
    for (const signal of [...STOP_SIGNALS, ...OTHER_SIGNALS]) process.off(signal, this.#handler);
  }

  #on(signal: NodeJS.Signals): void {
    if ((STOP_SIGNALS as readonly string[]).includes(signal)) {
      this.#stops += 1;
      if (this.#stops === 1) {
        this.log.info({ event: 'signal', signal }, `received ${signal}: stopping`);
        // Once stopping, HUP and USR1 have nothing left to act on.
        this.#reload = undefined;
        this.#status = undefined;
        return this.#resolve(signal);
      }
      this.log.error({ event: 'forced exit', signal }, `second stop signal (${signal}) while stopping: exiting without finishing the teardown`);
      process.exit(1);
    }
    if (signal === 'SIGUSR2') {
      this.log.info({ event: 'ignored', signal }, 'SIGUSR2: ignored (SIGHUP reloads, SIGUSR1 logs the status, SIGTERM stops)');
      return;
    }
    if (signal === 'SIGUSR1') {
      if (this.#status !== undefined) return this.#status();
      return this.#notNow(signal);
    }
    // SIGHUP
    const reload = this.#reload;
    if (reload === undefined) return this.#notNow(signal);
    if (this.#reloading) {
      this.log.info({ event: 'ignored', signal, why: 'reloading' }, 'SIGHUP: ignored, a reload is under way');
      return;
    }
    this.#reloading = true;
    reload()
      .catch((error: Error) => this.log.error({ event: 'reload failed', error: error.message }, `SIGHUP: reload failed: ${error.message}`))
      .finally(() => (this.#reloading = false));
  }

  #notNow(signal: NodeJS.Signals): void {
    const why = this.#stops > 0 ? 'stopping' : 'starting';
    this.log.info({ event: 'ignored', signal, why }, `${signal}: ignored while ${why}`);
  }
}
