#!/usr/bin/env node
/**
 * The soak's paced UDP stream, run inside a lab namespace: a sender of
 * numbered datagrams at a fixed rate, and a receiver that counts distinct
 * sequence numbers and duplicates. Both print a JSON line every second (the
 * counts so far) and one when they end; both are bounded in time.
 *
 *   node dist/bench/soak-udp.js send --to ADDR --port P --pps N --size B --seconds S
 *   node dist/bench/soak-udp.js recv --address ADDR --port P --max-seconds S
 */
import { createSocket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { parseArgs } from 'node:util';

/** Marks the soak's datagrams, so a stray one is not counted. */
const MAGIC = 0x736f616b;

function num(values: Record<string, string | undefined>, name: string): number {
  const n = Number(values[name]);
  if (values[name] === undefined || !Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(values[name])}`);
  return n;
}

/** An IPv4 address, never a name: a lookup in a lab namespace without DNS would hang. */
function ipv4(values: Record<string, string | undefined>, name: string): string {
  const v = values[name];
  if (v === undefined || !isIPv4(v)) throw new Error(`--${name} must be an IPv4 address, got ${JSON.stringify(v)}`);
  return v;
}

const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

function send(values: Record<string, string | undefined>): void {
  const pps = num(values, 'pps');
  const size = num(values, 'size');
  const seconds = num(values, 'seconds');
  const port = num(values, 'port');
  const to = ipv4(values, 'to');
  const socket = createSocket('udp4');
  let issued = 0;
  let sent = 0;
  let errors = 0;
  const t0 = performance.now();
  const done = () => {
    clearInterval(tick);
    clearInterval(report);
    const finish = () => {
      if (sent + errors < issued) return void setTimeout(finish, 10);
      say({ done: true, sent, errors, seconds: (performance.now() - t0) / 1000 });
      socket.close();
    };
    finish();
  };
  // Paced by the clock, not by the timer: a late tick sends what was due, so the rate holds on a busy machine.
  const tick = setInterval(() => {
    const elapsed = (performance.now() - t0) / 1000;
    if (elapsed >= seconds) return done();
    const due = Math.floor(elapsed * pps);
    while (issued < due) {
      const buf = Buffer.alloc(size);
      buf.writeUInt32BE(MAGIC, 0);
      buf.writeUInt32BE(issued, 4);
      issued++;
      socket.send(buf, port, to, (error) => (error ? errors++ : sent++));
    }
  }, 5);
  const report = setInterval(() => say({ sent, errors }), 1000);
}

function recv(values: Record<string, string | undefined>): void {
  const port = num(values, 'port');
  const maxSeconds = num(values, 'max-seconds');
  const socket = createSocket('udp4');
  let seen = new Uint8Array(1 << 16);
  let received = 0;
  let duplicates = 0;
  let strays = 0;
  socket.on('message', (msg) => {
    if (msg.length < 8 || msg.readUInt32BE(0) !== MAGIC) return void strays++;
    const seq = msg.readUInt32BE(4);
    if (seq >= seen.length) {
      const bigger = new Uint8Array(Math.max(seen.length * 2, seq + 1));
      bigger.set(seen);
      seen = bigger;
    }
    if (seen[seq]) duplicates++;
    else {
      seen[seq] = 1;
      received++;
    }
  });
  const end = () => {
    clearInterval(report);
    clearTimeout(limit);
    say({ done: true, received, duplicates, strays });
    socket.close();
  };
  const report = setInterval(() => say({ received, duplicates }), 1000);
  const limit = setTimeout(end, maxSeconds * 1000);
  process.once('SIGTERM', end);
  socket.bind(port, ipv4(values, 'address'), () => say({ listening: socket.address().port }));
}

try {
  const [mode, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: {
      to: { type: 'string' },
      address: { type: 'string' },
      port: { type: 'string' },
      pps: { type: 'string' },
      size: { type: 'string' },
      seconds: { type: 'string' },
      'max-seconds': { type: 'string' },
    },
  });
  if (mode === 'send') send(values);
  else if (mode === 'recv') recv(values);
  else throw new Error(`mode must be send or recv, got ${JSON.stringify(mode)}`);
} catch (error) {
  console.error(`soak-udp: ${(error as Error).message}`);
  process.exit(2);
}
