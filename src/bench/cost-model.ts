/**
 * The cost model (pure): from a test's profile and its data-plane threads' spend, what one packet (UDP) or one
 * megabyte (TCP) costs, by kind of work, and the rate the busiest data-plane thread allows at that cost. The
 * gap between that limit and the measured rate is time the thread spent not working (waiting to be woken,
 * sharing a core), not per-packet work.
 */
import { BUCKETS, BUCKET_LABELS, type Bucket } from './profile-buckets.js';
import type { ProfileWindow } from './profile.js';
import type { ThreadSpend } from './thread-cost.js';

export type CostTest = 'tcp1' | 'udp' | 'udp_small';

/** What a row records for one test: the profile of a stretch of it, and every data-plane thread over all of it. */
export interface CostRecord {
  test: CostTest;
  /** UDP payload bytes; null for TCP. */
  size: number | null;
  /** The test's length (s): the threads' spend covers it. */
  seconds: number;
  /** Received: thousand datagrams/s (UDP) or Gb/s (TCP). */
  rate: number;
  /**
   * UDP: thousand datagrams/s that crossed the overlay (received, or dropped at the receiving application's
   * full socket). The per-datagram costs divide by these, so work the overlay did for a datagram the receiving
   * application then had no room for is not charged to the others.
   */
  crossed?: number;
  profile?: ProfileWindow;
  /** Each data-plane thread, with the packets its daemon's counters say it handled (TX and RX, by its role). */
  threads: (ThreadSpend & { host: string; packets: number; bytes: number })[];
}

export interface ThreadCost {
  name: string;
  host: string;
  /**
   * The thread carried the test's traffic: at least a tenth of what the busiest thread handled. A TX thread
   * on the receiving host (TCP's ACKs) or an RX thread on the sending one has a cost per packet but sets no
   * limit on the test.
   */
  carries: boolean;
  /** µs of CPU per packet the thread handled (UDP), or per MB (TCP). */
  us: number | null;
  sleeps_per_packet: number | null;
  syscalls_per_packet: number | null;
  /** The rate this thread allows if it did nothing but this: kpps (UDP) or Gb/s (TCP). */
  limit: number | null;
}

