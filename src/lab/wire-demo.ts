/**
 * The demo that exists until the overlay daemon does: tulle's encapsulation
 * against a real Linux vxlan device, in a namespace of its own.
 *
 * `runWireDemo()` builds the lab and re-runs this program inside it, where
 * `insideWireDemo()` does the work: packets encapsulated by tulle (TypeScript
 * and native paths) are written into a TUN and must come out of a kernel
 * vxlan device (flannel's settings: VNI 1, port 8472) to a socket; then the
 * kernel encapsulates a datagram and tulle decodes what the TUN hands over.
 */
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { closeSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadNative } from '../native/load.js';
import * as wire from '../wire/index.js';
import { tulleCommand } from '../util/self-command.js';
import { Lab } from './netns.js';

const KERNEL_MAC = '02:00:5e:00:53:aa';
const TULLE_MAC = '02:00:5e:00:53:01';
const PACKETS = 64;

export function runWireDemo(): void {
  const lab = new Lab();
  try {
    const ns = lab.namespace('demo');
    console.log(`namespace ${ns}: a TUN device (tulle's side) and a kernel vxlan device (VNI 1, port 8472)`);
    process.stdout.write(lab.exec(ns, tulleCommand(['lab', 'wire-demo', '--inside-namespace']), { timeoutMs: 60_000 }));
  } finally {
    lab.dispose();
    console.log('lab removed');
  }
}

export async function insideWireDemo(): Promise<void> {
  const ip = (...args: string[]) => execFileSync('ip', args);
  const native = loadNative();
  const tun = native.tunOpen('tulle0', native.layout.TUN_NONBLOCK);
  writeFileSync('/proc/sys/net/ipv4/conf/all/rp_filter', '0');
  ip('addr', 'add', '192.0.2.1/24', 'dev', 'tulle0');
  ip('link', 'set', 'tulle0', 'up');
  ip('link', 'add', 'vx0', 'address', KERNEL_MAC, 'type', 'vxlan', 'id', '1', 'dstport', '8472', 'local', '192.0.2.1', 'nolearning');
  ip('addr', 'add', '198.18.1.1/24', 'dev', 'vx0');
  ip('link', 'set', 'vx0', 'up');

  const socket = dgram.createSocket('udp4');
  let received = 0;
  socket.on('message', () => received++);
  await new Promise<void>((resolve) => socket.bind(7001, '198.18.1.1', resolve));

  // tulle → kernel: one slab, 64 packets, encapsulated by each path in turn.
  const STRIDE = 2048;
  const HEADROOM = 128;
  const table = new wire.TemplateTable(1);
  table.set(0, wire.vxlan.template({ vni: 1, srcMac: TULLE_MAC, dstMac: KERNEL_MAC, underlay: { src: '192.0.2.2', dst: '192.0.2.1', dstPort: 8472 } }));
  const rows: string[][] = [];
  for (const path of ['TypeScript', 'native'] as const) {
    const slab = new Uint8Array(STRIDE * PACKETS);
    const desc = new Int32Array(PACKETS * wire.DESC_STRIDE);
    const payload = new TextEncoder().encode(`hello from tulle (${path})`.padEnd(1000, '.'));
    for (let i = 0; i < PACKETS; i++) {
      const at = i * STRIDE + HEADROOM;
      const length = 28 + payload.length;
      wire.ipv4.write(slab, at, { totalLength: length, protocol: wire.ipv4.PROTO_UDP, src: wire.parseIPv4('198.18.2.2'), dst: wire.parseIPv4('198.18.1.1') });
      wire.udp.write(slab, at + 20, 5000 + i, 7001, 8 + payload.length);
      slab.set(payload, at + 28);
      wire.udp.fillChecksum(slab, at, at + 20, 8 + payload.length);
      const d = i * wire.DESC_STRIDE;
      desc[d + wire.DESC_OFFSET] = at;
      desc[d + wire.DESC_LENGTH] = length;
      desc[d + wire.DESC_VERDICT] = 0;
      desc[d + wire.DESC_SRC_PORT] = wire.sourcePort(wire.flowHash(slab, at, length));
    }
    const before = received;
    const t0 = process.hrtime.bigint();
    const done = path === 'native' ? native.encapBatch(slab, desc, PACKETS, table.bytes, table.meta) : wire.encapsulateBatch(slab, desc, PACKETS, table);
    const micros = Number(process.hrtime.bigint() - t0) / 1000;
    for (let i = 0; i < done; i++)
      writeSync(tun.fd, slab, desc[i * wire.DESC_STRIDE + wire.DESC_OUT_OFFSET], desc[i * wire.DESC_STRIDE + wire.DESC_OUT_LENGTH]);
    await sleep(200);
    rows.push([path, String(done), String(received - before), `${micros.toFixed(1)} µs`]);
  }
  console.log('\ntulle encapsulates, the kernel vxlan device decapsulates (64 × 1,028-byte packets):');
  printTable(['path', 'encapsulated', 'delivered to the socket', 'batch time (first call, cold)'], rows);

  // kernel → tulle.
  ip('neigh', 'add', '198.18.1.2', 'lladdr', TULLE_MAC, 'dev', 'vx0');
  execFileSync('bridge', ['fdb', 'append', TULLE_MAC, 'dev', 'vx0', 'dst', '192.0.2.2']);
  socket.send('hello from the kernel', 9999, '198.18.1.2');
  const buf = new Uint8Array(65536);
  const outer = wire.newOuterPacket();
  const frame = wire.vxlan.newFrame();
  for (let tries = 0; tries < 100; tries++) {
    let n: number;
    try {
      n = readSync(tun.fd, buf, 0, buf.length, null);
    } catch {
      await sleep(10);
      continue;
    }
    if (!wire.parseOuter(buf, 0, n, outer) || outer.dstPort !== 8472) continue;
    const fault = wire.newFault();
    if (!wire.vxlan.decapsulate(buf, outer.payloadOffset, outer.payloadLength, frame, fault)) {
      console.log(`\nkernel → tulle: could not decapsulate: ${new wire.WireError(fault).message}`);
      break;
    }
    const inner = wire.ipv4.decode(buf, frame.innerOffset, frame.innerLength);
    console.log('\nthe kernel encapsulates, tulle decodes what comes out of the TUN:');
    printTable(
      ['field', 'value'],
      [
        ['outer', `${wire.formatIPv4(outer.src4)}:${outer.srcPort} → port ${outer.dstPort}, ${n} bytes`],
        ['VNI', String(frame.vni)],
        ['inner MACs', `${wire.formatMac(buf, frame.srcMacOffset)} → ${wire.formatMac(buf, frame.dstMacOffset)}`],
        ['inner IP', `${wire.formatIPv4(inner.src)} → ${wire.formatIPv4(inner.dst)}, ${inner.totalLength} bytes`],
        ['payload', JSON.stringify(Buffer.from(buf.subarray(frame.innerOffset + inner.headerLength + 8, frame.innerOffset + inner.totalLength)).toString())],
      ],
    );
    break;
  }
  socket.close();
  closeSync(tun.fd);
}

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}
