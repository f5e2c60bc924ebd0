/**
 * The socket side of the data plane as the pipelines see it: outer datagrams
 * received with their senders, and decided batches sent to peers. A "bind"
 * as in wireguard-go's conn.Bind. native-bind.ts drives the kernel's UDP
 * sockets through the addon; memory-network.ts carries datagrams between
 * binds in one process for tests without root.
 *
 * Contract of every implementation:
 * - Batch-shaped, and the caller owns the Batch, the sender table and the
 *   status words: as tun-device.ts says. Nothing allocated per datagram.
 * - receive(): datagram i goes to slot i at i * stride + headroom (a datagram
 *   longer than the room is cut and gets VERDICT_TRUNCATED); with UDP GRO a
 *   coalesced datagram becomes one descriptor per segment, inside one slot,
 *   so at most batch.descriptors / segmentsPerDatagram datagrams are taken.
 *   The sender of descriptor i goes to entry i of `srcAddrs` (ADDR_STRIDE
 *   bytes each: [0] family 4|6, [2..3] port big-endian, [4..] address).
 *   Waits at most `timeoutMs` for a first datagram, then takes what is queued.
 * - send(): for each of the first `count` descriptors with VERDICT >= 0,
 *   the packet at OFFSET/LENGTH is encapsulated with template VERDICT of
 *   `table` (in place, in the headroom: the slab is changed) and sent to
 *   address VERDICT of `table`, from socket SOCKET when `sockets` > 1
 *   (decideTx's choice; the socket's port is the outer source port).
 *   `table` must be the reader's private copy (RouteReader.send) of the
 *   version the verdicts were decided with, never the shared snapshot.
 *   OUT_LENGTH gets the bytes sent for the packet; a packet that could not be
 *   encapsulated or sent gets VERDICT_ENCAP_FAILED, VERDICT_SEND_FAILED or
 *   VERDICT_BAD_VNET. With `superPackets` the slab came from a TUN with a
 *   virtio-net header and descriptors with GSO_SIZE > 0 are super-packets:
 *   the bind splits them (or sends them whole) as it can. Offloads the kernel
 *   refuses are turned off for good inside the bind; it never blocks for room
 *   (a full socket buffer fails the datagram).
 * - Concurrency: one instance per thread; two threads may hold instances over
 *   the same sockets (one receives, both may send: the TUN reader lock makes
 *   one sender at a time per flow). The memory implementation is for one
 *   thread only.
 */
import type { Batch } from './batch.js';
import type { SendTable } from './routes.js';

/** status words of Bind.send. */
export const SEND_STATUS_WORDS = 3;
/** Datagrams that left (a super-packet split counts each segment). */
export const SENT_DATAGRAMS = 0;
/** Super-packets that left whole (the tunnel TAP). */
export const SENT_WHOLE = 1;
/** Single datagrams that left inside one UDP_SEGMENT send with others (counted among SENT_DATAGRAMS too). */
export const SENT_COALESCED = 2;

export interface Bind {
  /** Sockets outer packets leave on (decideTx's policy.sockets): 1, or a pool a flow's hash picks from. */
  readonly sockets: number;
  /**
   * Whether a super-packet flagged FLAG_SEND_WHOLE may leave whole now (decideTx's policy.whole): a tunnel TAP
   * is open and has not refused a frame. A flagged packet the bind cannot send whole is split instead.
   */
  readonly wholeFrames: boolean;
  /** Descriptors one received datagram may take: 64 with UDP GRO (its segments), else 1. */
  readonly segmentsPerDatagram: number;
  /** Receives datagrams into `batch`; returns the descriptors written (0 on timeout). */
  receive(batch: Batch, srcAddrs: Uint8Array, timeoutMs: number): number;
  /** Encapsulates and sends a decided batch (see above); status gets SEND_STATUS_WORDS words. Returns datagrams sent. */
  send(batch: Batch, count: number, table: SendTable, superPackets: boolean, status: Int32Array): number;
  /** Whether a datagram is waiting, waiting at most `timeoutMs` for one. */
  waitReadable(timeoutMs: number): boolean;
}
