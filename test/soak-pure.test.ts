// The soak's verdicts, report and options on made-up samples: each target
// fails when it should (growth, an fd or a thread more, a restart, a stalled
// stream, a datagram lost with no drop counted) and passes when it should.
import t from 'tap';
import { COUNTERS, type CounterValues } from '../src/engine/counters.js';
import { growth, udpAccount, verdict, type VerdictInput } from '../bench/soak-analysis.js';
import { soakChart } from '../bench/soak-chart.js';
import { heapGrowth, summarizeSnapshot } from '../bench/soak-heap.js';
import { liveHeapSeries, type LiveHeap } from '../bench/soak-live-heap.js';
import { soakMarkdown, type SoakResult } from '../bench/soak-report.js';
import { defaultOut, parseSoakOptions, SoakUsageError } from '../bench/soak-options.js';
import { byLabel, parsePrometheus } from '../bench/soak-prom.js';
import type { DaemonSample, Sample } from '../bench/soak-sample.js';

const MIB = 2 ** 20;
const counters = (rxBytes: number) => ({ ...(Object.fromEntries(COUNTERS.map((c) => [c, 0])) as CounterValues), rxBytes });

function daemon(host: string, i: number, over: Partial<DaemonSample> = {}): DaemonSample {
  return {
    host,
    pid: 100,
    statusPid: 100,
    alive: true,
    // A sawtooth like V8's heap between collections: it must not read as growth.
    rssBytes: 90 * MIB + (i % 3) * MIB,
    heapUsedBytes: 20 * MIB + (i % 4) * 0.25 * MIB,
    majorGcs: Math.floor(i / 3),
    fds: 38,
    fdsPeak: 38,
    threads: 12,
    engine: counters(i * 1e9),
    gossip: {
      sentBytes: i * 4000,
      receivedBytes: i * 3900,
      sentDatagrams: i * 20,
      receivedDatagrams: i * 20,
      dropped: { badMac: 0 },
      probesFailed: 0,
      suspicions: 0,
      membersAlive: 2,
    },
    ...over,
  };
}

/** 61 samples 10 s apart (10 minutes); `tweak` changes host2's sample i. */
function samples(tweak: (i: number, d: DaemonSample) => Partial<DaemonSample> = () => ({})): Sample[] {
  return Array.from({ length: 61 }, (_, i) => ({
    t: i * 10,
    daemons: ['host1', 'host2', 'host3'].map((h) => {
      const d = daemon(h, i);
      return h === 'host2' ? { ...d, ...tweak(i, d) } : d;
    }),
    udp: { sent: i * 1000, received: i * 1000 },
  }));
}

/** Live heap snapshots at 30 (in the warm-up), 60, 330 and 600 s of 18 MiB each; `host2` gives host2's four. */
function liveHeap(host2 = [18 * MIB, 18 * MIB, 18 * MIB, 18 * MIB]) {
  const snaps: LiveHeap[] = [];
  [30, 60, 330, 600].forEach((t, k) => {
    for (const host of ['host1', 'host2', 'host3']) {
      const bytes = host === 'host2' ? host2[k] : 18 * MIB;
      snaps.push({
        t,
        host,
        liveBytes: bytes,
        pauseMs: 900,
        summary: { liveBytes: bytes, nativeBytes: 2 * MIB, nodes: 1000, byConstructor: { Map: { count: 10, bytes } } },
      });
    }
  });
  return liveHeapSeries(snaps, 60);
}

const input = (s: Sample[], over: Partial<VerdictInput> = {}): VerdictInput => ({
  samples: s,
  warmupSeconds: 60,
  maxGrowthPct: 5,
  tcpReceiver: 1,
  liveHeap: liveHeap(),
  udp: { sent: 60000, received: 60000, duplicates: 0, dropsBefore: { a: 5 }, dropsAfter: { a: 5 } },
  ...over,
});

