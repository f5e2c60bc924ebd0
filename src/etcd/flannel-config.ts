/**
 * flannel's network configuration (the `<prefix>/config` key), read and
 * written as flannel reads and writes it (pkg/subnet/config.go): the same
 * keys, the same defaults (SubnetLen 24 or network+2; SubnetMin the second
 * subnet, SubnetMax the last; backend `udp` when `Backend` is absent) and the
 * same checks, plus strictness flannel lacks: unknown keys, wrong types and
 * misaligned or inverted ranges are errors. A dual-stack network
 * (EnableIPv6) adds flannel's IPv6 fields (ipv6-range.ts). Pure: no I/O.
 */
import type { BackendType, Ipv6Range, NetworkConfig } from '../lease/lease.js';
import { parseCidr4, prefixMask } from '../util/cidr.js';
import * as wire from '@tulle/wire';
import { Fields, isObject, show } from './json-fields.js';
import { checkIpv6Range, ipv6RangeJson } from './ipv6-range.js';

/** The backend section. Options tulle does not use (GBP, DirectRouting…) are kept so nothing is lost. */
export interface BackendConfig {
  type: BackendType;
  /** vxlan: the VNI; flannel's default is 1. */
  vni?: number;
  /** The UDP port; unset means the backend's default (udp 8285, vxlan 8472 in flannel, 4789 in Linux). */
  port?: number;
  gbp?: boolean;
  directRouting?: boolean;
  learning?: boolean;
  mtu?: number;
  macPrefix?: string;
}

/** The network as the store serves it: flannel's fields with every default filled in. */
export interface FlannelNetworkConfig extends NetworkConfig {
  backend: BackendConfig;
}

/** What a tool writes; unset fields get flannel's defaults. */
export interface NetworkConfigInput {
  network: string;
  subnetLen?: number;
  subnetMin?: string;
  subnetMax?: string;
  /** Default `{ type: 'vxlan' }` (flannel's documented default; it is always written out). */
  backend?: BackendConfig;
  /** A dual-stack network: EnableIPv6 with this IPv6Network (and, unset, flannel's defaults for the rest). */
  ipv6?: { network: string; subnetLen?: number; subnetMin?: string; subnetMax?: string };
}

export class NetworkConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid network config in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'NetworkConfigError';
  }
}

export const BACKEND_TYPES: readonly BackendType[] = ['udp', 'vxlan', 'host-gw'];

const TOP_KEYS = [
  'Network',
  'SubnetLen',
  'SubnetMin',
  'SubnetMax',
  'Backend',
  'EnableIPv4',
  'EnableIPv6',
  'EnableNFTables',
  'IPv6Network',
  'IPv6SubnetLen',
  'IPv6SubnetMin',
  'IPv6SubnetMax',
] as const;

/** Backend keys flannel's backends read, per type (pkg/backend/*). */
const BACKEND_KEYS: Record<BackendType, readonly string[]> = {
  udp: ['Type', 'Port'],
  vxlan: ['Type', 'VNI', 'Port', 'GBP', 'DirectRouting', 'Learning', 'MTU', 'MacPrefix'],
  'host-gw': ['Type'],
};

const MAX_VNI = 0xffffff;

/** Parses the text of a `config` key. Throws NetworkConfigError listing every problem at once. */
export function parseNetworkConfig(text: string, source = 'config'): FlannelNetworkConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new NetworkConfigError(source, [
      `not JSON (${(error as Error).message}); allowed: a JSON object like {"Network":"198.18.0.0/16","Backend":{"Type":"vxlan"}}`,
    ]);
  }
  return checkNetworkConfig(value, source);
}

