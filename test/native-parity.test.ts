// The addon and TypeScript must agree byte for byte: the same layout numbers,
// the same checksums, the same encapsulated packets, on thousands of random inputs.
import t from 'tap';
import fc from 'fast-check';
import { loadNative } from '../src/native/load.js';
import * as wire from '@tulle/wire';
import * as batch from '../src/engine/batch.js';
import * as verdicts from '../src/engine/verdicts.js';
import { ADDR_STRIDE } from '../src/engine/routes.js';
import { LAYOUT } from '../src/native/layout.js';
import { buildInnerPacket } from './helpers/packets.js';

const native = loadNative();

t.test('every shared constant: the same names and values on both sides', async (t) => {
  const addon: Record<string, number> = { ...native.layout };
  const ours: Record<string, number> = { ...LAYOUT };
  // Both ways: a constant one side adds and the other lacks fails here, not in the data plane.
  t.same(
    Object.keys(addon).filter((name) => !(name in ours)),
    [],
    'the addon exports nothing src/native/layout.ts lacks',
  );
  t.same(
    Object.keys(ours).filter((name) => !(name in addon)),
    [],
    'src/native/layout.ts has nothing the addon lacks',
  );
  for (const [name, value] of Object.entries(ours)) t.equal(addon[name], value, name);
});

t.test('the shared table is the constants the code uses', async (t) => {
  // LAYOUT gathers constants from their modules; these are the ones other files import by name.
  const used: Record<string, number> = {
    DESC_STRIDE: wire.DESC_STRIDE,
    DESC_SRC_PORT: wire.DESC_SRC_PORT,
    DESC_SOCKET: wire.DESC_SOCKET,
    DESC_FLAGS: wire.DESC_FLAGS,
    FLAG_SEND_WHOLE: wire.FLAG_SEND_WHOLE,
    VERDICT_ENCAP_FAILED: wire.VERDICT_ENCAP_FAILED,
    ADDR_STRIDE,
    ADDR_CHECKSUMMED: batch.ADDR_CHECKSUMMED,
    TX_STATUS_WHOLE_REFUSED: batch.TX_STATUS_WHOLE_REFUSED,
    COALESCE_STATUS_MERGED: batch.COALESCE_STATUS_MERGED,
    DROP_NO_ROUTE: verdicts.DROP_NO_ROUTE,
    VERDICT_BAD_VNET: verdicts.VERDICT_BAD_VNET,
  };
  for (const [name, value] of Object.entries(used)) t.equal(LAYOUT[name as keyof typeof LAYOUT], value, name);
});

t.test('verdicts: every drop reason has a number of its own', async (t) => {
  const codes = Object.entries(LAYOUT).filter(([name]) => name.startsWith('VERDICT_') || name.startsWith('DROP_'));
  t.ok(codes.length >= 12, `${codes.length} verdicts`);
  t.ok(
    codes.every(([, value]) => value < 0),
    'all negative: >= 0 is a peer',
  );
  t.equal(new Set(codes.map(([, value]) => value)).size, codes.length, 'no two share a value');
});

t.test('descriptor fields: distinct words inside the stride', async (t) => {
  const fields = Object.entries(LAYOUT)
    .filter(([name]) => name.startsWith('DESC_') && name !== 'DESC_STRIDE')
    .map(([, value]) => value);
  t.same(
    [...fields].sort((a, b) => a - b),
    Array.from({ length: wire.DESC_STRIDE }, (_, i) => i),
    'every word of the stride is one field',
  );
});

t.test('checksum parity on random ranges', async (t) => {
  const buffer = new Uint8Array(9000);
  let mismatches = 0;
  let runs = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 4000 }),
      fc.integer({ min: 0, max: 4999 }),
      fc.integer({ min: 0, max: 0x3ffff }),
      fc.integer(),
      (offset, length, seed, fill) => {
        for (let i = offset; i < offset + length; i++) buffer[i] = (Math.imul(i + 1, fill | 1) >>> 13) & 0xff;
        runs++;
        const ts = wire.checksum(buffer, offset, length, wire.fold(seed));
        const c = native.checksum(buffer, offset, length, seed);
        if (ts !== c) mismatches++;
        return ts === c;
      },
    ),
    { numRuns: 5000, seed: 1071 },
  );
  t.equal(mismatches, 0);
  t.equal(runs, 5000);
});

t.test('checksum rejects ranges outside the buffer with a RangeError', async (t) => {
  t.throws(() => native.checksum(new Uint8Array(10), 4, 7), { name: 'RangeError', message: /exceeds the buffer \(10 bytes\)/ });
  t.throws(() => native.checksum(new Uint8Array(10), -1, 2), { name: 'RangeError' });
  t.throws(() => native.checksum(new Int32Array(4) as unknown as Uint8Array, 0, 2), { name: 'TypeError', message: /bytes has the wrong type/ });
});

