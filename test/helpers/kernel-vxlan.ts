// A host whose overlay is the kernel's own VXLAN, set up the way flannel's
// vxlan backend sets up its device (VNI 1, port 8472, nolearning, an onlink
// route, a neighbour and an FDB entry for the tulle host's VTEP).
import type { Lab } from '../../src/lab/netns.js';
import type { Host } from '../../src/lab/topology.js';

export interface KernelVtep {
  /** The kernel device's VTEP MAC. */
  mac: string;
  /** The host's overlay address (a /32 on flannel.1). */
  address: string;
  mtu: number;
  /** Outer UDP checksums on (`udpcsum`; flannel leaves them off over IPv4). */
  udpcsum?: boolean;
  /** The tulle host: its subnet, its first address (the route's gateway), its VTEP MAC and underlay. */
  peer: { subnet: string; address: string; mac: string; underlay: string };
}

export function kernelVxlanHost(lab: Lab, host: Host, v: KernelVtep): void {
  flannelDevice(lab, host, v);
  lab.ip(host.ns, 'route', 'add', v.peer.subnet, 'via', v.peer.address, 'dev', 'flannel.1', 'onlink');
  lab.ip(host.ns, 'neigh', 'add', v.peer.address, 'lladdr', v.peer.mac, 'dev', 'flannel.1');
  lab.exec(host.ns, ['bridge', 'fdb', 'append', v.peer.mac, 'dev', 'flannel.1', 'dst', v.peer.underlay]);
}

/**
 * flannel's `flannel.1` alone, without entries for other hosts: VNI 1, port 8472, nolearning, the host's
 * underlay address as its source, `address`/32, `mtu`. Without `mac` the kernel picks one (flanneld makes up a
 * random one). Returns the device's MAC.
 */
export function flannelDevice(lab: Lab, host: Host, v: { mac?: string; address: string; mtu: number; udpcsum?: boolean }): string {
  lab.ip(
    host.ns,
    'link',
    'add',
    'flannel.1',
    ...(v.mac !== undefined ? ['address', v.mac] : []),
    'type',
    'vxlan',
    'id',
    '1',
    'dstport',
    '8472',
    'local',
    host.underlay,
    'dev',
    host.dev,
    'nolearning',
    ...(v.udpcsum ? ['udpcsum'] : []),
  );
  lab.ip(host.ns, 'addr', 'add', `${v.address}/32`, 'dev', 'flannel.1');
  lab.ip(host.ns, 'link', 'set', 'flannel.1', 'mtu', String(v.mtu), 'up');
  // A veth hands a packet over with its checksum still partial (CHECKSUM_PARTIAL); a NIC completes it
  // on the wire. Make the kernel host's underlay link behave like a wire, or its VXLAN packets reach
  // tulle with inner TCP checksums that only hold the pseudo-header sum.
  lab.exec(host.ns, ['ethtool', '-K', host.dev, 'tx', 'off']);
  const [link] = JSON.parse(lab.ip(host.ns, '-j', 'link', 'show', 'flannel.1')) as { address: string }[];
  return link.address;
}
