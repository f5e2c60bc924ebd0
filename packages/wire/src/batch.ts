/**
 * The batch layout shared with the native addon (native/src/layout.h holds
 * the same numbers; test/native-parity.test.ts checks every one of them
 * against the addon's exported table, src/native/layout.ts).
 *
 * A batch is a slab (one Uint8Array) holding packets at known offsets with
 * headroom before each, and an Int32Array of fixed-stride descriptors. The
 * TypeScript side decides (writes VERDICT, SRC_PORT, SOCKET and the decision
 * flags); the encapsulator, native or this file's reference, writes OUT_OFFSET
 * and OUT_LENGTH.
 */
import { applyTemplate, MAX_HEADER, type OuterTemplate } from './outer.js';
import { WireError } from './fault.js';

/** Words per descriptor. Index descriptors with it, never with a literal: it grows when a field is added. */
export const DESC_STRIDE = 9;
/** Offset of the inner packet in the slab. */
export const DESC_OFFSET = 0;
/** Length of the inner packet. */
export const DESC_LENGTH = 1;
/** >= 0: template (peer) index to encapsulate with; < 0: drop, the value names why. */
export const DESC_VERDICT = 2;
/**
 * Outer UDP source port written into a template's UDP header; 0 keeps the template's. A datagram sent
 * through a socket (payload-only template) leaves with its socket's port instead: see DESC_SOCKET.
 */
export const DESC_SRC_PORT = 3;
/** Written by the encapsulator: where the outer packet starts. */
export const DESC_OUT_OFFSET = 4;
/** Written by the encapsulator: the outer packet's length (0 if not sent). */
export const DESC_OUT_LENGTH = 5;
/** TX: the segment size of a GSO super-packet read from a TUN, 0 for a single packet. */
export const DESC_GSO_SIZE = 6;
/** Per-packet flags: RX_VERIFY on receive; the GSO type, header length and FLAG_SEND_WHOLE on send. */
export const DESC_FLAGS = 7;
/** TX: which socket of the addon's send pool the packet leaves on (so its outer source port); 0 with one socket. */
export const DESC_SOCKET = 8;
/**
 * Receive flag in DESC_FLAGS: the datagram's outer UDP checksum may have been
 * zero (Linux vxlan's default over IPv4), so the inner TCP checksums are
 * verified before segments are merged for the TUN.
 */
export const RX_VERIFY = 1;
/** Send side of DESC_FLAGS, as a TUN read writes it: the virtio-net GSO type in the low byte... */
export const FLAGS_GSO_TYPE_MASK = 0xff;
/** ...and the super-packet's IP + L4 header length from this bit on. */
export const FLAGS_HEADER_LENGTH_SHIFT = 16;
/**
 * Send flag in DESC_FLAGS, the engine's decision: this TCP super-packet may leave whole, as one
 * UDP-tunnel GSO frame, instead of split into datagrams. The addon honours it when it can.
 */
export const FLAG_SEND_WHOLE = 0x100;
/** virtio-net GSO type (linux/virtio_net.h, as it appears under FLAGS_GSO_TYPE_MASK, the ECN bit cleared) of a TCP over IPv4 super-packet. */
export const GSO_TCPV4 = 1;
/** virtio-net GSO type of a TCP over IPv6 super-packet. */
export const GSO_TCPV6 = 4;
/** virtio-net GSO type of a UDP super-packet (USO). */
export const GSO_UDP_L4 = 5;

/** Verdict written by the encapsulator when a packet cannot be encapsulated (no headroom, too long). */
export const VERDICT_ENCAP_FAILED = -1;

/** Bytes per template in a TemplateTable's `bytes`: MAX_HEADER, room for any header image. */
export const TEMPLATE_STRIDE = MAX_HEADER;
/** Words per template in a TemplateTable's `meta`. */
export const META_STRIDE = 4;
/** Index in a template's `meta` words: the header length. */
export const META_HEADER_LENGTH = 0;
/** Index in a template's `meta` words: the outer IP version (0, 4 or 6). */
export const META_IP_VERSION = 1;
/** Index in a template's `meta` words: the template flags (TPL_ETHERNET, TPL_UDP_CHECKSUM). */
export const META_FLAGS = 2;

