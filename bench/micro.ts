/**
 * Micro-benchmark: the pure-TS wire library against the native addon, on 1400-byte
 * inner packets. It times the two per-packet costs of the send path:
 *   - the RFC 1071 checksum, of one packet and of 64 (a loop of 64 calls on each side);
 *   - full VXLAN-over-IPv4 encapsulation (outer IPv4 + UDP + VXLAN + Ethernet headers,
 *     IPv4 header checksum, full UDP checksum), of one packet and of a 64-packet batch
 *     in one slab (stride 2048, 128 bytes headroom, a distinct UDP source port each).
 * Before timing it checks that TS and native produce identical bytes (and valid
 * checksums), and aborts if not: a benchmark of the wrong computation is worthless.
 *
 * The two copy rows (Uint8Array.prototype.set of 1400 and of 64 × 1400 bytes) are
 * references measured in the same run: checksumming or encapsulating a packet must at
 * least read all of it, so a plain copy of the same, cache-resident bytes shows what
 * this machine's memory system allows, separating "slow code" from "slow machine".
 *
 * Then the route table at 10, 1,000 and 10,000 peers (route-scale.ts): one publish, one publish
 * with the worker's refresh that copies it, and decideTx on 64 packets to random peers, whose
 * per-packet cost must stay within 10% of its cost at 10 peers. Every destination's verdict is
 * checked against its owner before timing.
 *
 * Each tinybench sample runs an operation `reps` times (calibrated during warm-up to
 * ~50 µs per sample) so timer overhead does not swamp sub-microsecond operations.
 * Reported: median and p25–p75 of the per-sample times divided by reps.
 *
 *   node dist/bench/micro.js [--time MS] [--json FILE]
 *     --time MS    measuring time per task (default 500), after a separate warm-up
 *     --json FILE  also write the results as JSON; with `--json -` the JSON goes to
 *                  stdout and the human-readable output to stderr
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Bench, hrtimeNow } from 'tinybench';
import { loadNative } from '../src/native/load.js';
import {
  checksum,
  encapsulateBatch,
  newFault,
  newOuterPacket,
  parseOuter,
  TemplateTable,
  vxlan,
  DESC_LENGTH,
  DESC_OFFSET,
  DESC_OUT_LENGTH,
  DESC_OUT_OFFSET,
  DESC_SRC_PORT,
  DESC_STRIDE,
  DESC_VERDICT,
} from '@tulle/wire';
import { ROUTE_BATCH, ROUTE_SCALE_PEERS, routeScale } from './route-scale.js';

const PACKET = 1400;
const BATCH = 64;
const STRIDE = 2048;
const HEADROOM = 128;
const SAMPLE_NS = 50_000;
const WARMUP_MS = 150;
const TARGET_NATIVE_US = 20; // native encap + checksum of 64 × 1400 B, per batch (= 4.48 GB/s)
const TARGET_RATIO = 5; // TS batch encapsulation within 5× of native
const TARGET_LOOKUP_RATIO = 1.1; // decideTx per packet at any table size within 10% of its cost at 10 peers

const { values: args } = parseArgs({ options: { time: { type: 'string', default: '500' }, json: { type: 'string' } } });
const timeMs = Number(args.time);
if (!(timeMs > 0)) {
  process.stderr.write(`micro: --time must be a positive number of milliseconds, got ${args.time}\n`);
  process.exit(2);
}
const jsonToStdout = args.json === '-';
const say = (line: string): void => void (jsonToStdout ? process.stderr : process.stdout).write(line + '\n');

const addon = loadNative();
const tpl = vxlan.template({
  vni: 1,
  srcMac: '02:00:00:00:00:01',
  dstMac: '02:00:00:00:00:02',
  underlay: { src: '192.0.2.1', dst: '192.0.2.2', dstPort: 4789 },
});
const table = new TemplateTable(1);
table.set(0, tpl);

/** `count` packets of pseudo-random bytes at i*STRIDE+HEADROOM, each starting 0x45 (inner IPv4). */
function makeSlab(count: number): Uint8Array {
  const slab = new Uint8Array(count * STRIDE);
  let x = 0x2545f491;
  for (let i = 0; i < slab.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5; // xorshift32: same bytes every run
    slab[i] = x & 0xff;
  }
  for (let p = 0; p < count; p++) slab[p * STRIDE + HEADROOM] = 0x45;
  return slab;
}

