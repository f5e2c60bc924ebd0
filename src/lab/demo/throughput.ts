/**
 * Step 5: a short throughput run of the bench harness (src/bench/run.ts) in labs
 * of its own: underlay, kernel vxlan and tulle's udp, vxlan and host-gw
 * backends, 1 s per test, 1 repetition, no ladder, no other overlays and
 * no multi-stream TCP test (a quick run). It
 * uses iperf3 where installed and tulle's built-in generator otherwise (and
 * says which); the files go to `out`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Row } from '../../bench/aggregate.js';
import { parseBenchOptions } from '../../bench/options.js';
import { runBench } from '../../bench/run.js';
import { OTHER_IDS, SYSTEM_IDS } from '../../bench/systems.js';
import { table } from '../../cli/format.js';

export interface ThroughputResult {
  code: number;
  rows: Row[];
  tool: string;
  notes: string[];
  errors: string[];
  files: string[];
}

// The three backends by name: the bench's default set also has rows (the low-latency mode, direct routing)
// that a first look does not need.
export const DEMO_BENCH = { systems: 'tulle-udp,tulle-vxlan,tulle-host-gw', duration: '1', reps: '1', streams: '2', profile: 'off' };

export async function runThroughput(out: string, onLine: (line: string) => void): Promise<ThroughputResult> {
  const options = { ...parseBenchOptions({ ...DEMO_BENCH, out }, SYSTEM_IDS, OTHER_IDS), quick: true };
  const command =
    `tulle bench ${Object.entries(DEMO_BENCH)
      .map(([k, v]) => `--${k} ${v}`)
      .join(' ')} --out ${out}` + ' (quick: no multi-stream TCP)';
  const code = await runBench(options, { say: onLine, print: () => {}, command, ignoreLeftovers: true });
  const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { rows: Row[]; tools: { throughput: string }; notes: string[]; errors: string[] };
  return {
    code,
    rows: json.rows,
    tool: json.tools.throughput,
    notes: json.notes,
    errors: json.errors,
    files: ['results.json', 'results.md', 'results.svg'].map((f) => join(out, f)),
  };
}

const fixed = (v: number | null, digits: number) => (v === null ? '–' : v.toFixed(digits));

/** The demo's table (pure): the headline figures, tulle rows as ratios to kernel vxlan. */
export function throughputTable(rows: Row[]): string {
  return table(
    ['SYSTEM', 'TCP Gb/s', 'UDP kpps', 'RTT ms', 'TCP vs kernel vxlan', 'UDP vs kernel vxlan'],
    rows.map((r) => {
      const ratio = (m: 'tcp1_gbps' | 'udp_kpps') => {
        const x = r.ratios?.vs_kernel_vxlan[m];
        return r.kind === 'reference' ? '' : x === null || x === undefined ? '–' : `${x.toFixed(2)}×`;
      };
      return [r.system, fixed(r.tcp1_gbps, 2), fixed(r.udp_kpps, 1), fixed(r.rtt_ms, 3), ratio('tcp1_gbps'), ratio('udp_kpps')];
    }),
  );
}
