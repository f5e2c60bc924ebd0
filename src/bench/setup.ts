/**
 * A row's lab set-up: veth GRO, then the system under test on every host —
 * nothing (underlay), a kernel vxlan device, tulle daemons, or another
 * overlay — and what the measurements need to know about it.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { featureSummary, setFeatures } from '../lab/features.js';
import type { Lab } from '../lab/netns.js';
import { startDaemon, type Daemon, type Host } from '../lab/topology.js';
import type { Metric } from './aggregate.js';
import { startOther } from './others.js';
import { ALL_OFFLOADS, type SystemSpec } from './systems.js';

export const VXLAN_MTU = 1450;
export const TULLE_MTU = 1472;
const UNDERLAY_MTU = 1500; // veth default

/** Everything a row's overlay set up, for the measurements. */
export interface Built {
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

const macOf = (i: number) => `02:00:5e:10:00:${(i + 1).toString(16).padStart(2, '0')}`;

/** Sets veth GRO on every host's eth0 and every bridge port; returns what each reads now. */
export function applyGro(lab: Lab, hosts: Host[], on: boolean): Record<string, string> {
  const state: Record<string, string> = {};
  const want = on ? 'on' : 'off';
  for (const h of hosts) state[`${h.ns.slice(lab.prefix.length)}:${h.dev}`] = featureSummary(setFeatures(lab, h.ns, [`${h.dev}:gro=${want}`])[0]);
  const ports = hosts.map((h) => `p-${h.ns.slice(lab.prefix.length)}`.slice(0, 15));
  setFeatures(
    lab,
    lab.prefix + 'sw',
    ports.map((p) => `${p}:gro=${want}`),
  ).forEach((s, i) => (state[`sw:${ports[i]}`] = featureSummary(s)));
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

/** Pins host i's daemon (all its threads) to CPU i mod the cores; says where each went, or why not. */
function pinDaemons(lab: Lab, daemons: Daemon[]): string {
  const cores = os.availableParallelism();
  const placed = daemons.map((d, i) => {
    const cpu = i % cores;
    const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(d.process.pid)], { encoding: 'utf8', timeout: 5_000 });
    const host = d.ns.slice(lab.prefix.length);
    return r.status === 0 ? `${host} on CPU ${cpu}` : `${host} NOT pinned (taskset: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()})`;
  });
  return `daemons pinned to a core each: ${placed.join(', ')} (of ${cores} cores)`;
}

