/**
 * The IPv6 half of flannel's network config (pkg/subnet/config.go,
 * CheckNetworkConfig with EnableIPv6): IPv6Network, IPv6SubnetLen (64, or
 * the network's prefix + 2 when that is longer), IPv6SubnetMin (the second
 * subnet) and IPv6SubnetMax (the last), with flannel's bounds and, as for
 * IPv4, misaligned or inverted ranges refused. Pure.
 */
import type { Ipv6Range } from '../lease/lease.js';
import { bigIntToIpv6, ipv6ToBigInt, parseCidr6, subnetSize6 } from '../util/ipv6-number.js';
import * as wire from '@tulle/wire';
import type { Fields } from './json-fields.js';

export type Problem = (field: string, got: unknown, allowed: string, why?: string) => void;

/** The IPv6 range when EnableIPv6 is true; problems go to `bad`, undefined when there are any. */
export function checkIpv6Range(f: Fields, bad: Problem): Ipv6Range | undefined {
  const networkText = f.get('IPv6Network');
  const example = 'an IPv6 network in CIDR form like "2001:db8:18::/48"';
  if (typeof networkText !== 'string')
    return void bad('IPv6Network', networkText, example, networkText === undefined ? 'is required when EnableIPv6 is true' : 'is not a string');
  const net = parseCidr6(networkText);
  if (net === undefined) return void bad('IPv6Network', networkText, example, 'is not an IPv6 network with its host bits clear');

  const lenValue = f.get('IPv6SubnetLen');
  let subnetLen: number;
  if (lenValue !== undefined && lenValue !== 0) {
    const min = net.prefix + 2;
    if (!Number.isInteger(lenValue) || (lenValue as number) < min || (lenValue as number) > 126) {
      return void bad(
        'IPv6SubnetLen',
        lenValue,
        min > 126 ? 'none: the network is too small for four subnets' : `an integer ${min}..126 (at least four subnets of the /${net.prefix} network)`,
      );
    }
    subnetLen = lenValue as number;
  } else if (net.prefix > 124) {
    return void bad('IPv6Network', networkText, 'a network of /124 or larger when IPv6SubnetLen is not set', 'is too small');
  } else subnetLen = net.prefix <= 62 ? 64 : net.prefix + 2;

  const size = subnetSize6(subnetLen);
  const last = net.network + subnetSize6(net.prefix) - size;
  const bound = (key: 'IPv6SubnetMin' | 'IPv6SubnetMax', fallback: bigint): bigint | undefined => {
    const v = f.get(key);
    if (v === undefined) return fallback;
    const allowed = `an address inside ${networkText} on a /${subnetLen} boundary, like "${bigIntToIpv6(fallback)}"`;
    if (typeof v !== 'string' || !wire.isIPv6(v)) return void bad(key, v, allowed, 'is not an IPv6 address');
    const a = ipv6ToBigInt(v);
    if (a < net.network || a > last + size - 1n) return void bad(key, v, allowed, 'is outside the network');
    if (a % size !== 0n) return void bad(key, v, allowed, `is not on a /${subnetLen} boundary`);
    return a;
  };
  const min = bound('IPv6SubnetMin', net.network + size);
  const max = bound('IPv6SubnetMax', last);
  if (min === undefined || max === undefined) return undefined;
  if (min > max) return void bad('IPv6SubnetMax', bigIntToIpv6(max), `an address not below IPv6SubnetMin (${bigIntToIpv6(min)})`, 'is below IPv6SubnetMin');
  return { network: networkText, subnetLen, subnetMin: bigIntToIpv6(min), subnetMax: bigIntToIpv6(max) };
}

/** flannel's fields for `range`, defaults written out. */
export function ipv6RangeJson(range: Ipv6Range): Record<string, unknown> {
  return { IPv6Network: range.network, IPv6SubnetLen: range.subnetLen, IPv6SubnetMin: range.subnetMin, IPv6SubnetMax: range.subnetMax };
}
