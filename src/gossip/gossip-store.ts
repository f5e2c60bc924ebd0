/**
 * GossipStore: the LeaseStore the daemon uses when there is no etcd. One
 * gossip peer per host over UDP; leases as records riding on membership.
 *
 * Options (all checked here; errors name the option, the value and what is allowed):
 *   bind            "host:port" to listen on (port 0: any free port)
 *   advertise       "host:port" peers reach us at (default: the bound address)
 *   seeds           ["host:port", …] to join through and retry after partitions
 *   keys            shared keys, base64 or hex, ≥ 16 bytes; the first signs, all verify
 *   label           cluster label, bound into every MAC (two clusters on one key stay apart)
 *   network         { network, subnetLen, subnetMin, subnetMax, backendType } (flannel's config)
 *   ipv6Network     { network, subnetLen }: a dual-stack overlay; each host also leases an IPv6 subnet
 *   hostId          stable host id; default: the state's host-id (created once)
 *   state           the host's state (src/lease/state-file.ts) that keeps our own lease record
 *                   across restarts, with whatever else the process keeps there; losing it is
 *                   fine where a peer is reached, the peers remember the lease by host id
 *   stateDir        a state dir to open `state` in, for a process that keeps nothing else there
 *   preset          'lan' (default) or 'local'; overrides: partial GossipConfig
 *   leaseOverrides  partial LeaseConfig (lease timings; the same for both presets)
 *   log             (level, msg, fields) callback
 */
import { randomBytes } from 'node:crypto';
import { HostState, HOST_ID } from '../lease/state-file.js';
import type { BackendType, Lease, LeaseAttrs, LeaseEvent, LeaseStore, NetworkConfig } from '../lease/lease.js';
import { HealthClock, type StoreHealthReport } from '../lease/store-health.js';
import { LEAVE_ROUNDS, makeConfig, type GossipConfig, type PresetName } from './config.js';
import { makeLeaseConfig, type LeaseConfig } from './lease-config.js';
import type { Registry } from 'prom-client';
import type { GossipCounters } from './counters.js';
import { gossipHealth, registerGossipMetrics } from './gossip-metrics.js';
import { LeaseReplica, type LeaseChange, type LeaseClaimAttrs } from './lease-replica.js';
import type { Keyring } from './envelope.js';
import { parseKeyring } from './mac.js';
import { GossipNode } from './node.js';
import { Sfc32 } from '../util/prng.js';
import { ALIVE, BACKEND_CODES, SUSPECT, type LeaseRecord, type MemberRecord } from './records.js';
import { realClock, type LogFn, type ProbeObserver } from './runtime.js';
import { seedsOnlySelf } from './seeds.js';
import { SubnetPool } from './subnet-pool.js';
import { SubnetPool6, type Ipv6NetworkConfig } from './subnet-pool6.js';
import { parseHostPort, UdpTransport } from './udp-transport.js';

export interface GossipStoreOptions {
  bind: string;
  advertise?: string;
  seeds?: string[];
  keys: string[];
  label: string;
  network: NetworkConfig;
  ipv6Network?: Ipv6NetworkConfig;
  hostId?: string;
  state?: HostState;
  stateDir?: string;
  preset?: PresetName;
  overrides?: Partial<GossipConfig>;
  leaseOverrides?: Partial<LeaseConfig>;
  log?: LogFn;
}

/** The name our own record is kept under in the host's state. */
const STATE_KEY = 'gossip';

export class GossipStore implements LeaseStore {
  readonly node: GossipNode;
  readonly replica: LeaseReplica;
  readonly pool: SubnetPool;
  readonly pool6: SubnetPool6 | undefined;
  readonly #transport: UdpTransport;
  readonly #config: GossipConfig;
  readonly #state: HostState | undefined;
  readonly #log: LogFn | undefined;
  readonly #watchers = new Set<(events: LeaseEvent[]) => void>();
  #saved: LeaseRecord | undefined;
  #closed = false;
  readonly #seeds: number;
  readonly #healthClock = new HealthClock();
  readonly #twinsLogged = new Set<string>();
  /** The node's keyring: one object its writer and reader share, so a new set of keys takes effect for both at once. */
  readonly #keyring: Keyring;

