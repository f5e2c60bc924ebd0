/** The soak's results as JSON-ready data and as a Markdown report (pure). */
import type { Verdict } from './soak-analysis.js';
import { SNAPSHOT_SIGNAL } from './soak-live-heap.js';
import type { SoakOptions } from './soak-options.js';
import type { Sample } from './soak-sample.js';

export interface SoakResult {
  command: string;
  started: string;
  options: SoakOptions;
  machine: { cpu: string; cores: number; kernel: string; node: string; tulle: string; commit: string | null };
  /** 1-minute load average when the run started, its mean over the samples, and at the end. */
  load: { start: number; mean: number; end: number; otherLabNamespaces: number };
  lab: { prefix: string; gro: string; subnets: string[] };
  tcp: { tool: string; from: string; to: string; gbps: number | null; detail: string };
  udp: { from: string; to: string; pps: number; size: number; sendErrors: number; strays: number };
  samples: Sample[];
  verdict: Verdict;
}

const mib = (b: number) => (b / 2 ** 20).toFixed(1);
const signed = (n: number, digits = 0) => `${n >= 0 ? '+' : ''}${n.toFixed(digits)}`;

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** The per-daemon table: growth, fds, threads, restarts, gossip. */
export function daemonTable(v: Verdict): string {
  return table(
    [
      'host',
      'RSS MiB (first → last quarter)',
      'RSS growth',
      'heap used MiB (sampled)',
      'heap used growth',
      'live heap MiB (snapshots)',
      'live heap growth',
      'fds at rest (peak)',
      'threads',
      'restarts',
      'gossip tx B/s',
      'gossip rx B/s',
    ],
    v.daemons.map((d) => [
      d.host,
      `${mib(d.rss.first)} → ${mib(d.rss.last)}`,
      `${signed(d.rss.pct, 2)}% (${signed(d.rss.bytes / 1024)} KiB)`,
      `${mib(d.heap.first)} → ${mib(d.heap.last)}`,
      `${signed(d.heap.pct, 2)}% (${signed(d.heap.bytes / 1024)} KiB)`,
      d.liveHeap.points.map((p) => mib(p.liveBytes)).join(' → '),
      `${signed(d.liveHeap.pct, 2)}% (${signed(d.liveHeap.bytes / 1024)} KiB)`,
      `${d.fds.min === d.fds.max ? d.fds.min : `${d.fds.min}–${d.fds.max}`} (${d.fdsPeak})`,
      d.threads.min === d.threads.max ? `${d.threads.min}` : `${d.threads.min}–${d.threads.max}`,
      `${d.restarts}`,
      d.gossip.txBytesPerSecond.toFixed(0),
      d.gossip.rxBytesPerSecond.toFixed(0),
    ]),
  );
}

/** Per daemon, the constructors whose live size grew most from the first snapshot to the last. */
export function liveHeapTable(v: Verdict, top = 5): string {
  return table(
    [
      'host',
      'snapshots at (s)',
      'pause per snapshot (ms)',
      'native MiB (outside the V8 heap)',
      `grew most, end of warm-up → last snapshot (top ${top}: constructor, objects, bytes)`,
    ],
    v.daemons.map((d) => [
      d.host,
      d.liveHeap.points.map((p) => p.t.toFixed(0)).join(', '),
      d.liveHeap.points.map((p) => `${p.pauseMs}`).join(', '),
      d.liveHeap.points.map((p) => mib(p.nativeBytes)).join(' → '),
      d.liveHeap.grew
        .slice(0, top)
        .map((c) => `${c.name.replace(/[|\n]/g, ' ').slice(0, 40)} ${signed(c.count)} ${signed(c.bytes)} B`)
        .join('; ') || 'nothing',
    ]),
  );
}

/** What each engine moved and dropped over the run. */
export function engineTable(v: Verdict): string {
  return table(
    ['host', 'packets out (TUN → underlay)', 'packets in (underlay → TUN)', 'drops and errors'],
    v.daemons.map((d) => [
      d.host,
      `${d.engine.txPackets}`,
      `${d.engine.rxPackets}`,
      Object.entries(d.engine.drops)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || '0',
    ]),
  );
}

