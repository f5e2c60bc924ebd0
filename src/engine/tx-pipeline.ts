/**
 * TX, TUN → peers, one batch per run():
 *   1 tun.read → 2 refresh routes → 3 decideTx → 4 ICMP "too big" answers → 5 bind.send (encapsulate, split
 *   super-packets, send) → 6 count → 7 after a full batch, maybe let others run (backlog-yield.ts).
 * Buffers are its own, made once: nothing is allocated per packet or per batch.
 */
import * as wire from '@tulle/wire';
import type { BacklogYield } from './backlog-yield.js';
import { Batch } from './batch.js';
import { SEND_STATUS_WORDS, SENT_COALESCED, SENT_WHOLE, type Bind } from './bind.js';
import type { Clock } from './clock.js';
import { C } from './counters.js';
import { decideTx, type TxPolicy } from './decide.js';
import type { RouteReader } from './routes.js';
import { TooBigResponder } from './too-big.js';
import type { TunDevice } from './tun-device.js';
import { VERDICT_BAD_VNET, VERDICT_ENCAP_FAILED, VERDICT_SEND_FAILED } from './verdicts.js';

const { DESC_STRIDE, DESC_VERDICT, DESC_OUT_LENGTH } = wire;

export interface TxOptions {
  /** Packets per batch. */
  batch: number;
  /** Bytes before each packet for the outer headers (and a virtio-net header). */
  headroom: number;
  /** Bytes per slot: headroom + the largest packet the TUN hands over. */
  stride: number;
  /** Overlay MTU: larger packets are dropped and answered with ICMP "too big". */
  mtu: number;
  /** The engine's ICMP budget (TokenBucket.allocate()), shared by every TX pipeline of the engine. */
  tooBigBucket: SharedArrayBuffer;
  /** The thread's yield policy for full batches; absent: never yields (the RX thread's inline replies). */
  backlogYield?: BacklogYield;
}

export class TxPipeline {
  private readonly batch: Batch;
  private readonly status = new Int32Array(SEND_STATUS_WORDS);
  private readonly policy: TxPolicy;
  private readonly tooBig: TooBigResponder;
  private readonly backlogYield: BacklogYield | undefined;

  constructor(
    private readonly tun: TunDevice,
    private readonly bind: Bind,
    /** This thread's reader, shared with its RX pipeline. */
    private readonly routes: RouteReader,
    /** This thread's slots of the engine's counters (counters.ts). */
    private readonly counters: Float64Array,
    clock: Clock,
    options: TxOptions,
  ) {
    this.batch = new Batch(options.batch, options.batch, options.headroom, options.stride);
    this.backlogYield = options.backlogYield;
    this.policy = { mtu: options.mtu, sockets: bind.sockets, whole: bind.wholeFrames };
    this.tooBig = new TooBigResponder(tun, clock, options.mtu, counters, options.tooBigBucket);
  }

  /** Reads what the TUN holds (waiting at most `timeoutMs`) and sends it. Returns the packets read. */
  run(timeoutMs: number): number {
    const { batch, counters, routes, status } = this;
    const n = this.tun.read(batch, timeoutMs);
    if (n === 0) return 0;
    routes.refresh();
    // The bind turns whole frames off for good once the TAP refuses one: decide with what it can do now.
    this.policy.whole = this.bind.wholeFrames;
    const { slab, desc } = batch;
    decideTx(slab, desc, n, routes, this.policy, counters);
    this.tooBig.answer(slab, desc, n);
    // The reader's own copy of the version decideTx used, never the shared snapshot (routes.ts).
    const datagrams = this.bind.send(batch, n, routes.send, this.tun.vnet, status);
    counters[C.txWhole] += status[SENT_WHOLE];
    counters[C.txCoalesced] += status[SENT_COALESCED];
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const v = desc[i * DESC_STRIDE + DESC_VERDICT];
      if (v >= 0) bytes += desc[i * DESC_STRIDE + DESC_OUT_LENGTH];
      else if (v === VERDICT_SEND_FAILED) counters[C.sendErrors]++;
      else if (v === VERDICT_ENCAP_FAILED) counters[C.encapErrors]++;
      else if (v === VERDICT_BAD_VNET) counters[C.dropMalformed]++;
    }
    counters[C.txPackets] += datagrams;
    counters[C.txBytes] += bytes;
    counters[C.txBatches]++;
    if (n === batch.slots && this.backlogYield?.afterFullBatch()) counters[C.txYields]++;
    return n;
  }
}