function makeDesc(count: number): Int32Array {
  const desc = new Int32Array(count * DESC_STRIDE);
  for (let i = 0; i < count; i++) {
    const d = i * DESC_STRIDE;
    desc[d + DESC_OFFSET] = i * STRIDE + HEADROOM;
    desc[d + DESC_LENGTH] = PACKET;
    desc[d + DESC_VERDICT] = 0;
    desc[d + DESC_SRC_PORT] = 49152 + ((i * 997) % 16384);
  }
  return desc;
}

function die(message: string): never {
  process.stderr.write(`micro: TS and native disagree, not timing anything: ${message}\n`);
  process.exit(1);
}

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : a.length;
}

/** Once, before timing: same bytes from both sides, and checksums that verify. */
function verify(): void {
  const ts = makeSlab(BATCH),
    nat = makeSlab(BATCH);
  const tsDesc = makeDesc(BATCH),
    natDesc = makeDesc(BATCH);
  const done = [encapsulateBatch(ts, tsDesc, BATCH, table), addon.encapBatch(nat, natDesc, BATCH, table.bytes, table.meta)];
  if (done[0] !== BATCH || done[1] !== BATCH) die(`encapsulated ${done[0]} (TS) and ${done[1]} (native) of ${BATCH} packets`);
  const at = firstDiff(ts, nat);
  if (at >= 0) die(`slab byte ${at} (packet ${Math.floor(at / STRIDE)}, offset ${at % STRIDE}): TS 0x${ts[at].toString(16)}, native 0x${nat[at].toString(16)}`);
  const d = firstDiff(tsDesc, natDesc);
  if (d >= 0) die(`descriptor word ${d}: TS ${tsDesc[d]}, native ${natDesc[d]}`);
  const outer = newOuterPacket();
  const fault = newFault();
  for (let i = 0; i < BATCH; i++) {
    const o = i * DESC_STRIDE;
    if (!parseOuter(ts, tsDesc[o + DESC_OUT_OFFSET], tsDesc[o + DESC_OUT_LENGTH], outer, fault))
      die(`packet ${i} does not parse: ${fault.field} ${fault.value}`);
    if (outer.srcPort !== tsDesc[o + DESC_SRC_PORT] || outer.payloadLength !== vxlan.PAYLOAD_OVERHEAD + PACKET) die(`packet ${i}: wrong source port or length`);
    const a = checksum(nat, i * STRIDE + HEADROOM, PACKET),
      b = addon.checksum(nat, i * STRIDE + HEADROOM, PACKET);
    if (a !== b) die(`checksum of packet ${i}: TS 0x${a.toString(16)}, native 0x${b.toString(16)}`);
  }
  const one = makeSlab(1),
    oneNat = makeSlab(1);
  vxlan.encapsulate(one, HEADROOM, PACKET, tpl, 49152);
  addon.encapBatch(oneNat, makeDesc(1), 1, table.bytes, table.meta);
  if (firstDiff(one, oneNat) >= 0) die('single-packet encapsulation differs');
}

// The timed state. Encapsulation rewrites the same headroom in place each time; the inner bytes never change.
const ck = makeSlab(1);
const one = makeSlab(1),
  oneNat = makeSlab(1),
  desc1 = makeDesc(1);
const tsSlab = makeSlab(BATCH),
  natSlab = makeSlab(BATCH),
  tsDesc = makeDesc(BATCH),
  natDesc = makeDesc(BATCH);
const offsets = Array.from({ length: BATCH }, (_, i) => i * STRIDE + HEADROOM);
const copySrc = makeSlab(BATCH),
  copyDst = new Uint8Array(BATCH * STRIDE);
const copyViews = offsets.map((o) => copySrc.subarray(o, o + PACKET));
let sink = 0; // results are folded in here so no call is dead code

