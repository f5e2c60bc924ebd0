// What the hosts behind two memory TUNs say to each other: ICMP echo (a requester and a responder) and a
// reliable transfer (UDP datagrams with sequence numbers, a sliding window, selective acknowledgements and
// retransmission on a timeout), checked end to end with SHA-256. Packets are built with wire's codecs.
import { createHash, type Hash } from 'node:crypto';
import * as wire from '@tulle/wire';

const IP = wire.ipv4.MIN_HEADER;
const UDP = wire.udp.HEADER;
const ICMP_ECHO_REPLY = 0;
const ICMP_ECHO_REQUEST = 8;
const ICMP_HEADER = 8;
export const TRANSFER_PORT = 9000;
const TYPE_DATA = 1;
const TYPE_ACK = 2;
/** Data packet payload: type, 3 bytes of nothing, sequence number, then the chunk. */
const DATA_HEADER = 8;
/** Ack payload: type, 3 bytes of nothing, the sequence number received, the next one expected in order. */
const ACK_LENGTH = 12;

/** Writes an IPv4 ICMP echo request or reply into `out`; returns its length. */
export function echo(out: Uint8Array, type: number, src: number, dst: number, id: number, seq: number, payload: Uint8Array): number {
  const length = IP + ICMP_HEADER + payload.length;
  wire.ipv4.write(out, 0, { totalLength: length, protocol: wire.ipv4.PROTO_ICMP, src, dst, dontFragment: true });
  out[IP] = type;
  out[IP + 1] = 0;
  wire.writeU16(out, IP + 2, 0);
  wire.writeU16(out, IP + 4, id);
  wire.writeU16(out, IP + 6, seq);
  out.set(payload, IP + ICMP_HEADER);
  wire.writeU16(out, IP + 2, wire.checksum(out, IP, ICMP_HEADER + payload.length));
  return length;
}

export interface EchoSeen {
  type: number;
  src: number;
  dst: number;
  id: number;
  seq: number;
  payload: Uint8Array;
}

/** Parses an IPv4 ICMP echo packet with valid header and ICMP checksums, or undefined. */
export function parseEcho(bytes: Uint8Array, offset: number, length: number): EchoSeen | undefined {
  if (length < IP + ICMP_HEADER || bytes[offset] !== 0x45 || bytes[offset + wire.ipv4.OFF_PROTOCOL] !== wire.ipv4.PROTO_ICMP) return undefined;
  if (wire.checksum(bytes, offset, IP) !== 0 || wire.checksum(bytes, offset + IP, length - IP) !== 0) return undefined;
  const type = bytes[offset + IP];
  if (type !== ICMP_ECHO_REQUEST && type !== ICMP_ECHO_REPLY) return undefined;
  return {
    type,
    src: wire.readU32(bytes, offset + wire.ipv4.OFF_SRC),
    dst: wire.readU32(bytes, offset + wire.ipv4.OFF_DST),
    id: wire.readU16(bytes, offset + IP + 4),
    seq: wire.readU16(bytes, offset + IP + 6),
    payload: bytes.slice(offset + IP + ICMP_HEADER, offset + length),
  };
}

export { ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST };

/** Sends `chunks` chunks of `chunkBytes` to `dst`, keeping at most `window` unacknowledged. */
export class TransferSender {
  readonly hash: Hash = createHash('sha256');
  private readonly acked: Uint8Array;
  private readonly sentAt: Float64Array;
  private base = 0;
  private next = 0;
  private readonly packet: Uint8Array;
  private readonly words: Uint32Array;
  private readonly chunk: Uint8Array;
  retransmitted = 0;

  constructor(
    private readonly src: number,
    private readonly dst: number,
    readonly chunks: number,
    private readonly chunkBytes: number,
    private readonly window: number,
    private readonly rtoMs: number,
    private readonly seed: number,
  ) {
    if (chunkBytes % 4 !== 0) throw new Error(`chunkBytes ${chunkBytes} must be a multiple of 4`);
    this.acked = new Uint8Array(chunks);
    this.sentAt = new Float64Array(chunks).fill(-1);
    this.packet = new Uint8Array(IP + UDP + DATA_HEADER + chunkBytes);
    this.chunk = new Uint8Array(chunkBytes);
    this.words = new Uint32Array(this.chunk.buffer);
  }

  get done(): boolean {
    return this.base === this.chunks;
  }

  /** Chunk `seq`'s bytes: a xorshift stream seeded by the transfer's seed and the sequence number. */
  private fill(seq: number): void {
    let x = (Math.imul(seq + 1, 0x9e3779b1) ^ this.seed) >>> 0 || 1;
    const w = this.words;
    for (let i = 0; i < w.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      w[i] = x >>> 0;
    }
  }

  private send(seq: number, inject: (bytes: Uint8Array, length: number) => boolean, now: number): boolean {
    this.fill(seq);
    const p = this.packet;
    const udpLength = UDP + DATA_HEADER + this.chunkBytes;
    wire.ipv4.write(p, 0, { totalLength: IP + udpLength, protocol: wire.ipv4.PROTO_UDP, src: this.src, dst: this.dst, dontFragment: true });
    wire.udp.write(p, IP, TRANSFER_PORT, TRANSFER_PORT, udpLength);
    p[IP + UDP] = TYPE_DATA;
    wire.writeU32(p, IP + UDP + 4, seq);
    p.set(this.chunk, IP + UDP + DATA_HEADER);
    wire.udp.fillChecksum(p, 0, IP, udpLength);
    if (!inject(p, IP + udpLength)) return false;
    if (this.sentAt[seq] < 0) this.hash.update(this.chunk);
    else this.retransmitted++;
    this.sentAt[seq] = now;
    return true;
  }

