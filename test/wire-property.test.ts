// Property tests (fast-check): header round trips, encapsulate -> parseOuter ->
// decapsulate returning the original inner packet, and robustness of every
// parser against random and mutated input (no stray exceptions, no reads
// outside the given range).
import t from 'tap';
import fc from 'fast-check';
import {
  encapsulate,
  ethernet,
  flowHash,
  flowSlot,
  ip,
  ipv4,
  ipv6,
  newFault,
  newOuterPacket,
  parseOuter,
  sourcePort,
  SOURCE_PORT_MAX,
  SOURCE_PORT_MIN,
  sum16,
  udp,
  udpBackend,
  vxlan,
  WireError,
  type Fault,
  type OuterTemplate,
  type Underlay,
} from '@tulle/wire';

const u8 = (n: number) => fc.integer({ min: 0, max: 0xff }).map((x) => x & n);
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.nat({ max: 0xffffffff });
const bytes16 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const bytes6 = fc.uint8Array({ minLength: 6, maxLength: 6 });

const SCRATCH = new Uint8Array(new ArrayBuffer(70_000), 0, 69_990);

/** Random bytes of a random length from a seed: much cheaper than fast-check drawing every byte of a jumbo frame. */
function seededBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let a = seed >>> 0;
  for (let i = 0; i < length; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out[i] = a >>> 24;
  }
  return out;
}

// ---------------------------------------------------------------- field round trips

t.test('ipv4: decode(write(fields)) = fields', async (t) => {
  fc.assert(
    fc.property(
      fc.record({
        tos: u8(0xff),
        totalLength: fc.integer({ min: 20, max: 0xffff }),
        id: u16,
        dontFragment: fc.boolean(),
        ttl: u8(0xff),
        protocol: u8(0xff),
        src: u32,
        dst: u32,
      }),
      fc.nat({ max: 9 }),
      (f, off) => {
        ipv4.write(SCRATCH, off, f);
        const h = ipv4.decode(SCRATCH, off, f.totalLength);
        return (
          h.headerLength === 20 &&
          h.tos === f.tos &&
          h.totalLength === f.totalLength &&
          h.id === f.id &&
          h.dontFragment === f.dontFragment &&
          !h.moreFragments &&
          h.fragmentOffset === 0 &&
          h.ttl === f.ttl &&
          h.protocol === f.protocol &&
          h.src === f.src &&
          h.dst === f.dst &&
          h.checksum === ((SCRATCH[off + 10] << 8) | SCRATCH[off + 11]) &&
          sum16(SCRATCH, off, 20) === 0xffff
        );
      },
    ),
    { numRuns: 3000 },
  );
  t.pass('3000 random IPv4 headers round trip');
});

t.test('ipv6: decode(write(fields)) = fields', async (t) => {
  fc.assert(
    fc.property(
      fc.record({
        trafficClass: u8(0xff),
        flowLabel: fc.integer({ min: 0, max: 0xfffff }),
        payloadLength: u16,
        nextHeader: u8(0xff),
        hopLimit: u8(0xff),
        src: bytes16,
        dst: bytes16,
      }),
      fc.nat({ max: 9 }),
      (f, off) => {
        ipv6.write(SCRATCH, off, f);
        const h = ipv6.decode(SCRATCH, off, 40 + f.payloadLength);
        return (
          h.trafficClass === f.trafficClass &&
          h.flowLabel === f.flowLabel &&
          h.payloadLength === f.payloadLength &&
          h.nextHeader === f.nextHeader &&
          h.hopLimit === f.hopLimit &&
          h.src.every((x, i) => x === f.src[i]) &&
          h.dst.every((x, i) => x === f.dst[i])
        );
      },
    ),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(u8(0xff), fc.integer({ min: 0, max: 0xfffff }), (tc, fl) => {
      ipv6.write(SCRATCH, 1, { trafficClass: tc, flowLabel: fl, payloadLength: 0, nextHeader: 59, src: new Uint8Array(16), dst: new Uint8Array(16) });
      const h = ipv6.decode(SCRATCH, 1, 40);
      return SCRATCH[1] >>> 4 === 6 && h.trafficClass === tc && h.flowLabel === fl;
    }),
    { numRuns: 3000 },
  );
  t.pass('traffic class and flow label never bleed into each other or the version');
});

