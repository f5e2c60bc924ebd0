// Traffic tools run inside lab namespaces by the tests (they need no iperf3 or ping):
//   tcp-server ADDR PORT            accept one connection, print {bytes, sha256} of what arrived
//   tcp-client ADDR PORT BYTES [BYTES_PER_S]   send BYTES of a deterministic stream (paced when a rate is given:
//                                   then {connected} first), print {bytes, sha256} of what was sent
//   udp-stream-send ADDR PORT PER_S SECONDS   PER_S datagrams a second, each with its sequence number and send time,
//                                   until stdin ends or SECONDS pass; print {sending} first, then {sent, sentAt[]}
//                                   (ms, wall clock)
//   udp-stream-recv ADDR PORT SECONDS         once stdin ends (or SECONDS pass) print {received: [[seq, sentAt,
//                                   arrivedAt]...], foreign}
//   udp-echo ADDR PORT SECONDS      echo datagrams back for SECONDS
//   udp-probe ADDR PORT SIZE...     send one payload per size, print which came back intact
//   garbage ADDR PORT SUBNET_DST    fire malformed, truncated and well-formed-but-unsolicited datagrams
//   vxlan-strangers ADDR PORT DST VNI MAC   well-formed VXLAN frames: 10 with VNI+1, 10 with a MAC that is not MAC
//   udp-flows ADDR PORT COUNT       one datagram from each of COUNT sockets: COUNT flows, each a byte longer
//   vxlan-bad-tcp ADDR PORT DST VNI MAC COUNT   COUNT consecutive TCP segments of one flow, all with a wrong checksum
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import * as wire from '@tulle/wire';
import { udpPacket } from './packets.js';

const [command, address, portText, ...rest] = process.argv.slice(2);
const port = Number(portText);
const family = address.includes(':') ? 'udp6' : 'udp4';
const print = (value: unknown) => process.stdout.write(JSON.stringify(value) + '\n');

async function tcpServer(): Promise<void> {
  const hash = createHash('sha256');
  let bytes = 0;
  const server = net.createServer((socket) => {
    socket.on('data', (chunk) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    socket.on('end', () => {
      print({ bytes, sha256: hash.digest('hex') });
      socket.end();
      server.close();
    });
  });
  server.listen(port, address, () => print({ listening: true }));
  setTimeout(() => process.exit(3), 120_000).unref();
}

async function tcpClient(): Promise<void> {
  const total = Number(rest[0]);
  const rate = rest[1] === undefined ? 0 : Number(rest[1]);
  const startedAt = performance.now();
  // AES-CTR over zeros: a fast, deterministic pseudo-random stream.
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(256 * 1024);
  const hash = createHash('sha256');
  const socket = net.connect(port, address);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  // A paced transfer says when it is under way, so a fault can be timed to land in it.
  if (rate > 0) print({ connected: true });
  let sent = 0;
  while (sent < total) {
    const chunk = cipher.update(zeros.subarray(0, Math.min(zeros.length, total - sent)));
    hash.update(chunk);
    sent += chunk.length;
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
    // Paced: never ahead of the rate, so a transfer lasts long enough for a fault to land in it.
    if (rate > 0) {
      const ahead = (sent / rate) * 1000 - (performance.now() - startedAt);
      if (ahead > 0) await sleep(ahead);
    }
  }
  await new Promise<void>((resolve) => socket.end(resolve));
  await new Promise((resolve) => socket.once('close', resolve));
  print({ bytes: sent, sha256: hash.digest('hex') });
}

async function udpEcho(): Promise<void> {
  const socket = dgram.createSocket(family);
  socket.on('message', (msg, from) => socket.send(msg, from.port, from.address));
  await new Promise<void>((resolve) => socket.bind(port, address, resolve));
  print({ listening: true });
  await sleep(Number(rest[0]) * 1000);
  socket.close();
}

async function udpProbe(): Promise<void> {
  const socket = dgram.createSocket(family);
  await new Promise<void>((resolve) => socket.bind(0, resolve));
  const results: { size: number; ok: boolean }[] = [];
  for (const size of rest.map(Number)) {
    const payload = randomBytes(size);
    let ok = false;
    for (let attempt = 0; attempt < 3 && !ok; attempt++) {
      const reply = new Promise<Buffer | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), 500);
        socket.once('message', (msg) => {
          clearTimeout(timer);
          resolve(msg);
        });
      });
      socket.send(payload, port, address);
      const msg = await reply;
      ok = msg !== undefined && Buffer.compare(msg, payload) === 0;
    }
    results.push({ size, ok });
  }
  socket.close();
  print(results);
}

