#!/usr/bin/env node
/**
 * Reads a daemon's /metrics from inside its namespace, where the daemon
 * serves it on loopback: one line on stdin asks, one JSON line on stdout
 * answers ({"text": …} or {"error": …}). It ends when stdin closes.
 *
 *   node dist/bench/soak-scrape.js 127.0.0.1:9464
 */
import { get } from 'node:http';
import { createInterface } from 'node:readline';

const address = process.argv[2] ?? '';
const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
if (!host || !Number.isInteger(port) || port <= 0) {
  console.error(`soak-scrape: the address must be host:port, got ${JSON.stringify(address)}`);
  process.exit(2);
}

function scrape(): Promise<string> {
  return new Promise((resolve, reject) => {
    // Connection: close, so no kept-alive connection adds an fd to the daemon between samples.
    const req = get({ host, port, path: '/metrics', headers: { connection: 'close' }, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`))));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
  });
}

for await (const _line of createInterface({ input: process.stdin })) {
  try {
    process.stdout.write(`${JSON.stringify({ text: await scrape() })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: (error as Error).message })}\n`);
  }
}
