// The gossip codec: records and envelopes round-trip; forged, replayed,
// foreign, oversize and malformed datagrams are dropped and counted, never thrown.
import t from 'tap';
import fc from 'fast-check';
import { ByteReader, ByteWriter } from '../src/gossip/bytes.js';
import { makeConfig } from '../src/gossip/config.js';
import { EnvelopeReader, EnvelopeWriter, type Keyring } from '../src/gossip/envelope.js';
import { hmacSha256, parseKeyring } from '../src/gossip/mac.js';
import { MSG } from '../src/gossip/messages.js';
import { GossipNode } from '../src/gossip/node.js';
import { Sfc32 } from '../src/util/prng.js';
import {
  ALIVE,
  DEAD,
  decodeLease,
  decodeMember,
  encodeLease,
  encodeMember,
  SUSPECT,
  TAG_LEASE,
  TAG_MEMBER,
  type LeaseRecord,
  type MemberRecord,
} from '../src/gossip/records.js';
import { ReplayGuard } from '../src/gossip/replay.js';
import type { Clock } from '../src/gossip/runtime.js';

const key = (s: string) => new TextEncoder().encode(s.padEnd(32, '.'));
const ring = (...keys: string[]): Keyring => ({ keys: keys.map(key), mac: hmacSha256 });

t.test('member records round-trip', async (t) => {
  const arb = fc.record({
    id: fc.string({ minLength: 1, maxLength: 60 }),
    addr: fc.string({ maxLength: 60 }),
    incarnation: fc.nat({ max: 0xffffffff }),
    state: fc.constantFrom(ALIVE, SUSPECT, DEAD, 3 as const),
    from: fc.string({ maxLength: 40 }),
  });
  fc.assert(
    fc.property(arb, (rec) => {
      const w = new ByteWriter(512);
      encodeMember(w, rec as MemberRecord);
      const r = new ByteReader(w.take());
      t.equal(r.u8(), TAG_MEMBER);
      const back = decodeMember(r)!;
      const expectFrom = rec.state === SUSPECT || rec.state === DEAD ? rec.from : '';
      return (
        back.id === rec.id &&
        back.addr === rec.addr &&
        back.incarnation === rec.incarnation &&
        back.state === rec.state &&
        back.from === expectFrom &&
        r.remaining === 0
      );
    }),
    { numRuns: 300 },
  );
});

t.test('lease records round-trip, optional fields included', async (t) => {
  const arb = fc.record(
    {
      hostId: fc.string({ minLength: 1, maxLength: 40 }),
      subnet: fc.nat({ max: 0xffffffff }),
      claimedAt: fc.double({ noNaN: true, noDefaultInfinity: true }),
      version: fc.nat({ max: 0xffffffff }),
      expiresAt: fc.double({ noNaN: true, noDefaultInfinity: true }),
      released: fc.boolean(),
      publicIP: fc.ipV4(),
      backend: fc.constantFrom(0, 1, 2),
    },
    { requiredKeys: ['hostId', 'subnet', 'claimedAt', 'version', 'expiresAt', 'released', 'publicIP', 'backend'] },
  );
  const opt = fc.record(
    {
      vtepMac: fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':')),
      vni: fc.nat({ max: 0xffffff }),
      port: fc.nat({ max: 65535 }),
      publicIPv6: fc.ipV6(),
      ipv6Subnet: fc.constant('fd00:1::/64'),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(arb, opt, (base, extra) => {
      const rec = { ...base, ...extra } as LeaseRecord;
      const w = new ByteWriter(512);
      encodeLease(w, rec);
      const r = new ByteReader(w.take());
      if (r.u8() !== TAG_LEASE) return false;
      const back = decodeLease(r);
      t.same(back, rec);
      return r.remaining === 0;
    }),
    { numRuns: 300 },
  );
});

