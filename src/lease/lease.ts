/**
 * Leases: which host owns which overlay subnet. The shape follows flannel's
 * (subnet, public IP, backend type and data, expiration), so an etcd store in
 * flannel's key layout and the gossip peer hand the daemon the same thing.
 */

export type BackendType = 'udp' | 'vxlan' | 'host-gw';

/** Backend data as flannel writes it into a lease (`BackendData`). */
export interface BackendData {
  /** vxlan: the host's VTEP MAC, stable across restarts. */
  VtepMAC?: string;
  /** vxlan: the VNI the host uses. */
  VNI?: number;
  /** The UDP port the host listens on when it is not the backend's default (tulle's addition). */
  Port?: number;
  /**
   * The host's outer datagrams always carry a UDP checksum (tulle's addition; tulle hosts set it), so a
   * receiver need not verify the inner checksums again. flannel ignores fields it does not know.
   */
  UDPChecksum?: boolean;
}

export interface Lease {
  /** The IPv4 overlay subnet, e.g. "198.18.1.0/24". */
  subnet: string;
  /** The IPv6 overlay subnet of a dual-stack network, if any. */
  ipv6Subnet?: string;
  /** The host's underlay address (flannel's PublicIP). */
  publicIP: string;
  /** The host's IPv6 underlay address (flannel's PublicIPv6), if any. */
  publicIPv6?: string;
  backendType: BackendType;
  backendData: BackendData;
  /** The backend data of the IPv6 half of a dual-stack lease (flannel's BackendV6Data: vxlan's IPv6 VTEP), if any. */
  ipv6BackendData?: BackendData;
  /** When the lease runs out unless renewed, in ms since the epoch (or the simulated clock's zero). */
  expiration: number;
}

/** A change to the lease table. `removed` carries the lease as it was last known. */
export type LeaseEvent = { type: 'added'; lease: Lease } | { type: 'removed'; lease: Lease };

/** What the host asks for when it acquires its own lease. */
export interface LeaseAttrs {
  publicIP: string;
  publicIPv6?: string;
  backendType: BackendType;
  backendData: BackendData;
  /** flannel's BackendV6Data: what a dual-stack network's hosts read about this host's IPv6 half. */
  ipv6BackendData?: BackendData;
  /**
   * The subnet this host held before (from its state dir, as flannel reads
   * its subnet.env): a store gives it back when it is still free.
   */
  previousSubnet?: string;
  /** The IPv6 subnet this host held before, in a dual-stack network. */
  previousIpv6Subnet?: string;
  /**
   * This host's stable id (the state dir's host-id). A store that keys leases
   * by public IP (etcd, as flannel does) tells this host's own earlier lease
   * from another live host's that announces the same address.
   */
  hostId?: string;
}

/** The network a store serves: flannel's `config` key. */
export interface NetworkConfig {
  network: string;
  subnetLen: number;
  subnetMin: string;
  subnetMax: string;
  backendType: BackendType;
  /** The network's UDP port, when the store fixes one (flannel's Backend.Port, or its default). */
  backendPort?: number;
  /** The network's VNI, when the store fixes one (flannel's Backend.VNI). */
  backendVni?: number;
  /** vxlan: the store asks for direct routes to peers on a shared segment (flannel's Backend.DirectRouting). */
  backendDirectRouting?: boolean;
  /** A dual-stack network (flannel's EnableIPv6): each host also gets an IPv6 subnet from this range. */
  ipv6?: Ipv6Range;
}

/** flannel's IPv6Network, IPv6SubnetLen, IPv6SubnetMin and IPv6SubnetMax, defaults filled in. */
export interface Ipv6Range {
  network: string;
  subnetLen: number;
  subnetMin: string;
  subnetMax: string;
}

/**
 * A lease store as the daemon sees it. Gossip and etcd implement it; the
 * daemon turns event batches into a new route snapshot for the engine.
 */
export interface LeaseStore {
  /** The network this store serves. */
  networkConfig(): Promise<NetworkConfig>;
  /**
   * Acquires this host's lease: its previous subnet when the store (or its
   * peers) remember one, otherwise a free one. The store renews it until close().
   */
  acquire(attrs: LeaseAttrs): Promise<Lease>;
  /**
   * Calls `onBatch` with the current leases as one batch of `added` events,
   * then with every later change. Returns a function that stops the calls.
   */
  watch(onBatch: (events: LeaseEvent[]) => void): () => void;
  /** Stops renewing; with `release`, gives the own lease back (a graceful leave). */
  close(options?: { release?: boolean }): Promise<void>;
}

/** The key flannel uses for a subnet: "198.18.1.0/24" → "198.18.1.0-24". */
export function subnetKey(subnet: string): string {
  return subnet.replace('/', '-');
}

/** Keeps the lease table current from event batches; what the daemon and `tulle leases` read. */
export class LeaseTable {
  readonly #leases = new Map<string, Lease>();

  apply(events: readonly LeaseEvent[]): void {
    for (const event of events) {
      if (event.type === 'added') this.#leases.set(event.lease.subnet, event.lease);
      else this.#leases.delete(event.lease.subnet);
    }
  }

  get size(): number {
    return this.#leases.size;
  }

  get(subnet: string): Lease | undefined {
    return this.#leases.get(subnet);
  }

  /** Leases in subnet order. */
  list(): Lease[] {
    return [...this.#leases.values()].sort((a, b) => compareSubnets(a.subnet, b.subnet));
  }
}

function compareSubnets(a: string, b: string): number {
  const key = (s: string) =>
    s
      .split(/[./]/)
      .map((n) => n.padStart(3, '0'))
      .join('.');
  return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}
