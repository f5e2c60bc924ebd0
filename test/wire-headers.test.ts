// Table-driven header tests: valid headers built with the module's own
// write/template functions parse back field for field, and every kind of bad
// input is rejected with the right fault code and field (and, where there is
// a decode* variant, a WireError that names the field).
import t, { type Test } from 'tap';
import fc from 'fast-check';
import {
  applyTemplate,
  buildTemplate,
  checksum,
  encapsulate,
  MAX_HEADER,
  ethernet,
  formatIP,
  formatIPv4,
  formatIPv6,
  formatMac,
  ip,
  ipv4,
  ipv6,
  isIPv4,
  isIPv6,
  newFault,
  newOuterPacket,
  parseIP,
  parseIPv4,
  parseIPv6,
  parseMac,
  parseOuter,
  sum16,
  TPL_ETHERNET,
  TPL_UDP_CHECKSUM,
  udp,
  udpBackend,
  vxlan,
  WireError,
  type Fault,
  type FaultCode,
} from '@tulle/wire';

// ---------------------------------------------------------------- helpers

const SRC_MAC = '02:00:5e:00:53:01';
const DST_MAC = '02:00:5e:00:53:02';

function setIPv4Checksum(b: Uint8Array, off: number): void {
  const ihl = (b[off] & 0x0f) * 4;
  b[off + 10] = 0;
  b[off + 11] = 0;
  const c = checksum(b, off, ihl);
  b[off + 10] = c >>> 8;
  b[off + 11] = c & 0xff;
}

function fillPayload(b: Uint8Array, from: number, to: number, seed: number): void {
  for (let i = from; i < to; i++) b[i] = (Math.imul(i + seed, 0x9e3779b1) >>> 24) & 0xff;
}

/** A valid IPv4/UDP packet with `payload` bytes of UDP payload at `off` in a buffer of `off + total + pad` bytes. */
function innerV4(payload: number, off = 0, pad = 0): { bytes: Uint8Array; off: number; length: number } {
  const length = 28 + payload;
  const bytes = new Uint8Array(off + length + pad);
  ipv4.write(bytes, off, { totalLength: length, protocol: ipv4.PROTO_UDP, src: 0x0a000001, dst: 0x0a000002, id: 0x1234, ttl: 61 });
  udp.write(bytes, off + 20, 5000, 6000, 8 + payload);
  fillPayload(bytes, off + 28, off + length, payload);
  udp.fillChecksum(bytes, off, off + 20, 8 + payload);
  return { bytes, off, length };
}

function innerV6(payload: number, off = 0, pad = 0): { bytes: Uint8Array; off: number; length: number } {
  const length = 48 + payload;
  const bytes = new Uint8Array(off + length + pad);
  ipv6.write(bytes, off, {
    payloadLength: 8 + payload,
    nextHeader: ipv6.NEXT_UDP,
    src: parseIPv6('2001:db8::1'),
    dst: parseIPv6('2001:db8::2'),
    flowLabel: 0xabcde,
  });
  udp.write(bytes, off + 40, 5001, 6001, 8 + payload);
  fillPayload(bytes, off + 48, off + length, payload + 1);
  udp.fillChecksum(bytes, off, off + 40, 8 + payload);
  return { bytes, off, length };
}