t.test('a truncated record is reported, not thrown', async (t) => {
  const w = new ByteWriter(512);
  encodeLease(w, { hostId: 'h1', subnet: 1, claimedAt: 1, version: 1, expiresAt: 2, released: false, publicIP: '192.0.2.1', backend: 0, vni: 1 });
  const bytes = w.take();
  for (let cut = 1; cut < bytes.length; cut++) {
    const r = new ByteReader(bytes, 1, cut);
    t.equal(decodeLease(r), undefined, `cut at ${cut}`);
  }
});

function sealed(ring: Keyring, label = 'c1', sender = 'h1', epoch = 1000): Uint8Array {
  const w = new EnvelopeWriter(1400, label, sender, epoch, ring);
  w.begin(MSG.ack).u32(7);
  return w.finish()!;
}

t.test('envelopes: MAC, label, key ring rotation', async (t) => {
  const data = sealed(ring('k1'));
  const ok = new EnvelopeReader(1400, 'c1', ring('k1')).open(data);
  t.type(ok, ByteReader, 'the signing ring opens it');
  t.equal(new EnvelopeReader(1400, 'c2', ring('k1')).open(data), 'wrongLabel', 'another cluster label is refused');
  t.equal(new EnvelopeReader(1400, 'c1', ring('k2')).open(data), 'badMac', 'another key is refused');
  // Rotation: a node that already signs with k2 is still heard by one that has both.
  t.type(new EnvelopeReader(1400, 'c1', ring('k1', 'k2')).open(sealed(ring('k2', 'k1'))), ByteReader, 'k2-signed, ring [k1, k2]');
  t.equal(new EnvelopeReader(1400, 'c1', ring('k1')).open(sealed(ring('k2', 'k1'))), 'badMac', 'k2-signed, ring [k1] only');
  const flipped = data.slice();
  flipped[20] ^= 1;
  t.equal(new EnvelopeReader(1400, 'c1', ring('k1')).open(flipped), 'badMac', 'a flipped bit is a forgery');
  t.equal(new EnvelopeReader(1400, 'c1', ring('k1')).open(new Uint8Array(1401)), 'oversize');
  t.equal(new EnvelopeReader(1400, 'c1', ring('k1')).open(new Uint8Array(5)), 'malformed');
  const v2 = data.slice();
  v2[1] = 2;
  t.equal(new EnvelopeReader(1400, 'c1', ring('k1')).open(v2), 'badVersion');
});

t.test('parseKeyring names the bad key', async (t) => {
  t.throws(() => parseKeyring([]), /at least one key/);
  t.throws(() => parseKeyring([Buffer.alloc(32).toString('base64'), 'abcd']), /key #2: 2 bytes/);
  t.equal(parseKeyring([Buffer.alloc(16, 1).toString('hex')]).keys[0].length, 16);
});

t.test('replay window', async (t) => {
  const g = new ReplayGuard();
  t.ok(g.accept('a', 1, 10, 0));
  t.notOk(g.accept('a', 1, 10, 0), 'same sequence twice');
  t.ok(g.accept('a', 1, 8, 0), 'late but inside the window');
  t.notOk(g.accept('a', 1, 8, 0), 'late and seen');
  t.ok(g.accept('a', 1, 80, 0), 'a jump');
  t.ok(g.accept('a', 1, 40, 0), '40 behind: inside the 64 window');
  t.notOk(g.accept('a', 1, 10, 0), '70 behind: outside the window');
  t.notOk(g.accept('a', 0, 1000, 0), 'an older epoch (before the sender restarted)');
  t.ok(g.accept('a', 2, 1, 0), 'a newer epoch resets');
  t.notOk(g.accept('a', 2, 1, 0));
  // Model check against a set over random sequences within one epoch.
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 200 }), (seqs) => {
      const guard = new ReplayGuard();
      const seen = new Set<number>();
      let top = 0;
      for (const s of seqs) {
        const expect = !seen.has(s) && (s > top || top - s <= 64);
        if (guard.accept('x', 1, s, 0) !== expect) return false;
        if (expect) {
          seen.add(s);
          top = Math.max(top, s);
        }
      }
      return true;
    }),
    { numRuns: 300 },
  );
});

