/**
 * The overlay bench: every selected system measured in one run on fresh
 * labs, repetitions round-robin, then results.json, results.md and
 * results.svg (and results.png where rsvg-convert is installed).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { leftoverNamespaces } from '../lab/netns.js';
import { standalone } from '../util/embedded.js';
import { packageRoot } from '../util/package-root.js';
import { aggregate, type Sample } from './aggregate.js';
import { buildFingerprint, provenance, staleBuild } from './build-info.js';
import { svgChart } from './chart-svg.js';
import { generatorNotes } from './notes.js';
import { resultsDir, type BenchOptions } from './options.js';
import { otherAvailable } from './others.js';
import { chooseTools, preflightProblems, requiredTools } from './preflight.js';
import { costTables } from './cost-model.js';
import { hopTable } from './round-trip.js';
import { markdownTable } from './report-md.js';
import { MIN_PROFILED_S, measureRow, type RowContext } from './row.js';
import { TULLE_MTU, VXLAN_MTU } from './setup.js';
import { roundRobin } from './schedule.js';
import { selectSystems } from './systems.js';
import { installHint, onPath } from './tools.js';
import { builtinTraffic, echoLatency, iperfTraffic, pingLatency } from './traffic.js';

/** What the hop table shows, above it in results.md. */
const HOP_NOTE =
  "Each tulle row's ping, traced after its RTT test (perf tracepoints on system calls and on the devices' queues): host a pings host b through both daemons; each hop runs from one moment to the next that it causes. Tracing adds about a microsecond per event, and perf's own work can keep idle cores awake, so the traced round trip differs from the untraced RTT: read where the time goes, not how much.";

export class BenchRefusal extends Error {}

export interface RunIO {
  /** Progress lines (stderr). */
  say(line: string): void;
  /** The Markdown table at the end (stdout). */
  print(text: string): void;
  /** The command line, for the report. */
  command: string;
  /**
   * Start even when other bench runs' namespaces exist (the demo: its labs have
   * names of their own; each row still warns that it shared the machine).
   */
  ignoreLeftovers?: boolean;
}

