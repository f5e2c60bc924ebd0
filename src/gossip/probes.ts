/**
 * SWIM probes: one member per protocol period, round robin over a fresh
 * random permutation per round; indirect probes through others when the
 * direct one goes unanswered; probes relayed for others; suspicion of a
 * member that stays silent to all of them.
 */
import type { MemberEntry } from './member-table.js';
import type { MergeRules } from './merge.js';
import type { NodeCore } from './node-core.js';
import { ALIVE, SUSPECT, type MemberRecord } from './records.js';

interface Probe {
  own: boolean;
  target: string;
  acked: boolean;
  /** The probe timeout passed without an ack (what the probe observer counts as a loss). */
  missed: boolean;
  nacks: number;
  expectedNacks: number;
  timers: unknown[];
  /** Relay: who asked, and their sequence number. */
  relayTo: string;
  relaySeq: number;
}

export class Prober {
  readonly #core: NodeCore;
  readonly #merge: MergeRules;
  readonly #probes = new Map<number, Probe>();
  #seq = 0;
  // Probe order: a pseudo-random permutation of the member slots per round.
  #permLen = 0;
  #permI = 0;
  #permOffset = 0;
  #permStride = 1;

  constructor(core: NodeCore, merge: MergeRules) {
    this.#core = core;
    this.#merge = merge;
  }

  /** Probes the next live member of this round, if there is one. */
  probeNext(): void {
    const target = this.#nextTarget();
    if (target) this.#probe(target.rec);
  }

  /** A ping-req: probe `target` for `requester`, and nack if it stays silent to us too (Lifeguard). */
  relay(requester: string, seq: number, target: string, targetAddr: string): void {
    const core = this.#core;
    const [mySeq, p] = this.#newProbe(false, target);
    p.relayTo = requester;
    p.relaySeq = seq;
    core.out.ping(targetAddr, mySeq, target);
    p.timers.push(
      core.clock.setTimer(core.config.probeTimeoutMs, () => {
        if (p.acked || !core.running) return;
        core.out.nack(requester, seq);
      }),
    );
    p.timers.push(core.clock.setTimer(core.config.probeIntervalMs, () => this.#probes.delete(mySeq)));
  }

  onAck(seq: number): void {
    const p = this.#probes.get(seq);
    if (!p || p.acked) return;
    p.acked = true;
    const core = this.#core;
    if (p.own) {
      if (!p.missed) core.probeObserver?.acked(seq);
      core.awareness.apply(-1);
      for (const t of p.timers) core.clock.clearTimer(t);
      this.#probes.delete(seq);
    } else {
      core.out.ack(p.relayTo, p.relaySeq);
    }
  }

  onNack(seq: number): void {
    const p = this.#probes.get(seq);
    if (p && p.own) p.nacks++;
  }

  stop(): void {
    for (const p of this.#probes.values()) for (const t of p.timers) this.#core.clock.clearTimer(t);
    this.#probes.clear();
  }

  #nextTarget(): MemberEntry | undefined {
    const core = this.#core;
    const members = core.table.members;
    const slots = members.slots;
    for (let tries = 0; tries <= slots; tries++) {
      if (this.#permI >= this.#permLen) this.#newRound();
      if (this.#permLen === 0) return undefined;
      const key = members.keyAt((this.#permOffset + this.#permI * this.#permStride) % this.#permLen);
      this.#permI++;
      if (key === core.id) continue;
      const e = members.get(key);
      if (e && e.rec.state <= SUSPECT) return e;
    }
    return undefined;
  }

  /** A new permutation of the slots: random offset, random stride coprime to the length. */
  #newRound(): void {
    const rng = this.#core.rng;
    const n = this.#core.table.members.slots;
    this.#permLen = n;
    this.#permI = 0;
    this.#permOffset = n > 0 ? rng.int(n) : 0;
    let s = 1;
    if (n > 2) {
      do s = 1 + rng.int(n - 1);
      while (gcd(s, n) !== 1);
    }
    this.#permStride = s;
  }

  #newProbe(own: boolean, target: string): [number, Probe] {
    this.#seq = (this.#seq + 1) >>> 0;
    const p: Probe = { own, target, acked: false, missed: false, nacks: 0, expectedNacks: 0, timers: [], relayTo: '', relaySeq: 0 };
    this.#probes.set(this.#seq, p);
    return [this.#seq, p];
  }

  #probe(target: MemberRecord): void {
    const core = this.#core;
    core.counters.probes++;
    const [seq, p] = this.#newProbe(true, target.id);
    core.out.ping(target.addr, seq, target.id);
    core.probeObserver?.sent(seq, target.addr);
    p.timers.push(core.clock.setTimer(core.config.probeTimeoutMs, () => this.#noDirectAck(p, seq, target)));
    // End of the protocol period (stretched when we are unhealthy): suspect it.
    p.timers.push(core.clock.setTimer(core.awareness.scale(core.config.probeIntervalMs) - 1, () => this.#periodEnd(p, seq, target)));
  }

  /**
   * No direct ack in time: ask k others to probe it (they nack if they get nothing either),
   * and ping it once more ourselves: memberlist's TCP fallback, over the one transport we have.
   */
  #noDirectAck(p: Probe, seq: number, target: MemberRecord): void {
    const core = this.#core;
    if (p.acked || !core.running) return;
    p.missed = true;
    core.probeObserver?.missed(seq);
    core.out.ping(target.addr, seq, target.id);
    const helpers = core.table.pickRandom(core.config.indirectChecks, (e) => e.rec.state === ALIVE && e.rec.id !== target.id);
    for (const h of helpers) core.out.pingReq(h.rec.addr, seq, target.id, target.addr);
    p.expectedNacks = helpers.length;
  }

  #periodEnd(p: Probe, seq: number, target: MemberRecord): void {
    const core = this.#core;
    this.#probes.delete(seq);
    if (p.acked || !core.running) return;
    core.counters.probesFailed++;
    // Missing nacks mean our own link may be the problem (Lifeguard).
    core.awareness.apply(p.expectedNacks > 0 ? p.expectedNacks - p.nacks : 1);
    const e = core.table.get(target.id);
    if (!e || e.rec.state > SUSPECT || e.rec.incarnation !== target.incarnation) return;
    core.counters.suspicionsRaised++;
    const rec: MemberRecord = { id: target.id, addr: target.addr, incarnation: target.incarnation, state: SUSPECT, from: core.id };
    this.#merge.apply(rec, 'local');
    // Tell the suspect directly too: the sooner it hears, the sooner it refutes.
    core.out.record(target.addr, core.table.get(target.id)!.bytes);
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
