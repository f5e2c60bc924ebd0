// UDP bursts for the receive-side coalescing tests, run inside lab namespaces (test/helpers/tools.ts style):
//   send ADDR PORT PLAN      send the datagrams PLAN (JSON: [[flow, size], ...]) lists, in that order, one socket per
//                            flow; print {sent: {flow: {count, sha256}}}
//   recv ADDR PORT COUNT SECONDS   a plain socket (no UDP_GRO): print {listening} first, then, once COUNT datagrams
//                            arrived, stdin ends or SECONDS pass, {flows: {flow: {seqs, sha256}}, bad, foreign}
//   inject ADDR PORT JSON    crafted inner IPv4/IPv6 UDP datagrams, encapsulated for the udp or vxlan backend and sent
//                            straight to a tulle host's port (see Injection); print {sent}
// A datagram's payload: magic, flow, sequence number within its flow, then bytes that follow from those three,
// so the receiver checks every byte and hashes each flow's datagrams in arrival order.
import { createHash, type Hash } from 'node:crypto';
import dgram from 'node:dgram';
import * as wire from '@tulle/wire';

const MAGIC = 0x7278_7573;
const HEADER = 9;

const [command, address, portText, ...rest] = process.argv.slice(2);
const port = Number(portText);
const print = (value: unknown) => process.stdout.write(JSON.stringify(value) + '\n');

/** Payload number `seq` of `flow`, `size` bytes (at least HEADER). */
function payload(flow: number, seq: number, size: number): Buffer {
  const bytes = Buffer.alloc(Math.max(size, HEADER));
  bytes.writeUInt32BE(MAGIC, 0);
  bytes[4] = flow;
  bytes.writeUInt32BE(seq, 5);
  for (let i = HEADER; i < bytes.length; i++) bytes[i] = (seq * 131 + flow * 17 + i * 7) & 0xff;
  return bytes;
}

/** The flow and sequence number of a payload whose every byte is as `payload` makes it, else undefined. */
function check(msg: Buffer): { flow: number; seq: number } | undefined {
  if (msg.length < HEADER || msg.readUInt32BE(0) !== MAGIC) return undefined;
  const flow = msg[4];
  const seq = msg.readUInt32BE(5);
  return payload(flow, seq, msg.length).equals(msg) ? { flow, seq } : undefined;
}

async function send(): Promise<void> {
  const plan = JSON.parse(rest[0]) as [number, number][];
  const family = address.includes(':') ? 'udp6' : 'udp4';
  const sockets = new Map<number, dgram.Socket>();
  const sent = new Map<number, { count: number; hash: Hash }>();
  for (const [flow] of plan) {
    if (sockets.has(flow)) continue;
    const socket = dgram.createSocket(family);
    await new Promise<void>((resolve) => socket.bind(0, resolve));
    sockets.set(flow, socket);
    sent.set(flow, { count: 0, hash: createHash('sha256') });
  }
  for (const [flow, size] of plan) {
    const s = sent.get(flow)!;
    const bytes = payload(flow, s.count++, size);
    s.hash.update(bytes);
    await new Promise<void>((resolve, reject) => sockets.get(flow)!.send(bytes, port, address, (error) => (error ? reject(error) : resolve())));
  }
  for (const socket of sockets.values()) socket.close();
  print({ sent: Object.fromEntries([...sent].map(([flow, s]) => [flow, { count: s.count, sha256: s.hash.digest('hex') }])) });
}

