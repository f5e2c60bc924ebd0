/**
 * Checks across fields: the subnet inside the network, subnetLen longer than
 * the network's prefix, no two subnets overlapping, the underlay outside the
 * overlay, a gossip key present. Pure. They run on the merged input even
 * when some fields are invalid (each check reads only fields that are
 * valid on their own), so every problem is reported in one go.
 */
import { z } from 'zod';
import * as wire from '@tulle/wire';
import { contains, containsAddress, containsCidr, overlaps4, parseCidr, parseCidr4, type Cidr4 } from '../../util/cidr.js';
import { dotted, valueAt, type Path, type Problem } from './problems.js';
import { address, cidr4, cidr6, int, ipv4 } from './schema.js';
import { decodeSharedKey } from './shared-key.js';
import { SOCKET_NAME } from '../state-dir.js';
import { HTTPS_WITH_TLS, MIXED_SCHEMES } from '../../etcd/etcd-store.js';
import { pairingProblems, usesTls, type EtcdCredentialSources } from '../../etcd/tls-files.js';
import { DEFAULT_IPV6_SUBNET_LEN, MAX_IPV6_SUBNET_LEN } from '../../gossip/subnet-pool6.js';
import { pathHealthChecks } from '../path-health/config-checks.js';

/** The longest control socket path sockaddr_un holds (108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;
/** Stores that give each host an IPv6 subnet in a dual-stack network. */
const STORES_WITH_IPV6: readonly string[] = ['static', 'gossip', 'etcd'];

function valid<T>(input: unknown, path: Path, schema: z.ZodType<T>): T | undefined {
  const result = schema.safeParse(valueAt(input, path));
  return result.success ? result.data : undefined;
}