export function udpTable(r: SoakResult): string {
  const u = r.verdict.udp;
  const drops = Object.entries(u.drops)
    .map(([k, n]) => `${k}: ${n}`)
    .join('; ');
  return table(
    ['sent', 'delivered', 'duplicates', 'missing', 'drops counted on the path', 'unexplained'],
    [[`${u.sent}`, `${u.received}`, `${u.duplicates}`, `${u.missing}`, drops === '' ? '0' : `${u.explained} (${drops})`, `${u.unexplained}`]],
  );
}

export function targetTable(v: Verdict): string {
  return table(
    ['target', 'result', 'figure'],
    v.targets.map((t) => [t.name, t.pass ? 'pass' : '**FAIL**', t.detail]),
  );
}

export function soakMarkdown(r: SoakResult): string {
  const o = r.options;
  const v = r.verdict;
  return `# Soak: 3 hosts, gossip store, vxlan backend, ${o.minutes} min

\`${r.command}\`, started ${r.started}: ${v.pass ? 'every target met' : '**a target failed**'}.

- Machine: ${r.machine.cpu}, ${r.machine.cores} cores, Linux ${r.machine.kernel}, node ${r.machine.node}; tulle ${r.machine.tulle}${r.machine.commit ? ` (${r.machine.commit.slice(0, 12)})` : ''}.
- Load (1-minute average): ${r.load.start.toFixed(1)} at the start, ${r.load.mean.toFixed(1)} on average over the samples, ${r.load.end.toFixed(1)} at the end; ${r.load.otherLabNamespaces} namespaces of other tulle labs at the start.
- Lab ${r.lab.prefix}*: veth GRO ${r.lab.gro}; subnets ${r.lab.subnets.join(', ')}.
- TCP at full rate ${r.tcp.from} → ${r.tcp.to} (${r.tcp.tool}): ${r.tcp.detail}.
- UDP paced at ${o.udpPps} datagrams/s of ${o.udpSize} bytes ${r.udp.from} → ${r.udp.to}, sequence-numbered; ${r.udp.sendErrors} send errors at the sender (not counted as sent).
- A sample every ${o.sampleSeconds} s (${r.samples.length} samples). Warm-up: the first ${v.warmupSeconds} s, left out of the growth and constancy figures.
  Growth is the median of the last quarter of the samples after warm-up against the median of the first quarter (${v.quarter} samples each):
  the median, because the V8 heap saws up and down between collections and one sample can catch a peak.
  A fall is not a leak: the target is growth ≤ ${o.maxGrowthPct}%.

## Daemons

${daemonTable(v)}

Heap used is the main thread's V8 heap as sampled (prom-client's \`nodejs_heap_size_used_bytes\`); RSS covers every thread.
Full (mark-compact) collections after warm-up: ${v.daemons.map((d) => `${d.host} ${d.majorGcs}`).join(', ')} (the snapshots' own
included); between them the heap used includes promoted garbage no collection has freed yet, so it reads above the live data.
The heap target uses the live heap instead: the sum of the self sizes of the V8 heap's nodes in a heap snapshot the daemon
writes on ${SNAPSHOT_SIGNAL} (\`--heapsnapshot-signal\`), after the full collections V8 runs before a snapshot: half-way through the
warm-up (shown only), at its end, mid-run and at the end, each deleted once read; the target compares the one at the end of the
warm-up with the last. The daemon's main thread stops while it writes one (the pause): gossip probes to it may time out then.
A process's first snapshot leaves it with tens of MiB more RSS that malloc keeps, its second a little more: both are in the warm-up.

${liveHeapTable(v)}

fds at rest: the least of 5 counts 200 ms apart at each sample; a daemon runs ip, iptables or nft every 10 s,
and that child's pipes are its fds while it runs (the peak, in brackets). A leaked fd stays, so it shows at rest.
Gossip drops in the run: ${
    v.daemons
      .map((d) =>
        Object.keys(d.gossip.dropped).length === 0
          ? `${d.host} none`
          : `${d.host} ${Object.entries(d.gossip.dropped)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ')}`,
      )
      .join('; ') || 'none'
  }; suspicions raised: ${v.daemons.map((d) => `${d.host} ${d.gossip.suspicions}`).join(', ')}.

Engine counters over the run:

${engineTable(v)}

## UDP stream

${udpTable(r)}

## Targets

${targetTable(v)}
`;
}
