/**
 * A datagram network in memory, for engines tested without root: binds
 * (bind.ts has the contract) at address:port endpoints, and between them
 * loss, delay, reordering and duplication drawn from a seeded PRNG on an
 * injected clock, so a run replays from its seed (as the gossip simulator's
 * network does).
 *
 * A bind's send() really encapsulates, with wire's applyTemplate and the
 * reader's private route copy, as the addon's txBatch does; the receiving
 * bind gets the outer datagram's payload (udp backend: the IP packet; vxlan:
 * VXLAN header + Ethernet frame) and the sender's address and source port,
 * so decideRx checks them as in production. No offloads: no GRO, and a
 * super-packet is refused (VERDICT_BAD_VNET).
 *
 * Never blocks: receive() and waitReadable() answer at once whatever their
 * timeout, since the clock moves only when its owner moves it. One thread
 * only. Datagram buffers are pooled (packet-queue.ts): a warm network with
 * nothing delayed allocates nothing per datagram.
 */
import { Sfc32 } from '../util/prng.js';
import * as wire from '@tulle/wire';
import type { Batch } from './batch.js';
import { SENT_COALESCED, SENT_DATAGRAMS, SENT_WHOLE, type Bind } from './bind.js';
import type { Clock } from './clock.js';
import type { MemoryTun } from './memory-tun.js';
import { copyBytes, PacketQueue } from './packet-queue.js';
import { ADDR_STRIDE, type SendTable } from './routes.js';
import { VERDICT_BAD_VNET, VERDICT_ENCAP_FAILED, VERDICT_TRUNCATED } from './verdicts.js';
import { BIND_READY, TUN_READY, type WaitEither } from './wait-either.js';

const { DESC_STRIDE, DESC_OFFSET, DESC_LENGTH, DESC_VERDICT, DESC_SRC_PORT, DESC_SOCKET, DESC_OUT_OFFSET, DESC_OUT_LENGTH, DESC_GSO_SIZE, DESC_FLAGS } = wire;
const { TEMPLATE_STRIDE, META_STRIDE, META_HEADER_LENGTH, META_IP_VERSION, META_FLAGS } = wire;

export interface MemoryNetworkOptions {
  clock: Clock;
  seed: number;
  /** Probability that a datagram is lost, 0..1. Default 0. */
  loss?: number;
  /** Probability that a datagram arrives twice, 0..1. Default 0. */
  duplicate?: number;
  /** Probability that a datagram is held back `reorderDelayMs`, so later ones overtake it, 0..1. Default 0. */
  reorder?: number;
  /** One-way delay of every datagram, ms. Default 0. */
  delayMs?: number;
  /** The extra delay of a reordered datagram, ms. Default 1. */
  reorderDelayMs?: number;
  /** The largest datagram payload carried (a link MTU); larger ones are lost. Default 4096. */
  maxDatagram?: number;
  /** Datagrams a bind's receive queue holds (its socket buffer); more are lost. Default 4096. */
  queueLimit?: number;
}

export interface MemoryNetworkStats {
  /** Datagrams binds sent. */
  sent: number;
  /** Put in a receiving bind's queue (a duplicate counts twice); some may still be in flight. */
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  /** Lost because the receiving bind's queue was full. */
  overflowed: number;
  /** Lost because no bind listens at the destination. */
  unreachable: number;
  /** Lost because longer than maxDatagram. */
  oversize: number;
}

export class MemoryNetwork {
  readonly stats: MemoryNetworkStats = { sent: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0, overflowed: 0, unreachable: 0, oversize: 0 };
  readonly clock: Clock;
  loss: number;
  duplicate: number;
  reorder: number;
  delayMs: number;
  reorderDelayMs: number;
  readonly maxDatagram: number;
  readonly queueLimit: number;
  private readonly binds: MemoryBind[] = [];
  private readonly random: Sfc32;

  constructor(o: MemoryNetworkOptions) {
    this.clock = o.clock;
    this.random = new Sfc32(o.seed, 0x6d656d);
    this.loss = probability('loss', o.loss ?? 0);
    this.duplicate = probability('duplicate', o.duplicate ?? 0);
    this.reorder = probability('reorder', o.reorder ?? 0);
    this.delayMs = milliseconds('delayMs', o.delayMs ?? 0);
    this.reorderDelayMs = milliseconds('reorderDelayMs', o.reorderDelayMs ?? 1);
    this.maxDatagram = count('maxDatagram', o.maxDatagram ?? 4096);
    this.queueLimit = count('queueLimit', o.queueLimit ?? 4096);
  }

