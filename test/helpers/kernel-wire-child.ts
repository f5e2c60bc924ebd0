// Runs inside a fresh network namespace (started by test/kernel-wire.test.ts).
// Writes packets built by @tulle/wire into a TUN device and reports which of them
// the kernel delivered to real sockets; then reads the kernel's own VXLAN output
// from the TUN and parses it with @tulle/wire. Prints one JSON object.
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { closeSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadNative } from '../../src/native/load.js';
import * as wire from '@tulle/wire';
import { udpPacket } from './packets.js';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'inherit'] });
const native = loadNative();
const tun = native.tunOpen('tk0', native.layout.TUN_NONBLOCK);
const VX_MAC = '02:00:5e:00:53:aa';
const VX6_MAC = '02:00:5e:00:53:ab';

writeFileSync('/proc/sys/net/ipv4/conf/all/rp_filter', '0');
writeFileSync('/proc/sys/net/ipv4/conf/default/rp_filter', '0');
ip('addr', 'add', '192.0.2.1/24', 'dev', 'tk0');
ip('-6', 'addr', 'add', '2001:db8::1/64', 'dev', 'tk0', 'nodad');
ip('link', 'set', 'tk0', 'up');
ip('link', 'add', 'vx0', 'address', VX_MAC, 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'local', '192.0.2.1', 'nolearning');
ip('addr', 'add', '198.18.1.1/24', 'dev', 'vx0');
ip('link', 'set', 'vx0', 'up');
ip('link', 'add', 'vx6', 'address', VX6_MAC, 'type', 'vxlan', 'id', '43', 'dstport', '4790', 'local', '2001:db8::1', 'nolearning');
ip('addr', 'add', '198.18.6.1/24', 'dev', 'vx6');
ip('link', 'set', 'vx6', 'up');

type Socket = { socket: dgram.Socket; got: string[] };
async function listen(type: 'udp4' | 'udp6', address: string, port: number): Promise<Socket> {
  const socket = dgram.createSocket(type);
  const entry: Socket = { socket, got: [] };
  socket.on('message', (msg) => entry.got.push(Buffer.from(msg).toString('hex')));
  await new Promise<void>((resolve) => socket.bind(port, address, resolve));
  return entry;
}
const plain4 = await listen('udp4', '192.0.2.1', 7000);
const plain6 = await listen('udp6', '2001:db8::1', 7000);
const inner4 = await listen('udp4', '198.18.1.1', 7001);
const inner6 = await listen('udp4', '198.18.6.1', 7002);

const text = (s: string) => new TextEncoder().encode(s);
const cases: { name: string; socket: Socket; marker: string }[] = [];
function inject(name: string, socket: Socket, marker: string, bytes: Uint8Array, offset: number, length: number, corrupt?: number): void {
  if (corrupt !== undefined) bytes[offset + corrupt] ^= 0x5a;
  writeSync(tun.fd, bytes, offset, length);
  cases.push({ name, socket, marker });
}

