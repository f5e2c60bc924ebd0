/**
 * The traffic a row is measured with: iperf3 and ping where installed, or
 * tulle's own probes (src/probe). Both sides report what the receiver saw.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lab } from '../lab/netns.js';
import { LabProbes } from '../probe/lab-probes.js';
import { DEFAULT_STREAM_PORT } from '../probe/tcp-stream.js';
import { round } from './stats.js';

export interface TcpFigure {
  gbps: number;
  /** The generator was CPU-bound (built-in probes only). */
  limited: boolean;
  detail: string;
}

export interface UdpFigure {
  kpps: number;
  loss_pct: number | null;
  sender_kpps: number | null;
  limited: boolean;
  detail: string;
}

/** One way of making and measuring traffic between two namespaces. */
export interface Traffic {
  /** For the report, e.g. "iperf3 3.12". */
  readonly name: string;
  /** The UDP port the receiving application listens on (its socket's drops are told apart from the overlay's). */
  readonly udpPort: number;
  tcp(from: string, to: string, target: string, streams: number, seconds: number): Promise<TcpFigure>;
  udp(from: string, to: string, target: string, size: number, seconds: number): Promise<UdpFigure>;
}

/** One way of measuring RTT (and of waiting until a path works). */
export interface Latency {
  readonly name: string;
  /** Resolves once `target` answers from `from`; throws after about 10 s. */
  waitForPath(from: string, to: string, target: string): Promise<void>;
  rttMs(from: string, to: string, target: string): Promise<number>;
}

export const PINGS = 20;
/** Seconds between the RTT test's pings (the low-latency row's window must outlast it: systems.ts). */
export const PING_INTERVAL_S = 0.05;
const IPERF_PORT = 5201;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs `command` in `ns` without blocking the event loop; SIGKILLs it (by PID) after `timeoutMs`. */
export function execIn(lab: Lab, ns: string, command: string[], timeoutMs: number): Promise<Result> {
  return new Promise((resolveResult) => {
    const child = lab.spawn(ns, command);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }, timeoutMs);
    child.once('error', (error) => {
      stderr += error.message;
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveResult({ code, stdout, stderr, timedOut });
    });
  });
}

interface IperfJson {
  error?: string;
  end?: {
    sum_received?: { seconds: number; bytes: number; bits_per_second: number; lost_percent?: number };
    sum_sent?: { seconds: number; bytes: number; bits_per_second: number; packets?: number };
  };
}

