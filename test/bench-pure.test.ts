// The bench's pure parts: statistics, round-robin order, ratios, option
// validation, system selection, refusals, tool choice, notes and the chart.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { aggregate, offloadsInForce, withPerCore, type Sample } from '../src/bench/aggregate.js';
import { describeDrops, dropPlaces, type UdpDrops } from '../src/bench/udp-drops.js';
import { escapeXml, niceStep, svgChart } from '../src/bench/chart-svg.js';
import { generatorNotes } from '../src/bench/notes.js';
import { BenchUsageError, DEFAULTS, parseBenchOptions, resultsDir } from '../src/bench/options.js';
import { gitCommit, provenance } from '../src/bench/build-info.js';
import { packageRoot } from '../src/util/package-root.js';
import { chooseTools, preflightProblems } from '../src/bench/preflight.js';
import { markdownTable } from '../src/bench/report-md.js';
import { roundRobin } from '../src/bench/schedule.js';
import { median, perCore, quantile, ratio, spread } from '../src/bench/stats.js';
import { OTHER_IDS, SYSTEM_IDS, selectSystems, type SystemSpec } from '../src/bench/systems.js';
import { PING_INTERVAL_S } from '../src/bench/traffic.js';

t.test('median, quantiles and spread', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.equal(median([7]), 7);
  t.equal(quantile([1, 2, 3, 4, 5], 0.25), 2);
  t.equal(quantile([1, 2, 3, 4], 0.25), 1.75, 'interpolates between order statistics');
  t.same(spread([5, 1, 9, 3]), { min: 1, max: 9, q1: 2.5, q3: 6 });
  t.same(spread([2]), { min: 2, max: 2, q1: 2, q3: 2 });
  t.throws(() => quantile([], 0.5), /no values/);
  t.same([3, 1, 2], [3, 1, 2], 'inputs are not reordered');
});

t.test('ratios and per-core figures', async (t) => {
  t.equal(ratio(5, 10), 0.5);
  t.equal(ratio(5, 0), null, 'no ratio to zero');
  t.equal(ratio(null, 10), null);
  t.equal(ratio(5, undefined), null);
  t.equal(perCore(3, 150), 2, '3 Gb/s on 1.5 cores is 2 Gb/s per core');
  t.equal(perCore(3, 0), null);
  t.equal(perCore(null, 50), null);
});

t.test('round-robin: every system once per repetition, in order', async (t) => {
  const order = roundRobin(['u', 'k', 't'], 3);
  t.same(
    order.map((s) => `${s.system}${s.rep}`),
    ['u1', 'k1', 't1', 'u2', 'k2', 't2', 'u3', 'k3', 't3'],
  );
  t.same(
    order.map((s) => s.index),
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
  );
  t.same(roundRobin(['x'], 0), []);
});

function sample(system: string, kind: SystemSpec['kind'], rep: number, values: Partial<Sample>): Sample {
  return withPerCore({
    system,
    kind,
    rep,
    index: 0,
    tcp1_gbps: null,
    tcp_multi_gbps: null,
    udp_kpps: null,
    udp_loss_pct: null,
    udp_small_kpps: null,
    udp_small_loss_pct: null,
    rtt_ms: null,
    cpu_pct: null,
    cpu_idle_pct: null,
    cpu_rtt_pct: null,
    gbps_per_core: null,
    generator_limited: [],
    not_measured: {},
    errors: [],
    warnings: [],
    ...values,
  });
}

function drops(d: Partial<UdpDrops>): UdpDrops {
  return {
    sender_dev: 'tulle0',
    sent: null,
    received: 0,
    sender_dev_tx_dropped: null,
    receiver_overlay_socket_drops: 0,
    receiver_app_socket_drops: 0,
    receiver_tun_write_errors: null,
    receiver_udp_rcvbuf_errors: null,
    receiver_udp_in_errors: null,
    ...d,
  };
}