// udp backend, outer IPv4: the UDP payload is an inner IP packet.
for (const [name, corrupt] of [
  ['udp4', undefined],
  ['udp4-bad-udp-checksum', 26],
  ['udp4-bad-ip-checksum', 10],
] as const) {
  const inner = udpPacket('198.18.2.2', '198.18.1.1', 5000, 6000, text(`payload ${name}`), 64);
  const tpl = wire.udpBackend.template({ underlay: { src: '192.0.2.2', dst: '192.0.2.1', dstPort: 7000 } });
  const start = wire.udpBackend.encapsulate(inner.bytes, inner.offset, inner.length, tpl, 50000);
  inject(
    name,
    plain4,
    Buffer.from(inner.bytes.subarray(inner.offset, inner.offset + inner.length)).toString('hex'),
    inner.bytes,
    start,
    inner.length + tpl.headerLength,
    corrupt,
  );
}
// udp backend, outer IPv6 (the UDP checksum is mandatory there).
for (const [name, corrupt] of [
  ['udp6', undefined],
  ['udp6-bad-udp-checksum', 46],
] as const) {
  const inner = udpPacket('2001:db8:2::2', '2001:db8:1::1', 5000, 6000, text(`payload ${name}`), 64);
  const tpl = wire.udpBackend.template({ underlay: { src: '2001:db8::2', dst: '2001:db8::1', dstPort: 7000 } });
  const start = wire.udpBackend.encapsulate(inner.bytes, inner.offset, inner.length, tpl, 50001);
  inject(
    name,
    plain6,
    Buffer.from(inner.bytes.subarray(inner.offset, inner.offset + inner.length)).toString('hex'),
    inner.bytes,
    start,
    inner.length + tpl.headerLength,
    corrupt,
  );
}
// vxlan backend into a kernel vxlan device: outer and inner checksums both checked by the kernel.
const vxCases = [
  { name: 'vxlan4', src: '192.0.2.2', dst: '192.0.2.1', port: 4789, vni: 42, mac: VX_MAC, to: '198.18.1.1', sock: inner4, dport: 7001, corrupt: undefined },
  {
    name: 'vxlan4-bad-inner-udp-checksum',
    src: '192.0.2.2',
    dst: '192.0.2.1',
    port: 4789,
    vni: 42,
    mac: VX_MAC,
    to: '198.18.1.1',
    sock: inner4,
    dport: 7001,
    corrupt: 50 + 26,
  },
  {
    name: 'vxlan4-wrong-vni',
    src: '192.0.2.2',
    dst: '192.0.2.1',
    port: 4789,
    vni: 41,
    mac: VX_MAC,
    to: '198.18.1.1',
    sock: inner4,
    dport: 7001,
    corrupt: undefined,
  },
  {
    name: 'vxlan6',
    src: '2001:db8::2',
    dst: '2001:db8::1',
    port: 4790,
    vni: 43,
    mac: VX6_MAC,
    to: '198.18.6.1',
    sock: inner6,
    dport: 7002,
    corrupt: undefined,
  },
  {
    name: 'vxlan6-bad-outer-udp-checksum',
    src: '2001:db8::2',
    dst: '2001:db8::1',
    port: 4790,
    vni: 43,
    mac: VX6_MAC,
    to: '198.18.6.1',
    sock: inner6,
    dport: 7002,
    corrupt: 46,
  },
];
for (const c of vxCases) {
  const payload = text(`payload ${c.name}`);
  const inner = udpPacket('198.18.2.2', c.to, 5000, c.dport, payload, 96);
  const tpl = wire.vxlan.template({ vni: c.vni, srcMac: '02:00:5e:00:53:01', dstMac: c.mac, underlay: { src: c.src, dst: c.dst, dstPort: c.port } });
  const start = wire.vxlan.encapsulate(inner.bytes, inner.offset, inner.length, tpl, wire.sourcePort(wire.flowHash(inner.bytes, inner.offset, inner.length)));
  inject(c.name, c.sock, Buffer.from(payload).toString('hex'), inner.bytes, start, inner.length + tpl.headerLength, c.corrupt);
}

await sleep(400);
const delivered = Object.fromEntries(cases.map((c) => [c.name, c.socket.got.includes(c.marker)]));

// Reverse: the kernel encapsulates, tulle parses what comes out of the TUN.
ip('neigh', 'add', '198.18.1.2', 'lladdr', '02:00:5e:00:53:02', 'dev', 'vx0');
execFileSync('bridge', ['fdb', 'append', '02:00:5e:00:53:02', 'dev', 'vx0', 'dst', '192.0.2.2']);
const sender = dgram.createSocket('udp4');
const reversePayload = text('from the kernel');
await new Promise<void>((resolve, reject) => sender.send(reversePayload, 9999, '198.18.1.2', (err) => (err ? reject(err) : resolve())));
const buf = new Uint8Array(65536);
const outer = wire.newOuterPacket();
const frame = wire.vxlan.newFrame();
let reverse: Record<string, unknown> = { found: false };
for (let tries = 0; tries < 200 && reverse.found === false; tries++) {
  let n: number;
  try {
    n = readSync(tun.fd, buf, 0, buf.length, null);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    await sleep(10);
    continue;
  }
  if (!wire.parseOuter(buf, 0, n, outer) || outer.dstPort !== 4789) continue; // ND, MLD and such
  const fault = wire.newFault();
  const ok = wire.vxlan.decapsulate(buf, outer.payloadOffset, outer.payloadLength, frame, fault);
  const innerIp = ok ? wire.ipv4.decode(buf, frame.innerOffset, frame.innerLength) : undefined;
  reverse = {
    found: true,
    ok,
    fault: fault.code,
    vni: frame.vni,
    reservedClear: frame.reservedClear,
    srcMac: wire.formatMac(buf, frame.srcMacOffset),
    dstMac: wire.formatMac(buf, frame.dstMacOffset),
    outerSrc: wire.formatIPv4(outer.src4),
    srcPortInRange: outer.srcPort >= 1024,
    innerDst: innerIp ? wire.formatIPv4(innerIp.dst) : '',
    innerUdpChecksumOk: innerIp
      ? wire.udp.verifyChecksum(buf, frame.innerOffset, frame.innerOffset + innerIp.headerLength, innerIp.totalLength - innerIp.headerLength)
      : false,
    innerPayload: innerIp ? Buffer.from(buf.subarray(frame.innerOffset + innerIp.headerLength + 8, frame.innerOffset + innerIp.totalLength)).toString() : '',
  };
}

for (const s of [plain4, plain6, inner4, inner6]) s.socket.close();
sender.close();
closeSync(tun.fd);
process.stdout.write(JSON.stringify({ delivered, reverse }) + '\n');
