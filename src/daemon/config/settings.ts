/**
 * The settings that environment variables and flags can give, one row each:
 * the key path in the configuration, the variable, the flag, the kind of
 * value. The CLI builds its flags from this table and docs/config.md lists it.
 */
import { DEFAULT_BACKLOG_YIELD_US } from '../../engine/backlog-yield.js';

export type SettingKind = 'string' | 'int' | 'bool' | 'list';

export interface Setting {
  /** Dotted key path in the configuration. */
  path: string;
  env: string;
  /** Long flag without the dashes; undefined for secrets, which stay out of argv. */
  flag?: string;
  /** Other spellings of the flag (flannel's), accepted and documented but not shown in --help. */
  aliases?: string[];
  /** A flag that is refused with a message saying where the value goes instead (a secret in argv: flannel's --etcd-password). */
  refusedFlag?: string;
  kind: SettingKind;
  help: string;
  /** What applies when no source gives it, as `--help` shows it: the schema's default, or how it is found. */
  default?: string;
}

export const SETTINGS: readonly Setting[] = [
  { path: 'network', env: 'TULLE_NETWORK', flag: 'network', kind: 'string', help: 'overlay network (IPv4 CIDR)' },
  {
    path: 'subnetLen',
    env: 'TULLE_SUBNET_LEN',
    flag: 'subnet-len',
    kind: 'int',
    help: "prefix length of each host's subnet",
    default: '24, or the length of --subnet',
  },
  {
    path: 'subnetMin',
    env: 'TULLE_SUBNET_MIN',
    flag: 'subnet-min',
    kind: 'string',
    help: 'first subnet a host may lease',
    default: "the network's second subnet",
  },
  {
    path: 'subnetMax',
    env: 'TULLE_SUBNET_MAX',
    flag: 'subnet-max',
    kind: 'string',
    help: 'last subnet a host may lease',
    default: "the network's last subnet",
  },
  {
    path: 'subnet',
    env: 'TULLE_SUBNET',
    flag: 'subnet',
    kind: 'string',
    help: "this host's subnet (static store)",
    default: 'a free one, picked once and kept',
  },
  { path: 'backend.type', env: 'TULLE_BACKEND', flag: 'backend', kind: 'string', help: 'udp, vxlan or host-gw' },
  { path: 'backend.vni', env: 'TULLE_VNI', flag: 'vni', kind: 'int', help: 'VXLAN network identifier', default: '1' },
  {
    path: 'backend.port',
    env: 'TULLE_BACKEND_PORT',
    flag: 'backend-port',
    kind: 'int',
    help: 'network-wide UDP port of the backend',
    default: '8285 (udp), 4789 (vxlan)',
  },
  {
    path: 'underlay.address',
    env: 'TULLE_PUBLIC_IP',
    flag: 'public-ip',
    kind: 'string',
    help: "this host's underlay address",
    default: 'the address of --iface',
  },
  {
    path: 'underlay.interface',
    env: 'TULLE_IFACE',
    flag: 'iface',
    kind: 'string',
    help: 'underlay device (its address is used)',
    default: 'the device of the default route',
  },
  { path: 'underlay.port', env: 'TULLE_PORT', flag: 'port', kind: 'int', help: 'UDP port this host listens on', default: '--backend-port' },
  { path: 'tun.name', env: 'TULLE_TUN_NAME', flag: 'tun-name', kind: 'string', help: 'TUN device name', default: 'tulle0' },
  { path: 'tun.mtu', env: 'TULLE_MTU', flag: 'mtu', kind: 'int', help: 'overlay MTU', default: "the underlay device's MTU less the backend's overhead" },
  { path: 'store.type', env: 'TULLE_STORE', flag: 'store', kind: 'string', help: 'static, gossip or etcd', default: 'static' },
  { path: 'store.peers', env: 'TULLE_GOSSIP_PEERS', flag: 'gossip-peers', kind: 'list', help: 'gossip: members to join (comma-separated)', default: 'none' },
  { path: 'store.port', env: 'TULLE_GOSSIP_PORT', flag: 'gossip-port', kind: 'int', help: 'gossip: UDP port', default: '7946' },
  { path: 'store.key', env: 'TULLE_GOSSIP_KEY', kind: 'string', help: 'gossip: shared key (environment only)' },
  { path: 'store.keyFile', env: 'TULLE_GOSSIP_KEY_FILE', flag: 'gossip-key-file', kind: 'string', help: 'gossip: file holding the shared key' },
  { path: 'store.endpoints', env: 'TULLE_ETCD_ENDPOINTS', flag: 'etcd-endpoints', kind: 'list', help: 'etcd: client URLs (comma-separated)' },
  { path: 'store.prefix', env: 'TULLE_ETCD_PREFIX', flag: 'etcd-prefix', kind: 'string', help: 'etcd: key prefix', default: '/coreos.com/network' },
  {
    path: 'store.tls.caFile',
    env: 'TULLE_ETCD_CA_FILE',
    flag: 'etcd-ca-file',
    aliases: ['etcd-cafile'],
    kind: 'string',
    help: "etcd: CA of the server's certificate (PEM)",
    default: "the system's CAs",
  },
  {
    path: 'store.tls.certFile',
    env: 'TULLE_ETCD_CERT_FILE',
    flag: 'etcd-cert-file',
    aliases: ['etcd-certfile'],
    kind: 'string',
    help: 'etcd: client certificate (PEM)',
  },
  {
    path: 'store.tls.keyFile',
    env: 'TULLE_ETCD_KEY_FILE',
    flag: 'etcd-key-file',
    aliases: ['etcd-keyfile'],
    kind: 'string',
    help: 'etcd: key of the client certificate (PEM)',
  },
  { path: 'store.username', env: 'TULLE_ETCD_USERNAME', flag: 'etcd-username', kind: 'string', help: 'etcd: user name for etcd authentication' },
  { path: 'store.password', env: 'TULLE_ETCD_PASSWORD', refusedFlag: 'etcd-password', kind: 'string', help: 'etcd: password (environment only)' },
  { path: 'store.passwordFile', env: 'TULLE_ETCD_PASSWORD_FILE', flag: 'etcd-password-file', kind: 'string', help: 'etcd: file holding the password' },
  {
    path: 'stateDir',
    env: 'TULLE_STATE_DIR',
    flag: 'state-dir',
    kind: 'string',
    help: 'own lease, control socket, subnet.env',
    default: '/run/tulle, or /run/tulle/netns-<inode> in another network namespace',
  },
  { path: 'subnetFile', env: 'TULLE_SUBNET_FILE', flag: 'subnet-file', kind: 'string', help: 'where to write subnet.env', default: '<state dir>/subnet.env' },
  {
    path: 'dockerOptsFile',
    env: 'TULLE_DOCKER_OPTS_FILE',
    flag: 'docker-opts-file',
    kind: 'string',
    help: 'where to write Docker options (--bip, --mtu)',
    default: 'none: not written',
  },
  { path: 'ipMasq', env: 'TULLE_IP_MASQ', flag: 'ip-masq', kind: 'bool', help: 'masquerade traffic leaving the overlay', default: 'false' },
  {
    path: 'forwardAccept',
    env: 'TULLE_FORWARD_ACCEPT',
    flag: 'forward-accept',
    kind: 'bool',
    help: "accept the overlay's traffic in forward chains that drop by policy",
    default: 'true',
  },
  {
    path: 'metricsAddress',
    env: 'TULLE_METRICS_ADDRESS',
    flag: 'metrics-address',
    kind: 'string',
    help: 'serve /metrics and /healthz here (address:port)',
    default: 'none: not served',
  },
  {
    path: 'healthAddress',
    env: 'TULLE_HEALTH_ADDRESS',
    flag: 'health-address',
    kind: 'string',
    help: 'serve /healthz here (address:port, or off)',
    default: '127.0.0.1:9465',
  },
  {
    path: 'reconcileRoutes',
    env: 'TULLE_RECONCILE_ROUTES',
    flag: 'reconcile-routes',
    kind: 'string',
    help: 'foreign routes shadowing a lease: report, or replace (remove them)',
    default: 'report',
  },
  { path: 'logLevel', env: 'TULLE_LOG_LEVEL', flag: 'log-level', kind: 'string', help: 'fatal, error, warn, info, debug, trace, silent', default: 'info' },
  { path: 'batch', env: 'TULLE_BATCH', flag: 'batch', kind: 'int', help: 'packets per data-plane batch', default: '64' },
  { path: 'threads', env: 'TULLE_THREADS', flag: 'threads', kind: 'int', help: 'data-plane threads: 1 (both directions) or 2 (TX, RX)', default: '1' },
  {
    path: 'busyPollMicroseconds',
    env: 'TULLE_BUSY_POLL_MICROSECONDS',
    flag: 'busy-poll-microseconds',
    kind: 'int',
    help: 'low-latency mode: keep polling this long after the last packet before sleeping (0: off; costs CPU while packets flow)',
    default: '0',
  },
  {
    path: 'backlogYieldMicroseconds',
    env: 'TULLE_BACKLOG_YIELD_MICROSECONDS',
    flag: 'backlog-yield-microseconds',
    kind: 'int',
    help: 'while the TUN holds a backlog, offer the core to other threads at most this often (0: never)',
    default: String(DEFAULT_BACKLOG_YIELD_US),
  },
  {
    path: 'warmUp',
    env: 'TULLE_WARM_UP',
    flag: 'warm-up',
    kind: 'bool',
    help: 'run the data-plane code over loopback before start-up ends, so the first packets run compiled code',
    default: 'true',
  },
];

/**
 * A text value (from the environment or argv) as the kind the setting takes.
 * Text that does not convert is returned unchanged, so validation reports it
 * with the setting's own message.
 */
export function convert(kind: SettingKind, text: string): unknown {
  const trimmed = text.trim();
  switch (kind) {
    case 'int':
      return /^-?\d+$/.test(trimmed) ? Number(trimmed) : text;
    case 'bool':
      if (/^(true|1|yes|on)$/i.test(trimmed)) return true;
      if (/^(false|0|no|off)$/i.test(trimmed)) return false;
      return text;
    case 'list':
      return trimmed === '' ? [] : trimmed.split(',').map((s) => s.trim());
    default:
      return text;
  }
}

/** camelCase of a flag: "subnet-len" → "subnetLen" (what commander names the option). */
export function flagKey(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
