/**
 * The running suspicions of a node: one timer per suspect that shortens as
 * independent members confirm (Lifeguard). When it runs out the accusation is
 * put to the suspect itself once more; no refutation within a probe timeout,
 * and the member is declared dead.
 */
import { suspicionTimeout } from './config.js';
import type { NodeCore } from './node-core.js';
import { DEAD, SUSPECT, type MemberRecord } from './records.js';
import { Suspicion } from './suspicion.js';

interface Running {
  s: Suspicion;
  /** The incarnation suspected: a refutation raises it, and the timer then does nothing. */
  inc: number;
  timer: unknown;
}

export class SuspicionTimers {
  readonly #core: NodeCore;
  readonly #declareDead: (rec: MemberRecord) => void;
  readonly #running = new Map<string, Running>();

  /** `declareDead` merges the death record as the node's own news. */
  constructor(core: NodeCore, declareDead: (rec: MemberRecord) => void) {
    this.#core = core;
    this.#declareDead = declareDead;
  }

  start(id: string, inc: number, from: string): void {
    const core = this.#core;
    const c = core.config;
    const n = core.table.liveCount;
    let k = c.suspicionMult - 2;
    if (n - 2 < k) k = 0;
    const min = suspicionTimeout(c.suspicionMult, n, c.probeIntervalMs);
    const s = new Suspicion(k, min, c.suspicionMaxTimeoutMult * min, core.now(), from);
    const timer = core.clock.setTimer(s.timeoutMs(), () => this.#expired(id, inc));
    this.#running.set(id, { s, inc, timer });
  }

  /** A member confirms a running suspicion; true when it was a new, independent one (which shortens the timeout). */
  confirm(id: string, from: string): boolean {
    const r = this.#running.get(id);
    if (!r || !r.s.confirm(from)) return false;
    const clock = this.#core.clock;
    clock.clearTimer(r.timer);
    const left = Math.max(0, r.s.startedAt + r.s.timeoutMs() - this.#core.now());
    r.timer = clock.setTimer(left, () => this.#expired(id, r.inc));
    return true;
  }

  clear(id: string): void {
    const r = this.#running.get(id);
    if (r) {
      this.#core.clock.clearTimer(r.timer);
      this.#running.delete(id);
    }
  }

  stop(): void {
    for (const r of this.#running.values()) this.#core.clock.clearTimer(r.timer);
    this.#running.clear();
  }

  /**
   * The suspicion ran out. Before declaring death, put the accusation to the
   * suspect itself (twice, against loss): if it refuted long ago and we missed
   * it, it answers with its current record within a round trip.
   */
  #expired(id: string, inc: number): void {
    this.#running.delete(id);
    const core = this.#core;
    const e = core.table.get(id);
    if (!core.running || !e || e.rec.state !== SUSPECT || e.rec.incarnation !== inc) return;
    core.out.record(e.rec.addr, e.bytes);
    core.out.record(e.rec.addr, e.bytes);
    const timer = core.clock.setTimer(core.config.probeTimeoutMs, () => this.#dead(id, inc));
    this.#running.set(id, { s: new Suspicion(0, 0, 0, core.now(), core.id), inc, timer });
  }

  #dead(id: string, inc: number): void {
    this.#running.delete(id);
    const core = this.#core;
    const e = core.table.get(id);
    if (!core.running || !e || e.rec.state !== SUSPECT || e.rec.incarnation !== inc) return;
    core.log?.('info', 'member declared dead', { member: id, incarnation: inc });
    this.#declareDead({ id, addr: e.rec.addr, incarnation: inc, state: DEAD, from: core.id });
  }
}
