/**
 * The pool of IPv6 subnets a host may lease in a dual-stack overlay: the
 * IPv6 network cut into subnets of `subnetLen` bits. As in flannel, the
 * first subnet (the network's own address) is skipped. Subnets are kept as
 * their canonical text ("2001:db8:18:1::/64"), so records, the state file
 * and leases all carry one spelling.
 *
 * At most 2^32 subnets are leasable (the first ones after the skipped one): a
 * random pick is a 32-bit draw, and no cluster gets near that many hosts.
 */
import { formatCidr, parseCidr, type Cidr } from '../util/cidr.js';

/** The IPv6 side of the network: flannel's IPv6Network and IPv6SubnetLen. */
export interface Ipv6NetworkConfig {
  network: string;
  subnetLen: number;
}

/** flannel's IPv6SubnetLen default. */
export const DEFAULT_IPV6_SUBNET_LEN = 64;
/** The longest IPv6 subnet a host may lease: room for the host's own address and a peer's. */
export const MAX_IPV6_SUBNET_LEN = 126;
const MAX_SIZE = 2 ** 32;

export class SubnetPool6 {
  readonly network: string;
  readonly subnetLen: number;
  readonly size: number;
  readonly #base: bigint;
  readonly #prefix: number;
  readonly #step: bigint;

  constructor(readonly config: Ipv6NetworkConfig) {
    let net: Cidr;
    try {
      net = parseCidr(config.network);
    } catch (err) {
      throw new Error(`ipv6Network "${config.network}": ${(err as Error).message}; must be an IPv6 CIDR such as 2001:db8:18::/48`, { cause: err });
    }
    if (net.family !== 6) throw new Error(`ipv6Network "${config.network}": must be an IPv6 CIDR such as 2001:db8:18::/48`);
    const len = config.subnetLen;
    if (!Number.isInteger(len) || len <= net.prefix || len > MAX_IPV6_SUBNET_LEN) {
      throw new Error(`ipv6SubnetLen ${len}: must be an integer in ${net.prefix + 1}..${MAX_IPV6_SUBNET_LEN} for ipv6Network ${config.network}`);
    }
    this.network = formatCidr(net);
    this.subnetLen = len;
    this.#prefix = net.prefix;
    this.#base = toBig(net);
    this.#step = 1n << BigInt(128 - len);
    const count = 2 ** (len - net.prefix) - 1;
    this.size = Math.min(count, MAX_SIZE);
  }

  /** The i-th leasable subnet, 0 ≤ i < size. */
  at(i: number): string {
    return this.#format(this.#base + BigInt(i + 1) * this.#step);
  }

  /** The subnet in its canonical text when it is a leasable subnet of this pool; undefined otherwise (another length, outside, malformed). */
  parse(text: string): string | undefined {
    let c: Cidr;
    try {
      c = parseCidr(text);
    } catch {
      return undefined;
    }
    if (c.family !== 6 || c.prefix !== this.subnetLen) return undefined;
    const offset = toBig(c) - this.#base;
    if (offset < this.#step || offset % this.#step !== 0n) return undefined;
    const index = offset / this.#step - 1n;
    // Inside the network (the prefix bits agree) and among the leasable ones.
    if (offset >> BigInt(128 - this.#prefix) !== 0n || index >= BigInt(this.size)) return undefined;
    return this.#format(toBig(c));
  }

  contains(text: string): boolean {
    return this.parse(text) === text;
  }

  #format(address: bigint): string {
    const words: Cidr['words'] = [0, 0, 0, 0];
    for (let i = 0; i < 4; i++) words[i] = Number((address >> BigInt(96 - 32 * i)) & 0xffffffffn);
    return formatCidr({ family: 6, words, prefix: this.subnetLen });
  }
}

function toBig(c: Cidr): bigint {
  return c.words.reduce((acc, w) => (acc << 32n) | BigInt(w), 0n);
}