function fakeResult(): SoakResult {
  const v = verdict(input(samples()));
  return {
    command: 'npm run soak',
    started: '2026-12-05T03:10:00.000Z',
    options: parseSoakOptions([]),
    machine: { cpu: 'cpu', cores: 2, kernel: '6.18', node: 'v20', tulle: '0.1.0', commit: null },
    load: { start: 1, mean: 1, end: 1, otherLabNamespaces: 0 },
    lab: { prefix: 'tulle-soakx-', gro: 'on', subnets: [] },
    tcp: { tool: 'builtin', from: 'host1', to: 'host2', gbps: 1, detail: '1 Gb/s' },
    udp: { from: 'host2', to: 'host3', pps: 1000, size: 512, sendErrors: 0, strays: 0 },
    samples: samples(),
    verdict: v,
  };
}

const failing = (v: ReturnType<typeof verdict>) => v.targets.filter((x) => !x.pass).map((x) => x.name);

t.test('steady samples: every target met, growth from medians of the first and last quarter', async (t) => {
  const v = verdict(input(samples()));
  t.same(failing(v), []);
  t.equal(v.pass, true);
  t.equal(v.quarter, 13, '55 samples after a 60 s warm-up: quarters of 13');
  t.ok(Math.abs(v.daemons[1].heap.pct) < 5, 'a sawtooth is not growth');
  t.equal(v.daemons[0].gossip.txBytesPerSecond, 400);
  t.equal(v.daemons[0].majorGcs, 18, 'full collections between the first (60 s) and the last sample (600 s)');
});

t.test('growth: +10% RSS on host2 after warm-up fails the RSS target only', async (t) => {
  const v = verdict(input(samples((i, d) => ({ rssBytes: d.rssBytes * (1 + (0.1 * i) / 60) }))));
  t.same(failing(v), ['host2 RSS flat within 5%']);
  t.ok(v.daemons[1].rss.pct > 5 && v.daemons[1].rss.bytes > 0);
});

t.test('heap used that climbs between full collections is not the target; the live heap is', async (t) => {
  // Garbage promoted and not yet collected: heap used +20% over the run, the live heap flat.
  const garbage = verdict(input(samples((i, d) => ({ heapUsedBytes: d.heapUsedBytes * (1 + (0.2 * i) / 60) }))));
  t.same(failing(garbage), []);
  t.ok(garbage.daemons[1].heap.pct > 5, `heap used grew ${garbage.daemons[1].heap.pct}%, shown`);
  t.equal(garbage.daemons[1].liveHeap.pct, 0);
  // A leak: the live heap climbs snapshot after snapshot (the one in the warm-up does not count).
  const leak = verdict(input(samples(), { liveHeap: liveHeap([10 * MIB, 18 * MIB, 19 * MIB, 20 * MIB]) }));
  t.same(failing(leak), ['host2 live V8 heap (after a full collection) flat within 5%']);
  t.equal(leak.daemons[1].liveHeap.pct, 11.11);
  t.same(
    leak.daemons[1].liveHeap.points.map((p) => p.t),
    [30, 60, 330, 600],
  );
  t.same(leak.daemons[1].liveHeap.grew, [{ name: 'Map', count: 0, bytes: 2 * MIB }]);
  t.match(
    soakMarkdown({ ...fakeResult(), verdict: leak }),
    /\| host2 \| 30, 60, 330, 600 \| 900, 900, 900, 900 \| 2\.0 → 2\.0 → 2\.0 → 2\.0 \| Map \+0 \+2097152 B \|/,
  );
  t.throws(
    () => verdict(input(samples(), { liveHeap: liveHeap().map((l) => ({ ...l, points: l.points.slice(0, 2) })) })),
    /host1: 1 live heap snapshots after the warm-up: at least 2/,
  );
});

