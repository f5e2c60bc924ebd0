/**
 * A stored subnet entry read as a Lease: the key names the subnet, the value
 * (flannel's JSON) the holder, and the etcd lease's remaining TTL the
 * expiration. Shared by the lease keeper's acquire and the watch.
 */
import type { Lease } from '../lease/lease.js';
import { decodeLeaseValue, parseSubnetKey } from './lease-value.js';
import { NO_LEASE, type Registry, type SubnetEntry } from './registry.js';

/** An entry read into a Lease, or the reason it could not be. */
export type EntryResult = { ok: true; lease: Lease } | { ok: false; reason: string };

/**
 * An entry as a Lease. `remainingSeconds` is the etcd lease's TTL as read
 * (undefined for a reservation); a key that is not a subnet key or a value
 * that is malformed comes back as a reason, never as an exception.
 */
export function entryToLease(subnetsPrefix: string, entry: SubnetEntry, remainingSeconds: number | undefined, now: number): EntryResult {
  const name = entry.key.slice(subnetsPrefix.length);
  const key = parseSubnetKey(name);
  if (key === undefined) return { ok: false, reason: `${entry.key}: not a subnet key like 198.18.1.0-24` };
  const decoded = decodeLeaseValue(entry.value);
  if (!decoded.ok) return { ok: false, reason: `${entry.key}: ${decoded.reason}` };
  const lease: Lease = {
    subnet: key.subnet,
    publicIP: decoded.attrs.publicIP,
    backendType: decoded.attrs.backendType,
    backendData: decoded.attrs.backendData,
    // A reservation (no etcd lease) never expires: flannel's zero Expiration.
    expiration: remainingSeconds === undefined ? Number.POSITIVE_INFINITY : now + Math.max(0, remainingSeconds) * 1000,
  };
  if (key.ipv6Subnet !== undefined) lease.ipv6Subnet = key.ipv6Subnet;
  if (decoded.attrs.publicIPv6 !== undefined) lease.publicIPv6 = decoded.attrs.publicIPv6;
  if (decoded.attrs.ipv6BackendData !== undefined) lease.ipv6BackendData = decoded.attrs.ipv6BackendData;
  return { ok: true, lease };
}

/**
 * The remaining TTL of each distinct etcd lease among `leaseIds`, read once
 * each. A TTL that cannot be read (etcd went away mid-way) is taken as
 * `fallbackSeconds`: the lease is still there, only its exact expiry is unknown.
 */
export async function remainingTtls(registry: Registry, leaseIds: readonly string[], fallbackSeconds: number): Promise<Map<string, number>> {
  const ids = [...new Set(leaseIds.filter((id) => id !== NO_LEASE))];
  return new Map(await Promise.all(ids.map(async (id) => [id, await registry.remaining(id).catch(() => fallbackSeconds)] as const)));
}

/** Entries as leases (see remainingTtls for `fallbackSeconds`), and the reasons for those that are not. */
export async function entriesToLeases(
  registry: Registry,
  entries: readonly SubnetEntry[],
  fallbackSeconds: number,
  now: () => number,
): Promise<{ leases: Lease[]; refused: string[] }> {
  const ttls = await remainingTtls(
    registry,
    entries.map((e) => e.leaseId),
    fallbackSeconds,
  );
  const at = now();
  const leases: Lease[] = [];
  const refused: string[] = [];
  for (const entry of entries) {
    const r = entryToLease(registry.keys.subnetsPrefix, entry, entry.leaseId === NO_LEASE ? undefined : ttls.get(entry.leaseId), at);
    if (r.ok) leases.push(r.lease);
    else refused.push(r.reason);
  }
  return { leases, refused };
}
