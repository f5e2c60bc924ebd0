/**
 * A byte writer and reader for the gossip codec. The reader never throws:
 * a read past the end sets `bad` and returns zeros, so a malformed datagram
 * costs one check at the end of a parse instead of an exception per packet.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** Writes into a caller-owned buffer; `overflow` is set instead of growing. */
export class ByteWriter {
  readonly buf: Uint8Array;
  readonly view: DataView;
  pos = 0;
  overflow = false;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  reset(): void {
    this.pos = 0;
    this.overflow = false;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  #room(n: number): boolean {
    if (this.pos + n > this.buf.length) {
      this.overflow = true;
      return false;
    }
    return true;
  }

  u8(v: number): void {
    if (this.#room(1)) this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    if (this.#room(2)) {
      this.view.setUint16(this.pos, v);
      this.pos += 2;
    }
  }

  u32(v: number): void {
    if (this.#room(4)) {
      this.view.setUint32(this.pos, v >>> 0);
      this.pos += 4;
    }
  }

  f64(v: number): void {
    if (this.#room(8)) {
      this.view.setFloat64(this.pos, v);
      this.pos += 8;
    }
  }

  bytes(b: Uint8Array): void {
    if (this.#room(b.length)) {
      this.buf.set(b, this.pos);
      this.pos += b.length;
    }
  }

  /** A string of at most 255 UTF-8 bytes, length-prefixed. */
  str(s: string): void {
    // ASCII fast path: ids and addresses are ASCII in practice.
    let ascii = s.length <= 255;
    for (let i = 0; ascii && i < s.length; i++) if (s.charCodeAt(i) > 127) ascii = false;
    if (ascii) {
      if (!this.#room(1 + s.length)) return;
      this.buf[this.pos++] = s.length;
      for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
      return;
    }
    const b = encoder.encode(s);
    if (b.length > 255) {
      this.overflow = true;
      return;
    }
    this.u8(b.length);
    this.bytes(b);
  }

  /** A copy of what was written. */
  take(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export class ByteReader {
  buf: Uint8Array;
  view: DataView;
  pos: number;
  end: number;
  bad = false;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  #need(n: number): boolean {
    if (this.pos + n > this.end) {
      this.bad = true;
      this.pos = this.end;
      return false;
    }
    return true;
  }

  u8(): number {
    return this.#need(1) ? this.buf[this.pos++] : 0;
  }

  u16(): number {
    if (!this.#need(2)) return 0;
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    if (!this.#need(4)) return 0;
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  f64(): number {
    if (!this.#need(8)) return 0;
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }

  bytes(n: number): Uint8Array {
    if (!this.#need(n)) return new Uint8Array(0);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  str(): string {
    const n = this.u8();
    if (!this.#need(n)) return '';
    let ascii = true;
    for (let i = 0; i < n; i++)
      if (this.buf[this.pos + i] > 127) {
        ascii = false;
        break;
      }
    let s: string;
    if (ascii) {
      s = '';
      for (let i = 0; i < n; i++) s += String.fromCharCode(this.buf[this.pos + i]);
    } else {
      s = decoder.decode(this.buf.subarray(this.pos, this.pos + n));
    }
    this.pos += n;
    return s;
  }
}