const SPECS: SystemSpec[] = [
  { id: 'underlay', system: 'underlay', kind: 'reference' },
  { id: 'kernel-vxlan', system: 'kernel-vxlan', kind: 'reference' },
  { id: 'tulle-udp', system: 'tulle-udp', kind: 'tulle', backend: 'udp', batch: 64, offloads: { tun: true, udpGso: true, udpGro: false } },
  { id: 'socat', system: 'socat', kind: 'other' },
];

const SAMPLES: Sample[] = [
  sample('underlay', 'reference', 1, { tcp1_gbps: 20, rtt_ms: 0.04 }),
  sample('underlay', 'reference', 2, { tcp1_gbps: 30, rtt_ms: 0.06 }),
  sample('underlay', 'reference', 3, { tcp1_gbps: 25, rtt_ms: 0.05 }),
  sample('kernel-vxlan', 'reference', 1, { tcp1_gbps: 10, tcp_multi_gbps: 12, rtt_ms: 0.1, udp_small_kpps: 400, udp_small_loss_pct: 1 }),
  sample('kernel-vxlan', 'reference', 2, { tcp1_gbps: 16, tcp_multi_gbps: 14, rtt_ms: 0.1 }),
  sample('kernel-vxlan', 'reference', 3, { tcp1_gbps: 12, tcp_multi_gbps: 13, rtt_ms: 0.1 }),
  sample('tulle-udp', 'tulle', 1, {
    tcp1_gbps: 6,
    tcp_multi_gbps: 6.5,
    rtt_ms: 0.4,
    cpu_pct: 150,
    cpu_idle_pct: 0.5,
    cpu_rtt_pct: 3,
    udp_kpps: 50,
    udp_small_kpps: 100,
    udp_small_loss_pct: 70,
    udp_drops: drops({ sent: 1000, received: 300, sender_dev_tx_dropped: 500, receiver_overlay_socket_drops: 100, receiver_tun_write_errors: 0 }),
  }),
  sample('tulle-udp', 'tulle', 2, {
    udp_drops: drops({ sent: 2000, received: 600, sender_dev_tx_dropped: 700, receiver_overlay_socket_drops: 300, receiver_tun_write_errors: 0 }),
    tcp1_gbps: 5,
    tcp_multi_gbps: 6.5,
    rtt_ms: 0.5,
    cpu_pct: 100,
    generator_limited: ['tcp1_gbps'],
  }),
  sample('tulle-udp', 'tulle', 3, { tcp1_gbps: null, rtt_ms: 0.3, cpu_pct: 120 }),
  sample('socat', 'other', 1, { tcp1_gbps: 0.3, rtt_ms: 0.25, cpu_pct: 60, not_measured: { udp_kpps: 'because' } }),
];

t.test('aggregate: medians, spreads, ratios to both references', async (t) => {
  const rows = aggregate(SPECS, SAMPLES, 4);
  const [u, k, tu, so] = rows;
  t.equal(u.tcp1_gbps, 25);
  t.same(u.spread.tcp1_gbps, { min: 20, max: 30, q1: 22.5, q3: 27.5 });
  t.equal(k.tcp1_gbps, 12);
  t.equal(u.ratios, undefined, 'references get no ratios');
  t.equal(tu.tcp1_gbps, 5.5, 'a failed sample (null) is left out of the median');
  t.equal(tu.samples, 3);
  t.equal(tu.ratios!.vs_kernel_vxlan.tcp1_gbps, round3(5.5 / 12));
  t.equal(tu.ratios!.vs_underlay.tcp1_gbps, round3(5.5 / 25));
  t.equal(tu.ratios!.vs_kernel_vxlan.rtt_ms, 4, 'RTT ratio: 0.4 / 0.1');
  t.equal(tu.ratios!.vs_kernel_vxlan.udp_kpps, null, 'no ratio where the reference has no figure');
  t.equal(tu.tcp4_gbps, 6.5, "tcp4_gbps (the data-plane issue's name) with 4 streams");
  t.equal(tu.gbps_per_core, 4.5, 'median of 6/1.5 and 5/1.0 Gb/s per core');
  t.same(tu.generator_limited, ['tcp1_gbps']);
  t.equal(tu.offloads, 'tun on, udpGso on, udpGro off', 'without a start-up line: the offloads asked for');
  t.equal(so.not_measured.udp_kpps, 'because');
  t.equal(so.ratios!.vs_kernel_vxlan.tcp1_gbps, 0.025);
  t.equal(aggregate(SPECS, SAMPLES, 8)[2].tcp4_gbps, undefined, 'no tcp4_gbps when the run used 8 streams');
});