const templates = (): wire.OuterTemplate[] => {
  const macs = { srcMac: '02:00:5e:00:53:01', dstMac: '02:00:5e:00:53:02' };
  return [
    wire.udpBackend.template(),
    wire.udpBackend.template({ underlay: { src: '192.0.2.1', dst: '192.0.2.2', dstPort: 8285, srcPort: 8285 } }),
    wire.udpBackend.template({ underlay: { src: '2001:db8::1', dst: '2001:db8::2', dstPort: 8285 } }),
    wire.vxlan.template({ ...macs, vni: 1 }),
    wire.vxlan.template({ ...macs, vni: 0xabcdef, underlay: { src: '192.0.2.1', dst: '192.0.2.2', dstPort: 4789 } }),
    wire.vxlan.template({ ...macs, vni: 7, underlay: { src: '192.0.2.1', dst: '198.51.100.9', dstPort: 8472, udpChecksum: false, ttl: 3 } }),
    wire.vxlan.template({ ...macs, vni: 2, underlay: { src: '2001:db8::1', dst: '2001:db8:1::2', dstPort: 4789 } }),
  ];
};

t.test('encapBatch parity with encapsulateBatch on random batches', async (t) => {
  const table = new wire.TemplateTable(8);
  templates().forEach((tpl, i) => table.set(i, tpl));
  const STRIDE = 2048;
  const BATCH = 64;
  let random = 0x9e3779b9;
  const next = () => (random = (Math.imul(random ^ (random >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0);
  let packets = 0;
  let encapsulated = 0;
  let failed = 0;
  for (let round = 0; round < 80; round++) {
    const slabA = new Uint8Array(STRIDE * BATCH);
    const desc = new Int32Array(BATCH * wire.DESC_STRIDE);
    for (let i = 0; i < BATCH; i++) {
      // Headroom 0..127 so some packets have too little; lengths up to the stride.
      const headroom = next() % 128;
      const offset = i * STRIDE + headroom;
      const kind = next() % 4;
      const length = kind === 3 ? next() % (STRIDE - headroom) : Math.min(STRIDE - headroom, 20 + (next() % 1500));
      if (kind === 3) for (let j = 0; j < length; j++) slabA[offset + j] = next() & 0xff;
      else buildInnerPacket(slabA, offset, length, kind === 0 ? 6 : 4, next);
      const d = i * wire.DESC_STRIDE;
      desc[d + wire.DESC_OFFSET] = offset;
      desc[d + wire.DESC_LENGTH] = length;
      const v = next() % 10;
      desc[d + wire.DESC_VERDICT] = v < 7 ? v : v === 7 ? 8 /* out of range */ : -(2 + (next() % 5));
      desc[d + wire.DESC_SRC_PORT] = next() % 3 === 0 ? 0 : wire.sourcePort(next());
    }
    const slabB = slabA.slice();
    const descB = desc.slice();
    const ts = wire.encapsulateBatch(slabA, desc, BATCH, table);
    const c = native.encapBatch(slabB, descB, BATCH, table.bytes, table.meta);
    t.equal(c, ts, `round ${round}: same count`);
    t.same(Array.from(descB), Array.from(desc), `round ${round}: same descriptors`);
    t.ok(Buffer.compare(slabA, slabB) === 0, `round ${round}: same bytes`);
    packets += BATCH;
    encapsulated += ts;
    for (let i = 0; i < BATCH; i++) if (desc[i * wire.DESC_STRIDE + wire.DESC_VERDICT] === wire.VERDICT_ENCAP_FAILED) failed++;
  }
  // The random mix must exercise both outcomes, or the comparison proves little.
  t.ok(packets >= 5000, `${packets} packets compared`);
  t.ok(encapsulated > packets / 3, `${encapsulated} encapsulated`);
  t.ok(failed > 100, `${failed} refused (no headroom or unknown template)`);
});

t.test('encapBatch validates its arguments', async (t) => {
  const table = new wire.TemplateTable(1);
  const one = new Int32Array(wire.DESC_STRIDE);
  t.throws(() => native.encapBatch(new Uint8Array(100), one, 2, table.bytes, table.meta), {
    name: 'RangeError',
    message: `count 2 needs ${2 * wire.DESC_STRIDE} descriptor words, desc has ${wire.DESC_STRIDE}`,
  });
  t.throws(() => native.encapBatch(new Uint8Array(100), new Uint32Array(wire.DESC_STRIDE) as unknown as Int32Array, 1, table.bytes, table.meta), {
    name: 'TypeError',
  });
});
