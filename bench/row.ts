/**
 * One sample: one system, one repetition, on a lab built for it and torn down
 * after (namespaces, devices and daemons are fresh for every sample).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { featureSummary, setFeatures } from '../src/lab/features.js';
import { Lab, leftoverNamespaces } from '../src/lab/netns.js';
import { startDaemon, switchedHosts, type Daemon, type Host } from '../src/lab/topology.js';
import { LabProbes } from '../src/probe/lab-probes.js';
import { fullyReachable, formatMatrix } from '../src/probe/matrix.js';
import { withPerCore, type Metric, type Sample } from './aggregate.js';
import type { BenchOptions } from './options.js';
import { startOther } from './others.js';
import type { Slot } from './schedule.js';
import { round } from './stats.js';
import { ALL_OFFLOADS, type SystemSpec } from './systems.js';
import type { Latency, Traffic } from './traffic.js';

export const VXLAN_MTU = 1450;
export const TULLE_MTU = 1472;
const UNDERLAY_MTU = 1500; // veth default
const HOST_NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

export interface RowContext {
  options: BenchOptions;
  /** The traffic and RTT tools, bound to a row's lab. */
  traffic: (lab: Lab) => Traffic;
  latency: (lab: Lab) => Latency;
  /** Namespaces of this run start with `tulle-bench<runTag>`. */
  runTag: string;
  /** When the main tools are tulle's probes and iperf3/ping exist too: measured once on the underlay, for comparison. */
  calibration?: { traffic: (lab: Lab) => Traffic; latency?: (lab: Lab) => Latency };
  say(line: string): void;
}

/** Everything a row's overlay set up, for the measurements. */
interface Built {
  /** Overlay address per host (null: not covered). */
  addresses: (string | null)[];
  /** The overlay device on host 0 (its TX drops are counted during the UDP test). */
  dev: string;
  /** The MTU of the path the traffic takes (the overlay device's). */
  mtu: number;
  /** Processes doing the overlay's work (their CPU is measured). */
  processes: { name: string; ns: string; pid: number; exited: () => number | null }[];
  daemons: Daemon[];
  notes: string[];
  notMeasured: Partial<Record<Metric, string>>;
  stop(): Promise<void>;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5_000 }).stdout?.trim()) || 100;

/** utime + stime of a whole process (all its threads), in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Udp counters of the namespace (RcvbufErrors, InErrors, …) from /proc/net/snmp; {} where cat is missing. */
function udpSnmp(lab: Lab, ns: string): Record<string, number> {
  let text = '';
  try {
    text = lab.exec(ns, ['cat', '/proc/net/snmp'], { timeoutMs: 5_000, allowFailure: true });
  } catch {
    return {};
  }
  const lines = text.split('\n').filter((l) => l.startsWith('Udp:'));
  if (lines.length < 2) return {};
  const names = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]]));
}

/** TX drops of a device (packets the kernel dropped on the way into it, e.g. a full TUN queue). */
function txDropped(lab: Lab, ns: string, dev: string): number | null {
  try {
    const j = JSON.parse(lab.exec(ns, ['ip', '-s', '-j', 'link', 'show', dev], { timeoutMs: 5_000 })) as { stats64?: { tx?: { dropped?: number } } }[];
    return j[0]?.stats64?.tx?.dropped ?? null;
  } catch {
    return null;
  }
}

const macOf = (i: number) => `02:00:5e:10:00:${(i + 1).toString(16).padStart(2, '0')}`;

/** Sets veth GRO on every host's eth0 and every bridge port; returns what each reads now. */
function applyGro(lab: Lab, hosts: Host[], on: boolean): Record<string, string> {
  const state: Record<string, string> = {};
  const want = on ? 'on' : 'off';
  for (const h of hosts) state[`${h.ns.slice(lab.prefix.length)}:${h.dev}`] = featureSummary(setFeatures(lab, h.ns, [`${h.dev}:gro=${want}`])[0]);
  const ports = hosts.map((h) => `p-${h.ns.slice(lab.prefix.length)}`.slice(0, 15));
  setFeatures(lab, lab.prefix + 'sw', ports.map((p) => `${p}:gro=${want}`)).forEach((s, i) => (state[`sw:${ports[i]}`] = featureSummary(s)));
  return state;
}

/** Daemon temp folders to remove if a signal ends the run (Daemon.stop removes its own). */
const daemonDirs = new Set<string>();
function removeDaemonDirs(): void {
  for (const dir of daemonDirs) rmSync(dir, { recursive: true, force: true });
  daemonDirs.clear();
}
process.on('exit', removeDaemonDirs);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, removeDaemonDirs);

function track(daemon: Daemon): Daemon {
  const args = daemon.process.spawnargs;
  const config = args[args.indexOf('--config') + 1];
  if (config && config.includes('tulle-daemon-')) daemonDirs.add(dirname(config));
  return daemon;
}

