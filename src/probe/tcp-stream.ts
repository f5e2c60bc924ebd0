/**
 * The TCP stream probe: a bulk sender and a receiver that reports Gbit/s from
 * its side (first byte to last), as iperf3 does, plus each process's CPU so a
 * generator that runs out of CPU before the path does can say so.
 */
import net from 'node:net';
import { cpuUs, nowSeconds, within } from './clock.js';
import { cpuPct, gbps } from './summary.js';

export const DEFAULT_STREAM_PORT = 7_008;
/** Bytes per write: large writes keep the per-call cost of the generator low. */
const CHUNK = 256 * 1024;

export interface SinkReport {
  bytes: number;
  seconds: number;
  gbps: number;
  streams: number;
  cpu_pct: number;
  /** The sink gave up waiting (its bound) before every stream ended. */
  timed_out: boolean;
}

export interface TcpSinkOptions {
  address: string;
  port: number;
  /** Connections to wait for; the report comes once all of them have ended. */
  streams: number;
  /** Upper bound on the whole run. */
  maxSeconds: number;
}

/** Receives `streams` connections and reports what arrived; calls `onReady` once it listens. */
export async function tcpSink(options: TcpSinkOptions, onReady: (port: number) => void): Promise<SinkReport> {
  let bytes = 0;
  let first = 0;
  let last = 0;
  let cpuAtFirst = 0;
  let ended = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => {
      if (first === 0) {
        first = nowSeconds();
        cpuAtFirst = cpuUs();
      }
      bytes += chunk.length;
      last = nowSeconds();
    });
    socket.on('error', () => {
      /* a reset ends the stream like a close */
    });
    socket.once('close', () => {
      sockets.delete(socket);
      if (++ended >= options.streams) done();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  onReady((server.address() as net.AddressInfo).port);
  const timedOut = await within(
    finished.then(() => false),
    options.maxSeconds * 1000,
    () => true,
  );
  const cpuEnd = cpuUs();
  for (const socket of sockets) socket.destroy();
  server.close();
  const seconds = last - first;
  return {
    bytes,
    seconds,
    gbps: gbps(bytes, seconds),
    streams: options.streams,
    cpu_pct: cpuPct(cpuEnd - cpuAtFirst, Math.max(seconds, 1e-6)),
    timed_out: timedOut,
  };
}

export interface SendReport {
  bytes: number;
  seconds: number;
  streams: number;
  cpu_pct: number;
}

export interface TcpSendOptions {
  target: string;
  port: number;
  streams: number;
  seconds: number;
}

/** Writes as fast as the sockets take it, on `streams` connections, for `seconds`. */
export async function tcpSend(options: TcpSendOptions): Promise<SendReport> {
  const chunk = Buffer.alloc(CHUNK, 0x5a);
  const sockets = await Promise.all(
    Array.from(
      { length: options.streams },
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect({ host: options.target, port: options.port, noDelay: false });
          socket.once('connect', () => {
            socket.off('error', reject);
            resolve(socket);
          });
          socket.once('error', reject);
        }),
    ),
  );
  const start = nowSeconds();
  const cpuStart = cpuUs();
  const deadline = start + options.seconds;
  let bytes = 0;
  await Promise.all(
    sockets.map(async (socket) => {
      let failed: Error | undefined;
      socket.on('error', (error) => (failed = error));
      while (nowSeconds() < deadline && !failed) {
        bytes += CHUNK;
        if (!socket.write(chunk)) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.max(1, (deadline - nowSeconds()) * 1000));
            socket.once('drain', () => {
              clearTimeout(timer);
              resolve();
            });
          });
        }
      }
      await new Promise<void>((resolve) => socket.end(resolve));
      if (failed) throw new Error(`tcp-send to ${options.target}:${options.port}: ${failed.message}`);
    }),
  );
  const seconds = nowSeconds() - start;
  const cpu = cpuUs() - cpuStart;
  for (const socket of sockets) socket.destroy();
  return { bytes, seconds, streams: options.streams, cpu_pct: cpuPct(cpu, seconds) };
}