async function recv(): Promise<void> {
  const [count, seconds] = rest.map(Number);
  const socket = dgram.createSocket({ type: address.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 8 << 20 });
  const flows = new Map<number, { seqs: number[]; hash: Hash }>();
  let bad = 0;
  let foreign = 0;
  let arrived = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  socket.on('message', (msg) => {
    if (msg.length >= HEADER && msg.readUInt32BE(0) === MAGIC) {
      const ok = check(msg);
      if (ok === undefined) bad++;
      else {
        let f = flows.get(ok.flow);
        if (f === undefined) flows.set(ok.flow, (f = { seqs: [], hash: createHash('sha256') }));
        f.seqs.push(ok.seq);
        f.hash.update(msg);
      }
    } else foreign++;
    if (++arrived >= count) done();
  });
  await new Promise<void>((resolve) => socket.bind(port, address, resolve));
  print({ listening: true });
  const timer = setTimeout(done, seconds * 1000);
  process.stdin.once('end', done).resume();
  await finished;
  clearTimeout(timer);
  socket.close();
  process.stdin.destroy();
  print({ flows: Object.fromEntries([...flows].map(([flow, f]) => [flow, { seqs: f.seqs, sha256: f.hash.digest('hex') }])), bad, foreign });
}

/**
 * What `inject` sends: inner datagrams from `src`:`srcPort` + flow to `dst`:PORT of the plan's sizes, each
 * encapsulated for the backend (vxlan: VNI `vni`, from `mac`), to the tulle host at ADDR:`outerPort`.
 * Datagrams whose plan index is in `corrupt` get a wrong UDP checksum.
 */
interface Injection {
  backend: 'udp' | 'vxlan';
  outerPort: number;
  vni?: number;
  mac?: string;
  src: string;
  dst: string;
  srcPort: number;
  plan: [number, number][];
  corrupt: number[];
}

async function inject(): Promise<void> {
  const spec = JSON.parse(rest[0]) as Injection;
  const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => socket.bind(0, resolve));
  const tpl = spec.backend === 'vxlan' ? wire.vxlan.template({ vni: spec.vni ?? 1, srcMac: spec.mac!, dstMac: '02:00:5e:00:53:ff' }) : undefined;
  const headroom = tpl?.headerLength ?? 0;
  const v6 = spec.src.includes(':');
  const ipLen = v6 ? 40 : 20;
  const seqs = new Map<number, number>();
  for (const [index, [flow, size]] of spec.plan.entries()) {
    const seq = seqs.get(flow) ?? 0;
    seqs.set(flow, seq + 1);
    const body = payload(flow, seq, size);
    const length = ipLen + 8 + body.length;
    const bytes = new Uint8Array(headroom + length);
    if (v6) {
      wire.ipv6.write(bytes, headroom, {
        payloadLength: 8 + body.length,
        nextHeader: wire.ipv6.NEXT_UDP,
        src: wire.parseIPv6(spec.src),
        dst: wire.parseIPv6(spec.dst),
      });
    } else {
      wire.ipv4.write(bytes, headroom, {
        totalLength: length,
        protocol: wire.ipv4.PROTO_UDP,
        src: wire.parseIPv4(spec.src),
        dst: wire.parseIPv4(spec.dst),
        dontFragment: true,
      });
    }
    wire.udp.write(bytes, headroom + ipLen, spec.srcPort + flow, port, 8 + body.length);
    bytes.set(body, headroom + ipLen + 8);
    wire.udp.fillChecksum(bytes, headroom, headroom + ipLen, 8 + body.length);
    if (spec.corrupt.includes(index)) {
      const field = headroom + ipLen + 6;
      const good = wire.readU16(bytes, field);
      wire.writeU16(bytes, field, (good ^ 0x00ff) === 0 ? good ^ 0x0f00 : good ^ 0x00ff); // wrong, and never 0 ("no checksum")
    }
    const start = tpl ? wire.vxlan.encapsulate(bytes, headroom, length, tpl) : 0;
    await new Promise<void>((resolve, reject) => socket.send(bytes.subarray(start), spec.outerPort, address, (error) => (error ? reject(error) : resolve())));
  }
  socket.close();
  print({ sent: spec.plan.length });
}

const commands: Record<string, () => Promise<void>> = { send, recv, inject };
await commands[command]();
