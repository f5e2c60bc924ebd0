/**
 * Typed parse failures. Parsers never throw on bad input: they return false
 * and, when given one, fill a caller-owned Fault (no allocation per packet).
 * The `decode*` conveniences turn a Fault into a WireError.
 */

export type FaultCode =
  | 'truncated' // fewer bytes than the header or a length field needs
  | 'version' // IP version nibble is not the one expected
  | 'ihl' // IPv4 header length below 5 words or past the buffer
  | 'length' // a length field disagrees with the buffer or with another field
  | 'checksum' // a checksum does not verify
  | 'flags' // VXLAN without the I flag, or a fragment where none is allowed
  | 'ethertype' // an inner frame that carries neither IPv4 nor IPv6
  | 'headroom' // not enough room before a packet to write the outer headers
  | 'value'; // a field value outside what the format allows

/** Why a parse failed: filled by a parse function on bad input; create one with `newFault()` and reuse it. */
export interface Fault {
  code: FaultCode | '';
  /** The header field at fault, e.g. "ipv4.totalLength". */
  field: string;
  /** The offending value (a length, a version, a flag byte). */
  value: number;
  /** What would have been accepted, in words. */
  allowed: string;
}

/** A fresh, empty Fault. */
export function newFault(): Fault {
  return { code: '', field: '', value: 0, allowed: '' };
}

/** Records a failure in `fault` (if any) and returns false, so parsers can `return fail(...)`. */
export function fail(fault: Fault | undefined, code: FaultCode, field: string, value: number, allowed: string): false {
  if (fault !== undefined) {
    fault.code = code;
    fault.field = field;
    fault.value = value;
    fault.allowed = allowed;
  }
  return false;
}

/** The error the `decode*` functions and the builders throw: a Fault as an Error, with its message in words. */
export class WireError extends Error {
  readonly code: FaultCode;
  readonly field: string;
  readonly value: number;
  readonly allowed: string;

  constructor(fault: Fault) {
    super(`${fault.field}: ${describe(fault.code)} (${Number.isNaN(fault.value) ? '' : `got ${fault.value}, `}allowed ${fault.allowed})`);
    this.name = 'WireError';
    this.code = fault.code === '' ? 'value' : fault.code;
    this.field = fault.field;
    this.value = fault.value;
    this.allowed = fault.allowed;
  }
}

export function wireError(code: FaultCode, field: string, value: number, allowed: string): WireError {
  return new WireError({ code, field, value, allowed });
}

function describe(code: FaultCode | ''): string {
  switch (code) {
    case 'truncated':
      return 'packet truncated';
    case 'version':
      return 'wrong IP version';
    case 'ihl':
      return 'bad IPv4 header length';
    case 'length':
      return 'length field disagrees with the buffer';
    case 'checksum':
      return 'bad checksum';
    case 'flags':
      return 'bad flags';
    case 'ethertype':
      return 'unsupported ethertype';
    case 'headroom':
      return 'not enough headroom for the outer headers';
    default:
      return 'value out of range';
  }
}
