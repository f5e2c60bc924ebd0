/**
 * A subnet lease as flannel stores it: the key `<prefix>/subnets/198.18.1.0-24`
 * (pkg/subnet MakeSubnetKey / ParseSubnetKey) and the value, flannel's
 * LeaseAttrs as Go marshals it:
 *
 *   {"PublicIP":"192.0.2.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:…"}}
 *
 * A dual-stack lease (flannel's EnableIPv6) has the IPv6 subnet in the same
 * key (`198.18.1.0-24&2001:db8:18:1::-64`), and in the value the host's
 * PublicIPv6 and, for vxlan, BackendV6Data (the IPv6 VTEP's VNI and MAC).
 *
 * Values come from other hosts: decoding never throws, it says why a value
 * was refused so the caller can count and log it. Pure: no I/O.
 */
import type { BackendData, BackendType, LeaseAttrs } from '../lease/lease.js';
import { parseCidr4 } from '../util/cidr.js';
import * as wire from '@tulle/wire';
import { Fields, isObject, show } from './json-fields.js';
import { BACKEND_TYPES } from './flannel-config.js';

/**
 * The value flannel would write for `attrs`, byte for byte: Go's field order, `PublicIPv6` null when unset,
 * and in a dual-stack lease `BackendV6Data` after `BackendData` (flannel's LeaseAttrs, pkg/lease/lease.go).
 */
export function encodeLeaseValue(attrs: LeaseAttrs): string {
  const value: Record<string, unknown> = {
    PublicIP: attrs.publicIP,
    PublicIPv6: attrs.publicIPv6 ?? null,
    BackendType: attrs.backendType,
  };
  // BackendData and BackendV6Data are `json:",omitempty"`: the udp and host-gw backends write none.
  const data = backendDataJson(attrs.backendData);
  if (Object.keys(data).length > 0) value.BackendData = data;
  const v6data = attrs.ipv6BackendData === undefined ? {} : backendDataJson(attrs.ipv6BackendData);
  if (Object.keys(v6data).length > 0) value.BackendV6Data = v6data;
  // tulle's addition, last (flannel ignores it): which host wrote the lease, so a second host that happens to
  // announce the same PublicIP is not taken for this one restarting.
  if (attrs.hostId !== undefined) value.TulleHostID = attrs.hostId;
  return JSON.stringify(value);
}

function backendDataJson(backendData: BackendData): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  // vxlanLeaseAttrs marshals VNI before VtepMAC; Port is tulle's addition, which flannel ignores.
  if (backendData.VNI !== undefined) data.VNI = backendData.VNI;
  if (backendData.VtepMAC !== undefined) data.VtepMAC = backendData.VtepMAC.toLowerCase();
  if (backendData.Port !== undefined) data.Port = backendData.Port;
  if (backendData.UDPChecksum === true) data.UDPChecksum = true; // tulle's addition too
  return data;
}

export type DecodedLease = { ok: true; attrs: LeaseAttrs } | { ok: false; reason: string };

/** Reads a lease value; `{ ok: false, reason }` for anything a peer could not be routed by. */
export function decodeLeaseValue(text: string): DecodedLease {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: `not JSON: ${show(text)}` };
  }
  if (!isObject(value)) return { ok: false, reason: `not an object: ${show(value)}` };
  const f = new Fields(value);
  const publicIP = f.get('PublicIP');
  if (typeof publicIP !== 'string' || !wire.isIPv4(publicIP) || publicIP === '0.0.0.0') {
    return { ok: false, reason: `PublicIP ${show(publicIP)} is not an IPv4 address` };
  }
  const publicIPv6 = f.get('PublicIPv6');
  if (publicIPv6 !== undefined && (typeof publicIPv6 !== 'string' || !wire.isIPv6(publicIPv6))) {
    return { ok: false, reason: `PublicIPv6 ${show(publicIPv6)} is not an IPv6 address` };
  }
  const backendType = f.get('BackendType');
  if (typeof backendType !== 'string' || !(BACKEND_TYPES as readonly string[]).includes(backendType)) {
    return { ok: false, reason: `BackendType ${show(backendType)} is not one of ${BACKEND_TYPES.join(', ')}` };
  }
  const data = decodeBackendData(f.get('BackendData'), 'BackendData');
  if (!data.ok) return data;
  const backendData = data.backendData;
  if (backendType === 'vxlan' && backendData.VtepMAC === undefined) {
    return { ok: false, reason: 'a vxlan lease without BackendData.VtepMAC cannot be reached' };
  }
  const v6 = decodeBackendData(f.get('BackendV6Data'), 'BackendV6Data');
  if (!v6.ok) return v6;
  const attrs: LeaseAttrs = { publicIP, backendType: backendType as BackendType, backendData };
  if (publicIPv6 !== undefined) attrs.publicIPv6 = publicIPv6 as string;
  if (f.get('BackendV6Data') !== undefined) attrs.ipv6BackendData = v6.backendData;
  const hostId = f.get('TulleHostID');
  if (typeof hostId === 'string' && hostId !== '') attrs.hostId = hostId;
  return { ok: true, attrs };
}

