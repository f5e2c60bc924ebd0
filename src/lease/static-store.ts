/**
 * A LeaseStore over a fixed list: the configuration's peers, and this host's
 * own subnet — given, or picked once from the free ones in
 * subnetMin..subnetMax (the previous one first, so a restart keeps it).
 * Nothing expires; after the first batch only the own lease comes and, on a
 * releasing close, goes, and setPeers() (SIGHUP) replaces the peer list.
 */
import * as wire from '@tulle/wire';
import { containsCidr, defaultSubnetRange, formatCidr4, overlaps4, parseCidr4, subnetsBetween, type Cidr4 } from '../util/cidr.js';
import type { Lease, LeaseAttrs, LeaseEvent, LeaseStore, NetworkConfig } from './lease.js';

/** The latest time a Date can hold: a lease that never runs out. */
export const NEVER_EXPIRES = 8.64e15;

export interface StaticPeer {
  subnet: string;
  ipv6Subnet?: string;
  /** Underlay address, IPv4 or IPv6. */
  address: string;
  port?: number;
  /** vxlan: the peer's VTEP MAC. */
  mac?: string;
  /** The peer's datagrams always carry a UDP checksum (another tulle host). */
  udpChecksum?: boolean;
}

export interface StaticStoreOptions {
  network: NetworkConfig;
  /** This host's subnet; without it a free one is picked at acquire(). */
  subnet?: string;
  /** This host's IPv6 subnet in a dual-stack overlay. */
  ipv6Subnet?: string;
  peers: StaticPeer[];
  /** vxlan: the network's VNI, written into the peers' leases. */
  vni?: number;
  /** Source of randomness for picking a subnet (tests pass a seeded one). */
  random?: () => number;
}

/** What setPeers() changed, by subnet. */
export interface PeerChanges {
  added: string[];
  removed: string[];
  /** Same subnet, another address, port or MAC. */
  changed: string[];
}

export class StaticStore implements LeaseStore {
  readonly #options: StaticStoreOptions;
  #peers: Lease[];
  readonly #watchers = new Set<(events: LeaseEvent[]) => void>();
  #own: Lease | undefined;

  constructor(options: StaticStoreOptions) {
    this.#options = options;
    this.#peers = options.peers.map((p) => peerLease(p, options.network.backendType, options.vni));
  }