/** Inner packet placed after `headroom` bytes, encapsulated with `tpl`. */
function encapsulated(tpl: ReturnType<typeof vxlan.template>, inner: { bytes: Uint8Array; off: number; length: number }, srcPort = 0) {
  const headroom = tpl.headerLength + 6;
  const bytes = new Uint8Array(headroom + inner.length + 4);
  bytes.set(inner.bytes.subarray(inner.off, inner.off + inner.length), headroom);
  const start = encapsulate(bytes, headroom, inner.length, tpl, srcPort);
  return { bytes, start, length: tpl.headerLength + inner.length, innerAt: headroom, innerLength: inner.length };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/**
 * One bad-input case: the parser (given a fresh Fault) must return false and
 * fill `code`/`field`; the decode variant, when there is one, must throw a
 * WireError with the same code, field and value whose message names the field.
 */
function rejects(t: Test, label: string, parse: (fault: Fault) => boolean, decode: (() => unknown) | null, code: FaultCode, field: string): void {
  const fault = newFault();
  const ok = parse(fault);
  t.equal(ok, false, `${label}: rejected`);
  t.same([fault.code, fault.field], [code, field], `${label}: fault ${code} ${field}`);
  t.ok(fault.allowed.length > 0, `${label}: fault says what is allowed`);
  if (decode === null) return;
  const e = thrown(decode);
  t.ok(e instanceof WireError, `${label}: decode throws a WireError`);
  if (e instanceof WireError) {
    t.same([e.code, e.field, e.value], [code, field, fault.value], `${label}: WireError carries the fault`);
    t.ok(e.message.includes(field), `${label}: message "${e.message}" names ${field}`);
    t.equal(e.name, 'WireError');
  }
}

// ---------------------------------------------------------------- IPv4

t.test('ipv4: write then parse/decode round trip', async (t) => {
  const b = new Uint8Array(64);
  const n = ipv4.write(b, 3, { tos: 0xb8, totalLength: 57, id: 0xbeef, dontFragment: true, ttl: 17, protocol: 6, src: 0xc0000201, dst: 0xcb007101 });
  t.equal(n, 20);
  t.equal(sum16(b, 3, 20), 0xffff, 'written checksum verifies');
  const h = ipv4.decode(b, 3, 60);
  t.same(h, {
    headerLength: 20,
    tos: 0xb8,
    totalLength: 57,
    id: 0xbeef,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 17,
    protocol: 6,
    checksum: (b[13] << 8) | b[14],
    src: 0xc0000201,
    dst: 0xcb007101,
  });
  const out = ipv4.newHeader();
  const fault = newFault();
  t.equal(ipv4.parse(b, 3, 57, out, fault), true, 'exact length');
  t.equal(fault.code, '', 'fault untouched on success');
  t.equal(ipv4.parse(b, 3, 61, out), true, 'trailing padding allowed');
  // Defaults: tos 0, id 0, ttl 64, DF clear.
  ipv4.write(b, 0, { totalLength: 20, protocol: 1, src: 0, dst: 0xffffffff });
  t.has(ipv4.decode(b, 0, 20), { tos: 0, id: 0, ttl: 64, dontFragment: false, protocol: 1, src: 0, dst: 0xffffffff });
  // Fragment fields (not written by write(): set by hand).
  b[6] = 0x20 | 0x01;
  b[7] = 0x23;
  setIPv4Checksum(b, 0);
  t.has(ipv4.decode(b, 0, 20), { moreFragments: true, dontFragment: false, fragmentOffset: 0x123 });
});

t.test('ipv4: header with options (IHL 6)', async (t) => {
  const b = new Uint8Array(40);
  ipv4.write(b, 0, { totalLength: 32, protocol: 17, src: 1, dst: 2 });
  b[0] = 0x46;
  b.set([1, 1, 1, 0], 20);
  setIPv4Checksum(b, 0);
  t.has(ipv4.decode(b, 0, 32), { headerLength: 24, totalLength: 32 });
  for (let length = 0; length < 32; length++) {
    const [code, field]: [FaultCode, string] = length < 20 ? ['truncated', 'ipv4'] : length < 24 ? ['ihl', 'ipv4.ihl'] : ['length', 'ipv4.totalLength'];
    rejects(
      t,
      `options header cut to ${length}`,
      (f) => ipv4.parse(b, 0, length, ipv4.newHeader(), f),
      () => ipv4.decode(b, 0, length),
      code,
      field,
    );
  }
});

t.test('ipv4: every bad input', async (t) => {
  const good = new Uint8Array(28);
  ipv4.write(good, 0, { totalLength: 28, protocol: 17, src: 0x0a000001, dst: 0x0a000002 });
  const parse =
    (b: Uint8Array, length = b.length) =>
    (f: Fault) =>
      ipv4.parse(b, 0, length, ipv4.newHeader(), f);
  const decode =
    (b: Uint8Array, length = b.length) =>
    () =>
      ipv4.decode(b, 0, length);
  for (let length = 0; length < 20; length++) {
    rejects(t, `truncated to ${length}`, parse(good, length), decode(good, length), 'truncated', 'ipv4');
  }
  for (let length = 20; length < 28; length++) {
    rejects(t, `buffer ${length} < totalLength 28`, parse(good, length), decode(good, length), 'length', 'ipv4.totalLength');
  }
  for (const version of [0, 1, 5, 6, 15]) {
    const b = good.slice();
    b[0] = (version << 4) | 5;
    setIPv4Checksum(b, 0);
    rejects(t, `version ${version}`, parse(b), decode(b), 'version', 'ipv4.version');
    const fault = newFault();
    ipv4.parse(b, 0, 28, ipv4.newHeader(), fault);
    t.equal(fault.value, version, 'fault value is the version');
  }
  for (let ihl = 0; ihl < 5; ihl++) {
    const b = good.slice();
    b[0] = 0x40 | ihl;
    rejects(t, `IHL ${ihl} < 5`, parse(b), decode(b), 'ihl', 'ipv4.ihl');
  }
  for (const ihl of [8, 15]) {
    const b = good.slice();
    b[0] = 0x40 | ihl;
    rejects(t, `IHL ${ihl} past a 28-byte buffer`, parse(b), decode(b), 'ihl', 'ipv4.ihl');
  }
  for (const total of [0, 19, 29, 0xffff]) {
    const b = good.slice();
    b[2] = total >>> 8;
    b[3] = total & 0xff;
    setIPv4Checksum(b, 0);
    rejects(t, `totalLength ${total} in a 28-byte buffer`, parse(b), decode(b), 'length', 'ipv4.totalLength');
  }
  for (const at of [1, 5, 8, 10, 11, 12, 19]) {
    const b = good.slice();
    b[at] ^= 0x01;
    rejects(t, `bit flipped at byte ${at}`, parse(b), decode(b), 'checksum', 'ipv4.checksum');
    t.equal(ipv4.parse(b, 0, 28, ipv4.newHeader(), undefined, { verifyChecksum: false }), true, `byte ${at}: accepted with verifyChecksum false`);
  }
  t.equal(ipv4.parse(good, 0, 28, ipv4.newHeader()), true, 'the unmodified packet still parses (no fault object needed)');
});

// ---------------------------------------------------------------- IPv6

t.test('ipv6: write then parse/decode round trip', async (t) => {
  const b = new Uint8Array(100);
  const src = parseIPv6('2001:db8::1');
  const dst = parseIPv6('2001:db8:ffff::abcd');
  t.equal(ipv6.write(b, 1, { trafficClass: 0xa5, flowLabel: 0xfedcb, payloadLength: 30, nextHeader: 17, hopLimit: 3, src, dst }), 40);
  const h = ipv6.decode(b, 1, 70);
  t.same(h, { trafficClass: 0xa5, flowLabel: 0xfedcb, payloadLength: 30, nextHeader: 17, hopLimit: 3, src, dst });
  t.not(h.src, src, 'addresses are copied, not aliased');
  t.equal(ipv6.parse(b, 1, 99, ipv6.newHeader()), true, 'trailing padding allowed');
  ipv6.write(b, 0, { payloadLength: 0, nextHeader: 59, src, dst });
  t.has(ipv6.decode(b, 0, 40), { trafficClass: 0, flowLabel: 0, hopLimit: 64, payloadLength: 0 });
});

t.test('ipv6: every bad input', async (t) => {
  const good = new Uint8Array(48);
  ipv6.write(good, 0, { payloadLength: 8, nextHeader: 17, src: parseIPv6('::1'), dst: parseIPv6('::2') });
  const parse =
    (b: Uint8Array, length = b.length) =>
    (f: Fault) =>
      ipv6.parse(b, 0, length, ipv6.newHeader(), f);
  const decode =
    (b: Uint8Array, length = b.length) =>
    () =>
      ipv6.decode(b, 0, length);
  for (let length = 0; length < 40; length++) rejects(t, `truncated to ${length}`, parse(good, length), decode(good, length), 'truncated', 'ipv6');
  for (let length = 40; length < 48; length++) {
    rejects(t, `buffer ${length} < 40 + payloadLength 8`, parse(good, length), decode(good, length), 'length', 'ipv6.payloadLength');
  }
  for (const version of [0, 4, 7, 15]) {
    const b = good.slice();
    b[0] = (version << 4) | (b[0] & 0x0f);
    rejects(t, `version ${version}`, parse(b), decode(b), 'version', 'ipv6.version');
  }
  const b = good.slice();
  b[4] = 0xff;
  rejects(t, 'payloadLength 0xff08', parse(b), decode(b), 'length', 'ipv6.payloadLength');
});

t.test('ipv6: upperLayer walks extension headers', async (t) => {
  const b = new Uint8Array(120);
  ipv6.write(b, 0, { payloadLength: 80, nextHeader: ipv6.NEXT_HOP_BY_HOP, src: new Uint8Array(16), dst: new Uint8Array(16) });
  b[40] = ipv6.NEXT_DEST_OPTS; // hop-by-hop, 8 bytes
  b[41] = 0;
  b[48] = ipv6.NEXT_FRAGMENT; // destination options, 16 bytes
  b[49] = 1;
  b[64] = ipv6.NEXT_TCP; // fragment header, offset 0
  const result = [0];
  t.equal(ipv6.upperLayer(b, 0, 120, result), 72);
  t.equal(result[0], ipv6.NEXT_TCP);
  t.equal(ipv6.upperLayer(b, 0, 60, result), -1, 'chain runs past the end');
  b[66] = 0x00;
  b[67] = 0x08; // fragment offset 1: not the first fragment
  t.equal(ipv6.upperLayer(b, 0, 120, result), -1, 'non-first fragment');
});

// ---------------------------------------------------------------- UDP

t.test('udp: write then parse/decode round trip, and checksums', async (t) => {
  const p = innerV4(13, 2, 3);
  t.same(udp.decode(p.bytes, p.off + 20, 21 + 3), { srcPort: 5000, dstPort: 6000, length: 21, checksum: (p.bytes[p.off + 26] << 8) | p.bytes[p.off + 27] });
  t.equal(udp.verifyChecksum(p.bytes, p.off, p.off + 20, 21), true, 'IPv4 checksum verifies');
  const q = innerV6(13);
  t.equal(udp.verifyChecksum(q.bytes, 0, 40, 21), true, 'IPv6 checksum verifies');
  for (const pk of [p, q]) {
    const at = pk.off + pk.length - 1;
    pk.bytes[at] ^= 0x40;
    const ipLen = pk === p ? 20 : 40;
    t.equal(udp.verifyChecksum(pk.bytes, pk.off, pk.off + ipLen, 21), false, 'a flipped payload bit fails');
    pk.bytes[at] ^= 0x40;
    pk.bytes[pk.off + ipLen + 6] = 0;
    pk.bytes[pk.off + ipLen + 7] = 0;
    t.equal(udp.verifyChecksum(pk.bytes, pk.off, pk.off + ipLen, 21), pk === p, 'checksum 0 means none over IPv4 only');
  }
  // A datagram whose checksum computes to 0 is sent as 0xffff (RFC 768).
  const z = new Uint8Array(30);
  ipv4.write(z, 0, { totalLength: 30, protocol: 17, src: 0, dst: 0 });
  udp.write(z, 20, 0, 0, 10);
  // Choose the last payload word so the whole sum is 0xffff (checksum 0).
  const s = sum16(z, 20, 10, ipv4.pseudoHeaderSum(z, 0, 17, 10));
  const fix = 0xffff - s;
  z[28] = fix >>> 8;
  z[29] = fix & 0xff;
  t.equal(udp.fillChecksum(z, 0, 20, 10), 0xffff);
  t.equal((z[26] << 8) | z[27], 0xffff);
  t.equal(udp.verifyChecksum(z, 0, 20, 10), true);
});

t.test('udp: every bad input', async (t) => {
  const good = new Uint8Array(12);
  udp.write(good, 0, 1, 2, 12);
  const parse =
    (b: Uint8Array, length = b.length) =>
    (f: Fault) =>
      udp.parse(b, 0, length, udp.newHeader(), f);
  const decode =
    (b: Uint8Array, length = b.length) =>
    () =>
      udp.decode(b, 0, length);
  for (let length = 0; length < 8; length++) rejects(t, `truncated to ${length}`, parse(good, length), decode(good, length), 'truncated', 'udp');
  for (let length = 8; length < 12; length++) rejects(t, `buffer ${length} < udp.length 12`, parse(good, length), decode(good, length), 'length', 'udp.length');
  for (const len of [0, 7, 13, 0xffff]) {
    const b = good.slice();
    b[4] = len >>> 8;
    b[5] = len & 0xff;
    rejects(t, `udp.length ${len} in 12 bytes`, parse(b), decode(b), 'length', 'udp.length');
  }
});

// ---------------------------------------------------------------- Ethernet

t.test('ethernet: write then parse/decode, and every truncation', async (t) => {
  const b = new Uint8Array(20);
  t.equal(ethernet.write(b, 1, parseMac(DST_MAC), parseMac(SRC_MAC), ethernet.ETHERTYPE_IPV6), 14);
  const h = ethernet.decode(b, 1, 14);
  t.equal(formatMac(h.dst), DST_MAC);
  t.equal(formatMac(h.src), SRC_MAC);
  t.equal(h.etherType, 0x86dd);
  t.equal(ethernet.etherTypeForIP(0x45), 0x0800);
  t.equal(ethernet.etherTypeForIP(0x60), 0x86dd);
  t.equal(ethernet.etherTypeForIP(0x50), 0);
  for (let length = 0; length < 14; length++) {
    rejects(
      t,
      `truncated to ${length}`,
      (f) => ethernet.parse(b, 1, length, ethernet.newHeader(), f),
      () => ethernet.decode(b, 1, length),
      'truncated',
      'ethernet',
    );
  }
});

// ---------------------------------------------------------------- VXLAN header

t.test('vxlan header: write then parse/decode, and every bad input', async (t) => {
  const b = new Uint8Array(10);
  for (const vni of [0, 1, 0x123456, vxlan.MAX_VNI]) {
    t.equal(vxlan.writeHeader(b, 2, vni), 8);
    t.same(vxlan.decodeHeader(b, 2, 8), { flags: 0x08, vni, reservedClear: true }, `vni ${vni}`);
  }
  // Reserved bits set: still accepted (receivers ignore them) but reported.
  for (const at of [0, 1, 2, 3, 7]) {
    vxlan.writeHeader(b, 0, 77);
    b[at] |= at === 0 ? 0x80 : 0x01;
    t.same(vxlan.decodeHeader(b, 0, 8), { flags: b[0], vni: 77, reservedClear: false }, `reserved bit at byte ${at}`);
  }
  vxlan.writeHeader(b, 0, 77);
  for (let length = 0; length < 8; length++) {
    rejects(
      t,
      `truncated to ${length}`,
      (f) => vxlan.parseHeader(b, 0, length, vxlan.newHeader(), f),
      () => vxlan.decodeHeader(b, 0, length),
      'truncated',
      'vxlan',
    );
  }
  for (const flags of [0x00, 0xf7, 0x80, 0x01]) {
    const c = b.slice();
    c[0] = flags;
    rejects(
      t,
      `flags 0x${flags.toString(16)} without I`,
      (f) => vxlan.parseHeader(c, 0, 8, vxlan.newHeader(), f),
      () => vxlan.decodeHeader(c, 0, 8),
      'flags',
      'vxlan.flags',
    );
  }
  for (const vni of [-1, vxlan.MAX_VNI + 1, 1.5, NaN]) {
    const e = thrown(() => vxlan.writeHeader(b, 0, vni));
    t.ok(e instanceof WireError && e.code === 'value' && e.field === 'vxlan.vni' && e.message.includes('vxlan.vni'), `writeHeader rejects vni ${vni}`);
  }
});

// ---------------------------------------------------------------- VXLAN frames

t.test('vxlan frame: template, encapsulate, decapsulate/decode', async (t) => {
  const tpl = vxlan.template({ vni: 0xabcdef, srcMac: SRC_MAC, dstMac: parseMac(DST_MAC) });
  t.same([tpl.headerLength, tpl.ipVersion, tpl.flags], [22, 0, TPL_ETHERNET]);
  for (const [name, inner, etherType] of [
    ['IPv4', innerV4(30), 0x0800],
    ['IPv6', innerV6(31), 0x86dd],
  ] as const) {
    const e = encapsulated(tpl, inner);
    t.equal(e.start, e.innerAt - 22, `${name}: outer offset`);
    const f = vxlan.decode(e.bytes, e.start, e.length);
    t.same(
      f,
      {
        vni: 0xabcdef,
        reservedClear: true,
        dstMacOffset: e.start + 8,
        srcMacOffset: e.start + 14,
        etherType,
        innerOffset: e.innerAt,
        innerLength: inner.length,
      },
      name,
    );
    t.equal(formatMac(e.bytes, f.dstMacOffset), DST_MAC);
    t.equal(formatMac(e.bytes, f.srcMacOffset), SRC_MAC);
    t.same(e.bytes.subarray(f.innerOffset, f.innerOffset + f.innerLength), inner.bytes, `${name}: inner bytes untouched`);
    // Ethernet padding after the inner packet is stripped.
    const out = vxlan.newFrame();
    t.equal(vxlan.decapsulate(e.bytes, e.start, e.length + 4, out), true);
    t.equal(out.innerLength, inner.length, `${name}: padding stripped`);
  }
  t.equal(vxlan.template({ srcMac: SRC_MAC, dstMac: DST_MAC }).bytes[6], vxlan.DEFAULT_VNI, 'default VNI 1');
  for (const [spec, field] of [
    [{ srcMac: SRC_MAC, dstMac: new Uint8Array(5) }, 'dstMac'],
    [{ srcMac: new Uint8Array(7), dstMac: DST_MAC }, 'srcMac'],
    [{ srcMac: 'nope', dstMac: DST_MAC }, 'mac address'],
    [{ srcMac: SRC_MAC, dstMac: DST_MAC, vni: 1 << 24 }, 'vxlan.vni'],
  ] as const) {
    const e = thrown(() => vxlan.template(spec));
    t.ok(e instanceof WireError && e.code === 'value' && e.field === field && e.message.includes(field), `template rejects bad ${field}`);
  }
});

t.test('vxlan frame: every bad input', async (t) => {
  const tpl = vxlan.template({ vni: 5, srcMac: SRC_MAC, dstMac: DST_MAC });
  const parse = (b: Uint8Array, off: number, length: number) => (f: Fault) => vxlan.decapsulate(b, off, length, vxlan.newFrame(), f);
  const decode = (b: Uint8Array, off: number, length: number) => () => vxlan.decode(b, off, length);
  const v4 = encapsulated(tpl, innerV4(10)); // 22 + 38
  for (let length = 0; length < v4.length; length++) {
    const [code, field]: [FaultCode, string] =
      length < 8
        ? ['truncated', 'vxlan']
        : length < 22
          ? ['truncated', 'vxlan.ethernet']
          : length === 22
            ? ['truncated', 'vxlan.inner']
            : length < 42
              ? ['truncated', 'ipv4']
              : ['length', 'ipv4.totalLength'];
    rejects(t, `IPv4 frame cut to ${length}`, parse(v4.bytes, v4.start, length), decode(v4.bytes, v4.start, length), code, field);
  }
  const v6 = encapsulated(tpl, innerV6(3)); // 22 + 51
  for (let length = 23; length < v6.length; length++) {
    const [code, field]: [FaultCode, string] = length < 62 ? ['truncated', 'ipv6'] : ['length', 'ipv6.payloadLength'];
    rejects(t, `IPv6 frame cut to ${length}`, parse(v6.bytes, v6.start, length), decode(v6.bytes, v6.start, length), code, field);
  }
  const mutate = (base: typeof v4, at: number, value: number) => {
    const b = base.bytes.slice();
    b[base.start + at] = value;
    return b;
  };
  for (const flags of [0x00, 0x80, 0xf7]) {
    const b = mutate(v4, 0, flags);
    rejects(t, `no I flag (0x${flags.toString(16)})`, parse(b, v4.start, v4.length), decode(b, v4.start, v4.length), 'flags', 'vxlan.flags');
  }
  for (const etherType of [0x0806, 0x8100, 0x0000, 0x86de]) {
    const b = mutate(v4, 20, etherType >>> 8);
    b[v4.start + 21] = etherType & 0xff;
    rejects(t, `ethertype 0x${etherType.toString(16)}`, parse(b, v4.start, v4.length), decode(b, v4.start, v4.length), 'ethertype', 'ethernet.etherType');
  }
  {
    const b = mutate(v4, 20, 0x86); // says IPv6, carries IPv4
    b[v4.start + 21] = 0xdd;
    rejects(t, 'IPv6 ethertype over an IPv4 packet', parse(b, v4.start, v4.length), decode(b, v4.start, v4.length), 'version', 'inner.version');
    const c = mutate(v6, 20, 0x08); // says IPv4, carries IPv6
    c[v6.start + 21] = 0x00;
    rejects(t, 'IPv4 ethertype over an IPv6 packet', parse(c, v6.start, v6.length), decode(c, v6.start, v6.length), 'version', 'inner.version');
    const d = mutate(v4, 22, 0x55); // version 5
    rejects(t, 'inner version 5', parse(d, v4.start, v4.length), decode(d, v4.start, v4.length), 'version', 'inner.version');
  }
  {
    const b = mutate(v4, 22, 0x44);
    rejects(t, 'inner IHL 4', parse(b, v4.start, v4.length), decode(b, v4.start, v4.length), 'ihl', 'ipv4.ihl');
    const c = mutate(v4, 22, 0x4f);
    rejects(t, 'inner IHL 15 past the buffer', parse(c, v4.start, v4.length), decode(c, v4.start, v4.length), 'ihl', 'ipv4.ihl');
    const d = mutate(v4, 24, 0x01); // inner totalLength 0x0126 > 38
    rejects(t, 'inner totalLength past the buffer', parse(d, v4.start, v4.length), decode(d, v4.start, v4.length), 'length', 'ipv4.totalLength');
    const e = mutate(v6, 26, 0x02); // inner payloadLength 0x020b
    rejects(t, 'inner payloadLength past the buffer', parse(e, v6.start, v6.length), decode(e, v6.start, v6.length), 'length', 'ipv6.payloadLength');
  }
});

// ---------------------------------------------------------------- udp backend and ip.packetLength

t.test('udp backend and ip.packetLength: valid packets', async (t) => {
  const tpl = udpBackend.template();
  t.same([tpl.headerLength, tpl.ipVersion, tpl.flags], [0, 0, 0]);
  for (const inner of [innerV4(0), innerV4(100, 3, 9), innerV6(0), innerV6(77, 1, 2)]) {
    const start = udpBackend.encapsulate(inner.bytes, inner.off, inner.length, tpl);
    t.equal(start, inner.off, 'nothing to add without an underlay');
    t.same(udpBackend.decode(inner.bytes, inner.off), { innerOffset: inner.off, innerLength: inner.length });
    t.equal(ip.packetLength(inner.bytes, inner.off, inner.bytes.length - inner.off), inner.length, 'padding excluded');
  }
  const v4 = innerV4(5);
  t.equal(ip.packetLength(v4.bytes, 0, 33, newFault()), 33, 'exact length');
});

t.test('udp backend and ip.packetLength: every bad input', async (t) => {
  const cases = (label: string, b: Uint8Array, off: number, length: number, code: FaultCode, field: string) => {
    rejects(
      t,
      `udpBackend: ${label}`,
      (f) => udpBackend.decapsulate(b, off, length, udpBackend.newFrame(), f),
      () => udpBackend.decode(b, off, length),
      code,
      field,
    );
    rejects(t, `packetLength: ${label}`, (f) => ip.packetLength(b, off, length, f) >= 0, null, code, field);
    t.equal(ip.packetLength(b, off, length), -1, `packetLength: ${label}: -1 without a fault object`);
  };
  const v4 = innerV4(12, 1); // 40 bytes
  for (let length = 0; length < 40; length++) {
    const [code, field]: [FaultCode, string] = length === 0 ? ['truncated', 'ip'] : length < 20 ? ['truncated', 'ipv4'] : ['length', 'ipv4.totalLength'];
    cases(`IPv4 cut to ${length}`, v4.bytes, 1, length, code, field);
  }
  const v6 = innerV6(12, 1); // 60 bytes
  for (let length = 1; length < 60; length++) {
    const [code, field]: [FaultCode, string] = length < 40 ? ['truncated', 'ipv6'] : ['length', 'ipv6.payloadLength'];
    cases(`IPv6 cut to ${length}`, v6.bytes, 1, length, code, field);
  }
  for (const first of [0x00, 0x35, 0x55, 0xf5]) {
    const b = v4.bytes.slice();
    b[1] = first;
    cases(`version ${first >>> 4}`, b, 1, 40, 'version', 'ip.version');
  }
  for (const ihl of [0, 4]) {
    const b = v4.bytes.slice();
    b[1] = 0x40 | ihl;
    cases(`IHL ${ihl}`, b, 1, 40, 'ihl', 'ipv4.ihl');
  }
  {
    const b = v4.bytes.slice();
    b[1] = 0x4f;
    cases('IHL 15 past a 40-byte buffer', b, 1, 40, 'ihl', 'ipv4.ihl');
    const c = v4.bytes.slice();
    c[3] = 0;
    c[4] = 19;
    cases('totalLength 19 < header', c, 1, 40, 'length', 'ipv4.totalLength');
    const d = v6.bytes.slice();
    d[5] = 0x01;
    cases('payloadLength 0x0114 past the buffer', d, 1, 60, 'length', 'ipv6.payloadLength');
  }
});

// ---------------------------------------------------------------- outer headers

const U4 = { src: '192.0.2.1', dst: '198.51.100.7', dstPort: 4789, srcPort: 40000, ttl: 9, tos: 0x28 };
const U6 = { src: '2001:db8::1', dst: '2001:db8::2', dstPort: 8285, srcPort: 40001, ttl: 7, tos: 0x10 };

t.test('outer templates: fields written by encapsulate parse back', async (t) => {
  const cases = [
    ['vxlan/IPv4', vxlan.template({ vni: 42, srcMac: SRC_MAC, dstMac: DST_MAC, underlay: U4 }), 50, 4, TPL_ETHERNET | TPL_UDP_CHECKSUM],
    ['vxlan/IPv6', vxlan.template({ vni: 42, srcMac: SRC_MAC, dstMac: DST_MAC, underlay: U6 }), 70, 6, TPL_ETHERNET | TPL_UDP_CHECKSUM],
    ['udp/IPv4', udpBackend.template({ underlay: U4 }), 28, 4, TPL_UDP_CHECKSUM],
    ['udp/IPv6', udpBackend.template({ underlay: U6 }), 48, 6, TPL_UDP_CHECKSUM],
    ['udp/IPv4 no checksum', udpBackend.template({ underlay: { ...U4, udpChecksum: false, dontFragment: false } }), 28, 4, 0],
  ] as const;
  for (const [name, tpl, headerLength, ipVersion, flags] of cases) {
    t.same([tpl.headerLength, tpl.ipVersion, tpl.flags], [headerLength, ipVersion, flags], `${name}: template`);
    for (const [innerName, inner] of [
      ['v4', innerV4(25)],
      ['v6', innerV6(26)],
    ] as const) {
      for (const srcPort of [0, 55555]) {
        const label = `${name} inner ${innerName} srcPort ${srcPort}`;
        const e = encapsulated(tpl, inner, srcPort);
        const u = ipVersion === 4 ? U4 : U6;
        let udpAt: number;
        if (ipVersion === 4) {
          const h = ipv4.decode(e.bytes, e.start, e.length);
          t.has(
            h,
            { totalLength: e.length, protocol: 17, ttl: u.ttl, tos: u.tos, dontFragment: flags !== 0, src: parseIPv4(U4.src), dst: parseIPv4(U4.dst) },
            `${label}: ipv4`,
          );
          udpAt = e.start + 20;
        } else {
          const h = ipv6.decode(e.bytes, e.start, e.length);
          t.has(h, { payloadLength: e.length - 40, nextHeader: 17, hopLimit: u.ttl, trafficClass: u.tos }, `${label}: ipv6`);
          t.same([formatIPv6(h.src), formatIPv6(h.dst)], [U6.src, U6.dst]);
          udpAt = e.start + 40;
        }
        const uh = udp.decode(e.bytes, udpAt, e.start + e.length - udpAt);
        t.has(uh, { srcPort: srcPort || u.srcPort, dstPort: u.dstPort, length: e.start + e.length - udpAt }, `${label}: udp`);
        t.equal(uh.checksum === 0, (flags & TPL_UDP_CHECKSUM) === 0, `${label}: checksum present iff flagged`);
        t.equal(udp.verifyChecksum(e.bytes, e.start, udpAt, uh.length), true, `${label}: checksum verifies`);
        const o = newOuterPacket();
        t.equal(parseOuter(e.bytes, e.start, e.length, o), true, `${label}: parseOuter`);
        t.same(
          o,
          {
            ipVersion,
            src4: ipVersion === 4 ? parseIPv4(U4.src) : 0,
            srcOffset: e.start + (ipVersion === 4 ? 12 : 8),
            srcPort: srcPort || u.srcPort,
            dstPort: u.dstPort,
            payloadOffset: udpAt + 8,
            payloadLength: e.length - (udpAt - e.start) - 8,
          },
          `${label}: outer packet`,
        );
        if ((flags & TPL_ETHERNET) !== 0) {
          const f = vxlan.decode(e.bytes, o.payloadOffset, o.payloadLength);
          t.same([f.vni, f.etherType, f.innerOffset, f.innerLength], [42, innerName === 'v4' ? 0x0800 : 0x86dd, e.innerAt, inner.length], `${label}: vxlan`);
        } else {
          t.same(udpBackend.decode(e.bytes, o.payloadOffset, o.payloadLength), { innerOffset: e.innerAt, innerLength: inner.length }, `${label}: udp backend`);
        }
      }
    }
  }
});

t.test('outer templates: bad underlays', async (t) => {
  for (const [underlay, field] of [
    [{ src: '192.0.2.1', dst: '2001:db8::1', dstPort: 1 }, 'underlay.dst'],
    [{ src: '192.0.2.1', dst: '192.0.2.2', dstPort: 0 }, 'underlay.dstPort'],
    [{ src: '192.0.2.1', dst: '192.0.2.2', dstPort: 65536 }, 'underlay.dstPort'],
    [{ src: '192.0.2.1', dst: '192.0.2.2', dstPort: 1.5 }, 'underlay.dstPort'],
    [{ src: '192.0.2.1', dst: '192.0.2.2', dstPort: 1, srcPort: 0 }, 'underlay.srcPort'],
    [{ src: '192.0.2.256', dst: '192.0.2.2', dstPort: 1 }, 'ipv4 address'],
    [{ src: '2001:db8::1', dst: '2001:db8::g', dstPort: 1 }, 'ipv6 address'],
  ] as const) {
    const e = thrown(() => udpBackend.template({ underlay: underlay }));
    t.ok(e instanceof WireError && e.code === 'value' && e.field === field && e.message.includes(field), `rejects ${JSON.stringify(underlay)}: ${String(e)}`);
  }
});

t.test('encapsulate: no headroom, and lengths out of range', async (t) => {
  const tpl = vxlan.template({ srcMac: SRC_MAC, dstMac: DST_MAC, underlay: U4 });
  const inner = innerV4(10);
  for (const innerOffset of [0, 1, 49]) {
    const b = new Uint8Array(innerOffset + inner.length);
    b.set(inner.bytes, innerOffset);
    const before = b.slice();
    const e = thrown(() => encapsulate(b, innerOffset, inner.length, tpl));
    t.ok(
      e instanceof WireError && e.code === 'headroom' && e.field === 'innerOffset' && e.message.includes('innerOffset'),
      `headroom ${innerOffset} < 50 throws`,
    );
    for (const enc of [vxlan.encapsulate, udpBackend.encapsulate]) {
      const e2 = thrown(() => enc(b, innerOffset, inner.length, tpl));
      t.ok(e2 instanceof WireError && e2.code === 'headroom', 'backend encapsulate throws too');
    }
    t.same(b, before, 'buffer untouched on failure');
    const fault = newFault();
    t.equal(applyTemplate(b, innerOffset, inner.length, tpl.bytes, 0, tpl.headerLength, tpl.ipVersion, tpl.flags, 0, fault), -1);
    t.same([fault.code, fault.field], ['headroom', 'innerOffset']);
  }
  const b = new Uint8Array(50 + inner.length);
  b.set(inner.bytes, 50);
  t.equal(encapsulate(b, 50, inner.length, tpl), 0, 'exactly enough headroom');
  for (const [innerOffset, innerLength] of [
    [50, inner.length + 1],
    [50, -1],
    [-1, 5],
    [60, inner.length],
  ]) {
    const e = thrown(() => encapsulate(b, innerOffset, innerLength, tpl));
    t.ok(e instanceof WireError && e.code === 'length' && e.field === 'innerLength', `inner ${innerOffset}+${innerLength} outside a ${b.length}-byte buffer`);
  }
  // Only IP packets go in: the version nibble picks the inner ethertype.
  for (const first of [0x00, 0x15, 0x55, 0xf0]) {
    const c = new Uint8Array(50 + inner.length);
    c.set(inner.bytes, 50);
    c[50] = first;
    const e = thrown(() => encapsulate(c, 50, inner.length, tpl));
    t.ok(e instanceof WireError && e.code === 'version' && e.field === 'inner.version', `inner first byte 0x${first.toString(16)} rejected`);
  }
  {
    const e = thrown(() => encapsulate(new Uint8Array(60), 50, 0, tpl));
    t.ok(e instanceof WireError && e.code === 'version', 'an empty inner packet is rejected');
  }
  // The outer packet may not exceed 65,535 bytes of IPv4 total length...
  const big = new Uint8Array(70 + 0xffff + 40);
  big[50] = 0x45;
  let e = thrown(() => encapsulate(big, 50, 0xffff - 49, tpl));
  t.ok(e instanceof WireError && e.code === 'length' && e.field === 'innerLength', 'IPv4 outer length 65,536 rejected');
  t.equal(encapsulate(big, 50, 0xffff - 50, tpl), 0, 'IPv4 outer length 65,535 accepted');
  t.equal(ipv4.decode(big, 0, 0xffff).totalLength, 0xffff);
  // ...or 65,535 bytes of IPv6 payload (the fixed header is not counted).
  const tpl6 = vxlan.template({ srcMac: SRC_MAC, dstMac: DST_MAC, underlay: U6 });
  big[70] = 0x60;
  e = thrown(() => encapsulate(big, 70, 0xffff + 40 - 70 + 1, tpl6));
  t.ok(e instanceof WireError && e.code === 'length' && e.field === 'innerLength', 'IPv6 payload length 65,536 rejected');
  t.equal(encapsulate(big, 70, 0xffff + 40 - 70, tpl6), 0, 'IPv6 payload length 65,535 accepted');
  t.equal(ipv6.decode(big, 0).payloadLength, 0xffff);
  const payloadOnly = vxlan.template({ srcMac: SRC_MAC, dstMac: DST_MAC });
  big[22] = 0x45;
  t.equal(encapsulate(big, 22, 0xffff + 40, payloadOnly), 0, 'no IP header: no 65,535 limit');
  // Template size and table checks.
  e = thrown(() => buildTemplate(new Uint8Array(49), false, U6));
  t.ok(e instanceof WireError && e.code === 'value' && e.field === 'template', 'a template over MAX_HEADER bytes is refused');
  t.equal(buildTemplate(new Uint8Array(MAX_HEADER - 48), false, U6).headerLength, MAX_HEADER, 'exactly MAX_HEADER is fine');
  const fault = newFault();
  t.equal(applyTemplate(big, 100, 10, new Uint8Array(200), 0, MAX_HEADER + 1, 0, 0, 0, fault), -1);
  t.same([fault.code, fault.field], ['value', 'template.headerLength'], 'applyTemplate refuses an oversized header length');
});

t.test('templates: the source port defaults to the destination port', async (t) => {
  for (const underlay of [
    { src: '192.0.2.1', dst: '192.0.2.2', dstPort: 8285 },
    { src: '2001:db8::1', dst: '2001:db8::2', dstPort: 4789 },
  ]) {
    const tpl = udpBackend.template({ underlay });
    const e = encapsulated(tpl, innerV4(3));
    const o = newOuterPacket();
    t.equal(parseOuter(e.bytes, e.start, e.length, o), true);
    t.same([o.srcPort, o.dstPort], [underlay.dstPort, underlay.dstPort], underlay.src);
  }
});

t.test('parseOuter: every bad input', async (t) => {
  const parse = (b: Uint8Array, off: number, length: number) => (f: Fault) => parseOuter(b, off, length, newOuterPacket(), f);
  const tpl4 = vxlan.template({ srcMac: SRC_MAC, dstMac: DST_MAC, underlay: U4 });
  const tpl6 = udpBackend.template({ underlay: U6 });
  const v4 = encapsulated(tpl4, innerV4(4)); // 50 + 32 = 82
  const v6 = encapsulated(tpl6, innerV6(4)); // 48 + 52 = 100
  for (let length = 0; length < v4.length; length++) {
    const [code, field]: [FaultCode, string] = length === 0 ? ['truncated', 'outer'] : length < 20 ? ['truncated', 'ipv4'] : ['length', 'ipv4.totalLength'];
    rejects(t, `IPv4 cut to ${length}`, parse(v4.bytes, v4.start, length), null, code, field);
  }
  for (let length = 1; length < v6.length; length++) {
    const [code, field]: [FaultCode, string] = length < 40 ? ['truncated', 'ipv6'] : ['length', 'ipv6.payloadLength'];
    rejects(t, `IPv6 cut to ${length}`, parse(v6.bytes, v6.start, length), null, code, field);
  }
  const v4case = (label: string, edit: (b: Uint8Array, s: number) => void, code: FaultCode, field: string, fixIp = true) => {
    const b = v4.bytes.slice();
    edit(b, v4.start);
    if (fixIp) setIPv4Checksum(b, v4.start);
    rejects(t, `IPv4: ${label}`, parse(b, v4.start, v4.length), null, code, field);
  };
  const v6case = (label: string, edit: (b: Uint8Array, s: number) => void, code: FaultCode, field: string) => {
    const b = v6.bytes.slice();
    edit(b, v6.start);
    rejects(t, `IPv6: ${label}`, parse(b, v6.start, v6.length), null, code, field);
  };
  for (const v of [0, 5, 7, 15])
    v4case(
      `version ${v}`,
      (b, s) => {
        b[s] = (v << 4) | 5;
      },
      'version',
      'ip.version',
    );
  for (const ihl of [0, 4])
    v4case(
      `IHL ${ihl}`,
      (b, s) => {
        b[s] = 0x40 | ihl;
      },
      'ihl',
      'ipv4.ihl',
      false,
    );
  {
    const b = v4.bytes.slice();
    b[v4.start] = 0x4f;
    rejects(t, 'IPv4: IHL 15 past a 40-byte buffer', parse(b, v4.start, 40), null, 'ihl', 'ipv4.ihl');
  }
  v4case(
    'totalLength 19',
    (b, s) => {
      b[s + 2] = 0;
      b[s + 3] = 19;
    },
    'length',
    'ipv4.totalLength',
  );
  v4case(
    'totalLength past the buffer',
    (b, s) => {
      b[s + 3] += 1;
    },
    'length',
    'ipv4.totalLength',
  );
  for (const at of [1, 4, 8, 12, 19])
    v4case(
      `header byte ${at} changed`,
      (b, s) => {
        b[s + at] ^= 0x10;
      },
      'checksum',
      'ipv4.checksum',
      false,
    );
  v4case(
    'MF set',
    (b, s) => {
      b[s + 6] |= 0x20;
    },
    'flags',
    'ipv4.fragment',
  );
  v4case(
    'fragment offset 1',
    (b, s) => {
      b[s + 7] = 1;
    },
    'flags',
    'ipv4.fragment',
  );
  v4case(
    'protocol TCP',
    (b, s) => {
      b[s + 9] = 6;
    },
    'value',
    'ipv4.protocol',
  );
  v4case(
    'IP payload shorter than a UDP header',
    (b, s) => {
      b[s + 2] = 0;
      b[s + 3] = 24;
    },
    'truncated',
    'udp',
  );
  v4case(
    'udp.length past the IP payload',
    (b, s) => {
      b[s + 25] += 1;
    },
    'length',
    'udp.length',
  );
  v4case(
    'udp.length short of the IP payload',
    (b, s) => {
      b[s + 25] -= 1;
    },
    'length',
    'udp.length',
  );
  v4case(
    'udp.length 7',
    (b, s) => {
      b[s + 24] = 0;
      b[s + 25] = 7;
    },
    'length',
    'udp.length',
  );
  v4case(
    'UDP payload byte changed',
    (b, s) => {
      b[s + 60] ^= 0x01;
    },
    'checksum',
    'udp.checksum',
  );
  v4case(
    'UDP checksum changed',
    (b, s) => {
      b[s + 27] ^= 0x80;
    },
    'checksum',
    'udp.checksum',
  );
  v4case(
    'outer source address changed (pseudo-header)',
    (b, s) => {
      b[s + 15] ^= 0x01;
    },
    'checksum',
    'udp.checksum',
  );
  v6case(
    'version nibble 4 on an IPv6 header (totalLength = flow label bits)',
    (b, s) => {
      b[s] = 0x45;
      b[s + 3] = 0;
    },
    'length',
    'ipv4.totalLength',
  );
  v6case(
    'payloadLength past the buffer',
    (b, s) => {
      b[s + 5] += 1;
    },
    'length',
    'ipv6.payloadLength',
  );
  v6case(
    'next header TCP',
    (b, s) => {
      b[s + 6] = 6;
    },
    'value',
    'ipv6.nextHeader',
  );
  v6case(
    'next header hop-by-hop (not followed)',
    (b, s) => {
      b[s + 6] = 0;
    },
    'value',
    'ipv6.nextHeader',
  );
  v6case(
    'IP payload shorter than a UDP header',
    (b, s) => {
      b[s + 4] = 0;
      b[s + 5] = 7;
    },
    'truncated',
    'udp',
  );
  v6case(
    'udp.length short of the IP payload',
    (b, s) => {
      b[s + 45] -= 2;
    },
    'length',
    'udp.length',
  );
  v6case(
    'UDP checksum 0 (not allowed over IPv6)',
    (b, s) => {
      b[s + 46] = 0;
      b[s + 47] = 0;
    },
    'checksum',
    'udp.checksum',
  );
  v6case(
    'UDP payload byte changed',
    (b, s) => {
      b[s + 70] ^= 0x04;
    },
    'checksum',
    'udp.checksum',
  );
  v6case(
    'outer destination changed (pseudo-header)',
    (b, s) => {
      b[s + 39] ^= 0x01;
    },
    'checksum',
    'udp.checksum',
  );
  {
    // No UDP checksum over IPv4: accepted, and payload corruption goes unnoticed by design.
    const tpl = udpBackend.template({ underlay: { ...U4, udpChecksum: false } });
    const e = encapsulated(tpl, innerV4(4));
    e.bytes[e.start + 50] ^= 1;
    t.equal(parseOuter(e.bytes, e.start, e.length, newOuterPacket()), true, 'IPv4 with UDP checksum 0 accepted');
  }
  {
    // Outer IPv4 with options: the UDP header follows the options.
    const b = new Uint8Array(4 + 24 + 8 + 5);
    ipv4.write(b, 4, { totalLength: 37, protocol: 17, src: 0x0a000001, dst: 0x0a000002 });
    b[4] = 0x46;
    setIPv4Checksum(b, 4);
    udp.write(b, 28, 1111, 2222, 13);
    b.set([1, 2, 3, 4, 5], 36);
    udp.fillChecksum(b, 4, 28, 13);
    const o = newOuterPacket();
    t.equal(parseOuter(b, 4, 37, o), true, 'outer IPv4 with options');
    t.same([o.srcPort, o.dstPort, o.payloadOffset, o.payloadLength], [1111, 2222, 36, 5]);
  }
});

// ---------------------------------------------------------------- addresses

/** RFC 5952 by brute force: the longest (then leftmost) window of 2+ zero words becomes "::". */
function canonicalIPv6(words: number[]): string {
  const hexes = words.map((w) => w.toString(16));
  for (let len = 8; len >= 2; len--) {
    for (let start = 0; start + len <= 8; start++) {
      if (words.slice(start, start + len).every((w) => w === 0)) {
        return `${hexes.slice(0, start).join(':')}::${hexes.slice(start + len).join(':')}`;
      }
    }
  }
  return hexes.join(':');
}

t.test('address: IPv4 text', async (t) => {
  for (const [text, value] of [
    ['0.0.0.0', 0],
    ['255.255.255.255', 0xffffffff],
    ['192.0.2.1', 0xc0000201],
    ['198.18.0.255', 0xc61200ff],
    ['1.2.3.4', 0x01020304],
  ] as const) {
    t.equal(parseIPv4(text), value, text);
    t.equal(formatIPv4(value), text);
    t.equal(isIPv4(text), true);
  }
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), (v) => parseIPv4(formatIPv4(v)) === v));
  fc.assert(fc.property(fc.ipV4(), (s) => formatIPv4(parseIPv4(s)) === s));
  t.pass('round trips over random addresses');
  for (const text of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.1',
    '1.2.3.256',
    '01.2.3.4',
    '1.2.3.-1',
    ' 1.2.3.4',
    '1.2.3.4 ',
    'a.b.c.d',
    '1..3.4',
    '1.2.3.4\n',
    '0x1.2.3.4',
    '1e2.0.0.1',
    '::1',
    '1.2.3.4/24',
  ]) {
    const e = thrown(() => parseIPv4(text));
    t.ok(
      e instanceof WireError && e.code === 'value' && e.field === 'ipv4 address' && e.message.includes(`"${text}"`),
      `rejects ${JSON.stringify(text)} naming it`,
    );
    t.equal(isIPv4(text), false);
  }
});