async function build(lab: Lab, spec: SystemSpec, hosts: Host[]): Promise<Built> {
  const base: Built = { addresses: [], dev: hosts[0].dev, mtu: UNDERLAY_MTU, processes: [], daemons: [], notes: [], notMeasured: {}, stop: async () => {} };
  if (spec.id === 'underlay') return { ...base, addresses: hosts.map((h) => h.underlay) };
  if (spec.id === 'kernel-vxlan') {
    hosts.forEach((h, i) => {
      lab.ip(h.ns, 'link', 'add', 'vx0', 'address', macOf(i), 'type', 'vxlan', 'id', '1', 'dstport', '4789', 'local', h.underlay, 'dev', h.dev, 'nolearning');
      lab.ip(h.ns, 'link', 'set', 'vx0', 'mtu', String(VXLAN_MTU), 'up');
      lab.ip(h.ns, 'addr', 'add', `198.18.${i + 1}.1/16`, 'dev', 'vx0');
    });
    hosts.forEach((h, i) => hosts.forEach((peer, j) => {
      if (i === j) return;
      lab.ip(h.ns, 'neigh', 'replace', `198.18.${j + 1}.1`, 'lladdr', macOf(j), 'dev', 'vx0', 'nud', 'permanent');
      lab.exec(h.ns, ['bridge', 'fdb', 'append', macOf(j), 'dev', 'vx0', 'dst', peer.underlay], { timeoutMs: 10_000 });
    }));
    return { ...base, addresses: hosts.map((_, i) => `198.18.${i + 1}.1`), dev: 'vx0', mtu: VXLAN_MTU };
  }
  if (spec.kind === 'tulle' || spec.kind === 'ladder') {
    const daemons: Daemon[] = [];
    const stop = async () => {
      for (const d of daemons) await Promise.race([d.stop().catch(() => null), sleep(5_000)]);
      removeDaemonDirs();
    };
    const subnet = (i: number) => `198.18.${i + 1}.0/24`;
    if (spec.backend === 'host-gw') {
      // Each host holds its subnet's .1 on a bridge (where its containers would be); tulle routes the subnets.
      hosts.forEach((h, i) => {
        lab.ip(h.ns, 'link', 'add', 'cbr0', 'type', 'bridge');
        lab.ip(h.ns, 'addr', 'add', `198.18.${i + 1}.1/24`, 'dev', 'cbr0');
        lab.ip(h.ns, 'link', 'set', 'cbr0', 'up');
      });
      for (const [i, h] of hosts.entries()) {
        daemons.push(track(await startDaemon(lab, h.ns, {
          network: '198.18.0.0/16', subnet: subnet(i), underlay: { address: h.underlay }, backend: { type: 'host-gw' },
          peers: hosts.flatMap((p, j) => (j === i ? [] : [{ subnet: subnet(j), address: p.underlay }])),
        })));
      }
      return {
        ...base, addresses: hosts.map((_, i) => `198.18.${i + 1}.1`), daemons, stop,
        processes: daemons.map((d) => ({ name: 'tulle', ns: d.ns, pid: d.process.pid!, exited: () => d.process.exitCode })),
        // iperf3's UDP test hangs against an address on a bridge with no ports in this lab (without tulle too),
        // and the kernel has no dummy devices to put the address on.
        notMeasured: {
          udp_kpps: 'UDP to a bridge address with no ports hangs in this lab', udp_loss_pct: 'UDP to a bridge address with no ports hangs in this lab',
          gbps_per_core: 'host-gw forwards in the kernel; the daemons only install routes',
        },
      };
    }
    const vx = spec.backend === 'vxlan';
    for (const [i, h] of hosts.entries()) {
      daemons.push(track(await startDaemon(lab, h.ns, {
        network: '198.18.0.0/16', subnet: subnet(i), underlay: { address: h.underlay },
        backend: vx ? { type: 'vxlan', vni: 1, mac: macOf(i) } : { type: 'udp' },
        tun: { name: 'tulle0', mtu: vx ? VXLAN_MTU : TULLE_MTU },
        peers: hosts.flatMap((p, j) => (j === i ? [] : [{ subnet: subnet(j), address: p.underlay, ...(vx ? { mac: macOf(j) } : {}) }])),
        batch: spec.batch ?? 64, offloads: spec.offloads ?? ALL_OFFLOADS,
      })));
    }
    return {
      ...base, addresses: hosts.map((_, i) => `198.18.${i + 1}.0`), dev: 'tulle0', mtu: vx ? VXLAN_MTU : TULLE_MTU, daemons, stop,
      processes: daemons.map((d) => ({ name: 'tulle', ns: d.ns, pid: d.process.pid!, exited: () => d.process.exitCode })),
    };
  }
  const started = await startOther(lab, spec.id, hosts);
  const stop = async () => {
    for (const p of started.processes) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await Promise.race([Promise.all(started.processes.map((p) => (p.child.exitCode !== null ? null : new Promise((r) => p.child.once('exit', r))))), sleep(5_000)]);
  };
  return {
    ...base, addresses: started.addresses, dev: started.dev, mtu: started.mtu, stop, notes: started.notes,
    processes: started.processes.map((p) => ({ name: p.name, ns: p.ns, pid: p.child.pid!, exited: () => p.child.exitCode })),
  };
}