interface Task {
  group: string;
  impl: 'TS' | 'native' | 'reference';
  packets: number;
  run(n: number): void;
}
// Each run() is its own function literal, so each hot loop has its own type feedback.
const tasks: Task[] = [
  {
    group: 'checksum 1 × 1400 B',
    impl: 'TS',
    packets: 1,
    run(n) {
      let s = 0;
      for (let r = 0; r < n; r++) s ^= checksum(ck, HEADROOM, PACKET);
      sink ^= s;
    },
  },
  {
    group: 'checksum 1 × 1400 B',
    impl: 'native',
    packets: 1,
    run(n) {
      let s = 0;
      for (let r = 0; r < n; r++) s ^= addon.checksum(ck, HEADROOM, PACKET);
      sink ^= s;
    },
  },
  {
    group: 'checksum 64 × 1400 B',
    impl: 'TS',
    packets: BATCH,
    run(n) {
      let s = 0;
      for (let r = 0; r < n; r++) for (let i = 0; i < BATCH; i++) s ^= checksum(tsSlab, offsets[i], PACKET);
      sink ^= s;
    },
  },
  {
    group: 'checksum 64 × 1400 B',
    impl: 'native',
    packets: BATCH,
    run(n) {
      let s = 0;
      for (let r = 0; r < n; r++) for (let i = 0; i < BATCH; i++) s ^= addon.checksum(natSlab, offsets[i], PACKET);
      sink ^= s;
    },
  },
  {
    group: 'encap 1 × 1400 B',
    impl: 'TS',
    packets: 1,
    run(n) {
      let s = 0;
      for (let r = 0; r < n; r++) s ^= vxlan.encapsulate(one, HEADROOM, PACKET, tpl, 49152);
      sink ^= s;
    },
  },
  {
    group: 'encap 1 × 1400 B',
    impl: 'native',
    packets: 1,
    run(n) {
      let s = 0;
      for (let r = 0; r < n; r++) s ^= addon.encapBatch(oneNat, desc1, 1, table.bytes, table.meta);
      sink ^= s;
    },
  },
  {
    group: 'encap 64 × 1400 B',
    impl: 'TS',
    packets: BATCH,
    run(n) {
      let s = 0;
      for (let r = 0; r < n; r++) s ^= encapsulateBatch(tsSlab, tsDesc, BATCH, table);
      sink ^= s;
    },
  },
  {
    group: 'encap 64 × 1400 B',
    impl: 'native',
    packets: BATCH,
    run(n) {
      let s = 0;
      for (let r = 0; r < n; r++) s ^= addon.encapBatch(natSlab, natDesc, BATCH, table.bytes, table.meta);
      sink ^= s;
    },
  },
  {
    group: 'copy 1 × 1400 B',
    impl: 'reference',
    packets: 1,
    run(n) {
      for (let r = 0; r < n; r++) copyDst.set(copyViews[0], HEADROOM);
    },
  },
  {
    group: 'copy 64 × 1400 B',
    impl: 'reference',
    packets: BATCH,
    run(n) {
      for (let r = 0; r < n; r++) for (let i = 0; i < BATCH; i++) copyDst.set(copyViews[i], offsets[i]);
    },
  },
];

const scales = ROUTE_SCALE_PEERS.map(routeScale);
interface RouteTask {
  peers: number;
  what: 'publish' | 'publish + refresh' | 'decideTx';
  packets: number;
  run(n: number): void;
}
const routeTasks: RouteTask[] = scales.flatMap((scale): RouteTask[] => [
  { peers: scale.peers, what: 'publish', packets: 0, run: (n) => scale.publish(n) },
  { peers: scale.peers, what: 'publish + refresh', packets: 0, run: (n) => scale.publishRefresh(n) },
]);
const decideTasks: RouteTask[] = scales.map((scale): RouteTask => ({
  peers: scale.peers,
  what: 'decideTx',
  packets: ROUTE_BATCH,
  run: (n) => scale.decide(n),
}));

/** Samples a task takes in a row when tasks take turns: about 1 ms, the first sample dropped. */
const TURN_SAMPLES = 20;

/**
 * Sorted per-operation times (ns) of `tasks`, taking turns (a millisecond of samples of each, then
 * again) for `ms` each in all. These tasks are compared with each other: taking turns, they see the
 * same machine, whereas one after another a machine that slows down for a while (other processes, a
 * busy sibling hyperthread) makes a size look slow that is not. A turn's first sample is dropped: it
 * pays for bringing the task's table back into the cache after the others ran, which a worker with
 * one table never does.
 */
function interleaved(tasks: RouteTask[], reps: number[], ms: number): number[][] {
  const samples = tasks.map((): number[] => []);
  const end = process.hrtime.bigint() + BigInt(Math.round(ms * tasks.length * 1e6));
  while (process.hrtime.bigint() < end || samples[0].length < 10) {
    tasks.forEach((task, i) => {
      for (let k = 0; k < TURN_SAMPLES; k++) {
        const start = process.hrtime.bigint();
        task.run(reps[i]);
        if (k > 0) samples[i].push(Number(process.hrtime.bigint() - start) / reps[i]);
      }
    });
  }
  return samples.map((s) => s.sort((a, b) => a - b));
}

