/**
 * A million bad datagrams, live: two tulle hosts (vxlan backend, gossip store
 * with a key) run a hashed TCP stream; a third namespace sends bad datagrams
 * to the data port and to the gossip port, some with the peer's address
 * spoofed (hostile-plan.ts says what and why each is bad). The run captures
 * real frames first (tcpdump, during an unattacked stream whose throughput is
 * the baseline), then attacks during a second stream, and accounts for every
 * datagram the attacker sent: under the engine's or gossip's drop reason it
 * belongs to, or under the kernel counter that dropped it before tulle could.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { controlRequest } from '../src/daemon/control-client.js';
import { socketPath } from '../src/daemon/state-dir.js';
import type { LeaseView, StatusView } from '../src/daemon/status-view.js';
import type { CounterValues } from '../src/engine/counters.js';
import { Lab } from '../src/lab/netns.js';
import { startDaemon, switchedHosts, type Daemon } from '../src/lab/topology.js';
import { packageRoot } from '../src/util/package-root.js';
import { readPcap } from './hostile-pcap.js';
import { dataCategories, gossipCategories, sentPerCategory, writePlan, type Category, type Outcome } from './hostile-plan.js';

export interface HostileOptions {
  /** Bad datagrams to each port. */
  datagrams: number;
  /** Sending rate per port, datagrams per second. */
  dataRate: number;
  gossipRate: number;
  /** Length of the unattacked stream (the baseline), s. */
  baselineSeconds: number;
  progress?: (line: string) => void;
}

export interface CategoryResult {
  port: 'data' | 'gossip';
  name: string;
  counter: string;
  sent: number;
}

/** Every bad datagram counted: exactly, or on the data port short of the peer's own datagrams a full socket dropped with them. */
export function accounted(a: HostileResult['accounting'][number]): boolean {
  return a.unexplained === 0 || (a.port === 'data' && a.unexplained < 0 && -a.unexplained <= a.overflow);
}

export interface HostileResult {
  options: Omit<HostileOptions, 'progress'>;
  categories: CategoryResult[];
  /** Per port: what was sent, where each counter grew, and what is left unexplained (0 when every datagram is counted). */
  accounting: {
    port: 'data' | 'gossip';
    sent: number;
    counted: Record<string, number>;
    expected: Record<string, number>;
    unexplained: number;
    /**
     * Datagrams the port's socket dropped because its buffer was full. On the gossip port the peer's among
     * them are known (see legitimateLostAtSocket) and left out of `counted`; on the data port they are not,
     * so there `unexplained` is minus the peer's datagrams lost in the overflow: 0 without one, and never
     * below -overflow.
     */
    overflow: number;
  }[];
  stream: {
    baseline: { bytes: number; seconds: number; mbitPerSecond: number; hashMatch: boolean };
    attacked: { bytes: number; seconds: number; mbitPerSecond: number; hashMatch: boolean };
  };
  attackSeconds: { data: number; gossip: number };
  crashes: number;
  hashMismatches: number;
  /** Drops of the unattacked stream (must be 0: a legitimate datagram is never counted as bad). */
  baselineDrops: number;
  /** Datagrams the kernel dropped at a socket because its buffer was full (legitimate ones included). */
  socketOverflows: number;
  /** Socket drops during the attack as /proc/net/udp and as the daemon's tulle_socket_drops_total counted them. */
  socketDrops: { proc: { data: number; gossip: number }; metric: { data: number; gossip: number } };
  /** Suspicions either host raised while the senders ran, and the other members each saw alive when they stopped. */
  gossip: { suspicionsDuringAttack: number; membersAliveAfter: number[]; legitimateLostAtSocket: number };
}

const METRICS = '127.0.0.1:9464';
const GOSSIP_PORT = 7946;
const STREAM_PORT = 5201;
const ENGINE_REASONS = ['dropUnknownSender', 'dropMalformed', 'dropWrongVni', 'dropUnknownVtep', 'dropNotOurs'] as const;
const GOSSIP_REASONS = ['oversize', 'malformed', 'badVersion', 'wrongLabel', 'badMac', 'replay', 'wrongTarget', 'unknownType'] as const;