  private constructor(
    node: GossipNode,
    replica: LeaseReplica,
    pool: SubnetPool,
    pool6: SubnetPool6 | undefined,
    transport: UdpTransport,
    config: GossipConfig,
    keyring: Keyring,
    o: GossipStoreOptions,
  ) {
    this.node = node;
    this.replica = replica;
    this.pool = pool;
    this.pool6 = pool6;
    this.#transport = transport;
    this.#config = config;
    this.#state = o.state;
    this.#log = o.log;
    this.#seeds = (o.seeds ?? []).length;
    this.#keyring = keyring;
    replica.onChanges = (changes) => this.#onChanges(changes);
  }

  static async open(o: GossipStoreOptions): Promise<GossipStore> {
    const bind = parseHostPort(o.bind, true);
    if (!bind) throw new Error(`gossip bind "${o.bind}": must be host:port, e.g. 192.0.2.1:7946 (port 0: any free port)`);
    for (const s of o.seeds ?? []) if (!parseHostPort(s)) throw new Error(`gossip seeds: "${s}" must be host:port, e.g. 192.0.2.2:7946`);
    if (o.advertise !== undefined && !parseHostPort(o.advertise)) throw new Error(`gossip advertise "${o.advertise}": must be host:port`);
    if (typeof o.label !== 'string' || o.label.length === 0 || o.label.length > 128)
      throw new Error(`gossip label "${String(o.label)}": must be 1–128 characters`);
    const selfOnly = seedsOnlySelf(o.seeds ?? [], o.advertise ?? o.bind);
    if (selfOnly !== undefined) throw new Error(`gossip seeds: ${selfOnly}`);
    const keyring = parseKeyring(o.keys ?? []);
    const config = makeConfig(o.preset ?? 'lan', o.overrides);
    const leaseConfig = makeLeaseConfig(o.leaseOverrides);
    const pool = new SubnetPool(o.network);
    const pool6 = o.ipv6Network !== undefined ? new SubnetPool6(o.ipv6Network) : undefined;
    if (o.state === undefined && o.stateDir !== undefined)
      o = { ...o, state: new HostState(o.stateDir, (message, fields) => o.log?.('warn', message, fields)) };
    const hostId = resolveHostId(o);
    let node: GossipNode | undefined;
    const transport = await UdpTransport.open({ host: bind.host, port: bind.port, onReceive: (from, data) => node?.receive(from, data), log: o.log });
    const addr = o.advertise ?? transport.address;
    const seed = randomBytes(4).readUInt32LE(0);
    node = new GossipNode({
      id: hostId,
      addr,
      config,
      clock: realClock,
      transport,
      random: new Sfc32(seed, 1),
      keyring,
      label: o.label,
      seeds: o.seeds ?? [],
      log: o.log,
    });
    const replica = new LeaseReplica({ node, pool, pool6, config: leaseConfig, clock: realClock, random: new Sfc32(seed, 2), log: o.log });
    const store = new GossipStore(node, replica, pool, pool6, transport, config, keyring, o);
    store.#restore();
    node.start();
    o.log?.('info', 'gossip peer up', { hostId, addr, seeds: o.seeds ?? [], preset: o.preset ?? 'lan' });
    return store;
  }

  get hostId(): string {
    return this.node.id;
  }

  /** The address peers reach us at. */
  get address(): string {
    return this.node.addr;
  }

  /**
   * Replaces the keyring under traffic (a key rotation step): the first key signs from the next
   * datagram on, every key verifies. Checked as at open; on an error the keys in use stay.
   */
  setKeys(keys: string[]): void {
    const next = parseKeyring(keys);
    this.#keyring.keys.splice(0, this.#keyring.keys.length, ...next.keys);
  }

  /** How many keys verify now (the first of them signs). */
  get keyCount(): number {
    return this.#keyring.keys.length;
  }

  get counters(): GossipCounters {
    return this.node.counters;
  }

  /** The probes' round trips and losses per member, for path health (src/daemon/path-health). */
  observeProbes(observer: ProbeObserver | undefined): void {
    this.node.observeProbes(observer);
  }

  members(): MemberRecord[] {
    return this.node.memberList();
  }

  /** Gossip health in the daemon's /metrics (src/daemon/store-hooks.ts). */
  registerMetrics(registry: Registry): void {
    registerGossipMetrics(registry, { counters: this.node.counters, members: () => this.members(), healthScore: () => this.node.awareness.score });
  }

