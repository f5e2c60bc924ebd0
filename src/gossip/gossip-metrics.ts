/**
 * The gossip peer's health in Prometheus form (for the daemon's /metrics):
 * members by state, traffic, drops by reason, probes and suspicions, and
 * Lifeguard's local health score. Read at scrape time from the node's own
 * counters; nothing is counted twice.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { DROP_REASONS, type GossipCounters } from './counters.js';
import { ALIVE, DEAD, LEFT, SUSPECT, type MemberRecord } from './records.js';

export interface GossipSource {
  counters: GossipCounters;
  members(): MemberRecord[];
  /** Lifeguard's local health: 0 is healthy; higher means this node's own probes are unreliable. */
  healthScore(): number;
}

const STATES = [
  [ALIVE, 'alive'],
  [SUSPECT, 'suspect'],
  [DEAD, 'dead'],
  [LEFT, 'left'],
] as const;

export function registerGossipMetrics(registry: Registry, source: GossipSource): void {
  new Gauge({
    name: 'tulle_gossip_members',
    help: 'Cluster members this node knows, by state.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const members = source.members();
      for (const [state, label] of STATES) this.labels(label).set(members.filter((m) => m.state === state).length);
    },
  });
  const perDirection = (name: string, help: string, tx: 'sentDatagrams' | 'sentBytes', rx: 'receivedDatagrams' | 'receivedBytes') =>
    new Counter({
      name,
      help,
      labelNames: ['direction'],
      registers: [registry],
      collect() {
        this.reset();
        this.labels('tx').inc(source.counters[tx]);
        this.labels('rx').inc(source.counters[rx]);
      },
    });
  perDirection('tulle_gossip_datagrams_total', 'Gossip datagrams sent and received.', 'sentDatagrams', 'receivedDatagrams');
  perDirection('tulle_gossip_bytes_total', 'Gossip bytes sent and received.', 'sentBytes', 'receivedBytes');
  new Counter({
    name: 'tulle_gossip_dropped_total',
    help: 'Inbound gossip datagrams dropped, by reason (forged, replayed, another cluster, malformed…).',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const reason of DROP_REASONS) this.labels(reason).inc(source.counters.dropped[reason]);
    },
  });
  const total = (name: string, help: string, key: 'probes' | 'probesFailed' | 'suspicionsRaised' | 'refutations' | 'syncsStarted') =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(source.counters[key]);
      },
    });
  total('tulle_gossip_probes_total', 'Direct probes sent.', 'probes');
  total('tulle_gossip_probes_failed_total', 'Probes answered neither directly nor indirectly.', 'probesFailed');
  total('tulle_gossip_suspicions_total', 'Members this node suspected.', 'suspicionsRaised');
  total('tulle_gossip_refutations_total', 'Suspicions of this node it refuted.', 'refutations');
  total('tulle_gossip_syncs_total', 'Anti-entropy syncs started.', 'syncsStarted');
  new Gauge({
    name: 'tulle_gossip_health_score',
    help: 'Lifeguard local health score (0 healthy; probe timeouts scale with it).',
    registers: [registry],
    collect() {
      this.set(source.healthScore());
    },
  });
}

/**
 * ok while some other member is alive. Alone is degraded: the host forwards on the leases it has, but
 * learns of no change and nobody renews its view. A host with seeds says how many answer; a seedless
 * one (the first of a cluster) says it has none to call, so only others joining it can end that.
 */
export function gossipHealth(
  source: GossipSource,
  selfId: string,
  seeds: number,
): { state: 'ok' | 'degraded'; detail: string; membersAlive: number; members: Record<'alive' | 'suspect' | 'dead' | 'left', number> } {
  const others = source.members().filter((m) => m.id !== selfId);
  const count = (state: number) => others.filter((m) => m.state === state).length;
  const alive = count(ALIVE);
  const members = { alive, suspect: count(SUSPECT), dead: count(DEAD), left: count(LEFT) };
  if (alive > 0) return { state: 'ok', detail: `${alive} of ${others.length} other members alive`, membersAlive: alive, members };
  const known = others.length > 0 ? `none of ${others.length} known members alive` : 'no other member has joined';
  if (seeds > 0) return { state: 'degraded', detail: `alone: 0 of ${seeds} seeds reachable; ${known}`, membersAlive: 0, members };
  return { state: 'degraded', detail: `alone in its cluster (no seeds configured): ${known}`, membersAlive: 0, members };
}
