/**
 * flannel's subnet.env, as tulle's daemon writes it (src/daemon/subnet-env.ts),
 * read back: the overlay, this host's subnet, the overlay MTU and whether tulle
 * masquerades. Pure: the text in, the values out.
 */
import { CNI_CODE, CniError } from './errors.js';

export interface HostSubnet {
  /** The whole overlay, e.g. 198.18.0.0/16. */
  network: string;
  /** This host's subnet as a network, e.g. 198.18.7.0/24. */
  subnet: string;
  /** The bridge's address, FLANNEL_SUBNET's address part (e.g. 198.18.7.1): the containers' gateway. */
  gateway: string;
  mtu: number;
  /** tulle masquerades traffic leaving the overlay, so the bridge need not. */
  ipMasq: boolean;
}

function bad(file: string, field: string, value: string | undefined, allowed: string): CniError {
  return new CniError(
    CNI_CODE.BAD_SUBNET_ENV,
    `${file} does not give a usable ${field}`,
    `${field} is ${value === undefined ? 'missing' : JSON.stringify(value)}; ${allowed}`,
  );
}

// A few lines of IPv4 here rather than src/util/cidr.ts: the plugin starts on every container start, and
// that module brings the whole wire library with it.
function ipv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((word, p) => ((word << 8) | Number(p)) >>> 0, 0);
}

function formatIpv4(word: number): string {
  return [24, 16, 8, 0].map((shift) => (word >>> shift) & 255).join('.');
}

/** FLANNEL_NETWORK and FLANNEL_SUBNET: an address (host bits allowed, as flannel writes the subnet) and a prefix length. */
function cidr(file: string, field: string, value: string | undefined): { gateway: string; network: string } {
  const m = value === undefined ? null : /^([0-9.]+)\/(\d{1,2})$/.exec(value);
  const word = m ? ipv4(m[1]) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (!m || word === undefined || prefix < 1 || prefix > 30)
    throw bad(file, field, value, 'it must be an IPv4 CIDR such as 198.18.7.1/24 (prefix length 1..30)');
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  const network = (word & mask) >>> 0;
  // The bridge holds the address given; a subnet written as its network address gets the first host address.
  return { gateway: formatIpv4(word === network ? network + 1 : word), network: `${formatIpv4(network)}/${prefix}` };
}

/** Parses the KEY=VALUE lines of `file`'s `text`. */
export function parseHostSubnet(text: string, file: string): HostSubnet {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z_]+)=(.*?)\s*$/.exec(line);
    if (m) values.set(m[1], m[2].replace(/^"(.*)"$/, '$1'));
  }
  const network = cidr(file, 'FLANNEL_NETWORK', values.get('FLANNEL_NETWORK'));
  const subnet = cidr(file, 'FLANNEL_SUBNET', values.get('FLANNEL_SUBNET'));
  const mtuText = values.get('FLANNEL_MTU');
  const mtu = Number(mtuText);
  if (mtuText === undefined || !/^\d+$/.test(mtuText) || mtu < 576 || mtu > 65535)
    throw bad(file, 'FLANNEL_MTU', mtuText, 'it must be a whole number from 576 to 65535');
  const masq = values.get('FLANNEL_IPMASQ') ?? 'false';
  if (masq !== 'true' && masq !== 'false') throw bad(file, 'FLANNEL_IPMASQ', masq, 'it must be true or false');
  return { network: network.network, subnet: subnet.network, gateway: subnet.gateway, mtu, ipMasq: masq === 'true' };
}