/** Warms `task` up for WARMUP_MS and returns how many operations make one ~SAMPLE_NS sample. */
function calibrate(task: { run(n: number): void }): number {
  const start = process.hrtime.bigint();
  for (let n = 1; ;) {
    const t = process.hrtime.bigint();
    task.run(n);
    const end = process.hrtime.bigint();
    const dt = Number(end - t);
    if (Number(end - start) > WARMUP_MS * 1e6) return Math.max(1, Math.round(SAMPLE_NS / (dt / n)));
    if (dt < SAMPLE_NS) n *= 2;
  }
}

function quantile(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q,
    lo = Math.floor(at);
  return lo + 1 < sorted.length ? sorted[lo] + (at - lo) * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
}

const cpus = os.cpus();
const machine = { cpu: cpus[0]?.model.trim() ?? 'unknown', cores: cpus.length, node: process.version, platform: `${os.platform()} ${os.arch()}` };
say(`machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node} (${machine.platform})`);

verify();
for (const scale of scales) {
  const wrong = scale.check();
  if (wrong !== undefined) {
    process.stderr.write(`micro: decideTx sent a packet to the wrong peer, not timing anything: ${wrong}\n`);
    process.exit(1);
  }
}

const bench = new Bench({ time: timeMs, iterations: 10, warmupTime: 50, warmupIterations: 5, now: hrtimeNow, throws: true });
const reps = tasks.map(calibrate);
tasks.forEach((task, i) => bench.add(`${task.group} ${task.impl}`, () => task.run(reps[i])));
const routeReps = routeTasks.map(calibrate);
// Process CPU time too, per task: on a loaded machine a millisecond-long publish is preempted, and its
// wall time says more about the other processes than about the publish.
const routeCpu = routeTasks.map(() => ({ us: 0, ops: 0 }));
routeTasks.forEach((task, i) =>
  bench.add(`route table ${task.peers} peers ${task.what}`, () => {
    const start = process.cpuUsage();
    task.run(routeReps[i]);
    const used = process.cpuUsage(start);
    routeCpu[i].us += used.user + used.system;
    routeCpu[i].ops += routeReps[i];
  }),
);
bench.runSync();
const decideReps = decideTasks.map(calibrate);
const decideSamples = interleaved(decideTasks, decideReps, timeMs);
if (firstDiff(tsSlab, natSlab) >= 0 || firstDiff(tsDesc, natDesc) >= 0) die('the timed TS and native slabs differ after the run');

/** Sorted per-operation times (ns) of bench task `index`, which ran `reps` operations a sample. */
function perOperation(index: number, reps: number): number[] {
  const r = bench.tasks[index].result;
  if (r === undefined || r.error !== undefined) throw r?.error ?? new Error(`no result for ${bench.tasks[index].name}`);
  return r.latency.samples.map((ms) => (ms * 1e6) / reps);
}

const results = tasks.map((task, i) => {
  const perOp = perOperation(i, reps[i]);
  const medianNs = quantile(perOp, 0.5);
  const bytes = task.packets * PACKET;
  return {
    group: task.group,
    impl: task.impl,
    packets: task.packets,
    bytes,
    reps: reps[i],
    samples: perOp.length,
    medianNs,
    p25Ns: quantile(perOp, 0.25),
    p75Ns: quantile(perOp, 0.75),
    minNs: perOp[0],
    maxNs: perOp[perOp.length - 1],
    nsPerPacket: medianNs / task.packets,
    gbPerS: bytes / medianNs,
    tsOverNative: null as number | null,
  };
});
for (const ts of results) {
  const nat = results.find((r) => r.group === ts.group && r.impl === 'native');
  if (ts.impl === 'TS' && nat !== undefined) ts.tsOverNative = ts.medianNs / nat.medianNs;
}

const ns = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
say('');
say('| operation | impl | median ns/op | p25–p75 ns/op | ns/packet | GB/s | TS/native |');
say('|---|---|--:|--:|--:|--:|--:|');
for (const r of results) {
  const ratio = r.tsOverNative === null ? '' : `${r.tsOverNative.toFixed(2)}×`;
  say(`| ${r.group} | ${r.impl} | ${ns(r.medianNs)} | ${ns(r.p25Ns)}–${ns(r.p75Ns)} | ${ns(r.nsPerPacket)} | ${r.gbPerS.toFixed(2)} | ${ratio} |`);
}
say('');
say(`median and p25–p75 of per-sample times (${timeMs} ms per task; a sample = reps operations, divided by reps); GB/s = inner bytes / median (10^9 B/s)`);

