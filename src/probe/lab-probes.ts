/**
 * Runs the probes (src/probe/main.ts) inside a Lab's namespaces: a server in
 * one, a client in another, each process bounded in time and ended by PID.
 * This is what the demo and the bench use where ping and iperf3 are missing.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lab } from '../lab/netns.js';
import { within } from './clock.js';
import { DEFAULT_ECHO_PORT } from './echo.js';
import { probeCommand } from './entry.js';
import { CPU_BOUND_PCT, lossPct, type EchoReport, type EchoResult, type StreamResult } from './summary.js';
import type { SendReport, SinkReport } from './tcp-stream.js';
import { DEFAULT_STREAM_PORT } from './tcp-stream.js';
import type { UdpSendReport, UdpSinkReport } from './udp-stream.js';

/** A namespace and the address its probes answer on. */
export interface ProbeNode {
  name: string;
  ns: string;
  address: string;
}

export interface EchoOptions {
  count?: number;
  intervalMs?: number;
  timeoutMs?: number;
  size?: number;
  port?: number;
}

export interface EchoMatrix {
  nodes: string[];
  /** cells[i][j]: from node i to node j (null on the diagonal). */
  cells: (EchoResult | null)[][];
}

export interface TcpOptions {
  seconds: number;
  streams?: number;
  port?: number;
}

export interface UdpOptions {
  seconds: number;
  /** UDP payload bytes. */
  size: number;
  port?: number;
}

/** A running probe server. */
interface Server<T> {
  child: ChildProcess;
  port: number;
  /** Its report, once it exits. */
  report: Promise<T>;
}

