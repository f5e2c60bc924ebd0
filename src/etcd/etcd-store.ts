/**
 * The etcd lease store: flannel's key layout in an etcd v3 cluster, so tulle
 * hosts and flannel hosts can share one network (docs/etcd.md).
 *
 *   const store = await EtcdStore.open({ endpoints: ['http://127.0.0.1:2379'], log });
 *   const config = await store.networkConfig();
 *   const own = await store.acquire({ publicIP: '192.0.2.1', backendType: 'vxlan', backendData: { VNI: 1, VtepMAC } });
 *   const stop = store.watch((batch) => table.apply(batch));
 *
 * etcd going away is an ordinary state: calls wait and retry with backoff,
 * watches report nothing until etcd is back (no lease is removed for want of
 * etcd), the own lease is renewed (or re-created on the same subnet) as soon
 * as etcd answers again, and each change of state is one log line.
 */
import type { Etcd3 } from 'etcd3';
import type { Lease, LeaseAttrs, LeaseEvent, LeaseStore } from '../lease/lease.js';
import type { StoreHealthReport } from '../lease/store-health.js';
import * as wire from '@tulle/wire';
import { Connection, PermanentError, StoreClosedError, type ConnectionState } from './connection.js';
import { connectEtcd, describeError } from './etcd-client.js';
import { explainFailure } from './credential-failure.js';
import { CredentialsError, hasCredentials, readCredentials, usesTls, type EtcdCredentialSources, type EtcdCredentials } from './tls-files.js';
import { BACKEND_TYPES, NetworkConfigError, parseNetworkConfig, type FlannelNetworkConfig } from './flannel-config.js';
import { LeaseKeeper } from './lease-keeper.js';
import { EtcdRegistry } from './etcd-registry.js';
import { DEFAULT_PREFIX } from './registry.js';
import { SubnetWatch, type WatchCounters } from './subnet-watch.js';
import { show } from './json-fields.js';

export interface EtcdStoreOptions {
  /** etcd client URLs, e.g. ["http://127.0.0.1:2379"] (flannel's --etcd-endpoints). */
  endpoints: string[];
  /** Key prefix (flannel's --etcd-prefix). */
  prefix?: string;
  /** TLS files and etcd's user name and password (tls-files.ts); read at open() and again by reloadCredentials(). */
  credentials?: EtcdCredentialSources;
  /** TTL of the own lease, seconds. */
  ttlSeconds?: number;
  /** Renew this long before the lease runs out, seconds (capped at half the TTL). */
  renewMarginSeconds?: number;
  /** The subnet this host had before (e.g. from its state dir): taken again if free (flannel's subnet.env fallback). */
  previousSubnet?: string;
  /** Deadline of each etcd call, ms. */
  callTimeoutMs?: number;
  /** How often etcd is pinged to notice an outage and the recovery, ms. */
  pingIntervalMs?: number;
  /** First and longest wait between retries while etcd is away, ms. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** One line per event: acquired, renewed, etcd unreachable, back, watch resumed, malformed lease… */
  log?: (line: string) => void;
  /** Picks among free subnets; [0, 1). */
  random?: () => number;
  /** Called when another host holds our subnet by the time we renew (the daemon should stop routing it). */
  onLeaseLost?: (lease: Lease) => void;
}

export const ETCD_DEFAULTS = {
  prefix: DEFAULT_PREFIX, // flannel's --etcd-prefix
  ttlSeconds: 24 * 3600, // flannel's subnetTTL: 24 h
  renewMarginSeconds: 3600, // flannel's --subnet-lease-renew-margin: 60 min
  callTimeoutMs: 5000, // one etcd round trip is ~1 ms on a LAN; 5 s means the server is not answering
  pingIntervalMs: 5000, // an outage or a recovery is noticed within ~5 s even when idle
  retryInitialMs: 200, // backoff while etcd is away: 200 ms doubling…
  retryMaxMs: 5000, // …to 5 s, flannel's watch backoff cap
} as const;

/** etcd refuses leases shorter than its minimum (1.5 × election timeout, 2 s by default). */
const MIN_TTL_SECONDS = 2;
/** The Linux vxlan default port, which flannel's vxlan backend uses unless told otherwise. */
const FLANNEL_VXLAN_PORT = 8472;

export class EtcdStore implements LeaseStore {
  #client: Etcd3;
  #credentials: EtcdCredentials;
  readonly #registry: EtcdRegistry;
  readonly #connection: Connection;
  readonly #watches = new Set<SubnetWatch>();
  readonly #counters: WatchCounters = { malformed: 0, reconnects: 0, resyncs: 0 };
  readonly #log: (line: string) => void;
  #keeper: LeaseKeeper | undefined;
  #acquiring = false;

