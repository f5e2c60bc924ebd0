/**
 * flannel's key layout in etcd, and the few operations a host needs on it
 * (flannel's pkg/subnet/etcd registry.go):
 *
 *   <prefix>/config                      the network (flannel-config.ts)
 *   <prefix>/subnets/198.18.1.0-24       a lease (lease-value.ts), attached to an etcd lease with the TTL;
 *                                        without an etcd lease it is a reservation and never expires
 *
 * Every write that could take a subnet from another host is a transaction
 * conditioned on what was read, so two hosts never both believe they hold one.
 */
import type { Etcd3, IKeyValue, IRequestOp, ICompare } from 'etcd3';
import type { Lease } from '../lease/lease.js';
import { prefixRangeEnd } from './etcd-client.js';
import { decodeLeaseValue, formatSubnetKey, parseSubnetKey } from './lease-value.js';

export const DEFAULT_PREFIX = '/coreos.com/network';

/** One key under `<prefix>/subnets/` as stored. */
export interface SubnetEntry {
  /** The full key. */
  key: string;
  value: string;
  /** The etcd lease ID ("0" for a reservation). */
  leaseId: string;
  modRevision: number;
}

/** An entry read into a Lease, or the reason it could not be. */
export type EntryResult = { ok: true; lease: Lease } | { ok: false; reason: string };

/** A granted etcd lease: its ID and the TTL the server granted, seconds. */
export interface Grant {
  id: string;
  ttl: number;
}

export class Registry {
  readonly prefix: string;
  readonly configKey: string;
  readonly subnetsPrefix: string;

  constructor(readonly client: Etcd3, prefix = DEFAULT_PREFIX) {
    // path.Join semantics, as flannel builds its keys: no trailing slash.
    this.prefix = prefix.replace(/\/+$/, '');
    this.configKey = `${this.prefix}/config`;
    this.subnetsPrefix = `${this.prefix}/subnets/`;
  }

  subnetKey(subnet: string, ipv6Subnet?: string): string {
    return this.subnetsPrefix + formatSubnetKey(subnet, ipv6Subnet);
  }

  /** The text of the config key, or undefined when there is none. */
  async getConfig(): Promise<string | undefined> {
    const res = await this.client.kv.range({ key: Buffer.from(this.configKey) });
    return res.kvs[0]?.value.toString();
  }

  async putConfig(text: string): Promise<void> {
    await this.client.kv.put({ key: Buffer.from(this.configKey), value: Buffer.from(text) });
  }

  /** A cheap linearizable read: succeeds only when etcd has a leader and answers. */
  async ping(): Promise<void> {
    await this.client.kv.range({ key: Buffer.from(this.configKey), count_only: true });
  }

  /** Every subnet key, and the revision the listing is as of (watch from revision + 1). */
  async listSubnets(): Promise<{ entries: SubnetEntry[]; revision: number }> {
    const key = Buffer.from(this.subnetsPrefix);
    const res = await this.client.kv.range({ key, range_end: prefixRangeEnd(key) });
    return { entries: res.kvs.map(toEntry), revision: Number(res.header.revision) };
  }

  async getSubnet(key: string): Promise<SubnetEntry | undefined> {
    const res = await this.client.kv.range({ key: Buffer.from(key) });
    return res.kvs[0] === undefined ? undefined : toEntry(res.kvs[0]);
  }

  async grant(ttlSeconds: number): Promise<Grant> {
    const res = await this.client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 });
    return { id: res.ID, ttl: Number(res.TTL) };
  }

  /** Best effort: a lease that is already gone is fine. */
  async revoke(leaseId: string): Promise<void> {
    if (leaseId === '0') return;
    await this.client.leaseClient.leaseRevoke({ ID: leaseId }).catch(() => undefined);
  }

  /** Seconds left on an etcd lease; -1 when it has expired or never existed. */
  async remaining(leaseId: string): Promise<number> {
    const res = await this.client.leaseClient.leaseTimeToLive({ ID: leaseId });
    return Number(res.TTL);
  }

  /** Creates `key` only if it does not exist (flannel's createSubnet). True when it was created. */
  async create(key: string, value: string, leaseId: string): Promise<boolean> {
    return this.#txn([{ key: Buffer.from(key), target: 'Version', result: 'Equal', version: 0 }], key, value, leaseId);
  }

  /** Rewrites `key` only if it is unchanged since `modRevision` was read. True when it was written. */
  async replace(key: string, value: string, leaseId: string, modRevision: number): Promise<boolean> {
    return this.#txn([{ key: Buffer.from(key), target: 'Mod', result: 'Equal', mod_revision: modRevision }], key, value, leaseId);
  }

  /** Deletes `key` only if it is unchanged since `modRevision` was read. */
  async deleteIfUnchanged(key: string, modRevision: number): Promise<boolean> {
    const res = await this.client.kv.txn({
      compare: [{ key: Buffer.from(key), target: 'Mod', result: 'Equal', mod_revision: modRevision }],
      success: [{ request_delete_range: { key: Buffer.from(key) } }],
    });
    return res.succeeded;
  }

  async #txn(compare: ICompare[], key: string, value: string, leaseId: string): Promise<boolean> {
    const put: IRequestOp = { request_put: { key: Buffer.from(key), value: Buffer.from(value), lease: leaseId } };
    const res = await this.client.kv.txn({ compare, success: [put] });
    return res.succeeded;
  }

  /**
   * An entry as a Lease. `remainingSeconds` is the etcd lease's TTL as read
   * (undefined for a reservation); a lease whose key is not a subnet key or
   * whose value is malformed comes back as a reason, never as an exception.
   */
  toLease(entry: SubnetEntry, remainingSeconds: number | undefined, now: number): EntryResult {
    const name = entry.key.slice(this.subnetsPrefix.length);
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
    return { ok: true, lease };
  }

  /**
   * Entries as leases, reading each distinct etcd lease's TTL once. A TTL
   * that cannot be read (etcd went away mid-way) is taken as `fallbackSeconds`:
   * the lease is still there, only its exact expiry is unknown.
   */
  async toLeases(entries: readonly SubnetEntry[], fallbackSeconds: number): Promise<{ leases: Lease[]; refused: string[] }> {
    const ids = [...new Set(entries.map((e) => e.leaseId).filter((id) => id !== '0'))];
    const ttls = new Map(await Promise.all(ids.map(async (id) => [id, await this.remaining(id).catch(() => fallbackSeconds)] as const)));
    const now = Date.now();
    const leases: Lease[] = [];
    const refused: string[] = [];
    for (const entry of entries) {
      const r = this.toLease(entry, entry.leaseId === '0' ? undefined : ttls.get(entry.leaseId), now);
      if (r.ok) leases.push(r.lease);
      else refused.push(r.reason);
    }
    return { leases, refused };
  }
}

function toEntry(kv: IKeyValue): SubnetEntry {
  return { key: kv.key.toString(), value: kv.value.toString(), leaseId: kv.lease || '0', modRevision: Number(kv.mod_revision) };
}
