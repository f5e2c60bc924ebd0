/**
 * The leases one watcher has reported, and the events that bring its
 * listener from what it was told to what etcd now holds. While etcd is away
 * nothing here changes: a lease is only ever removed by a delete seen in the
 * watch stream or by its absence from a full listing (a resync). Pure: no I/O.
 */
import type { Lease, LeaseEvent } from '../lease/lease.js';

/** One change read from the watch stream: a subnet's lease written, or its key deleted. */
export type LeaseStep = { type: 'put'; lease: Lease } | { type: 'delete'; subnet: string };

export class KnownLeases {
  readonly #leases = new Map<string, Lease>();

  get size(): number {
    return this.#leases.size;
  }

  list(): Lease[] {
    return [...this.#leases.values()];
  }

  /** A put seen in the stream: always reported (a renewal carries a new expiration). */
  put(lease: Lease): LeaseEvent {
    this.#leases.set(lease.subnet, lease);
    return { type: 'added', lease };
  }

  /** A delete seen in the stream; nothing to report for a subnet never reported (e.g. a malformed value). */
  delete(subnet: string): LeaseEvent | undefined {
    const lease = this.#leases.get(subnet);
    if (lease === undefined) return undefined;
    this.#leases.delete(subnet);
    return { type: 'removed', lease };
  }

  /**
   * Changes read from the stream, in order, as their net effect per subnet: a listener that is told the
   * result ends where it would after every change one by one, with less to do. A lease put and deleted
   * within the run, never reported, costs nothing; a reported lease that was deleted comes out as
   * `removed` (as last reported) before any later `added` of the same subnet, so a delete is never lost
   * nor reordered against a new holder.
   */
  applySteps(steps: readonly LeaseStep[]): LeaseEvent[] {
    // What the listener was last told, for each subnet the run touches, in the order first touched.
    const before = new Map<string, Lease | undefined>();
    const deleted = new Set<string>();
    for (const step of steps) {
      const subnet = step.type === 'put' ? step.lease.subnet : step.subnet;
      if (!before.has(subnet)) before.set(subnet, this.#leases.get(subnet));
      if (step.type === 'put') this.#leases.set(subnet, step.lease);
      else if (this.#leases.delete(subnet)) deleted.add(subnet);
    }
    const events: LeaseEvent[] = [];
    for (const [subnet, was] of before) {
      const now = this.#leases.get(subnet);
      if (was !== undefined && (now === undefined || deleted.has(subnet))) events.push({ type: 'removed', lease: was });
      // A put is always reported, even over the same holder: a renewal carries a new expiration.
      if (now !== undefined) events.push({ type: 'added', lease: now });
    }
    return events;
  }

  /**
   * A full listing (the first one, or after the watch fell behind etcd's
   * compaction): `added` for leases that are new or changed, `removed` for
   * known leases that are gone. An unchanged lease is not reported again.
   */
  resync(current: readonly Lease[]): LeaseEvent[] {
    const events: LeaseEvent[] = [];
    const seen = new Set<string>();
    for (const lease of current) {
      seen.add(lease.subnet);
      const old = this.#leases.get(lease.subnet);
      this.#leases.set(lease.subnet, lease);
      if (old === undefined || !sameHolder(old, lease)) events.push({ type: 'added', lease });
    }
    for (const [subnet, lease] of this.#leases) {
      if (seen.has(subnet)) continue;
      this.#leases.delete(subnet);
      events.push({ type: 'removed', lease });
    }
    return events;
  }
}

/** Same host and same way to reach it; the expiration alone does not count as a change. */
export function sameHolder(a: Lease, b: Lease): boolean {
  return (
    a.subnet === b.subnet &&
    a.ipv6Subnet === b.ipv6Subnet &&
    a.publicIP === b.publicIP &&
    a.publicIPv6 === b.publicIPv6 &&
    a.backendType === b.backendType &&
    a.backendData.VtepMAC === b.backendData.VtepMAC &&
    a.backendData.VNI === b.backendData.VNI &&
    a.backendData.Port === b.backendData.Port &&
    a.ipv6BackendData?.VtepMAC === b.ipv6BackendData?.VtepMAC &&
    a.ipv6BackendData?.VNI === b.ipv6BackendData?.VNI
  );
}
