/**
 * Lab topologies: hosts in namespaces on one underlay segment (a bridge in a
 * switch namespace), and tulle daemons started on them.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import type { CounterValues } from '../engine/counters.js';
import { tulleCommand } from '../util/self-command.js';
import { run, type Lab } from './netns.js';

export interface Host {
  ns: string;
  /** Underlay address on the segment, 192.0.2.<i+1>. */
  underlay: string;
  dev: string;
}

/** n hosts on a bridge: host i gets 192.0.2.<i+1>/24 on `eth0`. */
export function switchedHosts(lab: Lab, names: string[]): Host[] {
  const sw = lab.namespace('sw');
  lab.ip(sw, 'link', 'add', 'br0', 'type', 'bridge');
  lab.ip(sw, 'link', 'set', 'br0', 'up');
  return names.map((name, i) => {
    const ns = lab.namespace(name);
    const port = `p-${name}`.slice(0, 15);
    lab.veth(ns, 'eth0', sw, port);
    lab.ip(sw, 'link', 'set', port, 'master', 'br0', 'up');
    const underlay = `192.0.2.${i + 1}`;
    lab.ip(ns, 'addr', 'add', `${underlay}/24`, 'dev', 'eth0');
    lab.ip(ns, 'link', 'set', 'eth0', 'up');
    return { ns, underlay, dev: 'eth0' };
  });
}

/**
 * A "container" behind `host`: a namespace on a bridge in the host, with
 * `address` (inside the host's subnet) and a default route via `gateway`,
 * which the host's bridge holds. The host forwards between the bridge and the overlay.
 */
export function container(lab: Lab, host: Host, name: string, address: string, gateway: string, prefix = 24): string {
  const ns = lab.namespace(name);
  const bridge = 'cbr0';
  if (!lab.ip(host.ns, '-o', 'link', 'show').includes(`${bridge}:`)) {
    lab.ip(host.ns, 'link', 'add', bridge, 'type', 'bridge');
    lab.ip(host.ns, 'addr', 'add', `${gateway}/${prefix}`, 'dev', bridge);
    lab.ip(host.ns, 'link', 'set', bridge, 'up');
    lab.exec(host.ns, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  }
  const port = `v-${name}`.slice(0, 15);
  lab.veth(host.ns, port, ns, 'eth0');
  lab.ip(host.ns, 'link', 'set', port, 'master', bridge, 'up');
  lab.ip(ns, 'addr', 'add', `${address}/${prefix}`, 'dev', 'eth0');
  lab.ip(ns, 'link', 'set', 'eth0', 'up');
  lab.ip(ns, 'route', 'add', 'default', 'via', gateway);
  return ns;
}

export interface Daemon {
  process: ChildProcess;
  ns: string;
  stats(): CounterValues;
  /** stderr so far, for failure messages. */
  log(): string;
  stop(): Promise<number | null>;
}

/** Starts `tulle run` (compiled, from dist/) in `ns` with `config`; resolves once it is up (stats written, TUN up). */
export async function startDaemon(lab: Lab, ns: string, config: object): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-daemon-'));
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'config.json');
  const statsFile = join(dir, 'stats.json');
  writeFileSync(configFile, JSON.stringify(config));
  const child = lab.spawn(ns, tulleCommand(['run', '--config', configFile, '--stats-file', statsFile]));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const tun = (config as { tun?: { name?: string } }).tun?.name ?? 'tulle0';
  const hasTun = (config as { backend?: { type?: string } }).backend?.type !== 'host-gw';
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tulle run exited with ${child.exitCode} in ${ns}: ${stderr}`);
    if (existsSync(statsFile) && (!hasTun || run(['ip', '-n', ns, '-o', 'link', 'show', 'up'], { allowFailure: true }).includes(`${tun}:`))) break;
    if (Date.now() > deadline) throw new Error(`tulle run did not come up in ${ns} within 15 s: ${stderr}`);
    await sleep(50);
  }
  return {
    process: child,
    ns,
    stats: () => JSON.parse(readFileSync(statsFile, 'utf8')) as CounterValues,
    log: () => stderr,
    /** SIGTERM, then SIGKILL after 5 s; resolves with the exit code (null if it had to be killed). */
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
      return child.exitCode;
    },
  };
}

/** Waits for the daemon's next stats write (twice a second) so counters are current. */
export async function freshStats(daemon: Daemon): Promise<CounterValues> {
  await sleep(600);
  return daemon.stats();
}
