/**
 * The UDP packets/s probe: an unpaced sender of fixed-size datagrams carrying
 * sequence numbers, and a receiver that counts what arrives (first to last),
 * plus each process's CPU.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuUs, nowSeconds, nowUs } from './clock.js';
import { KIND_STREAM, readHeader, writeHeader, type ProbeHeader } from './message.js';
import { cpuPct, gbps, kpps } from './summary.js';
import { bindSocket } from './bind.js';

/** Datagrams in flight per burst; each has its own buffer, reused once the burst is sent. */
const BURST = 64;
/** Receive buffer for the sink: bursts arrive faster than one event-loop turn drains them. */
const SINK_BUFFER = 8 * 1024 * 1024;

export interface UdpSinkReport {
  datagrams: number;
  bytes: number;
  seconds: number;
  kpps: number;
  gbps: number;
  /** Highest sequence number seen + 1: what the sender had sent by its last datagram that arrived. */
  highest: number;
  malformed: number;
  cpu_pct: number;
  timed_out: boolean;
}

export interface UdpSinkOptions {
  address: string;
  port: number;
  /** After the first datagram, the sink reports once none has come for this long. */
  idleMs: number;
  maxSeconds: number;
}

export async function udpSink(options: UdpSinkOptions, onReady: (port: number) => void): Promise<UdpSinkReport> {
  const socket = dgram.createSocket({ type: isIPv6(options.address) ? 'udp6' : 'udp4', recvBufferSize: SINK_BUFFER });
  const header: ProbeHeader = { kind: 0, seq: 0, stampUs: 0 };
  let datagrams = 0;
  let bytes = 0;
  let highest = 0;
  let malformed = 0;
  let first = 0;
  let last = 0;
  let cpuAtFirst = 0;
  socket.on('message', (message) => {
    if (!readHeader(message, header) || header.kind !== KIND_STREAM) {
      malformed++;
      return;
    }
    const now = nowSeconds();
    if (first === 0) {
      first = now;
      cpuAtFirst = cpuUs();
    }
    last = now;
    datagrams++;
    bytes += message.length;
    if (header.seq + 1 > highest) highest = header.seq + 1;
  });
  await bindSocket(socket, options.port, options.address);
  onReady(socket.address().port);
  const start = nowSeconds();
  let timedOut = false;
  for (;;) {
    await sleep(Math.min(100, options.idleMs));
    const now = nowSeconds();
    if (first !== 0 && (now - last) * 1000 >= options.idleMs) break;
    if (now - start >= options.maxSeconds) {
      timedOut = true;
      break;
    }
  }
  const cpuEnd = cpuUs();
  socket.close();
  const seconds = last - first;
  return {
    datagrams,
    bytes,
    seconds,
    kpps: kpps(datagrams, seconds),
    gbps: gbps(bytes, seconds),
    highest,
    malformed,
    cpu_pct: cpuPct(first === 0 ? 0 : cpuEnd - cpuAtFirst, Math.max(seconds + options.idleMs / 1000, 1e-6)),
    timed_out: timedOut,
  };
}

export interface UdpSendOptions {
  target: string;
  port: number;
  seconds: number;
  /** UDP payload bytes per datagram. */
  size: number;
}

export interface UdpSendReport {
  datagrams: number;
  seconds: number;
  kpps: number;
  /** Sends the kernel refused (e.g. ENOBUFS): not on the wire, not counted in `datagrams`. */
  errors: number;
  cpu_pct: number;
}

/** Sends `size`-byte datagrams as fast as the socket takes them, for `seconds`. */
export async function udpSend(options: UdpSendOptions): Promise<UdpSendReport> {
  const socket = dgram.createSocket({ type: isIPv6(options.target) ? 'udp6' : 'udp4', sendBufferSize: SINK_BUFFER });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(options.port, options.target, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const buffers = Array.from({ length: BURST }, () => Buffer.alloc(options.size, 0x5a));
  let seq = 0;
  let errors = 0;
  const start = nowSeconds();
  const cpuStart = cpuUs();
  const deadline = start + options.seconds;
  while (nowSeconds() < deadline) {
    let pending = BURST;
    await new Promise<void>((resolve) => {
      for (const buffer of buffers) {
        writeHeader(buffer, KIND_STREAM, seq++, nowUs());
        socket.send(buffer, (error) => {
          if (error) errors++;
          if (--pending === 0) resolve();
        });
      }
    });
  }
  const seconds = nowSeconds() - start;
  const cpu = cpuUs() - cpuStart;
  socket.close();
  const datagrams = seq - errors;
  return { datagrams, seconds, kpps: kpps(datagrams, seconds), errors, cpu_pct: cpuPct(cpu, seconds) };
}
