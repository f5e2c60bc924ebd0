/**
 * The daemon's configuration: its shape, its defaults (each with a unit and
 * why) and the message each field gives when it is wrong. Structure only;
 * checks across fields are in checks.ts, checks against the host in
 * host-checks.ts. Every object is strict, so a misspelt key is an error
 * that lists the keys allowed there.
 */
import { z } from 'zod';
import * as wire from '@tulle/wire';
import { parseCidr, parseCidr4 } from '../../util/cidr.js';
import { MAX_IPV6_SUBNET_LEN } from '../../gossip/subnet-pool6.js';
import { DEFAULT_BACKLOG_YIELD_US } from '../../engine/backlog-yield.js';

/** A strict object whose unknown keys are reported with the keys allowed. */
function object<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === 'unrecognized_keys') return `unknown key; allowed here: ${allowed}`;
      if (issue.code === 'invalid_type') return `must be a mapping with the keys ${allowed}`;
      return undefined;
    },
  });
}

export function int(min: number, max: number, what = 'an integer') {
  const message = `must be ${what} from ${min} to ${max}`;
  return z.number({ error: message }).int(message).min(min, message).max(max, message);
}

const text = (what: string) => z.string({ error: `must be ${what}` }).min(1, `must be ${what}`);

export const cidr4 = z.string({ error: 'must be an IPv4 CIDR like 198.18.0.0/16' }).superRefine((value, ctx) => {
  try {
    parseCidr4(value);
  } catch (error) {
    const hostBits = /the network is (\S+)/.exec((error as Error).message);
    ctx.addIssue({
      code: 'custom',
      message: hostBits ? `has host bits set; the network would be ${hostBits[1]}` : 'must be an IPv4 CIDR like 198.18.0.0/16 (prefix length 0 to 32)',
    });
  }
});
export const cidr6 = z.string({ error: 'must be an IPv6 CIDR like 2001:db8:18::/48' }).superRefine((value, ctx) => {
  let family: 4 | 6 | undefined;
  let message: string | undefined;
  try {
    family = parseCidr(value).family;
  } catch (error) {
    message = (error as Error).message;
  }
  const hostBits = message === undefined ? null : /the network is (\S+)/.exec(message);
  if (family !== 6)
    ctx.addIssue({
      code: 'custom',
      message: hostBits ? `has host bits set; the network would be ${hostBits[1]}` : 'must be an IPv6 CIDR like 2001:db8:18::/48 (prefix length 0 to 128)',
    });
});
export const ipv4 = z.string({ error: 'must be an IPv4 address like 198.18.1.0' }).refine(wire.isIPv4, 'must be an IPv4 address like 198.18.1.0');
export const address = z
  .string({ error: 'must be an IPv4 or IPv6 address' })
  .refine((v) => wire.isIPv4(v) || wire.isIPv6(v), 'must be an IPv4 or IPv6 address');
export const port = int(1, 65535, 'a UDP/TCP port');
export const mac = z
  .string({ error: 'must be a MAC address like 02:00:5e:00:53:01' })
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'must be a MAC address like 02:00:5e:00:53:01')
  .refine((m) => (parseInt(m.slice(0, 2), 16) & 1) === 0, 'must be a unicast MAC (lowest bit of the first byte clear)');
/** "host:port" with an IPv4 address or a bracketed IPv6 one. */
export const hostPort = z
  .string({ error: 'must be address:port like 127.0.0.1:9464' })
  .refine((v) => parseHostPort(v) !== undefined, 'must be address:port like 127.0.0.1:9464 or [::1]:9464');

export const hostPortOrOff = z
  .string({ error: 'must be address:port like 127.0.0.1:9465, or off' })
  .refine((v) => v === 'off' || parseHostPort(v) !== undefined, 'must be address:port like 127.0.0.1:9465 or [::1]:9465, or off');