t.test('udp: decode(write(fields)) = fields', async (t) => {
  fc.assert(
    fc.property(u16, u16, fc.integer({ min: 8, max: 0xffff }), fc.nat({ max: 9 }), (srcPort, dstPort, length, off) => {
      udp.write(SCRATCH, off, srcPort, dstPort, length);
      const h = udp.decode(SCRATCH, off, length);
      return h.srcPort === srcPort && h.dstPort === dstPort && h.length === length && h.checksum === 0;
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 random UDP headers round trip');
});

t.test('ethernet: decode(write(fields)) = fields', async (t) => {
  fc.assert(
    fc.property(bytes6, bytes6, u16, fc.nat({ max: 9 }), (dst, src, etherType, off) => {
      ethernet.write(SCRATCH, off, dst, src, etherType);
      const h = ethernet.decode(SCRATCH, off, 14);
      return h.etherType === etherType && h.dst.every((b, i) => b === dst[i]) && h.src.every((b, i) => b === src[i]);
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 random Ethernet headers round trip');
});

t.test('vxlan header: decode(write(vni)) = vni for 0..2^24-1', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: vxlan.MAX_VNI }), fc.nat({ max: 9 }), (vni, off) => {
      vxlan.writeHeader(SCRATCH, off, vni);
      const h = vxlan.decodeHeader(SCRATCH, off, 8);
      return h.vni === vni && h.flags === vxlan.FLAG_I && h.reservedClear;
    }),
    { numRuns: 5000 },
  );
  // Reserved bits never change the VNI read back.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: vxlan.MAX_VNI }), fc.uint8Array({ minLength: 8, maxLength: 8 }), (vni, noise) => {
      const b = noise.slice();
      b[0] |= vxlan.FLAG_I;
      b[4] = vni >>> 16;
      b[5] = (vni >>> 8) & 0xff;
      b[6] = vni & 0xff;
      const h = vxlan.decodeHeader(b);
      return h.vni === vni && h.reservedClear === (b[0] === 8 && b[1] === 0 && b[2] === 0 && b[3] === 0 && b[7] === 0);
    }),
    { numRuns: 3000 },
  );
  t.pass('VNIs round trip');
});

// ---------------------------------------------------------------- packets

interface Inner {
  version: 4 | 6;
  payload: Uint8Array;
  protocol: number;
  a: number;
  b: number;
  addrA: Uint8Array;
  addrB: Uint8Array;
}

const innerArb: fc.Arbitrary<Inner> = fc.record({
  version: fc.constantFrom(4 as const, 6 as const),
  payload: fc
    .tuple(
      fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: 0, max: 64 }) },
        { weight: 3, arbitrary: fc.integer({ min: 0, max: 1500 }) },
        { weight: 1, arbitrary: fc.integer({ min: 1500, max: 9000 }) },
      ),
      fc.integer(),
    )
    .map(([length, seed]) => seededBytes(length, seed)),
  protocol: fc.constantFrom(1, 6, 17, 58, 132, 253),
  a: u32,
  b: u32,
  addrA: bytes16,
  addrB: bytes16,
});

/** Writes the inner packet at `at`; returns its length. */
function writeInner(buf: Uint8Array, at: number, p: Inner): number {
  if (p.version === 4) {
    const total = 20 + p.payload.length;
    ipv4.write(buf, at, { totalLength: total, protocol: p.protocol, src: p.a, dst: p.b, id: p.a & 0xffff, tos: p.b & 0xff });
    buf.set(p.payload, at + 20);
    return total;
  }
  ipv6.write(buf, at, { payloadLength: p.payload.length, nextHeader: p.protocol, src: p.addrA, dst: p.addrB, flowLabel: p.a & 0xfffff });
  buf.set(p.payload, at + 40);
  return 40 + p.payload.length;
}

const underlayArb = (family: 4 | 6): fc.Arbitrary<Underlay> =>
  fc.record({
    src: family === 4 ? fc.ipV4() : fc.ipV6(),
    dst: family === 4 ? fc.ipV4() : fc.ipV6(),
    dstPort: fc.integer({ min: 1, max: 65535 }),
    srcPort: fc.integer({ min: 1, max: 65535 }),
    ttl: u8(0xff),
    tos: u8(0xff),
    udpChecksum: fc.boolean(),
    dontFragment: fc.boolean(),
  });

