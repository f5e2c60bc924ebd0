/**
 * Path health in /metrics, one series per peer with a `peer` label (its
 * subnet). The label's cardinality is capped at pathHealth.metricsPeers: past
 * it, the peers in the worst health (most loss, then longest smoothed RTT)
 * keep their own series and the rest are folded into peer="other", which
 * carries their worst values (highest loss and RTT, lowest path MTU), and
 * tulle_peer_health_folded says how many there are. With 1,000 peers and the
 * default 256, a scrape holds at most 257 series per metric.
 */
import { Gauge, type Registry } from 'prom-client';
import type { PeerHealthView } from './peer-table.js';

/** The label value of the folded peers: no subnet can be written so. */
export const OTHER_PEERS = 'other';

export interface CappedPeers {
  /** The peers that keep a label of their own, worst first. */
  labelled: PeerHealthView[];
  /** The rest folded into one: worst values, count; undefined when none is folded. */
  folded: { count: number; rttMs: number | null; rttSmoothedMs: number | null; lossRatio: number | null; pathMtu: number | null } | undefined;
}

/** Worst first: most loss, then longest smoothed RTT (unmeasured last), then by subnet for a stable order. */
function worseFirst(a: PeerHealthView, b: PeerHealthView): number {
  return (b.lossRatio ?? -1) - (a.lossRatio ?? -1) || (b.rttSmoothedMs ?? -1) - (a.rttSmoothedMs ?? -1) || a.peer.localeCompare(b.peer);
}

function maxOf(values: (number | null)[]): number | null {
  let out: number | null = null;
  for (const v of values) if (v !== null && (out === null || v > out)) out = v;
  return out;
}

function minOf(values: (number | null)[]): number | null {
  let out: number | null = null;
  for (const v of values) if (v !== null && (out === null || v < out)) out = v;
  return out;
}

export function capPeers(views: PeerHealthView[], limit: number): CappedPeers {
  if (views.length <= limit) return { labelled: [...views].sort(worseFirst), folded: undefined };
  const sorted = [...views].sort(worseFirst);
  const rest = sorted.slice(limit);
  return {
    labelled: sorted.slice(0, limit),
    folded: {
      count: rest.length,
      rttMs: maxOf(rest.map((v) => v.rttMs)),
      rttSmoothedMs: maxOf(rest.map((v) => v.rttSmoothedMs)),
      lossRatio: maxOf(rest.map((v) => v.lossRatio)),
      pathMtu: minOf(rest.map((v) => v.pathMtu)),
    },
  };
}

export function registerPathHealthMetrics(registry: Registry, views: () => PeerHealthView[], limit: number): void {
  // One selection per scrape, shared by the gauges: each collect() asks, the first one computes.
  let cached: { at: number; capped: CappedPeers } | undefined;
  const capped = (): CappedPeers => {
    const now = Date.now();
    if (cached === undefined || now - cached.at > 100) cached = { at: now, capped: capPeers(views(), limit) };
    return cached.capped;
  };
  const perPeer = (
    name: string,
    help: string,
    value: (v: { rttMs: number | null; rttSmoothedMs: number | null; lossRatio: number | null; pathMtu: number | null }) => number | null,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['peer'],
      registers: [registry],
      collect() {
        this.reset();
        const c = capped();
        for (const v of c.labelled) {
          const x = value(v);
          if (x !== null) this.labels(v.peer).set(x);
        }
        const f = c.folded && value(c.folded);
        if (f !== undefined && f !== null) this.labels(OTHER_PEERS).set(f);
      },
    });
  const seconds = (ms: number | null) => (ms === null ? null : ms / 1000);
  perPeer('tulle_peer_rtt_seconds', 'Last round-trip time of a probe to the peer.', (v) => seconds(v.rttMs));
  perPeer('tulle_peer_rtt_smoothed_seconds', "Smoothed round-trip time to the peer (TCP's SRTT: each sample weighs 1/8).", (v) => seconds(v.rttSmoothedMs));
  perPeer('tulle_peer_loss_ratio', 'Share of probes to the peer unanswered within their timeout over the last minute.', (v) => v.lossRatio);
  perPeer('tulle_peer_path_mtu_bytes', 'Largest IP packet with DF set that reached the peer (path MTU probes).', (v) => v.pathMtu);
  new Gauge({
    name: 'tulle_peer_health_folded',
    help: 'Peers past pathHealth.metricsPeers, folded into peer="other" (their worst values).',
    registers: [registry],
    collect() {
      this.set(capped().folded?.count ?? 0);
    },
  });
}