t.test('aggregate: the offloads a row shows are those its daemons said were in force', async (t) => {
  const spec: SystemSpec = {
    id: 'tulle-vxlan',
    system: 'tulle-vxlan',
    kind: 'tulle',
    backend: 'vxlan',
    batch: 64,
    offloads: { tun: true, udpGso: true, udpGro: true },
  };
  const line =
    'tulle: vxlan on 192.0.2.1:8472, tulle0 198.18.1.1/16 mtu 1450, subnet 198.18.1.0/24, 1 peers; offloads: tun on, udpGso on, udpGro on, udpTunnelGso on; source ports 49152,49153';
  const [said] = aggregate([spec], [sample('tulle-vxlan', 'tulle', 1, { tcp1_gbps: 8, daemon_log: [line, line] })], 4);
  t.equal(said.offloads, 'tun on, udpGso on, udpGro on, udpTunnelGso on', 'auto resolved, as the start-up line says');
  const [asked] = aggregate([spec], [sample('tulle-vxlan', 'tulle', 1, { tcp1_gbps: 8 })], 4);
  t.equal(asked.offloads, 'tun on, udpGso on, udpGro on', 'no start-up line: the offloads asked for');
  t.equal(offloadsInForce(['tulle: host-gw on 192.0.2.1, subnet 198.18.1.0/24, 1 peers']), undefined, 'a line that names no offloads');
  t.equal(offloadsInForce(undefined), undefined);
});

const round3 = (x: number) => Math.round(x * 1000) / 1000;

t.test('Markdown: spreads, marks, not measured, skipped', async (t) => {
  const rows = aggregate(SPECS, SAMPLES, 4);
  const md = markdownTable(rows, {
    reps: 3,
    duration: 5,
    streams: 4,
    size: 1400,
    smallSize: 64,
    tool: 'iperf3',
    gro: 'on',
    notes: ['a note'],
    skipped: [{ system: 'tinc', reason: 'not installed' }],
  });
  t.match(md, /\| underlay \| 25\.00 \(20\.00–30\.00\) \|/);
  t.match(md, /\| tulle-udp \| 5\.50† \(5\.00–6\.00\) \|/, 'a generator-limited figure is marked');
  t.match(md, /\| socat \| [^\n]*\| not measured \|/);
  t.match(md, /\| tulle-udp \| kernel-vxlan \| 0\.46× \|/);
  t.match(md, /\| UDP 1400 B kpps \| UDP loss % \| UDP 64 B kpps \| loss % \|/, 'the small-packet test has its own columns');
  t.match(md, /\| tulle-udp \| kernel-vxlan \| [^|]+\| [^|]+\| [^|]+\| 0\.25× \|/, 'and its own ratio: 100 kpps against 400');
  t.match(md, /\| socat \| [^\n]*\| not measured \| not measured \|/, 'a loss figure is not measured when its rate is not');
  t.match(md, /\| row \| overlay CPU % of a core: idle \(2 s\) \| during the RTT test \| during TCP ×1 \| RTT ms \|/, 'a CPU table');
  t.match(md, /\| tulle-udp \| 0\.5 \(0\.5–0\.5\) \| 3\.0 \(3\.0–3\.0\) \| 120 \(100–150\) \|/, 'with idle, RTT and TCP CPU');
  t.notMatch(md, /\| kernel-vxlan \| – \| – \|/, 'reference rows have no CPU row');
  // Medians over the two reps: sent 1500, received 450, TUN ring 600, overlay sockets 200; 250 nobody counted.
  t.match(md, /\| tulle-udp \(tulle0\) \| 1400 B \| 1500 \| 450 \| 600 \| 200 \| 0 \| 0 \| 250 \|/, 'where the datagrams were lost, medians per place');
  t.match(md, /skipped tinc: not installed\./);
  t.match(md, /note: a note/);
  t.match(md, /† the traffic generator itself was CPU-bound/);
  t.notMatch(md, /fragmented/, 'no MTU, no fragmentation note');
  const withMtu = rows.map((r) => ({ ...r, mtu: r.system === 'tulle-udp' ? 1420 : 1500 }));
  const md2 = markdownTable(withMtu, { reps: 3, duration: 5, streams: 4, size: 1400, smallSize: 64, tool: 'iperf3', gro: 'on', notes: [], skipped: [] });
  t.match(md2, /UDP datagrams of 1400 B \(1428 B with IPv4 and UDP headers\) exceed the MTU of tulle-udp \(1420\).*--size 1392 fits every row/);
});

