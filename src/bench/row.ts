/**
 * One sample: one system, one repetition, on a lab built for it and torn down
 * after (namespaces, devices and daemons are fresh for every sample).
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lab, leftoverNamespaces } from '../lab/netns.js';
import { freshStats, switchedHosts } from '../lab/topology.js';
import { LabProbes } from '../probe/lab-probes.js';
import { fullyReachable, formatMatrix } from '../probe/matrix.js';
import { withPerCore, type Sample } from './aggregate.js';
import type { BenchOptions } from './options.js';
import { cpuSeconds, txDropped, udpDropsByPort, udpSnmp } from './counters.js';
import type { CounterValues } from '../engine/counters.js';
import { describeDrops, type UdpDrops } from './udp-drops.js';
import type { Slot } from './schedule.js';
import { round } from './stats.js';
import { costFigures, type CostRecord, type CostTest } from './cost-model.js';
import { profileWindow, type ProfileWindow } from './profile.js';
import { applyGro, build, type Built } from './setup.js';
import { dataPlaneThreads, spentBetween } from './thread-cost.js';
import type { SystemSpec } from './systems.js';
import { PING_INTERVAL_S, PINGS, type Latency, type Traffic } from './traffic.js';
import { traceRoundTrips } from './trace-round-trips.js';

const HOST_NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
/** How long into a throughput test its profile starts: the generator's server is up and traffic flows by then. */
const PROFILE_DELAY_MS = 1000;
/** Shorter tests are not profiled: the window (the test less its first second and last half) would be too short. */
export const MIN_PROFILED_S = 3;

export interface RowContext {
  options: BenchOptions;
  /** The traffic and RTT tools, bound to a row's lab. */
  traffic: (lab: Lab) => Traffic;
  latency: (lab: Lab) => Latency;
  /** Namespaces of this run start with `tulle-bench<runTag>`. */
  runTag: string;
  /** When the main tools are tulle's probes and iperf3/ping exist too: measured once on the underlay, for comparison. */
  calibration?: { traffic: (lab: Lab) => Traffic; latency?: (lab: Lab) => Latency };
  /** perf, when the throughput tests are profiled for the cost model (--profile on and perf installed). */
  perf?: string;
  /** Trace a ping's round trip hop by hop in tulle rows (perf and ping installed, --profile on). */
  traceRoundTrips?: boolean;
  say(line: string): void;
}

