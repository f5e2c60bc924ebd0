/**
 * What the attacker of `npm run hostile` sends: categories of bad datagrams,
 * each made of templates (random bytes, or mutations of frames captured from
 * the live transfer and the live gossip), and for each the counter that must
 * account for it. hostile-sender.c sends the templates in turn; its per-template
 * counts, summed by category, are what each counter must have grown by.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { CapturedDatagram } from './hostile-pcap.js';

/** Where a bad datagram ends up counted: an engine or gossip drop reason, or a kernel counter. */
export type Outcome =
  | { engine: 'dropUnknownSender' | 'dropMalformed' | 'dropWrongVni' | 'dropUnknownVtep' | 'dropNotOurs' }
  | { gossip: 'oversize' | 'malformed' | 'badVersion' | 'wrongLabel' | 'badMac' | 'replay' }
  /** Dropped by the kernel: at the socket (a wrong UDP checksum is found when the datagram is read), a UDP length beyond the packet, or an inner IPv4 header checksum once tulle has written the packet to its TUN. */
  | { kernel: 'socketChecksum' | 'udpLength' | 'innerIpChecksum' };

export interface Template {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  /** 0 right, 1 wrong, 2 none. */
  checksum: 0 | 1 | 2;
  /** The UDP length field minus the true length. */
  lengthDelta: number;
  payload: Uint8Array;
}

export interface Category {
  name: string;
  outcome: Outcome;
  templates: Template[];
}

export interface Endpoints {
  attacker: string;
  /** The peer whose address is spoofed, and the target. */
  peer: string;
  target: string;
  port: number;
  /** The peer's own source port (its gossip port, or the vxlan port), for spoofed datagrams. */
  peerPort: number;
}

/** Templates per category: enough variety that the same bytes do not come back for a while. */
const VARIANTS = 32;
const MAX_PAYLOAD = 1472;

function spread(
  e: Endpoints,
  payloads: Uint8Array[],
  o: { spoof?: 'all' | 'half' | 'none'; checksum?: 0 | 1 | 2; lengthDelta?: (p: Uint8Array) => number } = {},
): Template[] {
  const spoof = o.spoof ?? 'half';
  return payloads.map((payload, i) => {
    const spoofed = spoof === 'all' || (spoof === 'half' && i % 2 === 0);
    return {
      src: spoofed ? e.peer : e.attacker,
      dst: e.target,
      srcPort: spoofed ? e.peerPort : 40000 + i,
      dstPort: e.port,
      checksum: o.checksum ?? 0,
      lengthDelta: o.lengthDelta?.(payload) ?? 0,
      payload,
    };
  });
}

const randomLength = (min: number, max: number) => min + (randomBytes(2).readUInt16LE(0) % (max - min + 1));
const pick = (frames: Uint8Array[], n = VARIANTS) => Array.from({ length: n }, (_, i) => Uint8Array.from(frames[i % frames.length]));
const mutate = (frames: Uint8Array[], f: (p: Uint8Array, i: number) => Uint8Array | void) =>
  pick(frames).map((p, i) => {
    const out = f(p, i);
    return out ?? p;
  });

/** VXLAN (8) + Ethernet (14): where the inner IP packet starts in a captured payload. */
const INNER = 22;

/**
 * The data port: `frames` are VXLAN payloads the peer sent to the target (the live transfer), so each
 * carries the right VNI, the peer's VTEP MAC and an inner IPv4 TCP segment to the target's subnet.
 */
