/**
 * The results chart (pure): horizontal bars, one panel each for TCP ×1
 * throughput, UDP packets per second with full-size and with small datagrams
 * (higher is better), RTT (lower is better) and throughput per core of the
 * overlay's own CPU, colored by kind of system, each bar labelled with its
 * value (and its ratio to kernel-vxlan). A panel no row has a figure for is
 * left out.
 */
import type { Metric, Row } from './aggregate.js';
import type { SystemKind } from './systems.js';

export interface ChartContext {
  title: string;
  subtitle: string;
  reps: number;
  /** Lines under the chart (skipped systems, caveats). */
  footnotes: string[];
  /** UDP payloads of the two packets/s tests (bytes), for their panels' titles. */
  udp?: { size: number; smallSize: number };
}

export const KIND_COLORS: Record<SystemKind, string> = {
  reference: '#6b7785', // grey: the kernel's own paths
  tulle: '#e0631b', // orange: tulle
  ladder: '#f2b27a', // light orange: tulle with parts of the design switched off
  other: '#3f7fbf', // blue: other userspace overlays
};
const KIND_LABELS: Record<SystemKind, string> = {
  reference: 'kernel (reference)',
  tulle: 'tulle',
  ladder: 'tulle, ladder step',
  other: 'other userspace overlay',
};

