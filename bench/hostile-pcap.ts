/**
 * Reads what tcpdump captured (classic pcap, Ethernet) into UDP datagrams
 * over IPv4: the real frames `npm run hostile` mutates.
 */
import { readFileSync } from 'node:fs';

export interface CapturedDatagram {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

const ETHERTYPE_IPV4 = 0x0800;
const PROTO_UDP = 17;

export function readPcap(file: string): CapturedDatagram[] {
  const b = readFileSync(file);
  if (b.length < 24) return [];
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${file}: not a pcap file (magic 0x${magic.toString(16)})`);
  const u32 = (at: number) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  if (u32(20) !== 1) throw new Error(`${file}: link type ${u32(20)}, expected 1 (Ethernet)`);
  const out: CapturedDatagram[] = [];
  for (let at = 24; at + 16 <= b.length;) {
    const caplen = u32(at + 8);
    const frame = b.subarray(at + 16, at + 16 + caplen);
    at += 16 + caplen;
    if (frame.length < 14 + 20 + 8 || frame.readUInt16BE(12) !== ETHERTYPE_IPV4) continue;
    const ip = frame.subarray(14);
    const ihl = (ip[0] & 0x0f) * 4;
    if (ip[9] !== PROTO_UDP || ip.length < ihl + 8) continue;
    const udp = ip.subarray(ihl);
    const length = udp.readUInt16BE(4);
    if (length < 8) continue;
    out.push({
      src: [...ip.subarray(12, 16)].join('.'),
      dst: [...ip.subarray(16, 20)].join('.'),
      srcPort: udp.readUInt16BE(0),
      dstPort: udp.readUInt16BE(2),
      // A GSO super-datagram may carry a segment's length in its header: keep every byte captured.
      payload: Uint8Array.from(udp.subarray(8, Math.max(length, udp.length))),
    });
  }
  return out;
}
