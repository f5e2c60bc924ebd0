/**
 * How a lease store says how it is doing, for /healthz and `tulle status`:
 * a state, since when, and why in words.
 *
 *   ok        the store is reachable and in touch with others
 *   degraded  the daemon forwards on the leases it last knew, but cannot
 *             learn of changes or renew its own (etcd unreachable, a gossip
 *             host alone)
 *   failing   the daemon should not be trusted to forward (its own lease ran out)
 */

export type HealthState = 'ok' | 'degraded' | 'failing';

export const HEALTH_STATES: readonly HealthState[] = ['ok', 'degraded', 'failing'];

export interface StoreHealthReport {
  state: HealthState;
  /** When the store entered this state (ISO time). */
  since: string;
  /** Why, in words: "etcd unreachable since …: …", "alone: 0 of 2 seeds reachable". */
  detail: string;
  /** gossip: other members alive. */
  membersAlive?: number;
  /** gossip: the other members this host knows, by state (a host that fell out of the cluster shows as suspect or dead). */
  members?: { alive: number; suspect: number; dead: number; left: number };
}

/** The worse of two states. */
export function worse(a: HealthState, b: HealthState): HealthState {
  return HEALTH_STATES.indexOf(a) >= HEALTH_STATES.indexOf(b) ? a : b;
}

/** Remembers when the state last changed, for stores that see their state only when asked. */
export class HealthClock {
  #state: HealthState | undefined;
  #since = 0;

  /** Since when (ms) the state has been `state`; a different state than last time starts now. */
  since(state: HealthState, now = Date.now()): number {
    if (state !== this.#state) {
      this.#state = state;
      this.#since = now;
    }
    return this.#since;
  }
}