t.test('a heap snapshot summed: live bytes, and counts and sizes by constructor', async (t) => {
  const snapshot = {
    snapshot: {
      meta: {
        node_fields: ['type', 'name', 'id', 'self_size', 'edge_count'],
        node_types: [['hidden', 'array', 'string', 'object', 'code', 'closure', 'native']],
      },
    },
    nodes: [3, 0, 1, 64, 0, 3, 0, 3, 64, 0, 3, 1, 5, 32, 0, 2, 2, 7, 40, 0, 5, 3, 9, 56, 0, 6, 4, 11, 100, 0],
    strings: ['Map', 'Lease', 'some text', 'onTick', 'Node / TCPWrap'],
  };
  const a = summarizeSnapshot(JSON.stringify(snapshot));
  t.equal(a.liveBytes, 256, 'the V8 heap: every node but the native one');
  t.equal(a.nativeBytes, 100);
  t.equal(a.nodes, 6);
  t.same(a.byConstructor, {
    Map: { count: 2, bytes: 128 },
    Lease: { count: 1, bytes: 32 },
    '(string)': { count: 1, bytes: 40 },
    '(closure)': { count: 1, bytes: 56 },
    'Node / TCPWrap': { count: 1, bytes: 100 },
  });
  const b = { ...a, byConstructor: { ...a.byConstructor, Lease: { count: 3, bytes: 96 }, '(string)': { count: 0, bytes: 0 } } };
  t.same(heapGrowth(a, b), [{ name: 'Lease', count: 2, bytes: 64 }], 'only what grew, largest first');
  t.throws(() => summarizeSnapshot('{"nodes": []}'), /not a V8 heap snapshot/);
  t.throws(
    () => summarizeSnapshot(JSON.stringify({ ...snapshot, snapshot: { meta: { node_fields: ['type'], node_types: [[]] } } })),
    /must include type, name and self_size, got type/,
  );
});

t.test('a heap that falls is not a leak', async (t) => {
  const v = verdict(input(samples((i, d) => ({ heapUsedBytes: d.heapUsedBytes * (1 - (0.3 * i) / 60) }))));
  t.same(failing(v), []);
  t.ok(v.daemons[1].heap.pct < -5);
});

t.test('the warm-up is left out: growth in the first minute does not count', async (t) => {
  const v = verdict(input(samples((i, d) => ({ rssBytes: i < 6 ? d.rssBytes / 2 : d.rssBytes, fds: i < 6 ? 30 : 38 }))));
  t.same(failing(v), []);
});

t.test('one fd or one thread more after warm-up fails', async (t) => {
  t.same(failing(verdict(input(samples((i) => ({ fds: i === 40 ? 39 : 38 }))))), ['host2 open fds at rest constant']);
  t.same(failing(verdict(input(samples((i) => ({ threads: i > 30 ? 13 : 12 }))))), ['host2 threads constant']);
});

t.test('a restart (another PID answers, or the process is gone) counts once per episode', async (t) => {
  const v = verdict(input(samples((i) => (i >= 20 && i < 22 ? { statusPid: 200 } : i === 50 ? { alive: false } : {}))));
  t.equal(v.daemons[1].restarts, 2);
  t.ok(failing(v).includes('host2 restarts'));
});

t.test('engine counters over the run: packets each way and the drops that moved', async (t) => {
  const v = verdict(input(samples((i, d) => ({ engine: { ...d.engine, txPackets: i * 10, dropNoRoute: i < 30 ? 0 : 3, sendErrors: 1 } }))));
  t.same(v.daemons[1].engine, { txPackets: 600, rxPackets: 0, drops: { dropNoRoute: 3 } });
  t.same(v.daemons[0].engine.drops, {});
});

t.test('a stalled stream fails, naming the interval', async (t) => {
  const s = samples((i) => (i === 30 ? { engine: counters(29 * 1e9) } : {}));
  const v = verdict(input(s));
  t.same(failing(v), ['TCP stream moved in every interval']);
  t.match(v.targets.find((x) => x.name.startsWith('TCP'))!.detail, /ending at 300 s/);
  const u = samples();
  u[12].udp.received = u[11].udp.received;
  t.same(failing(verdict(input(u))), ['UDP stream delivered in every interval']);
});