const setupArb = fc.record({
  backend: fc.constantFrom('vxlan' as const, 'udp' as const),
  underlay: fc.oneof(fc.constant(undefined), underlayArb(4), underlayArb(6)),
  vni: fc.integer({ min: 0, max: vxlan.MAX_VNI }),
  srcMac: bytes6,
  dstMac: bytes6,
  srcPort: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 65535 })),
  headroom: fc.nat({ max: 9 }),
  byteOffset: fc.nat({ max: 7 }),
  tail: fc.nat({ max: 9 }),
});

interface Setup {
  backend: 'vxlan' | 'udp';
  underlay: Underlay | undefined;
  vni: number;
  srcMac: Uint8Array;
  dstMac: Uint8Array;
}

function templateFor(s: Setup): OuterTemplate {
  return s.backend === 'vxlan'
    ? vxlan.template({ vni: s.vni, srcMac: s.srcMac, dstMac: s.dstMac, underlay: s.underlay })
    : udpBackend.template({ underlay: s.underlay });
}

t.test('encapsulate -> parseOuter -> decapsulate returns the inner packet', async (t) => {
  let runs = 0;
  const seen = new Set<string>();
  fc.assert(
    fc.property(setupArb, innerArb, (s, inner) => {
      runs++;
      const tpl = templateFor(s);
      const headroom = tpl.headerLength + s.headroom;
      const innerLength = (inner.version === 4 ? 20 : 40) + inner.payload.length;
      // The packet lives in a view at an odd or even byteOffset of a larger buffer.
      const buf = new Uint8Array(new ArrayBuffer(s.byteOffset + headroom + innerLength + s.tail), s.byteOffset, headroom + innerLength + s.tail);
      buf.fill(0xa5);
      writeInner(buf, headroom, inner);
      const original = buf.slice(headroom, headroom + innerLength);
      const start = encapsulate(buf, headroom, innerLength, tpl, s.srcPort);
      if (start !== headroom - tpl.headerLength) return false;
      const outerLength = tpl.headerLength + innerLength;
      let payloadOffset = start;
      let payloadLength = outerLength;
      const underlayFamily = s.underlay === undefined ? 0 : s.underlay.src.includes(':') ? 6 : 4;
      seen.add(`${s.backend}/${underlayFamily}/${inner.version}`);
      if (s.underlay !== undefined) {
        const o = newOuterPacket();
        const fault = newFault();
        if (!parseOuter(buf, start, outerLength, o, fault)) throw new Error(`parseOuter: ${fault.code} ${fault.field}`);
        if (o.ipVersion !== underlayFamily) return false;
        if (o.dstPort !== s.underlay.dstPort || o.srcPort !== (s.srcPort || s.underlay.srcPort)) return false;
        payloadOffset = o.payloadOffset;
        payloadLength = o.payloadLength;
        if (payloadOffset + payloadLength !== start + outerLength) return false;
      }
      let innerOffset: number;
      let gotLength: number;
      if (s.backend === 'vxlan') {
        const f = vxlan.decode(buf, payloadOffset, payloadLength);
        if (f.vni !== s.vni || !f.reservedClear || f.etherType !== (inner.version === 4 ? 0x0800 : 0x86dd)) return false;
        if (!buf.subarray(f.srcMacOffset, f.srcMacOffset + 6).every((x, i) => x === s.srcMac[i])) return false;
        if (!buf.subarray(f.dstMacOffset, f.dstMacOffset + 6).every((x, i) => x === s.dstMac[i])) return false;
        innerOffset = f.innerOffset;
        gotLength = f.innerLength;
      } else {
        const f = udpBackend.decode(buf, payloadOffset, payloadLength);
        innerOffset = f.innerOffset;
        gotLength = f.innerLength;
      }
      if (innerOffset !== headroom || gotLength !== innerLength) return false;
      const got = buf.subarray(innerOffset, innerOffset + gotLength);
      return got.every((x, i) => x === original[i]) && buf.subarray(headroom + innerLength).every((x) => x === 0xa5);
    }),
    { numRuns: 1500 },
  );
  t.equal(runs, 1500);
  t.equal(seen.size, 12, `every backend x underlay x inner family combination ran: ${[...seen].sort().join(' ')}`);
});