export async function measureRow(spec: SystemSpec, slot: Slot<SystemSpec>, ctx: RowContext): Promise<Sample> {
  const { options } = ctx;
  const tag = `${spec.system} (rep ${slot.rep}/${options.reps})`;
  const say = (line: string) => ctx.say(`${tag}: ${line}`);
  const sample: Sample = {
    system: spec.system,
    kind: spec.kind,
    rep: slot.rep,
    index: slot.index,
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
    loadavg_1m: round(os.loadavg()[0], 2),
  };
  const foreign = leftoverNamespaces().filter((ns) => !ns.startsWith(`tulle-bench${ctx.runTag}`));
  if (foreign.length > 0) {
    const message = `other lab namespaces exist while this row runs (${foreign.slice(0, 6).join(', ')}${foreign.length > 6 ? ', …' : ''}): another test or bench shares the CPUs, numbers may be low or noisy`;
    sample.warnings.push(message);
    say(`WARNING ${message}`);
  }
  const lab = new Lab(`bench${ctx.runTag}r${slot.index}`);
  let built: Built | undefined;
  try {
    say(`building the lab (${lab.prefix}*, ${options.hosts} hosts)`);
    const hosts = switchedHosts(lab, HOST_NAMES.slice(0, options.hosts));
    sample.gro = applyGro(lab, hosts, options.gro === 'on');
    built = await build(lab, spec, hosts);
    sample.not_measured = { ...built.notMeasured };
    sample.mtu = built.mtu;
    if (built.notes.length > 0) sample.notes = built.notes;
    const [a, b] = hosts;
    const target = built.addresses[1]!;
    const traffic = ctx.traffic(lab);
    const latency = ctx.latency(lab);
    await latency.waitForPath(a.ns, b.ns, target);

    const covered = hosts
      .map((h, i) => ({ name: HOST_NAMES[i], ns: h.ns, address: built!.addresses[i] }))
      .filter((n): n is { name: string; ns: string; address: string } => n.address !== null);
    if (covered.length > 2) {
      // A mesh overlay may still be setting up paths between other pairs (tinc's meta connections, nebula's
      // handshakes): up to 5 rounds, 1 s apart, before a missing pair counts as an error.
      const probes = new LabProbes(lab);
      let matrix = await probes.echoMatrix(covered, { count: 3, intervalMs: 20 });
      for (let round = 1; round < 5 && !fullyReachable(matrix); round++) {
        await sleep(1000);
        matrix = await probes.echoMatrix(covered, { count: 3, intervalMs: 20 });
      }
      sample.reachability = { all: fullyReachable(matrix), matrix: formatMatrix(matrix) };
      say(`reachability between ${covered.length} hosts: ${fullyReachable(matrix) ? 'every pair answers' : 'NOT every pair answers'}\n${formatMatrix(matrix)}`);
      if (!fullyReachable(matrix)) sample.errors.push(`not every pair of hosts reaches the other:\n${formatMatrix(matrix)}`);
    }

    const step = async (name: string, fn: () => Promise<string>) => {
      try {
        say(`${name} … ${await fn()}`);
      } catch (error) {
        const message = `${name}: ${(error as Error).message}`;
        sample.errors.push(message);
        say(`FAILED ${message}`);
      }
      await sleep(500);
    };
    const seconds = options.duration;
    // The overlay's own CPU (all its processes, % of one core) while `work` runs: what a mode that trades CPU
    // for latency costs idle, under pings and under load.
    const procs = built.processes;
    const cpuDuring = async <T>(work: () => Promise<T>): Promise<{ result: T; pct: number | null; per: { name: string; ns: string; cpu_pct: number }[] }> => {
      const before = procs.map((p) => cpuSeconds(p.pid));
      const start = performance.now();
      const result = await work();
      const wall = (performance.now() - start) / 1000;
      const per = procs.map((p, i) => ({ name: p.name, ns: p.ns.slice(lab.prefix.length), cpu_pct: round(((cpuSeconds(p.pid) - before[i]) / wall) * 100, 1) }));
      const total = per.reduce((x, p) => x + p.cpu_pct, 0);
      return { result, pct: per.length === 0 ? null : round(total, 1), per };
    };
    // The cost model's records (cost-model.ts): what the data-plane threads spent over the whole test, with the
    // packets their counters say they handled, and a profile of every CPU over its middle.
    const costs: CostRecord[] = [];
    const pids = procs.map((p) => p.pid);
    const costed = async <T>(
      test: CostTest,
      size: number | null,
      work: () => Promise<T>,
      rate: (r: T) => number,
    ): Promise<{ result: T; record: CostRecord; counters: { before: Map<number, CounterValues>; after: Map<number, CounterValues> } }> => {
      const daemonOf = (pid: number) => built!.daemons.find((d) => d.process.pid === pid);
      const countersNow = async () => new Map(await Promise.all(built!.daemons.map(async (d) => [d.process.pid!, await freshStats(d)] as const)));
      const statsBefore = await countersNow();
      const threadsBefore = dataPlaneThreads(pids);
      const window =
        ctx.perf !== undefined && seconds >= MIN_PROFILED_S
          ? profileWindow(
              ctx.perf,
              PROFILE_DELAY_MS,
              Math.max(1, seconds - 1.5),
              pids,
              threadsBefore.map((t) => t.tid),
            ).catch((e: Error) => e)
          : undefined;
      const result = await work();
      const recorded = await window;
      const threadsAfter = dataPlaneThreads(pids);
      const statsAfter = await countersNow();
      let profile: ProfileWindow | Error | undefined;
      try {
        profile = recorded instanceof Error ? recorded : recorded?.read();
      } catch (error) {
        profile = error as Error;
      }
      if (profile instanceof Error) sample.warnings.push(`profile of ${test}: ${profile.message}`);
      const threads = spentBetween(threadsBefore, threadsAfter).map((t) => {
        const b = statsBefore.get(t.pid);
        const a = statsAfter.get(t.pid);
        const d = (k: 'txPackets' | 'rxPackets' | 'txBytes' | 'rxBytes') => (a && b ? a[k] - b[k] : 0);
        const role = t.name.slice('tulle-'.length);
        const tx = role !== 'rx';
        const rx = role !== 'tx';
        return {
          ...t,
          host: daemonOf(t.pid)?.ns.slice(lab.prefix.length) ?? '?',
          packets: (tx ? d('txPackets') : 0) + (rx ? d('rxPackets') : 0),
          bytes: (tx ? d('txBytes') : 0) + (rx ? d('rxBytes') : 0),
        };
      });
      const record: CostRecord = {
        test,
        size,
        seconds,
        rate: rate(result),
        profile: profile instanceof Error ? undefined : profile,
        threads,
      };
      costs.push(record);
      return { result, record, counters: { before: statsBefore, after: statsAfter } };
    };
    if (procs.length > 0)
      await step('overlay CPU while idle, 2 s', async () => {
        sample.cpu_idle_pct = (await cpuDuring(() => sleep(2000))).pct;
        return `${sample.cpu_idle_pct}% of a core`;
      });
    await step(`RTT (${latency.name})`, async () => {
      const { result, pct } = await cpuDuring(() => latency.rttMs(a.ns, b.ns, target));
      sample.rtt_ms = round(result, 4);
      sample.cpu_rtt_pct = pct;
      return `${sample.rtt_ms} ms${pct !== null ? `; overlay CPU ${pct}% of a core` : ''}`;
    });
    // Where a round trip goes, hop by hop, for rows whose packets cross two tulle daemons' TUNs.
    const tunnelled = built.daemons.length >= 2 && spec.backend !== 'host-gw' && spec.directRouting !== true;
    if (ctx.perf !== undefined && ctx.traceRoundTrips === true && tunnelled)
      await step(`RTT by hop (perf trace, ${PINGS} × ${PING_INTERVAL_S} s)`, async () => {
        const hops = traceRoundTrips(ctx.perf!, {
          fromNs: a.ns,
          target,
          pidA: built!.daemons[0].process.pid!,
          pidB: built!.daemons[1].process.pid!,
          pings: PINGS,
          intervalS: PING_INTERVAL_S,
        });
        sample.hops = hops;
        return `${hops.total_us} µs traced (${hops.trips} round trips)`;
      });
    await step(`TCP 1 stream, ${seconds} s`, async () => {
      // The CPU figure covers the transfer alone, not the cost model's counter reads around it.
      const {
        result: { result: r, pct, per },
      } = await costed(
        'tcp1',
        null,
        () => cpuDuring(() => traffic.tcp(a.ns, b.ns, target, 1, seconds)),
        (x) => x.result.gbps,
      );
      sample.tcp1_gbps = r.gbps;
      if (r.limited) sample.generator_limited.push('tcp1_gbps');
      if (pct !== null) {
        sample.cpu_per_process = per;
        sample.cpu_pct = pct;
      }
      return `${r.detail}${pct !== null ? `; overlay CPU ${pct}% of a core (${per.map((p) => p.cpu_pct).join(' + ')})` : ''}`;
    });
    if (options.quick) sample.not_measured.tcp_multi_gbps = 'a quick run (the demo) leaves it out';
    else
      await step(`TCP ${options.streams} streams, ${seconds} s`, async () => {
        const r = await traffic.tcp(a.ns, b.ns, target, options.streams, seconds);
        sample.tcp_multi_gbps = r.gbps;
        if (r.limited) sample.generator_limited.push('tcp_multi_gbps');
        return r.detail;
      });
    // Unpaced UDP, once with full-size datagrams and once with small ones (where every cost is per packet), with
    // where the kernel dropped on the way: the sender's overlay device (a full TUN ring), the receiver's overlay
    // sockets (the outer datagrams), the receiving application's socket, and tulle's failed TUN writes.
    const receiver = built.daemons[1];
    const udpTest = async (size: number, kpps: 'udp_kpps' | 'udp_small_kpps', loss: 'udp_loss_pct' | 'udp_small_loss_pct') => {
      const snmpBefore = udpSnmp(lab, b.ns);
      const portsBefore = udpDropsByPort(lab, b.ns);
      const devBefore = txDropped(lab, a.ns, built!.dev);
      const {
        result: r,
        record,
        counters,
      } = await costed(
        kpps === 'udp_kpps' ? 'udp' : 'udp_small',
        size,
        () => traffic.udp(a.ns, b.ns, target, size, seconds),
        (x) => x.kpps,
      );
      const snmpAfter = udpSnmp(lab, b.ns);
      const portsAfter = udpDropsByPort(lab, b.ns);
      const devAfter = txDropped(lab, a.ns, built!.dev);
      // The receiving daemon's failed TUN writes, from the counters the cost model read around the test.
      const tunBefore = receiver ? (counters.before.get(receiver.process.pid!)?.writeErrors ?? null) : null;
      const tunAfter = receiver ? (counters.after.get(receiver.process.pid!)?.writeErrors ?? null) : null;
      const delta = (name: string) => (snmpAfter[name] !== undefined && snmpBefore[name] !== undefined ? snmpAfter[name] - snmpBefore[name] : null);
      const portDelta = (port: number) => (portsAfter.get(port) ?? 0) - (portsBefore.get(port) ?? 0);
      const otherSockets = [...portsAfter.keys()].filter((p) => p !== traffic.udpPort).reduce((n, p) => n + portDelta(p), 0);
      // The receiving application's socket is gone by now (iperf3 -1 exits), and its drops with it: they are
      // what the namespace's UDP error count grew by, less the overlay sockets' share, which stay open.
      const inErrors = delta('InErrors');
      const appSocket = inErrors !== null ? Math.max(0, inErrors - otherSockets) : portDelta(traffic.udpPort);
      sample[kpps] = r.kpps;
      sample[loss] = r.loss_pct;
      sample[kpps === 'udp_kpps' ? 'udp_sender_kpps' : 'udp_small_sender_kpps'] = r.sender_kpps;
      if (r.limited) sample.generator_limited.push(kpps);
      const drops: UdpDrops = {
        sender_dev: built!.dev,
        sent: r.sender_kpps !== null ? Math.round(r.sender_kpps * 1000 * seconds) : null,
        received: Math.round(r.kpps * 1000 * seconds),
        sender_dev_tx_dropped: devBefore !== null && devAfter !== null ? devAfter - devBefore : null,
        receiver_overlay_socket_drops: otherSockets,
        receiver_app_socket_drops: appSocket,
        receiver_tun_write_errors: tunBefore !== null && tunAfter !== null ? tunAfter - tunBefore : null,
        receiver_udp_rcvbuf_errors: delta('RcvbufErrors'),
        receiver_udp_in_errors: delta('InErrors'),
      };
      sample[kpps === 'udp_kpps' ? 'udp_drops' : 'udp_small_drops'] = drops;
      // What crossed the overlay: received, or dropped at the receiving application's full socket.
      record.crossed = round(r.kpps + appSocket / seconds / 1000, 2);
      return `${r.detail}; dropped: ${describeDrops(drops)}`;
    };
    if (sample.not_measured.udp_kpps !== undefined) say(`UDP not measured: ${sample.not_measured.udp_kpps}`);
    else await step(`UDP ${options.size} B unpaced, ${seconds} s`, () => udpTest(options.size, 'udp_kpps', 'udp_loss_pct'));
    if (options.quick || options.smallSize === 0) {
      sample.not_measured.udp_small_kpps = options.quick ? 'a quick run (the demo) leaves it out' : '--small-size 0 leaves it out';
    } else if (sample.not_measured.udp_kpps !== undefined) {
      sample.not_measured.udp_small_kpps = sample.not_measured.udp_kpps;
    } else await step(`UDP ${options.smallSize} B unpaced, ${seconds} s`, () => udpTest(options.smallSize, 'udp_small_kpps', 'udp_small_loss_pct'));
    if (ctx.calibration && spec.id === 'underlay' && slot.rep === 1) {
      const calTraffic = ctx.calibration.traffic(lab);
      const calLatency = ctx.calibration.latency?.(lab);
      await step(`calibration: ${calTraffic.name}, TCP 1 stream, ${seconds} s`, async () => {
        const r = await calTraffic.tcp(a.ns, b.ns, target, 1, seconds);
        const rtt = calLatency ? round(await calLatency.rttMs(a.ns, b.ns, target), 4) : null;
        sample.calibration = { tool: calTraffic.name, tcp1_gbps: r.gbps, rtt_ms: rtt };
        return `${r.gbps} Gb/s${rtt !== null ? `, RTT ${rtt} ms` : ''}`;
      });
    }
    if (costs.length > 0) {
      sample.cost = costs;
      sample.cost_figures = costs.map(costFigures);
    }
    for (const p of built.processes) {
      if (p.exited() !== null) sample.errors.push(`${p.name} in ${p.ns} exited early (${p.exited()})`);
    }
    if (built.daemons.length > 0) {
      sample.daemon_log = built.daemons.map((d) => startLine(d.log()));
      await sleep(600); // the daemons write their counters twice a second
      const counters: Record<string, Record<string, number>> = {};
      for (const d of built.daemons) {
        try {
          counters[d.ns.slice(lab.prefix.length)] = Object.fromEntries(Object.entries(d.stats()).filter(([, v]) => v !== 0));
        } catch (error) {
          sample.errors.push(`stats of ${d.ns}: ${(error as Error).message}`);
        }
      }
      sample.tulle_counters = counters;
    }
  } catch (error) {
    const message = (error as Error).message;
    sample.errors.push(message);
    say(`FAILED ${message}`);
  } finally {
    if (built) await built.stop().catch(() => null);
    lab.dispose();
    say('torn down');
  }
  return withPerCore(sample);
}

/** The daemon's start-up line (backend, MTU, offloads) from its JSON log lines. */
function startLine(log: string): string {
  for (const line of log.split('\n')) {
    try {
      const entry = JSON.parse(line) as { event?: string; msg?: string };
      if (entry.event === 'started' && typeof entry.msg === 'string') return entry.msg;
    } catch {
      // not a JSON line
    }
  }
  return '';
}
