/**
 * The 8-byte VXLAN header (RFC 7348 §5):
 *   flags (0x08 = I, VNI valid) | 24 reserved bits | 24-bit VNI | 8 reserved bits.
 * Senders write reserved bits as zero; receivers ignore them (RFC 7348 §5), but
 * a frame without the I flag is dropped.
 */
import { fail, newFault, WireError, type Fault } from './fault.js';

/** Length of the VXLAN header: 8 bytes. */
export const HEADER = 8;
/** The I flag: the VNI is valid; the only flag RFC 7348 defines. */
export const FLAG_I = 0x08;
/** The largest VNI: 24 bits. */
export const MAX_VNI = 0xffffff;
/** The IANA VXLAN port (RFC 7348). */
export const PORT = 4789;
/** The Linux kernel's legacy VXLAN port, flannel's default. */
export const PORT_LINUX = 8472;

/** A VXLAN header as `parseHeader` reads it; create one with `newHeader()` and reuse it. */
export interface VxlanHeader {
  flags: number;
  vni: number;
  /** True when every reserved bit is zero, as senders must write them. */
  reservedClear: boolean;
}

/** A fresh VxlanHeader for `parseHeader`. */
export function newHeader(): VxlanHeader {
  return { flags: FLAG_I, vni: 0, reservedClear: true };
}

/**
 * Parses the 8-byte VXLAN header at `offset`. Fails only when it is truncated or the I flag is clear;
 * reserved bits are ignored on receipt (see `reservedClear`).
 */
export function parse(bytes: Uint8Array, offset: number, length: number, out: VxlanHeader, fault?: Fault): boolean {
  if (length < HEADER) return fail(fault, 'truncated', 'vxlan', length, `at least ${HEADER} bytes`);
  const flags = bytes[offset];
  if ((flags & FLAG_I) === 0) return fail(fault, 'flags', 'vxlan.flags', flags, 'the I flag (0x08) set');
  out.flags = flags;
  out.vni = (bytes[offset + 4] << 16) | (bytes[offset + 5] << 8) | bytes[offset + 6];
  out.reservedClear = (flags & ~FLAG_I) === 0 && bytes[offset + 1] === 0 && bytes[offset + 2] === 0 && bytes[offset + 3] === 0 && bytes[offset + 7] === 0;
  return true;
}

/** Parse the VXLAN header, or throw a WireError that names the field. */
export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): VxlanHeader {
  const out = newHeader();
  const fault = newFault();
  if (!parse(bytes, offset, length, out, fault)) throw new WireError(fault);
  return out;
}

/** Writes flags 0x08, zero reserved bits and the VNI. Returns 8; throws a WireError when the VNI is outside 0..MAX_VNI. */
export function write(bytes: Uint8Array, offset: number, vni: number): number {
  if (!Number.isInteger(vni) || vni < 0 || vni > MAX_VNI) {
    throw new WireError({ code: 'value', field: 'vxlan.vni', value: vni, allowed: `0..${MAX_VNI}` });
  }
  bytes[offset] = FLAG_I;
  bytes[offset + 1] = 0;
  bytes[offset + 2] = 0;
  bytes[offset + 3] = 0;
  bytes[offset + 4] = vni >>> 16;
  bytes[offset + 5] = (vni >>> 8) & 0xff;
  bytes[offset + 6] = vni & 0xff;
  bytes[offset + 7] = 0;
  return HEADER;
}