// ---------------------------------------------------------------- robustness

type Result = string;

function serialize(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v));
}

/** Runs a parse-style function; a false return must come with a non-empty fault code. */
function viaParse(
  name: string,
  run: (b: Uint8Array, off: number, len: number, fault: Fault) => unknown,
  check?: (out: unknown, off: number, len: number) => boolean,
) {
  return [
    name,
    (b: Uint8Array, off: number, len: number): Result => {
      const fault = newFault();
      const out = run(b, off, len, fault);
      const ok = typeof out === 'object' && out !== null ? (out as { ok: boolean }).ok : out;
      if (ok === false || ok === -1) {
        if (fault.code === '' || fault.field === '') throw new Error(`${name}: failed with an empty fault`);
      } else if (check !== undefined && !check(out, off, len)) {
        throw new Error(`${name}: accepted output breaks an invariant: ${serialize(out)}`);
      }
      return serialize([out, ok === false || ok === -1 ? fault : null]);
    },
  ] as const;
}

/** Runs a decode-style function: it may return or throw a WireError with a code, nothing else. */
function viaDecode(name: string, run: (b: Uint8Array, off: number, len: number) => unknown) {
  return [
    name,
    (b: Uint8Array, off: number, len: number): Result => {
      try {
        return serialize({ value: run(b, off, len) });
      } catch (e) {
        if (!(e instanceof WireError)) throw new Error(`${name}: threw ${String(e)}`, { cause: e });
        if (e.code.length === 0 || e.field.length === 0 || !e.message.includes(e.field))
          throw new Error(`${name}: WireError without code/field: ${e.message}`, { cause: e });
        return serialize({ code: e.code, field: e.field, value: e.value, allowed: e.allowed, message: e.message });
      }
    },
  ] as const;
}

const within = (at: number, length: number, off: number, len: number) => at >= off && length >= 0 && at + length <= off + len;

