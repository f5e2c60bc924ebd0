// encapsulateBatch (the TypeScript reference for the addon) against calling
// encapsulate() packet by packet on a copy of the slab.
import t from 'tap';
import fc from 'fast-check';
import {
  DESC_FLAGS,
  DESC_GSO_SIZE,
  DESC_LENGTH,
  DESC_OFFSET,
  DESC_OUT_LENGTH,
  DESC_OUT_OFFSET,
  DESC_SRC_PORT,
  DESC_STRIDE,
  DESC_VERDICT,
  encapsulate,
  encapsulateBatch,
  ipv4,
  ipv6,
  META_FLAGS,
  META_HEADER_LENGTH,
  META_IP_VERSION,
  META_STRIDE,
  parseOuter,
  newOuterPacket,
  TEMPLATE_STRIDE,
  TemplateTable,
  udp,
  udpBackend,
  VERDICT_ENCAP_FAILED,
  vxlan,
  WireError,
  type OuterTemplate,
} from '@tulle/wire';

const MACS = { srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02' };
const U4 = { src: '192.0.2.1', dst: '192.0.2.2', dstPort: 4789, srcPort: 33333 };
const U6 = { src: '2001:db8::1', dst: '2001:db8::2', dstPort: 8285, srcPort: 44444 };

/** Every kind of template: both backends, IPv4/IPv6/no underlay, with and without the IPv4 UDP checksum. */
const TEMPLATES: OuterTemplate[] = [
  vxlan.template({ ...MACS, vni: 1, underlay: U4 }), // 50
  vxlan.template({ ...MACS, vni: 0xfffffe, underlay: U6 }), // 70
  vxlan.template({ ...MACS, vni: 77 }), // 22, UDP payload only
  udpBackend.template({ underlay: U4 }), // 28
  udpBackend.template({ underlay: { ...U6, ttl: 3 } }), // 48
  udpBackend.template(), // 0
  udpBackend.template({ underlay: { ...U4, udpChecksum: false } }), // 28, no UDP checksum
];

function tableOf(templates: OuterTemplate[], capacity = templates.length): TemplateTable {
  const table = new TemplateTable(capacity);
  templates.forEach((tpl, i) => table.set(i, tpl));
  return table;
}

/** Writes a valid inner IPv4/IPv6 UDP packet of `length` bytes (at least the headers) and returns its length. */
function writeInner(slab: Uint8Array, at: number, length: number, v6: boolean, seed: number): number {
  const ipHeader = v6 ? 40 : 20;
  const total = Math.max(length, ipHeader + 8);
  for (let i = at + ipHeader + 8; i < at + total; i++) slab[i] = (Math.imul(i ^ seed, 0x9e3779b1) >>> 24) & 0xff;
  if (v6) {
    ipv6.write(slab, at, { payloadLength: total - 40, nextHeader: 17, src: new Uint8Array(16).fill(1), dst: new Uint8Array(16).fill(2) });
  } else {
    ipv4.write(slab, at, { totalLength: total, protocol: 17, src: 0x0a000001, dst: 0x0a000002 + (seed & 0xff) });
  }
  udp.write(slab, at + ipHeader, 1000 + (seed & 0x3ff), 2000, total - ipHeader);
  udp.fillChecksum(slab, at, at + ipHeader, total - ipHeader);
  return total;
}

interface Packet {
  headroom: number;
  length: number;
  v6: boolean;
  verdict: number;
  srcPort: number;
  seed: number;
  notIP?: boolean;
}

/** Lays packets out one after another, each after its own headroom; returns the slab and descriptors. */
function layout(packets: Packet[], slack = 0): { slab: Uint8Array; desc: Int32Array } {
  let size = 0;
  for (const p of packets) size += p.headroom + Math.max(p.length, p.v6 ? 48 : 28) + slack;
  const slab = new Uint8Array(size + 1).fill(0xee);
  const desc = new Int32Array(packets.length * DESC_STRIDE).fill(-7); // garbage in OUT_* must be overwritten
  let at = 0;
  packets.forEach((p, i) => {
    const d = i * DESC_STRIDE;
    const offset = at + p.headroom;
    const length = writeInner(slab, offset, p.length, p.v6, p.seed);
    if (p.notIP === true) slab[offset] = 0x15; // version 1: not an IP packet, encapsulation must refuse it
    desc[d + DESC_OFFSET] = offset;
    desc[d + DESC_LENGTH] = length;
    desc[d + DESC_VERDICT] = p.verdict;
    desc[d + DESC_SRC_PORT] = p.srcPort;
    desc[d + DESC_GSO_SIZE] = 1400 + i;
    desc[d + DESC_FLAGS] = i;
    at = offset + length + slack;
  });
  return { slab, desc };
}

/** The expected result: encapsulate() one by one on a copy of the slab. */
function reference(slab: Uint8Array, desc: Int32Array, count: number, templates: OuterTemplate[]) {
  const bytes = slab.slice();
  const out = desc.slice();
  let done = 0;
  for (let i = 0; i < count; i++) {
    const d = i * DESC_STRIDE;
    out[d + DESC_OUT_OFFSET] = 0;
    out[d + DESC_OUT_LENGTH] = 0;
    const verdict = out[d + DESC_VERDICT];
    if (verdict < 0) continue;
    const tpl = templates[verdict];
    if (tpl === undefined) {
      out[d + DESC_VERDICT] = VERDICT_ENCAP_FAILED;
      continue;
    }
    try {
      const start = encapsulate(bytes, out[d + DESC_OFFSET], out[d + DESC_LENGTH], tpl, out[d + DESC_SRC_PORT]);
      out[d + DESC_OUT_OFFSET] = start;
      out[d + DESC_OUT_LENGTH] = tpl.headerLength + out[d + DESC_LENGTH];
      done++;
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      out[d + DESC_VERDICT] = VERDICT_ENCAP_FAILED;
    }
  }
  return { bytes, desc: out, done };
}

function equalBytes(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

t.test('a mixed batch matches encapsulate() one by one', async (t) => {
  const packets: Packet[] = [];
  for (let i = 0; i < 40; i++) {
    const verdict = i % 9 === 8 ? -2 : i % TEMPLATES.length;
    packets.push({
      headroom: TEMPLATES[i % TEMPLATES.length].headerLength + (i % 3),
      length: 28 + i * 37,
      v6: i % 2 === 1,
      verdict,
      srcPort: i % 4 === 0 ? 0 : 49152 + i,
      seed: i,
    });
  }
  const { slab, desc } = layout(packets);
  const want = reference(slab, desc, packets.length, TEMPLATES);
  const done = encapsulateBatch(slab, desc, packets.length, tableOf(TEMPLATES));
  t.equal(done, want.done);
  t.ok(done >= 30, `most packets encapsulated (${done})`);
  t.equal(equalBytes(slab, want.bytes), -1, 'identical slab bytes');
  t.same(Array.from(desc), Array.from(want.desc), 'identical descriptors');
  // And the result is real: every sent packet with an underlay parses as an outer packet.
  let parsed = 0;
  for (let i = 0; i < packets.length; i++) {
    const d = i * DESC_STRIDE;
    if (desc[d + DESC_OUT_LENGTH] === 0) continue;
    const tpl = TEMPLATES[packets[i].verdict];
    if (tpl.ipVersion === 0) continue;
    const o = newOuterPacket();
    if (parseOuter(slab, desc[d + DESC_OUT_OFFSET], desc[d + DESC_OUT_LENGTH], o)) parsed++;
    else t.fail(`packet ${i} does not parse`);
  }
  t.ok(parsed > 15, `${parsed} outer packets parse`);
});

t.test('negative verdicts are skipped, untouched', async (t) => {
  const packets: Packet[] = [-1, -2, -100, 0, -5].map((verdict, i) => ({ headroom: 60, length: 100, v6: false, verdict, srcPort: 0, seed: i }));
  const { slab, desc } = layout(packets);
  const before = slab.slice();
  t.equal(encapsulateBatch(slab, desc, packets.length, tableOf(TEMPLATES)), 1);
  packets.forEach((p, i) => {
    const d = i * DESC_STRIDE;
    t.equal(desc[d + DESC_VERDICT], p.verdict, `packet ${i}: verdict kept`);
    t.equal(desc[d + DESC_OUT_LENGTH], p.verdict < 0 ? 0 : 150, `packet ${i}: out length`);
    t.equal(desc[d + DESC_OUT_OFFSET], p.verdict < 0 ? 0 : desc[d + DESC_OFFSET] - 50, `packet ${i}: out offset`);
    const region = [desc[d + DESC_OFFSET] - 60, desc[d + DESC_OFFSET] + 100];
    t.equal(
      equalBytes(slab.subarray(region[0], region[1]), before.subarray(region[0], region[1])) === -1,
      p.verdict < 0,
      `packet ${i}: bytes ${p.verdict < 0 ? 'untouched' : 'written'}`,
    );
  });
});

t.test('out-of-range template index and missing headroom fail the packet, and only it', async (t) => {
  const table = tableOf(TEMPLATES.slice(0, 2), 4); // capacity 4, slots 2 and 3 never set
  const packets: Packet[] = [
    { headroom: 0, length: 40, v6: false, verdict: 0, srcPort: 0, seed: 0 }, // at offset 0: no room for 50 bytes
    { headroom: 80, length: 60, v6: false, verdict: 4, srcPort: 0, seed: 1 }, // index == capacity
    { headroom: 80, length: 60, v6: false, verdict: 0x7fffffff, srcPort: 0, seed: 2 },
    { headroom: 80, length: 60, v6: false, verdict: 0, srcPort: 0, seed: 3 }, // fine
    { headroom: 80, length: 60, v6: true, verdict: 1, srcPort: 9, seed: 4 }, // fine
    { headroom: 80, length: 60, v6: false, verdict: 0, srcPort: 0, seed: 5 }, // moved below to offset 49 (needs 50)
    { headroom: 80, length: 60, v6: true, verdict: 1, srcPort: 0, seed: 6 }, // moved below to offset 69 (needs 70)
  ];
  const { slab, desc } = layout(packets);
  desc[5 * DESC_STRIDE + DESC_OFFSET] = 49;
  desc[5 * DESC_STRIDE + DESC_LENGTH] = 10;
  desc[6 * DESC_STRIDE + DESC_OFFSET] = 69;
  desc[6 * DESC_STRIDE + DESC_LENGTH] = 10;
  const before = slab.slice();
  const want = reference(slab, desc, packets.length, TEMPLATES.slice(0, 2));
  t.equal(encapsulateBatch(slab, desc, packets.length, table), 2);
  const verdicts = packets.map((_, i) => desc[i * DESC_STRIDE + DESC_VERDICT]);
  const F = VERDICT_ENCAP_FAILED;
  t.same(verdicts, [F, F, F, 0, 1, F, F]);
  t.same(Array.from(desc), Array.from(want.desc), 'same descriptors as the one-by-one reference');
  t.equal(equalBytes(slab, want.bytes), -1, 'same bytes as the one-by-one reference');
  for (const i of [0, 1, 2, 5, 6]) {
    const d = i * DESC_STRIDE;
    t.same([desc[d + DESC_OUT_OFFSET], desc[d + DESC_OUT_LENGTH]], [0, 0], `failed packet ${i}: nothing out`);
  }
  const firstWrite = desc[3 * DESC_STRIDE + DESC_OUT_OFFSET];
  t.equal(firstWrite, desc[3 * DESC_STRIDE + DESC_OFFSET] - 50);
  t.equal(equalBytes(slab.subarray(0, firstWrite), before.subarray(0, firstWrite)), -1, 'failed packets left their bytes untouched');
  // A slot inside the capacity that was never set is refused (its header length is -1), not sent bare.
  for (const verdict of [2, 3]) {
    const unset = layout([{ headroom: 100, length: 40, v6: false, verdict, srcPort: 0, seed: 7 }]);
    const unsetBefore = unset.slab.slice();
    t.equal(encapsulateBatch(unset.slab, unset.desc, 1, table), 0, `unset slot ${verdict}`);
    t.same([unset.desc[DESC_VERDICT], unset.desc[DESC_OUT_OFFSET], unset.desc[DESC_OUT_LENGTH]], [VERDICT_ENCAP_FAILED, 0, 0]);
    t.equal(equalBytes(unset.slab, unsetBefore), -1, 'nothing written');
  }
  // A template with no header at all (udp backend, no underlay) does send the packet as it is.
  const bare = layout([{ headroom: 0, length: 40, v6: false, verdict: 0, srcPort: 0, seed: 7 }]);
  const bareBefore = bare.slab.slice();
  t.equal(encapsulateBatch(bare.slab, bare.desc, 1, tableOf([udpBackend.template()])), 1);
  t.same([bare.desc[DESC_OUT_OFFSET], bare.desc[DESC_OUT_LENGTH]], [0, 40]);
  t.equal(equalBytes(bare.slab, bareBefore), -1, 'bytes unchanged');
});

t.test('corrupt template metadata and out-of-slab packets fail cleanly', async (t) => {
  const table = tableOf(TEMPLATES.slice(0, 1), 3);
  table.meta[1 * META_STRIDE + META_HEADER_LENGTH] = TEMPLATE_STRIDE + 1;
  table.meta[2 * META_STRIDE + META_HEADER_LENGTH] = -1;
  const packets: Packet[] = [
    { headroom: 120, length: 60, v6: false, verdict: 1, srcPort: 0, seed: 1 },
    { headroom: 120, length: 60, v6: false, verdict: 2, srcPort: 0, seed: 2 },
    { headroom: 120, length: 60, v6: false, verdict: 0, srcPort: 0, seed: 3 },
  ];
  const { slab, desc } = layout(packets);
  desc[2 * DESC_STRIDE + DESC_LENGTH] = slab.length; // runs past the slab
  const before = slab.slice();
  t.equal(encapsulateBatch(slab, desc, 3, table), 0);
  t.same(
    [0, 1, 2].map((i) => desc[i * DESC_STRIDE + DESC_VERDICT]),
    [VERDICT_ENCAP_FAILED, VERDICT_ENCAP_FAILED, VERDICT_ENCAP_FAILED],
  );
  t.equal(equalBytes(slab, before), -1, 'nothing written');
  // An outer packet over 65,535 bytes is refused too.
  const big = layout([{ headroom: 50, length: 0xffff - 49, v6: false, verdict: 0, srcPort: 0, seed: 0 }]);
  t.equal(encapsulateBatch(big.slab, big.desc, 1, table), 0);
  t.equal(big.desc[DESC_VERDICT], VERDICT_ENCAP_FAILED);
});

t.test('only the first `count` descriptors are touched; reserved fields are left alone', async (t) => {
  const packets: Packet[] = [0, 1, 2, 3].map((i) => ({ headroom: 70, length: 80, v6: i % 2 === 0, verdict: i % 2, srcPort: 0, seed: i }));
  const { slab, desc } = layout(packets);
  const before = desc.slice();
  const slabBefore = slab.slice();
  t.equal(encapsulateBatch(slab, desc, 2, tableOf(TEMPLATES)), 2);
  t.same(Array.from(desc.subarray(2 * DESC_STRIDE)), Array.from(before.subarray(2 * DESC_STRIDE)), 'descriptors 2..3 untouched');
  const third = desc[2 * DESC_STRIDE + DESC_OFFSET] - 70;
  t.equal(equalBytes(slab.subarray(third), slabBefore.subarray(third)), -1, 'packets 2..3 untouched');
  for (let i = 0; i < 2; i++) {
    t.same([desc[i * DESC_STRIDE + DESC_GSO_SIZE], desc[i * DESC_STRIDE + DESC_FLAGS]], [1400 + i, i], `descriptor ${i}: GSO size and flags kept`);
  }
  t.equal(encapsulateBatch(slab, desc, 0, tableOf(TEMPLATES)), 0, 'count 0 does nothing');
});

t.test('TemplateTable: set() stores image and metadata, clears the slot, checks the index', async (t) => {
  const table = new TemplateTable(3);
  table.set(1, TEMPLATES[1]); // 70 bytes
  table.set(1, TEMPLATES[3]); // 28 bytes: the old tail must be cleared
  const slot = table.bytes.subarray(TEMPLATE_STRIDE, 2 * TEMPLATE_STRIDE);
  t.equal(equalBytes(slot.subarray(0, 28), TEMPLATES[3].bytes), -1, 'image stored');
  t.ok(
    slot.subarray(28).every((x) => x === 0),
    'rest of the slot zeroed',
  );
  t.same(Array.from(table.meta.subarray(META_STRIDE, 2 * META_STRIDE)).slice(0, 3), [28, 4, TEMPLATES[3].flags]);
  t.equal(META_HEADER_LENGTH, 0);
  t.same([META_IP_VERSION, META_FLAGS], [1, 2]);
  t.ok(
    table.bytes.subarray(0, TEMPLATE_STRIDE).every((x) => x === 0),
    'other slots untouched',
  );
  for (const index of [-1, 3, 1.5, NaN]) {
    let err: unknown;
    try {
      table.set(index, TEMPLATES[0]);
    } catch (e) {
      err = e;
    }
    t.ok(
      err instanceof WireError && err.code === 'value' && err.field === 'template index' && err.message.includes('template index'),
      `index ${index} rejected`,
    );
  }
  t.ok(
    TEMPLATES.every((tpl) => tpl.headerLength <= TEMPLATE_STRIDE),
    'every template fits a slot',
  );
  // A fresh table's slots are all unset (header length -1).
  t.same(
    Array.from(new TemplateTable(2).meta).filter((_, i) => i % META_STRIDE === META_HEADER_LENGTH),
    [-1, -1],
  );
  // Templates whose image does not match their length, or that do not fit a slot, are refused.
  for (const bad of [
    { ...TEMPLATES[0], headerLength: 49 },
    { bytes: new Uint8Array(TEMPLATE_STRIDE + 1), headerLength: TEMPLATE_STRIDE + 1, ipVersion: 0 as const, flags: 0 },
  ]) {
    let err: unknown;
    try {
      table.set(0, bad);
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof WireError && err.code === 'value' && err.field === 'template.headerLength', `template of ${bad.headerLength} bytes refused`);
  }
  // Caller-provided arrays (e.g. shared memory) must be large enough.
  let err: unknown;
  try {
    new TemplateTable(2, new Uint8Array(TEMPLATE_STRIDE), new Int32Array(2 * META_STRIDE));
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof WireError && err.field === 'TemplateTable', 'too-small arrays refused');
  const shared = new TemplateTable(
    2,
    new Uint8Array(new SharedArrayBuffer(2 * TEMPLATE_STRIDE)),
    TemplateTable.emptyMeta(2, new Int32Array(new SharedArrayBuffer(2 * META_STRIDE * 4))),
  );
  shared.set(1, TEMPLATES[0]);
  t.same([shared.meta[META_HEADER_LENGTH], shared.meta[META_STRIDE + META_HEADER_LENGTH]], [-1, 50], 'shared-memory table works');
});

t.test('property: random batches match encapsulate() one by one', async (t) => {
  const packetArb = fc.record({
    headroom: fc.integer({ min: 0, max: 80 }),
    length: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 100, max: 2000 })),
    v6: fc.boolean(),
    verdict: fc.integer({ min: -3, max: TEMPLATES.length + 1 }),
    srcPort: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 65535 })),
    seed: fc.integer(),
    notIP: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  });
  const table = tableOf(TEMPLATES);
  let failures = 0;
  let successes = 0;
  fc.assert(
    fc.property(fc.array(packetArb, { minLength: 0, maxLength: 24 }), fc.nat({ max: 8 }), fc.nat({ max: 30 }), (packets, slack, extra) => {
      const { slab, desc } = layout(packets, slack);
      const count = Math.max(0, packets.length - (extra % 3));
      const want = reference(slab, desc, count, TEMPLATES);
      const done = encapsulateBatch(slab, desc, count, table);
      for (let i = 0; i < count; i++) {
        if (desc[i * DESC_STRIDE + DESC_VERDICT] === VERDICT_ENCAP_FAILED && packets[i].verdict >= 0) failures++;
        if (desc[i * DESC_STRIDE + DESC_OUT_LENGTH] > 0) successes++;
      }
      if (done !== want.done) return false;
      if (equalBytes(slab, want.bytes) !== -1) return false;
      for (let i = 0; i < desc.length; i++) if (desc[i] !== want.desc[i]) return false;
      return true;
    }),
    { numRuns: 400 },
  );
  t.ok(failures > 50 && successes > 500, `both outcomes exercised (${failures} failed, ${successes} sent)`);
});