/** Templates for up to `capacity` peers in two flat arrays, as the addon reads them. */
export class TemplateTable {
  readonly bytes: Uint8Array;
  readonly meta: Int32Array;

  /** `bytes` and `meta` may be given, e.g. views of shared memory; they must hold `capacity` entries. */
  constructor(
    readonly capacity: number,
    bytes?: Uint8Array,
    meta?: Int32Array,
  ) {
    this.bytes = bytes ?? new Uint8Array(capacity * TEMPLATE_STRIDE);
    this.meta = meta ?? TemplateTable.emptyMeta(capacity);
    if (this.bytes.length < capacity * TEMPLATE_STRIDE || this.meta.length < capacity * META_STRIDE) {
      throw new WireError({ code: 'value', field: 'TemplateTable', value: capacity, allowed: 'arrays large enough for the capacity' });
    }
  }

  /** Metadata for `capacity` unset slots: header length -1, which the encapsulators refuse. */
  static emptyMeta(capacity: number, meta: Int32Array<ArrayBufferLike> = new Int32Array(capacity * META_STRIDE)): Int32Array<ArrayBufferLike> {
    for (let i = 0; i < capacity; i++) meta[i * META_STRIDE + META_HEADER_LENGTH] = -1;
    return meta;
  }

  set(index: number, template: OuterTemplate): void {
    if (template.headerLength > TEMPLATE_STRIDE || template.bytes.length !== template.headerLength) {
      throw new WireError({
        code: 'value',
        field: 'template.headerLength',
        value: template.headerLength,
        allowed: `0..${TEMPLATE_STRIDE}, equal to the image's length`,
      });
    }
    if (!Number.isInteger(index) || index < 0 || index >= this.capacity) {
      throw new WireError({ code: 'value', field: 'template index', value: index, allowed: `0..${this.capacity - 1}` });
    }
    this.bytes.fill(0, index * TEMPLATE_STRIDE, (index + 1) * TEMPLATE_STRIDE);
    this.bytes.set(template.bytes, index * TEMPLATE_STRIDE);
    const m = index * META_STRIDE;
    this.meta[m + META_HEADER_LENGTH] = template.headerLength;
    this.meta[m + META_IP_VERSION] = template.ipVersion;
    this.meta[m + META_FLAGS] = template.flags;
  }
}

/**
 * Encapsulates `count` packets described by `desc`, in place. Packets with a
 * negative verdict are skipped (OUT_LENGTH 0). Returns how many were
 * encapsulated. The TypeScript reference for the addon's encapBatch.
 */
export function encapsulateBatch(slab: Uint8Array, desc: Int32Array, count: number, table: TemplateTable): number {
  let done = 0;
  for (let i = 0; i < count; i++) {
    const d = i * DESC_STRIDE;
    const verdict = desc[d + DESC_VERDICT];
    desc[d + DESC_OUT_OFFSET] = 0;
    desc[d + DESC_OUT_LENGTH] = 0;
    if (verdict < 0) continue;
    if (verdict >= table.capacity) {
      desc[d + DESC_VERDICT] = VERDICT_ENCAP_FAILED;
      continue;
    }
    const m = verdict * META_STRIDE;
    const headerLength = table.meta[m + META_HEADER_LENGTH];
    const innerOffset = desc[d + DESC_OFFSET];
    const innerLength = desc[d + DESC_LENGTH];
    const start = applyTemplate(
      slab,
      innerOffset,
      innerLength,
      table.bytes,
      verdict * TEMPLATE_STRIDE,
      headerLength,
      table.meta[m + META_IP_VERSION],
      table.meta[m + META_FLAGS],
      desc[d + DESC_SRC_PORT],
    );
    if (start < 0) {
      desc[d + DESC_VERDICT] = VERDICT_ENCAP_FAILED;
      continue;
    }
    desc[d + DESC_OUT_OFFSET] = start;
    desc[d + DESC_OUT_LENGTH] = headerLength + innerLength;
    done++;
  }
  return done;
}
