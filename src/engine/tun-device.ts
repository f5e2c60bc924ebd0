/**
 * The TUN side of the data plane as the pipelines see it: IP packets in and
 * out, a batch per call. native-tun.ts drives a kernel TUN through the addon;
 * memory-tun.ts keeps packets in queues for tests without root.
 *
 * Contract of every implementation:
 * - Batch-shaped: one call moves a batch; nothing here is called per packet.
 * - Ownership: the caller owns the Batch (batch.ts) and keeps it. A call reads
 *   and writes only the slots and descriptors it names, keeps no reference to
 *   them after it returns, and allocates nothing per packet.
 * - Lengths: read() puts packet i in slot i at i * stride + headroom and
 *   describes it in descriptor i (OFFSET, LENGTH; VERDICT 0 or a negative
 *   verdict; SRC_PORT, SOCKET, OUT_*, GSO_SIZE, FLAGS zeroed or, with `vnet`, GSO_SIZE
 *   and FLAGS from the virtio-net header). A packet longer than the slot's room
 *   is cut to it (the TUN's MTU keeps that from happening). With `vnet` the
 *   virtio-net header sits in the VNET_HDR_LEN bytes before each packet, so
 *   headroom must be at least that. write() and writeCoalesced() send each
 *   descriptor with VERDICT >= 0 (OFFSET, LENGTH) and set VERDICT_WRITE_FAILED
 *   on those that failed; they need the same headroom when `vnet`.
 * - Blocking: read() waits at most `timeoutMs` for a first packet (0: not at
 *   all) and then takes only what is already queued; waitReadable() waits at
 *   most `timeoutMs`. Writes never wait for room: a full queue fails the packet.
 * - Concurrency: one instance per thread. Two threads of one engine may each
 *   hold an instance over the same TUN: then at most one of them reads at a
 *   time (the TUN reader lock, control.ts), while either may write whenever it
 *   likes (the kernel takes concurrent writes). The memory implementation is
 *   for one thread only.
 */
import type { Batch } from './batch.js';

export interface TunDevice {
  /** Packets carry a virtio-net header (offloads on): GSO super-packets may come and go. */
  readonly vnet: boolean;
  /** Reads up to batch.slots packets; returns how many (0 on timeout). */
  read(batch: Batch, timeoutMs: number): number;
  /**
   * Writes the first `count` descriptors' packets one by one. Without `vnet` and with `mtu` > 0, a TCP
   * packet longer than `mtu` (a super-packet that crossed whole) and not marked RX_VERIFY is cut into
   * segments that fit. Returns the packets written.
   */
  write(batch: Batch, count: number, mtu: number): number;
  /**
   * `vnet` only: writes the packets, merging runs of one TCP flow's segments into GSO super-packets;
   * with `verify` each segment's TCP checksum is checked before it is merged. With USO bits in `uso`
   * (TUN_F_USO4/6), runs of one UDP flow's equal-size datagrams merge too (checksums always checked).
   * status[COALESCE_STATUS_MERGED] = super-packets written, [COALESCE_STATUS_MERGED_UDP] = the UDP
   * ones. Returns the packets delivered.
   */
  writeCoalesced(batch: Batch, count: number, verify: boolean, mtu: number, status: Int32Array, uso?: number): number;
  /** Whether a packet is waiting to be read, waiting at most `timeoutMs` for one. */
  waitReadable(timeoutMs: number): boolean;
}
