/**
 * The two kinds of replicated record and their byte form. A record is a
 * tag byte plus fields; broadcasts and anti-entropy carry the same bytes.
 */
import type { ByteReader, ByteWriter } from './bytes.js';
import { hashString, mix } from './hash.js';

export const TAG_MEMBER = 1;
export const TAG_LEASE = 2;

export const ALIVE = 0;
export const SUSPECT = 1;
export const DEAD = 2;
export const LEFT = 3;
export type MemberState = typeof ALIVE | typeof SUSPECT | typeof DEAD | typeof LEFT;
export const STATE_NAMES = ['alive', 'suspect', 'dead', 'left'] as const;

/** What one node says about one member. Immutable once made: shared between tables. */
export interface MemberRecord {
  readonly id: string;
  readonly addr: string;
  readonly incarnation: number;
  readonly state: MemberState;
  /** Who raised the suspicion or declared the death (for suspect/dead). */
  readonly from: string;
}

export function encodeMember(w: ByteWriter, r: MemberRecord): void {
  w.u8(TAG_MEMBER);
  w.str(r.id);
  w.str(r.addr);
  w.u32(r.incarnation);
  w.u8(r.state);
  if (r.state === SUSPECT || r.state === DEAD) w.str(r.from);
}

/** Decodes a member record after its tag byte; undefined when malformed. */
export function decodeMember(r: ByteReader): MemberRecord | undefined {
  const id = r.str();
  const addr = r.str();
  const incarnation = r.u32();
  const state = r.u8();
  if (state > LEFT) r.bad = true;
  const from = state === SUSPECT || state === DEAD ? r.str() : '';
  if (r.bad || id === '') return undefined;
  return { id, addr, incarnation, state: state as MemberState, from };
}

/** Only the fields every node converges on go into the digest (not `from`, not `addr`). */
export function memberContentHash(keyHash: number, r: MemberRecord): number {
  return mix(mix(keyHash, r.incarnation), r.state + 1);
}

export const BACKEND_CODES = ['udp', 'vxlan', 'host-gw'] as const;

/**
 * One host's claim on a subnet. Only its owner changes it, and every change
 * raises `version`; the lowest (claimedAt, hostId) among live claims on a
 * subnet holds it.
 */
export interface LeaseRecord {
  readonly hostId: string;
  /** Network address of the subnet (prefix length from the network config). */
  readonly subnet: number;
  /** When this host first claimed this subnet, ms; kept across renewals and restarts. */
  readonly claimedAt: number;
  readonly version: number;
  /** When it runs out unless renewed, ms. */
  readonly expiresAt: number;
  /** Given back (a graceful leave): a tombstone, remembered for a while. */
  readonly released: boolean;
  readonly publicIP: string;
  readonly publicIPv6?: string;
  /** The IPv6 subnet of a dual-stack overlay, canonical text; held by the lowest (ipv6ClaimedAt, hostId) as the IPv4 one. */
  readonly ipv6Subnet?: string;
  /** When this host first claimed `ipv6Subnet`, ms; present exactly when the subnet was allocated over gossip. */
  readonly ipv6ClaimedAt?: number;
  readonly backend: number;
  /** VTEP MAC as 6 bytes' hex "aa:bb:…". */
  readonly vtepMac?: string;
  readonly vni?: number;
  readonly port?: number;
}

const F_RELEASED = 1;
const F_MAC = 2;
const F_VNI = 4;
const F_PORT = 8;
const F_V6 = 16;
const F_V6NET = 32;
/**
 * The IPv6 subnet is an allocated claim: its claim time (f64) follows the subnet text. Peers built before
 * it reject a record with this flag (flags ≥ 64 were malformed), so records carry it only in a dual-stack
 * cluster; IPv4-only records are byte for byte as before.
 */
const F_V6CLAIM = 64;
const KNOWN_FLAGS = 128;