interface Snapshot {
  engine: CounterValues;
  gossip: Record<string, number>;
  /** Gossip datagrams the target's peer sent (all of them to the target: there are two hosts) and the target received. */
  peerGossipSent: number;
  gossipReceived: number;
  udp: Record<string, number>;
  ipExt: Record<string, number>;
  socketDrops: { data: number; gossip: number };
  /** The same as the daemon's /metrics says (tulle_socket_drops_total). */
  socketDropsMetric: { data: number; gossip: number };
}

export async function runHostile(o: HostileOptions): Promise<HostileResult> {
  const say = o.progress ?? (() => {});
  const lab = new Lab();
  const dir = mkdtempSync(join(tmpdir(), 'tulle-hostile-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const daemons: Daemon[] = [];
  try {
    const sender = join(dir, 'hostile-sender');
    const cc = spawnSync('cc', ['-O2', '-o', sender, join(packageRoot(), 'bench', 'hostile-sender.c')], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`cc could not build bench/hostile-sender.c: ${cc.stderr || cc.error?.message}`);
    const [a, b, x] = switchedHosts(lab, ['ha', 'hb', 'hx']);
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 255)).toString('base64');
    const stateDirs = [join(dir, 'state-a'), join(dir, 'state-b')];
    for (const [i, h] of [a, b].entries()) {
      daemons.push(
        await startDaemon(lab, h.ns, {
          network: '198.18.0.0/16',
          underlay: { address: h.underlay },
          backend: { type: 'vxlan' },
          store: { type: 'gossip', key, preset: 'local', peers: i === 0 ? [] : [a.underlay] },
          stateDir: stateDirs[i],
          metricsAddress: METRICS,
        }),
      );
    }
    const ask = async <T>(i: number, method: 'status' | 'leases') => (await controlRequest(socketPath(stateDirs[i]), method, 15_000)) as T;
    const deadline = Date.now() + 30_000;
    while ((await Promise.all([0, 1].map((i) => ask<LeaseView[]>(i, 'leases')))).some((l) => !l.some((v) => v.state === 'routed'))) {
      if (Date.now() > deadline) throw new Error('the two hosts did not route to each other within 30 s');
      await sleep(200);
    }
    const statusB = await ask<StatusView>(1, 'status');
    const dataPort = statusB.backend.port!;
    const server = statusB.subnet.split('/')[0];
    say(`hosts up: ${a.underlay} → ${b.underlay} (${statusB.subnet}), data port ${dataPort}, gossip port ${GOSSIP_PORT}`);

    const metrics = (ns: string) => lab.exec(ns, [process.execPath, '-e', `fetch('http://${METRICS}/metrics').then(async (r) => console.log(await r.text()))`]);
    const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    // The peer's gossip datagrams to the target, counted by the kernel as they leave (the peer's own count
    // cannot be read while it is stopped). It is stopped while the counters are read, so none is in between.
    for (const rule of [
      'add table ip hostile',
      'add chain ip hostile out { type filter hook output priority 0; }',
      `add rule ip hostile out udp dport ${GOSSIP_PORT} counter`,
    ])
      lab.exec(a.ns, ['nft', rule]);
    const snapshot = async (): Promise<Snapshot> => {
      const status = await ask<StatusView>(1, 'status');
      const peer = daemons[0].process;
      peer.kill('SIGSTOP');
      try {
        await sleep(100);
        const text = metrics(b.ns);
        const gossip: Record<string, number> = {};
        for (const m of text.matchAll(/^tulle_gossip_dropped_total\{reason="(\w+)"\} (\d+)$/gm)) gossip[m[1]] = Number(m[2]);
        return {
          engine: status.counters!,
          gossip,
          peerGossipSent: Number(/counter packets (\d+)/.exec(lab.exec(a.ns, ['nft', 'list', 'chain', 'ip', 'hostile', 'out']))?.[1] ?? NaN),
          gossipReceived: metric(text, 'tulle_gossip_datagrams_total\\{direction="rx"\\}'),
          udp: snmpGroup(lab.exec(b.ns, ['cat', '/proc/net/snmp']), 'Udp'),
          ipExt: snmpGroup(lab.exec(b.ns, ['cat', '/proc/net/netstat']), 'IpExt'),
          socketDrops: socketDrops(lab.exec(b.ns, ['cat', '/proc/net/udp']), dataPort, GOSSIP_PORT),
          socketDropsMetric: {
            data: metric(text, 'tulle_socket_drops_total\\{socket="data"\\}'),
            gossip: metric(text, 'tulle_socket_drops_total\\{socket="gossip"\\}'),
          },
        };
      } finally {
        peer.kill('SIGCONT');
      }
    };

    const stream = async (seconds: number, during?: () => Promise<void>) => {
      const srv = lab.spawn(b.ns, [process.execPath, join(packageRoot(), 'dist', 'bench', 'hostile-stream.js'), 'server', server, String(STREAM_PORT)]);
      const srvOut = output(srv);
      await firstLine(srv);
      const cli = lab.spawn(a.ns, [
        process.execPath,
        join(packageRoot(), 'dist', 'bench', 'hostile-stream.js'),
        'client',
        server,
        String(STREAM_PORT),
        String(seconds),
      ]);
      const cliOut = output(cli);
      if (during) {
        await during();
        cli.kill('SIGUSR2');
      }
      const sent = lastJson(await cliOut) as { bytes: number; sha256: string; seconds: number };
      const got = lastJson(await srvOut) as { bytes: number; sha256: string };
      const hashMatch = sent.sha256 === got.sha256 && sent.bytes === got.bytes;
      return { bytes: got.bytes, seconds: sent.seconds, mbitPerSecond: (got.bytes * 8) / sent.seconds / 1e6, hashMatch };
    };

    // 1. The unattacked stream: the baseline, and the real frames to mutate.
    say(`baseline: ${o.baselineSeconds} s of unattacked stream, capturing frames`);
    const capture = (name: string, port: number, count: number) =>
      lab.spawn(b.ns, [
        'tcpdump',
        '-i',
        'eth0',
        '-U',
        '-s',
        '0',
        '-c',
        String(count),
        '-w',
        join(dir, name),
        `udp and src host ${a.underlay} and dst port ${port}`,
      ]);
    const captures = [capture('data.pcap', dataPort, 256), capture('gossip.pcap', GOSSIP_PORT, 64)];
    await sleep(500);
    const before0 = await snapshot();
    const baseline = await stream(o.baselineSeconds);
    const after0 = await snapshot();
    for (const c of captures) await stop(c, 'SIGINT');
    const baselineDrops =
      ENGINE_REASONS.reduce((n, r) => n + after0.engine[r] - before0.engine[r], 0) +
      GOSSIP_REASONS.reduce((n, r) => n + (after0.gossip[r] ?? 0) - (before0.gossip[r] ?? 0), 0);
    say(`baseline: ${baseline.mbitPerSecond.toFixed(0)} Mbit/s, hash ${baseline.hashMatch ? 'matches' : 'MISMATCH'}, ${baselineDrops} drops`);

    // 2. The plans.
    const data = dataCategories(
      { attacker: x.underlay, peer: a.underlay, target: b.underlay, port: dataPort, peerPort: dataPort },
      readPcap(join(dir, 'data.pcap')),
    );
    const gossip = gossipCategories(
      { attacker: x.underlay, peer: a.underlay, target: b.underlay, port: GOSSIP_PORT, peerPort: GOSSIP_PORT },
      readPcap(join(dir, 'gossip.pcap')),
      1400,
    );
    writePlan(join(dir, 'data.plan'), data);
    writePlan(join(dir, 'gossip.plan'), gossip);

    // 3. The attack, during a second stream.
    const before = await snapshot();
    const progress = { data: 0, gossip: 0 };
    const results: { data?: SenderResult; gossip?: SenderResult } = {};
    let gossipHealth = { suspicionsDuringAttack: NaN, membersAliveAfter: [] as number[] };
    const attacked = await stream(3600, async () => {
      await sleep(1000); // the stream at full rate first
      const run = (which: 'data' | 'gossip', rate: number) => {
        const child = lab.spawn(x.ns, [sender, join(dir, `${which}.plan`), String(o.datagrams), String(rate)]);
        child.stderr!.on('data', (chunk: Buffer) => {
          const m = /sent (\d+)\s*$/.exec(chunk.toString());
          if (m) progress[which] = Number(m[1]);
        });
        return output(child).then((out) => (results[which] = lastJson(out) as SenderResult));
      };
      const membership = async () => {
        const [sa, sb] = [metrics(a.ns), metrics(b.ns)];
        const alive = await Promise.all([0, 1].map(async (i) => (await ask<StatusView>(i, 'status')).store.health?.members?.alive ?? 0));
        return { suspicions: metric(sa, 'tulle_gossip_suspicions_total') + metric(sb, 'tulle_gossip_suspicions_total'), alive };
      };
      const first = await membership();
      const ticker = setInterval(
        () =>
          say(
            `attack: data ${progress.data.toLocaleString('en')}/${o.datagrams.toLocaleString('en')}, gossip ${progress.gossip.toLocaleString('en')}/${o.datagrams.toLocaleString('en')}`,
          ),
        1000,
      );
      try {
        await Promise.all([run('data', o.dataRate), run('gossip', o.gossipRate)]);
      } finally {
        clearInterval(ticker);
      }
      const last = await membership();
      gossipHealth = { suspicionsDuringAttack: last.suspicions - first.suspicions, membersAliveAfter: last.alive };
      await sleep(1000); // what is queued is read
    });
    await sleep(1000);
    const after = await snapshot();
    say(`attack over: stream ${attacked.mbitPerSecond.toFixed(0)} Mbit/s, hash ${attacked.hashMatch ? 'matches' : 'MISMATCH'}`);

    // 4. Every datagram accounted for.
    const categories: CategoryResult[] = [];
    const sentData = sentPerCategory(data, results.data!.perTemplate);
    const sentGossip = sentPerCategory(gossip, results.gossip!.perTemplate);
    data.forEach((c, i) => categories.push({ port: 'data', name: c.name, counter: counterName(c.outcome), sent: sentData[i] }));
    gossip.forEach((c, i) => categories.push({ port: 'gossip', name: c.name, counter: counterName(c.outcome), sent: sentGossip[i] }));
    const d = (f: (s: Snapshot) => number) => f(after) - f(before);
    const udpLength = d((s) => s.udp.InErrors - s.udp.RcvbufErrors - s.udp.InCsumErrors);
    const countedData: Record<string, number> = {
      ...Object.fromEntries(ENGINE_REASONS.map((r) => [`engine.${r}`, d((s) => s.engine[r])])),
      'kernel.socketChecksum+overflow': d((s) => s.socketDrops.data),
      'kernel.udpLength': udpLength,
      'kernel.innerIpChecksum': d((s) => s.ipExt.InCsumErrors),
    };
    // The gossip socket also holds the peer's datagrams: those it lost there are the peer's sent less the target's
    // accepted (received, less the drops by reason, which legitimate datagrams never get: see baselineDrops).
    const gossipDrops = GOSSIP_REASONS.reduce((n, r) => n + d((s) => s.gossip[r] ?? 0), 0);
    const legitLost = d((s) => s.peerGossipSent) - (d((s) => s.gossipReceived) - gossipDrops);
    const countedGossip: Record<string, number> = {
      ...Object.fromEntries(GOSSIP_REASONS.map((r) => [`gossip.${r}`, d((s) => s.gossip[r] ?? 0)])),
      'kernel.socketOverflow': d((s) => s.socketDrops.gossip) - legitLost,
    };
    const expected = (cats: Category[], sent: number[]) => {
      const out: Record<string, number> = {};
      cats.forEach((c, i) => {
        const k = counterName(c.outcome) === 'kernel.socketChecksum' ? 'kernel.socketChecksum+overflow' : counterName(c.outcome);
        out[k] = (out[k] ?? 0) + sent[i];
      });
      return out;
    };
    const sum = (r: Record<string, number>) => Object.values(r).reduce((n, v) => n + v, 0);
    const accounting: HostileResult['accounting'] = [
      {
        port: 'data',
        sent: results.data!.sent,
        counted: countedData,
        expected: expected(data, sentData),
        unexplained: results.data!.sent - sum(countedData),
        overflow: countedData['kernel.socketChecksum+overflow'] - (expected(data, sentData)['kernel.socketChecksum+overflow'] ?? 0),
      },
      {
        port: 'gossip',
        sent: results.gossip!.sent,
        counted: countedGossip,
        expected: expected(gossip, sentGossip),
        unexplained: results.gossip!.sent - sum(countedGossip),
        overflow: d((s) => s.socketDrops.gossip),
      },
    ];
    const crashes = daemons.filter((dm) => dm.process.exitCode !== null || dm.process.signalCode !== null).length;
    return {
      options: { datagrams: o.datagrams, dataRate: o.dataRate, gossipRate: o.gossipRate, baselineSeconds: o.baselineSeconds },
      categories,
      accounting,
      stream: { baseline, attacked },
      attackSeconds: { data: results.data!.seconds, gossip: results.gossip!.seconds },
      crashes,
      hashMismatches: [baseline, attacked].filter((s) => !s.hashMatch).length,
      baselineDrops,
      socketOverflows: d((s) => s.udp.RcvbufErrors),
      socketDrops: {
        proc: { data: d((s) => s.socketDrops.data), gossip: d((s) => s.socketDrops.gossip) },
        metric: { data: d((s) => s.socketDropsMetric.data), gossip: d((s) => s.socketDropsMetric.gossip) },
      },
      gossip: { ...gossipHealth, legitimateLostAtSocket: legitLost },
    };
  } finally {
    for (const dm of daemons) await dm.stop();
    lab.dispose();
  }
}

