/** `npm run soak`'s command line (pure): what it runs, how long, where the results go. */
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export interface SoakOptions {
  /** Length of the measured run (traffic and samples), in minutes. */
  minutes: number;
  /** Folder for soak.json, soak.md and soak.svg. */
  out: string;
  sampleSeconds: number;
  /** The first part of the run, left out of the growth figures: caches, JIT and pools fill up there. */
  warmupSeconds: number;
  /** RSS and V8 heap may move this much (in %) between the first and the last quarter after warm-up. */
  maxGrowthPct: number;
  /** Datagrams per second of the paced UDP stream. */
  udpPps: number;
  /** Payload bytes of each UDP datagram (sequence number included). */
  udpSize: number;
}

export const SOAK_USAGE = `usage: node dist/bench/soak.js [--minutes M] [--out DIR] [--sample-seconds S] [--warmup-seconds W]
                              [--max-growth-pct P] [--udp-pps N] [--udp-size B]
  --minutes M          length of the run (10)
  --out DIR            where soak.json, soak.md and soak.svg go (bench/results/soak-<time>)
  --sample-seconds S   time between samples (10)
  --warmup-seconds W   start of the run left out of the growth figures (60)
  --max-growth-pct P   RSS and heap target: flat within P % after warm-up (5)
  --udp-pps N          datagrams per second of the paced UDP stream (1000)
  --udp-size B         bytes per UDP datagram (512)`;

export class SoakUsageError extends Error {
  override name = 'SoakUsageError';
}

function number(values: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number, integer = false): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new SoakUsageError(`--${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}

/** A folder name from the start time: soak-2026-12-05T03-10-00Z. */
export function defaultOut(now: Date): string {
  return join(
    'bench',
    'results',
    `soak-${now
      .toISOString()
      .replace(/\.\d+Z$/, 'Z')
      .replace(/:/g, '-')}`,
  );
}

export function parseSoakOptions(argv: string[], now = new Date()): SoakOptions {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        minutes: { type: 'string' },
        out: { type: 'string' },
        'sample-seconds': { type: 'string' },
        'warmup-seconds': { type: 'string' },
        'max-growth-pct': { type: 'string' },
        'udp-pps': { type: 'string' },
        'udp-size': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }).values as Record<string, string | undefined>;
  } catch (error) {
    throw new SoakUsageError((error as Error).message);
  }
  const minutes = number(values, 'minutes', 10, 0.5, 24 * 60);
  const sampleSeconds = number(values, 'sample-seconds', 10, 1, 600);
  const warmupSeconds = number(values, 'warmup-seconds', 60, 0, 24 * 3600);
  // The growth figures compare two quarters of what follows the warm-up: each needs a sample at least.
  if ((minutes * 60 - warmupSeconds) / sampleSeconds < 4) {
    throw new SoakUsageError(
      `--minutes ${minutes} leaves ${Math.max(0, minutes * 60 - warmupSeconds)} s after the warm-up of ${warmupSeconds} s: ` +
        `at least 4 samples of ${sampleSeconds} s are needed there (a longer run, a shorter --warmup-seconds or --sample-seconds)`,
    );
  }
  return {
    minutes,
    out: values.out ?? defaultOut(now),
    sampleSeconds,
    warmupSeconds,
    maxGrowthPct: number(values, 'max-growth-pct', 5, 0, 1000),
    udpPps: number(values, 'udp-pps', 1000, 1, 100_000, true),
    udpSize: number(values, 'udp-size', 512, 16, 1400, true),
  };
}