export function encodeLease(w: ByteWriter, r: LeaseRecord): void {
  w.u8(TAG_LEASE);
  w.str(r.hostId);
  w.u32(r.subnet);
  w.f64(r.claimedAt);
  w.u32(r.version);
  w.f64(r.expiresAt);
  const flags =
    (r.released ? F_RELEASED : 0) |
    (r.vtepMac !== undefined ? F_MAC : 0) |
    (r.vni !== undefined ? F_VNI : 0) |
    (r.port !== undefined ? F_PORT : 0) |
    (r.publicIPv6 !== undefined ? F_V6 : 0) |
    (r.ipv6Subnet !== undefined ? F_V6NET : 0) |
    (r.ipv6Subnet !== undefined && r.ipv6ClaimedAt !== undefined ? F_V6CLAIM : 0);
  w.u8(flags);
  w.str(r.publicIP);
  w.u8(r.backend);
  if (r.vtepMac !== undefined) for (const part of r.vtepMac.split(':')) w.u8(parseInt(part, 16) & 255);
  if (r.vni !== undefined) w.u32(r.vni);
  if (r.port !== undefined) w.u16(r.port);
  if (r.publicIPv6 !== undefined) w.str(r.publicIPv6);
  if (r.ipv6Subnet !== undefined) w.str(r.ipv6Subnet);
  if (flags & F_V6CLAIM) w.f64(r.ipv6ClaimedAt!);
}

export function decodeLease(r: ByteReader): LeaseRecord | undefined {
  const hostId = r.str();
  const subnet = r.u32();
  const claimedAt = r.f64();
  const version = r.u32();
  const expiresAt = r.f64();
  const flags = r.u8();
  const publicIP = r.str();
  const backend = r.u8();
  let vtepMac: string | undefined;
  if (flags & F_MAC) {
    const b = r.bytes(6);
    vtepMac = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
  }
  const vni = flags & F_VNI ? r.u32() : undefined;
  const port = flags & F_PORT ? r.u16() : undefined;
  const publicIPv6 = flags & F_V6 ? r.str() : undefined;
  const ipv6Subnet = flags & F_V6NET ? r.str() : undefined;
  const ipv6ClaimedAt = flags & F_V6CLAIM ? r.f64() : undefined;
  if (r.bad || hostId === '' || backend >= BACKEND_CODES.length || !Number.isFinite(claimedAt) || !Number.isFinite(expiresAt) || flags >= KNOWN_FLAGS) {
    return undefined;
  }
  // A claim time without the subnet it dates, or one that is not a time: malformed.
  if (ipv6ClaimedAt !== undefined && (ipv6Subnet === undefined || !Number.isFinite(ipv6ClaimedAt))) return undefined;
  const rec: LeaseRecord = { hostId, subnet, claimedAt, version, expiresAt, released: (flags & F_RELEASED) !== 0, publicIP, backend };
  const extra: { vtepMac?: string; vni?: number; port?: number; publicIPv6?: string; ipv6Subnet?: string; ipv6ClaimedAt?: number } = {};
  if (vtepMac !== undefined) extra.vtepMac = vtepMac;
  if (vni !== undefined) extra.vni = vni;
  if (port !== undefined) extra.port = port;
  if (publicIPv6 !== undefined) extra.publicIPv6 = publicIPv6;
  if (ipv6Subnet !== undefined) extra.ipv6Subnet = ipv6Subnet;
  if (ipv6ClaimedAt !== undefined) extra.ipv6ClaimedAt = ipv6ClaimedAt;
  return Object.keys(extra).length === 0 ? rec : { ...rec, ...extra };
}

/**
 * A lease record's digest fingerprint. The owner bumps `version` on every
 * change; subnet and claim time are in too, so two records made apart at one
 * version (a restart that lost state) do not look alike. The IPv6 claim time
 * is mixed in only when there is one: an IPv4-only record hashes as before.
 */
export function leaseContentHash(keyHash: number, r: LeaseRecord): number {
  const h = mix(mix(mix(mix(keyHash ^ 0x5bd1e995, r.version), r.subnet), r.claimedAt % 4294967296), r.released ? 2 : 1);
  return r.ipv6ClaimedAt === undefined ? h : mix(h, (r.ipv6ClaimedAt % 4294967296) ^ 0x6);
}

/** Keys of the two record kinds must not collide in the shared digest. */
export function memberKeyHash(id: string): number {
  return hashString(id);
}
export function leaseKeyHash(hostId: string): number {
  return mix(hashString(hostId), 0x1ea5e);
}