interface SenderResult {
  sent: number;
  retries: number;
  seconds: number;
  perTemplate: number[];
}

function counterName(outcome: Outcome): string {
  if ('engine' in outcome) return `engine.${outcome.engine}`;
  if ('gossip' in outcome) return `gossip.${outcome.gossip}`;
  return `kernel.${outcome.kernel}`;
}

/** One group of /proc/net/snmp ("Udp", "Ip"): its header line names the values of the next. */
export function snmpGroup(text: string, group: string): Record<string, number> {
  const lines = text.split('\n').filter((l) => l.startsWith(`${group}: `));
  if (lines.length < 2) throw new Error(`/proc/net/snmp has no ${group} lines`);
  const names = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]]));
}

/** The drops column of /proc/net/udp, summed over the sockets bound to each port. */
export function socketDrops(text: string, dataPort: number, gossipPort: number): { data: number; gossip: number } {
  const out = { data: 0, gossip: 0 };
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13) continue;
    const port = parseInt(f[1].split(':')[1], 16);
    const drops = Number(f[f.length - 1]);
    if (port === dataPort) out.data += drops;
    else if (port === gossipPort) out.gossip += drops;
  }
  return out;
}

function output(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', () => resolve(out));
  });
}

function firstLine(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`exited with ${code} before it was ready`)));
  });
}

function lastJson(out: string): unknown {
  const line = out.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`expected a JSON line, got ${JSON.stringify(out.slice(-300))}`);
  }
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}
