// A flannel host without flanneld: what flanneld's vxlan backend leaves on a host, kept up the way flanneld
// keeps it. `flannel.1` (VNI 1, port 8472, nolearning, the subnet's network address /32, the underlay MTU
// less 50), the host's lease in etcd in flannel's JSON under a 24 h etcd lease, and for every other host's
// vxlan lease, read with etcdctl: a permanent neighbour entry (its subnet's network address → its VTEP MAC),
// a permanent FDB entry (its VTEP MAC → its public IP) and an onlink route for its subnet via that address.
// An `etcdctl watch` child re-reads the leases on every change, as flanneld follows its watch. With
// `subnetFile`, flanneld's subnet.env is written there.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Lab } from '../../src/lab/netns.js';
import type { Host } from '../../src/lab/topology.js';
import { flannelDevice } from './kernel-vxlan.js';

const DEVICE = 'flannel.1';
/** flanneld's lease TTL (24 h). */
const TTL_SECONDS = 86_400;
/** What VXLAN over IPv4 adds to a frame: flanneld sets the device's MTU this much below the underlay's. */
const VXLAN_OVERHEAD = 50;
/** How long after a watch event the leases are read again: one read for a burst of events. */
const SETTLE_MS = 20;

export interface RemoteLease {
  subnet: string;
  publicIP: string;
  vtepMac: string;
}

interface FlannelLeaseJson {
  PublicIP?: unknown;
  BackendType?: unknown;
  BackendData?: { VtepMAC?: unknown } | null;
}

export class FlannelHost {
  /** The subnet's network address: on flannel.1, and the other hosts' gateway for the subnet. */
  readonly address: string;
  /** Every change made to the kernel's tables, in order (`add 198.18.2.0/24 …`, `remove …`): what a test can check. */
  readonly changes: string[] = [];
  #programmed = new Map<string, RemoteLease>();
  #watch: ChildProcess | undefined;
  #timer: NodeJS.Timeout | undefined;
  #syncs = 0;

  private constructor(
    private readonly lab: Lab,
    private readonly host: Host,
    private readonly endpoint: string,
    private readonly prefix: string,
    readonly subnet: string,
    readonly mac: string,
  ) {
    this.address = subnet.split('/')[0];
  }

  /**
   * Sets the host up: reads the network from `<prefix>/config`, takes the lease that already names this
   * host's public IP (flannel's rule: a restarted host keeps its subnet), else `subnet`; creates flannel.1,
   * writes the lease with the device's MAC, programs the other hosts' leases and follows them.
   */
  static start(lab: Lab, host: Host, endpoint: string, options: { subnet: string; prefix?: string; subnetFile?: string }): FlannelHost {
    const prefix = options.prefix ?? '/coreos.com/network';
    const ctl = (...args: string[]) => etcdctl(lab, host, endpoint, ...args);
    const config = JSON.parse(ctl('get', `${prefix}/config`, '--print-value-only')) as {
      Network: string;
      Backend?: { Type?: string; VNI?: number; Port?: number };
    };
    const backend = config.Backend ?? {};
    // flanneld would make a device with these; the helper's device is the one flannel makes with its defaults.
    if (backend.Type !== 'vxlan' || (backend.VNI ?? 1) !== 1 || (backend.Port ?? 8472) !== 8472) {
      throw new Error(`${prefix}/config: Backend ${JSON.stringify(backend)}; this host plays flannel's vxlan with VNI 1 and port 8472 only`);
    }
    const leases = readLeases(lab, host, endpoint, prefix);
    const mine = [...leases.values()].find((l) => l.publicIP === host.underlay);
    const subnet = mine?.subnet ?? options.subnet;
    const holder = leases.get(subnet);
    if (mine === undefined && holder !== undefined) throw new Error(`${subnet} is held by ${holder.publicIP}; pick another subnet for ${host.underlay}`);
    const [link] = JSON.parse(lab.ip(host.ns, '-j', 'link', 'show', host.dev)) as { mtu: number }[];
    const mac = flannelDevice(lab, host, { address: subnet.split('/')[0], mtu: link.mtu - VXLAN_OVERHEAD });
    lab.exec(host.ns, ['sysctl', '-q', '-w', `net/ipv6/conf/${DEVICE}/accept_ra=0`]);
    const flannel = new FlannelHost(lab, host, endpoint, prefix, subnet, mac);
    flannel.writeLease();
    // flanneld's subnet.env: the bridge's address (the subnet's first host address) with the subnet's prefix.
    const [net, len] = subnet.split('/');
    const bridge = net.replace(/\d+$/, (last) => String(Number(last) + 1));
    const env = `FLANNEL_NETWORK=${config.Network}\nFLANNEL_SUBNET=${bridge}/${len}\nFLANNEL_MTU=${link.mtu - VXLAN_OVERHEAD}\nFLANNEL_IPMASQ=false\n`;
    if (options.subnetFile !== undefined) writeFileSync(options.subnetFile, env);
    flannel.sync();
    flannel.#follow();
    return flannel;
  }

  /** How many times the leases were read and the kernel's tables brought in line with them. */
  get syncs(): number {
    return this.#syncs;
  }

  /** The other hosts' leases as programmed now. */
  get programmed(): RemoteLease[] {
    return [...this.#programmed.values()];
  }

  /** Writes the own lease, byte for byte as flanneld's vxlan backend does, attached to a fresh 24 h etcd lease. */
  writeLease(): void {
    const granted = this.#etcdctl('lease', 'grant', String(TTL_SECONDS));
    const id = /lease ([0-9a-f]+) granted/.exec(granted)?.[1];
    if (id === undefined) throw new Error(`etcdctl lease grant: unexpected answer ${JSON.stringify(granted)}`);
    const value = JSON.stringify({ PublicIP: this.host.underlay, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: this.mac } });
    this.#etcdctl('put', `--lease=${id}`, `${this.prefix}/subnets/${this.subnet.replace('/', '-')}`, value);
  }

