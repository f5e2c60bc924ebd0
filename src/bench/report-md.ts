/** The Markdown report (pure). */
import type { Metric, Row } from './aggregate.js';
import type { Spread } from './stats.js';
import { dropPlaces } from './udp-drops.js';

export interface ReportContext {
  reps: number;
  duration: number;
  streams: number;
  size: number;
  /** Payload of the small-packet test; 0: left out. */
  smallSize: number;
  /** e.g. "iperf3 3.12 (TCP, UDP) and ping (RTT)". */
  tool: string;
  gro: string;
  notes: string[];
  skipped: { system: string; reason: string }[];
}

const MARK = '†';
const UDP_IPV4_HEADERS = 28;

/** A loss figure is not measured when its packets/s test is not. */
const RATE_OF: Partial<Record<Metric, Metric>> = { udp_loss_pct: 'udp_kpps', udp_small_loss_pct: 'udp_small_kpps' };

function cell(row: Row, metric: Metric, digits: number, reps: number): string {
  const v = row[metric];
  const notMeasured = row.not_measured[metric] ?? row.not_measured[RATE_OF[metric] ?? metric];
  if (v === null) return notMeasured !== undefined ? 'not measured' : row.samples === 0 ? '–' : 'failed';
  const s: Spread | undefined = row.spread[metric];
  const mark = row.generator_limited.includes(metric) ? MARK : '';
  const text = `${v.toFixed(digits)}${mark}`;
  return reps > 1 && s ? `${text} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})` : text;
}

export function fmtRatio(x: number | null | undefined): string {
  return x === null || x === undefined ? '–' : `${x.toFixed(2)}×`;
}