/** A node on a fake clock whose sends are captured. */
function lonelyNode(label = 'c1') {
  const clock: Clock = { now: () => 5000, setTimer: () => 0, clearTimer: () => {} };
  const sent: Uint8Array[] = [];
  const node = new GossipNode({
    id: 'me',
    addr: 'a:1',
    config: makeConfig('lan'),
    clock,
    transport: { send: (_a, d) => sent.push(d) },
    random: new Sfc32(1),
    keyring: ring('k1'),
    label,
  });
  node.start();
  return { node, sent };
}

t.test('a node counts and drops bad input, and never throws', async (t) => {
  const { node, sent } = lonelyNode();
  const w = new EnvelopeWriter(1400, 'c1', 'peer', 1, ring('k1'));
  const ping = () => {
    w.begin(MSG.ping).u32(1);
    w.w.str('me');
    w.w.u32(0);
    return w.finish()!;
  };
  const reader = new EnvelopeReader(1400, 'c1', ring('k1'));
  const acks = () => sent.filter((d) => typeof reader.open(d) !== 'string' && reader.env.type === MSG.ack).length;
  const p1 = ping();
  node.receive('b:1', p1);
  t.equal(acks(), 1, 'a ping is answered');
  t.ok(sent.length <= 2, 'with an ack (and a sync, as the sender is new)');
  node.receive('b:1', p1);
  t.equal(node.counters.dropped.replay, 1, 'the same datagram again is a replay');
  t.equal(acks(), 1, 'and gets no answer');
  w.begin(MSG.ping).u32(2);
  w.w.str('someone-else');
  w.w.u32(0);
  node.receive('b:1', w.finish()!);
  t.equal(node.counters.dropped.wrongTarget, 1, 'a ping for another id');
  node.receive('b:1', sealed(ring('k9')));
  t.equal(node.counters.dropped.badMac, 1, 'forged');
  node.receive('b:1', sealed(ring('k1'), 'other-cluster'));
  t.equal(node.counters.dropped.wrongLabel, 1, 'foreign cluster');
  node.receive('b:1', new Uint8Array(2000));
  t.equal(node.counters.dropped.oversize, 1, 'oversize');
  // A valid MAC around a body with trailing garbage is still malformed.
  w.begin(MSG.ack).u32(3);
  w.w.u32(0);
  w.records();
  w.add(Uint8Array.of(TAG_MEMBER, 200));
  node.receive('b:1', w.finish()!);
  t.equal(node.counters.dropped.malformed, 1, 'a signed but malformed body');
  w.begin(99);
  node.receive('b:1', w.finish()!);
  t.equal(node.counters.dropped.unknownType, 1, 'an unknown message type');
});

t.test('fuzz: random and mutated datagrams never throw; each is counted once', async (t) => {
  const { node } = lonelyNode();
  const w = new EnvelopeWriter(1400, 'c1', 'peer', 1, ring('k1'));
  const valid: Uint8Array[] = [];
  for (const type of [MSG.ping, MSG.pingReq, MSG.ack, MSG.nack, MSG.gossip, MSG.syncTop, MSG.syncSub, MSG.syncWant, MSG.syncDone, MSG.records]) {
    w.begin(type).u32(1);
    w.w.str('me');
    valid.push(w.finish()!);
  }
  let n = 0;
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 1600 }),
        fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.nat({ max: 255 })).map(([d, i, b]) => {
          const m = d.slice();
          m[i % m.length] ^= b || 1;
          return m;
        }),
        fc.tuple(fc.constantFrom(...valid), fc.nat()).map(([d, cut]) => d.slice(0, cut % d.length)),
      ),
      (data) => {
        const before = node.counters.receivedDatagrams;
        node.receive('f:1', data);
        n++;
        return node.counters.receivedDatagrams === before + 1;
      },
    ),
    { numRuns: 2000 },
  );
  const dropped = Object.values(node.counters.dropped).reduce((a, b) => a + b, 0);
  t.ok(dropped > n * 0.9, `${dropped} of ${n} fuzzed datagrams dropped with a reason`);
  t.equal(node.counters.dropped.badMac + node.counters.dropped.malformed + node.counters.dropped.oversize > 0, true);
});
