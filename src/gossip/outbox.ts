/**
 * The outbox: the one envelope a node builds its datagrams in, the broadcast
 * queues whose records ride along, and the small fixed messages (ping, ack,
 * nack, ping-req, gossip, a single record).
 */
import { BroadcastQueue } from './broadcast-queue.js';
import type { GossipCounters } from './counters.js';
import type { EnvelopeWriter } from './envelope.js';
import { MSG } from './messages.js';
import type { LogFn, Transport } from './runtime.js';

export class Outbox {
  readonly env: EnvelopeWriter;
  /** Membership changes. */
  readonly queue = new BroadcastQueue();
  /** The delegate's broadcasts (leases) go first: they are rare, and the data path waits for them. */
  readonly priority = new BroadcastQueue();
  readonly #transport: Transport;
  readonly #counters: GossipCounters;
  readonly #log: LogFn | undefined;
  /** How often each queued broadcast is sent (it grows with the cluster). */
  readonly #limit: () => number;
  /** The delegate's fingerprint that pings and acks carry. */
  readonly #summary: () => number;

  constructor(o: { env: EnvelopeWriter; transport: Transport; counters: GossipCounters; log: LogFn | undefined; limit: () => number; summary: () => number }) {
    this.env = o.env;
    this.#transport = o.transport;
    this.#counters = o.counters;
    this.#log = o.log;
    this.#limit = o.limit;
    this.#summary = o.summary;
  }

  get queueLength(): number {
    return this.queue.size + this.priority.size;
  }

  /** Finishes the datagram begun on `env` (piggybacking queued broadcasts if asked) and sends it. */
  send(addr: string, piggyback: boolean): void {
    const env = this.env;
    if (!env.hasRecordsSection) env.records();
    if (piggyback) {
      if (this.priority.size > 0) this.priority.fill(env, this.#limit());
      if (this.queue.size > 0) this.queue.fill(env, this.#limit());
    }
    const out = env.finish();
    if (!out) {
      this.#log?.('error', 'gossip datagram overflowed; not sent', { addr });
      return;
    }
    this.#counters.sentDatagrams++;
    this.#counters.sentBytes += out.length;
    this.#transport.send(addr, out);
  }

  ping(addr: string, seq: number, target: string): void {
    this.env.begin(MSG.ping).u32(seq);
    this.env.w.str(target);
    this.env.w.u32(this.#summary());
    this.send(addr, true);
  }

  ack(addr: string, seq: number): void {
    this.env.begin(MSG.ack).u32(seq);
    this.env.w.u32(this.#summary());
    this.send(addr, true);
  }

  nack(addr: string, seq: number): void {
    this.env.begin(MSG.nack).u32(seq);
    this.send(addr, true);
  }

  /** Asks the member at `addr` to probe `target` for us. */
  pingReq(addr: string, seq: number, target: string, targetAddr: string): void {
    this.env.begin(MSG.pingReq).u32(seq);
    this.env.w.str(target);
    this.env.w.str(targetAddr);
    this.send(addr, true);
  }

  /** Queued broadcasts only. */
  gossip(addr: string): void {
    this.env.begin(MSG.gossip);
    this.send(addr, true);
  }

  /** One record, straight to one address. */
  record(addr: string, bytes: Uint8Array): void {
    this.env.begin(MSG.gossip);
    this.env.records();
    this.env.add(bytes);
    this.send(addr, false);
  }
}
