// npm run soak, the 60-second version: 3 hosts on gossip and vxlan under TCP
// and UDP traffic, sampled every 2 s after a 20 s warm-up. It asserts every
// target of the 10-minute run, RSS growth to a wider tolerance (see below), and that the
// lab is gone afterwards.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leftoverNamespaces } from '../src/lab/netns.js';
import { packageRoot } from '../src/util/package-root.js';
import type { SoakResult } from '../bench/soak-report.js';

const soak = join(packageRoot(), 'dist', 'bench', 'soak.js');

/**
 * The tolerances for a minute. The heap target reads the live heap from snapshots after a full
 * collection (at 10, 20, ~40 and 60 s): the sawtooth of the heap used between collections (19 -> 29 MiB
 * within a minute) does not move it, and it is held to 5% as in the 10-minute run; in the first minute
 * it grows by the code V8 compiles (+1.1 to +1.3% seen). RSS is held to 25%: a 40 s window holds few
 * samples, and a snapshot after the warm-up can leave a few MiB more in the process (+3 to +9% seen).
 * fds, threads, restarts and UDP loss are exact.
 */
const MINUTE_LIVE_HEAP_PCT = 5;
const MINUTE_RSS_PCT = 25;

t.test('bad options: exit 2 naming the option', async (t) => {
  const r = spawnSync(process.execPath, [soak, '--minutes', '0'], { encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 2);
  t.match(r.stderr, /--minutes must be a number from 0\.5 to 1440, got "0"/);
});

t.test('60 s under traffic: fds and threads constant, no restart, no unexplained UDP loss, no leak', async (t) => {
  if (process.getuid?.() !== 0) {
    t.fail('this test needs root (CI runs as root)');
    return;
  }
  const out = mkdtempSync(join(tmpdir(), 'tulle-soak-test-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const args = ['--minutes', '1', '--sample-seconds', '2', '--warmup-seconds', '20', '--max-growth-pct', String(MINUTE_RSS_PCT), '--out', out];
  // Without the test runner's hooks, which it puts into NODE_OPTIONS of every child (the daemons too):
  // they would add their own memory, fds and threads to what is measured. env(1) takes them out.
  const r = spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, soak, ...args], { encoding: 'utf8', timeout: 240_000 });
  if (r.status !== 0) t.comment(`stderr tail: ${r.stderr.slice(-2000)}\nstdout tail: ${r.stdout.slice(-3000)}`);
  t.equal(r.status, 0, 'exit 0');
  t.match(
    r.stderr,
    /\[\s+60\/60 s\] RSS [\d./]+ MiB, heap [\d./]+ MiB, fds \d+\/\d+\/\d+, threads \d+\/\d+\/\d+, TCP [\d.]+ Gb\/s, UDP delivered \d+ of \d+ sent/,
    'a progress line per sample',
  );
  const result = JSON.parse(readFileSync(join(out, 'soak.json'), 'utf8')) as SoakResult;
  const v = result.verdict;
  t.same(
    v.targets.filter((x) => !x.pass),
    [],
    'every target met',
  );
  // A sample every 2 s (31 slots), less the slots the snapshots' pauses overran (skipped, not sampled back to back).
  const pausedMs = v.daemons.flatMap((d) => d.liveHeap.points).reduce((sum, p) => sum + p.pauseMs, 0);
  const least = 31 - Math.ceil(pausedMs / 2000) - 4;
  t.ok(result.samples.length >= least, `a sample every 2 s but during snapshots (${result.samples.length}, ≥ ${least}; ${pausedMs} ms of pauses)`);
  for (const d of v.daemons) {
    t.ok(d.rss.pct <= MINUTE_RSS_PCT, `${d.host} RSS growth ${d.rss.pct}% ≤ ${MINUTE_RSS_PCT}%`);
    t.ok(d.liveHeap.pct <= MINUTE_LIVE_HEAP_PCT, `${d.host} live heap growth ${d.liveHeap.pct}% ≤ ${MINUTE_LIVE_HEAP_PCT}%`);
    t.equal(d.liveHeap.points.length, 4, `${d.host}: 4 snapshots (${d.liveHeap.points.map((p) => p.t).join(', ')} s)`);
    // The live heap is what the heap used falls to in a full collection: well under the sampled peaks, not above them.
    const peak = Math.max(...result.samples.map((s) => s.daemons.find((x) => x.host === d.host)!.heapUsedBytes));
    t.ok(d.liveHeap.last > 4 * 2 ** 20 && d.liveHeap.last <= peak, `${d.host} live heap ${d.liveHeap.last} B, heap used peak ${peak} B`);
    t.equal(d.fds.min, d.fds.max, `${d.host} fds constant (${d.fds.min})`);
    t.equal(d.threads.min, d.threads.max, `${d.host} threads constant (${d.threads.min})`);
    t.equal(d.restarts, 0, `${d.host} not restarted`);
    t.ok(d.gossip.txBytesPerSecond > 0, `${d.host} gossips (${d.gossip.txBytesPerSecond} B/s)`);
  }
  t.ok(v.udp.sent >= 50_000, `the UDP stream ran at its rate (${v.udp.sent} sent)`);
  t.equal(v.udp.unexplained, 0, `every missing datagram counted as a drop (${v.udp.missing} missing)`);
  t.ok(result.tcp.gbps !== null && result.tcp.gbps > 0, `TCP moved (${result.tcp.detail})`);
  t.match(readFileSync(join(out, 'soak.md'), 'utf8'), /\| host \| RSS MiB \(first → last quarter\) \|/);
  t.match(readFileSync(join(out, 'soak.md'), 'utf8'), /live V8 heap \(after a full collection\) flat within 25%/);
  t.match(readFileSync(join(out, 'soak.svg'), 'utf8'), /^<svg /);
  t.same(
    leftoverNamespaces().filter((n) => n.startsWith(result.lab.prefix)),
    [],
    'the lab is gone',
  );
});
