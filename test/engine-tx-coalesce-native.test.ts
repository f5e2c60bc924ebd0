// txBatch's coalescing rules through the addon, to loopback sockets: with TX_UDP_GSO a run of single
// datagrams to one peer, from one socket, with one source port and one length (the last may be shorter)
// leaves as one UDP_SEGMENT send of at most 64 segments and 65,000 bytes; anything else ends the run.
// Every datagram must arrive once, in order, byte for byte, and TX_STATUS_COALESCED counts exactly the
// datagrams of runs of two or more. A failed send marks every datagram of its message.
import t from 'tap';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import * as wire from '@tulle/wire';
import { loadNative } from '../src/native/load.js';
import { ADDR_STRIDE, writeAddr } from '../src/engine/routes.js';
import { buildInnerPacket } from './helpers/packets.js';

const native = loadNative();
const L = native.layout;
const HEADROOM = 128;
const STRIDE = 2048;
const DROPPED = -10; // DROP_NO_ROUTE: decided against before txBatch, never sent

interface Packet {
  length: number;
  /** Address table entry: 0 and 1 are receivers on loopback, 2 an IPv6 address the IPv4 sockets cannot reach. */
  peer?: number;
  srcPort?: number;
  socket?: number;
  verdict?: number;
}

interface Outcome {
  sent: number;
  coalesced: number;
  refused: number;
  verdicts: number[];
  /** What each receiver got, in arrival order. */
  got: Buffer[][];
  /** What each receiver should get, in order. */
  expected: Buffer[][];
}

let seed = 7;
const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);

async function send(packets: Packet[], udpGso = true): Promise<Outcome> {
  const receivers = [dgram.createSocket('udp4'), dgram.createSocket('udp4')];
  const got: Buffer[][] = [[], []];
  for (const [i, r] of receivers.entries()) {
    r.bind(0, '127.0.0.1');
    await once(r, 'listening');
    r.on('message', (m) => got[i].push(m));
  }
  const fds = Int32Array.from([native.udpOpen(4, '127.0.0.1', 0, 4 << 20), native.udpOpen(4, '127.0.0.1', 0, 4 << 20)]);
  try {
    const addrs = new Uint8Array(3 * ADDR_STRIDE);
    for (const [i, r] of receivers.entries()) writeAddr(addrs, i * ADDR_STRIDE, '127.0.0.1', r.address().port);
    writeAddr(addrs, 2 * ADDR_STRIDE, '::1', 9);
    const table = new wire.TemplateTable(3);
    for (let i = 0; i < 3; i++) table.set(i, wire.udpBackend.template());
    const slab = new Uint8Array(packets.length * STRIDE);
    const desc = new Int32Array(packets.length * wire.DESC_STRIDE);
    const expected: Buffer[][] = [[], []];
    for (const [i, p] of packets.entries()) {
      const at = i * STRIDE + HEADROOM;
      const length = buildInnerPacket(slab, at, p.length, 4, random);
      const d = i * wire.DESC_STRIDE;
      desc[d + wire.DESC_OFFSET] = at;
      desc[d + wire.DESC_LENGTH] = length;
      desc[d + wire.DESC_VERDICT] = p.verdict ?? p.peer ?? 0;
      desc[d + wire.DESC_SRC_PORT] = p.srcPort ?? 0;
      desc[d + wire.DESC_SOCKET] = p.socket ?? 0;
      // The udp backend's template is empty: the datagram is the inner packet.
      if (p.verdict === undefined && (p.peer ?? 0) < 2) expected[p.peer ?? 0].push(Buffer.from(slab.subarray(at, at + length)));
    }
    const status = new Int32Array(L.TX_STATUS_WORDS);
    const arena = new Uint8Array(1 << 16);
    const sent = native.txBatch(fds, slab, desc, packets.length, table.bytes, table.meta, addrs, arena, udpGso ? L.TX_UDP_GSO : 0, status);
    const want = expected[0].length + expected[1].length;
    for (let i = 0; i < 200 && got[0].length + got[1].length < want; i++) await sleep(10);
    await sleep(20); // and no more than that
    const verdicts = packets.map((_, i) => desc[i * wire.DESC_STRIDE + wire.DESC_VERDICT]);
    return { sent, coalesced: status[L.TX_STATUS_COALESCED], refused: status[L.TX_STATUS_GSO_REFUSED], verdicts, got, expected };
  } finally {
    for (const fd of fds) closeSync(fd);
    for (const r of receivers) r.close();
  }
}