  /** Retransmits what timed out, then sends new chunks the window allows; at most `budget` packets. */
  tick(now: number, budget: number, inject: (bytes: Uint8Array, length: number) => boolean): void {
    let left = budget;
    for (let seq = this.base; seq < this.next && left > 0; seq++) {
      if (this.acked[seq] === 0 && now - this.sentAt[seq] >= this.rtoMs) {
        if (!this.send(seq, inject, now)) return;
        left--;
      }
    }
    while (left > 0 && this.next < this.chunks && this.next < this.base + this.window) {
      if (!this.send(this.next, inject, now)) return;
      this.next++;
      left--;
    }
  }

  /** An ack: marks its chunk and everything before the receiver's next expected one. */
  ack(seq: number, expected: number): void {
    if (seq < this.chunks) this.acked[seq] = 1;
    for (let s = this.base; s < expected && s < this.chunks; s++) this.acked[s] = 1;
    while (this.base < this.chunks && this.acked[this.base] === 1) this.base++;
  }
}

/** Takes chunks in any order, hashes them in sequence order, acks each. */
export class TransferReceiver {
  readonly hash: Hash = createHash('sha256');
  expected = 0;
  duplicates = 0;
  private readonly early = new Map<number, Uint8Array>();
  private readonly ackPacket = new Uint8Array(IP + UDP + ACK_LENGTH);

  constructor(
    private readonly src: number,
    private readonly dst: number,
    readonly chunks: number,
  ) {}

  get done(): boolean {
    return this.expected === this.chunks;
  }

  data(seq: number, bytes: Uint8Array, offset: number, length: number, inject: (bytes: Uint8Array, length: number) => boolean): void {
    if (seq === this.expected) {
      this.hash.update(bytes.subarray(offset, offset + length));
      this.expected++;
      for (let c = this.early.get(this.expected); c !== undefined; c = this.early.get(this.expected)) {
        this.early.delete(this.expected);
        this.hash.update(c);
        this.expected++;
      }
    } else if (seq > this.expected && !this.early.has(seq)) {
      this.early.set(seq, bytes.slice(offset, offset + length));
    } else {
      this.duplicates++;
    }
    const p = this.ackPacket;
    const udpLength = UDP + ACK_LENGTH;
    wire.ipv4.write(p, 0, { totalLength: IP + udpLength, protocol: wire.ipv4.PROTO_UDP, src: this.src, dst: this.dst, dontFragment: true });
    wire.udp.write(p, IP, TRANSFER_PORT, TRANSFER_PORT, udpLength);
    p.fill(0, IP + UDP);
    p[IP + UDP] = TYPE_ACK;
    wire.writeU32(p, IP + UDP + 4, seq);
    wire.writeU32(p, IP + UDP + 8, this.expected);
    wire.udp.fillChecksum(p, 0, IP, udpLength);
    // A lost ack is a lost packet like any other: the sender's timeout covers both.
    inject(p, IP + udpLength);
  }
}

/** A host behind a memory TUN: answers echo requests to `own`, and runs one sender and one receiver. */
export class OverlayHost {
  readonly replies: EchoSeen[] = [];
  badPackets = 0;
  private readonly scratch = new Uint8Array(2048);

  constructor(
    readonly own: number,
    private readonly inject: (bytes: Uint8Array, length: number) => boolean,
    readonly sender?: TransferSender,
    readonly receiver?: TransferReceiver,
  ) {}

  /** Handles one packet the TUN delivered to the host. */
  deliver = (bytes: Uint8Array, offset: number, length: number): void => {
    const protocol = bytes[offset + wire.ipv4.OFF_PROTOCOL];
    if (wire.readU32(bytes, offset + wire.ipv4.OFF_DST) !== this.own) {
      this.badPackets++;
      return;
    }
    if (protocol === wire.ipv4.PROTO_ICMP) {
      const e = parseEcho(bytes, offset, length);
      if (e === undefined) this.badPackets++;
      else if (e.type === ICMP_ECHO_REQUEST) this.inject(this.scratch, echo(this.scratch, ICMP_ECHO_REPLY, this.own, e.src, e.id, e.seq, e.payload));
      else this.replies.push(e);
      return;
    }
    if (protocol !== wire.ipv4.PROTO_UDP || !wire.udp.verifyChecksum(bytes, offset, offset + IP, length - IP)) {
      this.badPackets++;
      return;
    }
    const at = offset + IP + UDP;
    const type = bytes[at];
    if (type === TYPE_DATA && this.receiver !== undefined) {
      this.receiver.data(wire.readU32(bytes, at + 4), bytes, at + DATA_HEADER, length - IP - UDP - DATA_HEADER, this.inject);
    } else if (type === TYPE_ACK && this.sender !== undefined) {
      this.sender.ack(wire.readU32(bytes, at + 4), wire.readU32(bytes, at + 8));
    } else {
      this.badPackets++;
    }
  };
}
