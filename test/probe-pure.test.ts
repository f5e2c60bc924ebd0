// The probes' pure parts: the datagram header, RTT and rate arithmetic,
// feature requests and the reachability matrix text.
import t from 'tap';
import { parseFeatureRequest } from '../src/probe/features.js';
import {
  HEADER_LENGTH,
  KIND_ECHO_REPLY,
  KIND_ECHO_REQUEST,
  KIND_STREAM,
  MAGIC,
  elapsedUs,
  markReply,
  readHeader,
  writeHeader,
  type ProbeHeader,
} from '../src/probe/message.js';
import { formatMatrix, fullyReachable, matrixCell } from '../src/probe/matrix.js';
import { cpuPct, gbps, kpps, lossPct, summarizeRtt, type EchoResult } from '../src/probe/summary.js';

t.test('header: round trip, reply in place, garbage refused', async (t) => {
  const bytes = new Uint8Array(64);
  writeHeader(bytes, KIND_ECHO_REQUEST, 0xfffffffe, 0x89abcdef);
  t.equal(new DataView(bytes.buffer).getUint32(0), MAGIC);
  const h: ProbeHeader = { kind: 0, seq: 0, stampUs: 0 };
  t.ok(readHeader(bytes, h));
  t.same(h, { kind: KIND_ECHO_REQUEST, seq: 0xfffffffe, stampUs: 0x89abcdef });
  markReply(bytes);
  t.ok(readHeader(bytes, h));
  t.equal(h.kind, KIND_ECHO_REPLY);
  t.equal(h.seq, 0xfffffffe, "the reply keeps the request's sequence number and stamp");
  const untouched: ProbeHeader = { kind: 9, seq: 9, stampUs: 9 };
  t.notOk(readHeader(bytes.subarray(0, HEADER_LENGTH - 1), untouched), 'too short');
  t.notOk(readHeader(new TextEncoder().encode('hello, this is not a probe'), untouched), 'wrong magic');
  const badKind = new Uint8Array(bytes);
  badKind[4] = 9;
  t.notOk(readHeader(badKind, untouched), 'unknown kind');
  t.same(untouched, { kind: 9, seq: 9, stampUs: 9 }, 'a refused datagram leaves the output alone');
  const offset = new Uint8Array(80).subarray(7, 7 + HEADER_LENGTH);
  writeHeader(offset, KIND_STREAM, 5, 6);
  t.ok(readHeader(offset, h) && h.kind === KIND_STREAM && h.seq === 5, 'works at an odd offset into a larger buffer');
});

t.test('elapsed time across the 32-bit wrap', async (t) => {
  t.equal(elapsedUs(100, 350), 250);
  t.equal(elapsedUs(0xffffff00, 0x10), 0x110, 'the clock wrapped between send and receive');
});

t.test('RTT summary, rates, loss, CPU', async (t) => {
  t.equal(summarizeRtt([]), null);
  t.same(summarizeRtt([0.3, 0.1, 0.2, 1.0]), { min: 0.1, avg: 0.4, median: 0.25, max: 1 });
  t.equal(gbps(1.25e9, 1), 10, '1.25 GB in 1 s is 10 Gbit/s');
  t.equal(gbps(100, 0), 0);
  t.equal(kpps(50_000, 2), 25);
  t.equal(lossPct(200, 150), 25);
  t.equal(lossPct(100, 120), 0, 'duplicates do not make a negative loss');
  t.equal(lossPct(0, 0), 0);
  t.equal(cpuPct(500_000, 1), 50, '0.5 s of CPU in 1 s is 50% of a core');
});

t.test('feature requests', async (t) => {
  t.same(parseFeatureRequest('eth0:gro=on'), { device: 'eth0', feature: 'gro', on: true });
  t.same(parseFeatureRequest('p-a:tx-checksum=off'), { device: 'p-a', feature: 'tx-checksum', on: false });
  t.same(parseFeatureRequest('eth0:gro?'), { device: 'eth0', feature: 'gro', on: undefined });
  t.throws(() => parseFeatureRequest('eth0:warp=on'), /feature "warp" is not one of gro, tx-checksum, rx-checksum, tso, gso, sg/);
  t.throws(() => parseFeatureRequest('eth0 gro on'), /must look like DEVICE:FEATURE=on/);
  t.throws(() => parseFeatureRequest('averyveryverylongname0:gro=on'), /must look like/, 'device names are at most 15 bytes');
});

t.test('matrix text', async (t) => {
  const ok = (target: string, median: number): EchoResult => ({
    target,
    sent: 3,
    received: 3,
    loss_pct: 0,
    rtt_ms: { min: median, avg: median, median, max: median },
    unexpected: 0,
  });
  const lost: EchoResult = { target: 'b', sent: 3, received: 1, loss_pct: 66.67, rtt_ms: { min: 1, avg: 1, median: 1, max: 1 }, unexpected: 0 };
  const good = {
    nodes: ['a', 'b'],
    cells: [
      [null, ok('b', 0.25)],
      [ok('a', 0.5), null],
    ],
  };
  t.ok(fullyReachable(good));
  t.equal(formatMatrix(good), 'from \\ to  a        b\na          ·        0.25 ms\nb          0.50 ms  ·');
  const bad = {
    nodes: ['a', 'b'],
    cells: [
      [null, lost],
      [ok('a', 0.5), null],
    ],
  };
  t.notOk(fullyReachable(bad));
  t.equal(matrixCell(lost), '1/3 ✗');
  t.notOk(
    fullyReachable({
      nodes: ['a', 'b'],
      cells: [
        [null, { ...lost, sent: 0, received: 0 }],
        [null, null],
      ],
    }),
    'nothing sent is not reachable',
  );
});