const same = (length: number, count: number, extra: Omit<Packet, 'length'> = {}): Packet[] => Array.from({ length: count }, () => ({ length, ...extra }));

const cases: { name: string; packets: Packet[]; coalesced: number; udpGso?: boolean }[] = [
  { name: 'ten of one length: one send', packets: same(1000, 10), coalesced: 10 },
  { name: 'a shorter one ends its run', packets: [...same(1000, 2), { length: 500 }, ...same(1000, 2)], coalesced: 5 },
  { name: 'a longer one starts a run of its own', packets: [{ length: 1000 }, ...same(1200, 2), { length: 1300 }], coalesced: 2 },
  { name: 'a one-datagram run stays a plain datagram', packets: [{ length: 300 }, { length: 400 }, { length: 500 }], coalesced: 0 },
  { name: 'at most 64 segments a send (64, then one alone)', packets: same(200, 65), coalesced: 64 },
  { name: 'at most 65,000 bytes a send (46 of 1400, then the rest)', packets: same(1400, 47), coalesced: 46 },
  { name: 'peers taking turns: no run', packets: Array.from({ length: 8 }, (_, i) => ({ length: 800, peer: i % 2 })), coalesced: 0 },
  {
    name: 'peers taking turns by two',
    packets: Array.from({ length: 8 }, (_, i) => ({ length: 800, peer: (i >> 1) % 2 })),
    coalesced: 8,
  },
  { name: 'another source port ends a run', packets: [...same(900, 3, { srcPort: 4000 }), ...same(900, 3, { srcPort: 4001 })], coalesced: 6 },
  {
    name: 'another socket ends a run',
    packets: [...same(900, 3, { socket: 0 }), ...same(900, 1, { socket: 1 }), ...same(900, 2, { socket: 0 })],
    coalesced: 5,
  },
  {
    name: 'a packet dropped before sending does not end a run',
    packets: [{ length: 700 }, { length: 700, verdict: DROPPED }, { length: 700 }],
    coalesced: 2,
  },
  { name: 'without TX_UDP_GSO nothing is coalesced', packets: same(1000, 10), coalesced: 0, udpGso: false },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const r = await send(c.packets, c.udpGso ?? true);
    const delivered = r.expected[0].length + r.expected[1].length;
    t.equal(r.sent, delivered, `txBatch sent ${delivered} datagrams`);
    t.equal(r.coalesced, c.coalesced, `${c.coalesced} of them in coalesced sends`);
    t.equal(r.refused, 0, 'no UDP_SEGMENT send refused');
    for (const peer of [0, 1]) {
      t.equal(r.got[peer].length, r.expected[peer].length, `peer ${peer}: ${r.expected[peer].length} datagrams arrived`);
      t.ok(
        r.got[peer].every((m, i) => r.expected[peer][i]?.equals(m)),
        `peer ${peer}: each the datagram it should be, in order`,
      );
    }
    t.same(
      r.verdicts,
      c.packets.map((p) => p.verdict ?? p.peer ?? 0),
      'verdicts untouched',
    );
  });
}

t.test('a send that fails marks every datagram of its message', async (t) => {
  // Peer 2 is IPv6: the IPv4 socket refuses the whole run, and only that run.
  const packets = [...same(600, 3, { peer: 0 }), ...same(600, 4, { peer: 2 }), ...same(600, 3, { peer: 0 })];
  const r = await send(packets);
  t.equal(r.sent, 6, 'the runs before and after were sent');
  t.equal(r.coalesced, 6);
  t.same(r.verdicts, [0, 0, 0, ...Array(4).fill(L.VERDICT_SEND_FAILED), 0, 0, 0], 'the four of the failed send are marked failed');
  t.equal(r.got[0].length, 6);
  t.ok(
    r.got[0].every((m, i) => r.expected[0][i].equals(m)),
    'in order, byte for byte',
  );
});