  async networkConfig(): Promise<NetworkConfig> {
    return { ...this.#options.network };
  }

  async acquire(attrs: LeaseAttrs): Promise<Lease> {
    if (this.#own !== undefined) return this.#own;
    const subnet = this.#options.subnet ?? this.#pick(attrs.previousSubnet);
    this.#own = {
      subnet,
      ...(this.#options.ipv6Subnet ? { ipv6Subnet: this.#options.ipv6Subnet } : {}),
      publicIP: attrs.publicIP,
      ...(attrs.publicIPv6 ? { publicIPv6: attrs.publicIPv6 } : {}),
      backendType: attrs.backendType,
      backendData: { ...attrs.backendData },
      expiration: NEVER_EXPIRES,
    };
    this.#emit([{ type: 'added', lease: this.#own }]);
    return this.#own;
  }

  watch(onBatch: (events: LeaseEvent[]) => void): () => void {
    this.#watchers.add(onBatch);
    const current = [...this.#peers, ...(this.#own ? [this.#own] : [])];
    queueMicrotask(() => {
      if (this.#watchers.has(onBatch)) onBatch(current.map((lease) => ({ type: 'added', lease })));
    });
    return () => this.#watchers.delete(onBatch);
  }

  /**
   * A new peer list (the configuration read again): one batch with the removed peers and the added or changed
   * ones. A peer that is the same as before gets no event, so its route and its traffic are not touched.
   * Throws, changing nothing, when a peer's subnet overlaps this host's own.
   */
  setPeers(peers: StaticPeer[]): PeerChanges {
    const next = peers.map((p) => peerLease(p, this.#options.network.backendType, this.#options.vni));
    if (this.#own !== undefined) {
      const own = parseCidr4(this.#own.subnet);
      const clash = next.find((l) => overlaps4(parseCidr4(l.subnet), own));
      if (clash !== undefined)
        throw new Error(`peers: the peer at ${clash.publicIP} has subnet ${clash.subnet}, which overlaps this host's ${this.#own.subnet}`);
    }
    const before = new Map(this.#peers.map((l) => [l.subnet, l]));
    const after = new Set(next.map((l) => l.subnet));
    const removed = this.#peers.filter((l) => !after.has(l.subnet));
    const added = next.filter((l) => !before.has(l.subnet));
    const changed = next.filter((l) => before.has(l.subnet) && JSON.stringify(before.get(l.subnet)) !== JSON.stringify(l));
    this.#peers = next;
    const events: LeaseEvent[] = [
      ...removed.map((lease) => ({ type: 'removed' as const, lease })),
      ...[...added, ...changed].map((lease) => ({ type: 'added' as const, lease })),
    ];
    if (events.length > 0) this.#emit(events);
    const subnets = (leases: Lease[]) => leases.map((l) => l.subnet);
    return { added: subnets(added), removed: subnets(removed), changed: subnets(changed) };
  }

  async close(options: { release?: boolean } = {}): Promise<void> {
    if (options.release && this.#own !== undefined) this.#emit([{ type: 'removed', lease: this.#own }]);
    if (options.release) this.#own = undefined;
    this.#watchers.clear();
  }

  #emit(events: LeaseEvent[]): void {
    for (const watcher of this.#watchers) watcher(events);
  }

  /** A free subnet: the previous one when it still fits and is free, else a random free one (as flannel picks). */
  #pick(previous: string | undefined): string {
    const { network: text, subnetLen } = this.#options.network;
    const network = parseCidr4(text);
    const range = defaultSubnetRange(network, subnetLen);
    const min = this.#options.network.subnetMin ? wire.parseIPv4(this.#options.network.subnetMin) : range.min;
    const max = this.#options.network.subnetMax ? wire.parseIPv4(this.#options.network.subnetMax) : range.max;
    const taken = this.#peers.map((l) => parseCidr4(l.subnet));
    const free = (c: Cidr4) =>
      c.prefix === subnetLen && containsCidr(network, c) && c.network >= min && c.network <= max && !taken.some((t) => overlaps4(t, c));
    if (previous !== undefined) {
      try {
        const c = parseCidr4(previous);
        if (free(c)) return formatCidr4(c);
      } catch {
        // not a subnet: ignore the hint
      }
    }
    const step = 2 ** (32 - subnetLen);
    const count = Math.floor((max - min) / step) + 1;
    const random = this.#options.random ?? Math.random;
    for (let i = 0; i < 64 && count > 0; i++) {
      const c = { network: (min + Math.floor(random() * count) * step) >>> 0, prefix: subnetLen };
      if (free(c)) return formatCidr4(c);
    }
    for (const c of subnetsBetween(min, max, subnetLen)) if (free(c)) return formatCidr4(c);
    throw new Error(`no free /${subnetLen} subnet left between ${wire.formatIPv4(min)} and ${wire.formatIPv4(max)} in ${text}: every one is a peer's`);
  }
}

function peerLease(peer: StaticPeer, backendType: Lease['backendType'], vni: number | undefined): Lease {
  const v6 = wire.isIPv6(peer.address);
  return {
    subnet: peer.subnet,
    ...(peer.ipv6Subnet !== undefined ? { ipv6Subnet: peer.ipv6Subnet } : {}),
    // flannel's PublicIP is IPv4; an IPv6-only peer gets the unspecified address there.
    publicIP: v6 ? '0.0.0.0' : peer.address,
    ...(v6 ? { publicIPv6: peer.address } : {}),
    backendType,
    backendData: {
      ...(peer.mac !== undefined ? { VtepMAC: peer.mac } : {}),
      ...(backendType === 'vxlan' && vni !== undefined ? { VNI: vni } : {}),
      ...(peer.port !== undefined ? { Port: peer.port } : {}),
      ...(peer.udpChecksum === true ? { UDPChecksum: true } : {}),
    },
    expiration: NEVER_EXPIRES,
  };
}
