/**
 * A data-plane thread: both directions in one loop (duplex, the default), or
 * TX (TUN → UDP) or RX (UDP → TUN) apart. Each is a tight loop around
 * synchronous native calls that block for at most `pollMs`, so the stop flag
 * is seen within that time. The loop allocates nothing: the slab, descriptors
 * and address table are made once, here.
 *
 * One thread per host is the default because a hand-over between threads costs
 * more than the work it spreads on small machines: a TCP flow's ACKs and the
 * data they release cross from one thread to the other and back, each time
 * with a wake-up. On two cores one thread used 15-20% less CPU for the same
 * or more TCP throughput, with a lower RTT (docs/benchmarks.md).
 *
 * Pipeline per batch:
 *   TX: 1 tunReadBatch → 2 refresh routes → 3 decideTx → 4 txBatch (encapsulate, split GSO, send) → 5 count
 *   RX: 1 udpRecvBatch (GRO segments expanded) → 2 refresh routes → 3 decideRx → 4 tunWriteCoalesced → 5 count
 *
 * With two threads, replies without a wake-up: writing a packet into the TUN runs the kernel's
 * receive path in the same system call, so an answer (an echo reply, a TCP
 * ACK) is often queued on the TUN by the time the write returns. The RX
 * thread then reads it and sends it itself, instead of waking the TX thread
 * for it: one thread wake-up less per round trip. A lock in shared memory
 * (`control[1]`) lets one thread at a time read the TUN and send, so packets
 * of one flow never overtake each other between the two threads, and the TX
 * counters keep a single writer at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadNative } from '../native/load.js';
import * as wire from '../wire/index.js';
import { C } from './counters.js';
import { decideRx, decideTx } from './decide.js';
import {
  COALESCE_STATUS_MERGED, COALESCE_STATUS_WORDS, TX_STATUS_GSO_REFUSED, TX_STATUS_WHOLE_REFUSED, TX_STATUS_WHOLE_SENT, TX_STATUS_WORDS,
} from './batch.js';
import { ADDR_STRIDE, RouteReader, RouteSnapshot } from './routes.js';
import { TooBigResponder } from './too-big.js';
import { VERDICT_BAD_VNET, VERDICT_ENCAP_FAILED, VERDICT_SEND_FAILED, VERDICT_WRITE_FAILED } from './verdicts.js';

export interface WorkerConfig {
  role: 'tx' | 'rx' | 'duplex';
  tunFd: number;
  udpFd: number;
  control: SharedArrayBuffer; // Int32 [0] = stop flag, [1] = TUN reader lock
  counters: SharedArrayBuffer;
  routes: ReturnType<typeof RouteSnapshot.allocate>;
  batch: number;
  headroom: number;
  stride: number;
  pollMs: number;
  mtu: number;
  backend: 'udp' | 'vxlan';
  vni: number;
  subnet: number;
  subnetMask: number;
  /** IPv6 overlay subnet as network words and mask words (all zero without one). */
  subnet6: number[];
  subnet6Mask: number[];
  ipv6: boolean;
  /** The TUN has a virtio-net header (offloads on). */
  vnet: boolean;
  udpGso: boolean;
  udpGro: boolean;
  arenaBytes: number;
  /** RX reads and sends what the TUN holds right after each write (see above). */
  replyInline: boolean;
  /** The sockets outer packets leave on; with more than one, a flow's hash picks (its source port). */
  sendFds: number[];
  /** The ICMP "too big" budget both threads draw on (a TokenBucket; used under the TUN reader lock). */
  tooBigBucket: SharedArrayBuffer;
  /** The tunnel TAP whole super-packets leave through (tunnel-tap.ts), or -1; its txBatch params. */
  tunnelFd: number;
  tunnelParams: number[];
}

const config = workerData as WorkerConfig;
const native = loadNative();
const control = new Int32Array(config.control);
const counters = new Float64Array(config.counters);
const snapshot = new RouteSnapshot(config.routes);
const routes = new RouteReader(snapshot);
const { DESC_STRIDE, DESC_VERDICT, DESC_LENGTH, DESC_OUT_LENGTH } = wire;
const STOP = 0;
const LOCK = 1;
/** Packets the RX thread takes from the TUN after a write: replies, not a bulk transfer (that stays with TX). */
const INLINE_BATCH = 8;
const sendFds = Int32Array.from(config.sendFds);

/** TUN → decide → encapsulate and send, over buffers of its own. */
class TxPipeline {
  private readonly slab: Uint8Array;
  private readonly desc: Int32Array;
  private readonly arena = new Uint8Array(config.arenaBytes);
  private readonly status = new Int32Array(TX_STATUS_WORDS);
  private readonly policy = { mtu: config.mtu, sockets: sendFds.length, whole: config.tunnelFd >= 0 };
  private readonly tooBig = new TooBigResponder(native, config.tunFd, config.vnet, config.mtu, counters, config.tooBigBucket);
  private readonly tunnelParams = Uint8Array.from(config.tunnelParams);
  private options = (config.vnet ? native.layout.TX_VNET : 0) | (config.udpGso ? native.layout.TX_UDP_GSO : 0) |
    (config.tunnelFd >= 0 ? native.layout.TX_WHOLE : 0);

  constructor(private readonly batch: number) {
    this.slab = new Uint8Array(batch * config.stride);
    this.desc = new Int32Array(batch * DESC_STRIDE);
  }