t.test('UDP drops: per place in path order, and what no counter explains', async (t) => {
  const places = dropPlaces(drops({ sent: 100, received: 40, sender_dev_tx_dropped: 30, receiver_overlay_socket_drops: 5, receiver_app_socket_drops: 5 }));
  t.same(
    places.map((p) => p.dropped),
    [30, 5, null, 5, 20],
  );
  t.equal(places[0].place, "sender's tulle0");
  t.equal(dropPlaces(drops({ sent: null, received: 5 })).at(-1)!.dropped, null, 'unknown without a sent count');
  t.equal(dropPlaces(drops({ sent: 10, received: 5, sender_dev_tx_dropped: 9 })).at(-1)!.dropped, 0, 'never negative');
  t.equal(
    describeDrops(drops({ sent: 10, received: 5, sender_dev_tx_dropped: 3 })),
    "sender's tulle0 3, receiver's overlay sockets 0, application's socket 0, elsewhere (not counted) 2",
  );
});

t.test('SVG chart: one bar per measured row and panel, escaped, no NaN', async (t) => {
  const rows = aggregate(SPECS, SAMPLES, 4);
  rows.push({ ...rows[3], system: 'a <b> & "c"', tcp1_gbps: null, rtt_ms: null, gbps_per_core: null, samples: 1, not_measured: {} });
  const svg = svgChart(rows, { title: 'T', subtitle: 'S & s', reps: 3, footnotes: ['skipped x: <why>'], udp: { size: 1400, smallSize: 64 } });
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+"/);
  t.notMatch(svg, /NaN|undefined|Infinity/);
  const bars = svg.match(/<rect x="\d+(\.\d+)?" y="\d+(\.\d+)?" width="[\d.]+" height="26"/g) ?? [];
  t.equal(bars.length, 13, '4 measured rows × 2 panels, 1 row with 1400-byte and 2 with 64-byte packets/s, 2 rows in the per-core panel');
  t.match(svg, /UDP packets per second, 1400-byte datagrams/);
  t.match(svg, /UDP packets per second, 64-byte datagrams/);
  t.match(svg, /100\.0 kpps · 0\.25× kernel-vxlan/);
  const noUdp = svgChart(
    rows.map((r) => ({ ...r, udp_kpps: null, udp_small_kpps: null })),
    { title: 'T', subtitle: 'S', reps: 3, footnotes: [] },
  );
  t.notMatch(noUdp, /UDP packets per second/, 'a panel no row has a figure for is left out');
  t.match(svg, /n\/a: kernel work, not attributed/, 'kernel rows have no per-core bar, and say why');
  t.match(svg, /a &lt;b&gt; &amp; &quot;c&quot;/, 'labels are escaped');
  t.match(svg, /S &amp; s/);
  t.match(svg, /skipped x: &lt;why&gt;/);
  t.match(svg, />failed</, 'a row with samples and no figure says failed');
  t.match(svg, /5\.50 Gb\/s †/, 'generator-limited figures are marked');
  t.match(svg, /0\.46× kernel-vxlan/);
  // Bars scale with the value: underlay's bar (25) is 25/0.3 times socat's (0.3), within rounding.
  const widths = bars.slice(0, 4).map((b) => Number(/width="([\d.]+)"/.exec(b)![1]));
  t.ok(Math.abs(widths[0] / widths[1] - 25 / 12) < 0.01, `bars proportional: ${widths.join(', ')}`);
  t.equal((svg.match(/<svg/g) ?? []).length, 1);
  t.equal((svg.match(/<\/svg>/g) ?? []).length, 1);
  t.equal(escapeXml('<&>"'), '&lt;&amp;&gt;&quot;');
  t.equal(niceStep(27), 10);
  t.equal(niceStep(0.8), 0.2);
  t.equal(niceStep(0), 1);
});