  /**
   * A bind listening at address:port. With `sourcePorts`, it sends from a pool of that many sockets
   * (DESC_SOCKET picks one), as the vxlan backend does; else from `port`.
   */
  bind(address: string, port: number, sourcePorts: number[] = []): MemoryBind {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`MemoryNetwork.bind: port ${port} is not allowed (1..65535)`);
    for (const p of sourcePorts)
      if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`MemoryNetwork.bind: source port ${p} is not allowed (1..65535)`);
    const bind = new MemoryBind(this, wire.parseIP(address), port, sourcePorts);
    for (const other of this.binds) if (other.matches(bind.family, bind.address, 0, port)) throw new Error(`MemoryNetwork.bind: ${address}:${port} is taken`);
    this.binds.push(bind);
    return bind;
  }

  /** The duplex loop's sleep over a memory TUN and bind: readiness now, without waiting. */
  waitEither(tun: MemoryTun, bind: MemoryBind): WaitEither {
    return { wait: () => (tun.queued > 0 ? TUN_READY : 0) | (bind.waitReadable(0) ? BIND_READY : 0) };
  }

  /** Carries one datagram payload from `from` (source port `srcPort`) to the bind at table[at] (ADDR_STRIDE entry). */
  transmit(from: MemoryBind, srcPort: number, bytes: Uint8Array, offset: number, length: number, table: Uint8Array, at: number): void {
    const s = this.stats;
    s.sent++;
    if (length > this.maxDatagram) {
      s.oversize++;
      return;
    }
    let to: MemoryBind | undefined;
    const family = table[at];
    const port = (table[at + 2] << 8) | table[at + 3];
    for (let i = 0; i < this.binds.length; i++) {
      if (this.binds[i].matches(family, table, at + 4, port)) {
        to = this.binds[i];
        break;
      }
    }
    if (to === undefined) {
      s.unreachable++;
      return;
    }
    if (this.loss > 0 && this.random.next() < this.loss) {
      s.lost++;
      return;
    }
    let when = this.clock.now() + this.delayMs;
    if (this.reorder > 0 && this.random.next() < this.reorder) {
      when += this.reorderDelayMs;
      s.reordered++;
    }
    const copies = this.duplicate > 0 && this.random.next() < this.duplicate ? 2 : 1;
    if (copies === 2) s.duplicated++;
    for (let c = 0; c < copies; c++) {
      if (to.queue.push(bytes, offset, length, when, from, srcPort)) s.delivered++;
      else s.overflowed++;
    }
  }
}

export class MemoryBind implements Bind {
  readonly sockets: number;
  readonly segmentsPerDatagram = 1;
  /** No tunnel TAP here: super-packets never reach a memory bind (offloads are off). */
  readonly wholeFrames = false;
  readonly family: 4 | 6;
  /** @internal the network's delivery queue for this bind. */
  readonly queue: PacketQueue;

  constructor(
    private readonly network: MemoryNetwork,
    readonly address: Uint8Array,
    readonly port: number,
    private readonly sourcePorts: number[],
  ) {
    this.family = address.length === 4 ? 4 : 6;
    this.sockets = Math.max(1, sourcePorts.length);
    this.queue = new PacketQueue(network.queueLimit, network.maxDatagram);
  }

  /** Whether this bind listens at family/address (bytes[offset..]) and `port`; port 0 matches any. */
  matches(family: number, bytes: Uint8Array, offset: number, port: number): boolean {
    if (family !== this.family || (port !== 0 && port !== this.port)) return false;
    for (let i = 0; i < this.address.length; i++) if (bytes[offset + i] !== this.address[i]) return false;
    return true;
  }

