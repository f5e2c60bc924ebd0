/**
 * SWIM's merge rules (memberlist's aliveNode / suspectNode / deadNode): what
 * a member record, heard or decided locally, does to the member table, and
 * how a node refutes news about itself.
 */
import type { Via } from './delegate.js';
import type { NodeCore } from './node-core.js';
import { ALIVE, DEAD, SUSPECT, type MemberRecord } from './records.js';
import type { SuspicionTimers } from './suspicion-timers.js';

export class MergeRules {
  readonly #core: NodeCore;
  readonly #suspicions: SuspicionTimers;
  /** Starts a sync with an address (rate-limited): a member came back. */
  readonly #triggerSync: (addr: string) => void;

  constructor(core: NodeCore, suspicions: SuspicionTimers, triggerSync: (addr: string) => void) {
    this.#core = core;
    this.#suspicions = suspicions;
    this.#triggerSync = triggerSync;
  }

  /** `from`: the address the record came from ('' for local decisions), for direct answers to stale news about us. */
  apply(rec: MemberRecord, via: Via, from = ''): void {
    if (rec.id === this.#core.id) return this.#applySelf(rec, from);
    const cur = this.#core.table.get(rec.id)?.rec;
    switch (rec.state) {
      case ALIVE:
        return this.#alive(rec, cur, via);
      case SUSPECT:
        return this.#suspect(rec, cur, via);
      default:
        return this.#deadOrLeft(rec, cur, via);
    }
  }

  #alive(rec: MemberRecord, cur: MemberRecord | undefined, via: Via): void {
    if (cur && rec.incarnation <= cur.incarnation) return;
    this.#suspicions.clear(rec.id);
    this.#core.table.set(rec, via !== 'join');
    // It came back (a restart, or a healed partition): compare state with it soon.
    if (cur && cur.state !== ALIVE && via !== 'join') this.#triggerSync(rec.addr);
  }

  #suspect(rec: MemberRecord, cur: MemberRecord | undefined, via: Via): void {
    if (!cur || rec.incarnation < cur.incarnation || cur.state >= DEAD) return;
    const table = this.#core.table;
    if (cur.state === SUSPECT) {
      if (this.#suspicions.confirm(rec.id, rec.from) && via !== 'join') this.#core.out.queue.enqueue(rec.id, table.entry(rec).bytes);
      return;
    }
    table.set({ ...rec, addr: cur.addr }, via !== 'join');
    this.#suspicions.start(rec.id, rec.incarnation, rec.from);
  }

  /** DEAD or LEFT. */
  #deadOrLeft(rec: MemberRecord, cur: MemberRecord | undefined, via: Via): void {
    if (!cur || rec.incarnation < cur.incarnation || cur.state >= DEAD) return;
    this.#suspicions.clear(rec.id);
    this.#core.table.set({ ...rec, addr: cur.addr }, via !== 'join');
  }

  /** Someone speaks about us: refute suspicion, death, or an incarnation from before a restart. */
  #applySelf(rec: MemberRecord, from: string): void {
    const core = this.#core;
    const me = core.table.get(core.id)!.rec;
    if (core.leaving) return;
    const stale = rec.state === ALIVE ? rec.incarnation <= me.incarnation : rec.incarnation < me.incarnation;
    if (stale) {
      // The sender accuses an incarnation we already refuted: it missed the refutation, so tell it directly.
      if (rec.state !== ALIVE && from !== '') core.out.record(from, core.table.get(core.id)!.bytes);
      return;
    }
    core.counters.refutations++;
    if (rec.state !== ALIVE) core.awareness.apply(1);
    core.table.set({ id: core.id, addr: core.addr, incarnation: Math.max(rec.incarnation, me.incarnation) + 1, state: ALIVE, from: '' }, true);
    if (rec.state !== ALIVE && from !== '') core.out.record(from, core.table.get(core.id)!.bytes);
  }
}