export function crossChecks(input: unknown): Problem[] {
  const problems: Problem[] = pathHealthChecks(input);
  const storeType = valueAt(input, ['store', 'type']) ?? 'static';
  const backendType = valueAt(input, ['backend', 'type']);
  const networkText = valid(input, ['network'], cidr4);
  const network = networkText === undefined ? undefined : parseCidr4(networkText);
  const subnetLen = valid(input, ['subnetLen'], int(1, 32));

  if (valueAt(input, ['network']) === undefined && storeType !== 'etcd') {
    problems.push({
      path: ['network'],
      message: `is required with the ${String(storeType)} store (an IPv4 CIDR like 198.18.0.0/16; only the etcd store holds it itself)`,
    });
  }
  if (network !== undefined && subnetLen !== undefined && subnetLen <= network.prefix) {
    problems.push({
      path: ['subnetLen'],
      message: `must be longer than the network's prefix: ${network.prefix + 1} to 32 for ${networkText}`,
      value: subnetLen,
    });
  }

  // The own subnet and the static peers: inside the network, the right length, not overlapping.
  const subnetText = valid(input, ['subnet'], cidr4);
  const owned: { path: Path; cidr: Cidr4; text: string }[] = [];
  if (subnetText !== undefined) {
    const subnet = parseCidr4(subnetText);
    if (network !== undefined && !containsCidr(network, subnet))
      problems.push({ path: ['subnet'], message: `must be inside the network ${networkText}`, value: subnetText });
    else if (subnetLen !== undefined && subnet.prefix !== subnetLen)
      problems.push({ path: ['subnet'], message: `must be a /${subnetLen} (subnetLen)`, value: subnetText });
    owned.push({ path: ['subnet'], cidr: subnet, text: subnetText });
  }
  const peers = valueAt(input, ['peers']);
  if (Array.isArray(peers)) {
    if (peers.length > 0 && storeType !== 'static')
      problems.push({ path: ['peers'], message: `lists static peers, which only the static store uses (store.type is ${String(storeType)})` });
    peers.forEach((_, i) => {
      const text = valid(input, ['peers', i, 'subnet'], cidr4);
      if (text !== undefined) {
        const cidr = parseCidr4(text);
        if (network !== undefined && !containsCidr(network, cidr))
          problems.push({ path: ['peers', i, 'subnet'], message: `must be inside the network ${networkText}`, value: text });
        const clash = owned.find((o) => overlaps4(o.cidr, cidr));
        if (clash !== undefined)
          problems.push({
            path: ['peers', i, 'subnet'],
            message: `overlaps ${dotted(clash.path)} (${clash.text}): each subnet belongs to one host`,
            value: text,
          });
        owned.push({ path: ['peers', i, 'subnet'], cidr, text });
      }
      const peerAddress = valid(input, ['peers', i, 'address'], address);
      if (network !== undefined && peerAddress !== undefined && wire.isIPv4(peerAddress) && containsAddress(network, wire.parseIPv4(peerAddress))) {
        problems.push({
          path: ['peers', i, 'address'],
          message: `is inside the overlay network ${networkText}: underlay and overlay must not overlap`,
          value: peerAddress,
        });
      }
      if (backendType === 'vxlan' && valueAt(input, ['peers', i, 'mac']) === undefined) {
        problems.push({ path: ['peers', i, 'mac'], message: "is required with the vxlan backend: the peer's VTEP MAC, like 02:00:5e:00:53:02" });
      }
    });
  }
  // A dual-stack overlay: the IPv6 subnets inside the IPv6 network.
  const network6Text = valid(input, ['ipv6Network'], cidr6);
  const subnet6Text = valid(input, ['ipv6Subnet'], cidr6);
  const network6 = network6Text === undefined ? undefined : parseCidr(network6Text);
  const inside6 = (path: Path, text: string | undefined) => {
    if (text === undefined) return;
    if (valueAt(input, ['ipv6Network']) === undefined) problems.push({ path, message: 'needs ipv6Network, the IPv6 network it belongs to', value: text });
    else if (network6 !== undefined && !contains(network6, parseCidr(text)))
      problems.push({ path, message: `must be inside the IPv6 network ${network6Text}`, value: text });
  };
  inside6(['ipv6Subnet'], subnet6Text);
  if (Array.isArray(peers)) peers.forEach((_, i) => inside6(['peers', i, 'ipv6Subnet'], valid(input, ['peers', i, 'ipv6Subnet'], cidr6)));
  if (network6Text !== undefined && valueAt(input, ['ipv6Subnet']) === undefined && storeType === 'static') {
    problems.push({ path: ['ipv6Subnet'], message: "is required with ipv6Network and the static store: this host's IPv6 subnet, like 2001:db8:18:1::/64" });
  }
  // Stores that hand out IPv6 subnets (etcd: from its network config's EnableIPv6); elsewhere `run` would start
  // without the IPv6 overlay.
  if (network6Text !== undefined && !STORES_WITH_IPV6.includes(String(storeType))) {
    problems.push({
      path: ['ipv6Network'],
      message: `needs a store that allocates IPv6 subnets (${STORES_WITH_IPV6.join(', ')}): the ${String(storeType)} store allocates none yet, so the host would run without an IPv6 overlay`,
      value: network6Text,
    });
  }
  if (subnet6Text !== undefined && storeType !== 'static')
    problems.push({
      path: ['ipv6Subnet'],
      message:
        storeType === 'gossip'
          ? "fixes this host's IPv6 subnet, which only the static store does: the gossip store allocates one in ipv6Network (of ipv6SubnetLen) and keeps it across restarts, as it does the IPv4 subnet"
          : `fixes this host's IPv6 subnet, which only the static store does (store.type is ${String(storeType)})`,
      value: subnet6Text,
    });
  // The IPv6 subnet length the gossip store allocates: longer than the IPv6 network's prefix.
  const subnet6Len = valid(input, ['ipv6SubnetLen'], int(1, 128));
  if (subnet6Len !== undefined) {
    if (storeType !== 'gossip')
      problems.push({
        path: ['ipv6SubnetLen'],
        message: `sets the length of the IPv6 subnets the gossip store allocates (store.type is ${String(storeType)})`,
        value: subnet6Len,
      });
    else if (valueAt(input, ['ipv6Network']) === undefined)
      problems.push({ path: ['ipv6SubnetLen'], message: 'needs ipv6Network, the IPv6 network the subnets are cut from', value: subnet6Len });
  }
  if (network6 !== undefined && storeType === 'gossip' && (subnet6Len ?? DEFAULT_IPV6_SUBNET_LEN) <= network6.prefix) {
    problems.push({
      path: [subnet6Len !== undefined ? 'ipv6SubnetLen' : 'ipv6Network'],
      message: `the IPv6 subnets (/${subnet6Len ?? DEFAULT_IPV6_SUBNET_LEN}${subnet6Len === undefined ? ", ipv6SubnetLen's default" : ''}) must be longer than the IPv6 network's prefix: ${network6.prefix + 1} to ${MAX_IPV6_SUBNET_LEN} for ${network6Text}`,
      value: subnet6Len ?? network6Text,
    });
  }

  if (subnetText !== undefined && storeType !== 'static')
    problems.push({
      path: ['subnet'],
      message: `fixes this host's subnet, which only the static store does (store.type is ${String(storeType)})`,
      value: subnetText,
    });

  // The allocation range.
  const len = subnetLen ?? (subnetText !== undefined ? parseCidr4(subnetText).prefix : 24);
  for (const key of ['subnetMin', 'subnetMax'] as const) {
    const text = valid(input, [key], ipv4);
    if (text === undefined || network === undefined) continue;
    const at = wire.parseIPv4(text);
    if (!containsAddress(network, at)) problems.push({ path: [key], message: `must be inside the network ${networkText}`, value: text });
    else if (len <= 32 && at % 2 ** (32 - len) !== 0) problems.push({ path: [key], message: `must be the first address of a /${len} subnet`, value: text });
  }
  const min = valid(input, ['subnetMin'], ipv4);
  const max = valid(input, ['subnetMax'], ipv4);
  if (min !== undefined && max !== undefined && wire.parseIPv4(min) > wire.parseIPv4(max)) {
    problems.push({ path: ['subnetMin'], message: `must not be above subnetMax (${max})`, value: min });
  }

  // The underlay must not sit inside the overlay.
  const underlay = valid(input, ['underlay', 'address'], address);
  if (network !== undefined && underlay !== undefined && wire.isIPv4(underlay) && containsAddress(network, wire.parseIPv4(underlay))) {
    problems.push({
      path: ['underlay', 'address'],
      message: `is inside the overlay network ${networkText}: underlay and overlay must not overlap`,
      value: underlay,
    });
  }

  // The gossip store authenticates every message: it needs a key.
  if (storeType === 'gossip') {
    const key = valueAt(input, ['store', 'key']);
    const keyFile = valueAt(input, ['store', 'keyFile']);
    if (key === undefined && keyFile === undefined) {
      problems.push({
        path: ['store', 'key'],
        message: 'is missing: the gossip store needs a shared key (store.key, store.keyFile or TULLE_GOSSIP_KEY), at least 16 bytes as hex or base64',
      });
    } else if (key !== undefined && keyFile !== undefined) {
      problems.push({ path: ['store', 'keyFile'], message: 'is given together with store.key: give one' });
    } else if (typeof key === 'string') {
      const decoded = decodeSharedKey(key);
      // The key itself is never printed.
      if (typeof decoded === 'string') problems.push({ path: ['store', 'key'], message: decoded });
    }
  }

  // What the etcd store refuses when it opens, reported here with its words.
  const endpoints = valueAt(input, ['store', 'endpoints']);
  if (storeType === 'etcd') {
    const sources = etcdCredentialSources(input);
    if (Array.isArray(endpoints)) {
      const tls = usesTls(sources);
      endpoints.forEach((e, i) => {
        if (tls && typeof e === 'string' && e.startsWith('http://'))
          problems.push({ path: ['store', 'endpoints', i], message: `is not allowed; allowed: ${HTTPS_WITH_TLS}`, value: e });
      });
      if (!tls && new Set(endpoints.map((e) => String(e).startsWith('https://'))).size > 1)
        problems.push({ path: ['store', 'endpoints'], message: `mixes http:// and https://; allowed: ${MIXED_SCHEMES}` });
    }
    for (const p of pairingProblems(sources)) problems.push({ path: ['store', ...p.path], message: p.message });
  }

  const stateDir = valueAt(input, ['stateDir']);
  if (typeof stateDir === 'string' && Buffer.byteLength(`${stateDir}/${SOCKET_NAME}`) > MAX_SOCKET_PATH) {
    problems.push({
      path: ['stateDir'],
      message: `is too long for the control socket (${SOCKET_NAME} in it must fit ${MAX_SOCKET_PATH} bytes)`,
      value: stateDir,
    });
  }
  return problems;
}

/** The etcd store's credential keys as given (only strings: other values are the schema's to report). */
export function etcdCredentialSources(input: unknown): EtcdCredentialSources {
  const str = (path: Path) => {
    const v = valueAt(input, ['store', ...path]);
    return typeof v === 'string' ? v : undefined;
  };
  const tls = { caFile: str(['tls', 'caFile']), certFile: str(['tls', 'certFile']), keyFile: str(['tls', 'keyFile']) };
  return {
    ...(Object.values(tls).some((v) => v !== undefined) ? { tls } : {}),
    username: str(['username']),
    password: str(['password']),
    passwordFile: str(['passwordFile']),
  };
}