t.test('UDP: missing datagrams are explained by counted drops, or the target fails', async (t) => {
  const explained = udpAccount({ sent: 1000, received: 990, duplicates: 1, dropsBefore: { x: 3, y: 0 }, dropsAfter: { x: 10, y: 3 } });
  t.same(explained, { sent: 1000, received: 990, duplicates: 1, missing: 10, drops: { x: 7, y: 3 }, explained: 10, unexplained: 0 });
  const short = udpAccount({ sent: 1000, received: 990, duplicates: 0, dropsBefore: { x: 3 }, dropsAfter: { x: 7 } });
  t.equal(short.unexplained, 6);
  const v = verdict(input(samples(), { udp: { sent: 1000, received: 990, duplicates: 0, dropsBefore: { x: 3 }, dropsAfter: { x: 7 } } }));
  t.same(failing(v), ['no unexplained UDP loss']);
  t.same(
    failing(verdict(input(samples(), { udp: { sent: 0, received: 0, duplicates: 0, dropsBefore: {}, dropsAfter: {} } }))),
    ['no unexplained UDP loss'],
    'nothing delivered is a failure',
  );
});

t.test('growth of a series', async (t) => {
  t.same(growth([10, 10, 10, 11, 11, 11, 12, 12], 2), { first: 10, last: 12, bytes: 2, pct: 20 });
  t.throws(() => verdict(input(samples().slice(0, 8))), /2 samples after the warm-up of 60 s: at least 4/);
});

t.test('the Prometheus text: names, labels, values', async (t) => {
  const m = parsePrometheus(
    [
      '# HELP nodejs_heap_size_used_bytes Process heap size used from Node.js in bytes.',
      '# TYPE nodejs_heap_size_used_bytes gauge',
      'nodejs_heap_size_used_bytes 19601840',
      'tulle_gossip_bytes_total{direction="tx"} 123',
      'tulle_gossip_bytes_total{direction="rx"} 456 1700000000000',
      'tulle_info{version="0.1.0",backend="vxlan"} 1',
    ].join('\n'),
  );
  t.equal(m.get('nodejs_heap_size_used_bytes'), 19601840);
  t.same(byLabel(m, 'tulle_gossip_bytes_total', 'direction'), { tx: 123, rx: 456 });
  t.equal(m.size, 4);
});

t.test('options: defaults, and errors naming the option, the value and what is allowed', async (t) => {
  const o = parseSoakOptions([], new Date('2026-12-05T03:10:00.123Z'));
  t.same(o, {
    minutes: 10,
    out: defaultOut(new Date('2026-12-05T03:10:00Z')),
    sampleSeconds: 10,
    warmupSeconds: 60,
    maxGrowthPct: 5,
    udpPps: 1000,
    udpSize: 512,
  });
  t.match(o.out, /^bench[/\\]results[/\\]soak-2026-12-05T03-10-00Z$/);
  t.throws(() => parseSoakOptions(['--minutes', 'ten']), /^--minutes must be a number from 0\.5 to 1440, got "ten"$/);
  t.throws(() => parseSoakOptions(['--udp-pps', '1.5']), /--udp-pps must be a whole number from 1 to 100000, got "1.5"/);
  t.throws(() => parseSoakOptions(['--minutes', '1']), /leaves 0 s after the warm-up of 60 s: at least 4 samples of 10 s/);
  t.throws(() => parseSoakOptions(['--bogus']), /Unknown option '--bogus'/);
  t.ok(
    (() => {
      try {
        parseSoakOptions(['--bogus']);
      } catch (e) {
        return e instanceof SoakUsageError;
      }
    })(),
    'a usage error (exit 2), not a crash',
  );
});

t.test('the chart has a line per host in each of the four panels', async (t) => {
  const svg = soakChart(samples(), { title: 't', subtitle: 's', warmupSeconds: 60 });
  t.equal(svg.match(/<polyline /g)?.length, 12);
  t.equal(svg.match(/<circle /g), null, 'no snapshots, no dots');
  const dots = soakChart(samples(), { title: 't', subtitle: 's', warmupSeconds: 60, liveHeap: liveHeap().map((l) => l.points) });
  t.equal(dots.match(/<circle /g)?.length, 12, 'a dot per snapshot on the heap panel');
  t.match(svg, /open fds/);
  t.match(svg, /time since the traffic started \(min\)/);
});
