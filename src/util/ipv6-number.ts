/**
 * IPv6 addresses and prefixes as 128-bit numbers (bigint), for the few
 * places that count subnets (dual-stack allocation, subnet.env's first
 * address). Pure; never on the data path.
 */
import { parseCidr } from './cidr.js';
import * as wire from '@tulle/wire';

/** An IPv6 address as a number. */
export function ipv6ToBigInt(text: string): bigint {
  let n = 0n;
  for (const byte of wire.parseIPv6(text)) n = (n << 8n) | BigInt(byte);
  return n;
}

/** A number back into RFC 5952 text (what Go's net.IP String writes). */
export function bigIntToIpv6(n: bigint): string {
  const bytes = new Uint8Array(16);
  for (let i = 15; i >= 0; i--, n >>= 8n) bytes[i] = Number(n & 0xffn);
  return wire.formatIPv6(bytes);
}

/** "2001:db8:18:1::/64" as numbers; undefined when it is not an IPv6 CIDR with clear host bits. */
export function parseCidr6(text: string): { network: bigint; prefix: number } | undefined {
  try {
    const c = parseCidr(text);
    if (c.family !== 6) return undefined;
    return { network: ipv6ToBigInt(text.slice(0, text.indexOf('/'))), prefix: c.prefix };
  } catch {
    return undefined;
  }
}

export function subnetSize6(prefix: number): bigint {
  return 1n << BigInt(128 - prefix);
}
