// Bursts of numbered UDP datagrams whose every byte the receiver can check, run inside lab namespaces:
//   send SIZES COUNT CHUNK BURST DEST...   COUNT datagrams to each DEST (ADDR:PORT, one socket and one flow
//                                          each), flows taking turns in CHUNKs; datagram n of a flow has
//                                          SIZES[n % SIZES.length] bytes (SIZES comma-separated). BURST datagrams
//                                          leave back to back, then a short pause lets the receivers drain.
//                                          Prints {sent} per flow.
//   recv ADDR PORT SIZES SECONDS            once stdin ends (or SECONDS pass) prints, per flow seen: datagrams
//                                          received, duplicates, out of order, damaged (wrong size or bytes).
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';

const MAGIC = 0x6275_7273;
/** Magic, flow, sequence number. */
const HEADER = 12;
const PAUSE_MS = 2;

const print = (value: unknown) => process.stdout.write(JSON.stringify(value) + '\n');
const parseSizes = (text: string) => text.split(',').map(Number);

/** The byte at `index` of datagram `seq` of `flow`: every datagram's bytes differ from its neighbours'. */
const byteAt = (flow: number, seq: number, index: number) => (seq * 31 + index * 7 + flow * 101) & 0xff;

function fill(buffer: Buffer, flow: number, seq: number): void {
  buffer.writeUInt32BE(MAGIC, 0);
  buffer.writeUInt32BE(flow, 4);
  buffer.writeUInt32BE(seq, 8);
  for (let i = HEADER; i < buffer.length; i++) buffer[i] = byteAt(flow, seq, i);
}

function intact(buffer: Buffer, flow: number, seq: number, size: number): boolean {
  if (buffer.length !== size) return false;
  for (let i = HEADER; i < buffer.length; i++) if (buffer[i] !== byteAt(flow, seq, i)) return false;
  return true;
}

async function send(sizesText: string, countText: string, chunkText: string, burstText: string, ...dests: string[]): Promise<void> {
  const sizes = parseSizes(sizesText);
  const [count, chunk, burst] = [countText, chunkText, burstText].map(Number);
  if (sizes.some((s) => !Number.isInteger(s) || s < HEADER)) throw new Error(`sizes ${sizesText}: each at least ${HEADER}`);
  const flows = await Promise.all(
    dests.map(async (dest) => {
      const [address, port] = [dest.slice(0, dest.lastIndexOf(':')), Number(dest.slice(dest.lastIndexOf(':') + 1))];
      const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
      await new Promise<void>((resolve) => socket.bind(0, resolve));
      return { socket, address, port, sent: 0 };
    }),
  );
  let pending: Promise<void>[] = [];
  for (let start = 0; start < count; start += chunk) {
    for (const [flow, f] of flows.entries()) {
      for (let seq = start; seq < Math.min(start + chunk, count); seq++) {
        const payload = Buffer.alloc(sizes[seq % sizes.length]);
        fill(payload, flow, seq);
        pending.push(new Promise<void>((resolve, reject) => f.socket.send(payload, f.port, f.address, (err) => (err ? reject(err) : resolve()))));
        f.sent++;
        if (pending.length >= burst) {
          await Promise.all(pending);
          pending = [];
          await sleep(PAUSE_MS);
        }
      }
    }
  }
  await Promise.all(pending);
  for (const f of flows) f.socket.close();
  print({ sent: flows.map((f) => f.sent) });
}

interface FlowReport {
  received: number;
  duplicates: number;
  outOfOrder: number;
  damaged: number;
}

async function recv(address: string, portText: string, sizesText: string, secondsText: string): Promise<void> {
  const sizes = parseSizes(sizesText);
  const socket = dgram.createSocket({ type: address.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 8 << 20 });
  const flows: Record<number, FlowReport & { seen: Set<number>; last: number }> = {};
  let foreign = 0;
  socket.on('message', (msg) => {
    if (msg.length < HEADER || msg.readUInt32BE(0) !== MAGIC) {
      foreign++;
      return;
    }
    const [flow, seq] = [msg.readUInt32BE(4), msg.readUInt32BE(8)];
    const f = (flows[flow] ??= { received: 0, duplicates: 0, outOfOrder: 0, damaged: 0, seen: new Set(), last: -1 });
    if (!intact(msg, flow, seq, sizes[seq % sizes.length])) f.damaged++;
    if (f.seen.has(seq)) f.duplicates++;
    else f.received++;
    f.seen.add(seq);
    if (seq < f.last) f.outOfOrder++;
    f.last = Math.max(f.last, seq);
  });
  await new Promise<void>((resolve) => socket.bind(Number(portText), address, resolve));
  print({ listening: true });
  const timer = new AbortController();
  await Promise.race([
    sleep(Number(secondsText) * 1000, undefined, { signal: timer.signal }).catch(() => {}),
    new Promise((resolve) => process.stdin.once('end', resolve).resume()),
  ]);
  timer.abort();
  socket.close();
  process.stdin.destroy(); // nothing else keeps it alive: it ends once its output is written
  const report = Object.fromEntries(
    Object.entries(flows).map(([flow, { received, duplicates, outOfOrder, damaged }]) => [flow, { received, duplicates, outOfOrder, damaged }]),
  );
  print({ flows: report, foreign });
}

const [command, ...args] = process.argv.slice(2);
if (command === 'send') await send(args[0], args[1], args[2], args[3], ...args.slice(4));
else if (command === 'recv') await recv(args[0], args[1], args[2], args[3]);
else throw new Error(`udp-burst: command ${command} is not one of send, recv`);