/** Checks a parsed `config` document; see parseNetworkConfig. */
export function checkNetworkConfig(value: unknown, source = 'config'): FlannelNetworkConfig {
  const problems: string[] = [];
  const bad = (field: string, got: unknown, allowed: string, why = 'is not allowed') => problems.push(`${field}: ${show(got)} ${why}; allowed: ${allowed}`);
  if (!isObject(value)) {
    throw new NetworkConfigError(source, [`${show(value)} is not an object; allowed: a JSON object like {"Network":"198.18.0.0/16"}`]);
  }
  const f = new Fields(value);
  for (const key of f.unknownKeys(TOP_KEYS)) bad(key, value[key], `the keys ${TOP_KEYS.join(', ')}, each once`, 'is an unknown or repeated key');

  for (const key of ['EnableIPv4', 'EnableIPv6', 'EnableNFTables']) {
    const v = f.get(key);
    if (v !== undefined && typeof v !== 'boolean') bad(key, v, 'true or false');
  }
  // IPv6-only is refused: flannel's etcd subnet manager always allocates an IPv4 subnet and names every lease
  // key after it (`<ip>-<len>&<ipv6>-<len>`); without an IPv4 range all its hosts would claim 0.0.0.0/0.
  if (f.get('EnableIPv4') === false)
    bad('EnableIPv4', false, 'true: over etcd every lease is keyed by its IPv4 subnet, so IPv6-only networks cannot be served; use EnableIPv6 for dual stack');
  const dualStack = f.get('EnableIPv6') === true;
  let ipv6: Ipv6Range | undefined;
  if (dualStack) ipv6 = checkIpv6Range(f, bad);
  else {
    for (const key of ['IPv6Network', 'IPv6SubnetMin', 'IPv6SubnetMax']) {
      const v = f.get(key);
      if (v !== undefined && typeof v !== 'string') bad(key, v, 'a string (ignored while EnableIPv6 is false)');
    }
    const v6len = f.get('IPv6SubnetLen');
    if (v6len !== undefined && !Number.isInteger(v6len)) bad('IPv6SubnetLen', v6len, 'an integer (ignored while EnableIPv6 is false)');
  }

  // Network
  const networkText = f.get('Network');
  let net: { network: number; prefix: number } | undefined;
  if (typeof networkText !== 'string') {
    bad('Network', networkText, 'an IPv4 network in CIDR form like "198.18.0.0/16"', networkText === undefined ? 'is required' : 'is not a string');
  } else {
    try {
      net = parseCidr4(networkText);
    } catch (error) {
      bad('Network', networkText, 'an IPv4 network in CIDR form like "198.18.0.0/16"', `is invalid (${(error as Error).message})`);
    }
  }

  // SubnetLen: flannel's defaults and bounds.
  const lenValue = f.get('SubnetLen');
  let subnetLen: number | undefined;
  if (lenValue !== undefined && lenValue !== 0) {
    const min = net === undefined ? 1 : net.prefix + 2;
    if (!Number.isInteger(lenValue)) bad('SubnetLen', lenValue, 'an integer prefix length');
    else if ((lenValue as number) < min || (lenValue as number) > 30) {
      bad(
        'SubnetLen',
        lenValue,
        net === undefined ? '1..30' : `${Math.min(min, 31)}..30 (at least four subnets of the /${net.prefix} network, each with room for a host)`,
      );
    } else subnetLen = lenValue as number;
  } else if (net !== undefined) {
    if (net.prefix > 28) bad('Network', networkText, 'a network of /28 or larger when SubnetLen is not set', 'is too small');
    else subnetLen = net.prefix <= 22 ? 24 : net.prefix + 2;
  }

  // SubnetMin / SubnetMax: inside the network, on a subnet boundary, min <= max.
  let subnetMin: number | undefined;
  let subnetMax: number | undefined;
  if (net !== undefined && subnetLen !== undefined) {
    const size = 2 ** (32 - subnetLen);
    const netSize = 2 ** (32 - net.prefix);
    const inside = (a: number) => (a & prefixMask(net!.prefix)) >>> 0 === net!.network;
    const bound = (key: 'SubnetMin' | 'SubnetMax', fallback: number): number | undefined => {
      const v = f.get(key);
      if (v === undefined) return fallback;
      const allowed = `an address inside ${networkText} on a /${subnetLen} boundary, like "${wire.formatIPv4(fallback)}"`;
      if (typeof v !== 'string' || !wire.isIPv4(v)) return void bad(key, v, allowed, 'is not an IPv4 address');
      const a = wire.parseIPv4(v);
      if (!inside(a)) return void bad(key, v, allowed, `is outside the network`);
      if ((a & prefixMask(subnetLen!)) >>> 0 !== a) return void bad(key, v, allowed, `is not on a /${subnetLen} boundary`);
      return a;
    };
    subnetMin = bound('SubnetMin', net.network + size);
    subnetMax = bound('SubnetMax', net.network + netSize - size);
    if (subnetMin !== undefined && subnetMax !== undefined && subnetMin > subnetMax) {
      bad('SubnetMax', wire.formatIPv4(subnetMax), `an address not below SubnetMin (${wire.formatIPv4(subnetMin)})`, 'is below SubnetMin');
    }
  }

  const backend = checkBackend(f.get('Backend'), bad);

  if (
    problems.length > 0 ||
    net === undefined ||
    subnetLen === undefined ||
    subnetMin === undefined ||
    subnetMax === undefined ||
    backend === undefined ||
    (dualStack && ipv6 === undefined)
  ) {
    throw new NetworkConfigError(source, problems);
  }
  return {
    network: networkText as string,
    subnetLen,
    subnetMin: wire.formatIPv4(subnetMin),
    subnetMax: wire.formatIPv4(subnetMax),
    backendType: backend.type,
    backend,
    ...(ipv6 !== undefined ? { ipv6 } : {}),
  };
}