const routeResults = [...routeTasks, ...decideTasks].map((task, i) => {
  const decide = i >= routeTasks.length;
  const perOp = decide ? decideSamples[i - routeTasks.length] : perOperation(tasks.length + i, routeReps[i]);
  const per = Math.max(1, task.packets); // decideTx: per packet; publish: per table
  return {
    peers: task.peers,
    what: task.what,
    reps: decide ? decideReps[i - routeTasks.length] : routeReps[i],
    samples: perOp.length,
    medianNs: quantile(perOp, 0.5) / per,
    p25Ns: quantile(perOp, 0.25) / per,
    p75Ns: quantile(perOp, 0.75) / per,
    cpuNs: decide ? null : (routeCpu[i].us * 1000) / routeCpu[i].ops / per,
    overSmallest: null as number | null,
  };
});
for (const r of routeResults) {
  const base = routeResults.find((b) => b.what === r.what && b.peers === ROUTE_SCALE_PEERS[0])!;
  r.overSmallest = r.medianNs / base.medianNs;
}
const routeRow = (peers: number, what: RouteTask['what']) => routeResults.find((r) => r.peers === peers && r.what === what)!;
const us = (v: number): string => (v / 1000 >= 100 ? (v / 1000).toFixed(0) : (v / 1000).toFixed(1));
say('');
say('| peers | publish µs (CPU) | publish + refresh µs (CPU) | decideTx ns/packet | p25–p75 ns/packet | × 10 peers |');
say('|--:|--:|--:|--:|--:|--:|');
for (const peers of ROUTE_SCALE_PEERS) {
  const decide = routeRow(peers, 'decideTx');
  const publish = routeRow(peers, 'publish'),
    both = routeRow(peers, 'publish + refresh');
  say(
    `| ${peers} | ${us(publish.medianNs)} (${us(publish.cpuNs!)}) | ${us(both.medianNs)} (${us(both.cpuNs!)}) | ${decide.medianNs.toFixed(2)} | ${decide.p25Ns.toFixed(2)}–${decide.p75Ns.toFixed(2)} | ${decide.overSmallest!.toFixed(2)}× |`,
  );
}
say('');
say(
  `each peer owns a /29 of 198.18.0.0/15; decideTx: batches of ${ROUTE_BATCH} packets to random peers, median per-sample time / ${ROUTE_BATCH}, the sizes sampled in turn; publish: one whole table;`,
);
say("(CPU): the process's CPU time per operation, the mean over the run");

const nativeBatch = results.find((r) => r.group === 'encap 64 × 1400 B' && r.impl === 'native')!;
const tsBatch = results.find((r) => r.group === 'encap 64 × 1400 B' && r.impl === 'TS')!;
const targets = [
  { name: 'native encap + checksum of 64 × 1400 B, µs per batch', value: nativeBatch.medianNs / 1000, limit: TARGET_NATIVE_US },
  { name: 'TS / native time, encap + checksum of 64 × 1400 B', value: tsBatch.tsOverNative!, limit: TARGET_RATIO },
  ...ROUTE_SCALE_PEERS.slice(1).map((peers) => ({
    name: `decideTx ns/packet at ${peers} peers over its cost at ${ROUTE_SCALE_PEERS[0]}`,
    value: routeRow(peers, 'decideTx').overSmallest!,
    limit: TARGET_LOOKUP_RATIO,
  })),
].map((t) => ({ ...t, pass: t.value <= t.limit }));
say('');
say(
  `${targets[0].pass ? 'PASS' : 'FAIL'} ${targets[0].name}: ${targets[0].value.toFixed(2)} µs (${nativeBatch.gbPerS.toFixed(2)} GB/s), limit ${TARGET_NATIVE_US} µs`,
);
say(`${targets[1].pass ? 'PASS' : 'FAIL'} ${targets[1].name}: ${targets[1].value.toFixed(2)}×, limit ${TARGET_RATIO}×`);
for (const t of targets.slice(2)) say(`${t.pass ? 'PASS' : 'FAIL'} ${t.name}: ${t.value.toFixed(2)}×, limit ${t.limit}×`);

if (args.json !== undefined) {
  const report = JSON.stringify(
    { machine, timeMs, packetBytes: PACKET, spread: 'p25-p75 of per-sample ns/op', results, routeTable: routeResults, targets },
    null,
    2,
  );
  if (jsonToStdout) process.stdout.write(report + '\n');
  else writeFileSync(args.json, report + '\n');
}

// Read once at the end, so the folds into it are not dead code to the compiler.
void sink;
