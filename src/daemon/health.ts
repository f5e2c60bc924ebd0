/**
 * The daemon's health: one state (ok, degraded, failing) with its reasons,
 * from what it knows of its own lease and what the store says of itself
 * (StoreHealth). Worked out once a second, so that a change is logged once
 * when it happens and a store's "since" is right to the second; /healthz,
 * `tulle status` and SIGUSR1 read the latest.
 *
 *   failing   the own lease has run out: other hosts may hand its subnet out
 *   degraded  the store is (etcd unreachable, gossip host alone): forwarding
 *             goes on with the leases last known, as flannel's does
 *   ok        neither
 *
 * /healthz answers 200 for ok and degraded (the overlay forwards; a probe
 * that restarts the daemon would not help), 503 for failing.
 */
import type { Logger } from 'pino';
import { worse, type HealthState, type StoreHealthReport } from '../lease/store-health.js';

export interface Health {
  state: HealthState;
  /** Why it is not ok; empty when ok. */
  reasons: string[];
  /** What the store says of itself, when it can. */
  store?: StoreHealthReport;
}

export interface HealthSources {
  ownSubnet: string;
  /** The own lease's expiration (ms since the epoch) as the store last sent it. */
  ownExpiration(): number;
  store?: () => StoreHealthReport;
}

export function assessHealth(s: HealthSources, now = Date.now()): Health {
  let state: HealthState = 'ok';
  const reasons: string[] = [];
  const expiration = s.ownExpiration();
  if (!(expiration > now)) {
    state = 'failing';
    reasons.push(`own lease ${s.ownSubnet} expired at ${new Date(expiration).toISOString()}`);
  }
  const store = s.store?.();
  if (store !== undefined && store.state !== 'ok') {
    state = worse(state, store.state);
    reasons.push(`store: ${store.detail}`);
  }
  return { state, reasons, ...(store !== undefined ? { store } : {}) };
}

/** HTTP status and JSON body of GET /healthz. */
export function healthResponse(h: Health): { status: number; body: string } {
  return { status: h.state === 'failing' ? 503 : 200, body: `${JSON.stringify(h)}\n` };
}

/** Re-assesses health every second and logs each change of state once. */
export class HealthMonitor {
  #last: Health;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly sources: HealthSources,
    private readonly log: Logger,
    intervalMs = 1000,
  ) {
    this.#last = assessHealth(sources);
    this.#report(undefined, this.#last);
    this.#timer = setInterval(() => this.check(), intervalMs);
    this.#timer.unref();
  }

  /** The health as of now (and logged if it changed). */
  check(): Health {
    const next = assessHealth(this.sources);
    const before = this.#last;
    this.#last = next;
    if (next.state !== before.state || next.reasons.join('\n') !== before.reasons.join('\n')) this.#report(before, next);
    return next;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #report(before: Health | undefined, h: Health): void {
    if (before === undefined && h.state === 'ok') return;
    const text = h.state === 'ok' ? `health ok${before ? ` (was ${before.state})` : ''}` : `health ${h.state}: ${h.reasons.join('; ')}`;
    const fields = { event: 'health', state: h.state, reasons: h.reasons };
    if (h.state === 'ok') this.log.info(fields, text);
    else this.log.warn(fields, text);
  }
}

/** "ok", or "degraded: reason; reason" for people. */
export function describeHealth(h: Health): string {
  return h.state === 'ok' ? 'ok' : `${h.state}: ${h.reasons.join('; ')}`;
}