  /** For /healthz and `tulle status`. */
  health(): StoreHealthReport {
    let h = gossipHealth(
      { counters: this.node.counters, members: () => this.members(), healthScore: () => this.node.awareness.score },
      this.node.id,
      this.#seeds,
    );
    const twin = this.#twin();
    if (twin !== undefined) h = { ...h, state: 'degraded', detail: `${twin}; ${h.detail}` };
    return { ...h, since: new Date(this.#healthClock.since(h.state)).toISOString() };
  }

  /** Another host's claim announcing `publicIP`, when that host is live (alive or suspect) in `members`. */
  #liveClaimAt(publicIP: string, members = this.members()): LeaseRecord | undefined {
    const live = new Set(members.filter((m) => m.state === ALIVE || m.state === SUSPECT).map((m) => m.id));
    return this.replica.othersAt(publicIP).find((r) => live.has(r.hostId));
  }

  /**
   * Another live host that announces this host's gossip address or public IP (two hosts sharing one
   * address, arrived after our lease was taken), in words, or undefined. Logged once per host.
   */
  #twin(): string | undefined {
    const live = this.members().filter((m) => m.id !== this.hostId && (m.state === ALIVE || m.state === SUSPECT));
    const byAddr = live.find((m) => m.addr === this.address);
    const own = this.replica.own;
    const byIp = own === undefined ? undefined : this.#liveClaimAt(own.publicIP, live);
    const other = byAddr?.id ?? byIp?.hostId;
    if (other === undefined) return undefined;
    const what = byAddr !== undefined ? `gossip address ${this.address}` : `public IP ${own!.publicIP}`;
    const text = `another host (gossip host id ${other}) announces this host's own ${what}: two hosts cannot share one address; give each its own with --iface or --public-ip`;
    if (!this.#twinsLogged.has(other)) {
      this.#twinsLogged.add(other);
      this.#log?.('error', text, { other });
    }
    return text;
  }

  async networkConfig(): Promise<NetworkConfig> {
    return this.pool.config;
  }

  /** Our lease as it stands (it moves if a partition heals onto an earlier claim). */
  ownLease(): Lease | undefined {
    const own = this.replica.own;
    return own && !own.released ? this.#toLease(own) : undefined;
  }

  async acquire(attrs: LeaseAttrs): Promise<Lease> {
    if (this.#closed) throw new Error('gossip store is closed');
    if (!BACKEND_CODES.includes(attrs.backendType)) throw new Error(`backendType "${attrs.backendType}": must be one of ${BACKEND_CODES.join(', ')}`);
    const synced = await this.node.joined();
    if (!synced) this.#log?.('warn', 'acquiring a lease without a completed join: a conflict, if any, is settled when peers are reached');
    // Another live host that announces our address would get our traffic, or we its: refuse rather than run both.
    const twin = this.#liveClaimAt(attrs.publicIP);
    if (twin !== undefined) {
      throw new Error(
        `another host (gossip host id ${twin.hostId}) already announces public IP ${attrs.publicIP} with ${this.pool.format(twin.subnet)}: ` +
          'two hosts cannot share one public IP; give this host its own underlay address with --iface or --public-ip',
      );
    }
    const claim: LeaseClaimAttrs = { publicIP: attrs.publicIP, backend: BACKEND_CODES.indexOf(attrs.backendType) };
    const extra = claim as { publicIPv6?: string; vtepMac?: string; vni?: number; port?: number };
    if (attrs.publicIPv6 !== undefined) extra.publicIPv6 = attrs.publicIPv6;
    if (attrs.backendData.VtepMAC !== undefined) {
      if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(attrs.backendData.VtepMAC))
        throw new Error(`backendData.VtepMAC "${attrs.backendData.VtepMAC}": must be six hex bytes like 02:42:c6:12:01:00`);
      extra.vtepMac = attrs.backendData.VtepMAC.toLowerCase();
    }
    if (attrs.backendData.VNI !== undefined) extra.vni = attrs.backendData.VNI;
    if (attrs.backendData.Port !== undefined) extra.port = attrs.backendData.Port;
    const previous = attrs.previousSubnet !== undefined ? this.pool.parse(attrs.previousSubnet) : undefined;
    const rec = this.replica.acquire(claim, previous, attrs.previousIpv6Subnet);
    this.replica.flush();
    this.#save();
    return this.#toLease(rec);
  }

