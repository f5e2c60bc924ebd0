/**
 * Receiving: one datagram goes through the checks (size, header, label, MAC,
 * replay window), its body is read by the handler of its type, the records
 * it carries are merged, and then the message acts. One small handler per
 * message type, in a table indexed by the type byte.
 */
import type { ByteReader } from './bytes.js';
import type { DropReason } from './counters.js';
import type { Via } from './delegate.js';
import { SUBS, TOPS } from './digest.js';
import type { EnvelopeReader } from './envelope.js';
import type { Join } from './join.js';
import type { MergeRules } from './merge.js';
import { MSG, readTops } from './messages.js';
import type { NodeCore } from './node-core.js';
import type { Prober } from './probes.js';
import { DEAD, decodeMember, TAG_MEMBER } from './records.js';
import { ReplayGuard } from './replay.js';
import type { Sync } from './sync.js';

/** The parts of a node a message acts on. */
export interface NodeParts {
  readonly core: NodeCore;
  readonly merge: MergeRules;
  readonly probes: Prober;
  readonly sync: Sync;
  readonly join: Join;
}

interface Handler<B> {
  /** Reads the body (it comes before the records); a malformed one sets r.bad. */
  read(r: ByteReader): B;
  /** Its records are sync traffic: merged as 'sync' ('join' while joining), not as gossip. */
  sync?: boolean;
  /** The sender's delegate fingerprint the body carries, to compare with ours. */
  summary?(b: B): number;
  /** What the message does once its records are merged; a drop reason if it is refused. */
  act(p: NodeParts, from: string, b: B): DropReason | undefined;
}

const HANDLERS: (Handler<unknown> | undefined)[] = [];
function on<B>(type: number, h: Handler<B>): void {
  HANDLERS[type] = h as Handler<unknown>;
}

on(MSG.ping, {
  read: (r) => ({ seq: r.u32(), target: r.str(), summary: r.u32() }),
  summary: (b) => b.summary,
  act(p, from, b) {
    // An empty target is a reconnect ping to a seed address: whoever is there answers.
    if (b.target !== p.core.id && b.target !== '') return 'wrongTarget';
    p.core.out.ack(from, b.seq);
    return undefined;
  },
});
on(MSG.pingReq, {
  read: (r) => ({ seq: r.u32(), target: r.str(), targetAddr: r.str() }),
  act: (p, from, b) => void p.probes.relay(from, b.seq, b.target, b.targetAddr),
});
on(MSG.ack, {
  read: (r) => ({ seq: r.u32(), summary: r.u32() }),
  summary: (b) => b.summary,
  act: (p, _from, b) => void p.probes.onAck(b.seq),
});
on(MSG.nack, {
  read: (r) => r.u32(),
  act: (p, _from, seq) => void p.probes.onNack(seq),
});
on(MSG.gossip, { read: () => undefined, act: () => undefined });
on(MSG.records, { read: () => undefined, sync: true, act: () => undefined });
on(MSG.syncTop, {
  read(r) {
    const tops = new Uint32Array(TOPS);
    return { flags: readTops(r, tops), tops };
  },
  sync: true,
  act: (p, from, b) => void p.sync.onTop(from, b.flags, b.tops),
});
on(MSG.syncSub, {
  read(r) {
    const n = r.u8();
    if (n > TOPS) r.bad = true;
    const subs: { top: number; hashes: Uint32Array }[] = [];
    for (let i = 0; i < n && !r.bad; i++) {
      const top = r.u8();
      if (top >= TOPS) r.bad = true;
      const hashes = new Uint32Array(SUBS);
      for (let j = 0; j < SUBS; j++) hashes[j] = r.u32();
      subs.push({ top, hashes });
    }
    return subs;
  },
  act: (p, from, subs) => void p.sync.onSub(from, subs),
});
on(MSG.syncWant, {
  read(r) {
    const n = r.u8();
    if (n > TOPS) r.bad = true;
    const wants = new Uint32Array(TOPS);
    for (let i = 0; i < n && !r.bad; i++) {
      const top = r.u8();
      const mask = r.u32();
      if (top >= TOPS) r.bad = true;
      else wants[top] |= mask;
    }
    return wants;
  },
  act: (p, from, wants) => void p.sync.sendRecords(from, wants),
});
on(MSG.syncDone, {
  read: (r) => ({ agree: r.u8(), summary: r.u32() }),
  act: (p, _from, b) => void p.join.onDone(b.agree, b.summary),
});

export class Dispatcher {
  readonly #p: NodeParts;
  readonly #reader: EnvelopeReader;
  readonly #replay = new ReplayGuard();

  constructor(parts: NodeParts, reader: EnvelopeReader) {
    this.#p = parts;
    this.#reader = reader;
  }

  /** One datagram from `from` (the transport's address of the sender). */
  receive(from: string, data: Uint8Array): void {
    const core = this.#p.core;
    if (!core.running) return;
    core.counters.receivedDatagrams++;
    core.counters.receivedBytes += data.length;
    const r = this.#reader.open(data);
    if (typeof r === 'string') return this.#drop(r);
    const env = this.#reader.env;
    if (env.senderId === core.id) return; // our own datagram (a seed list naming ourselves)
    if (!this.#replay.accept(env.senderId, env.epoch, env.seq, core.now())) return this.#drop('replay');
    const h = HANDLERS[env.type];
    if (h === undefined) return this.#drop('unknownType');
    const body = h.read(r);
    if (r.bad) return this.#drop('malformed');
    const via: Via = h.sync ? (this.#p.join.joining ? 'join' : 'sync') : 'gossip';
    if (!this.#mergeRecords(r, via, from)) return this.#drop('malformed');
    this.#noticeSender(env.senderId, from, h.summary?.(body) ?? -1);
    const refused = h.act(this.#p, from, body);
    if (refused !== undefined) this.#drop(refused);
  }

  /** Forgets the replay windows of senders silent since `before`. */
  sweep(before: number): void {
    this.#replay.sweep(before);
  }

  /** The records section: members merge here, the delegate's records go to it; false when malformed. */
  #mergeRecords(r: ByteReader, via: Via, from: string): boolean {
    const delegate = this.#p.core.delegate;
    const count = r.u8();
    for (let i = 0; i < count && !r.bad; i++) {
      const tag = r.u8();
      if (tag === TAG_MEMBER) {
        const rec = decodeMember(r);
        if (!rec) r.bad = true;
        else this.#p.merge.apply(rec, via, from);
      } else if (delegate && tag === delegate.tag) {
        if (!delegate.merge(r, via)) r.bad = true;
      } else {
        r.bad = true;
      }
    }
    return !r.bad && r.remaining === 0;
  }

  /**
   * A word from a member we hold dead (or do not know): a partition may have healed. A joined node
   * whose delegate fingerprint differs from the sender's (-1: none carried) syncs too.
   */
  #noticeSender(senderId: string, from: string, summary: number): void {
    const { core, sync, join } = this.#p;
    const sender = core.table.get(senderId);
    if (sender === undefined || sender.rec.state >= DEAD) sync.trigger(from);
    else if (summary >= 0 && core.delegate && summary !== core.delegate.summary() && join.done) sync.trigger(from);
  }

  #drop(reason: DropReason): void {
    this.#p.core.counters.dropped[reason]++;
  }
}