function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    try {
      process.kill(child.pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Collects a probe's output; resolves with its last JSON line, rejects naming the command when it fails or overruns. */
function collect<T>(child: ChildProcess, what: string, timeoutMs: number, onLine?: (value: unknown) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let pending = '';
    let timedOut = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      pending += chunk.toString();
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (onLine) {
          try {
            onLine(JSON.parse(line));
          } catch {
            // not JSON: reported below if it is the last line
          }
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      kill(child, 'SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => (stderr += error.message));
    child.once('close', (code) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || timedOut) {
        reject(new Error(`${what}: ${timedOut ? `killed after ${timeoutMs} ms` : `exit ${code}`}: ${stderr.trim().slice(0, 400) || '(no output)'}`));
        return;
      }
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${what}: no JSON report: ${last.slice(0, 200)}`));
      }
    });
  });
}

export class LabProbes {
  constructor(private readonly lab: Lab) {}

  /** Starts a server probe in `ns`; resolves once it listens. */
  private async server<T>(ns: string, args: string[], timeoutMs: number): Promise<Server<T>> {
    const child = this.lab.spawn(ns, probeCommand(args));
    let ready: (port: number) => void = () => {};
    const listening = new Promise<number>((resolve) => (ready = resolve));
    const report = collect<T>(child, `${args[0]} in ${ns}`, timeoutMs, (value) => {
      const v = value as { ready?: boolean; port?: number };
      if (v.ready && typeof v.port === 'number') ready(v.port);
    });
    report.catch(() => {}); // awaited by the caller; no unhandled rejection meanwhile
    const exited = report.then(() => {
      throw new Error(`${args[0]} in ${ns} exited before listening`);
    });
    exited.catch(() => {});
    const port = await within<number | undefined>(Promise.race([listening, exited]), 10_000, () => undefined);
    if (port === undefined) {
      kill(child, 'SIGKILL');
      throw new Error(`${args[0]} in ${ns} did not listen within 10 s`);
    }
    return { child, port, report };
  }

  private client<T>(ns: string, args: string[], timeoutMs: number): Promise<T> {
    return collect<T>(this.lab.spawn(ns, probeCommand(args)), `${args[0]} in ${ns}`, timeoutMs);
  }

  /** Echo requests from every node to every other; one server per node, one client per node, all at once. */
  async echoMatrix(nodes: ProbeNode[], options: EchoOptions = {}): Promise<EchoMatrix> {
    const o = echoDefaults(options);
    const bound = Math.ceil((o.count * o.intervalMs + o.timeoutMs) / 1000) + 30;
    const servers = await Promise.all(
      nodes.map((n) =>
        this.server<unknown>(n.ns, ['echo-server', '--address', n.address, '--port', String(o.port), '--seconds', String(bound)], (bound + 10) * 1000),
      ),
    );
    try {
      const reports = await Promise.all(
        nodes.map((from) => {
          const targets = nodes.filter((n) => n !== from).map((n) => n.address);
          if (targets.length === 0) return Promise.resolve<EchoReport>({ targets: [], malformed: 0 });
          return this.client<EchoReport>(from.ns, ['echo', '--to', targets.join(','), ...echoArgs(o)], (bound + 10) * 1000);
        }),
      );
      return {
        nodes: nodes.map((n) => n.name),
        cells: nodes.map((from, i) => nodes.map((to, j) => (i === j ? null : (reports[i].targets.find((r) => r.target === to.address) ?? null)))),
      };
    } finally {
      for (const s of servers) kill(s.child, 'SIGTERM');
      await Promise.allSettled(servers.map((s) => s.report));
    }
  }

  /** Echo from `fromNs` to `address` (in `toNs`). */
  async echo(fromNs: string, toNs: string, address: string, options: EchoOptions = {}): Promise<EchoResult> {
    const o = echoDefaults(options);
    const bound = Math.ceil((o.count * o.intervalMs + o.timeoutMs) / 1000) + 30;
    const server = await this.server<unknown>(
      toNs,
      ['echo-server', '--address', address, '--port', String(o.port), '--seconds', String(bound)],
      (bound + 10) * 1000,
    );
    try {
      const report = await this.client<EchoReport>(fromNs, ['echo', '--to', address, ...echoArgs(o)], (bound + 10) * 1000);
      return report.targets[0];
    } finally {
      kill(server.child, 'SIGTERM');
      await server.report.catch(() => null);
    }
  }

  /**
   * Waits until `address` (in `toNs`) answers echo requests from `fromNs`: one
   * server, up to `attempts` one-request clients. False when it never does.
   */
  async reachable(fromNs: string, toNs: string, address: string, attempts = 20, port = DEFAULT_ECHO_PORT): Promise<boolean> {
    const bound = attempts * 2 + 30;
    const server = await this.server<unknown>(
      toNs,
      ['echo-server', '--address', address, '--port', String(port), '--seconds', String(bound)],
      (bound + 10) * 1000,
    );
    try {
      for (let i = 0; i < attempts; i++) {
        const report = await this.client<EchoReport>(fromNs, ['echo', '--to', address, '--port', String(port), '--count', '1', '--timeout-ms', '1000'], 20_000);
        if (report.targets[0].received > 0) return true;
        await sleep(250);
      }
      return false;
    } finally {
      kill(server.child, 'SIGTERM');
      await server.report.catch(() => null);
    }
  }

  /** TCP bulk from `fromNs` to `address` in `toNs` for `seconds`, on `streams` connections; the receiver's figures. */
  async tcp(fromNs: string, toNs: string, address: string, options: TcpOptions): Promise<StreamResult> {
    const streams = options.streams ?? 1;
    const port = options.port ?? DEFAULT_STREAM_PORT;
    const bound = options.seconds + 30;
    const sink = await this.server<SinkReport>(
      toNs,
      ['tcp-sink', '--address', address, '--port', String(port), '--streams', String(streams), '--max-seconds', String(bound)],
      (bound + 10) * 1000,
    );
    let sent: SendReport;
    try {
      sent = await this.client<SendReport>(
        fromNs,
        ['tcp-send', '--to', address, '--port', String(sink.port), '--streams', String(streams), '--seconds', String(options.seconds)],
        (bound + 10) * 1000,
      );
    } catch (error) {
      kill(sink.child, 'SIGKILL');
      throw error;
    }
    const got = await sink.report;
    if (got.timed_out) throw new Error(`tcp-sink in ${toNs}: not every stream ended within ${bound} s`);
    return {
      protocol: 'tcp',
      streams,
      bytes: got.bytes,
      seconds: got.seconds,
      gbps: got.gbps,
      sender_cpu_pct: sent.cpu_pct,
      receiver_cpu_pct: got.cpu_pct,
      cpu_bound: sent.cpu_pct >= CPU_BOUND_PCT || got.cpu_pct >= CPU_BOUND_PCT,
    };
  }

  /** Unpaced UDP of `size`-byte payloads from `fromNs` to `address` in `toNs`; the receiver's rate and the loss. */
  async udp(fromNs: string, toNs: string, address: string, options: UdpOptions): Promise<StreamResult> {
    const port = options.port ?? DEFAULT_STREAM_PORT;
    const bound = options.seconds + 30;
    const sink = await this.server<UdpSinkReport>(
      toNs,
      ['udp-sink', '--address', address, '--port', String(port), '--idle-ms', '1000', '--max-seconds', String(bound)],
      (bound + 10) * 1000,
    );
    let sent: UdpSendReport;
    try {
      sent = await this.client<UdpSendReport>(
        fromNs,
        ['udp-send', '--to', address, '--port', String(sink.port), '--seconds', String(options.seconds), '--size', String(options.size)],
        (bound + 10) * 1000,
      );
    } catch (error) {
      kill(sink.child, 'SIGKILL');
      throw error;
    }
    const got = await sink.report;
    return {
      protocol: 'udp',
      streams: 1,
      bytes: got.bytes,
      seconds: got.seconds,
      gbps: got.gbps,
      datagrams: got.datagrams,
      sent_datagrams: sent.datagrams,
      kpps: got.kpps,
      sent_kpps: sent.kpps,
      loss_pct: lossPct(sent.datagrams, got.datagrams),
      malformed: got.malformed,
      sender_cpu_pct: sent.cpu_pct,
      receiver_cpu_pct: got.cpu_pct,
      cpu_bound: sent.cpu_pct >= CPU_BOUND_PCT || got.cpu_pct >= CPU_BOUND_PCT,
    };
  }
}

function echoDefaults(options: EchoOptions): Required<EchoOptions> {
  return {
    count: options.count ?? 5,
    intervalMs: options.intervalMs ?? 50,
    timeoutMs: options.timeoutMs ?? 1000,
    size: options.size ?? 64,
    port: options.port ?? DEFAULT_ECHO_PORT,
  };
}

function echoArgs(o: Required<EchoOptions>): string[] {
  return [
    '--port',
    String(o.port),
    '--count',
    String(o.count),
    '--interval-ms',
    String(o.intervalMs),
    '--timeout-ms',
    String(o.timeoutMs),
    '--size',
    String(o.size),
  ];
}