export function iperfTraffic(lab: Lab, version: string): Traffic {
  /** One iperf3 test: a one-off server in `to`, the client in `from`, both bounded in time. */
  async function iperf(from: string, to: string, target: string, seconds: number, extra: string[]): Promise<IperfJson> {
    const srv = lab.spawn(to, ['iperf3', '-s', '-1', '-p', String(IPERF_PORT), '--rcv-timeout', '10000']);
    const srvExit = new Promise<void>((r) => (srv.exitCode !== null ? r() : srv.once('exit', () => r())));
    try {
      for (let i = 0; ; i++) {
        const ss = await execIn(lab, to, ['ss', '-Hltn', `sport = :${IPERF_PORT}`], 3_000);
        if (ss.stdout.trim() !== '') break;
        if (srv.exitCode !== null) throw new Error(`iperf3 server exited with ${srv.exitCode} before listening`);
        if (i >= 50) throw new Error('iperf3 server did not listen within 5 s');
        await sleep(100);
      }
      const r = await execIn(
        lab,
        from,
        ['iperf3', '-c', target, '-p', String(IPERF_PORT), '-t', String(seconds), '-J', '--connect-timeout', '5000', ...extra],
        seconds * 1000 + 20_000,
      );
      let json: IperfJson;
      try {
        json = JSON.parse(r.stdout) as IperfJson;
      } catch {
        throw new Error(
          `iperf3 ${extra.join(' ')} → ${target}: no JSON (exit ${r.code}${r.timedOut ? ', killed after the timeout' : ''}): ${r.stderr.trim().slice(0, 300)}`,
        );
      }
      if (json.error) throw new Error(`iperf3 ${extra.join(' ')} → ${target}: ${json.error}`);
      if (!json.end?.sum_received) throw new Error(`iperf3 ${extra.join(' ')} → ${target}: no receiver summary in the JSON`);
      return json;
    } finally {
      await Promise.race([srvExit, sleep(2_000)]);
      if (srv.exitCode === null && srv.pid !== undefined) {
        try {
          process.kill(srv.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        await Promise.race([srvExit, sleep(2_000)]);
      }
    }
  }
  return {
    name: version,
    udpPort: IPERF_PORT,
    async tcp(from, to, target, streams, seconds) {
      const json = await iperf(from, to, target, seconds, streams > 1 ? ['-P', String(streams)] : []);
      const gbps = round(json.end!.sum_received!.bits_per_second / 1e9, 4);
      return { gbps, limited: false, detail: `${gbps} Gb/s` };
    },
    async udp(from, to, target, size, seconds) {
      const json = await iperf(from, to, target, seconds, ['-u', '-b', '0', '-l', String(size)]);
      const rx = json.end!.sum_received!;
      const tx = json.end!.sum_sent;
      const received = rx.bytes / size;
      const kpps = round(received / rx.seconds / 1000, 2);
      const loss = rx.lost_percent !== undefined ? round(rx.lost_percent, 2) : tx?.packets ? round(100 * (1 - received / tx.packets), 2) : null;
      const sender = tx?.packets !== undefined ? round(tx.packets / tx.seconds / 1000, 2) : null;
      return { kpps, loss_pct: loss, sender_kpps: sender, limited: false, detail: `${kpps} kpps received (sent ${sender} kpps, ${loss}% lost)` };
    },
  };
}

export function builtinTraffic(lab: Lab): Traffic {
  const probes = new LabProbes(lab);
  const cpu = (r: { sender_cpu_pct: number; receiver_cpu_pct: number }) =>
    `generator CPU: sender ${r.sender_cpu_pct}%, receiver ${r.receiver_cpu_pct}% of a core`;
  return {
    name: "tulle's built-in generator",
    udpPort: DEFAULT_STREAM_PORT,
    async tcp(from, to, target, streams, seconds) {
      const r = await probes.tcp(from, to, target, { seconds, streams });
      return { gbps: r.gbps, limited: r.cpu_bound, detail: `${r.gbps} Gb/s (${cpu(r)}${r.cpu_bound ? ', CPU-bound' : ''})` };
    },
    async udp(from, to, target, size, seconds) {
      const r = await probes.udp(from, to, target, { seconds, size });
      return {
        kpps: r.kpps!,
        loss_pct: r.loss_pct!,
        sender_kpps: r.sent_kpps!,
        limited: r.cpu_bound,
        detail: `${r.kpps} kpps received (sent ${r.sent_kpps} kpps, ${r.loss_pct}% lost; ${cpu(r)}${r.cpu_bound ? ', CPU-bound' : ''})`,
      };
    },
  };
}

export function pingLatency(lab: Lab): Latency {
  return {
    name: `ping (${PINGS} × ${PING_INTERVAL_S} s)`,
    async waitForPath(from, _to, target) {
      for (let i = 0; i < 20; i++) {
        const r = await execIn(lab, from, ['ping', '-c', '1', '-W', '1', target], 3_000);
        if (r.code === 0) return;
        await sleep(250);
      }
      throw new Error(`${target} does not answer pings from ${from}`);
    },
    async rttMs(from, _to, target) {
      const r = await execIn(lab, from, ['ping', '-q', '-c', String(PINGS), '-i', String(PING_INTERVAL_S), '-W', '2', '-w', '10', target], 15_000);
      const m = /= [\d.]+\/([\d.]+)\/[\d.]+\/[\d.]+ ms/.exec(r.stdout);
      if (!m) throw new Error(`ping ${target}: no RTT in its output (exit ${r.code}${r.timedOut ? ', timed out' : ''}): ${r.stdout.trim()} ${r.stderr.trim()}`);
      return Number(m[1]);
    },
  };
}

export function echoLatency(lab: Lab): Latency {
  const probes = new LabProbes(lab);
  return {
    name: `tulle's echo probe (${PINGS} × ${PING_INTERVAL_S} s, median)`,
    async waitForPath(from, to, target) {
      if (!(await probes.reachable(from, to, target))) throw new Error(`${target} does not answer echo requests from ${from}`);
    },
    async rttMs(from, to, target) {
      const r = await probes.echo(from, to, target, { count: PINGS, intervalMs: PING_INTERVAL_S * 1000, timeoutMs: 2000 });
      if (r.rtt_ms === null) throw new Error(`echo ${target}: no reply to ${r.sent} requests`);
      // The median: a Node process on a busy machine now and then answers late, and one late reply moves an average a lot.
      return r.rtt_ms.median;
    },
  };
}
