/**
 * What every part of a gossip node reads: who it is, its settings and seams,
 * the member table, the outbox, and whether it runs. The parts (probes,
 * suspicions, merge rules, sync, join, dispatch) each keep their own state;
 * node.ts wires them to one another.
 */
import { retransmitLimit, type GossipConfig } from './config.js';
import { newCounters, type GossipCounters } from './counters.js';
import type { RecordDelegate } from './delegate.js';
import type { EnvelopeWriter } from './envelope.js';
import { MemberTable, type ConvergedMembers } from './member-table.js';
import { Outbox } from './outbox.js';
import type { Random } from '../util/prng.js';
import type { MemberRecord } from './records.js';
import type { Clock, LogFn, ProbeObserver, Transport } from './runtime.js';
import { Awareness } from './suspicion.js';

export interface NodeCoreOptions {
  id: string;
  addr: string;
  config: GossipConfig;
  clock: Clock;
  transport: Transport;
  random: Random;
  env: EnvelopeWriter;
  /** Seed addresses, own address left out. */
  seeds: string[];
  base: ConvergedMembers | undefined;
  log: LogFn | undefined;
  onMember: ((rec: MemberRecord, prev: MemberRecord | undefined) => void) | undefined;
}

export class NodeCore {
  readonly id: string;
  readonly addr: string;
  readonly config: GossipConfig;
  readonly clock: Clock;
  readonly rng: Random;
  readonly log: LogFn | undefined;
  readonly counters: GossipCounters = newCounters();
  readonly awareness: Awareness;
  readonly out: Outbox;
  readonly table: MemberTable;
  running = false;
  leaving = false;
  delegate: RecordDelegate | undefined;
  probeObserver: ProbeObserver | undefined;

  constructor(o: NodeCoreOptions) {
    this.id = o.id;
    this.addr = o.addr;
    this.config = o.config;
    this.clock = o.clock;
    this.rng = o.random;
    this.log = o.log;
    this.awareness = new Awareness(o.config.awarenessMaxMultiplier);
    this.out = new Outbox({
      env: o.env,
      transport: o.transport,
      counters: this.counters,
      log: o.log,
      limit: () => retransmitLimit(this.config.retransmitMult, this.table.liveCount),
      summary: () => this.summary(),
    });
    this.table = new MemberTable({
      selfId: o.id,
      seeds: o.seeds,
      clock: o.clock,
      random: o.random,
      queue: this.out.queue,
      base: o.base,
      onMember: o.onMember,
    });
  }

  now(): number {
    return this.clock.now();
  }

  /** The delegate's fingerprint (0 without one), as pings, acks and join answers carry it. */
  summary(): number {
    return this.delegate ? this.delegate.summary() >>> 0 : 0;
  }
}