/** flannel's BackendData or BackendV6Data (`field`); absent is empty. */
function decodeBackendData(rawData: unknown, field: string): { ok: true; backendData: BackendData } | { ok: false; reason: string } {
  if (rawData !== undefined && !isObject(rawData)) return { ok: false, reason: `${field} ${show(rawData)} is not an object` };
  const backendData: BackendData = {};
  if (rawData === undefined) return { ok: true, backendData };
  const d = new Fields(rawData);
  // An integer field in a range: its value, absent, or why it was refused.
  const int = (name: string, min: number, max: number): number | undefined | { reason: string } => {
    const v = d.get(name);
    if (v === undefined) return undefined;
    return Number.isInteger(v) && (v as number) >= min && (v as number) <= max
      ? (v as number)
      : { reason: `${field}.${name} ${show(v)} is not ${min}..${max}` };
  };
  const vni = int('VNI', 0, 0xffffff);
  if (typeof vni === 'object') return { ok: false, ...vni };
  if (vni !== undefined) backendData.VNI = vni;
  const mac = d.get('VtepMAC');
  if (mac !== undefined) {
    if (typeof mac !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac))
      return { ok: false, reason: `${field}.VtepMAC ${show(mac)} is not a MAC address` };
    backendData.VtepMAC = mac.toLowerCase();
  }
  const port = int('Port', 1, 65535);
  if (typeof port === 'object') return { ok: false, ...port };
  if (port !== undefined) backendData.Port = port;
  const checksummed = d.get('UDPChecksum');
  if (checksummed !== undefined) {
    if (typeof checksummed !== 'boolean') return { ok: false, reason: `${field}.UDPChecksum ${show(checksummed)} is not true or false` };
    if (checksummed) backendData.UDPChecksum = true;
  }
  return { ok: true, backendData };
}

export interface SubnetKey {
  /** "198.18.1.0/24" */
  subnet: string;
  /** The IPv6 half of a dual-stack key ("…-24&fd00:1::-64"), if any. */
  ipv6Subnet?: string;
}

/** "198.18.1.0/24" → "198.18.1.0-24" (flannel's MakeSubnetKey). */
export function formatSubnetKey(subnet: string, ipv6Subnet?: string): string {
  const v4 = subnet.replace('/', '-');
  return ipv6Subnet === undefined ? v4 : `${v4}&${ipv6Subnet.replace('/', '-')}`;
}

/** The last path element of a subnets key back into subnets; undefined for anything else. */
export function parseSubnetKey(name: string): SubnetKey | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})-(\d{1,2})(?:&([0-9a-fA-F:]+)-(\d{1,3}))?$/.exec(name);
  if (m === null) return undefined;
  const subnet = `${m[1]}/${m[2]}`;
  try {
    parseCidr4(subnet);
  } catch {
    return undefined;
  }
  if (m[3] === undefined) return { subnet };
  if (!wire.isIPv6(m[3]) || Number(m[4]) > 128) return undefined;
  return { subnet, ipv6Subnet: `${m[3]}/${m[4]}` };
}
