/**
 * The soak's chart (pure): RSS, V8 heap, open fds and threads of each daemon
 * over time, one panel each, the warm-up shaded; the live heap of each
 * snapshot as a dot on the heap panel.
 */
import { escapeXml, niceStep } from '../src/bench/chart-svg.js';
import type { Sample } from './soak-sample.js';

const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';
const HOST_COLORS = ['#e0631b', '#3f7fbf', '#4a9b4a', '#8e5ea2'];

interface Panel {
  title: string;
  pick: (d: Sample['daemons'][number]) => number;
  digits: number;
  /** Draw the live heap snapshots on this panel. */
  live?: boolean;
}

/** Per host (in the samples' order), the live heap of each snapshot: seconds and bytes. */
export type LiveHeapMarks = { t: number; liveBytes: number }[][];

const MIB = 2 ** 20;
const PANELS: Panel[] = [
  { title: 'RSS (MiB)', pick: (d) => d.rssBytes / MIB, digits: 0 },
  { title: 'V8 heap used, main thread (MiB); dots: live heap after a full collection', pick: (d) => d.heapUsedBytes / MIB, digits: 0, live: true },
  { title: 'open fds', pick: (d) => d.fds, digits: 0 },
  { title: 'threads', pick: (d) => d.threads, digits: 0 },
];

export function soakChart(samples: Sample[], ctx: { title: string; subtitle: string; warmupSeconds: number; liveHeap?: LiveHeapMarks }): string {
  const left = 70;
  const plotW = 640;
  const plotH = 130;
  const W = left + plotW + 40;
  const hosts = samples[0]?.daemons.map((d) => d.host) ?? [];
  const tMax = Math.max(1, samples[samples.length - 1]?.t ?? 1);
  const minutes = tMax >= 120;
  const xUnit = minutes ? 60 : 1;
  const xStep = niceStep(tMax / xUnit);
  const x = (t: number) => left + (t / tMax) * plotW;
  const body: string[] = [];
  let y = 34;
  body.push(`<text x="24" y="${y}" font-size="20" font-weight="bold" fill="#1a1a1a">${escapeXml(ctx.title)}</text>`);
  y += 22;
  body.push(`<text x="24" y="${y}" font-size="13" fill="#555555">${escapeXml(ctx.subtitle)}</text>`);
  y += 22;
  let lx = 24;
  hosts.forEach((h, i) => {
    body.push(`<rect x="${lx}" y="${y - 11}" width="14" height="4" fill="${HOST_COLORS[i % HOST_COLORS.length]}"/>`);
    body.push(`<text x="${lx + 20}" y="${y - 4}" font-size="13" fill="#333333">${escapeXml(h)}</text>`);
    lx += 100;
  });
  body.push(`<rect x="${lx}" y="${y - 15}" width="14" height="12" fill="#eeeeee"/>`);
  body.push(`<text x="${lx + 20}" y="${y - 4}" font-size="13" fill="#333333">warm-up (left out of the growth figures)</text>`);
  for (const panel of PANELS) {
    y += 34;
    body.push(`<text x="24" y="${y}" font-size="15" font-weight="bold" fill="#1a1a1a">${escapeXml(panel.title)}</text>`);
    y += 12;
    const top = y;
    const bottom = top + plotH;
    const marks = panel.live ? (ctx.liveHeap ?? []) : [];
    const values = [...samples.flatMap((s) => s.daemons.map(panel.pick)), ...marks.flat().map((m) => m.liveBytes / MIB)];
    const lo0 = Math.min(...values);
    const hi0 = Math.max(...values);
    // A range around the data (not from 0), so a slow climb shows; at least a few units tall so a flat line sits mid-panel.
    const pad = Math.max((hi0 - lo0) * 0.1, 2);
    const step = niceStep(hi0 - lo0 + 2 * pad);
    const lo = Math.max(0, Math.floor((lo0 - pad) / step) * step);
    const hi = Math.ceil((hi0 + pad) / step) * step;
    const yOf = (v: number) => bottom - ((v - lo) / (hi - lo)) * plotH;
    body.push(`<rect x="${left}" y="${top}" width="${(x(Math.min(ctx.warmupSeconds, tMax)) - left).toFixed(1)}" height="${plotH}" fill="#eeeeee"/>`);
    for (let v = lo; v <= hi + 1e-9; v += step) {
      const gy = yOf(v).toFixed(1);
      body.push(`<line x1="${left}" y1="${gy}" x2="${left + plotW}" y2="${gy}" stroke="#e4e4e4" stroke-width="1"/>`);
      body.push(`<text x="${left - 8}" y="${(yOf(v) + 4).toFixed(1)}" font-size="11" fill="#555555" text-anchor="end">${Number(v.toFixed(6))}</text>`);
    }
    for (let i = 0; i * xStep * xUnit <= tMax + 1e-9; i++) {
      const gx = x(i * xStep * xUnit).toFixed(1);
      body.push(`<line x1="${gx}" y1="${bottom}" x2="${gx}" y2="${bottom + 4}" stroke="#333333" stroke-width="1"/>`);
      body.push(`<text x="${gx}" y="${bottom + 16}" font-size="11" fill="#555555" text-anchor="middle">${Number((i * xStep).toFixed(6))}</text>`);
    }
    body.push(`<line x1="${left}" y1="${bottom}" x2="${left + plotW}" y2="${bottom}" stroke="#333333" stroke-width="1"/>`);
    hosts.forEach((_, i) => {
      const points = samples.map((s) => `${x(s.t).toFixed(1)},${yOf(panel.pick(s.daemons[i])).toFixed(1)}`).join(' ');
      body.push(`<polyline points="${points}" fill="none" stroke="${HOST_COLORS[i % HOST_COLORS.length]}" stroke-width="1.8"/>`);
    });
    marks.forEach((points, i) => {
      for (const m of points) {
        body.push(
          `<circle cx="${x(Math.min(m.t, tMax)).toFixed(1)}" cy="${yOf(m.liveBytes / MIB).toFixed(1)}" r="3.5" fill="${HOST_COLORS[i % HOST_COLORS.length]}" stroke="#ffffff" stroke-width="1"/>`,
        );
      }
    });
    y = bottom + 16;
  }
  y += 20;
  body.push(
    `<text x="${left + plotW}" y="${y}" font-size="12" fill="#555555" text-anchor="end">time since the traffic started (${minutes ? 'min' : 's'})</text>`,
  );
  y += 18;
  body.push(`<text x="24" y="${y}" font-size="12" fill="#555555">Equal values draw one line over another: the last host's is on top.</text>`);
  const H = y + 16;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
