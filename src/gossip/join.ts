/**
 * Getting into the cluster and back into it: the join through the seeds (a
 * sync that retries until a seed's digest agrees, or times out), and, for as
 * long as the node runs, pings to dead members and to seeds that are not live,
 * whose answers start the sync that heals a partition.
 */
import { DEAD } from './records.js';
import type { NodeCore } from './node-core.js';
import type { Sync } from './sync.js';

export class Join {
  readonly #core: NodeCore;
  readonly #sync: Sync;
  #joining = false;
  #startedAt = 0;
  #attempt = 0;
  #timer: unknown;
  #waiters: ((synced: boolean) => void)[] = [];
  #result: boolean | undefined;
  /** Seed retries: the next gap (doubling up to seedRetryMaxMs) and when the next try is due. */
  #seedGap: number;
  #seedRetryAt = 0;

  constructor(core: NodeCore, sync: Sync) {
    this.#core = core;
    this.#sync = sync;
    this.#seedGap = core.config.reconnectIntervalMs;
  }

  /** Between the start and the end of the join: records then arrive as 'join' (not rebroadcast). */
  get joining(): boolean {
    return this.#joining;
  }

  /** The join ended (either way). */
  get done(): boolean {
    return this.#result !== undefined;
  }

  /** Joins through the seeds, if there are any and `viaSeeds`; else the join is over at once. */
  begin(viaSeeds: boolean): void {
    if (this.#core.table.seeds.length > 0 && viaSeeds) {
      this.#joining = true;
      this.#startedAt = this.#core.now();
      this.#step();
    } else {
      this.#finish(true);
    }
  }

  /** Calls `fn` (synchronously) when the join ends, or now if it has. */
  whenJoined(fn: (synced: boolean) => void): void {
    if (this.#result !== undefined) fn(this.#result);
    else this.#waiters.push(fn);
  }

  /** A seed's answer to our join sync: its digest agrees, or (after the first try) its lease fingerprint does. */
  onDone(agree: number, summary: number): void {
    if (this.#joining && ((agree & 1) === 1 || (this.#attempt > 1 && summary === this.#core.summary()))) this.#finish(true);
  }

  stop(): void {
    if (this.#timer !== undefined) this.#core.clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#finish(false);
  }

  /**
   * While some member is dead, pings one of them and one seed address:
   * an answer from a node we hold dead (or do not know) triggers a sync, which
   * is how the two sides of a healed partition find each other, even when
   * every member they had in common has gone. Seeds are also retried on their
   * own schedule (#retrySeeds), for nodes that hold no one dead.
   */
  reconnect(): void {
    this.#retrySeeds();
    const core = this.#core;
    const table = core.table;
    let pick: string | undefined;
    let seen = 0;
    for (const [id] of table.deadAt) {
      const e = table.get(id);
      if (!e || e.rec.state !== DEAD) continue;
      // Reservoir sampling: uniform without building an array.
      if (core.rng.int(++seen) === 0) pick = id;
    }
    if (pick === undefined) return;
    const e = table.get(pick)!;
    core.out.ping(e.rec.addr, 0, e.rec.id);
    if (table.seeds.length > 0) {
      const seed = table.seeds[core.rng.int(table.seeds.length)];
      if (seed !== e.rec.addr) core.out.ping(seed, 0, '');
    }
  }

  #step(): void {
    const core = this.#core;
    if (!this.#joining || !core.running) return;
    if (core.now() - this.#startedAt >= core.config.joinTimeoutMs) {
      core.log?.('warn', 'join: no seed agreed with our state in time; going on with what we have', {
        seeds: core.table.seeds,
        waitedMs: core.config.joinTimeoutMs,
      });
      return this.#finish(false);
    }
    this.#sync.start(core.table.seeds[this.#attempt++ % core.table.seeds.length], true);
    this.#timer = core.clock.setTimer(core.config.joinRetryMs, () => this.#step());
  }

  #finish(synced: boolean): void {
    this.#joining = false;
    if (this.#result !== undefined) return;
    this.#result = synced;
    for (const w of this.#waiters.splice(0)) w(synced);
  }

  /**
   * A node that knows no live member but itself, or has a seed that is not
   * live, pings such a seed: its seeds were unreachable when it booted (the
   * join timed out, and nobody knows it to ping it), or it lost every member,
   * or a seed stayed away past deadRetentionMs and both sides forgot each
   * other, or a seed left and came back (a graceful restart) knowing nobody.
   * An answering seed syncs with it, and the leases of both sides meet. The
   * gap doubles after each try (with jitter, so nodes that booted together
   * spread out) up to seedRetryMaxMs, for as long as the node runs; it starts
   * again from reconnectIntervalMs once every seed is live.
   */
  #retrySeeds(): void {
    const core = this.#core;
    const table = core.table;
    const candidates = this.#joining ? [] : table.liveCount <= 1 ? table.seeds : table.seeds.filter((s) => !table.seedAnswers(s));
    if (candidates.length === 0) {
      this.#seedGap = core.config.reconnectIntervalMs;
      this.#seedRetryAt = 0;
      return;
    }
    const now = core.now();
    if (now < this.#seedRetryAt) return;
    // Two pings (two seeds when there are), so that one lost datagram does not cost a whole gap.
    const i = core.rng.int(candidates.length);
    const j = candidates.length > 1 ? (i + 1 + core.rng.int(candidates.length - 1)) % candidates.length : i;
    core.counters.seedPings += 2;
    core.out.ping(candidates[i], 0, '');
    core.out.ping(candidates[j], 0, '');
    this.#seedRetryAt = now + this.#seedGap * (0.5 + 0.5 * core.rng.next());
    this.#seedGap = Math.min(core.config.seedRetryMaxMs, this.#seedGap * 2);
  }
}
