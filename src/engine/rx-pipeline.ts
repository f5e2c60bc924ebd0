/**
 * RX, peers → TUN, one batch per run():
 *   1 bind.receive (GRO segments expanded) → 2 refresh routes → 3 decideRx → 4 tun.writeCoalesced (or write
 *   without a virtio-net header) → 5 count → 6 optionally, send the replies the write provoked (inline).
 * Buffers are its own, made once: nothing is allocated per packet or per batch.
 */
import * as wire from '@tulle/wire';
import { Batch, COALESCE_STATUS_MERGED, COALESCE_STATUS_MERGED_UDP, COALESCE_STATUS_WORDS } from './batch.js';
import type { Bind } from './bind.js';
import type { Control } from './control.js';
import { C } from './counters.js';
import { decideRx, type RxPolicy } from './decide.js';
import { ADDR_STRIDE, type RouteReader } from './routes.js';
import type { TunDevice } from './tun-device.js';
import type { TxPipeline } from './tx-pipeline.js';
import { VERDICT_WRITE_FAILED } from './verdicts.js';

const { DESC_STRIDE, DESC_VERDICT, DESC_LENGTH } = wire;

export interface RxOptions {
  /** Datagrams per batch. */
  batch: number;
  headroom: number;
  stride: number;
  /** Overlay MTU: a super-packet that crossed whole is cut to it on the way into the TUN. */
  mtu: number;
  /**
   * TUN_F_USO4 / TUN_F_USO6 as the TUN accepted them (and offloads.uso allows): runs of equal-size datagrams
   * of one UDP flow go into the TUN as one USO super-packet. 0: one write per datagram.
   */
  uso: number;
}

/**
 * Replies without a wake-up (two threads): writing into the TUN runs the kernel's receive path in the
 * same system call, so an answer (an echo reply, a TCP ACK) is often queued on the TUN when the write
 * returns. The RX thread then reads and sends it itself with `tx`, when it gets the TUN reader lock.
 */
export interface ReplyInline {
  tx: TxPipeline;
  control: Control;
}

export class RxPipeline {
  private readonly batch: Batch;
  private readonly srcAddrs: Uint8Array;
  private readonly status = new Int32Array(COALESCE_STATUS_WORDS);

  constructor(
    private readonly tun: TunDevice,
    private readonly bind: Bind,
    private readonly routes: RouteReader,
    private readonly counters: Float64Array,
    private readonly policy: RxPolicy,
    private readonly options: RxOptions,
    private readonly inline?: ReplyInline,
  ) {
    const descriptors = options.batch * bind.segmentsPerDatagram;
    this.batch = new Batch(options.batch, descriptors, options.headroom, options.stride);
    this.srcAddrs = new Uint8Array(descriptors * ADDR_STRIDE);
  }

  /** Receives what the socket holds (waiting at most `timeoutMs`) and writes it to the TUN. Returns the descriptors read. */
  run(timeoutMs: number): number {
    const { batch, counters, status } = this;
    const n = this.bind.receive(batch, this.srcAddrs, timeoutMs);
    if (n === 0) return 0;
    this.routes.refresh();
    const { slab, desc } = batch;
    decideRx(slab, desc, n, this.srcAddrs, this.routes, this.policy, counters);
    if (this.tun.vnet) {
      // udp backend peers send through kernel sockets, so every datagram has a UDP checksum the kernel
      // verified before we saw it. VXLAN over IPv4 often has none (Linux vxlan's default): decideRx marks
      // those packets RX_VERIFY, and their inner TCP checksums are verified before merging. Inner UDP
      // checksums are verified before every merge.
      this.tun.writeCoalesced(batch, n, false, this.options.mtu, status, this.options.uso);
      counters[C.rxMerged] += status[COALESCE_STATUS_MERGED];
      counters[C.rxMergedUdp] += status[COALESCE_STATUS_MERGED_UDP];
    } else {
      this.tun.write(batch, n, this.options.mtu);
    }
    let packets = 0;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const v = desc[i * DESC_STRIDE + DESC_VERDICT];
      if (v >= 0) {
        packets++;
        bytes += desc[i * DESC_STRIDE + DESC_LENGTH];
      } else if (v === VERDICT_WRITE_FAILED) counters[C.writeErrors]++;
    }
    counters[C.rxPackets] += packets;
    counters[C.rxBytes] += bytes;
    counters[C.rxBatches]++;
    const inline = this.inline;
    if (inline !== undefined && packets > 0 && inline.control.tryLock()) {
      try {
        if (inline.tx.run(0) > 0) counters[C.txInline]++;
      } finally {
        inline.control.unlock();
      }
    }
    return n;
  }
}
