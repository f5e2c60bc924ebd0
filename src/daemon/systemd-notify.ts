/**
 * Readiness for systemd's Type=notify (sd_notify(3)): when NOTIFY_SOCKET is
 * set, the daemon says READY=1 once the TUN, the routes and subnet.env are in
 * place, RELOADING=1 … READY=1 around a SIGHUP (with MONOTONIC_USEC, as
 * systemd 253+ asks), and STOPPING=1 when it begins to stop. Without
 * NOTIFY_SOCKET every call does nothing. A message that cannot be sent is
 * logged once and never stops the daemon: readiness is for the supervisor,
 * the overlay works without it.
 */
import type { Logger } from 'pino';
import { loadNative } from '../native/load.js';
import type { Running } from './running.js';

export class SystemdNotifier {
  #failed = false;

  /** `socket` is NOTIFY_SOCKET's value: a path, or an abstract name starting with '@'. */
  private constructor(
    private readonly socket: string | undefined,
    private readonly log: Logger,
  ) {}

  /**
   * Takes NOTIFY_SOCKET out of `env` (as sd_notify's unset_environment does), so that the commands the daemon
   * runs (ip, nft) do not inherit it and talk to systemd in its name.
   */
  static fromEnv(env: NodeJS.ProcessEnv, log: Logger): SystemdNotifier {
    const socket = env.NOTIFY_SOCKET || undefined;
    delete env.NOTIFY_SOCKET;
    return new SystemdNotifier(socket, log);
  }

  get enabled(): boolean {
    return this.socket !== undefined;
  }

  /** Started: everything in place; `status` is the one line `systemctl status` shows. */
  ready(status: string): void {
    this.#send(['READY=1', `STATUS=${status}`]);
  }

  status(status: string): void {
    this.#send([`STATUS=${status}`]);
  }

  /** A SIGHUP is being handled; ready() ends it. */
  reloading(): void {
    this.#send(['RELOADING=1', `MONOTONIC_USEC=${monotonicMicros()}`, 'STATUS=reloading the configuration']);
  }

  stopping(): void {
    this.#send(['STOPPING=1', 'STATUS=stopping: removing what it set up']);
  }

  #send(lines: string[]): void {
    if (this.socket === undefined) return;
    try {
      loadNative().notifySend(this.socket, lines.join('\n'));
    } catch (error) {
      if (this.#failed) return;
      this.#failed = true;
      const message = (error as Error).message;
      this.log.warn({ event: 'notify failed', socket: this.socket, error: message }, `cannot notify systemd at NOTIFY_SOCKET=${this.socket}: ${message}`);
    }
  }
}

/** What `systemctl status` shows once started, and again after each reload. */
export function readyStatus(r: Running): string {
  return `subnet ${r.plan.subnet}, ${r.plan.backend.type}, ${r.routing.router.routed} peers routed`;
}

/** CLOCK_MONOTONIC in µs: libuv's hrtime reads that clock on Linux, the one systemd compares with. */
function monotonicMicros(): string {
  return (process.hrtime.bigint() / 1000n).toString();
}