export function parseHostPort(value: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  if (m === null) return undefined;
  const host = m[1] ?? m[2];
  const portNumber = Number(m[3]);
  if (!(m[1] !== undefined ? wire.isIPv6(host) : wire.isIPv4(host)) || portNumber < 1 || portNumber > 65535) return undefined;
  return { host, port: portNumber };
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const backend = z.discriminatedUnion(
  'type',
  [
    object({
      type: z.literal('udp'),
      /** Network-wide UDP port (flannel's Backend.Port): a peer whose lease names none listens here. Default 8285 (flannel). */
      port: port.optional(),
    }),
    object({
      type: z.literal('vxlan'),
      /** VXLAN network identifier, 24 bits; 1 is flannel's. */
      vni: int(0, wire.vxlan.MAX_VNI).default(wire.vxlan.DEFAULT_VNI),
      /** Network-wide UDP port; default 4789 (RFC 7348). flannel's vxlan uses 8472. */
      port: port.optional(),
      /** Own VTEP MAC; by default one is made up once and kept in the state dir. */
      mac: mac.optional(),
      /** Peers on a shared segment get a kernel route instead of vxlan (flannel's DirectRouting); default: the store's, else off. */
      directRouting: z.boolean({ error: 'must be true or false' }).optional(),
    }),
    object({ type: z.literal('host-gw') }),
  ],
  { error: 'must be one of udp, vxlan, host-gw' },
);

const staticPeer = object({
  subnet: cidr4,
  /** The peer's IPv6 subnet in a dual-stack overlay. */
  ipv6Subnet: cidr6.optional(),
  address,
  /** The peer's UDP port when it is not the network's. */
  port: port.optional(),
  /** The peer's VTEP MAC (vxlan). */
  mac: mac.optional(),
  /** The peer is a tulle host: its datagrams always carry a UDP checksum, so inner checksums are not verified again. */
  udpChecksum: z.boolean({ error: 'must be true or false' }).optional(),
});

const store = z.discriminatedUnion(
  'type',
  [
    /** Leases from this file: own `subnet` (or one picked and kept) and the `peers` list. */
    object({ type: z.literal('static') }),
    object({
      type: z.literal('gossip'),
      /** UDP port the gossip peer listens on (memberlist's 7946). */
      port: port.default(7946),
      /** Where to find the cluster: address or address:port of one or more running members. */
      peers: z.array(text('an address or address:port'), { error: 'must be a list of addresses' }).default([]),
      /** Shared key, hex (32+ digits) or base64 (16+ bytes): every message is authenticated with it. */
      key: z.string({ error: 'must be a string (hex or base64)' }).optional(),
      /** A file holding the key instead, so it stays out of the configuration; one key per line makes a keyring (the first signs, all verify). */
      keyFile: text('a file path').optional(),
      /** Cluster label, bound into every message: two clusters sharing a key stay apart. */
      label: text('a cluster label').max(128, 'must be a cluster label of at most 128 characters').default('tulle'),
      /** Timing preset: lan (memberlist's LAN defaults) or local (loopback and labs: faster). */
      preset: z.enum(['lan', 'local'], { error: 'must be lan or local' }).default('lan'),
      /** The preset's protocol period and probe timeout, ms, overridden (more probes: finer path health, more traffic). */
      probeIntervalMs: int(20, 60_000, 'a number of ms').optional(),
      probeTimeoutMs: int(10, 60_000, 'a number of ms').optional(),
    }),
    object({
      type: z.literal('etcd'),
      /** etcd client URLs, e.g. http://192.0.2.10:2379. */
      endpoints: z
        .array(
          z.string({ error: 'must be a URL like http://192.0.2.10:2379' }).regex(/^https?:\/\/[^/\s]+(:\d+)?\/?$/, 'must be a URL like http://192.0.2.10:2379'),
          { error: 'must be a list of URLs' },
        )
        .min(1, 'must list at least one endpoint'),
      /** flannel's key prefix. */
      prefix: z
        .string({ error: 'must be a key prefix like /coreos.com/network' })
        .regex(/^\/\S*[^/]$/, 'must be a key prefix like /coreos.com/network (leading /, no trailing /)')
        .default('/coreos.com/network'),
      /** Lease TTL, seconds: flannel's 24 h by default; renewed an hour (at most half the TTL) before it runs out. */
      ttlSeconds: int(2, 30 * 24 * 3600, 'a number of seconds').optional(),
      /** TLS to etcd (https:// endpoints): the CA that signed etcd's certificate, and a client certificate and key. Read again on SIGHUP. */
      tls: object({ caFile: text('a file path').optional(), certFile: text('a file path').optional(), keyFile: text('a file path').optional() }).optional(),
      /** etcd's own authentication: a user, and its password from a file or TULLE_ETCD_PASSWORD (never a flag). */
      username: text('a user name').optional(),
      password: z.string({ error: 'must be a string' }).min(1, 'must not be empty').optional(),
      passwordFile: text('a file path').optional(),
    }),
  ],
  { error: 'must be one of static, gossip, etcd' },
);

const flag = (on: boolean) => z.boolean({ error: 'must be true or false' }).default(on);
const offloads = object({
  tun: flag(true),
  udpGso: flag(true),
  udpGro: flag(true),
  udpTunnelGso: z.union([z.boolean(), z.literal('auto')], { error: 'must be true, false or "auto"' }).default('auto'),
  uso: flag(true),
});

export const DaemonConfigSchema = object({
  /** The overlay network. Required, except with the etcd store, which holds it (flannel's config key). */
  network: cidr4.optional(),
  /** Prefix length of each host's subnet; default: that of `subnet` when given, else 24 (flannel). */
  subnetLen: int(1, 32).optional(),
  /** First and last subnet a host may lease; default: the network's second and last subnets (flannel). */
  subnetMin: ipv4.optional(),
  subnetMax: ipv4.optional(),
  backend,
  underlay: object({
    /** This host's underlay address (flannel's public IP); default: the address of `interface`. */
    address: address.optional(),
    /** The underlay device (flannel's --iface); default: the device of the default route. */
    interface: text('an interface name').max(15, 'must be an interface name (at most 15 characters)').optional(),
    /** The UDP port this host listens on; default: `backend.port`, else the backend's default. */
    port: port.optional(),
  }).default({}),
  tun: object({
    /** TUN device name (IFNAMSIZ: at most 15 characters). */
    name: text('an interface name')
      .max(15, 'must be an interface name (at most 15 characters)')
      .regex(/^[A-Za-z0-9_.-]+$/, 'must be an interface name (letters, digits, _ . -)')
      .default('tulle0'),
    /** Overlay MTU in bytes; default: the underlay device's MTU less the backend's overhead. */
    mtu: int(68, 65535).optional(),
  }).default({ name: 'tulle0' }),
  /** Static store: this host's subnet. Without it the host picks a free one and keeps it in the state dir. */
  subnet: cidr4.optional(),
  /** Static store: the other hosts and their subnets. */
  peers: z.array(staticPeer, { error: 'must be a list of { subnet, ipv6Subnet?, address, port?, mac? }' }).default([]),
  /** A dual-stack overlay: the IPv6 network, and (static store) this host's IPv6 subnet in it. */
  ipv6Network: cidr6.optional(),
  ipv6Subnet: cidr6.optional(),
  /** Gossip store: prefix length of the IPv6 subnet each host leases in ipv6Network; default 64 (flannel). */
  ipv6SubnetLen: int(1, MAX_IPV6_SUBNET_LEN).optional(),
  /** Where leases come from. */
  store: store.default({ type: 'static' }),
  /** Own lease (subnet, VTEP MAC), control socket, subnet.env. Default /run/tulle (see state-dir.ts). */
  stateDir: text('a directory path').optional(),
  /** flannel's subnet.env; default <stateDir>/subnet.env. */
  subnetFile: text('a file path').optional(),
  /** Docker options (--bip, --mtu) as flannel's mk-docker-opts.sh writes them; not written unless set. */
  dockerOptsFile: text('a file path').optional(),
  /** Masquerade traffic from the overlay that leaves it (nftables table `ip tulle`). */
  ipMasq: z.boolean({ error: 'must be true or false' }).default(false),
  /** Accept forwarded packets from and to the overlay in forward chains that drop by policy (Docker's FORWARD DROP). */
  forwardAccept: z.boolean({ error: 'must be true or false' }).default(true),
  /** Per-peer path health (path-health/): the probe port and rates, and how many peers /metrics labels. */
  pathHealth: object({
    /** UDP port of the path probe on the underlay address, the same on every host; every host answers probes there. */
    port: port.default(7947),
    /** Echo probes (etcd and static stores), ms between two to each peer: 1000 costs 44 bytes a second each way per peer. */
    intervalMs: int(20, 60_000, 'a number of ms').default(1000),
    /** Path MTU rounds, ms between two per peer (one probe of the MTU in use each). */
    mtuIntervalMs: int(1000, 3_600_000, 'a number of ms').default(30_000),
    /** Peers with a `peer` label of their own in /metrics; the rest are folded into peer="other". */
    metricsPeers: int(1, 100_000).default(256),
  }).default({ port: 7947, intervalMs: 1000, mtuIntervalMs: 30_000, metricsPeers: 256 }),
  /** Where /metrics and /healthz are served (address:port); off unless set. */
  metricsAddress: hostPort.optional(),
  /** Where /healthz alone is served (address:port, or "off"); default 127.0.0.1:9465 (health-server.ts). */
  healthAddress: hostPortOrOff.optional(),
  /**
   * Foreign routes into the overlay that shadow a lease (route-audit.ts): `report` logs them and lists them in
   * `tulle status` and /metrics; `replace` removes them as well. tulle's own routes are put right either way.
   */
  reconcileRoutes: z.enum(['report', 'replace'], { error: 'must be report or replace' }).default('report'),
  logLevel: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  /** Packets per data-plane batch. */
  batch: int(1, 256).default(64),
  /**
   * Data-plane threads: 1 serves both directions (no hand-over between threads within a host), 2 runs
   * TX and RX apart, so each direction can have a core of its own.
   */
  threads: z.union([z.literal(1), z.literal(2)], { error: 'must be 1 or 2' }).default(1),
  /** threads 2: the RX thread sends the replies its TUN writes provoke: one thread wake-up less per round trip. */
  replyInline: z.boolean({ error: 'must be true or false' }).default(true),
  /**
   * The low-latency mode: a data-plane thread keeps polling its TUN and socket this many microseconds after the
   * last packet it saw before it sleeps again, so a packet that arrives meanwhile costs no wake-up. 0 (the
   * default) is off. It yields the core between polls; what it costs is in docs/config.md.
   */
  busyPollMicroseconds: int(0, 1_000_000, 'microseconds').default(0),
  /**
   * Before start-up ends, each data-plane thread runs its own code over loopback stand-ins for a few hundred
   * milliseconds at most, so the first real packets run compiled code (src/engine/warm-up.ts).
   */
  warmUp: z.boolean({ error: 'must be true or false' }).default(true),
  /**
   * While a data-plane thread's TUN reads come back full (an application sends faster than tulle forwards),
   * it offers its core to other runnable threads at most once per this many microseconds (src/engine/backlog-yield.ts).
   * 0 never yields.
   */
  backlogYieldMicroseconds: int(0, 1_000_000, 'microseconds').default(DEFAULT_BACKLOG_YIELD_US),
  /** Each offload is used when the kernel has it, unless turned off here (udpTunnelGso: see docs/config.md). */
  offloads: offloads.default({ tun: true, udpGso: true, udpGro: true, udpTunnelGso: 'auto', uso: true }),
});

export type DaemonConfig = z.infer<typeof DaemonConfigSchema>;
export type BackendConfig = DaemonConfig['backend'];
export type StoreConfig = DaemonConfig['store'];
export type StaticPeer = DaemonConfig['peers'][number];