export function markdownTable(rows: Row[], ctx: ReportContext): string {
  const lines: string[] = [];
  lines.push(
    `| system | TCP ×1 Gb/s | TCP ×${ctx.streams} Gb/s | UDP ${ctx.size} B kpps | UDP loss % | ${ctx.smallSize ? `UDP ${ctx.smallSize} B` : 'UDP small'} kpps | loss % | RTT ms | overlay CPU % of a core (TCP ×1) | Gb/s per core | TCP ×1 vs kernel-vxlan | TCP ×1 vs underlay |`,
  );
  lines.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const r of rows) {
    const kernel = r.kind === 'reference';
    lines.push(
      `| ${r.system} | ${cell(r, 'tcp1_gbps', 2, ctx.reps)} | ${cell(r, 'tcp_multi_gbps', 2, ctx.reps)} | ${cell(r, 'udp_kpps', 1, ctx.reps)} | ${cell(r, 'udp_loss_pct', 1, ctx.reps)} | ${cell(r, 'udp_small_kpps', 1, ctx.reps)} | ${cell(
        r,
        'udp_small_loss_pct',
        1,
        ctx.reps,
      )} | ${cell(r, 'rtt_ms', 3, ctx.reps)} | ${
        kernel ? 'n/a (kernel)' : cell(r, 'cpu_pct', 0, ctx.reps)
      } | ${kernel ? 'n/a' : cell(r, 'gbps_per_core', 2, 1)} | ${r.ratios ? fmtRatio(r.ratios.vs_kernel_vxlan.tcp1_gbps) : ''} | ${r.ratios ? fmtRatio(r.ratios.vs_underlay.tcp1_gbps) : ''} |`,
    );
  }
  const compared = rows.filter((r) => r.ratios);
  if (compared.length > 0) {
    lines.push(
      '',
      `| row | vs | TCP ×1 | TCP ×${ctx.streams} | UDP ${ctx.size} B kpps | ${ctx.smallSize ? `UDP ${ctx.smallSize} B` : 'UDP small'} kpps | RTT (lower is better) |`,
      '|---|---|--:|--:|--:|--:|--:|',
    );
    for (const r of compared) {
      for (const [label, x] of [
        ['kernel-vxlan', r.ratios!.vs_kernel_vxlan],
        ['underlay', r.ratios!.vs_underlay],
      ] as const) {
        lines.push(
          `| ${r.system} | ${label} | ${fmtRatio(x.tcp1_gbps)} | ${fmtRatio(x.tcp_multi_gbps)} | ${fmtRatio(x.udp_kpps)} | ${fmtRatio(x.udp_small_kpps)} | ${fmtRatio(x.rtt_ms)} |`,
        );
      }
    }
  }
  const dropRows = rows.flatMap((r) =>
    (
      [
        [ctx.size, r.udp_drops],
        [ctx.smallSize, r.udp_small_drops],
      ] as const
    ).flatMap(([size, d]) => (d === undefined ? [] : [{ r, size, places: dropPlaces(d), d }])),
  );
  if (dropRows.length > 0) {
    const names = ["sender's device", "receiver's overlay sockets", "receiver's TUN writes", "application's socket", 'elsewhere'];
    lines.push('', `| where UDP datagrams were lost | size | sent | received | ${names.join(' | ')} |`, `|---|--:|--:|--:|${names.map(() => '--:|').join('')}`);
    const n = (v: number | null) => (v === null ? '–' : String(v));
    for (const { r, size, places, d } of dropRows)
      lines.push(`| ${r.system} (${d.sender_dev}) | ${size} B | ${n(d.sent)} | ${n(d.received)} | ${places.map((p) => n(p.dropped)).join(' | ')} |`);
  }
  const withCpu = rows.filter((r) => r.kind !== 'reference' && (r.cpu_idle_pct !== null || r.cpu_rtt_pct !== null || r.cpu_pct !== null));
  if (withCpu.length > 0) {
    lines.push('', '| row | overlay CPU % of a core: idle (2 s) | during the RTT test | during TCP ×1 | RTT ms |', '|---|--:|--:|--:|--:|');
    for (const r of withCpu)
      lines.push(
        `| ${r.system} | ${cell(r, 'cpu_idle_pct', 1, ctx.reps)} | ${cell(r, 'cpu_rtt_pct', 1, ctx.reps)} | ${cell(r, 'cpu_pct', 0, ctx.reps)} | ${cell(r, 'rtt_ms', 3, ctx.reps)} |`,
      );
  }
  lines.push(
    '',
    `${ctx.reps > 1 ? `median (min–max) of ${ctx.reps} reps, round-robin` : '1 rep'}; ${ctx.duration} s per throughput test; ${ctx.tool}; veth GRO ${ctx.gro}; ` +
      "CPU = utime+stime of the overlay's processes during TCP ×1, % of one core; Gb/s per core = TCP ×1 / that CPU.",
  );
  if (rows.some((r) => r.generator_limited.length > 0))
    lines.push('', `${MARK} the traffic generator itself was CPU-bound here: the figure is its limit and may understate the system.`);
  for (const r of rows) {
    const byReason = new Map<string, string[]>();
    for (const [metric, why] of Object.entries(r.not_measured)) byReason.set(why, [...(byReason.get(why) ?? []), metric]);
    for (const [why, metrics] of byReason) lines.push('', `${r.system}: ${metrics.join(', ')} not measured: ${why}.`);
    for (const n of r.notes ?? []) lines.push('', `${r.system}: ${n}.`);
    if (r.offloads !== undefined) lines.push('', `${r.system}: batch ${r.batch}, offloads ${r.offloads}.`);
  }
  const fragmented = rows.filter((r) => r.mtu !== undefined && ctx.size + UDP_IPV4_HEADERS > r.mtu && r.udp_kpps !== null);
  if (fragmented.length > 0) {
    lines.push(
      '',
      `UDP datagrams of ${ctx.size} B (${ctx.size + UDP_IPV4_HEADERS} B with IPv4 and UDP headers) exceed the MTU of ${fragmented.map((r) => `${r.system} (${r.mtu})`).join(', ')}: ` +
        `they are fragmented there, so those UDP figures do not compare with the others (--size ${Math.min(...fragmented.map((r) => r.mtu!)) - UDP_IPV4_HEADERS} fits every row).`,
    );
  }
  for (const s of ctx.skipped) lines.push('', `skipped ${s.system}: ${s.reason}.`);
  for (const n of ctx.notes) lines.push('', `note: ${n}`);
  return lines.join('\n');
}
