/**
 * The probes' datagram format (pure: no I/O). Echo requests and replies, and
 * the UDP stream's datagrams, all start with the same 16-byte header so a
 * receiver can tell its own traffic from anything else and count the rest:
 *
 *   0  magic "TLP1"      4 bytes
 *   4  kind              1 byte (KIND_*)
 *   5  reserved          3 bytes, zero
 *   8  sequence number   4 bytes, big-endian
 *  12  sender's stamp    4 bytes, big-endian: microseconds on the sender's monotonic clock, mod 2^32
 *
 * The rest is padding up to the requested size. Replies echo the request's
 * bytes with only the kind changed, so the RTT is taken on one clock.
 */
export const MAGIC = 0x544c5031; // "TLP1"
export const HEADER_LENGTH = 16;
export const KIND_ECHO_REQUEST = 1;
export const KIND_ECHO_REPLY = 2;
export const KIND_STREAM = 3;
/** The largest datagram a probe sends: an IPv4 UDP payload. */
export const MAX_DATAGRAM = 65_507;

export interface ProbeHeader {
  kind: number;
  seq: number;
  stampUs: number;
}

/** Writes a header into `bytes` (which must hold HEADER_LENGTH bytes). */
export function writeHeader(bytes: Uint8Array, kind: number, seq: number, stampUs: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint32(0, MAGIC);
  view.setUint8(4, kind);
  view.setUint8(5, 0);
  view.setUint16(6, 0);
  view.setUint32(8, seq >>> 0);
  view.setUint32(12, stampUs >>> 0);
}

/** Reads a header into `out`; false (and `out` untouched) when the bytes are not a probe datagram. */
export function readHeader(bytes: Uint8Array, out: ProbeHeader): boolean {
  if (bytes.byteLength < HEADER_LENGTH) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== MAGIC) return false;
  const kind = view.getUint8(4);
  if (kind !== KIND_ECHO_REQUEST && kind !== KIND_ECHO_REPLY && kind !== KIND_STREAM) return false;
  out.kind = kind;
  out.seq = view.getUint32(8);
  out.stampUs = view.getUint32(12);
  return true;
}

/** Turns a request into its reply in place. */
export function markReply(bytes: Uint8Array): void {
  bytes[4] = KIND_ECHO_REPLY;
}

/** Microseconds elapsed from `sentUs` to `nowUs`, both mod 2^32 (a wrap in between is fine). */
export function elapsedUs(sentUs: number, nowUs: number): number {
  return ((nowUs >>> 0) - (sentUs >>> 0)) >>> 0;
}
