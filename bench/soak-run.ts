/**
 * One soak run: the demo's lab (3 hosts on a bridge, `tulle run` on gossip
 * leases and the vxlan backend, each serving /metrics on its loopback), a TCP
 * stream at full rate host 1 → host 2 and a paced UDP stream host 2 → host 3
 * for the whole run, and a sample of every daemon every few seconds.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { provenance } from '../src/bench/build-info.js';
import { controlRequest } from '../src/daemon/control-client.js';
import { socketPath } from '../src/daemon/state-dir.js';
import { chooseTools } from '../src/bench/preflight.js';
import { onPath } from '../src/bench/tools.js';
import { builtinTraffic, iperfTraffic, type TcpFigure } from '../src/bench/traffic.js';
import { startDaemons, stopDaemons, waitConverged, type DemoDaemon } from '../src/lab/demo/daemons.js';
import { buildHosts, HOST_NAMES } from '../src/lab/demo/hosts.js';
import { Lab, leftoverNamespaces } from '../src/lab/netns.js';
import { packageRoot } from '../src/util/package-root.js';
import { verdict } from './soak-analysis.js';
import { liveHeapSeries, snapshotNodeOptions, takeLiveHeap, type LiveHeap } from './soak-live-heap.js';
import type { SoakOptions } from './soak-options.js';
import { pathDrops, type PathEnds } from './soak-path-drops.js';
import { fdsAtRest, MetricsScraper, sampleDaemon, status, type WatchedDaemon } from './soak-probe.js';
import type { SoakResult } from './soak-report.js';
import type { Sample } from './soak-sample.js';

/** Each daemon serves /metrics here, inside its own namespace. */
const METRICS_ADDRESS = '127.0.0.1:9464';
const UDP_PORT = 5301;
const TCP_FROM = 0;
const TCP_TO = 1;
const UDP_FROM = 1;
const UDP_TO = 2;
/** Time for the last datagrams to arrive after the sender stops. */
const UDP_DRAIN_MS = 2_000;

/** Calls `onLine` with each JSON line the child prints. */
function jsonLines(child: ChildProcess, onLine: (o: Record<string, number | boolean>) => void): void {
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      onLine(JSON.parse(line) as Record<string, number | boolean>);
    } catch {
      // not one of ours (a warning): ignore
    }
  });
}