  watch(onBatch: (events: LeaseEvent[]) => void): () => void {
    const initial = this.replica.table().map((r): LeaseEvent => ({ type: 'added', lease: this.#toLease(r) }));
    onBatch(initial);
    this.#watchers.add(onBatch);
    return () => this.#watchers.delete(onBatch);
  }

  async close(options: { release?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (options.release) {
      this.replica.leave(LEAVE_ROUNDS);
      this.node.leave();
      // Gossip rounds so the departure and the release get out, the release once more in each.
      await new Promise((r) => setTimeout(r, (LEAVE_ROUNDS + 1) * this.#config.gossipIntervalMs));
      // The released record is kept: a restart reclaims the subnet when nobody took it meanwhile.
      this.#save();
    }
    this.node.stop();
    this.replica.stop();
    await this.#transport.close();
  }

  #onChanges(changes: LeaseChange[]): void {
    const events: LeaseEvent[] = [];
    for (const ch of changes) {
      // A subnet still held (renewed, another holder, its IPv6 subnet changed) is one `added`, as etcd
      // reports a changed key: a `removed` first would tell the daemon its own lease was revoked.
      if (ch.after) events.push({ type: 'added', lease: this.#toLease(ch.after) });
      else if (ch.before) events.push({ type: 'removed', lease: this.#toLease(ch.before) });
    }
    if (this.replica.own !== this.#saved) this.#save();
    if (events.length === 0) return;
    for (const w of this.#watchers) {
      try {
        w(events);
      } catch (err) {
        this.#log?.('error', 'lease watcher threw', { error: (err as Error).message });
      }
    }
  }

  #toLease(r: LeaseRecord): Lease {
    const lease: Lease = {
      subnet: this.pool.format(r.subnet),
      publicIP: r.publicIP,
      backendType: BACKEND_CODES[r.backend] as BackendType,
      backendData: {},
      expiration: r.expiresAt,
    };
    if (r.vtepMac !== undefined) lease.backendData.VtepMAC = r.vtepMac;
    if (r.vni !== undefined) lease.backendData.VNI = r.vni;
    if (r.port !== undefined) lease.backendData.Port = r.port;
    // Only tulle hosts speak this protocol, and their datagrams always carry a UDP checksum: a receiver
    // need not verify the inner checksums again (as for a static peer with `udpChecksum: true`).
    if (lease.backendType !== 'host-gw') lease.backendData.UDPChecksum = true;
    if (r.publicIPv6 !== undefined) lease.publicIPv6 = r.publicIPv6;
    // Only while the claim holds it: two leases never name one IPv6 subnet, not even during a conflict.
    const ipv6Subnet = this.replica.ipv6SubnetOf(r);
    if (ipv6Subnet !== undefined) lease.ipv6Subnet = ipv6Subnet;
    return lease;
  }

  /** Our record from the host's state, if it kept one (a missing or unusable record is fine). */
  #restore(): void {
    const rec = this.#state?.storeRecord(STATE_KEY) as LeaseRecord | undefined;
    if (rec === undefined) return;
    if (!isOwnRecord(rec, this.hostId) || !this.pool.contains(rec.subnet) || !validIpv6Claim(rec)) {
      this.#log?.('warn', 'ignoring the saved gossip lease record: not ours, or outside the network; the peers remember our lease', {
        file: this.#state!.file,
      });
      return;
    }
    this.replica.restore(rec);
  }

  #save(): void {
    this.#saved = this.replica.own;
    if (this.#state && this.#saved) this.#state.saveStoreRecord(STATE_KEY, this.#saved);
  }
}

/** A record as #save wrote it, for this host: checked field by field, since the file may be old or edited. */
function isOwnRecord(r: LeaseRecord, hostId: string): boolean {
  return (
    typeof r === 'object' &&
    r !== null &&
    r.hostId === hostId &&
    Number.isInteger(r.subnet) &&
    Number.isFinite(r.claimedAt) &&
    Number.isInteger(r.version) &&
    Number.isFinite(r.expiresAt) &&
    typeof r.released === 'boolean' &&
    typeof r.publicIP === 'string' &&
    Number.isInteger(r.backend)
  );
}

/** The IPv6 claim of a saved record, if any, is whole: a subnet text and a claim time (the pool checks the subnet). */
function validIpv6Claim(r: LeaseRecord): boolean {
  if (r.ipv6ClaimedAt === undefined) return r.ipv6Subnet === undefined || typeof r.ipv6Subnet === 'string';
  return Number.isFinite(r.ipv6ClaimedAt) && typeof r.ipv6Subnet === 'string';
}

function resolveHostId(o: GossipStoreOptions): string {
  if (o.hostId !== undefined) {
    if (!HOST_ID.test(o.hostId)) throw new Error(`gossip hostId "${o.hostId}": must be 1–64 characters of A–Z a–z 0–9 . _ : -`);
    return o.hostId;
  }
  if (!o.state) throw new Error('gossip: give hostId, or state/stateDir (where a stable host id is kept)');
  return o.state.hostId();
}