t.test('options: defaults, and errors that name the option, value and what is allowed', async (t) => {
  const o = parseBenchOptions({}, SYSTEM_IDS, OTHER_IDS);
  t.same({ ...o, systems: undefined, out: undefined }, { ...DEFAULTS, ladder: true, systems: undefined, out: undefined });
  const p = parseBenchOptions(
    {
      duration: '1',
      reps: '2',
      hosts: '3',
      streams: '8',
      size: '512',
      offloads: 'off',
      gro: 'off',
      tool: 'builtin',
      backends: 'udp,vxlan',
      others: 'none',
      ladder: 'off',
      out: 'x',
    },
    SYSTEM_IDS,
    OTHER_IDS,
  );
  t.same(
    [p.duration, p.reps, p.hosts, p.streams, p.size, p.offloads, p.gro, p.tool, p.backends, p.others, p.ladder, p.out],
    [1, 2, 3, 8, 512, 'off', 'off', 'builtin', ['udp', 'vxlan'], [], false, 'x'],
  );
  const bad: [Record<string, string>, RegExp][] = [
    [{ duration: '0' }, /--duration must be a whole number from 1 to 600, got "0"/],
    [{ reps: '2.5' }, /--reps must be a whole number from 1 to 50, got "2.5"/],
    [{ hosts: '9' }, /--hosts must be a whole number from 2 to 8, got "9"/],
    [{ gro: 'yes' }, /--gro must be on or off, got "yes"/],
    [{ tool: 'netperf' }, /--tool must be auto, iperf3 or builtin, got "netperf"/],
    [{ backends: 'ipip' }, /--backends: unknown backend "ipip"; backends are: udp, vxlan, host-gw, or none/],
    [{ systems: 'tulle-udp,flannel' }, /--systems: unknown system "flannel"; systems are: underlay, kernel-vxlan/],
    [{ others: 'zerotier' }, /--others: unknown overlay "zerotier"; others are: socat, wireguard-go, nebula, tinc, all or none/],
    [{ warp: '1' }, /unknown option --warp/],
    [{ smallSize: '8' }, /--small-size must be 0 \(no small-packet test\) or a whole number from 16 to 1400, got "8"/],
  ];
  for (const [raw, message] of bad) t.throws(() => parseBenchOptions(raw, SYSTEM_IDS, OTHER_IDS), message);
  t.throws(() => parseBenchOptions({ reps: '0' }, SYSTEM_IDS, OTHER_IDS), BenchUsageError);
  t.same(parseBenchOptions({ rows: 'tulle-udp' }, SYSTEM_IDS, OTHER_IDS).systems, ['tulle-udp'], '--rows is --systems');
  t.equal(parseBenchOptions({ smallSize: '0' }, SYSTEM_IDS, OTHER_IDS).smallSize, 0, '--small-size 0 leaves the test out');
  t.equal(parseBenchOptions({ smallSize: '128' }, SYSTEM_IDS, OTHER_IDS).smallSize, 128);
});