export interface CostFigures {
  test: CostTest;
  size: number | null;
  /** µs of CPU on all CPUs per received packet (UDP) or MB (TCP), by bucket, and their sum. */
  per_unit_us: Record<Bucket, number> | null;
  total_us: number | null;
  threads: ThreadCost[];
  /** The lowest thread limit: the rate the busiest data-plane thread allows. */
  limit: number | null;
  measured: number;
  /** measured / limit. */
  of_limit: number | null;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Received units in `seconds`: datagrams for UDP (rate in kpps), MB for TCP (rate in Gb/s). */
function units(test: CostTest, rate: number, seconds: number): number {
  return test === 'tcp1' ? (rate * 1e9 * seconds) / 8 / 1e6 : rate * 1000 * seconds;
}

export function costFigures(rec: CostRecord): CostFigures {
  const tcp = rec.test === 'tcp1';
  let per: Record<Bucket, number> | null = null;
  let total: number | null = null;
  const through = rec.crossed ?? rec.rate;
  if (rec.profile && through > 0) {
    const n = units(rec.test, through, rec.profile.seconds);
    per = Object.fromEntries(BUCKETS.map((b) => [b, r3((rec.profile!.buckets[b] / rec.profile!.hz / n) * 1e6)])) as Record<Bucket, number>;
    total = r3(BUCKETS.reduce((s, b) => s + per![b], 0));
  }
  const handledBy = (t: CostRecord['threads'][number]) => (tcp ? t.bytes / 1e6 : t.packets);
  const most = Math.max(0, ...rec.threads.map(handledBy));
  const threads: ThreadCost[] = rec.threads.map((t) => {
    const handled = handledBy(t);
    const us = handled > 0 ? r3((t.cpu_s / handled) * 1e6) : null;
    // The profile window covers part of the test: its system calls per packet assume the test's average rate.
    const syscalls = rec.profile?.syscalls[t.tid];
    const inWindow = rec.profile ? (t.packets * rec.profile.seconds) / rec.seconds : 0;
    return {
      name: t.name,
      host: t.host,
      carries: most > 0 && handled >= most / 10,
      us,
      sleeps_per_packet: t.packets > 0 ? r3(t.sleeps / t.packets) : null,
      syscalls_per_packet: syscalls !== undefined && inWindow > 0 ? r3(syscalls / inWindow) : null,
      limit: us === null || us === 0 ? null : tcp ? r3(8000 / us) : r3(1000 / us),
    };
  });
  const limits = threads
    .filter((t) => t.carries)
    .map((t) => t.limit)
    .filter((l): l is number => l !== null);
  const limit = limits.length > 0 ? Math.min(...limits) : null;
  return {
    test: rec.test,
    size: rec.size,
    per_unit_us: per,
    total_us: total,
    threads,
    limit,
    measured: rec.rate,
    of_limit: limit ? r3(rec.rate / limit) : null,
  };
}

const medianOf = (xs: (number | null)[]): number | null => {
  const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = Math.floor(v.length / 2);
  return r3(v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2);
};

/** One test's figures over the repetitions: each figure the median of the reps that have it. */
export function medianFigures(reps: CostFigures[]): CostFigures {
  const first = reps[0];
  const profiled = reps.filter((c) => c.per_unit_us !== null);
  const per =
    profiled.length === 0 ? null : (Object.fromEntries(BUCKETS.map((b) => [b, medianOf(profiled.map((c) => c.per_unit_us![b]))!])) as Record<Bucket, number>);
  const threads = first.threads.map((t) => {
    const same = reps.map((c) => c.threads.find((x) => x.name === t.name && x.host === t.host)).filter((x): x is ThreadCost => x !== undefined);
    return {
      name: t.name,
      host: t.host,
      carries: same.some((x) => x.carries),
      us: medianOf(same.map((x) => x.us)),
      sleeps_per_packet: medianOf(same.map((x) => x.sleeps_per_packet)),
      syscalls_per_packet: medianOf(same.map((x) => x.syscalls_per_packet)),
      limit: medianOf(same.map((x) => x.limit)),
    };
  });
  const limits = threads
    .filter((t) => t.carries)
    .map((t) => t.limit)
    .filter((l): l is number => l !== null);
  const limit = limits.length > 0 ? Math.min(...limits) : null;
  const measured = medianOf(reps.map((c) => c.measured)) ?? 0;
  return {
    test: first.test,
    size: first.size,
    per_unit_us: per,
    total_us: medianOf(profiled.map((c) => c.total_us)),
    threads,
    limit,
    measured,
    of_limit: limit ? r3(measured / limit) : null,
  };
}

/** ns per payload byte, by bucket: the difference between a large and a small datagram's cost, per byte. */
export function perByteNs(small: CostFigures, large: CostFigures): Record<Bucket, number> | null {
  if (!small.per_unit_us || !large.per_unit_us || small.size === null || large.size === null || large.size === small.size) return null;
  const d = large.size - small.size;
  return Object.fromEntries(BUCKETS.map((b) => [b, r3(((large.per_unit_us![b] - small.per_unit_us![b]) / d) * 1000)])) as Record<Bucket, number>;
}

const SHORT: Record<Bucket, string> = {
  copy: 'copies',
  checksum: 'checksums',
  syscall: 'syscall entry/exit',
  wakeup: 'sleep/wake',
  tun: 'TUN',
  tunnel: 'vxlan/tunnel',
  stack: 'other kernel',
  js: 'overlay user space',
  addon: 'addon',
  apps: 'other user space',
};

/** Markdown: per-packet and per-MB costs by bucket, then the data-plane threads and the limit they set. */
export function costTables(rows: { system: string; figures: CostFigures[] }[]): string {
  const lines: string[] = [];
  const f = (x: number | null | undefined, d = 2) => (x === null || x === undefined ? '–' : x.toFixed(d));
  const what = (c: CostFigures) => (c.test === 'tcp1' ? 'TCP ×1, per MB' : `UDP ${c.size} B, per datagram`);
  const profiled = rows.flatMap((r) => r.figures.filter((c) => c.per_unit_us).map((c) => ({ system: r.system, c })));
  if (profiled.length > 0) {
    lines.push(`| µs of CPU (all CPUs) | unit | total | ${BUCKETS.map((b) => SHORT[b]).join(' | ')} |`, `|---|---|--:|${BUCKETS.map(() => '--:|').join('')}`);
    for (const { system, c } of profiled) lines.push(`| ${system} | ${what(c)} | ${f(c.total_us)} | ${BUCKETS.map((b) => f(c.per_unit_us![b])).join(' | ')} |`);
    const bytes = rows.flatMap((r) => {
      const small = r.figures.find((c) => c.test === 'udp_small');
      const large = r.figures.find((c) => c.test === 'udp');
      const ns = small && large ? perByteNs(small, large) : null;
      return ns ? [{ system: r.system, ns, from: small!.size!, to: large!.size! }] : [];
    });
    if (bytes.length > 0) {
      lines.push(
        '',
        `| ns per payload byte (UDP) | from | total | ${BUCKETS.map((b) => SHORT[b]).join(' | ')} |`,
        `|---|---|--:|${BUCKETS.map(() => '--:|').join('')}`,
      );
      for (const b of bytes)
        lines.push(
          `| ${b.system} | ${b.from}→${b.to} B | ${f(
            BUCKETS.reduce((s, k) => s + b.ns[k], 0),
            3,
          )} | ${BUCKETS.map((k) => f(b.ns[k], 3)).join(' | ')} |`,
        );
    }
    lines.push('', `Buckets: ${BUCKETS.map((b) => `${SHORT[b]}: ${BUCKET_LABELS[b]}`).join('; ')}.`);
  }
  const threaded = rows.flatMap((r) => r.figures.filter((c) => c.threads.length > 0).map((c) => ({ system: r.system, c })));
  if (threaded.length > 0) {
    lines.push(
      '',
      '| data-plane thread | test | thread (host) | µs per packet (TCP: per MB) | sleeps per packet | syscalls per packet | the thread allows | measured | measured / allowed |',
      '|---|---|---|--:|--:|--:|--:|--:|--:|',
    );
    for (const { system, c } of threaded) {
      const unit = c.test === 'tcp1' ? 'Gb/s' : 'kpps';
      for (const t of c.threads.filter((x) => x.us !== null))
        lines.push(
          `| ${system} | ${what(c)} | ${t.name} (${t.host}) | ${f(t.us)} | ${f(t.sleeps_per_packet, 3)} | ${f(t.syscalls_per_packet, 3)} | ${t.limit === null ? '–' : `${f(t.limit, 1)} ${unit}${t.carries ? '' : ' (other direction)'}`} | ${f(c.measured, 1)} ${unit} | ${t.carries && c.limit === t.limit ? f(c.of_limit) : ''} |`,
        );
    }
  }
  return lines.join('\n');
}
