/**
 * Text forms of addresses, for configuration and display. IPv4 addresses are
 * unsigned 32-bit numbers; IPv6 addresses and MACs are byte arrays. These
 * functions allocate and throw: they run at the edges, never per packet.
 */
import { wireError } from './fault.js';

/** A dotted quad (`198.18.1.2`) as an unsigned 32-bit number. Throws a WireError on anything else. */
export function parseIPv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) throw wireError('value', 'ipv4 address', NaN, `dotted quad like 192.0.2.1, got "${text}"`);
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) {
      throw wireError('value', 'ipv4 address', NaN, `dotted quad like 192.0.2.1, got "${text}"`);
    }
    value = value * 256 + Number(part);
  }
  return value >>> 0;
}

/** An unsigned 32-bit number as a dotted quad. */
export function formatIPv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** Whether `text` is a dotted quad `parseIPv4` accepts. */
export function isIPv4(text: string): boolean {
  try {
    parseIPv4(text);
    return true;
  } catch {
    return false;
  }
}

/** Parses any RFC 4291 text form, including `::` and an embedded dotted quad. */
export function parseIPv6(text: string): Uint8Array {
  const bad = () => wireError('value', 'ipv6 address', NaN, `RFC 4291 text like 2001:db8::1, got "${text}"`);
  const out = new Uint8Array(16);
  const halves = text.split('::');
  if (halves.length > 2 || text.length === 0) throw bad();
  // A dotted quad may only end the address (RFC 4291 §2.2), never precede `::`.
  const groups = (s: string, last: boolean): number[] => {
    if (s === '') return [];
    const words: number[] = [];
    const items = s.split(':');
    items.forEach((item, index) => {
      if (last && index === items.length - 1 && item.includes('.')) {
        if (!isIPv4(item)) throw bad();
        const v4 = parseIPv4(item);
        words.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) throw bad();
        words.push(parseInt(item, 16));
      }
    });
    return words;
  };
  const head = groups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1], true) : [];
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) throw bad();
  const words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  words.forEach((word, i) => {
    out[2 * i] = word >>> 8;
    out[2 * i + 1] = word & 0xff;
  });
  return out;
}

/** RFC 5952 canonical text: lower case, longest zero run compressed. */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[offset + 2 * i] << 8) | bytes[offset + 2 * i + 1]);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}

/** Whether `text` is an IPv6 address `parseIPv6` accepts. */
export function isIPv6(text: string): boolean {
  try {
    parseIPv6(text);
    return true;
  } catch {
    return false;
  }
}

/** A MAC address `aa:bb:cc:dd:ee:ff` as 6 bytes. Throws a WireError on anything else. */
export function parseMac(text: string): Uint8Array {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) {
    throw wireError('value', 'mac address', NaN, `six hex octets like 02:00:5e:00:53:01, got "${text}"`);
  }
  return Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
}

/** The 6 bytes at `offset` as `aa:bb:cc:dd:ee:ff`. */
export function formatMac(bytes: Uint8Array, offset = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(bytes[offset + i].toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** An IP address of either family in its byte form (4 or 16 bytes). */
export function parseIP(text: string): Uint8Array {
  if (text.includes(':')) return parseIPv6(text);
  const v4 = parseIPv4(text);
  return Uint8Array.of(v4 >>> 24, (v4 >>> 16) & 0xff, (v4 >>> 8) & 0xff, v4 & 0xff);
}

/** An address of 4 or 16 bytes as text (dotted quad, or RFC 5952). */
export function formatIP(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  return formatIPv6(bytes);
}