t.test('address: IPv6 text', async (t) => {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  for (const [text, bytes, canonical] of [
    ['::', '00000000000000000000000000000000', '::'],
    ['::1', '00000000000000000000000000000001', '::1'],
    ['1::', '00010000000000000000000000000000', '1::'],
    ['2001:db8::1', '20010db8000000000000000000000001', '2001:db8::1'],
    ['2001:0DB8:0000:0000:0008:0800:200C:417A', '20010db80000000000080800200c417a', '2001:db8::8:800:200c:417a'],
    ['2001:db8:0:1:1:1:1:1', '20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'], // RFC 5952 4.2.2: one 0 not compressed
    ['2001:0:0:1:0:0:0:1', '20010000000000010000000000000001', '2001:0:0:1::1'], // 4.2.3: the longest run
    ['2001:db8:0:0:1:0:0:1', '20010db8000000000001000000000001', '2001:db8::1:0:0:1'], // 4.2.3: the first of equal runs
    ['2001:db8::0001', '20010db8000000000000000000000001', '2001:db8::1'], // 4.1: no leading zeros
    ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201', '::ffff:c000:201'],
    ['64:ff9b::198.51.100.7', '0064ff9b0000000000000000c6336407', '64:ff9b::c633:6407'],
    ['1:2:3:4:5:6:1.2.3.4', '00010002000300040005000601020304', '1:2:3:4:5:6:102:304'],
    ['1:2:3:4:5:6:7::', '00010002000300040005000600070000', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '00000002000300040005000600070008', '0:2:3:4:5:6:7:8'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffffffffffffffffffffffffffffffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['fe80::1:0:0:0', 'fe800000000000000001000000000000', 'fe80::1:0:0:0'], // equal runs: the first
  ] as const) {
    const b = parseIPv6(text);
    t.equal(hex(b), bytes, `parse ${text}`);
    t.equal(formatIPv6(b), canonical, `format ${text}`);
    t.equal(hex(parseIPv6(canonical)), bytes, `canonical ${canonical} parses back`);
    t.equal(isIPv6(text), true);
  }
  const padded = new Uint8Array(20);
  padded.set(parseIPv6('2001:db8::7'), 3);
  t.equal(formatIPv6(padded, 3), '2001:db8::7', 'format at an offset');
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => hex(parseIPv6(formatIPv6(b))) === hex(b)),
    { numRuns: 2000 },
  );
  // Sparse addresses (mostly zero words) exercise the run choice.
  fc.assert(
    fc.property(fc.array(fc.constantFrom(0, 0, 0, 1, 0xabcd), { minLength: 8, maxLength: 8 }), (ws) => {
      const b = new Uint8Array(16);
      ws.forEach((w, i) => {
        b[2 * i] = w >>> 8;
        b[2 * i + 1] = w & 0xff;
      });
      return formatIPv6(b) === canonicalIPv6(ws) && hex(parseIPv6(formatIPv6(b))) === hex(b);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.ipV6(), (s) => {
      const b = parseIPv6(s);
      return hex(parseIPv6(formatIPv6(b))) === hex(b);
    }),
    { numRuns: 2000 },
  );
  t.pass('round trips over random addresses');
  for (const text of [
    '',
    ':',
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::',
    'g::',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '1.2.3.4',
    ':1::',
    '1::2:',
    '::1.2.3',
    '::256.1.1.1',
    '::1.2.3.4:5',
    '1.2.3.4::',
    '1:2.3.4.5::',
    '1:2:3:4:5:6:7:1.2.3.4',
    ' ::1',
    '::1 ',
    '2001:db8::1%eth0',
    '[::1]',
  ]) {
    const e = thrown(() => parseIPv6(text));
    t.ok(
      e instanceof WireError && e.code === 'value' && e.field === 'ipv6 address' && e.message.includes(`"${text}"`),
      `rejects ${JSON.stringify(text)} naming it: ${String(e)}`,
    );
    t.equal(isIPv6(text), false);
  }
});