const RUNNERS = [
  viaParse(
    'ipv4.parse',
    (b, o, l, f) => {
      const h = ipv4.newHeader();
      return { ok: ipv4.parse(b, o, l, h, f), h };
    },
    (r, o, l) => {
      const h = (r as { h: ipv4.IPv4Header }).h;
      return h.totalLength <= l && h.headerLength <= h.totalLength;
    },
  ),
  viaParse('ipv4.parse (no checksum)', (b, o, l, f) => {
    const h = ipv4.newHeader();
    return { ok: ipv4.parse(b, o, l, h, f, { verifyChecksum: false }), h };
  }),
  viaDecode('ipv4.decode', (b, o, l) => ipv4.decode(b, o, l)),
  viaParse(
    'ipv6.parse',
    (b, o, l, f) => {
      const h = ipv6.newHeader();
      return { ok: ipv6.parse(b, o, l, h, f), h };
    },
    (r, o, l) => 40 + (r as { h: ipv6.IPv6Header }).h.payloadLength <= l,
  ),
  viaDecode('ipv6.decode', (b, o, l) => ipv6.decode(b, o, l)),
  viaParse(
    'udp.parse',
    (b, o, l, f) => {
      const h = udp.newHeader();
      return { ok: udp.parse(b, o, l, h, f), h };
    },
    (r, o, l) => {
      const h = (r as { h: udp.UdpHeader }).h;
      return h.length >= 8 && h.length <= l;
    },
  ),
  viaDecode('udp.decode', (b, o, l) => udp.decode(b, o, l)),
  viaParse('ethernet.parse', (b, o, l, f) => {
    const h = ethernet.newHeader();
    return { ok: ethernet.parse(b, o, l, h, f), h };
  }),
  viaDecode('ethernet.decode', (b, o, l) => ethernet.decode(b, o, l)),
  viaParse('vxlan.parseHeader', (b, o, l, f) => {
    const h = vxlan.newHeader();
    return { ok: vxlan.parseHeader(b, o, l, h, f), h };
  }),
  viaDecode('vxlan.decodeHeader', (b, o, l) => vxlan.decodeHeader(b, o, l)),
  viaParse(
    'vxlan.decapsulate',
    (b, o, l, f) => {
      const h = vxlan.newFrame();
      return { ok: vxlan.decapsulate(b, o, l, h, f), h };
    },
    (r, o, l) => {
      const h = (r as { h: vxlan.VxlanFrame }).h;
      return within(h.innerOffset, h.innerLength, o, l) && within(h.dstMacOffset, 12, o, l);
    },
  ),
  viaDecode('vxlan.decode', (b, o, l) => vxlan.decode(b, o, l)),
  viaParse(
    'udpBackend.decapsulate',
    (b, o, l, f) => {
      const h = udpBackend.newFrame();
      return { ok: udpBackend.decapsulate(b, o, l, h, f), h };
    },
    (r, o, l) => {
      const h = (r as { h: udpBackend.UdpFrame }).h;
      return within(h.innerOffset, h.innerLength, o, l);
    },
  ),
  viaDecode('udpBackend.decode', (b, o, l) => udpBackend.decode(b, o, l)),
  viaParse(
    'ip.packetLength',
    (b, o, l, f) => ip.packetLength(b, o, l, f),
    (r, o, l) => (r as number) >= 1 && (r as number) <= l,
  ),
  viaParse(
    'parseOuter',
    (b, o, l, f) => {
      const h = newOuterPacket();
      return { ok: parseOuter(b, o, l, h, f), h };
    },
    (r, o, l) => {
      const h = (r as { h: ReturnType<typeof newOuterPacket> }).h;
      return within(h.payloadOffset, h.payloadLength, o, l) && within(h.srcOffset, h.ipVersion === 4 ? 4 : 16, o, l);
    },
  ),
  [
    'flowHash',
    (b: Uint8Array, o: number, l: number): Result => {
      const h = flowHash(b, o, l, 7);
      const p = sourcePort(h);
      if (!Number.isInteger(h) || h < 0 || h > 0xffffffff || p < SOURCE_PORT_MIN || p > SOURCE_PORT_MAX) throw new Error(`flowHash out of range: ${h}`);
      return String(h);
    },
  ] as const,
  [
    'flowSlot',
    (b: Uint8Array, o: number, l: number): Result => {
      // The same pick as the multiply-shift of sourcePort() over flowHash(), for pools of 1, 8 and 64 sockets.
      const picks = [1, 8, 64].map((n) => flowSlot(b, o, l, n));
      picks.forEach((p, i) => {
        const n = [1, 8, 64][i];
        const want = Math.floor((flowHash(b, o, l) * n) / 0x100000000);
        if (p !== want || p < 0 || p >= n) throw new Error(`flowSlot(${n}) = ${p}, want ${want}`);
      });
      return serialize(picks);
    },
  ] as const,
  [
    'ipv6.upperLayer',
    (b: Uint8Array, o: number, l: number): Result => {
      if (l < 40) return 'n/a'; // precondition: the fixed header is there
      const r = [0];
      const at = ipv6.upperLayer(b, o, o + l, r);
      if (at !== -1 && !(at >= o + 40 && at <= o + l)) throw new Error(`upperLayer out of range: ${at}`);
      return serialize([at, at === -1 ? null : r[0]]);
    },
  ] as const,
];

/**
 * Runs every parser on `data` placed at offset `pre` inside differently
 * poisoned surroundings (including none past the end: reads there yield
 * undefined); results must not depend on the surroundings.
 */
function robust(data: Uint8Array, pre: number, byteOffset: number, noise: number): void {
  const len = data.length;
  const layouts: Uint8Array[] = [];
  for (const poison of [0x00, 0xff, -1]) {
    const buf = new Uint8Array(new ArrayBuffer(byteOffset + pre + len + 48), byteOffset, pre + len + 48);
    if (poison >= 0) buf.fill(poison);
    else for (let i = 0; i < buf.length; i++) buf[i] = (Math.imul(i + 1, noise | 1) >>> 11) & 0xff;
    buf.set(data, pre);
    layouts.push(buf);
  }
  const exact = new Uint8Array(pre + len).fill(0x5a);
  exact.set(data, pre);
  layouts.push(exact);
  for (const [name, run] of RUNNERS) {
    let first: Result | undefined;
    for (const buf of layouts) {
      const result = run(buf, pre, len);
      if (first === undefined) first = result;
      else if (result !== first) throw new Error(`${name}: result depends on bytes outside the range:\n  ${first}\n  ${result}`);
    }
  }
  for (const buf of layouts) {
    for (let i = 0; i < len; i++) if (buf[pre + i] !== data[i]) throw new Error('a parser modified its input');
  }
}