async function garbage(): Promise<void> {
  const socket = dgram.createSocket(family);
  await new Promise<void>((resolve) => socket.bind(0, resolve));
  const send = (bytes: Uint8Array) => new Promise<void>((resolve) => socket.send(bytes, port, address, () => resolve()));
  let sent = 0;
  for (let i = 0; i < 50; i++, sent++) await send(randomBytes((i * 29) % 1400));
  for (let i = 0; i < 20; i++, sent++) {
    const p = udpPacket('198.18.9.9', rest[0], 1000, 2000, randomBytes(200));
    await send(p.bytes.subarray(0, 20 + i)); // the header promises 228 bytes
  }
  for (let i = 0; i < 20; i++, sent++) {
    const p = udpPacket('198.18.9.9', rest[0], 1000, 2000, randomBytes(64)); // well formed, from nobody we know
    await send(p.bytes);
  }
  const vx = new Uint8Array(64); // VXLAN header without the I flag
  wire.vxlan.writeHeader(vx, 0, 1);
  vx[0] = 0;
  for (let i = 0; i < 10; i++, sent++) await send(vx);
  socket.close();
  print({ sent });
}

async function vxlanStrangers(): Promise<void> {
  const [dst, vniText, mac] = rest;
  const socket = dgram.createSocket(family);
  await new Promise<void>((resolve) => socket.bind(0, resolve));
  const send = (bytes: Uint8Array) => new Promise<void>((resolve) => socket.send(bytes, port, address, () => resolve()));
  const other = mac.replace(/..$/, (last) => (parseInt(last, 16) ^ 0xff).toString(16).padStart(2, '0'));
  const cases = [
    { vni: Number(vniText) + 1, srcMac: mac },
    { vni: Number(vniText), srcMac: other },
  ];
  let sent = 0;
  for (const c of cases) {
    const tpl = wire.vxlan.template({ vni: c.vni, srcMac: c.srcMac, dstMac: '02:00:5e:00:53:ff' });
    for (let i = 0; i < 10; i++, sent++) {
      const p = udpPacket('198.18.2.9', dst, 1000, 2000, randomBytes(64), tpl.headerLength);
      const start = wire.vxlan.encapsulate(p.bytes, p.offset, p.length, tpl);
      await send(p.bytes.subarray(start, p.offset + p.length));
    }
  }
  socket.close();
  print({ sent });
}

async function vxlanBadTcp(): Promise<void> {
  const [dst, vniText, mac, countText] = rest;
  const socket = dgram.createSocket(family);
  await new Promise<void>((resolve) => socket.bind(0, resolve));
  const send = (bytes: Uint8Array) => new Promise<void>((resolve) => socket.send(bytes, port, address, () => resolve()));
  const tpl = wire.vxlan.template({ vni: Number(vniText), srcMac: mac, dstMac: '02:00:5e:00:53:ff' });
  const payload = 100;
  for (let i = 0; i < Number(countText); i++) {
    const bytes = new Uint8Array(tpl.headerLength + 40 + payload);
    const ip = tpl.headerLength;
    wire.ipv4.write(bytes, ip, {
      totalLength: 40 + payload,
      protocol: wire.ipv4.PROTO_TCP,
      src: wire.parseIPv4('198.18.2.9'),
      dst: wire.parseIPv4(dst),
      dontFragment: true,
    });
    const tcp = ip + 20;
    wire.writeU16(bytes, tcp, 40000);
    wire.writeU16(bytes, tcp + 2, 9);
    wire.writeU32(bytes, tcp + 4, 1000 + i * payload); // contiguous: segments a receiver would merge
    wire.writeU32(bytes, tcp + 8, 1);
    bytes[tcp + 12] = 5 << 4;
    bytes[tcp + 13] = 0x10; // ACK
    wire.writeU16(bytes, tcp + 14, 1000);
    bytes.fill(0x5a, tcp + 20);
    const good = wire.checksum(bytes, tcp, 20 + payload, wire.ipv4.pseudoHeaderSum(bytes, ip, wire.ipv4.PROTO_TCP, 20 + payload));
    wire.writeU16(bytes, tcp + 16, good ^ 0x00ff); // wrong on purpose
    const start = wire.vxlan.encapsulate(bytes, ip, 40 + payload, tpl);
    await send(bytes.subarray(start));
  }
  socket.close();
  print({ sent: Number(countText) });
}

