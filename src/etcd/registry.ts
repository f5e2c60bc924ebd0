/**
 * What the etcd store needs from etcd, as a contract that two implementations
 * keep: etcd itself (etcd-registry.ts) and an in-memory one for fast tests
 * (memory-registry.ts). flannel's key layout (its pkg/subnet/etcd registry.go):
 *
 *   <prefix>/config                      the network (flannel-config.ts)
 *   <prefix>/subnets/198.18.1.0-24       a lease (lease-value.ts), attached to an etcd lease with the TTL;
 *                                        without an etcd lease it is a reservation and never expires
 *
 * Errors: any call but revoke() may reject when the registry cannot be reached
 * or does not answer in time. Such a failure is transient (the caller retries,
 * connection.ts) and says nothing about whether a write took effect: a reply
 * can be lost after the write was applied. Callers therefore re-read before
 * they write, and every write that could take a subnet from another host is
 * conditioned on what was read, so two hosts never both believe they hold one.
 *
 * Revisions: every write (a put, a delete, an etcd lease running out or being
 * revoked) makes one new revision, a positive integer larger than any before.
 * A key's modRevision is the revision of its last write. A listing is as of
 * one revision R; a watch from R + 1 then sees every later change exactly once.
 *
 * TTL: an etcd lease runs out `ttl` seconds after its grant (this store never
 * keeps one alive: renewal moves the key to a new one). When it runs out, or
 * is revoked, every key attached to it is deleted in one revision, and watches
 * see those deletes like any other.
 */
import { formatSubnetKey } from './lease-value.js';

export const DEFAULT_PREFIX = '/coreos.com/network';

/** The etcd lease ID of a key with no etcd lease (a reservation). */
export const NO_LEASE = '0';

/** flannel's keys under one prefix. */
export class KeyLayout {
  readonly prefix: string;
  readonly configKey: string;
  readonly subnetsPrefix: string;

  constructor(prefix = DEFAULT_PREFIX) {
    // path.Join semantics, as flannel builds its keys: no trailing slash.
    this.prefix = prefix.replace(/\/+$/, '');
    this.configKey = `${this.prefix}/config`;
    this.subnetsPrefix = `${this.prefix}/subnets/`;
  }

  subnetKey(subnet: string, ipv6Subnet?: string): string {
    return this.subnetsPrefix + formatSubnetKey(subnet, ipv6Subnet);
  }
}

/** One key under `<prefix>/subnets/` as stored. */
export interface SubnetEntry {
  /** The full key. */
  key: string;
  value: string;
  /** The etcd lease ID (NO_LEASE for a reservation). */
  leaseId: string;
  modRevision: number;
}

/** A granted etcd lease: its ID and the TTL granted, seconds (etcd may grant more than asked: its minimum). */
export interface Grant {
  id: string;
  ttl: number;
}

/** One change to a key under `<prefix>/subnets/`, as a watch reports it. */
export type SubnetChange =
  | { type: 'put'; entry: SubnetEntry }
  /** Deleted by hand or because its etcd lease ran out or was revoked; `revision` is the delete's. */
  | { type: 'delete'; key: string; revision: number };

/**
 * What a watch stream reports. `broken` and `compacted` end it: nothing
 * follows either, and the watcher opens a new one.
 */
export type WatchMessage =
  /** The watch is in place: etcd answered. */
  | { kind: 'created' }
  /** Changes in revision order; whole revisions only. `revision` is the last change's. */
  | { kind: 'changes'; changes: SubnetChange[]; revision: number }
  /** Every change up to `revision` has been reported (etcd's progress notification). */
  | { kind: 'progress'; revision: number }
  /** The start revision is older than the oldest one kept; `compactRevision` is the oldest one kept. */
  | { kind: 'compacted'; compactRevision: number }
  /** The stream failed (connection lost, server gone); changes after the last reported one were not seen. */
  | { kind: 'broken'; reason: string };

export interface WatchHandle {
  /** Ends the stream; nothing is reported after this returns. Calling it again is fine. */
  cancel(): void;
}

export interface Registry {
  readonly keys: KeyLayout;

  /** The text of the config key, or undefined when there is none. */
  getConfig(): Promise<string | undefined>;
  putConfig(text: string): Promise<void>;
  /** A cheap linearizable read: resolves only when the registry has a leader and answers. */
  ping(): Promise<void>;

  /** Every subnet key, in key order, and the revision the listing is as of (watch from revision + 1). */
  listSubnets(): Promise<{ entries: SubnetEntry[]; revision: number }>;
  getSubnet(key: string): Promise<SubnetEntry | undefined>;

  /** A new etcd lease that runs out `ttlSeconds` from now. */
  grant(ttlSeconds: number): Promise<Grant>;
  /** Ends an etcd lease now, deleting its keys. Best effort: never rejects; a lease already gone (or NO_LEASE) is fine. */
  revoke(leaseId: string): Promise<void>;
  /** Whole seconds left on an etcd lease, rounded down; -1 when it has run out or never existed. */
  remaining(leaseId: string): Promise<number>;

  /** Creates `key` only if it does not exist (flannel's createSubnet). True when it was created. */
  create(key: string, value: string, leaseId: string): Promise<boolean>;
  /** Rewrites `key` only if it is unchanged since `modRevision` was read. True when it was written. */
  replace(key: string, value: string, leaseId: string, modRevision: number): Promise<boolean>;
  /** Deletes `key` only if it is unchanged since `modRevision` was read. True when it was deleted. */
  deleteIfUnchanged(key: string, modRevision: number): Promise<boolean>;

  /**
   * Watches every key under `<prefix>/subnets/` from `fromRevision` on.
   * Returns at once; messages come later (never during this call): `created`
   * once the watch is in place, then `changes` and `progress`; `broken` or
   * `compacted` may come at any point and end it, and cancel() ends it
   * silently. A failure to open the stream is a `broken` message.
   */
  watchSubnets(fromRevision: number, onMessage: (message: WatchMessage) => void): WatchHandle;
}
