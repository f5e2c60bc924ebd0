/**
 * This host's own lease: acquired by flannel's rules, renewed before it runs
 * out, re-created on the same subnet if it expired while etcd was away, and
 * given back on a graceful leave.
 *
 * Acquire (flannel's tryAcquireLease): a lease whose PublicIP is ours is
 * reused if it still fits the network (and deleted if not); otherwise the
 * previous subnet if it is free and fits; otherwise a random free subnet.
 * Creation is a transaction that fails if the key exists, so two hosts racing
 * for one subnet cannot both win; the loser tries again (10 times, as flannel).
 * In a dual-stack network the lease holds an IPv6 subnet too, picked the same
 * way and named in the same key (`198.18.1.0-24&2001:db8:18:1::-64`).
 *
 * Renewal (flannel: a new etcd lease and a put, at expiration − margin) is a
 * transaction too, conditioned on the key being unchanged since it was read:
 * a subnet that another host took meanwhile is never taken back.
 */
import type { Lease, LeaseAttrs } from '../lease/lease.js';
import { realClock, type Clock, type ClockTimer } from './clock.js';
import type { Connection } from './connection.js';
import { PermanentError } from './connection.js';
import type { FlannelNetworkConfig } from './flannel-config.js';
import { decodeLeaseValue, encodeLeaseValue, parseSubnetKey } from './lease-value.js';
import { NO_LEASE, type Registry, type SubnetEntry } from './registry.js';
import { fitsIpv6Range, fitsNetwork, pickIpv6Subnet, pickSubnet } from './subnet-pool.js';
import { describeError } from './etcd-client.js';

const RACE_RETRIES = 10;

export interface KeeperOptions {
  registry: Registry;
  connection: Connection;
  config: FlannelNetworkConfig;
  attrs: LeaseAttrs;
  ttlSeconds: number;
  renewMarginSeconds: number;
  previousSubnet?: string;
  /** The IPv6 subnet this host had before, in a dual-stack network. */
  previousIpv6Subnet?: string;
  random: () => number;
  log: (line: string) => void;
  onLost?: (lease: Lease) => void;
  /** Time and timers (default: the real ones). */
  clock?: Clock;
}

export class LeaseKeeper {
  #lease: Lease;
  #leaseId: string;
  #timer: ClockTimer | undefined;
  #renewing: Promise<void> | undefined;
  #stopped = false;
  readonly #value: string;
  readonly #stopRecovered: () => void;
  readonly #clock: Clock;

  private constructor(
    private readonly o: KeeperOptions,
    lease: Lease,
    leaseId: string,
  ) {
    this.#clock = o.clock ?? realClock;
    this.#lease = lease;
    this.#leaseId = leaseId;
    this.#value = encodeLeaseValue(o.attrs);
    this.#stopRecovered = o.connection.onRecovered(() => void this.renew());
    this.#schedule();
  }

  /** Acquires the host's lease (retrying while etcd is away) and keeps it renewed. */
  static async acquire(o: KeeperOptions): Promise<LeaseKeeper> {
    const { lease, leaseId } = await o.connection.retry(async () => {
      for (let i = 0; i < RACE_RETRIES; i++) {
        const got = await tryAcquire(o, o.clock ?? realClock);
        if (got !== undefined) return got;
      }
      throw new PermanentError(`no subnet acquired after ${RACE_RETRIES} attempts: other hosts kept taking the one picked`);
    });
    return new LeaseKeeper(o, lease, leaseId);
  }

  get lease(): Lease {
    return this.#lease;
  }

