// The engine's lookups against a brute-force reference: longest-prefix match
// over IPv4 and IPv6 routes, and underlay sender → peer, for random tables.
import t from 'tap';
import fc from 'fast-check';
import { contains, formatCidr, parseCidr, type Cidr } from '../src/util/cidr.js';
import { ADDR_STRIDE, RouteReader, RouteSnapshot, type Peer } from '../src/engine/routes.js';
import * as wire from '@tulle/wire';

const template = wire.udpBackend.template();
const peer = (i: number, v6: boolean): Peer => ({ address: v6 ? `2001:db8:2::${(i + 1).toString(16)}` : `192.0.2.${i + 1}`, port: 8285, template });

function bytesOf(words: number[], family: 4 | 6): Uint8Array {
  const b = new Uint8Array(family === 4 ? 4 : 16);
  for (let i = 0; i < b.length / 4; i++) wire.writeU32(b, i * 4, words[i]);
  return b;
}

const word = fc.integer({ min: 0, max: 0xffffffff });
const route = (family: 4 | 6) =>
  fc
    .record({
      words: fc.tuple(word, word, word, word),
      prefix: fc.integer({ min: 0, max: family === 4 ? 32 : 128 }),
    })
    .map(({ words, prefix }) => {
      const masked = words.map((w, i) => (family === 4 && i > 0 ? 0 : (w & maskWord(prefix, i * 32)) >>> 0)) as Cidr['words'];
      return { family, words: masked, prefix } satisfies Cidr;
    });