const placement = fc.record({ pre: fc.nat({ max: 9 }), byteOffset: fc.nat({ max: 7 }), noise: fc.integer() });

t.test('robustness: random byte arrays', async (t) => {
  // Random bytes with a useful first nibble half of the time, so deeper checks run too.
  const data = fc.oneof(
    fc.uint8Array({ maxLength: 120, size: 'max' }),
    fc.tuple(fc.constantFrom(0x45, 0x46, 0x4f, 0x60, 0x08), fc.uint8Array({ maxLength: 120, size: 'max' })).map(([b0, rest]) => Uint8Array.of(b0, ...rest)),
  );
  fc.assert(
    fc.property(data, placement, (d, p) => robust(d, p.pre, p.byteOffset, p.noise)),
    { numRuns: 2500 },
  );
  t.pass('2500 random inputs: only clean failures, no out-of-range reads');
});

/** Valid packets of every kind, as plain byte arrays. */
const validPacketArb = fc
  .tuple(
    setupArb,
    innerArb.map((i) => ({ ...i, payload: i.payload.subarray(0, 80) })),
    fc.nat({ max: 3 }),
  )
  .map(([s, inner, pick]) => {
    const tpl = templateFor(s);
    const innerLength = (inner.version === 4 ? 20 : 40) + inner.payload.length;
    const buf = new Uint8Array(tpl.headerLength + innerLength);
    writeInner(buf, tpl.headerLength, inner);
    encapsulate(buf, tpl.headerLength, innerLength, tpl, s.srcPort);
    // The whole outer packet, or just what follows the outer IP + UDP headers, or the bare inner packet.
    const ipUdp = tpl.ipVersion === 4 ? 28 : tpl.ipVersion === 6 ? 48 : 0;
    return pick === 0 ? buf.subarray(tpl.headerLength) : pick === 1 ? buf.subarray(ipUdp) : buf;
  });

const mutationArb = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat({ max: 127 }), value: u8(0xff) }),
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat({ max: 127 }), value: fc.integer({ min: 0, max: 7 }).map((b) => 1 << b) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat({ max: 200 }), value: fc.constant(0) }),
    fc.record({ kind: fc.constant('extend' as const), at: fc.nat({ max: 16 }), value: u8(0xff) }),
  ),
  { minLength: 1, maxLength: 4 },
);

function mutate(packet: Uint8Array, mutations: { kind: 'set' | 'flip' | 'truncate' | 'extend'; at: number; value: number }[]): Uint8Array {
  let d = packet.slice();
  for (const m of mutations) {
    if (d.length === 0) break;
    if (m.kind === 'set') d[m.at % d.length] = m.value;
    else if (m.kind === 'flip') d[m.at % d.length] ^= m.value;
    else if (m.kind === 'truncate') d = d.slice(0, m.at % d.length);
    else d = Uint8Array.from([...d, ...new Array<number>(m.at).fill(m.value)]);
  }
  return d;
}

t.test('robustness: valid packets, mutated and truncated', async (t) => {
  let accepted = 0;
  let outerAccepted = 0;
  fc.assert(
    fc.property(validPacketArb, placement, (d, p) => {
      robust(d, p.pre, p.byteOffset, p.noise);
      // Every strict prefix, too.
      for (let cut = 0; cut < d.length; cut += 1 + (cut >> 3)) robust(d.subarray(0, cut), p.pre, p.byteOffset, p.noise);
    }),
    { numRuns: 100 },
  );
  fc.assert(
    fc.property(validPacketArb, mutationArb, placement, (d, ms, p) => {
      const m = mutate(d, ms);
      robust(m, p.pre, p.byteOffset, p.noise);
      if (udpBackend.decapsulate(m, 0, m.length, udpBackend.newFrame()) || vxlan.decapsulate(m, 0, m.length, vxlan.newFrame())) accepted++;
      if (parseOuter(m, 0, m.length, newOuterPacket())) outerAccepted++;
    }),
    { numRuns: 2500 },
  );
  t.ok(accepted > 0, `some mutated packets are still decapsulated (${accepted}), so the deep paths ran`);
  t.ok(outerAccepted > 0, `some mutated outer packets still parse (${outerAccepted})`);
});
