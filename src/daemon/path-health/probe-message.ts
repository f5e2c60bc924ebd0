/**
 * The path probe's datagrams (docs/wire-formats.md, "Path probes"). 16 bytes of
 * header, big-endian:
 *
 *   0  4  magic "tlph"
 *   4  1  version (1)
 *   5  1  type: 1 echo, 2 echo answer, 3 MTU probe, 4 MTU answer
 *   6  2  the port to answer to (the asker's probe socket)
 *   8  4  sequence number
 *  12  4  bytes received (answers: the asked datagram's length; asks: 0)
 *
 * An MTU probe is padded with zeros to the size tried. Answers go to the
 * asker's address at the port it names and are never longer than what they
 * answer, so the probe cannot amplify traffic toward a forged source.
 */

export const HEADER_BYTES = 16;
const MAGIC = 0x746c7068; // "tlph"
const VERSION = 1;

export const PROBE = { echo: 1, echoAnswer: 2, mtu: 3, mtuAnswer: 4 } as const;
export type ProbeType = (typeof PROBE)[keyof typeof PROBE];

export interface ProbeMessage {
  type: ProbeType;
  replyPort: number;
  seq: number;
  received: number;
}

/** Writes a header into `into` (at least HEADER_BYTES long; the rest is left as it is). */
export function writeProbe(into: Uint8Array, m: ProbeMessage): void {
  const v = new DataView(into.buffer, into.byteOffset, HEADER_BYTES);
  v.setUint32(0, MAGIC);
  v.setUint8(4, VERSION);
  v.setUint8(5, m.type);
  v.setUint16(6, m.replyPort);
  v.setUint32(8, m.seq >>> 0);
  v.setUint32(12, m.received >>> 0);
}

/** The header of a datagram, or undefined when it is not a path probe this version reads. */
export function readProbe(data: Uint8Array): ProbeMessage | undefined {
  if (data.length < HEADER_BYTES) return undefined;
  const v = new DataView(data.buffer, data.byteOffset, HEADER_BYTES);
  if (v.getUint32(0) !== MAGIC || v.getUint8(4) !== VERSION) return undefined;
  const type = v.getUint8(5);
  if (type < PROBE.echo || type > PROBE.mtuAnswer) return undefined;
  const replyPort = v.getUint16(6);
  if (replyPort === 0) return undefined;
  return { type: type as ProbeType, replyPort, seq: v.getUint32(8), received: v.getUint32(12) };
}

/** The answer to an ask (echo or MTU probe) of `length` bytes, or undefined for an answer. */
export function answerTo(m: ProbeMessage, length: number): ProbeMessage | undefined {
  if (m.type === PROBE.echo) return { type: PROBE.echoAnswer, replyPort: m.replyPort, seq: m.seq, received: length };
  if (m.type === PROBE.mtu) return { type: PROBE.mtuAnswer, replyPort: m.replyPort, seq: m.seq, received: length };
  return undefined;
}