export async function build(lab: Lab, spec: SystemSpec, hosts: Host[]): Promise<Built> {
  const base: Built = { addresses: [], dev: hosts[0].dev, mtu: UNDERLAY_MTU, processes: [], daemons: [], notes: [], notMeasured: {}, stop: async () => {} };
  if (spec.id === 'underlay') return { ...base, addresses: hosts.map((h) => h.underlay) };
  if (spec.id === 'kernel-vxlan') {
    hosts.forEach((h, i) => {
      lab.ip(h.ns, 'link', 'add', 'vx0', 'address', macOf(i), 'type', 'vxlan', 'id', '1', 'dstport', '4789', 'local', h.underlay, 'dev', h.dev, 'nolearning');
      lab.ip(h.ns, 'link', 'set', 'vx0', 'mtu', String(VXLAN_MTU), 'up');
      lab.ip(h.ns, 'addr', 'add', `198.18.${i + 1}.1/16`, 'dev', 'vx0');
    });
    hosts.forEach((h, i) =>
      hosts.forEach((peer, j) => {
        if (i === j) return;
        lab.ip(h.ns, 'neigh', 'replace', `198.18.${j + 1}.1`, 'lladdr', macOf(j), 'dev', 'vx0', 'nud', 'permanent');
        lab.exec(h.ns, ['bridge', 'fdb', 'append', macOf(j), 'dev', 'vx0', 'dst', peer.underlay], { timeoutMs: 10_000 });
      }),
    );
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
        daemons.push(
          track(
            await startDaemon(lab, h.ns, {
              network: '198.18.0.0/16',
              subnet: subnet(i),
              underlay: { address: h.underlay },
              backend: { type: 'host-gw' },
              peers: hosts.flatMap((p, j) => (j === i ? [] : [{ subnet: subnet(j), address: p.underlay }])),
            }),
          ),
        );
      }
      return {
        ...base,
        addresses: hosts.map((_, i) => `198.18.${i + 1}.1`),
        daemons,
        stop,
        processes: daemons.map((d) => ({ name: 'tulle', ns: d.ns, pid: d.process.pid!, exited: () => d.process.exitCode })),
        // iperf3's UDP test hangs against an address on a bridge with no ports in this lab (without tulle too),
        // and the kernel has no dummy devices to put the address on.
        notMeasured: {
          udp_kpps: 'UDP to a bridge address with no ports hangs in this lab',
          udp_loss_pct: 'UDP to a bridge address with no ports hangs in this lab',
          gbps_per_core: 'host-gw forwards in the kernel; the daemons only install routes',
        },
      };
    }
    const vx = spec.backend === 'vxlan';
    for (const [i, h] of hosts.entries()) {
      daemons.push(
        track(
          await startDaemon(lab, h.ns, {
            network: '198.18.0.0/16',
            subnet: subnet(i),
            underlay: { address: h.underlay },
            backend: vx ? { type: 'vxlan', vni: 1, mac: macOf(i), ...(spec.directRouting ? { directRouting: true } : {}) } : { type: 'udp' },
            tun: { name: 'tulle0', mtu: vx ? VXLAN_MTU : TULLE_MTU },
            // udpChecksum: the peers are tulle hosts, whose datagrams the kernel checksums.
            peers: hosts.flatMap((p, j) => (j === i ? [] : [{ subnet: subnet(j), address: p.underlay, udpChecksum: true, ...(vx ? { mac: macOf(j) } : {}) }])),
            batch: spec.batch ?? 64,
            offloads: spec.offloads ?? ALL_OFFLOADS,
            threads: spec.threads,
            replyInline: spec.replyInline ?? true,
            ...(spec.busyPollUs !== undefined ? { busyPollMicroseconds: spec.busyPollUs } : {}),
            ...(spec.backlogYieldUs !== undefined ? { backlogYieldMicroseconds: spec.backlogYieldUs } : {}),
          }),
        ),
      );
    }
    if (spec.pin) base.notes.push(pinDaemons(lab, daemons));
    const processes = daemons.map((d) => ({ name: 'tulle', ns: d.ns, pid: d.process.pid!, exited: () => d.process.exitCode }));
    if (spec.directRouting) {
      // The hosts share the bridge: each peer is direct, so the traffic leaves by eth0 unencapsulated, with its MTU.
      return {
        ...base,
        addresses: hosts.map((_, i) => `198.18.${i + 1}.0`),
        daemons,
        stop,
        processes,
        // As for host-gw: the address sits on another device (the TUN) than the one the datagrams arrive on.
        notMeasured: {
          udp_kpps: 'UDP to an address on a device other than the one it arrives on hangs in this lab (without tulle too)',
          udp_loss_pct: 'UDP to an address on a device other than the one it arrives on hangs in this lab (without tulle too)',
          gbps_per_core: 'direct peers are forwarded by the kernel; the daemons only install routes',
        },
      };
    }
    return {
      ...base,
      addresses: hosts.map((_, i) => `198.18.${i + 1}.0`),
      dev: 'tulle0',
      mtu: vx ? VXLAN_MTU : TULLE_MTU,
      daemons,
      stop,
      processes,
    };
  }
  const started = await startOther(lab, spec.id, hosts);
  const stop = async () => {
    for (const p of started.processes) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await Promise.race([
      Promise.all(started.processes.map((p) => (p.child.exitCode !== null ? null : new Promise((r) => p.child.once('exit', r))))),
      sleep(5_000),
    ]);
  };
  return {
    ...base,
    addresses: started.addresses,
    dev: started.dev,
    mtu: started.mtu,
    stop,
    notes: started.notes,
    processes: started.processes.map((p) => ({ name: p.name, ns: p.ns, pid: p.child.pid!, exited: () => p.child.exitCode })),
  };
}