export async function measureRow(spec: SystemSpec, slot: Slot<SystemSpec>, ctx: RowContext): Promise<Sample> {
  const { options } = ctx;
  const tag = `${spec.system} (rep ${slot.rep}/${options.reps})`;
  const say = (line: string) => ctx.say(`${tag}: ${line}`);
  const sample: Sample = {
    system: spec.system, kind: spec.kind, rep: slot.rep, index: slot.index,
    tcp1_gbps: null, tcp_multi_gbps: null, udp_kpps: null, udp_loss_pct: null, rtt_ms: null, cpu_pct: null, gbps_per_core: null,
    generator_limited: [], not_measured: {}, errors: [], warnings: [], loadavg_1m: round(os.loadavg()[0], 2),
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

    const covered = hosts.map((h, i) => ({ name: HOST_NAMES[i], ns: h.ns, address: built!.addresses[i] })).filter((n): n is { name: string; ns: string; address: string } => n.address !== null);
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
    await step(`RTT (${latency.name})`, async () => {
      sample.rtt_ms = round(await latency.rttMs(a.ns, b.ns, target), 4);
      return `${sample.rtt_ms} ms`;
    });
    await step(`TCP 1 stream, ${seconds} s`, async () => {
      const procs = built!.processes;
      const before = procs.map((p) => cpuSeconds(p.pid));
      const start = performance.now();
      const r = await traffic.tcp(a.ns, b.ns, target, 1, seconds);
      const wall = (performance.now() - start) / 1000;
      const after = procs.map((p) => cpuSeconds(p.pid));
      sample.tcp1_gbps = r.gbps;
      if (r.limited) sample.generator_limited.push('tcp1_gbps');
      if (procs.length > 0) {
        const per = procs.map((p, i) => ({ name: p.name, ns: p.ns.slice(lab.prefix.length), cpu_pct: round(((after[i] - before[i]) / wall) * 100, 1) }));
        sample.cpu_per_process = per;
        sample.cpu_pct = round(per.reduce((x, p) => x + p.cpu_pct, 0), 1);
      }
      return `${r.detail}${sample.cpu_pct !== null ? `; overlay CPU ${sample.cpu_pct}% of a core (${(sample.cpu_per_process as { cpu_pct: number }[]).map((p) => p.cpu_pct).join(' + ')})` : ''}`;
    });
    await step(`TCP ${options.streams} streams, ${seconds} s`, async () => {
      const r = await traffic.tcp(a.ns, b.ns, target, options.streams, seconds);
      sample.tcp_multi_gbps = r.gbps;
      if (r.limited) sample.generator_limited.push('tcp_multi_gbps');
      return r.detail;
    });
    if (sample.not_measured.udp_kpps !== undefined) say(`UDP not measured: ${sample.not_measured.udp_kpps}`);
    else await step(`UDP ${options.size} B unpaced, ${seconds} s`, async () => {
      const snmpBefore = udpSnmp(lab, b.ns);
      const devBefore = txDropped(lab, a.ns, built!.dev);
      const r = await traffic.udp(a.ns, b.ns, target, options.size, seconds);
      const snmpAfter = udpSnmp(lab, b.ns);
      const devAfter = txDropped(lab, a.ns, built!.dev);
      const delta = (name: string) => (snmpAfter[name] !== undefined && snmpBefore[name] !== undefined ? snmpAfter[name] - snmpBefore[name] : null);
      sample.udp_kpps = r.kpps;
      sample.udp_loss_pct = r.loss_pct;
      sample.udp_sender_kpps = r.sender_kpps;
      if (r.limited) sample.generator_limited.push('udp_kpps');
      sample.udp_drops = {
        sender_dev: built!.dev, sender_dev_tx_dropped: devBefore !== null && devAfter !== null ? devAfter - devBefore : null,
        receiver_udp_rcvbuf_errors: delta('RcvbufErrors'), receiver_udp_in_errors: delta('InErrors'),
      };
      return r.detail;
    });
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
    for (const p of built.processes) {
      if (p.exited() !== null) sample.errors.push(`${p.name} in ${p.ns} exited early (${p.exited()})`);
    }
    if (built.daemons.length > 0) {
      sample.daemon_log = built.daemons.map((d) => d.log().split('\n').find((l) => l.startsWith('tulle:'))?.trim() ?? '');
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