async function udpFlows(): Promise<void> {
  let sent = 0;
  for (let i = 0; i < Number(rest[0]); i++) {
    const socket = dgram.createSocket(family);
    await new Promise<void>((resolve) => socket.bind(0, resolve));
    // Each flow's datagram one byte longer than the last: tulle never sends a longer datagram in the same
    // UDP_SEGMENT send as a shorter one before it, so a capture on the underlay sees one packet per flow.
    await new Promise<void>((resolve) => socket.send(Buffer.from(`flow ${i}`.padEnd(16 + i, '.')), port, address, () => resolve()));
    socket.close();
    sent++;
  }
  print({ sent });
}

/** Datagram of a paced stream: magic, sequence number, send time (ms since the epoch, fractional). */
const STREAM_MAGIC = 0x7475_6c6c;
const STREAM_BYTES = 200;

async function udpStreamSend(): Promise<void> {
  const [perSecond, seconds] = rest.map(Number);
  const socket = dgram.createSocket(family);
  await new Promise<void>((resolve) => socket.bind(0, resolve));
  const count = Math.round(perSecond * seconds);
  const intervalMs = 1000 / perSecond;
  const sentAt: number[] = [];
  const payload = Buffer.alloc(STREAM_BYTES);
  let stopped = false;
  process.stdin.once('end', () => (stopped = true)).resume();
  print({ sending: true });
  const origin = performance.now();
  for (let seq = 0; seq < count && !stopped; seq++) {
    const wait = origin + seq * intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    const now = performance.timeOrigin + performance.now();
    payload.writeUInt32BE(STREAM_MAGIC, 0);
    payload.writeUInt32BE(seq, 4);
    payload.writeDoubleBE(now, 8);
    sentAt.push(Math.round(now * 10) / 10);
    // A send that fails (no route while a link is down) is a lost datagram like any other: the receiver counts it.
    await new Promise<void>((resolve) => socket.send(payload, port, address, () => resolve()));
  }
  socket.close();
  process.stdin.destroy(); // nothing else keeps it alive: it ends once its output is written
  print({ sent: sentAt.length, sentAt });
}

async function udpStreamRecv(): Promise<void> {
  const socket = dgram.createSocket(family);
  const received: [number, number, number][] = [];
  let foreign = 0;
  socket.on('message', (msg) => {
    const arrivedAt = performance.timeOrigin + performance.now();
    if (msg.length !== STREAM_BYTES || msg.readUInt32BE(0) !== STREAM_MAGIC) foreign++;
    else received.push([msg.readUInt32BE(4), msg.readDoubleBE(8), Math.round(arrivedAt * 10) / 10]);
  });
  await new Promise<void>((resolve) => socket.bind(port, address, resolve));
  print({ listening: true });
  // Until its input ends (the sender is done) or SECONDS pass, whichever is first.
  const timer = new AbortController();
  await Promise.race([
    sleep(Number(rest[0]) * 1000, undefined, { signal: timer.signal }).catch(() => {}),
    new Promise((resolve) => process.stdin.once('end', resolve).resume()),
  ]);
  timer.abort();
  socket.close();
  process.stdin.destroy(); // nothing else keeps it alive: it ends once its output is written
  print({ received, foreign });
}

const commands: Record<string, () => Promise<void>> = {
  'tcp-server': tcpServer,
  'tcp-client': tcpClient,
  'udp-echo': udpEcho,
  'udp-probe': udpProbe,
  garbage,
  'vxlan-strangers': vxlanStrangers,
  'udp-flows': udpFlows,
  'vxlan-bad-tcp': vxlanBadTcp,
  'udp-stream-send': udpStreamSend,
  'udp-stream-recv': udpStreamRecv,
};
await commands[command]();