  /** Reads what the TUN holds (waiting at most `timeoutMs`) and sends it. Returns the packets read. */
  run(timeoutMs: number): number {
    const { slab, desc } = this;
    const n = native.tunReadBatch(config.tunFd, slab, desc, this.batch, config.headroom, config.stride, timeoutMs, config.vnet);
    if (n === 0) return 0;
    routes.refresh();
    decideTx(slab, desc, n, routes, this.policy, counters);
    this.tooBig.answer(slab, desc, n);
    // The reader's own copy of the version decideTx used, never the shared snapshot (routes.ts).
    const { addrs, templateBytes, templateMeta } = routes.send;
    const datagrams = native.txBatch(sendFds, slab, desc, n, templateBytes, templateMeta, addrs, this.arena, this.options, this.status,
      config.tunnelFd, this.tunnelParams);
    // The kernel refused UDP_SEGMENT (EIO: a device on the path cannot segment): off for good.
    if (this.status[TX_STATUS_GSO_REFUSED] > 0) this.options &= ~native.layout.TX_UDP_GSO;
    // The TAP refused a whole frame (those packets were split and sent instead): off for good too.
    if (this.status[TX_STATUS_WHOLE_REFUSED] > 0) this.policy.whole = false;
    counters[C.txWhole] += this.status[TX_STATUS_WHOLE_SENT];
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
    return n;
  }
}

function tryLock(): boolean {
  return Atomics.compareExchange(control, LOCK, 0, 1) === 0;
}

function lock(): void {
  while (!tryLock()) Atomics.wait(control, LOCK, 1, 1);
}

function unlock(): void {
  Atomics.store(control, LOCK, 0);
  Atomics.notify(control, LOCK, 1);
}

function txLoop(): void {
  const tx = new TxPipeline(config.batch);
  while (Atomics.load(control, STOP) === 0) {
    // Sleep without the lock, so the RX thread can take a reply meanwhile; then read what is left.
    if (!native.waitReadable(config.tunFd, config.pollMs)) continue;
    lock();
    try {
      tx.run(0);
    } finally {
      unlock();
    }
  }
}

class RxPipeline {
  private readonly slab: Uint8Array;
  private readonly desc: Int32Array;
  private readonly srcAddrs: Uint8Array;
  private readonly descriptors: number;
  private readonly status = new Int32Array(COALESCE_STATUS_WORDS);
  private readonly policy = {
    backend: config.backend, vni: config.vni, subnet: config.subnet, subnetMask: config.subnetMask,
    subnet6: Int32Array.from(config.subnet6), subnet6Mask: Int32Array.from(config.subnet6Mask), ipv6: config.ipv6,
  };

  /** `inline`: the pipeline that sends what the TUN holds right after each write (replyInline). */
  constructor(private readonly inline: TxPipeline | undefined) {
    this.slab = new Uint8Array(config.batch * config.stride);
    // With UDP GRO a received datagram holds up to 64 packets, each with a descriptor of its own.
    this.descriptors = config.udpGro ? config.batch * 64 : config.batch;
    this.desc = new Int32Array(this.descriptors * DESC_STRIDE);
    this.srcAddrs = new Uint8Array(this.descriptors * ADDR_STRIDE);
  }

  /** Receives what the socket holds (waiting at most `timeoutMs`) and writes it to the TUN. Returns the datagrams read. */
  run(timeoutMs: number): number {
    const { slab, desc, srcAddrs, status } = this;
    const n = native.udpRecvBatch(config.udpFd, slab, desc, this.descriptors, config.headroom, config.stride, timeoutMs, srcAddrs, config.udpGro);
    if (n === 0) return 0;
    routes.refresh();
    decideRx(slab, desc, n, srcAddrs, routes, this.policy, counters);
    // udp backend peers send through kernel sockets, so every datagram has a UDP checksum the kernel
    // verified before we saw it. VXLAN over IPv4 often has none (Linux vxlan's default): decideRx marks
    // those packets RX_VERIFY, and their inner TCP checksums are verified before merging.
    const verify = false;
    if (config.vnet) {
      native.tunWriteCoalesced(config.tunFd, slab, desc, n, status, verify, config.mtu);
      counters[C.rxMerged] += status[COALESCE_STATUS_MERGED];
    } else {
      native.tunWriteBatch(config.tunFd, slab, desc, n, false, config.mtu);
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
    if (this.inline !== undefined && packets > 0 && tryLock()) {
      try {
        if (this.inline.run(0) > 0) counters[C.txInline]++;
      } finally {
        unlock();
      }
    }
    return n;
  }
}

function rxLoop(): void {
  const rx = new RxPipeline(config.replyInline ? new TxPipeline(INLINE_BATCH) : undefined);
  while (Atomics.load(control, STOP) === 0) rx.run(config.pollMs);
}

/** One thread for both directions: no hand-over between threads within a host. */
function duplexLoop(): void {
  const tx = new TxPipeline(config.batch);
  const rx = new RxPipeline(undefined);
  while (Atomics.load(control, STOP) === 0) {
    const ready = native.waitEither(config.tunFd, config.udpFd, config.pollMs);
    if (ready === 0) continue;
    // Receive first: what it writes to the TUN often queues replies there, which the TX step then sends.
    if (ready & 2) rx.run(0);
    tx.run(0);
  }
}

try {
  routes.refresh();
  parentPort!.postMessage({ ready: true });
  if (config.role === 'tx') txLoop();
  else if (config.role === 'duplex') duplexLoop();
  else rxLoop();
} catch (error) {
  parentPort!.postMessage({ error: (error as Error).message });
  throw error;
}
