#!/usr/bin/env node
/**
 * tulle's probes, one command per process, meant to run inside a namespace
 * (`ip netns exec NS node dist/src/probe/main.js COMMAND …`) on machines
 * without ping, iperf3 or ethtool. Every command prints JSON lines on stdout:
 * servers first `{"ready":true,"port":P}` once they listen, then their report.
 *
 *   echo-server --address A [--port P] [--seconds S]
 *   echo        --to A[,B…] [--port P] [--count N] [--interval-ms MS] [--timeout-ms MS] [--size BYTES]
 *   tcp-sink    --address A [--port P] [--streams N] [--max-seconds S]
 *   tcp-send    --to A [--port P] [--streams N] [--seconds S]
 *   udp-sink    --address A [--port P] [--idle-ms MS] [--max-seconds S]
 *   udp-send    --to A [--port P] [--seconds S] [--size BYTES]
 *   features    DEVICE:FEATURE=on|off|? …     (GRO and friends, through SIOCETHTOOL)
 *
 * Bad arguments exit 2 with a message naming the option; failures exit 1.
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { DEFAULT_ECHO_PORT, checkEchoSize, echoClient, echoServer } from './echo.js';
import { applyFeatures, parseFeatureRequest } from './features.js';
import { HEADER_LENGTH, MAX_DATAGRAM } from './message.js';
import { DEFAULT_STREAM_PORT, tcpSend, tcpSink } from './tcp-stream.js';
import { udpSend, udpSink } from './udp-stream.js';

class UsageError extends Error {}

const print = (value: unknown) => process.stdout.write(JSON.stringify(value) + '\n');

function integer(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}

function address(name: string, value: string | undefined): string {
  if (value === undefined) throw new UsageError(`--${name} is required (an IPv4 or IPv6 address)`);
  if (isIP(value) === 0) throw new UsageError(`--${name} must be an IPv4 or IPv6 address, got "${value}"`);
  return value;
}

const OPTIONS = {
  address: { type: 'string' },
  to: { type: 'string' },
  port: { type: 'string' },
  seconds: { type: 'string' },
  count: { type: 'string' },
  'interval-ms': { type: 'string' },
  'timeout-ms': { type: 'string' },
  size: { type: 'string' },
  streams: { type: 'string' },
  'max-seconds': { type: 'string' },
  'idle-ms': { type: 'string' },
} as const;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'features') {
    if (rest.length === 0) throw new UsageError('features needs at least one DEVICE:FEATURE=on|off|? request');
    let requests;
    try {
      requests = rest.map(parseFeatureRequest);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    print(applyFeatures(requests));
    return;
  }
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
  try {
    values = parseArgs({ args: rest, options: OPTIONS }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = values;
  switch (command) {
    case 'echo-server':
      print(
        await echoServer(
          {
            address: address('address', v.address),
            port: integer('port', v.port, DEFAULT_ECHO_PORT, 0, 65535),
            seconds: integer('seconds', v.seconds, 60, 1, 3600),
          },
          (port) => print({ ready: true, port }),
          stopSignal(),
        ),
      );
      return;
    case 'echo': {
      const targets = (v.to ?? '').split(',').filter(Boolean);
      if (targets.length === 0) throw new UsageError('--to is required: one or more addresses, comma-separated');
      targets.forEach((t) => address('to', t));
      const size = integer('size', v.size, 64, HEADER_LENGTH, MAX_DATAGRAM);
      checkEchoSize(size);
      print(
        await echoClient({
          targets,
          port: integer('port', v.port, DEFAULT_ECHO_PORT, 1, 65535),
          count: integer('count', v.count, 5, 1, 100_000),
          intervalMs: integer('interval-ms', v['interval-ms'], 50, 0, 60_000),
          timeoutMs: integer('timeout-ms', v['timeout-ms'], 1000, 1, 60_000),
          size,
        }),
      );
      return;
    }
    case 'tcp-sink':
      print(
        await tcpSink(
          {
            address: address('address', v.address),
            port: integer('port', v.port, DEFAULT_STREAM_PORT, 0, 65535),
            streams: integer('streams', v.streams, 1, 1, 128),
            maxSeconds: integer('max-seconds', v['max-seconds'], 60, 1, 3600),
          },
          (port) => print({ ready: true, port }),
        ),
      );
      return;
    case 'tcp-send':
      print(
        await tcpSend({
          target: address('to', v.to),
          port: integer('port', v.port, DEFAULT_STREAM_PORT, 1, 65535),
          streams: integer('streams', v.streams, 1, 1, 128),
          seconds: integer('seconds', v.seconds, 5, 1, 3600),
        }),
      );
      return;
    case 'udp-sink':
      print(
        await udpSink(
          {
            address: address('address', v.address),
            port: integer('port', v.port, DEFAULT_STREAM_PORT, 0, 65535),
            idleMs: integer('idle-ms', v['idle-ms'], 1000, 10, 60_000),
            maxSeconds: integer('max-seconds', v['max-seconds'], 60, 1, 3600),
          },
          (port) => print({ ready: true, port }),
        ),
      );
      return;
    case 'udp-send':
      print(
        await udpSend({
          target: address('to', v.to),
          port: integer('port', v.port, DEFAULT_STREAM_PORT, 1, 65535),
          seconds: integer('seconds', v.seconds, 5, 1, 3600),
          size: integer('size', v.size, 1400, HEADER_LENGTH, MAX_DATAGRAM),
        }),
      );
      return;
    default:
      throw new UsageError(`unknown command "${command ?? ''}"; commands: echo-server, echo, tcp-sink, tcp-send, udp-sink, udp-send, features`);
  }
}

/** SIGTERM ends a server early (it still reports). */
function stopSignal(): AbortSignal {
  const controller = new AbortController();
  process.once('SIGTERM', () => controller.abort());
  return controller.signal;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`tulle probe: ${(error as Error).message}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
