/**
 * The overlay bench's options: defaults, and validation of raw command-line
 * strings (pure: `tulle bench` and the demo's throughput step parse through here).
 */
import { resolve } from 'node:path';

export type OnOff = 'on' | 'off';
export type TrafficTool = 'auto' | 'iperf3' | 'builtin';
export const TULLE_BACKENDS = ['udp', 'vxlan', 'host-gw'] as const;
export type TulleBackend = (typeof TULLE_BACKENDS)[number];

export interface BenchOptions {
  /** Explicit systems (ids); undefined: from backends, ladder and others. The references are always added. */
  systems?: string[];
  /** tulle backends to measure. */
  backends: TulleBackend[];
  /** The ladder rows (tulle-udp with offloads added one step at a time; tulle-vxlan with super-packets split in userspace, and without backlog yields). */
  ladder: boolean;
  /** Other userspace overlays: ids, or 'all' for every one that is installed. */
  others: string[] | 'all';
  /** Hosts in the lab (the pair tests run between the first two; reachability covers all). */
  hosts: number;
  /** Seconds per throughput test. */
  duration: number;
  /** Streams of the multi-stream TCP test. */
  streams: number;
  /** UDP payload bytes of the packets/s test. */
  size: number;
  /** UDP payload bytes of the small-packet test (per-packet cost, not bytes); 0 leaves it out. */
  smallSize: number;
  /** Repetitions, round-robin across the systems. */
  reps: number;
  /** tulle's own offloads (TUN vnet/TSO, UDP GSO/GRO) on the tulle rows. */
  offloads: OnOff;
  /** veth GRO in the lab. */
  gro: OnOff;
  /** Traffic generator: iperf3 and ping, tulle's built-in probes, or iperf3 when installed. */
  tool: TrafficTool;
  /** A system-wide CPU profile (perf) of each throughput test, for the cost model's breakdown (cost-model.ts). */
  profile: OnOff;
  /** Where results.json, results.md and results.svg go. */
  out?: string;
  /** Leave out the multi-stream TCP test (the demo's short run; not a command-line option). */
  quick?: boolean;
}

/** Where the result files go when --out is not given: a folder under the current directory. */
export const DEFAULT_OUT = 'bench/results';

/**
 * The folder results go to, absolute. Relative to where the command runs, not to tulle's package:
 * an installed package's folder may not be writable, nor where a user would look.
 */
export function resultsDir(out: string | undefined, cwd = process.cwd()): string {
  return resolve(cwd, out ?? DEFAULT_OUT);
}

export const DEFAULTS: BenchOptions = {
  backends: [...TULLE_BACKENDS],
  ladder: true,
  others: 'all',
  hosts: 2, // the smallest lab that has an overlay
  duration: 5, // seconds: long enough for TCP to leave slow start many times over
  streams: 4,
  size: 1400, // bytes: the data-plane issue's UDP payload
  smallSize: 64, // bytes: where every cost is per packet
  reps: 3, // the least that has a median different from its extremes
  offloads: 'on',
  gro: 'on',
  tool: 'auto',
  profile: 'on',
};

export class BenchUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchUsageError';
  }
}

/** Raw option values as a command line gives them (strings; flags may be booleans). */
export type RawOptions = Record<string, string | boolean | undefined>;

function integer(raw: RawOptions, name: string, min: number, max: number, fallback: number): number {
  const value = raw[name];
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(n) || n < min || n > max) {
    throw new BenchUsageError(`--${name} must be a whole number from ${min} to ${max}, got "${String(value)}"`);
  }
  return n;
}

function onOff(raw: RawOptions, name: string, fallback: OnOff): OnOff {
  const value = raw[name];
  if (value === undefined) return fallback;
  if (value === true || value === 'on') return 'on';
  if (value === false || value === 'off') return 'off';
  throw new BenchUsageError(`--${name} must be on or off, got "${String(value)}"`);
}

