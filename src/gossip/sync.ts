/**
 * Anti-entropy: two nodes compare digests top-down (tops, then the sub-buckets
 * of differing tops) and send each other the records of the buckets that
 * differ. A join is a sync whose answer also says whether the digests agree.
 */
import { bucketOf, SUBS, TOPS } from './digest.js';
import { MSG, SUB_ENTRY_BYTES, SYNC_JOIN, writeTops } from './messages.js';
import type { NodeCore } from './node-core.js';

/** Most datagrams one sync answer may send; the next round carries the rest. */
const MAX_SYNC_DATAGRAMS = 256;

export class Sync {
  readonly #core: NodeCore;
  #lastTriggered = -Infinity;

  constructor(core: NodeCore) {
    this.#core = core;
  }

  /** Sends our top-level digest to `addr`; the answer starts the exchange. */
  start(addr: string, join: boolean): void {
    const core = this.#core;
    core.counters.syncsStarted++;
    writeTops(core.out.env.begin(MSG.syncTop), join ? SYNC_JOIN : 0, core.table.digest.top);
    core.out.send(addr, true);
  }

  /** A sync because of news (a member back, a differing fingerprint), at most one per triggeredSyncMinGapMs. */
  trigger(addr: string): void {
    const now = this.#core.now();
    if (now - this.#lastTriggered < this.#core.config.triggeredSyncMinGapMs) return;
    this.#lastTriggered = now;
    this.start(addr, false);
  }

  /** Their tops: answer a joiner, and send the sub-buckets of the tops that differ. */
  onTop(from: string, flags: number, tops: Uint32Array): void {
    const core = this.#core;
    const digest = core.table.digest;
    const differ: number[] = [];
    for (let i = 0; i < TOPS; i++) if (tops[i] !== digest.top[i]) differ.push(i);
    if (flags & SYNC_JOIN) {
      // Tell a joiner whether we agree, and our lease fingerprint: once its leases match ours
      // it may allocate, even while membership churn keeps the full digests apart.
      core.out.env.begin(MSG.syncDone).u8(differ.length === 0 ? 1 : 0);
      core.out.env.w.u32(core.summary());
      core.out.send(from, true);
    }
    if (differ.length === 0) return;
    const perDatagram = Math.floor((core.config.maxDatagramBytes - 128) / SUB_ENTRY_BYTES);
    for (let i = 0; i < differ.length; i += perDatagram) {
      const chunk = differ.slice(i, i + perDatagram);
      const w = core.out.env.begin(MSG.syncSub);
      w.u8(chunk.length);
      for (const top of chunk) {
        w.u8(top);
        for (let j = 0; j < SUBS; j++) w.u32(digest.sub[top * SUBS + j]);
      }
      core.out.send(from, false);
    }
  }

  /** Their sub-buckets: ask for the ones that differ, and send ours of them. */
  onSub(from: string, subs: { top: number; hashes: Uint32Array }[]): void {
    const core = this.#core;
    const wants = new Uint32Array(TOPS);
    let any = false;
    for (const { top, hashes } of subs) {
      let mask = 0;
      for (let j = 0; j < SUBS; j++) if (hashes[j] !== core.table.digest.sub[top * SUBS + j]) mask |= 1 << j;
      if (mask !== 0) {
        wants[top] |= mask;
        any = true;
      }
    }
    if (!any) return;
    const w = core.out.env.begin(MSG.syncWant);
    const tops = [...wants.keys()].filter((t) => wants[t] !== 0);
    w.u8(tops.length);
    for (const t of tops) {
      w.u8(t);
      w.u32(wants[t]);
    }
    core.out.send(from, false);
    this.sendRecords(from, wants);
  }

  /** Sends every record in the wanted sub-buckets (a mask per top) as `records` datagrams. */
  sendRecords(to: string, wants: Uint32Array): void {
    const core = this.#core;
    const wanted = (b: number): boolean => ((wants[(b / SUBS) | 0] >>> (b % SUBS)) & 1) === 1;
    const env = core.out.env;
    let open = false;
    let sent = 0;
    const flush = (): void => {
      if (open && env.count > 0 && sent < MAX_SYNC_DATAGRAMS) {
        core.out.send(to, false);
        sent++;
      }
      open = false;
    };
    const emit = (bytes: Uint8Array): void => {
      if (!open) {
        env.begin(MSG.records);
        env.records();
        open = true;
      }
      if (!env.add(bytes)) {
        flush();
        env.begin(MSG.records);
        env.records();
        open = true;
        env.add(bytes);
      }
    };
    core.table.members.forEach((e) => {
      if (wanted(bucketOf(e.keyHash))) emit(e.bytes);
    });
    core.delegate?.recordsIn(wanted, emit);
    flush();
  }
}