t.test('system selection: references first, skips with reasons', async (t) => {
  const installed = (id: string) => (id === 'socat' ? { ok: true as const } : { ok: false as const, reason: `${id} missing` });
  const all = selectSystems(parseBenchOptions({}, SYSTEM_IDS, OTHER_IDS), installed);
  t.same(
    all.systems.map((s) => s.id),
    [
      'underlay',
      'kernel-vxlan',
      'tulle-udp',
      'tulle-vxlan',
      'tulle-host-gw',
      'tulle-vxlan-lowlatency',
      'tulle-vxlan-direct',
      'ladder-1',
      'ladder-2',
      'ladder-3',
      'ladder-4',
      'ladder-5',
      'ladder-6',
      'ladder-7',
      'ladder-8',
      'ladder-9',
      'socat',
    ],
  );
  const lowLatency = all.systems.find((s) => s.id === 'tulle-vxlan-lowlatency')!;
  t.same([lowLatency.busyPollUs, lowLatency.pin, lowLatency.backend], [100_000, true, 'vxlan'], 'the low-latency row comes with the vxlan backend, pinned');
  t.ok(lowLatency.busyPollUs! > PING_INTERVAL_S * 1e6, "its window outlasts the gap between the RTT test's pings, so no ping finds a thread asleep");
  t.same(all.skipped, [
    { system: 'wireguard-go', reason: 'wireguard-go missing' },
    { system: 'nebula', reason: 'nebula missing' },
    { system: 'tinc', reason: 'tinc missing' },
  ]);
  const explicit = selectSystems(parseBenchOptions({ systems: 'tulle-vxlan,nebula' }, SYSTEM_IDS, OTHER_IDS), installed);
  t.same(
    explicit.systems.map((s) => s.id),
    ['underlay', 'kernel-vxlan', 'tulle-vxlan'],
    'the references always come along',
  );
  t.same(
    explicit.skipped.map((s) => s.system),
    ['nebula'],
  );
  const off = selectSystems(parseBenchOptions({ offloads: 'off', others: 'none', backends: 'udp' }, SYSTEM_IDS, OTHER_IDS), installed);
  t.same(
    off.systems.map((s) => s.id),
    ['underlay', 'kernel-vxlan', 'tulle-udp'],
    'no low-latency row without the vxlan backend',
  );
  t.same(off.systems[2].offloads, { tun: false, udpGso: false, udpGro: false }, "--offloads off turns tulle's offloads off");
  t.match(off.skipped[0].reason, /not with --offloads off/);
});

t.test('refusals', async (t) => {
  const fine = { root: true, missingTools: [], distBuilt: true, addonBuilt: true, leftovers: [] };
  t.same(preflightProblems(fine), []);
  t.match(preflightProblems({ ...fine, root: false })[0], /needs root/);
  t.match(preflightProblems({ ...fine, missingTools: ['iperf3'] })[0], /iperf3 is not installed \(Debian: apt-get install -y iperf3\)/);
  t.match(preflightProblems({ ...fine, leftovers: ['tulle-benchabc-a'] })[0], /tulle-benchabc-a.*tulle lab down/);
  t.match(preflightProblems({ ...fine, distBuilt: false })[0], /npm run build/);
  t.equal(preflightProblems({ root: false, missingTools: ['ip'], distBuilt: false, addonBuilt: false, leftovers: ['x'] }).length, 5, 'every problem at once');
});

