/**
 * The pool of subnets a host may lease: flannel's Network / SubnetLen /
 * SubnetMin / SubnetMax, as a range of subnet indices. Subnets are numbers
 * (the network address) inside the protocol; strings only at the edge.
 */
import type { NetworkConfig } from '../lease/lease.js';
import { prefixMask } from '../util/cidr.js';
import * as wire from '@tulle/wire';

export class SubnetPool {
  readonly network: number;
  readonly networkPrefix: number;
  readonly subnetLen: number;
  /** Address of the first and last subnet that may be leased. */
  readonly min: number;
  readonly max: number;
  readonly size: number;
  readonly #step: number;

  constructor(readonly config: NetworkConfig) {
    const net = parseLooseCidr(config.network);
    if (!net) throw new Error(`network "${config.network}": must be an IPv4 CIDR such as 198.18.0.0/16`);
    if (!Number.isInteger(config.subnetLen) || config.subnetLen <= net.prefix || config.subnetLen > 30) {
      throw new Error(`subnetLen ${config.subnetLen}: must be an integer in ${net.prefix + 1}..30 for network ${config.network}`);
    }
    this.network = (net.address & prefixMask(net.prefix)) >>> 0;
    this.networkPrefix = net.prefix;
    this.subnetLen = config.subnetLen;
    this.#step = 2 ** (32 - config.subnetLen);
    const last = this.network + 2 ** (32 - net.prefix) - this.#step;
    // flannel's defaults: skip the first subnet (the network's own address) unless told otherwise.
    this.min = this.#bound('subnetMin', config.subnetMin, this.network + this.#step);
    this.max = this.#bound('subnetMax', config.subnetMax, last);
    if (this.min > this.max) throw new Error(`subnetMin ${config.subnetMin} is above subnetMax ${config.subnetMax}`);
    this.size = (this.max - this.min) / this.#step + 1;
  }

  #bound(field: string, value: string | undefined, fallback: number): number {
    if (value === undefined || value === '') return fallback;
    const text = value.split('/')[0];
    if (!wire.isIPv4(text)) throw new Error(`${field} "${value}": must be an IPv4 address`);
    const a = wire.parseIPv4(text);
    const inNet = (a & prefixMask(this.networkPrefix)) >>> 0 === this.network;
    if (!inNet || a % this.#step !== 0) {
      throw new Error(`${field} "${value}": must be a /${this.subnetLen} subnet address inside ${this.config.network}`);
    }
    return a;
  }

  /** The i-th leasable subnet, 0 ≤ i < size. */
  at(i: number): number {
    return this.min + i * this.#step;
  }

  contains(subnet: number): boolean {
    return subnet >= this.min && subnet <= this.max && (subnet - this.min) % this.#step === 0;
  }

  /** "198.18.1.0/24" as a leasable subnet of this pool, or undefined (another length, outside the pool, malformed). */
  parse(text: string): number | undefined {
    const [address, len, ...rest] = text.split('/');
    if (rest.length > 0 || len !== String(this.subnetLen) || !wire.isIPv4(address)) return undefined;
    const subnet = wire.parseIPv4(address);
    return this.contains(subnet) ? subnet : undefined;
  }

  format(subnet: number): string {
    return `${wire.formatIPv4(subnet)}/${this.subnetLen}`;
  }
}

/** "a.b.c.d/n" with host bits allowed (they are cleared above, as flannel does); undefined if malformed. */
function parseLooseCidr(text: string): { address: number; prefix: number } | undefined {
  const [address, prefix, ...rest] = text.split('/');
  if (rest.length > 0 || prefix === undefined || !/^\d{1,2}$/.test(prefix) || Number(prefix) > 32 || !wire.isIPv4(address)) return undefined;
  return { address: wire.parseIPv4(address), prefix: Number(prefix) };
}
