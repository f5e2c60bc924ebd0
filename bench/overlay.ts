/**
 * Overlay benchmark (`npm run bench`, also `tulle bench`): the same traffic
 * over the bare underlay, a Linux kernel vxlan device, tulle's backends and
 * other userspace overlays where installed, on a lab of hosts in namespaces,
 * all measured in one run so the rows are comparable. See docs/benchmarks.md.
 *
 *   node dist/bench/overlay.js [--systems LIST] [--backends LIST] [--others LIST] [--ladder on|off]
 *     [--hosts N] [--duration S] [--streams N] [--size BYTES] [--reps N]
 *     [--offloads on|off] [--gro on|off] [--tool auto|iperf3|builtin] [--out DIR]
 *
 * The modules: options.ts (validation), systems.ts (what a run measures),
 * schedule.ts (round-robin order), row.ts (one sample on a fresh lab),
 * setup.ts (the system under test in that lab), counters.ts (CPU and drops),
 * traffic.ts (iperf3/ping or tulle's probes), others.ts (socat, wireguard-go,
 * nebula, tinc), aggregate.ts and stats.ts (medians, spreads, ratios),
 * report-md.ts and chart-svg.ts (the outputs), run.ts (the whole run).
 */
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/util/package-root.js';
import { benchMain, usage } from './cli.js';

const USAGE_COMMAND = 'node dist/bench/overlay.js';
let raw;
try {
  raw = parseArgs({
    options: {
      systems: { type: 'string' }, rows: { type: 'string' }, backends: { type: 'string' }, others: { type: 'string' }, ladder: { type: 'string' },
      hosts: { type: 'string' }, duration: { type: 'string' }, streams: { type: 'string' }, size: { type: 'string' }, reps: { type: 'string' },
      offloads: { type: 'string' }, gro: { type: 'string' }, tool: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (error) {
  process.stderr.write(`tulle bench: ${(error as Error).message}\n${usage(USAGE_COMMAND)}\n`);
  process.exit(2);
}
if (raw.help) {
  process.stdout.write(usage(USAGE_COMMAND) + '\n');
  process.exit(0);
}
delete raw.help;
const root = packageRoot();
const command = ['node', ...process.argv.slice(1).map((a) => (a.startsWith(root + '/') ? a.slice(root.length + 1) : a))].join(' ');
benchMain(raw, command, USAGE_COMMAND).then((code) => {
  process.exitCode = code;
}, (error: unknown) => {
  process.stderr.write(`tulle bench: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
