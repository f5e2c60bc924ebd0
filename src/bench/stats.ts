/** Medians, spreads and ratios (pure). */

export interface Spread {
  min: number;
  max: number;
  /** Quartiles (linear interpolation between order statistics); equal to min/max for 1–2 values. */
  q1: number;
  q3: number;
}

/** The p-quantile (0 ≤ p ≤ 1) of `values`, interpolating linearly between neighbours (R type 7). */
export function quantile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('quantile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function spread(values: readonly number[]): Spread {
  return { min: Math.min(...values), max: Math.max(...values), q1: quantile(values, 0.25), q3: quantile(values, 0.75) };
}

/** x / base, or null when either is missing or base is 0. */
export function ratio(x: number | null | undefined, base: number | null | undefined): number | null {
  if (x === null || x === undefined || base === null || base === undefined || base === 0) return null;
  return x / base;
}

/** Throughput per core: Gbit/s divided by the CPU used (in cores); null without both. */
export function perCore(gbps: number | null, cpuPct: number | null): number | null {
  if (gbps === null || cpuPct === null || cpuPct <= 0) return null;
  return gbps / (cpuPct / 100);
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