  /**
   * Reads the leases and programs the difference: a new or changed lease gets its neighbour, FDB entry and
   * route replaced (flanneld's NeighSet and RouteReplace; an FDB entry for a MAC no longer used stays, as
   * flanneld leaves it), a lease gone has its three removed. Leases of other backends are skipped, as
   * flanneld skips them.
   */
  sync(): void {
    this.#syncs++;
    const wanted = readLeases(this.lab, this.host, this.endpoint, this.prefix);
    wanted.delete(this.subnet);
    for (const [subnet, lease] of wanted) {
      const had = this.#programmed.get(subnet);
      if (had !== undefined && had.publicIP === lease.publicIP && had.vtepMac === lease.vtepMac) continue;
      const gateway = subnet.split('/')[0];
      this.lab.ip(this.host.ns, 'neigh', 'replace', gateway, 'lladdr', lease.vtepMac, 'dev', DEVICE, 'nud', 'permanent');
      this.lab.exec(this.host.ns, ['bridge', 'fdb', 'replace', lease.vtepMac, 'dev', DEVICE, 'dst', lease.publicIP, 'self', 'permanent']);
      // Last, as flanneld does: the route would make the kernel resolve the gateway before the entries exist.
      this.lab.ip(this.host.ns, 'route', 'replace', subnet, 'via', gateway, 'dev', DEVICE, 'onlink');
      this.#programmed.set(subnet, lease);
      this.changes.push(`add ${subnet} via ${lease.publicIP} mac ${lease.vtepMac}`);
    }
    for (const [subnet, lease] of this.#programmed) {
      if (wanted.has(subnet)) continue;
      const gateway = subnet.split('/')[0];
      this.lab.ip(this.host.ns, 'route', 'del', subnet, 'via', gateway, 'dev', DEVICE, 'onlink');
      this.lab.ip(this.host.ns, 'neigh', 'del', gateway, 'dev', DEVICE);
      this.lab.exec(this.host.ns, ['bridge', 'fdb', 'del', lease.vtepMac, 'dev', DEVICE, 'dst', lease.publicIP, 'self']);
      this.#programmed.delete(subnet);
      this.changes.push(`remove ${subnet} via ${lease.publicIP} mac ${lease.vtepMac}`);
    }
  }

  /** flanneld stopped: the leases are no longer followed; the device and its entries stay as they are. */
  stop(): void {
    clearTimeout(this.#timer);
    const watch = this.#watch;
    this.#watch = undefined;
    if (watch?.pid !== undefined && watch.exitCode === null) watch.kill('SIGTERM');
  }

  /** Deletes flannel.1 (flanneld leaves it when it stops); its address, neighbours, FDB entries and routes go with it. */
  removeDevice(): void {
    this.stop();
    this.lab.ip(this.host.ns, 'link', 'del', DEVICE);
    this.#programmed.clear();
  }

  #follow(): void {
    const watch = this.lab.spawn(this.host.ns, [
      'env',
      'ETCDCTL_API=3',
      'etcdctl',
      '--endpoints',
      this.endpoint,
      'watch',
      '--prefix',
      `${this.prefix}/subnets/`,
    ]);
    this.#watch = watch;
    watch.stdout!.on('data', () => {
      if (this.#watch !== watch || this.#timer !== undefined) return;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (this.#watch === watch) this.sync();
      }, SETTLE_MS);
    });
    watch.stderr!.resume();
  }

  #etcdctl(...args: string[]): string {
    return etcdctl(this.lab, this.host, this.endpoint, ...args);
  }
}

function etcdctl(lab: Lab, host: Host, endpoint: string, ...args: string[]): string {
  return lab.exec(host.ns, ['env', 'ETCDCTL_API=3', 'etcdctl', '--endpoints', endpoint, '--command-timeout', '3s', ...args]);
}

/** Every vxlan lease under `<prefix>/subnets/`, by subnet, as flanneld decodes them. */
function readLeases(lab: Lab, host: Host, endpoint: string, prefix: string): Map<string, RemoteLease> {
  const dir = `${prefix}/subnets/`;
  const answer = JSON.parse(etcdctl(lab, host, endpoint, 'get', '--prefix', dir, '-w', 'json')) as { kvs?: { key: string; value: string }[] };
  const leases = new Map<string, RemoteLease>();
  for (const kv of answer.kvs ?? []) {
    const key = Buffer.from(kv.key, 'base64').toString();
    // `198.18.1.0-24`, or `198.18.1.0-24&2001:db8:1::-64` from a dual-stack host: the IPv4 half.
    const match = /^(\d+\.\d+\.\d+\.\d+)-(\d+)(&|$)/.exec(key.slice(dir.length));
    if (match === null) continue;
    let value: FlannelLeaseJson;
    try {
      value = JSON.parse(Buffer.from(kv.value, 'base64').toString()) as FlannelLeaseJson;
    } catch {
      continue; // flanneld logs and skips a value it cannot decode
    }
    const mac = value.BackendData?.VtepMAC;
    if (value.BackendType !== 'vxlan' || typeof value.PublicIP !== 'string' || typeof mac !== 'string') continue;
    const subnet = `${match[1]}/${match[2]}`;
    leases.set(subnet, { subnet, publicIP: value.PublicIP, vtepMac: mac.toLowerCase() });
  }
  return leases;
}