const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';
/** Average glyph width of DejaVu Sans, in em. */
const EM = 0.6;

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A round axis step giving about five gridlines up to `max`. */
export function niceStep(max: number): number {
  if (!(max > 0)) return 1;
  const raw = max / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

const textWidth = (s: string, size: number) => s.length * size * EM;

interface Panel {
  metric: Metric;
  title: string;
  unit: string;
  digits: number;
  ratioLabel: (row: Row) => string;
  /** Text for a row without a figure that was not a failure (e.g. kernel rows have no overlay process). */
  absent?: (row: Row) => string | undefined;
}

export function svgChart(rows: Row[], ctx: ChartContext): string {
  const labelSize = 15;
  const left = Math.max(150, Math.ceil(Math.max(...rows.map((r) => textWidth(r.system, labelSize)))) + 28);
  const plotW = 560;
  const valueRoom = 250;
  const W = left + plotW + valueRoom;
  const barH = 26;
  const gap = 10;
  const panels: Panel[] = [
    {
      metric: 'tcp1_gbps',
      title: 'TCP throughput, 1 stream (Gb/s, higher is better)',
      unit: 'Gb/s',
      digits: 2,
      ratioLabel: (r) => (r.ratios?.vs_kernel_vxlan.tcp1_gbps != null ? ` · ${r.ratios.vs_kernel_vxlan.tcp1_gbps.toFixed(2)}× kernel-vxlan` : ''),
    },
    ...(['udp_kpps', 'udp_small_kpps'] as const).map((metric): Panel => ({
      metric,
      title: `UDP packets per second, ${(metric === 'udp_kpps' ? ctx.udp?.size : ctx.udp?.smallSize) ?? '?'}-byte datagrams, unpaced (thousands, higher is better)`,
      unit: 'kpps',
      digits: 1,
      ratioLabel: (r) => (r.ratios?.vs_kernel_vxlan[metric] != null ? ` · ${r.ratios.vs_kernel_vxlan[metric].toFixed(2)}× kernel-vxlan` : ''),
    })),
    {
      metric: 'rtt_ms',
      title: 'Round-trip time (ms, lower is better)',
      unit: 'ms',
      digits: 3,
      ratioLabel: (r) => (r.ratios?.vs_kernel_vxlan.rtt_ms != null ? ` · ${r.ratios.vs_kernel_vxlan.rtt_ms.toFixed(1)}× kernel-vxlan` : ''),
    },
    {
      metric: 'gbps_per_core',
      title: "TCP ×1 per core of the overlay's own CPU (Gb/s per core, higher is better)",
      unit: 'Gb/s per core',
      digits: 2,
      ratioLabel: () => '',
      absent: (r) => (r.kind === 'reference' ? 'n/a: kernel work, not attributed to a process' : undefined),
    },
  ];
  const out: string[] = [];
  let y = 36;
  const body: string[] = [];
  body.push(`<text x="24" y="${y}" font-size="21" font-weight="bold" fill="#1a1a1a">${escapeXml(ctx.title)}</text>`);
  y += 24;
  body.push(`<text x="24" y="${y}" font-size="13" fill="#555555">${escapeXml(ctx.subtitle)}</text>`);
  y += 22;
  // Legend: only the kinds present.
  let lx = 24;
  for (const kind of (['reference', 'tulle', 'ladder', 'other'] as SystemKind[]).filter((k) => rows.some((r) => r.kind === k))) {
    body.push(`<rect x="${lx}" y="${y - 11}" width="14" height="14" fill="${KIND_COLORS[kind]}" rx="2"/>`);
    body.push(`<text x="${lx + 20}" y="${y + 1}" font-size="13" fill="#333333">${escapeXml(KIND_LABELS[kind])}</text>`);
    lx += 20 + textWidth(KIND_LABELS[kind], 13) + 24;
  }
  y += 18;
  for (const panel of panels.filter((p) => rows.some((r) => r[p.metric] !== null))) {
    y += 26;
    body.push(`<text x="24" y="${y}" font-size="16" font-weight="bold" fill="#1a1a1a">${escapeXml(panel.title)}</text>`);
    y += 18;
    const top = y;
    const max = Math.max(0, ...rows.map((r) => Math.max(r[panel.metric] ?? 0, ctx.reps > 1 ? (r.spread[panel.metric]?.max ?? 0) : 0)));
    const step = niceStep(max);
    const axisMax = Math.max(step, Math.ceil(max / step - 1e-9) * step);
    const x = (v: number) => left + (v / axisMax) * plotW;
    const bottom = top + rows.length * (barH + gap) - gap + 6;
    for (let i = 0; i * step <= axisMax + 1e-9; i++) {
      const v = i * step;
      const gx = x(v).toFixed(1);
      body.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${bottom}" stroke="${v === 0 ? '#333333' : '#e4e4e4'}" stroke-width="1"/>`);
      body.push(`<text x="${gx}" y="${bottom + 17}" font-size="12" fill="#555555" text-anchor="middle">${Number(v.toFixed(6))}</text>`);
    }
    body.push(`<text x="${(left + plotW).toFixed(1)}" y="${bottom + 34}" font-size="12" fill="#555555" text-anchor="end">${escapeXml(panel.unit)}</text>`);
    rows.forEach((r, i) => {
      const by = top + i * (barH + gap);
      const cy = by + barH / 2;
      body.push(`<text x="${left - 12}" y="${cy + 5}" font-size="${labelSize}" fill="#1a1a1a" text-anchor="end">${escapeXml(r.system)}</text>`);
      const v = r[panel.metric];
      if (v === null) {
        const reason = r.not_measured[panel.metric];
        const why = panel.absent?.(r) ?? (reason !== undefined ? `not measured: ${reason}` : r.samples === 0 ? 'not run' : 'failed');
        body.push(`<text x="${left + 8}" y="${cy + 5}" font-size="14" fill="${why === 'failed' ? '#b00020' : '#777777'}">${why}</text>`);
        return;
      }
      const w = Math.max(2, x(v) - left);
      body.push(`<rect x="${left}" y="${by}" width="${w.toFixed(1)}" height="${barH}" fill="${KIND_COLORS[r.kind]}" rx="2"/>`);
      let labelX = left + w + 8;
      const sp = r.spread[panel.metric];
      if (ctx.reps > 1 && sp) {
        const x1 = x(sp.min);
        const x2 = x(sp.max);
        body.push(`<line x1="${x1.toFixed(1)}" y1="${cy}" x2="${x2.toFixed(1)}" y2="${cy}" stroke="#222222" stroke-width="1.5"/>`);
        for (const xx of [x1, x2])
          body.push(`<line x1="${xx.toFixed(1)}" y1="${cy - 6}" x2="${xx.toFixed(1)}" y2="${cy + 6}" stroke="#222222" stroke-width="1.5"/>`);
        labelX = Math.max(labelX, x2 + 8);
      }
      const mark = r.generator_limited.includes(panel.metric) ? ' †' : '';
      const label = `${v.toFixed(panel.digits)} ${panel.unit}${mark}${panel.ratioLabel(r)}`;
      if (labelX + textWidth(label, 14) > W - 8 && textWidth(label, 14) + 16 < w) {
        body.push(
          `<text x="${(left + w - 8).toFixed(1)}" y="${cy + 5}" font-size="14" font-weight="bold" fill="#ffffff" text-anchor="end">${escapeXml(label)}</text>`,
        );
      } else {
        body.push(`<text x="${labelX.toFixed(1)}" y="${cy + 5}" font-size="14" font-weight="bold" fill="#1a1a1a">${escapeXml(label)}</text>`);
      }
    });
    y = bottom + 40;
  }
  for (const line of ctx.footnotes) {
    y += 18;
    body.push(`<text x="24" y="${y}" font-size="12" fill="#555555">${escapeXml(line)}</text>`);
  }
  const H = y + 20;
  const width = Math.max(W, ...ctx.footnotes.map((f) => 24 + textWidth(f, 12) + 24), 24 + textWidth(ctx.subtitle, 13) + 24);
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" height="${Math.ceil(H)}" viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(H)}" font-family="${FONT}">`,
  );
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(...body, '</svg>');
  return out.join('\n') + '\n';
}