function list(raw: RawOptions, name: string): string[] | undefined {
  const value = raw[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new BenchUsageError(`--${name} needs a comma-separated list`);
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** --small-size (commander's key smallSize): 0 leaves the test out, else a payload of 16 to 1400 bytes (past that it is not small). */
function smallSize(raw: RawOptions): number {
  const value = raw.smallSize;
  if (value === undefined) return DEFAULTS.smallSize;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(n) || (n !== 0 && (n < 16 || n > 1400))) {
    throw new BenchUsageError(`--small-size must be 0 (no small-packet test) or a whole number from 16 to 1400, got "${String(value)}"`);
  }
  return n;
}

/**
 * Validates raw options. `knownSystems` and `knownOthers` are the ids that
 * exist (see systems.ts); an unknown one is refused by name with the list.
 */
export function parseBenchOptions(raw: RawOptions, knownSystems: readonly string[], knownOthers: readonly string[]): BenchOptions {
  const known = new Set(Object.keys(DEFAULTS).concat(['systems', 'rows', 'out', 'help']));
  for (const key of Object.keys(raw)) {
    if (!known.has(key) && raw[key] !== undefined) throw new BenchUsageError(`unknown option --${key}`);
  }
  const systemsRaw = list(raw, 'systems') ?? list(raw, 'rows');
  if (systemsRaw !== undefined) {
    if (systemsRaw.length === 0) throw new BenchUsageError('--systems names no system');
    for (const s of systemsRaw) {
      if (!knownSystems.includes(s)) throw new BenchUsageError(`--systems: unknown system "${s}"; systems are: ${knownSystems.join(', ')}`);
    }
  }
  const backendsRaw = list(raw, 'backends');
  let backends = DEFAULTS.backends;
  if (backendsRaw !== undefined) {
    backends = backendsRaw.includes('none')
      ? []
      : backendsRaw.map((b) => {
          if (!(TULLE_BACKENDS as readonly string[]).includes(b))
            throw new BenchUsageError(`--backends: unknown backend "${b}"; backends are: ${TULLE_BACKENDS.join(', ')}, or none`);
          return b as TulleBackend;
        });
  }
  const othersRaw = list(raw, 'others');
  let others: string[] | 'all' = DEFAULTS.others;
  if (othersRaw !== undefined) {
    if (othersRaw.length === 1 && othersRaw[0] === 'all') others = 'all';
    else if (othersRaw.length === 1 && othersRaw[0] === 'none') others = [];
    else {
      for (const o of othersRaw) {
        if (!knownOthers.includes(o)) throw new BenchUsageError(`--others: unknown overlay "${o}"; others are: ${knownOthers.join(', ')}, all or none`);
      }
      others = othersRaw;
    }
  }
  const tool = raw.tool ?? DEFAULTS.tool;
  if (tool !== 'auto' && tool !== 'iperf3' && tool !== 'builtin') throw new BenchUsageError(`--tool must be auto, iperf3 or builtin, got "${String(tool)}"`);
  const out = raw.out;
  if (out !== undefined && (typeof out !== 'string' || out === '')) throw new BenchUsageError('--out needs a folder');
  return {
    systems: systemsRaw,
    backends,
    ladder: onOff(raw, 'ladder', DEFAULTS.ladder ? 'on' : 'off') === 'on',
    others,
    hosts: integer(raw, 'hosts', 2, 8, DEFAULTS.hosts),
    duration: integer(raw, 'duration', 1, 600, DEFAULTS.duration),
    streams: integer(raw, 'streams', 2, 32, DEFAULTS.streams),
    size: integer(raw, 'size', 16, 8972, DEFAULTS.size),
    smallSize: smallSize(raw),
    reps: integer(raw, 'reps', 1, 50, DEFAULTS.reps),
    offloads: onOff(raw, 'offloads', DEFAULTS.offloads),
    gro: onOff(raw, 'gro', DEFAULTS.gro),
    profile: onOff(raw, 'profile', DEFAULTS.profile),
    tool,
    out: out as string | undefined,
  };
}

/** The options' help, one line each (`tulle bench --help`). */
export const OPTION_HELP: [flag: string, help: string][] = [
  ['--systems <list>', 'exactly these systems (comma-separated ids; the references underlay and kernel-vxlan are always added)'],
  [
    '--backends <list>',
    `tulle backends to measure: ${TULLE_BACKENDS.join(', ')} or none (default all; vxlan also measures tulle-vxlan-direct, its directRouting)`,
  ],
  [
    '--ladder <on|off>',
    'the ladder rows: tulle-udp with offloads added step by step, then tulle-vxlan with super-packets split in userspace, and without backlog yields (default on)',
  ],
  ['--others <list>', 'other userspace overlays: socat, wireguard-go, nebula, tinc, all (those installed; default) or none'],
  ['--hosts <n>', 'hosts in the lab, 2 to 8 (default 2); pair tests run host 1 → host 2, reachability covers every pair'],
  ['--duration <s>', 'seconds per throughput test, 1 to 600 (default 5)'],
  ['--streams <n>', 'streams of the multi-stream TCP test, 2 to 32 (default 4)'],
  ['--size <bytes>', 'UDP payload of the packets/s test, 16 to 8972 (default 1400)'],
  ['--small-size <bytes>', 'UDP payload of the small-packet packets/s test, 16 to 1400, or 0 to leave it out (default 64)'],
  ['--reps <n>', 'repetitions, round-robin across the systems, 1 to 50 (default 3)'],
  ['--offloads <on|off>', "tulle's offloads (TUN vnet/TSO, UDP GSO/GRO) on the tulle rows (default on)"],
  ['--gro <on|off>', 'veth GRO in the lab (default on)'],
  ['--tool <auto|iperf3|builtin>', "traffic: iperf3 and ping, or tulle's own probes; auto uses iperf3 when installed (default)"],
  [
    '--profile <on|off>',
    "a CPU profile (perf) of every CPU during each throughput test: the cost model's µs per packet by kind of work (default on; needs perf, Debian linux-perf)",
  ],
  ['--out <dir>', 'where results.json, results.md and results.svg go (default bench/results/ in the current directory)'],
];
