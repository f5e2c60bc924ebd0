/**
 * The echo probe: UDP requests with sequence numbers and timestamps, answered
 * by an echo server; gives reachability (replies/requests) and RTT where ping
 * is not installed. Both ends are bounded in time.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { nowUs, within } from './clock.js';
import { HEADER_LENGTH, KIND_ECHO_REPLY, KIND_ECHO_REQUEST, MAX_DATAGRAM, elapsedUs, markReply, readHeader, writeHeader, type ProbeHeader } from './message.js';
import { lossPct, summarizeRtt, type EchoReport } from './summary.js';
import { bindSocket } from './bind.js';

export const DEFAULT_ECHO_PORT = 7_007;

export interface EchoServerOptions {
  address: string;
  port: number;
  /** The server closes after this long (a bound, not the expected use). */
  seconds: number;
}

export interface EchoServerReport {
  replied: number;
  malformed: number;
}

/** Answers echo requests until `seconds` pass or `signal` aborts; calls `onReady` once it listens. */
export async function echoServer(options: EchoServerOptions, onReady: (port: number) => void, signal?: AbortSignal): Promise<EchoServerReport> {
  const socket = dgram.createSocket(isIPv6(options.address) ? 'udp6' : 'udp4');
  const report: EchoServerReport = { replied: 0, malformed: 0 };
  const header: ProbeHeader = { kind: 0, seq: 0, stampUs: 0 };
  socket.on('message', (message, from) => {
    if (!readHeader(message, header) || header.kind !== KIND_ECHO_REQUEST) {
      report.malformed++;
      return;
    }
    markReply(message);
    socket.send(message, from.port, from.address, (error) => {
      if (!error) report.replied++;
    });
  });
  await bindSocket(socket, options.port, options.address);
  onReady(socket.address().port);
  try {
    await sleep(options.seconds * 1000, undefined, { signal });
  } catch {
    // aborted: stop now
  }
  socket.close();
  return report;
}

export interface EchoClientOptions {
  targets: string[];
  port: number;
  /** Requests per target. */
  count: number;
  intervalMs: number;
  /** How long to wait for replies after the last request. */
  timeoutMs: number;
  /** Datagram size in bytes (HEADER_LENGTH to MAX_DATAGRAM). */
  size: number;
}

/** Sends `count` requests to every target, `intervalMs` apart, and reports per target. */
export async function echoClient(options: EchoClientOptions): Promise<EchoReport> {
  if (options.targets.length === 0) throw new Error('echo: no target');
  const v6 = isIPv6(options.targets[0]);
  for (const target of options.targets) {
    if (isIPv6(target) !== v6) throw new Error(`echo: targets mix IPv4 and IPv6 (${options.targets.join(', ')})`);
  }
  const socket = dgram.createSocket(v6 ? 'udp6' : 'udp4');
  const state = options.targets.map((target) => ({
    target,
    sent: 0,
    answered: new Uint8Array(options.count),
    rtts: [] as number[],
    unexpected: 0,
  }));
  const index = new Map(options.targets.map((t, i) => [t, i]));
  let malformed = 0;
  let outstanding = 0;
  let allAnswered: (() => void) | undefined;
  const header: ProbeHeader = { kind: 0, seq: 0, stampUs: 0 };
  socket.on('message', (message, from) => {
    const now = nowUs();
    const i = index.get(from.address);
    if (!readHeader(message, header) || header.kind !== KIND_ECHO_REPLY || i === undefined) {
      malformed++;
      return;
    }
    const s = state[i];
    if (header.seq >= s.sent || s.answered[header.seq]) {
      s.unexpected++;
      return;
    }
    s.answered[header.seq] = 1;
    s.rtts.push(elapsedUs(header.stampUs, now) / 1000);
    if (--outstanding === 0 && allAnswered) allAnswered();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  try {
    const payload = Buffer.alloc(options.size);
    for (let seq = 0; seq < options.count; seq++) {
      if (seq > 0) await sleep(options.intervalMs);
      for (const s of state) {
        writeHeader(payload, KIND_ECHO_REQUEST, seq, nowUs());
        s.sent = seq + 1;
        outstanding++;
        // A send error (no route) counts as a lost request, not a crash.
        await new Promise<void>((resolve) => socket.send(payload, options.port, s.target, () => resolve()));
      }
    }
    if (outstanding > 0) {
      await within(new Promise<void>((resolve) => (allAnswered = resolve)), options.timeoutMs, () => undefined);
    }
  } finally {
    socket.close();
  }
  return {
    targets: state.map((s) => ({
      target: s.target,
      sent: s.sent,
      received: s.rtts.length,
      loss_pct: lossPct(s.sent, s.rtts.length),
      rtt_ms: summarizeRtt(s.rtts),
      unexpected: s.unexpected,
    })),
    malformed,
  };
}

export function checkEchoSize(size: number): void {
  if (!Number.isInteger(size) || size < HEADER_LENGTH || size > MAX_DATAGRAM) {
    throw new RangeError(`echo: size must be a whole number of bytes from ${HEADER_LENGTH} to ${MAX_DATAGRAM}, got ${size}`);
  }
}