t.test('tool choice: iperf3 when installed, else the probes, and it says so', async (t) => {
  const both = chooseTools('auto', { iperf3: true, ping: true });
  t.same([both.throughput, both.latency, both.calibrate, both.notes], ['iperf3', 'ping', false, []]);
  const none = chooseTools('auto', { iperf3: false, ping: false });
  t.same([none.throughput, none.latency, none.calibrate], ['builtin', 'echo', false]);
  t.match(none.notes.join('\n'), /iperf3 is not installed: throughput measured with tulle's built-in generator/);
  t.match(none.notes.join('\n'), /ping is not installed/);
  const forced = chooseTools('builtin', { iperf3: true, ping: true });
  t.same([forced.throughput, forced.latency, forced.calibrate], ['builtin', 'echo', true], 'built-in by choice: calibrated against iperf3');
});

t.test('generator notes: says when the built-in generator cannot fill the pipe', async (t) => {
  const choice = chooseTools('builtin', { iperf3: true, ping: true });
  const rows = aggregate(SPECS, SAMPLES, 4);
  const calibrated = SAMPLES.map((s) =>
    s.system === 'underlay' && s.rep === 1 ? { ...s, calibration: { tool: 'iperf 3.12', tcp1_gbps: 40, rtt_ms: 0.03 } } : s,
  );
  const notes = generatorNotes(choice, rows, calibrated);
  t.match(notes.join('\n'), /cannot fill the pipe: on the underlay it reached 20\.00 Gb\/s where iperf 3\.12 reached 40\.00 \(50%\)/);
  t.match(notes.join('\n'), /echo probe read 0\.050 ms where ping read 0\.030 ms/);
  const keepsUp = generatorNotes(
    choice,
    rows,
    SAMPLES.map((s) => (s.system === 'underlay' && s.rep === 1 ? { ...s, calibration: { tool: 'iperf 3.12', tcp1_gbps: 21, rtt_ms: null } } : s)),
  );
  t.match(keepsUp.join('\n'), /keeps up with iperf 3\.12/);
  const alone = generatorNotes(chooseTools('auto', { iperf3: false, ping: false }), rows, SAMPLES);
  t.match(alone.join('\n'), /without iperf3 to compare, the underlay's 25\.00 Gb\/s is the most/);
  t.same(generatorNotes(chooseTools('auto', { iperf3: true, ping: true }), rows, SAMPLES), [], 'nothing to say with iperf3');
});

t.test('tulle bench: registered on a commander program with every option', async (t) => {
  const { Command } = await import('commander');
  const { registerBench } = await import('../src/cli/bench-command.js');
  const program = new Command('tulle');
  const bench = registerBench(program);
  t.equal(
    program.commands.find((c) => c.name() === 'bench'),
    bench,
  );
  const longs = bench.options.map((o) => o.long);
  for (const flag of [
    '--systems',
    '--rows',
    '--backends',
    '--ladder',
    '--others',
    '--hosts',
    '--duration',
    '--streams',
    '--size',
    '--small-size',
    '--reps',
    '--offloads',
    '--gro',
    '--tool',
    '--out',
  ]) {
    t.ok(longs.includes(flag), `${flag}`);
  }
  t.same(
    Object.keys(DEFAULTS).filter((k) => !longs.includes(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`)),
    [],
    'every option of src/bench/options.ts is a flag',
  );
});

t.test('results go to a folder in the current directory unless --out says otherwise', async (t) => {
  t.equal(resultsDir(undefined, '/home/someone/work'), '/home/someone/work/bench/results');
  t.equal(resultsDir('quick', '/home/someone/work'), '/home/someone/work/quick');
  t.equal(resultsDir('/srv/bench', '/home/someone/work'), '/srv/bench');
  t.equal(resultsDir(undefined), join(process.cwd(), 'bench', 'results'));
});

t.test('results.json records the tulle version and commit, the Node version and the kernel', async (t) => {
  const root = packageRoot();
  const software = provenance(root);
  t.equal(software.tulle, (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version);
  t.equal(software.node, process.version);
  t.equal(software.kernel, release());
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' });
  if (head.status === 0) t.equal(software.commit, head.stdout.trim(), 'the checkout the bench runs from');
  // An installed package has no .git: the commit is null, not an error.
  t.equal(gitCommit(tmpdir()), null);
  // run.ts writes these into results.json (tulle.version, tulle.commit, machine.node, machine.kernel).
  const run = readFileSync(join(root, 'src', 'bench', 'run.ts'), 'utf8');
  t.match(run, /tulle: \{ version: software\.tulle, commit: software\.commit \}/);
  t.match(run, /kernel: software\.kernel, node: software\.node/);
});