  private constructor(
    private readonly o: Required<Omit<EtcdStoreOptions, 'previousSubnet' | 'onLeaseLost' | 'credentials'>> &
      Pick<EtcdStoreOptions, 'previousSubnet' | 'onLeaseLost' | 'credentials'>,
    credentials: EtcdCredentials,
  ) {
    this.#log = o.log;
    this.#credentials = credentials;
    this.#client = connectEtcd({ endpoints: o.endpoints, callTimeoutMs: o.callTimeoutMs, credentials });
    this.#registry = new EtcdRegistry(this.#client, o.prefix);
    this.#connection = new Connection({
      endpoints: o.endpoints,
      log: o.log,
      pingIntervalMs: o.pingIntervalMs,
      retryInitialMs: o.retryInitialMs,
      retryMaxMs: o.retryMaxMs,
      random: o.random,
      ping: () => this.#registry.ping(),
      explain: (error) => this.#explain(error, this.#credentials),
    });
    this.#connection.start();
  }

  /**
   * Checks the options and starts talking to etcd. It does not wait for etcd:
   * a host may start while etcd is away; networkConfig() and acquire() wait.
   */
  static async open(options: EtcdStoreOptions): Promise<EtcdStore> {
    const o = { ...ETCD_DEFAULTS, log: () => {}, random: Math.random, ...withoutUndefined(options) };
    const problems: string[] = [];
    const bad = (field: string, value: unknown, allowed: string) => problems.push(`${field}: ${show(value)} is not allowed; allowed: ${allowed}`);
    if (!Array.isArray(o.endpoints) || o.endpoints.length === 0) bad('endpoints', o.endpoints, 'one or more etcd client URLs like "http://127.0.0.1:2379"');
    else
      o.endpoints.forEach((e, i) => {
        if (typeof e !== 'string' || !/^(https?:\/\/)?[^/\s]+:\d{1,5}\/?$/.test(e))
          bad(`endpoints[${i}]`, e, 'an etcd client URL like "http://127.0.0.1:2379"');
        else if (usesTls(o.credentials ?? {}) && !e.startsWith('https://')) bad(`endpoints[${i}]`, e, HTTPS_WITH_TLS);
      });
    if (Array.isArray(o.endpoints) && new Set(o.endpoints.map((e) => String(e).startsWith('https://'))).size > 1) bad('endpoints', o.endpoints, MIXED_SCHEMES);
    if (typeof o.prefix !== 'string' || !o.prefix.startsWith('/') || o.prefix.replace(/\/+$/, '') === '')
      bad('prefix', o.prefix, 'a key prefix like "/coreos.com/network"');
    if (!Number.isInteger(o.ttlSeconds) || o.ttlSeconds < MIN_TTL_SECONDS)
      bad('ttlSeconds', o.ttlSeconds, `an integer number of seconds, at least ${MIN_TTL_SECONDS}`);
    for (const key of ['renewMarginSeconds', 'callTimeoutMs', 'pingIntervalMs', 'retryInitialMs', 'retryMaxMs'] as const) {
      if (typeof o[key] !== 'number' || !(o[key] > 0)) bad(key, o[key], 'a positive number');
    }
    if (o.previousSubnet !== undefined && (typeof o.previousSubnet !== 'string' || !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(o.previousSubnet))) {
      bad('previousSubnet', o.previousSubnet, 'an IPv4 subnet like "198.18.1.0/24"');
    }
    if (problems.length > 0) throw new EtcdOptionsError(problems);
    const read = readCredentials(o.credentials ?? {});
    if (read.problems.length > 0) throw new CredentialsError(read.problems);
    // A margin of half the TTL or more would renew continuously.
    o.renewMarginSeconds = Math.min(o.renewMarginSeconds, o.ttlSeconds / 2);
    return new EtcdStore(o, read.credentials);
  }

  /**
   * SIGHUP: reads the credential files again and, when etcd takes them, goes on with a new client. The own
   * lease is kept (its etcd lease ID does not belong to a connection) and the watches resume from the
   * revision they had. New files that are invalid, or that etcd refuses, leave the running client as it
   * is; the error says why. When etcd cannot be reached to try them, files that pass the checks are taken.
   */
  async reloadCredentials(): Promise<string> {
    this.#checkOpen();
    if (!hasCredentials(this.o.credentials ?? {})) return 'etcd credentials: none configured';
    const read = readCredentials(this.o.credentials ?? {});
    if (read.problems.length > 0) throw new CredentialsError(read.problems);
    const client = connectEtcd({ endpoints: this.o.endpoints, callTimeoutMs: this.o.callTimeoutMs, credentials: read.credentials });
    let tried = 'etcd took them';
    try {
      await new EtcdRegistry(client, this.o.prefix).ping();
    } catch (error) {
      const why = await this.#explain(error, read.credentials);
      if (why !== undefined) {
        client.close();
        throw new Error(`the new etcd credentials are refused, the running connection stays: ${why}`, { cause: error });
      }
      tried = `etcd not reached to try them (${describeError(error)}); taken as they passed the checks`;
    }
    if (this.#connection.closed) {
      client.close();
      throw new StoreClosedError();
    }
    const old = this.#client;
    this.#client = client;
    this.#credentials = read.credentials;
    this.#registry.client = client;
    for (const watch of this.#watches) watch.restart();
    // Calls under way on the old client end within their deadline; then it goes.
    setTimeout(() => old.close(), this.o.callTimeoutMs).unref();
    const expires = read.credentials.certExpires !== undefined ? `, client certificate valid until ${read.credentials.certExpires.toISOString()}` : '';
    return `etcd credentials reloaded (${tried}${expires})`;
  }

  /** Reachability as last seen: 'connecting' until the first answer. */
  get state(): ConnectionState {
    return this.#connection.state;
  }

  /**
   * For /healthz and `tulle status` (src/daemon/store-hooks.ts). Unreachable is degraded, not failing: the
   * daemon forwards on the leases it last knew, as flannel does, until its own lease would run out.
   */
  health(): StoreHealthReport {
    const c = this.#connection;
    const since = new Date(c.since).toISOString();
    const where = this.o.endpoints.join(', ');
    switch (c.state) {
      case 'up':
        return { state: 'ok', since, detail: `etcd connected (${where})` };
      case 'connecting':
        return { state: 'degraded', since, detail: `etcd not reached yet (${where})` };
      default:
        return { state: 'degraded', since, detail: `etcd unreachable since ${since}: ${c.lastError ?? 'no answer'}` };
    }
  }

  /** Counts since open(): refused lease values, watch reconnects, resyncs. */
  get counters(): Readonly<WatchCounters> {
    return { ...this.#counters };
  }

  /** The own lease with its current expiration, once acquired. */
  get ownLease(): Lease | undefined {
    return this.#keeper?.lease;
  }

  /** Reads and checks `<prefix>/config`, waiting while etcd is away. Throws NetworkConfigError when it is missing or invalid. */
  async networkConfig(): Promise<FlannelNetworkConfig> {
    this.#checkOpen();
    const key = this.#registry.keys.configKey;
    const text = await this.#connection.retry(() => this.#registry.getConfig());
    if (text === undefined) {
      throw new NetworkConfigError(key, [
        `the key is missing; allowed: a flannel network config, written with e.g. etcdctl put ${key} '{"Network":"198.18.0.0/16","Backend":{"Type":"vxlan"}}'`,
      ]);
    }
    const config = parseNetworkConfig(text, key);
    // flannel's vxlan leaves the port to Linux (8472) when Backend.Port is unset; its udp backend uses 8285.
    const port =
      config.backend.port ?? (config.backend.type === 'vxlan' ? FLANNEL_VXLAN_PORT : config.backend.type === 'udp' ? wire.udpBackend.PORT : undefined);
    return {
      ...config,
      ...(port !== undefined ? { backendPort: port } : {}),
      ...(config.backend.type === 'vxlan' ? { backendVni: config.backend.vni ?? 1 } : {}),
      ...(config.backend.type === 'vxlan' && config.backend.directRouting !== undefined ? { backendDirectRouting: config.backend.directRouting } : {}),
    };
  }

  async acquire(attrs: LeaseAttrs): Promise<Lease> {
    this.#checkOpen();
    if (this.#keeper !== undefined || this.#acquiring) throw new PermanentError('acquire() was already called on this store');
    const config = await this.networkConfig();
    checkAttrs(attrs, config);
    this.#acquiring = true;
    try {
      this.#keeper = await LeaseKeeper.acquire({
        registry: this.#registry,
        connection: this.#connection,
        config,
        attrs,
        ttlSeconds: this.o.ttlSeconds,
        renewMarginSeconds: this.o.renewMarginSeconds,
        previousSubnet: attrs.previousSubnet ?? this.o.previousSubnet,
        ...(attrs.previousIpv6Subnet !== undefined ? { previousIpv6Subnet: attrs.previousIpv6Subnet } : {}),
        random: this.o.random,
        log: this.#log,
        onLost: this.o.onLeaseLost,
      });
    } finally {
      this.#acquiring = false;
    }
    return this.#keeper.lease;
  }

  watch(onBatch: (events: LeaseEvent[]) => void): () => void {
    this.#checkOpen();
    const watch = new SubnetWatch({
      registry: this.#registry,
      connection: this.#connection,
      counters: this.#counters,
      onBatch,
      log: this.#log,
      fallbackTtlSeconds: this.o.ttlSeconds,
      retryInitialMs: this.o.retryInitialMs,
      retryMaxMs: this.o.retryMaxMs,
    });
    this.#watches.add(watch);
    return () => {
      watch.stop();
      this.#watches.delete(watch);
    };
  }

  async close(options: { release?: boolean } = {}): Promise<void> {
    if (this.#connection.closed) return;
    for (const watch of this.#watches) watch.stop();
    this.#watches.clear();
    try {
      await this.#keeper?.stop(options.release === true);
    } catch (error) {
      this.#log(`etcd: could not release ${this.#keeper?.lease.subnet}: ${describeError(error)}; it will expire`);
    }
    this.#connection.close();
    this.#client.close();
  }

  #explain(error: unknown, credentials: EtcdCredentials): Promise<string | undefined> {
    return explainFailure(error, { endpoints: this.o.endpoints, sources: this.o.credentials ?? {}, credentials, prefix: this.o.prefix });
  }

  #checkOpen(): void {
    if (this.#connection.closed) throw new StoreClosedError();
  }
}

/** What an http:// endpoint gets when TLS files are given, here and in `tulle config check` (src/daemon/config/checks.ts). */
export const HTTPS_WITH_TLS = 'an https:// URL: store.tls is set, and the certificates are only used over TLS';
export const MIXED_SCHEMES = 'all http:// or all https:// URLs (one client speaks TLS to every endpoint or to none)';

export class EtcdOptionsError extends PermanentError {
  constructor(readonly problems: string[]) {
    super(`invalid etcd store options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'EtcdOptionsError';
  }
}

/** The attributes must make a lease that other hosts can use (and that this store would read back). */
function checkAttrs(attrs: LeaseAttrs, config: FlannelNetworkConfig): void {
  const problems: string[] = [];
  const bad = (field: string, value: unknown, allowed: string) => problems.push(`${field}: ${show(value)} is not allowed; allowed: ${allowed}`);
  if (typeof attrs.publicIP !== 'string' || !wire.isIPv4(attrs.publicIP) || attrs.publicIP === '0.0.0.0')
    bad('publicIP', attrs.publicIP, 'the host\'s IPv4 underlay address, like "192.0.2.1"');
  if (attrs.publicIPv6 !== undefined && (typeof attrs.publicIPv6 !== 'string' || !wire.isIPv6(attrs.publicIPv6)))
    bad('publicIPv6', attrs.publicIPv6, 'an IPv6 address or nothing');
  if (!(BACKEND_TYPES as readonly string[]).includes(attrs.backendType)) bad('backendType', attrs.backendType, BACKEND_TYPES.join(', '));
  else if (attrs.backendType !== config.backendType) bad('backendType', attrs.backendType, `"${config.backendType}", the network's Backend.Type`);
  const d = attrs.backendData ?? {};
  if (attrs.backendType === 'vxlan' && (typeof d.VtepMAC !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(d.VtepMAC)))
    bad('backendData.VtepMAC', d.VtepMAC, 'the VTEP MAC, like "02:00:5e:00:53:01"');
  if (d.VNI !== undefined && (!Number.isInteger(d.VNI) || d.VNI < 0 || d.VNI > 0xffffff)) bad('backendData.VNI', d.VNI, '0..16777215');
  if (d.Port !== undefined && (!Number.isInteger(d.Port) || d.Port < 1 || d.Port > 65535)) bad('backendData.Port', d.Port, '1..65535');
  // flannel hosts of a dual-stack network read every lease's IPv6 half: without these they would drop the lease.
  if (config.ipv6 !== undefined) {
    if (attrs.publicIPv6 === undefined)
      bad('publicIPv6', attrs.publicIPv6, `the host's IPv6 underlay address: the network ${config.network} is dual-stack (EnableIPv6)`);
    if (attrs.backendType === 'vxlan' && typeof attrs.ipv6BackendData?.VtepMAC !== 'string')
      bad('ipv6BackendData.VtepMAC', attrs.ipv6BackendData?.VtepMAC, "the IPv6 VTEP's MAC: flannel's vxlan hosts read it from BackendV6Data");
  }
  if (problems.length > 0) throw new PermanentError(`invalid lease attributes:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}

function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