export function dataCategories(e: Endpoints, captured: CapturedDatagram[]): Category[] {
  const frames = captured.map((c) => asSegment(c.payload)).filter((p): p is Uint8Array => p !== undefined);
  if (frames.length === 0) throw new Error('hostile: no VXLAN frame with an inner IPv4 packet was captured from the transfer');
  const spoofed = (payloads: Uint8Array[], o: Parameters<typeof spread>[2] = {}) => spread(e, payloads, { spoof: 'all', ...o });
  const random = (n: number, min: number, max: number, first?: number) =>
    Array.from({ length: n }, () => {
      const p = randomBytes(randomLength(min, max));
      if (first !== undefined) p[0] = first;
      return Uint8Array.from(p);
    });
  const setU16 = (p: Uint8Array, at: number, v: number) => ((p[at] = v >>> 8), (p[at + 1] = v & 0xff));
  return [
    {
      name: 'random bytes from a stranger',
      outcome: { engine: 'dropUnknownSender' },
      templates: spread(e, random(VARIANTS, 1, MAX_PAYLOAD), { spoof: 'none' }),
    },
    // The I flag clear in the first byte: random bytes that cannot pass for VXLAN whatever else they hold.
    { name: 'random bytes from a spoofed peer', outcome: { engine: 'dropMalformed' }, templates: spoofed(random(VARIANTS, 1, MAX_PAYLOAD, 0)) },
    {
      name: 'VXLAN flags without the I bit',
      outcome: { engine: 'dropMalformed' },
      templates: spoofed(mutate(frames, (p, i) => void (p[0] = i % 2 ? 0x00 : 0x80))),
    },
    { name: 'VXLAN header cut short', outcome: { engine: 'dropMalformed' }, templates: spoofed(mutate(frames, (p, i) => p.subarray(0, i % 8))) },
    { name: 'VNI of another network', outcome: { engine: 'dropWrongVni' }, templates: spoofed(mutate(frames, (p, i) => void (p[6] ^= 1 + (i % 200)))) },
    {
      name: 'inner source MAC not the peer VTEP',
      outcome: { engine: 'dropUnknownVtep' },
      templates: spoofed(mutate(frames, (p, i) => void (p[8 + 6 + 5] ^= 1 + i))),
    },
    { name: 'inner ethertype not IP', outcome: { engine: 'dropMalformed' }, templates: spoofed(mutate(frames, (p) => void setU16(p, 8 + 12, 0x0806))) },
    {
      name: 'inner IPv6 version under an IPv4 ethertype',
      outcome: { engine: 'dropMalformed' },
      templates: spoofed(mutate(frames, (p) => void (p[INNER] = 0x65))),
    },
    {
      name: 'inner IPv4 header length below 5 words',
      outcome: { engine: 'dropMalformed' },
      templates: spoofed(mutate(frames, (p, i) => void (p[INNER] = 0x40 | (i % 5)))),
    },
    {
      name: 'inner IPv4 cut short (total length beyond the datagram)',
      outcome: { engine: 'dropMalformed' },
      templates: spoofed(mutate(frames, (p, i) => p.subarray(0, INNER + 20 + (i % (p.length - INNER - 20))))),
    },
    {
      name: 'inner IPv4 total length GSO-sized (65,535 and 64,000)',
      outcome: { engine: 'dropMalformed' },
      templates: spoofed(mutate(frames, (p, i) => void setU16(p, INNER + 2, i % 2 ? 65535 : 64000))),
    },
    {
      name: 'inner destination outside the subnet',
      outcome: { engine: 'dropNotOurs' },
      templates: spoofed(mutate(frames, (p, i) => void p.set([203, 0, 113, 1 + i], INNER + 16))),
    },
    {
      name: 'UDP length cutting into the inner IPv4 packet',
      outcome: { engine: 'dropMalformed' },
      templates: spoofed(pick(frames), { lengthDelta: (p) => -(p.length - INNER - 30) }),
    },
    { name: 'UDP length beyond the packet', outcome: { kernel: 'udpLength' }, templates: spoofed(pick(frames), { lengthDelta: () => 100 }) },
    { name: 'wrong outer UDP checksum', outcome: { kernel: 'socketChecksum' }, templates: spoofed(pick(frames), { checksum: 1 }) },
    // Well-formed on the outside: tulle cannot tell it from the peer's own (nothing authenticates the data plane) and
    // writes it to the TUN, where the kernel refuses it for its IPv4 header checksum (the protocol byte changed under it).
    {
      name: 'inner IPv4 header checksum wrong (passes tulle, the kernel drops it)',
      outcome: { kernel: 'innerIpChecksum' },
      templates: spoofed(mutate(frames, (p) => void (p[INNER + 9] = 17))),
    },
  ];
}

/**
 * A captured VXLAN payload as one datagram's worth: a super-packet that crossed whole (UDP tunnel GSO) is
 * captured as one frame of up to 64 KiB, so its inner IPv4 packet is cut to what one datagram holds, its
 * total length and header checksum made to match, as the first segment would be. Undefined when the
 * frame does not carry a usable inner IPv4 packet.
 */