/** Resolves with the first JSON line that has `key`; rejects if the child exits first or after `timeoutMs`. */
function untilLine(child: ChildProcess, key: string, timeoutMs: number, what: string): Promise<Record<string, number | boolean>> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => reject(new Error(`${what}: no "${key}" line within ${timeoutMs / 1000} s ${stderr.trim()}`)), timeoutMs);
    jsonLines(child, (o) => {
      if (key in o) {
        clearTimeout(timer);
        resolve(o);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before its "${key}" line: ${stderr.trim()}`));
    });
  });
}

export interface SoakIo {
  /** A line of progress (one per step and per sample). */
  say(line: string): void;
  command: string;
}

export async function runSoak(o: SoakOptions, io: SoakIo): Promise<SoakResult> {
  const started = new Date();
  const loadStart = os.loadavg()[0];
  const otherLabNamespaces = leftoverNamespaces().length;
  const seconds = Math.round(o.minutes * 60);
  const lab = new Lab(`soak${randomBytes(3).toString('hex')}`);
  const dir = mkdtempSync(join(os.tmpdir(), 'tulle-soak-'));
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  let daemons: DemoDaemon[] = [];
  const scrapers: MetricsScraper[] = [];
  try {
    io.say(`lab ${lab.prefix}*: 3 hosts on a bridge, 192.0.2.1-3`);
    const { hosts, gro } = buildHosts(lab);
    io.say('starting tulle run on each host (gossip store, vxlan backend, /metrics on each loopback)');
    // Heap snapshots are written here and deleted once read; the folder goes with the lab.
    const snapshots = join(dir, 'heap');
    mkdirSync(snapshots);
    const nodeOptions = [process.env.NODE_OPTIONS, snapshotNodeOptions(snapshots)].filter(Boolean).join(' ');
    daemons = await startDaemons(lab, hosts, dir, () => ({ metricsAddress: METRICS_ADDRESS }), { ...process.env, NODE_OPTIONS: nodeOptions });
    const views = await waitConverged(daemons, () => {});
    const subnets = views.map((v) => v.find((l) => l.state === 'own')!.subnet);
    const statuses = await Promise.all(daemons.map(status));
    // The TUN's address as the daemon reports it, without the prefix length ("198.18.12.1/16").
    const overlay = statuses.map((s) => s.tun!.address.split('/')[0]);
    io.say(`leases converged: ${subnets.map((s, i) => `${HOST_NAMES[i]} ${s}`).join(', ')}`);
    const watched: WatchedDaemon[] = daemons.map((d, i) => {
      const scraper = new MetricsScraper(lab, d.host.ns, METRICS_ADDRESS);
      scrapers.push(scraper);
      return { host: HOST_NAMES[i], pid: d.child.pid!, stateDir: d.stateDir, scraper };
    });

    // The UDP receiver first, so the stream's first datagram finds it.
    const dist = join(packageRoot(), 'dist', 'bench', 'soak-udp.js');
    const receiver = lab.spawn(hosts[UDP_TO].ns, [
      process.execPath,
      dist,
      'recv',
      '--address',
      overlay[UDP_TO],
      '--port',
      String(UDP_PORT),
      '--max-seconds',
      String(seconds + 60),
    ]);
    await untilLine(receiver, 'listening', 15_000, 'the UDP receiver');
    let udpReceived = { received: 0, duplicates: 0 };
    const receiverDone = untilLine(receiver, 'done', (seconds + 90) * 1000, 'the UDP receiver');
    jsonLines(receiver, (l) => (udpReceived = { received: Number(l.received ?? 0), duplicates: Number(l.duplicates ?? 0) }));

    const ends = (): Promise<PathEnds> =>
      Promise.all([status(daemons[UDP_FROM]), status(daemons[UDP_TO])]).then(([s, r]) => ({
        sender: { name: HOST_NAMES[UDP_FROM], ns: hosts[UDP_FROM].ns, tun: statuses[UDP_FROM].tun!.name, dev: hosts[UDP_FROM].dev, status: s },
        receiver: { name: HOST_NAMES[UDP_TO], ns: hosts[UDP_TO].ns, tun: statuses[UDP_TO].tun!.name, dev: hosts[UDP_TO].dev, status: r },
        sw: { ns: `${lab.prefix}sw`, senderPort: `p-${HOST_NAMES[UDP_FROM]}`, receiverPort: `p-${HOST_NAMES[UDP_TO]}` },
      }));
    const dropsBefore = pathDrops(lab, await ends());

    const iperf = onPath('iperf3');
    const tool = chooseTools('auto', { iperf3: iperf !== undefined, ping: false }).throughput;
    const version = iperf
      ? spawnSync(iperf, ['--version'], { encoding: 'utf8', timeout: 5_000 })
          .stdout.split('\n')[0]
          .replace(/\s*\(cJSON[^)]*\)/, '')
          .trim()
      : '';
    const traffic = tool === 'iperf3' ? iperfTraffic(lab, version || 'iperf3') : builtinTraffic(lab);
    io.say(
      `traffic for ${seconds} s: TCP ${HOST_NAMES[TCP_FROM]} → ${HOST_NAMES[TCP_TO]} (${traffic.name}), ` +
        `UDP ${o.udpPps}/s ${HOST_NAMES[UDP_FROM]} → ${HOST_NAMES[UDP_TO]}`,
    );
    const sender = lab.spawn(hosts[UDP_FROM].ns, [
      process.execPath,
      dist,
      'send',
      '--to',
      overlay[UDP_TO],
      '--port',
      String(UDP_PORT),
      '--pps',
      String(o.udpPps),
      '--size',
      String(o.udpSize),
      '--seconds',
      String(seconds),
    ]);
    let udpSent = 0;
    jsonLines(sender, (l) => (udpSent = Number(l.sent ?? udpSent)));
    const senderDone = untilLine(sender, 'done', (seconds + 60) * 1000, 'the UDP sender');
    const tcp: Promise<TcpFigure | Error> = traffic.tcp(hosts[TCP_FROM].ns, hosts[TCP_TO].ns, overlay[TCP_TO], 1, seconds).catch((e: Error) => e);

    const t0 = Date.now();
    const samples: Sample[] = [];
    const loads: number[] = [];
    const live: LiveHeap[] = [];
    // The live heap after a full collection, one daemon at a time: half-way through the warm-up, at its end (before that
    // sample), half-way through what follows, and at the end. A process's first snapshot leaves it ~80 MiB more RSS that
    // malloc keeps, its second a little more, later ones about none: the first two are in the warm-up, out of the RSS figures.
    const snapshot = async (t: number) => {
      for (const w of watched) {
        const h = await takeLiveHeap(w, snapshots, t, () => controlRequest(socketPath(w.stateDir), 'status', 120_000));
        live.push(h);
        io.say(`${w.host} live heap at ${t.toFixed(0)} s: ${mib(h.liveBytes)} MiB (snapshot after a full collection, ${h.pauseMs} ms)`);
      }
    };
    const midSeconds = o.warmupSeconds + (seconds - o.warmupSeconds) / 2;
    let primeTaken = false;
    let warmTaken = false;
    let midTaken = false;
    for (let k = 0; ; k++) {
      let due = t0 + k * o.sampleSeconds * 1000;
      if (due > t0 + seconds * 1000) break;
      // A snapshot pauses the daemon for seconds: the slots it overran are skipped, not sampled back to back.
      if (due < Date.now() - 1000) {
        k = Math.ceil((Date.now() - t0) / (o.sampleSeconds * 1000));
        due = t0 + k * o.sampleSeconds * 1000;
        if (due > t0 + seconds * 1000) break;
      }
      await sleep(Math.max(0, due - Date.now()));
      if (!primeTaken && due - t0 >= (o.warmupSeconds * 1000) / 2) {
        primeTaken = true;
        await snapshot((Date.now() - t0) / 1000);
      }
      if (!warmTaken && due - t0 >= o.warmupSeconds * 1000) {
        warmTaken = true;
        await snapshot((Date.now() - t0) / 1000);
      }
      const t = (Date.now() - t0) / 1000;
      const fds = await fdsAtRest(watched.map((w) => w.pid));
      const ds = [];
      for (const [i, w] of watched.entries()) ds.push(await sampleDaemon(w, fds[i]));
      const sample: Sample = { t: Math.round(t * 10) / 10, daemons: ds, udp: { sent: udpSent, received: udpReceived.received } };
      samples.push(sample);
      loads.push(os.loadavg()[0]);
      io.say(progressLine(sample, samples, seconds));
      if (warmTaken && !midTaken && t >= midSeconds) {
        midTaken = true;
        await snapshot(t);
      }
    }
    await snapshot((Date.now() - t0) / 1000);

    const tcpResult = await tcp;
    const sent = await senderDone;
    await sleep(UDP_DRAIN_MS);
    receiver.kill('SIGTERM');
    const got = await receiverDone;
    const dropsAfter = pathDrops(lab, await ends());
    const v = verdict({
      samples,
      warmupSeconds: o.warmupSeconds,
      maxGrowthPct: o.maxGrowthPct,
      udp: { sent: Number(sent.sent), received: Number(got.received), duplicates: Number(got.duplicates), dropsBefore, dropsAfter },
      tcpReceiver: TCP_TO,
      liveHeap: liveHeapSeries(live, o.warmupSeconds),
    });
    const software = provenance(packageRoot());
    return {
      command: io.command,
      started: started.toISOString(),
      options: o,
      machine: {
        cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
        cores: os.cpus().length,
        kernel: software.kernel,
        node: software.node,
        tulle: software.tulle,
        commit: software.commit,
      },
      load: { start: loadStart, mean: loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length), end: os.loadavg()[0], otherLabNamespaces },
      lab: { prefix: lab.prefix, gro, subnets },
      tcp: {
        tool: traffic.name,
        from: HOST_NAMES[TCP_FROM],
        to: HOST_NAMES[TCP_TO],
        gbps: tcpResult instanceof Error ? null : tcpResult.gbps,
        detail: tcpResult instanceof Error ? `failed: ${tcpResult.message}` : `${tcpResult.detail} on average over the run`,
      },
      udp: {
        from: HOST_NAMES[UDP_FROM],
        to: HOST_NAMES[UDP_TO],
        pps: o.udpPps,
        size: o.udpSize,
        sendErrors: Number(sent.errors),
        strays: Number(got.strays),
      },
      samples,
      verdict: v,
    };
  } finally {
    for (const s of scrapers) s.close();
    await stopDaemons(daemons);
    lab.dispose();
  }
}

const mib = (b: number) => (b / 2 ** 20).toFixed(1);

/** One line per sample: where the run is and what each daemon looks like. */
export function progressLine(s: Sample, all: Sample[], seconds: number): string {
  const prev = all.length > 1 ? all[all.length - 2] : undefined;
  const per = (f: (d: Sample['daemons'][number]) => string) => s.daemons.map(f).join('/');
  const tcpGbps =
    prev && s.t > prev.t ? (((s.daemons[TCP_TO].engine.rxBytes - prev.daemons[TCP_TO].engine.rxBytes) * 8) / (s.t - prev.t) / 1e9).toFixed(2) : '–';
  return (
    `[${s.t.toFixed(0).padStart(5)}/${seconds} s] RSS ${per((d) => mib(d.rssBytes))} MiB, heap ${per((d) => mib(d.heapUsedBytes))} MiB, ` +
    `fds ${per((d) => String(d.fds))}, threads ${per((d) => String(d.threads))}, TCP ${tcpGbps} Gb/s, UDP delivered ${s.udp.received} of ${s.udp.sent} sent`
  );
}