  /** Renews now (one renewal at a time); retries while etcd is away. */
  renew(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#renewing ??= this.o.connection
      .retry(() => this.#renewOnce())
      .catch((error) => {
        if (!this.#stopped) this.o.log(`etcd: renewing ${this.#lease.subnet} stopped: ${describeError(error)}`);
      })
      .finally(() => {
        this.#renewing = undefined;
        this.#schedule();
      });
    return this.#renewing;
  }

  /** Stops renewing; with `release`, deletes the lease (only if it is still ours) and revokes the etcd lease. */
  async stop(release: boolean): Promise<void> {
    this.#stopped = true;
    this.#stopRecovered();
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    if (!release) return;
    const key = this.o.registry.keys.subnetKey(this.#lease.subnet, this.#lease.ipv6Subnet);
    const entry = await this.o.registry.getSubnet(key);
    if (entry !== undefined && entry.value === this.#value && entry.leaseId === this.#leaseId) {
      await this.o.registry.deleteIfUnchanged(key, entry.modRevision);
      this.o.log(`etcd: released ${this.#lease.subnet}`);
    }
    await this.o.registry.revoke(this.#leaseId);
  }

  #schedule(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    if (this.#stopped || !Number.isFinite(this.#lease.expiration)) return; // a reservation needs no renewal
    const due = this.#lease.expiration - this.o.renewMarginSeconds * 1000;
    this.#timer = this.#clock.setTimer(due - this.#clock.now(), () => void this.renew(), { unref: true });
  }

  /** One renewal attempt; throws (to be retried) on etcd errors and lost races. */
  async #renewOnce(): Promise<void> {
    const { registry, attrs } = this.o;
    const subnet = this.#lease.subnet;
    const key = registry.keys.subnetKey(subnet, this.#lease.ipv6Subnet);
    const entry = await registry.getSubnet(key);
    if (entry === undefined) {
      // Expired while etcd was away (or deleted): take the same subnet again if nobody has.
      const grant = await registry.grant(this.o.ttlSeconds);
      if (!(await registry.create(key, this.#value, grant.id))) {
        await registry.revoke(grant.id);
        throw new Error(`${subnet} was taken while being re-created; reading it again`);
      }
      await this.#revokeOld([this.#leaseId], grant.id);
      this.#set(grant.id, grant.ttl);
      this.o.log(`etcd: ${subnet} had expired; re-created it for ${attrs.publicIP}`);
      return;
    }
    const decoded = decodeLeaseValue(entry.value);
    if (
      !decoded.ok ||
      decoded.attrs.publicIP !== attrs.publicIP ||
      (decoded.attrs.hostId !== undefined && attrs.hostId !== undefined && decoded.attrs.hostId !== attrs.hostId)
    ) {
      const holder = !decoded.ok
        ? 'a malformed value'
        : decoded.attrs.publicIP !== attrs.publicIP
          ? decoded.attrs.publicIP
          : `another host (tulle host id ${decoded.attrs.hostId})`;
      this.o.log(`etcd: ${subnet} is now held by ${holder}; this host's lease is lost`);
      this.#stopped = true;
      this.o.onLost?.(this.#lease);
      return;
    }
    if (entry.leaseId === NO_LEASE) {
      this.#lease = { ...this.#lease, expiration: Number.POSITIVE_INFINITY };
      this.#leaseId = NO_LEASE;
      this.o.log(`etcd: ${subnet} is a reservation now; no renewal needed`);
      return;
    }
    const grant = await registry.grant(this.o.ttlSeconds);
    if (!(await registry.replace(key, this.#value, grant.id, entry.modRevision))) {
      await registry.revoke(grant.id);
      throw new Error(`${subnet} changed while being renewed; reading it again`);
    }
    // The key's etcd lease, and ours if they differ: a renewal whose reply was lost had moved the key off ours.
    await this.#revokeOld([entry.leaseId, this.#leaseId], grant.id);
    this.#set(grant.id, grant.ttl);
    this.o.log(`etcd: renewed ${subnet} for ${grant.ttl} s`);
  }

  /** Gives back etcd leases the key no longer uses (best effort: they would run out anyway, a TTL later). */
  async #revokeOld(ids: string[], current: string): Promise<void> {
    for (const id of new Set(ids)) if (id !== current) await this.o.registry.revoke(id);
  }

  #set(leaseId: string, ttl: number): void {
    this.#leaseId = leaseId;
    this.#lease = { ...this.#lease, ...leaseFields(this.o.attrs), expiration: this.#clock.now() + ttl * 1000 };
  }
}

function leaseFields(attrs: LeaseAttrs): Pick<Lease, 'publicIP' | 'publicIPv6' | 'backendType' | 'backendData' | 'ipv6BackendData'> {
  const out: Pick<Lease, 'publicIP' | 'publicIPv6' | 'backendType' | 'backendData' | 'ipv6BackendData'> = {
    publicIP: attrs.publicIP,
    backendType: attrs.backendType,
    backendData: { ...attrs.backendData },
  };
  if (attrs.publicIPv6 !== undefined) out.publicIPv6 = attrs.publicIPv6;
  if (attrs.ipv6BackendData !== undefined) out.ipv6BackendData = { ...attrs.ipv6BackendData };
  return out;
}

/** One pass of flannel's acquire; undefined when a race was lost and it should run again. */
async function tryAcquire(o: KeeperOptions, clock: Clock): Promise<{ lease: Lease; leaseId: string } | undefined> {
  const { registry, config, attrs } = o;
  const value = encodeLeaseValue(attrs);
  const { entries } = await registry.listSubnets();
  // A key is taken whatever its value: a malformed one is still someone's.
  const named = entries.flatMap((e) => {
    const k = parseSubnetKey(e.key.slice(registry.keys.subnetsPrefix.length));
    return k === undefined ? [] : [{ entry: e, subnet: k.subnet, ipv6: k.ipv6Subnet }];
  });
  let taken = named.map((n) => n.subnet);
  let taken6 = named.flatMap((n) => (n.ipv6 === undefined ? [] : [n.ipv6]));
  // flannel finds its own lease by PublicIP. A lease with our address that another tulle host wrote (its own
  // TulleHostID) is that host's: two hosts that announce one address (Vagrant's NAT address on eth0) would
  // otherwise both run one subnet as their own.
  const sameAddress = named.flatMap((n) => {
    const d = decodeLeaseValue(n.entry.value);
    return d.ok && d.attrs.publicIP === attrs.publicIP ? [{ ...n, hostId: d.attrs.hostId }] : [];
  });
  const other = sameAddress.find((n) => n.hostId !== undefined && attrs.hostId !== undefined && n.hostId !== attrs.hostId);
  if (other !== undefined) {
    const until = other.entry.leaseId === NO_LEASE ? 'a reservation' : 'its etcd lease is live';
    throw new PermanentError(
      `another host (tulle host id ${other.hostId}) already announces public IP ${attrs.publicIP} with ${other.subnet} (${until}): ` +
        `two hosts cannot share one public IP; give this host its own underlay address with --iface or --public-ip`,
    );
  }
  const mine = sameAddress.find((n) => n.hostId === undefined || n.hostId === attrs.hostId);
  const made = (subnet: string, ipv6: string | undefined, leaseId: string, ttl: number | undefined): { lease: Lease; leaseId: string } => ({
    lease: {
      subnet,
      ...(ipv6 !== undefined ? { ipv6Subnet: ipv6 } : {}),
      ...leaseFields(attrs),
      expiration: ttl === undefined ? Number.POSITIVE_INFINITY : clock.now() + ttl * 1000,
    },
    leaseId,
  });
  const both = (subnet: string, ipv6: string | undefined) => (ipv6 === undefined ? subnet : `${subnet} and ${ipv6}`);
  // flannel's isIPv6SubnetConfigCompat: an IPv6 subnet in the range when the network is dual-stack, none when it is not.
  const fitsIpv6 = (ipv6: string | undefined) => (config.ipv6 === undefined ? ipv6 === undefined : ipv6 !== undefined && fitsIpv6Range(config.ipv6, ipv6));

  if (mine !== undefined) {
    if (fitsNetwork(config, mine.subnet) && fitsIpv6(mine.ipv6)) {
      const reused = await reuse(o, mine.entry, value);
      if (reused === undefined) return undefined;
      o.log(`etcd: reusing ${both(mine.subnet, mine.ipv6)}, already leased to ${attrs.publicIP}${reused.ttl === undefined ? ' (a reservation)' : ''}`);
      return made(mine.subnet, mine.ipv6, reused.leaseId, reused.ttl);
    }
    const v6 = config.ipv6 === undefined ? ', not dual-stack' : `, IPv6 /${config.ipv6.subnetLen} ${config.ipv6.subnetMin}..${config.ipv6.subnetMax}`;
    o.log(
      `etcd: ${both(mine.subnet, mine.ipv6)} was leased to ${attrs.publicIP} but does not fit the network ${config.network} (/${config.subnetLen}, ${config.subnetMin}..${config.subnetMax}${v6}); deleting it`,
    );
    if (!(await registry.deleteIfUnchanged(mine.entry.key, mine.entry.modRevision))) return undefined;
    taken = taken.filter((s) => s !== mine.subnet);
    taken6 = taken6.filter((s) => s !== mine.ipv6);
  }

  let subnet: string | undefined;
  if (o.previousSubnet !== undefined) {
    if (fitsNetwork(config, o.previousSubnet) && !taken.includes(o.previousSubnet)) subnet = o.previousSubnet;
    else o.log(`etcd: the previous subnet ${o.previousSubnet} is taken or does not fit the network; picking another`);
  }
  subnet ??= pickSubnet(config, taken, o.random);
  if (subnet === undefined) {
    throw new PermanentError(`no free subnet in ${config.subnetMin}..${config.subnetMax} (/${config.subnetLen}): ${taken.length} taken`);
  }
  let ipv6: string | undefined;
  if (config.ipv6 !== undefined) {
    const range = config.ipv6;
    const previous = o.previousIpv6Subnet;
    if (previous !== undefined && fitsIpv6Range(range, previous) && !taken6.includes(previous)) ipv6 = previous;
    ipv6 ??= pickIpv6Subnet(range, taken6, o.random);
    if (ipv6 === undefined)
      throw new PermanentError(`no free IPv6 subnet in ${range.subnetMin}..${range.subnetMax} (/${range.subnetLen}): ${taken6.length} taken`);
  }
  const grant = await registry.grant(o.ttlSeconds);
  if (!(await registry.create(registry.keys.subnetKey(subnet, ipv6), value, grant.id))) {
    await registry.revoke(grant.id);
    return undefined;
  }
  o.log(`etcd: acquired ${both(subnet, ipv6)} for ${attrs.publicIP} (ttl ${grant.ttl} s)`);
  return made(subnet, ipv6, grant.id, grant.ttl);
}

/** Rewrites our existing lease with our current attributes and a fresh TTL (a reservation stays one). */
async function reuse(o: KeeperOptions, entry: SubnetEntry, value: string): Promise<{ leaseId: string; ttl: number | undefined } | undefined> {
  const { registry } = o;
  if (entry.leaseId === NO_LEASE) {
    return (await registry.replace(entry.key, value, NO_LEASE, entry.modRevision)) ? { leaseId: NO_LEASE, ttl: undefined } : undefined;
  }
  const grant = await registry.grant(o.ttlSeconds);
  if (!(await registry.replace(entry.key, value, grant.id, entry.modRevision))) {
    await registry.revoke(grant.id);
    return undefined;
  }
  await registry.revoke(entry.leaseId);
  return { leaseId: grant.id, ttl: grant.ttl };
}