function asSegment(payload: Uint8Array): Uint8Array | undefined {
  if (payload.length < INNER + 100 || payload[INNER] !== 0x45) return undefined;
  const p = Uint8Array.from(payload.subarray(0, MAX_PAYLOAD));
  const total = (p[INNER + 2] << 8) | p[INNER + 3];
  const length = Math.min(total, p.length - INNER);
  if (length < 100) return undefined;
  p[INNER + 2] = length >>> 8;
  p[INNER + 3] = length & 0xff;
  p[INNER + 10] = p[INNER + 11] = 0;
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (p[INNER + i] << 8) | p[INNER + i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  p[INNER + 10] = (~sum >>> 8) & 0xff;
  p[INNER + 11] = ~sum & 0xff;
  return p.subarray(0, INNER + length);
}

/** Gossip envelope: magic, version, label hash (4), then the sender id; the last 16 bytes are the tag. */
const TAG = 16;
const MIN_ENVELOPE = 35;

/** The gossip port: `frames` are datagrams the peer sent to the target, which the target accepted. */
export function gossipCategories(e: Endpoints, captured: CapturedDatagram[], maxDatagramBytes: number): Category[] {
  const frames = captured.map((c) => c.payload).filter((p) => p.length >= MIN_ENVELOPE + 8 && p.length <= MAX_PAYLOAD && p[0] === 0x74);
  if (frames.length === 0) throw new Error('hostile: no gossip datagram was captured from the peer');
  const random = (n: number, min: number, max: number) =>
    Array.from({ length: n }, () => {
      const p = randomBytes(randomLength(min, max));
      if (p[0] === 0x74) p[0] = 0x75;
      return Uint8Array.from(p);
    });
  const oversize = Math.min(MAX_PAYLOAD, maxDatagramBytes + 72);
  return [
    { name: 'random bytes (not a tulle datagram)', outcome: { gossip: 'badVersion' }, templates: spread(e, random(VARIANTS, MIN_ENVELOPE, maxDatagramBytes)) },
    { name: 'random bytes shorter than an envelope', outcome: { gossip: 'malformed' }, templates: spread(e, random(VARIANTS, 1, MIN_ENVELOPE - 1)) },
    {
      name: 'another protocol version',
      outcome: { gossip: 'badVersion' },
      templates: spread(
        e,
        mutate(frames, (p, i) => void (p[1] = 2 + (i % 200))),
      ),
    },
    {
      name: 'another cluster label',
      outcome: { gossip: 'wrongLabel' },
      templates: spread(
        e,
        mutate(frames, (p, i) => void (p[2 + (i % 4)] ^= 0x5a)),
      ),
    },
    {
      name: 'forged: a signed byte changed',
      outcome: { gossip: 'badMac' },
      templates: spread(
        e,
        mutate(frames, (p, i) => void (p[6 + (i % (p.length - TAG - 6))] ^= 1 << (i % 8))),
      ),
    },
    {
      name: 'forged: the tag changed',
      outcome: { gossip: 'badMac' },
      templates: spread(
        e,
        mutate(frames, (p, i) => void (p[p.length - 1 - (i % TAG)] ^= 0xff)),
      ),
    },
    {
      name: 'cut short (the tag no longer matches)',
      outcome: { gossip: 'badMac' },
      templates: spread(
        e,
        mutate(frames, (p, i) => p.subarray(0, MIN_ENVELOPE + (i % (p.length - MIN_ENVELOPE)))),
      ),
    },
    {
      name: `oversize (${maxDatagramBytes + 1}-${oversize} bytes)`,
      outcome: { gossip: 'oversize' },
      templates: spread(
        e,
        pick(frames).map((p, i) => {
          const out = new Uint8Array(maxDatagramBytes + 1 + (i % (oversize - maxDatagramBytes)));
          out.set(p.subarray(0, Math.min(p.length, out.length)));
          return out;
        }),
      ),
    },
    { name: 'replayed as captured', outcome: { gossip: 'replay' }, templates: spread(e, pick(frames)) },
  ];
}

/** The plan file hostile-sender.c reads (its header comment has the format). */
export function writePlan(file: string, categories: Category[]): void {
  const templates = categories.flatMap((c) => c.templates);
  const parts: Buffer[] = [Buffer.from('THS1'), Buffer.from(Uint32Array.of(templates.length).buffer)];
  for (const t of templates) {
    const head = Buffer.alloc(18);
    Buffer.from(t.src.split('.').map(Number)).copy(head, 0);
    Buffer.from(t.dst.split('.').map(Number)).copy(head, 4);
    head.writeUInt16LE(t.srcPort, 8);
    head.writeUInt16LE(t.dstPort, 10);
    head[12] = t.checksum;
    head.writeInt16LE(t.lengthDelta, 14);
    head.writeUInt16LE(t.payload.length, 16);
    parts.push(head, Buffer.from(t.payload));
  }
  writeFileSync(file, Buffer.concat(parts));
}

/** Datagrams sent per category, from the sender's per-template counts (templates in plan order). */
export function sentPerCategory(categories: Category[], perTemplate: number[]): number[] {
  let at = 0;
  return categories.map((c) => {
    let n = 0;
    for (let i = 0; i < c.templates.length; i++) n += perTemplate[at + i];
    at += c.templates.length;
    return n;
  });
}
