/**
 * Version-independent checks on an IP packet: what a receiver needs before it
 * hands a packet on (version, header and total length consistent with the buffer).
 */
import { readU16 } from './bytes.js';
import { fail, type Fault, type FaultCode } from './fault.js';
import * as ipv4 from './ipv4.js';
import * as ipv6 from './ipv6.js';

/**
 * Returns the packet's own length (IPv4 total length, or IPv6 40 + payload
 * length), which may be less than `length` when the buffer carries padding;
 * or -1 with `fault` filled when the packet is not a well-formed IP packet.
 */
export function packetLength(bytes: Uint8Array, offset: number, length: number, fault?: Fault): number {
  if (length < 1) return failed(fault, 'truncated', 'ip', length, 'at least 1 byte');
  const version = bytes[offset] >>> 4;
  if (version === 4) {
    if (length < ipv4.MIN_HEADER) return failed(fault, 'truncated', 'ipv4', length, `at least ${ipv4.MIN_HEADER} bytes`);
    const headerLength = (bytes[offset] & 0x0f) * 4;
    if (headerLength < ipv4.MIN_HEADER || headerLength > length) {
      return failed(fault, 'ihl', 'ipv4.ihl', headerLength >>> 2, `5..${Math.min(15, length >>> 2)} words`);
    }
    const total = readU16(bytes, offset + ipv4.OFF_TOTAL_LENGTH);
    if (total < headerLength || total > length) return failed(fault, 'length', 'ipv4.totalLength', total, `${headerLength}..${length}`);
    return total;
  }
  if (version === 6) {
    if (length < ipv6.HEADER) return failed(fault, 'truncated', 'ipv6', length, `at least ${ipv6.HEADER} bytes`);
    const payload = readU16(bytes, offset + ipv6.OFF_PAYLOAD_LENGTH);
    if (ipv6.HEADER + payload > length) return failed(fault, 'length', 'ipv6.payloadLength', payload, `0..${length - ipv6.HEADER}`);
    return ipv6.HEADER + payload;
  }
  return failed(fault, 'version', 'ip.version', version, '4 or 6');
}

function failed(fault: Fault | undefined, code: FaultCode, field: string, value: number, allowed: string): -1 {
  fail(fault, code, field, value, allowed);
  return -1;
}
