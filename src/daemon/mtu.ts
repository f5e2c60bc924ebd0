/**
 * The overlay MTU: the underlay device's MTU less what the backend adds
 * (RFC 7348 §4.3: VTEPs do not fragment, so inner packets must fit).
 */
import { execFileSync } from 'node:child_process';
import * as wire from '../wire/index.js';

/** Bytes the backend adds in front of an inner packet on the wire, outer IP and UDP included. */
export function overhead(backend: 'udp' | 'vxlan', ipv6Underlay: boolean): number {
  if (backend === 'vxlan') return ipv6Underlay ? wire.vxlan.OVERHEAD_IPV6 : wire.vxlan.OVERHEAD_IPV4;
  return ipv6Underlay ? wire.udpBackend.OVERHEAD_IPV6 : wire.udpBackend.OVERHEAD_IPV4;
}

interface AddrInfo {
  ifname: string;
  mtu: number;
  addr_info?: { local?: string }[];
}

/** The device holding `address` and its MTU; throws naming the address when no device has it. */
export function underlayDevice(address: string): { name: string; mtu: number } {
  const links = JSON.parse(execFileSync('ip', ['-j', 'addr', 'show'], { encoding: 'utf8' })) as AddrInfo[];
  const bytes = wire.formatIP(wire.parseIP(address));
  const link = links.find((l) => l.addr_info?.some((a) => a.local !== undefined && wire.formatIP(wire.parseIP(a.local)) === bytes));
  if (link === undefined) throw new Error(`underlay.address ${address} is not an address of this host (see \`ip addr\`)`);
  return { name: link.ifname, mtu: link.mtu };
}

/** The overlay MTU for `backend` over the device that holds `address`. */
export function overlayMtu(backend: 'udp' | 'vxlan', address: string): { mtu: number; device: string; deviceMtu: number } {
  const device = underlayDevice(address);
  return { mtu: device.mtu - overhead(backend, address.includes(':')), device: device.name, deviceMtu: device.mtu };
}
