/**
 * `npm run hostile` (after `npm run build`, as root): a million bad datagrams
 * to each of a live host's data and gossip ports during a hashed transfer
 * (hostile-run.ts). Prints a progress line on stderr, then the Markdown
 * tables (or, with --json, one JSON object); --out PREFIX also writes
 * PREFIX.json and PREFIX.md. Exit 1 when a target is missed: a crash, a hash
 * mismatch, a legitimate datagram counted as bad, or a bad one not counted.
 *
 *   --datagrams N        per port (1,000,000)
 *   --data-rate N        data-port datagrams per second (100,000)
 *   --gossip-rate N      gossip-port datagrams per second (25,000)
 *   --baseline-seconds N the unattacked stream (10)
 */
import { writeFileSync } from 'node:fs';
import { hostileMarkdown } from './hostile-report.js';
import { accounted, runHostile, type HostileOptions } from './hostile-run.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
function option(name: string, fallback: number): number {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isInteger(value) || value <= 0) {
    process.stderr.write(`${name} ${args[at + 1] ?? ''}: must be a positive integer\n`);
    process.exit(2);
  }
  return value;
}
if (process.getuid?.() !== 0) {
  process.stderr.write('npm run hostile needs root (it builds network namespaces and sends from a raw socket)\n');
  process.exit(4);
}
const options: HostileOptions = {
  datagrams: option('--datagrams', 1_000_000),
  dataRate: option('--data-rate', 100_000),
  gossipRate: option('--gossip-rate', 25_000),
  baselineSeconds: option('--baseline-seconds', 10),
  progress: (line) => process.stderr.write(process.stderr.isTTY ? `\r\x1b[K${line}` : `${line}\n`),
};
const result = await runHostile(options);
if (process.stderr.isTTY) process.stderr.write('\n');
const markdown = hostileMarkdown(result);
const at = args.indexOf('--out');
if (at >= 0) {
  writeFileSync(`${args[at + 1]}.json`, JSON.stringify(result, null, 2) + '\n');
  writeFileSync(`${args[at + 1]}.md`, markdown);
}
process.stdout.write(flag('--json') ? JSON.stringify(result, null, 2) + '\n' : markdown);
const met = result.crashes === 0 && result.hashMismatches === 0 && result.baselineDrops === 0 && result.accounting.every(accounted);
process.exit(met ? 0 : 1);
