/**
 * The datagram envelope: header, one message, piggybacked records, MAC.
 *
 *   u8 magic 0x74 | u8 version | u32 label hash | str sender id
 *   | u16+u32 sender epoch (boot time, ms) | u32 sequence | u8 type | body
 *   | u8 record count | records… | 16-byte tag
 *
 * The tag is a MAC (the injected function; HMAC-SHA256 in the real transport)
 * over the cluster label and every byte before it. The label itself is not
 * sent; its hash is, only so a wrong label is counted apart from a forgery.
 * The first key of the ring signs, every key verifies, so keys rotate by
 * adding the new key everywhere, then moving it first, then removing the old.
 * Pure: no I/O, the MAC is a parameter.
 */
import { ByteReader, ByteWriter } from './bytes.js';
import type { DropReason } from './counters.js';
import { hashBytes } from './hash.js';

export const MAGIC = 0x74;
export const VERSION = 1;
export const TAG_BYTES = 16;

/** A MAC over label and data; the first 16 bytes of the result are the tag. */
export type MacFn = (key: Uint8Array, label: Uint8Array, data: Uint8Array) => Uint8Array;

export interface Keyring {
  /** Non-empty; keys[0] signs, all verify. */
  keys: Uint8Array[];
  mac: MacFn;
}

const textEncoder = new TextEncoder();

export class EnvelopeWriter {
  readonly w: ByteWriter;
  readonly #label: Uint8Array;
  readonly #labelHash: number;
  #countAt = -1;
  #count = 0;
  seq = 0;

  constructor(
    maxBytes: number,
    label: string,
    readonly senderId: string,
    readonly epoch: number,
    readonly ring: Keyring,
  ) {
    this.w = new ByteWriter(maxBytes);
    this.#label = textEncoder.encode(label);
    this.#labelHash = hashBytes(this.#label);
  }

  /** Starts a datagram of `type`; write the body into `w`, then call records() and finish(). */
  begin(type: number): ByteWriter {
    const w = this.w;
    w.reset();
    w.u8(MAGIC);
    w.u8(VERSION);
    w.u32(this.#labelHash);
    w.str(this.senderId);
    w.u16(Math.floor(this.epoch / 2 ** 32));
    w.u32(this.epoch % 2 ** 32);
    this.seq = (this.seq + 1) >>> 0;
    w.u32(this.seq);
    w.u8(type);
    this.#countAt = -1;
    return w;
  }

  /** Marks the end of the body; records may follow. */
  records(): void {
    this.#countAt = this.w.pos;
    this.#count = 0;
    this.w.u8(0);
  }

  /** Records added to the datagram being built. */
  get count(): number {
    return this.#count;
  }

  get hasRecordsSection(): boolean {
    return this.#countAt >= 0;
  }

  /** Bytes left for records. */
  get room(): number {
    return this.w.remaining - TAG_BYTES;
  }

  /** Appends one encoded record if it fits; false when it does not. */
  add(record: Uint8Array): boolean {
    if (this.#count === 255 || record.length > this.room) return false;
    this.w.bytes(record);
    this.#count++;
    return true;
  }

  /** Signs and returns a copy of the datagram, or undefined if the body overflowed. */
  finish(): Uint8Array | undefined {
    const w = this.w;
    if (this.#countAt < 0) this.records();
    w.buf[this.#countAt] = this.#count;
    if (w.overflow || w.remaining < TAG_BYTES) return undefined;
    const out = new Uint8Array(w.pos + TAG_BYTES);
    out.set(w.buf.subarray(0, w.pos));
    const tag = this.ring.mac(this.ring.keys[0], this.#label, out.subarray(0, w.pos));
    out.set(tag.subarray(0, TAG_BYTES), w.pos);
    return out;
  }
}

/** What the envelope says; filled by EnvelopeReader.open(). */
export interface Envelope {
  senderId: string;
  epoch: number;
  seq: number;
  type: number;
}

export class EnvelopeReader {
  readonly #label: Uint8Array;
  readonly #labelHash: number;
  readonly env: Envelope = { senderId: '', epoch: 0, seq: 0, type: 0 };

  constructor(
    readonly maxBytes: number,
    label: string,
    readonly ring: Keyring,
  ) {
    this.#label = textEncoder.encode(label);
    this.#labelHash = hashBytes(this.#label);
  }

  /**
   * Checks size, header, label and MAC. On success fills `env` and returns a
   * reader positioned at the body (its end excludes the tag); otherwise the drop reason.
   */
  open(data: Uint8Array): ByteReader | DropReason {
    if (data.length > this.maxBytes) return 'oversize';
    if (data.length < 2 + 4 + 1 + 10 + 1 + 1 + TAG_BYTES) return 'malformed';
    if (data[0] !== MAGIC || data[1] !== VERSION) return 'badVersion';
    const end = data.length - TAG_BYTES;
    const r = new ByteReader(data, 2, end);
    if (r.u32() !== this.#labelHash) return 'wrongLabel';
    const signed = data.subarray(0, end);
    const tag = data.subarray(end);
    let ok = false;
    for (const key of this.ring.keys) {
      if (equal16(this.ring.mac(key, this.#label, signed), tag)) {
        ok = true;
        break;
      }
    }
    if (!ok) return 'badMac';
    const env = this.env;
    env.senderId = r.str();
    env.epoch = r.u16() * 2 ** 32 + r.u32();
    env.seq = r.u32();
    env.type = r.u8();
    if (r.bad || env.senderId === '') return 'malformed';
    return r;
  }
}

/** Compares the first 16 bytes without an early exit. */
function equal16(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length < TAG_BYTES || b.length < TAG_BYTES) return false;
  let d = 0;
  for (let i = 0; i < TAG_BYTES; i++) d |= a[i] ^ b[i];
  return d === 0;
}
