/**
 * The batch the data plane hands the addon: the slab and its descriptors
 * (the descriptor fields are in packages/wire/src/batch.ts, re-exported here), the peer
 * address table, txBatch's options and the status words the I/O calls write
 * back. The same numbers are in native/src/layout.h;
 * test/native-parity.test.ts compares them all.
 */
import { DESC_STRIDE } from '@tulle/wire';

export {
  DESC_STRIDE,
  DESC_OFFSET,
  DESC_LENGTH,
  DESC_VERDICT,
  DESC_SRC_PORT,
  DESC_OUT_OFFSET,
  DESC_OUT_LENGTH,
  DESC_GSO_SIZE,
  DESC_FLAGS,
  DESC_SOCKET,
  RX_VERIFY,
  FLAGS_GSO_TYPE_MASK,
  FLAGS_HEADER_LENGTH_SHIFT,
  FLAG_SEND_WHOLE,
  GSO_TCPV4,
  GSO_TCPV6,
  GSO_UDP_L4,
} from '@tulle/wire';

/**
 * Address table: one ADDR_STRIDE-byte entry per peer (txBatch's `addrs`) or per received datagram
 * (udpRecvBatch's `srcAddrs`): the family (4 or 6), flags, the port (big-endian) and the address
 * (IPv4 in its first 4 bytes).
 */
export const ADDR_STRIDE = 20;
export const ADDR_FAMILY = 0;
export const ADDR_FLAGS = 1;
export const ADDR_PORT = 2;
export const ADDR_ADDRESS = 4;
/**
 * Address flag: the peer is a tulle host. Its datagrams always carry an outer UDP checksum, and it trusts
 * ours, so it may be sent whole super-packets (decideTx sets FLAG_SEND_WHOLE only for such peers).
 */
export const ADDR_CHECKSUMMED = 1;

/** txBatch options: UDP_SEGMENT sends, for split super-packets and for runs of equal-length single datagrams to one peer. */
export const TX_UDP_GSO = 1;
/** txBatch options: the slab was read from a TUN with a virtio-net header (super-packets possible). */
export const TX_VNET = 2;
/** txBatch options: `tunnelFd` and `tunnelParams` are given, for packets flagged FLAG_SEND_WHOLE. */
export const TX_WHOLE = 4;

/** txBatch status words, rewritten by each call: datagrams sent (also the return value). */
export const TX_STATUS_SENT = 0;
/** UDP_SEGMENT sends the kernel refused (EIO/EINVAL: a device on the path cannot segment). */
export const TX_STATUS_GSO_REFUSED = 1;
/** Whole frames the TAP refused; those packets were split and sent as usual. */
export const TX_STATUS_WHOLE_REFUSED = 2;
/** Super-packets sent whole. */
export const TX_STATUS_WHOLE_SENT = 3;
/** Single datagrams that left inside a UDP_SEGMENT send of several (a run to one peer, one length, one socket). */
export const TX_STATUS_COALESCED = 4;
export const TX_STATUS_WORDS = 5;
/** tunWriteCoalesced status words: super-packets written (TCP and UDP)... */
export const COALESCE_STATUS_MERGED = 0;
/** ...and of them, UDP super-packets (USO). */
export const COALESCE_STATUS_MERGED_UDP = 1;
export const COALESCE_STATUS_WORDS = 2;

/** Bytes of the virtio-net header before each packet read from (or written to) a TUN that has one. */
export const VNET_HDR_LEN = 10;
/** Most sockets a txBatch send pool may hold. */
export const MAX_SOCKETS = 64;
/**
 * Bytes of txBatch's `tunnelParams`: [0..5] the TAP's MAC, [6..9] our underlay IPv4 address, [10..11] the
 * listening port, then the source-port pool's ports (all big-endian), one per socket of `fds`.
 */
export const TUNNEL_PARAMS_BYTES = 12 + 2 * MAX_SOCKETS;

/**
 * A batch's memory: the slab its packets sit in and their descriptors.
 * Made once by a pipeline and reused for every batch; the TUN and socket
 * sides (tun-device.ts, bind.ts) fill and read it but never keep it.
 *
 * Slot i starts at i * stride; its packet starts `headroom` bytes in, so the
 * outer headers (and a virtio-net header) can be written in front of it in
 * place. `descriptors` may exceed `slots`: with UDP GRO one received datagram
 * becomes one descriptor per segment, all inside one slot.
 */
export class Batch {
  readonly slab: Uint8Array;
  readonly desc: Int32Array;

  constructor(
    /** Packets (or received datagrams) the slab holds. */
    readonly slots: number,
    /** Descriptors: at least `slots`. */
    readonly descriptors: number,
    readonly headroom: number,
    readonly stride: number,
  ) {
    for (const [field, value] of [
      ['slots', slots],
      ['descriptors', descriptors],
      ['headroom', headroom],
      ['stride', stride],
    ] as const) {
      if (!Number.isInteger(value) || value < 0) throw new Error(`Batch: ${field} ${value} is not allowed (a non-negative integer)`);
    }
    if (slots < 1) throw new Error(`Batch: slots ${slots} is not allowed (at least 1)`);
    if (descriptors < slots) throw new Error(`Batch: descriptors ${descriptors} is not allowed (at least slots, ${slots})`);
    if (headroom >= stride) throw new Error(`Batch: headroom ${headroom} is not allowed (less than stride, ${stride})`);
    this.slab = new Uint8Array(slots * stride);
    this.desc = new Int32Array(descriptors * DESC_STRIDE);
  }

  /** Bytes a slot has for its packet. */
  get room(): number {
    return this.stride - this.headroom;
  }
}