  receive(batch: Batch, srcAddrs: Uint8Array, _timeoutMs: number): number {
    const { slab, desc, headroom, stride } = batch;
    const room = stride - headroom;
    const now = this.network.clock.now();
    const limit = batch.slots < batch.descriptors ? batch.slots : batch.descriptors;
    let n = 0;
    while (n < limit && this.queue.ready(now)) {
      const e = this.queue.shift();
      const at = n * stride + headroom;
      const length = e.length < room ? e.length : room;
      copyBytes(slab, at, e.data, 0, length);
      const d = n * DESC_STRIDE;
      desc[d + DESC_OFFSET] = at;
      desc[d + DESC_LENGTH] = length;
      desc[d + DESC_VERDICT] = e.length > room ? VERDICT_TRUNCATED : 0;
      desc[d + DESC_SRC_PORT] = 0;
      desc[d + DESC_SOCKET] = 0;
      desc[d + DESC_OUT_OFFSET] = 0;
      desc[d + DESC_OUT_LENGTH] = 0;
      desc[d + DESC_GSO_SIZE] = 0;
      desc[d + DESC_FLAGS] = 0;
      const sender = e.from as MemoryBind;
      const a = n * ADDR_STRIDE;
      srcAddrs.fill(0, a, a + ADDR_STRIDE);
      srcAddrs[a] = sender.family;
      srcAddrs[a + 2] = e.port >>> 8;
      srcAddrs[a + 3] = e.port & 0xff;
      copyBytes(srcAddrs, a + 4, sender.address, 0, sender.address.length);
      n++;
    }
    return n;
  }

  send(batch: Batch, count: number, table: SendTable, _superPackets: boolean, status: Int32Array): number {
    const { slab, desc } = batch;
    const { addrs, templateBytes, templateMeta } = table;
    const peers = Math.min(addrs.length / ADDR_STRIDE, templateMeta.length / META_STRIDE, templateBytes.length / TEMPLATE_STRIDE);
    let datagrams = 0;
    for (let i = 0; i < count; i++) {
      const d = i * DESC_STRIDE;
      const peer = desc[d + DESC_VERDICT];
      desc[d + DESC_OUT_OFFSET] = 0;
      desc[d + DESC_OUT_LENGTH] = 0;
      if (peer < 0) continue;
      if (desc[d + DESC_GSO_SIZE] > 0) {
        desc[d + DESC_VERDICT] = VERDICT_BAD_VNET;
        continue;
      }
      const socket = this.sockets > 1 ? desc[d + DESC_SOCKET] : 0;
      if (peer >= peers || socket < 0 || socket >= this.sockets || addrs[peer * ADDR_STRIDE] === 0) {
        desc[d + DESC_VERDICT] = VERDICT_ENCAP_FAILED;
        continue;
      }
      const m = peer * META_STRIDE;
      const headerLength = templateMeta[m + META_HEADER_LENGTH];
      const off = desc[d + DESC_OFFSET];
      const len = desc[d + DESC_LENGTH];
      // As txBatch: a pool's socket sets the source port; else SRC_PORT may set it in a full-header template.
      const start = wire.applyTemplate(
        slab,
        off,
        len,
        templateBytes,
        peer * TEMPLATE_STRIDE,
        headerLength,
        templateMeta[m + META_IP_VERSION],
        templateMeta[m + META_FLAGS],
        this.sockets > 1 ? 0 : desc[d + DESC_SRC_PORT],
      );
      if (start < 0) {
        desc[d + DESC_VERDICT] = VERDICT_ENCAP_FAILED;
        continue;
      }
      desc[d + DESC_OUT_OFFSET] = start;
      desc[d + DESC_OUT_LENGTH] = headerLength + len;
      const srcPort = this.sockets > 1 ? this.sourcePorts[socket] : this.port;
      this.network.transmit(this, srcPort, slab, start, headerLength + len, addrs, peer * ADDR_STRIDE);
      datagrams++;
    }
    status[SENT_DATAGRAMS] = datagrams;
    status[SENT_WHOLE] = 0;
    status[SENT_COALESCED] = 0;
    return datagrams;
  }

  waitReadable(_timeoutMs: number): boolean {
    return this.queue.ready(this.network.clock.now());
  }
}

function probability(field: string, value: number): number {
  if (!(value >= 0 && value <= 1)) throw new Error(`MemoryNetwork: ${field} ${value} is not allowed (a probability, 0..1)`);
  return value;
}

function milliseconds(field: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value)) throw new Error(`MemoryNetwork: ${field} ${value} is not allowed (0 or more ms)`);
  return value;
}

function count(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new Error(`MemoryNetwork: ${field} ${value} is not allowed (a positive integer)`);
  return value;
}
