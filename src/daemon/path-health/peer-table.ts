/**
 * The peers whose paths are measured, keyed by underlay address (what probes
 * are sent to and answered from), each with its overlay subnet (what the
 * operator knows it by) and its estimate. It follows the lease table: a peer
 * whose lease goes away is forgotten.
 */
import type { Lease } from '../../lease/lease.js';
import { PathEstimate } from './estimator.js';

/** Where a peer's round-trip times and losses come from. */
export type HealthSource = 'gossip' | 'probe';

export interface PeerPath {
  /** The peer's overlay subnet: the `peer` label and the table's first column. */
  readonly peer: string;
  readonly address: string;
  readonly estimate: PathEstimate;
}

/** One row of `tulle status --peers` and of the control socket's `peers` answer. */
export interface PeerHealthView {
  peer: string;
  address: string;
  source: HealthSource;
  /** ms, null until the first answer. */
  rttMs: number | null;
  rttSmoothedMs: number | null;
  /** Lost over resolved probes in the last minute, 0..1; null with no probe resolved in it. */
  lossRatio: number | null;
  /** Probes resolved in the last minute. */
  probes: number;
  /** bytes (an IP packet with DF set that reached the peer), null until measured. */
  pathMtu: number | null;
  /** ISO time of the last answer, or null. */
  lastSeen: string | null;
}

export class PeerTable {
  readonly #byAddress = new Map<string, PeerPath>();
  readonly #source: HealthSource;

  constructor(source: HealthSource) {
    this.#source = source;
  }

  get size(): number {
    return this.#byAddress.size;
  }

  get(address: string): PeerPath | undefined {
    return this.#byAddress.get(address);
  }

  paths(): IterableIterator<PeerPath> {
    return this.#byAddress.values();
  }

  /** Makes the table the leases' peers (own subnet left out); an address that stays keeps its estimate. */
  follow(leases: Iterable<Lease>, ownSubnet: string): void {
    const seen = new Set<string>();
    for (const lease of leases) {
      if (lease.subnet === ownSubnet) continue;
      seen.add(lease.publicIP);
      const had = this.#byAddress.get(lease.publicIP);
      if (had === undefined || had.peer !== lease.subnet)
        this.#byAddress.set(lease.publicIP, { peer: lease.subnet, address: lease.publicIP, estimate: had?.estimate ?? new PathEstimate() });
    }
    for (const address of this.#byAddress.keys()) if (!seen.has(address)) this.#byAddress.delete(address);
  }

  views(now: number): PeerHealthView[] {
    const out: PeerHealthView[] = [];
    for (const p of this.#byAddress.values()) out.push(describePath(p, now, this.#source));
    return out.sort((a, b) => a.peer.localeCompare(b.peer, 'en', { numeric: true }));
  }
}

export function describePath(p: PeerPath, now: number, source: HealthSource): PeerHealthView {
  const e = p.estimate;
  const loss = e.loss(now);
  return {
    peer: p.peer,
    address: p.address,
    source,
    rttMs: e.rttLastMs ?? null,
    rttSmoothedMs: e.rttSmoothedMs ?? null,
    lossRatio: loss.ratio,
    probes: loss.probes,
    pathMtu: e.pathMtu ?? null,
    lastSeen: e.lastSeen === undefined ? null : new Date(e.lastSeen).toISOString(),
  };
}