/** Runs the bench; resolves with the exit code (1 when a measurement failed). Throws BenchRefusal when it will not start. */
export async function runBench(options: BenchOptions, io: RunIO): Promise<number> {
  // The standalone binary carries its code and addon: there is no package folder to check or fingerprint.
  const root = standalone() === undefined ? packageRoot() : undefined;
  const outDir = resultsDir(options.out);
  const selection = selectSystems(options, otherAvailable);
  const problems = preflightProblems({
    root: process.getuid?.() === 0,
    missingTools: requiredTools(options).filter((t) => onPath(t) === undefined),
    distBuilt: root === undefined || (existsSync(join(root, 'dist', 'src', 'cli', 'main.js')) && existsSync(join(root, 'dist', 'src', 'probe', 'main.js'))),
    addonBuilt: root === undefined || ['Release', 'Debug'].some((d) => existsSync(join(root, 'native', 'build', d, 'tulle.node'))),
    leftovers: io.ignoreLeftovers ? [] : leftoverNamespaces().filter((ns) => ns.startsWith('tulle-bench')),
  });
  if (problems.length > 0) throw new BenchRefusal(problems.join('\n'));

  const t0 = Date.now();
  const say = (line: string) => io.say(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  const iperfPath = onPath('iperf3');
  const iperfVersion = iperfPath
    ? spawnSync(iperfPath, ['--version'], { encoding: 'utf8', timeout: 5_000 })
        .stdout?.split('\n')[0]
        ?.replace(/\s*\(cJSON[^)]*\)/, '')
        .trim() || 'iperf3'
    : 'not installed';
  const choice = chooseTools(options.tool, { iperf3: iperfPath !== undefined, ping: onPath('ping') !== undefined });
  const cpus = os.cpus();
  const software = provenance(root);
  const machine = { cpu: cpus[0]?.model.trim() ?? 'unknown', cores: cpus.length, kernel: software.kernel, node: software.node, iperf3: iperfVersion };
  say(`machine: ${machine.cpu}, ${machine.cores} cores, Linux ${machine.kernel}, node ${machine.node}`);
  say(
    `systems: ${selection.systems.map((s) => s.system).join(', ')}; ${options.reps} rep(s) round-robin; ${options.duration} s per test; ${options.hosts} hosts; out: ${outDir}`,
  );
  for (const s of selection.skipped) say(`skipped ${s.system}: ${s.reason}`);
  for (const n of choice.notes) say(`note: ${n}`);
  const perf = options.profile === 'on' ? onPath('perf') : undefined;
  if (options.profile === 'on' && perf === undefined) {
    const note = `perf is not installed (Debian: ${installHint('perf')}): the cost model's CPU profile is left out; the data-plane threads' costs are still measured`;
    choice.notes.push(note);
    say(`note: ${note}`);
  } else if (perf !== undefined && options.duration < MIN_PROFILED_S) {
    const note = `tests of ${options.duration} s are too short to profile (--duration ${MIN_PROFILED_S} or more): the cost model's CPU profile is left out`;
    choice.notes.push(note);
    say(`note: ${note}`);
  }

  const startBuild = buildFingerprint(root);
  const stale = root === undefined ? undefined : staleBuild(root);
  say(`build ${startBuild}${stale ? `; WARNING ${stale}` : ''}`);
  const runTag = Math.random().toString(16).slice(2, 8);
  const samples: Sample[] = [];
  const ctx: RowContext = {
    options,
    runTag,
    say,
    traffic: (lab) => (choice.throughput === 'iperf3' ? iperfTraffic(lab, iperfVersion) : builtinTraffic(lab)),
    latency: (lab) => (choice.latency === 'ping' ? pingLatency(lab) : echoLatency(lab)),
    perf,
    traceRoundTrips: perf !== undefined && onPath('ping') !== undefined,
    calibration: choice.calibrate
      ? { traffic: (lab) => iperfTraffic(lab, iperfVersion), latency: onPath('ping') ? (lab) => pingLatency(lab) : undefined }
      : undefined,
  };
  for (const slot of roundRobin(selection.systems, options.reps)) samples.push(await measureRow(slot.system, slot, ctx));

  const rows = aggregate(selection.systems, samples, options.streams);
  const groStates = new Set(samples.flatMap((s) => Object.values((s.gro as Record<string, string> | undefined) ?? {})));
  const gro = groStates.size === 1 ? [...groStates][0] : groStates.size === 0 ? 'unknown' : `mixed (${[...groStates].join(', ')})`;
  const notes = generatorNotes(choice, rows, samples);
  const errors = samples.flatMap((s) => s.errors.map((e) => `${s.system} rep ${s.rep}: ${e}`));
  const warnings = samples.flatMap((s) => s.warnings.map((e) => `${s.system} rep ${s.rep}: ${e}`));
  const builds = [...new Set([startBuild, buildFingerprint(root)])];
  if (builds.length > 1)
    warnings.push(`dist/ or the native addon changed during the run (builds ${builds.join(' → ')}): rows may have measured different code`);
  if (stale) warnings.push(stale);
  const toolName = choice.throughput === 'iperf3' ? `${iperfVersion} (TCP, UDP)` : "tulle's built-in generator (TCP, UDP)";
  const latencyName = choice.latency === 'ping' ? 'ping (RTT)' : "tulle's echo probe (RTT)";
  const json = {
    rows,
    units: {
      tcp1_gbps: 'Gb/s, receiver',
      tcp_multi_gbps: `Gb/s, receiver, ${options.streams} streams`,
      udp_kpps: `thousand ${options.size}-byte datagrams/s received`,
      udp_loss_pct: '%',
      udp_small_kpps: `thousand ${options.smallSize}-byte datagrams/s received`,
      udp_small_loss_pct: '%',
      rtt_ms: choice.latency === 'ping' ? 'ms, average of 20 pings 0.05 s apart' : 'ms, median of 20 echo requests 0.05 s apart',
      cpu_pct: "utime+stime of the overlay's processes during TCP ×1, % of one core; null for kernel rows",
      gbps_per_core: 'TCP ×1 Gb/s per core of overlay CPU',
      hops: 'a traced ping round trip (perf tracepoints, 20 pings 0.05 s apart, after the RTT test), µs per hop, median; tracing adds about 1 µs per event and perf itself can keep idle cores awake, so the traced total differs from rtt_ms',
      cost: 'per test: µs of CPU on all CPUs per received datagram (UDP) or MB (TCP), by kind of work (perf cpu-clock samples); each data-plane thread µs per packet it handled (utime+stime), sleeps and system calls per packet, and the rate it allows',
    },
    settings: {
      duration_s: options.duration,
      reps: options.reps,
      hosts: options.hosts,
      streams: options.streams,
      udp_payload: options.size,
      udp_small_payload: options.smallSize,
      offloads: options.offloads,
      gro: options.gro,
      tool: options.tool,
      profile: perf !== undefined,
      systems: selection.systems.map((s) => s.system),
      vxlan_mtu: VXLAN_MTU,
      tulle_mtu: TULLE_MTU,
      topology: `${options.hosts} hosts on a Linux bridge, underlay 192.0.2.0/24, overlay 198.18.0.0/16`,
    },
    tools: { throughput: toolName, latency: latencyName },
    skipped: selection.skipped,
    notes,
    gro,
    tulle: { version: software.tulle, commit: software.commit },
    build: builds.length === 1 ? builds[0] : builds,
    machine,
    date: new Date().toISOString(),
    command: io.command,
    samples,
    errors,
    warnings,
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'results.json'), JSON.stringify(json, null, 2) + '\n');
  const table = markdownTable(rows, {
    reps: options.reps,
    duration: options.duration,
    streams: options.streams,
    size: options.size,
    smallSize: options.smallSize,
    tool: `${toolName}, ${latencyName}`,
    gro,
    notes,
    skipped: selection.skipped,
  });
  const costs = costTables(rows.filter((r) => r.cost !== undefined).map((r) => ({ system: r.system, figures: r.cost! })));
  const costSection = costs === '' ? '' : `\n## Where the CPU goes: the cost model\n\n${costs}\n`;
  const hops = hopTable(rows.filter((r) => r.hops !== undefined).map((r) => ({ system: r.system, hops: r.hops!, rtt_ms: r.rtt_ms })));
  const hopSection = hops === '' ? '' : `\n## Where a round trip goes\n\n${HOP_NOTE}\n\n${hops}\n`;
  const md = `# Overlay benchmark\n\n${json.date} · ${machine.cpu}, ${machine.cores} cores · Linux ${machine.kernel} · node ${machine.node}\n\n\`${io.command}\`\n\n${table}\n${costSection}${hopSection}${
    errors.length ? `\nErrors:\n\n${errors.map((e) => `- ${e}`).join('\n')}\n` : ''
  }${warnings.length ? `\nWarnings:\n\n${warnings.map((e) => `- ${e}`).join('\n')}\n` : ''}\n![results](results.svg)\n`;
  writeFileSync(join(outDir, 'results.md'), md);
  const subtitle = `${options.reps > 1 ? `median of ${options.reps} reps, whiskers min–max` : '1 rep'} · ${options.duration} s per test · ${choice.throughput === 'iperf3' ? 'iperf3' : 'built-in generator'} · veth GRO ${gro} · ${machine.cores} cores · Linux ${machine.kernel}`;
  const footnotes = [
    ...selection.skipped.map((s) => `skipped ${s.system}: ${s.reason}`),
    ...(rows.some((r) => r.generator_limited.length > 0) ? ['† the traffic generator was CPU-bound: the figure may understate the system'] : []),
    ...notes.filter((n) => n.startsWith('the built-in generator cannot fill the pipe')),
  ];
  writeFileSync(
    join(outDir, 'results.svg'),
    svgChart(rows, { title: 'Overlay benchmark', subtitle, reps: options.reps, footnotes, udp: { size: options.size, smallSize: options.smallSize } }),
  );
  const rsvg = onPath('rsvg-convert');
  if (rsvg) {
    const r = spawnSync(rsvg, ['-o', join(outDir, 'results.png'), join(outDir, 'results.svg')], { timeout: 30_000, encoding: 'utf8' });
    if (r.status === 0) say(`wrote ${join(outDir, 'results.png')}`);
    else say(`rsvg-convert failed: ${r.stderr?.trim() ?? r.error?.message}`);
  }
  say(`wrote ${join(outDir, 'results.json')}, results.md, results.svg`);
  for (const n of notes) say(`note: ${n}`);
  for (const e of errors) say(`error: ${e}`);
  for (const w of warnings) say(`warning: ${w}`);
  io.print(table + '\n' + (costs === '' ? '' : `\n${costs}\n`) + (hops === '' ? '' : `\n${hops}\n`));
  return errors.length > 0 ? 1 : 0;
}