function maskWord(prefix: number, start: number): number {
  const bits = Math.max(0, Math.min(32, prefix - start));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

t.test('longest-prefix match agrees with a linear scan', (t) => {
  // One reader for every table, as in a worker: nothing it remembers may outlive a refresh.
  const snapshot = new RouteSnapshot(RouteSnapshot.allocate(64));
  const reader = new RouteReader(snapshot);
  fc.assert(
    fc.property(
      fc.array(fc.oneof(route(4), route(6)), { maxLength: 40 }),
      fc.array(fc.tuple(word, word, word, word), { minLength: 1, maxLength: 20 }),
      (routes, probes) => {
        const peers = routes.map((_, i) => peer(i, false));
        snapshot.publish(
          peers,
          routes.map((r, i) => ({ subnet: formatCidr(r), peer: i })),
        );
        if (!reader.refresh()) throw new Error('a published table was not taken');
        for (const family of [4, 6] as const) {
          // Each probe twice in a row: the second answer may come from the reader's memory of the first.
          for (const probe of probes.flatMap((p) => [p, p])) {
            const words = family === 4 ? [probe[0], 0, 0, 0] : [...probe];
            const host: Cidr = { family, words: words as Cidr['words'], prefix: family === 4 ? 32 : 128 };
            // The reference: the longest matching prefix; among equal ones, the first published.
            let best = -1;
            routes.forEach((r, i) => {
              if (contains(r, host) && (best < 0 || r.prefix > routes[best].prefix)) best = i;
            });
            const got = family === 4 ? reader.lookup(probe[0] >>> 0) : reader.lookup6(bytesOf(words, 6), 0);
            if (got !== best) throw new Error(`${formatCidr(host)}: got peer ${got}, expected ${best}`);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
  t.pass('300 random tables');
  t.end();
});

t.test('senders by underlay address, both families', (t) => {
  const snapshot = new RouteSnapshot();
  const peers = [peer(0, false), peer(1, true), peer(2, true), peer(3, false)];
  snapshot.publish(peers, []);
  const reader = new RouteReader(snapshot);
  t.ok(reader.refresh(), 'a new snapshot is taken');
  t.notOk(reader.refresh(), 'and not taken again while unchanged');
  t.equal(reader.sender(wire.parseIPv4('192.0.2.1')), 0);
  t.equal(reader.sender(wire.parseIPv4('192.0.2.4')), 3);
  t.equal(reader.sender(wire.parseIPv4('192.0.2.2')), -1, 'an address no peer holds');
  t.equal(reader.sender6(wire.parseIPv6('2001:db8:2::2'), 0), 1);
  t.equal(reader.sender6(wire.parseIPv6('2001:db8:2::3'), 0), 2);
  t.equal(reader.sender6(wire.parseIPv6('2001:db8:2::4'), 0), -1);
  t.equal(reader.sender6(wire.parseIPv6('::ffff:192.0.2.1'), 0), -1, 'an IPv4-mapped address is not the IPv4 peer');
  // The same address asked again after the peers changed gets the new answer.
  t.equal(reader.sender(wire.parseIPv4('192.0.2.4')), 3);
  snapshot.publish([peer(3, false)], []);
  t.ok(reader.refresh());
  t.equal(reader.sender(wire.parseIPv4('192.0.2.4')), 0, 'after a change, the new index');
  snapshot.publish([peer(0, false)], []);
  t.ok(reader.refresh());
  t.equal(reader.sender(wire.parseIPv4('192.0.2.4')), -1, 'after a change, gone');
  t.end();
});

t.test('a lookup asked again after the routes changed gets the new answer', (t) => {
  const snapshot = new RouteSnapshot();
  const reader = new RouteReader(snapshot);
  const dst = wire.parseIPv4('198.18.1.1');
  snapshot.publish([peer(0, false), peer(1, false)], [{ subnet: '198.18.0.0/16', peer: 0 }]);
  reader.refresh();
  t.equal(reader.lookup(dst), 0);
  t.equal(reader.lookup(dst), 0, 'the same answer twice');
  snapshot.publish(
    [peer(0, false), peer(1, false)],
    [
      { subnet: '198.18.0.0/16', peer: 0 },
      { subnet: '198.18.1.0/24', peer: 1 },
    ],
  );
  reader.refresh();
  t.equal(reader.lookup(dst), 1, 'a longer prefix that arrived takes it');
  snapshot.publish([peer(0, false)], []);
  reader.refresh();
  t.equal(reader.lookup(dst), -1, 'no route once the table is empty');
  t.end();
});

t.test("the send table is the reader's own copy: a publish changes nothing a decided batch sends with", (t) => {
  const snapshot = new RouteSnapshot();
  const reader = new RouteReader(snapshot);
  const vxlanTo = (mac: string) => wire.vxlan.template({ vni: 1, srcMac: '02:00:00:00:00:01', dstMac: mac });
  snapshot.publish(
    [
      { address: '192.0.2.2', port: 4789, template: vxlanTo('02:00:00:00:00:02') },
      { address: '192.0.2.3', port: 4789, template: vxlanTo('02:00:00:00:00:03') },
    ],
    [
      { subnet: '198.18.2.0/24', peer: 0 },
      { subnet: '198.18.3.0/24', peer: 1 },
    ],
  );
  reader.refresh();
  const peer = reader.lookup(wire.parseIPv4('198.18.3.1'));
  const send = reader.send;
  const entry = () => wire.formatIP(send.addrs.subarray(peer * ADDR_STRIDE + 4, peer * ADDR_STRIDE + 8));
  const mac = () => Array.from(send.templateBytes.subarray(peer * wire.TEMPLATE_STRIDE + 8, peer * wire.TEMPLATE_STRIDE + 14), (b) => b.toString(16)).join(':');
  t.equal(entry(), '192.0.2.3', 'the verdict names the owner in the send table');
  t.equal(mac(), '2:0:0:0:0:3', 'and its template');
  // The control plane swaps the peers' positions: the shared table's entry 1 is now 192.0.2.2.
  snapshot.publish(
    [
      { address: '192.0.2.3', port: 4789, template: vxlanTo('02:00:00:00:00:03') },
      { address: '192.0.2.2', port: 4789, template: vxlanTo('02:00:00:00:00:02') },
    ],
    [
      { subnet: '198.18.2.0/24', peer: 1 },
      { subnet: '198.18.3.0/24', peer: 0 },
    ],
  );
  t.equal(entry(), '192.0.2.3', 'a batch decided before the publish still sends to the owner');
  t.equal(mac(), '2:0:0:0:0:3', "with the owner's template");
  t.ok(reader.refresh(), 'the next batch takes the new version');
  t.not(reader.send, send, 'as a new table: the old one is never written into');
  const now = reader.lookup(wire.parseIPv4('198.18.3.1'));
  t.equal(wire.formatIP(reader.send.addrs.subarray(now * ADDR_STRIDE + 4, now * ADDR_STRIDE + 8)), '192.0.2.3', 'its verdicts and its table agree');
  t.equal(reader.send.addrs.length, 2 * ADDR_STRIDE, 'one entry per peer of the version: no stale entries beyond them');
  t.end();
});

t.test('CIDR parsing names the problem', (t) => {
  t.same(parseCidr('2001:db8:18:1::/64'), { family: 6, words: [0x20010db8, 0x00180001, 0, 0], prefix: 64 });
  t.throws(() => parseCidr('2001:db8:18:1::1/64'), /host bits set: the network is 2001:db8:18:1::\/64/);
  t.throws(() => parseCidr('198.18.1.1/24'), /host bits set: the network is 198\.18\.1\.0\/24/);
  t.throws(() => parseCidr('2001:db8::/129'), /prefix length 0\.\.128/);
  t.throws(() => parseCidr('198.18.0.0/33'), /prefix length 0\.\.32/);
  t.throws(() => parseCidr('198.18.0.0'), /not a CIDR/);
  t.throws(() => parseCidr('198.18.300.0/24'), /"198\.18\.300\.0" is not an IPv4 address/);
  t.ok(contains(parseCidr('198.18.0.0/16'), parseCidr('198.18.3.0/24')));
  t.notOk(contains(parseCidr('198.18.0.0/16'), parseCidr('198.19.3.0/24')));
  t.notOk(contains(parseCidr('198.18.0.0/16'), parseCidr('2001:db8::/64')), 'families never contain each other');
  t.end();
});

t.test('decideTx: a flow keeps its socket, and flows spread over the pool', async (t) => {
  const { decideTx } = await import('../src/engine/decide.js');
  const { newCounterBuffer } = await import('../src/engine/counters.js');
  const { udpPacket } = await import('./helpers/packets.js');
  const snapshot = new RouteSnapshot();
  snapshot.publish([peer(0, false)], [{ subnet: '198.18.0.0/16', peer: 0 }]);
  const reader = new RouteReader(snapshot);
  reader.refresh();
  const counters = new Float64Array(newCounterBuffer());
  const flows = 800;
  const slab = new Uint8Array(flows * 128);
  const desc = new Int32Array(flows * wire.DESC_STRIDE);
  for (let i = 0; i < flows; i++) {
    const p = udpPacket('198.18.1.2', `198.18.2.${i % 200}`, 1024 + i, 7000, new Uint8Array(8));
    slab.set(p.bytes, i * 128);
    desc[i * wire.DESC_STRIDE + wire.DESC_OFFSET] = i * 128;
    desc[i * wire.DESC_STRIDE + wire.DESC_LENGTH] = p.length;
  }
  const sockets = (count: number) => {
    for (let i = 0; i < flows; i++) desc[i * wire.DESC_STRIDE + wire.DESC_VERDICT] = 0;
    decideTx(slab, desc, flows, reader, { mtu: 1450, sockets: count, whole: false }, counters);
    return Array.from({ length: flows }, (_, i) => desc[i * wire.DESC_STRIDE + wire.DESC_SOCKET]);
  };
  const first = sockets(8);
  t.same(sockets(8), first, 'the same packets pick the same sockets again');
  const perSocket = Array.from({ length: 8 }, (_, s) => first.filter((x) => x === s).length);
  t.ok(
    perSocket.every((n) => n > flows / 8 / 2),
    `flows spread over all 8 sockets (${perSocket.join(', ')})`,
  );
  t.ok(
    sockets(1).every((x) => x === 0),
    'with one socket there is nothing to choose',
  );
});