function checkBackend(value: unknown, bad: (field: string, got: unknown, allowed: string, why?: string) => void): BackendConfig | undefined {
  // flannel: no Backend section means the udp backend (config.go parseBackendType).
  if (value === undefined) return { type: 'udp' };
  if (!isObject(value)) return void bad('Backend', value, 'an object like {"Type":"vxlan"}', 'is not an object');
  const f = new Fields(value);
  const type = f.get('Type');
  if (typeof type !== 'string' || !(BACKEND_TYPES as readonly string[]).includes(type)) {
    return void bad('Backend.Type', type, BACKEND_TYPES.map((t) => `"${t}"`).join(', '), type === undefined ? 'is required' : 'is not supported');
  }
  const backendType = type as BackendType;
  const known = BACKEND_KEYS[backendType];
  for (const key of f.unknownKeys(known))
    bad(`Backend.${key}`, value[key], `for ${backendType}, the keys ${known.join(', ')}, each once`, 'is an unknown or repeated key');
  const out: BackendConfig = { type: backendType };
  const int = (key: string, min: number, max: number): number | undefined => {
    const v = f.get(key);
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) return void bad(`Backend.${key}`, v, `an integer ${min}..${max}`);
    return v as number;
  };
  const bool = (key: string): boolean | undefined => {
    const v = f.get(key);
    if (v !== undefined && typeof v !== 'boolean') return void bad(`Backend.${key}`, v, 'true or false');
    return v as boolean | undefined;
  };
  // Port 0 is flannel's "the default port"; tulle leaves it unset.
  const port = known.includes('Port') ? int('Port', 0, 65535) : undefined;
  if (port !== undefined && port !== 0) out.port = port;
  if (backendType === 'vxlan') {
    out.vni = int('VNI', 0, MAX_VNI) ?? 1;
    const gbp = bool('GBP');
    const directRouting = bool('DirectRouting');
    const learning = bool('Learning');
    const mtu = int('MTU', 0, 65535);
    const macPrefix = f.get('MacPrefix');
    if (gbp !== undefined) out.gbp = gbp;
    if (directRouting !== undefined) out.directRouting = directRouting;
    if (learning !== undefined) out.learning = learning;
    if (mtu !== undefined && mtu !== 0) out.mtu = mtu;
    if (macPrefix !== undefined) {
      if (typeof macPrefix !== 'string') bad('Backend.MacPrefix', macPrefix, 'a string');
      else out.macPrefix = macPrefix;
    }
  }
  return out;
}

/**
 * The `config` value for `input`, with flannel's defaults written out
 * (SubnetLen, SubnetMin, SubnetMax, and VNI for vxlan), so that what is
 * stored says exactly what every host will use. Throws NetworkConfigError
 * for an input that parseNetworkConfig would refuse.
 */
export function formatNetworkConfig(input: NetworkConfigInput): string {
  const backend = input.backend ?? { type: 'vxlan' };
  const raw: Record<string, unknown> = { Network: input.network };
  if (input.subnetLen !== undefined) raw.SubnetLen = input.subnetLen;
  if (input.subnetMin !== undefined) raw.SubnetMin = input.subnetMin;
  if (input.subnetMax !== undefined) raw.SubnetMax = input.subnetMax;
  if (input.ipv6 !== undefined) {
    raw.EnableIPv6 = true;
    raw.IPv6Network = input.ipv6.network;
    if (input.ipv6.subnetLen !== undefined) raw.IPv6SubnetLen = input.ipv6.subnetLen;
    if (input.ipv6.subnetMin !== undefined) raw.IPv6SubnetMin = input.ipv6.subnetMin;
    if (input.ipv6.subnetMax !== undefined) raw.IPv6SubnetMax = input.ipv6.subnetMax;
  }
  raw.Backend = backendJson(backend);
  const checked = checkNetworkConfig(raw, 'the config to write');
  // Go's field order in flannel's Config (EnableIPv6 before Network, the IPv6 fields after theirs) is not needed:
  // flannel reads keys by name. IPv4 first, then the IPv6 half, then the backend.
  return JSON.stringify({
    Network: checked.network,
    SubnetLen: checked.subnetLen,
    SubnetMin: checked.subnetMin,
    SubnetMax: checked.subnetMax,
    ...(checked.ipv6 !== undefined ? { EnableIPv6: true, ...ipv6RangeJson(checked.ipv6) } : {}),
    Backend: backendJson(checked.backend),
  });
}

function backendJson(b: BackendConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { Type: b.type };
  if (b.vni !== undefined) out.VNI = b.vni;
  if (b.port !== undefined) out.Port = b.port;
  if (b.gbp !== undefined) out.GBP = b.gbp;
  if (b.directRouting !== undefined) out.DirectRouting = b.directRouting;
  if (b.learning !== undefined) out.Learning = b.learning;
  if (b.mtu !== undefined) out.MTU = b.mtu;
  if (b.macPrefix !== undefined) out.MacPrefix = b.macPrefix;
  return out;
}