t.test('address: MAC and either-family IP text', async (t) => {
  const mac = parseMac('02:00:5E:00:53:ff');
  t.same([...mac], [2, 0, 0x5e, 0, 0x53, 0xff]);
  t.equal(formatMac(mac), '02:00:5e:00:53:ff');
  const padded = new Uint8Array(9);
  padded.set(mac, 2);
  t.equal(formatMac(padded, 2), '02:00:5e:00:53:ff');
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 6, maxLength: 6 }),
      (b) => formatMac(parseMac(formatMac(b))) === formatMac(b) && parseMac(formatMac(b)).every((x, i) => x === b[i]),
    ),
  );
  t.pass('MAC round trips');
  for (const text of [
    '',
    '02:00:5e:00:53',
    '02-00-5e-00-53-01',
    '2:0:5e:0:53:1',
    '02:00:5e:00:53:0g',
    '02:00:5e:00:53:01:02',
    '0200.5e00.5301',
    '02:00:5e:00:53:01 ',
  ]) {
    const e = thrown(() => parseMac(text));
    t.ok(e instanceof WireError && e.code === 'value' && e.field === 'mac address' && e.message.includes(`"${text}"`), `rejects MAC ${JSON.stringify(text)}`);
  }
  t.same([...parseIP('192.0.2.1')], [192, 0, 2, 1]);
  t.equal(parseIP('2001:db8::1').length, 16);
  t.equal(formatIP(parseIP('192.0.2.1')), '192.0.2.1');
  t.equal(formatIP(parseIP('2001:DB8::1')), '2001:db8::1');
  t.ok(thrown(() => parseIP('300.1.1.1')) instanceof WireError);
  t.ok(thrown(() => parseIP('1:2')) instanceof WireError);
});

t.test('WireError: message, name and defaults', async (t) => {
  const e = new WireError({ code: 'length', field: 'udp.length', value: 7, allowed: '8..12' });
  t.equal(e.message, 'udp.length: length field disagrees with the buffer (got 7, allowed 8..12)');
  t.ok(e instanceof Error);
  t.equal(new WireError(newFault()).code, 'value', 'an empty fault becomes "value"');
});
