// The route table at cluster scale: 10,000 peers publish and each one's subnet resolves to it,
// and a table past its limit is refused with an error naming the limit.
import t from 'tap';
import { ADDR_STRIDE, MAX_PEERS, RouteReader, RouteSnapshot, type Peer, type Route } from '../src/engine/routes.js';
import * as wire from '@tulle/wire';

const template = wire.udpBackend.template();
const HOSTS = 10_000;
// 198.18.0.0/15 cut in /29s (16,384 of them), as the gossip simulator cuts it for 10,000 hosts.
const NETWORK = wire.parseIPv4('198.18.0.0');
const SUBNET_BITS = 3;
const subnetOf = (i: number): number => (NETWORK + (i << SUBNET_BITS)) >>> 0;
// IPv6 underlay addresses (2001:db8::/32), as an IPv4 documentation range has too few for 10,000 hosts.
const underlayOf = (i: number): string => `2001:db8::${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}`;

function cluster(hosts: number): { peers: Peer[]; routes: Route[] } {
  const peers = Array.from({ length: hosts }, (_, i): Peer => ({ address: underlayOf(i + 1), port: 8285, template }));
  const routes = peers.map((_, i): Route => ({ subnet: `${wire.formatIP(u32(subnetOf(i)))}/${32 - SUBNET_BITS}`, peer: i }));
  return { peers, routes };
}

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  wire.writeU32(bytes, 0, value);
  return bytes;
}

t.test(`${HOSTS} peers publish, and every destination resolves to its own peer`, (t) => {
  const snapshot = new RouteSnapshot();
  const reader = new RouteReader(snapshot);
  const { peers, routes } = cluster(HOSTS);
  snapshot.publish(peers, routes);
  t.ok(reader.refresh(), 'the reader takes the table');
  let wrong = 0;
  let first = '';
  for (let i = 0; i < HOSTS; i++) {
    // The subnet's first, a middle and its last address; looked up in turn, so no answer is remembered.
    for (const host of [0, 5, 7]) {
      const got = reader.lookup(subnetOf(i) + host);
      if (got !== i && wrong++ === 0) first = `${wire.formatIP(u32(subnetOf(i) + host))}: peer ${got}, expected ${i}`;
    }
    const sender = reader.sender6(wire.parseIPv6(underlayOf(i + 1)), 0);
    if (sender !== i && wrong++ === 0) first = `sender ${underlayOf(i + 1)}: peer ${sender}, expected ${i}`;
  }
  t.equal(wrong, 0, `every lookup right${first ? `; first wrong: ${first}` : ''}`);
  t.equal(reader.lookup(subnetOf(HOSTS)), -1, 'the first subnet no peer holds has no route');
  t.equal(reader.send.addrs.length / ADDR_STRIDE, HOSTS, 'the send table has an entry per peer');
  t.end();
});

t.test('a peer past the limit is refused, naming the limit', (t) => {
  t.ok(MAX_PEERS >= HOSTS, `the limit (${MAX_PEERS}) holds ${HOSTS} hosts`);
  const snapshot = new RouteSnapshot();
  const reader = new RouteReader(snapshot);
  const peer: Peer = { address: '192.0.2.2', port: 8285, template };
  snapshot.publish([peer], [{ subnet: '198.18.0.0/24', peer: 0 }]);
  reader.refresh();
  const over = Array.from({ length: MAX_PEERS + 1 }, () => peer);
  t.throws(() => snapshot.publish(over, []), new RegExp(`^${MAX_PEERS + 1} peers: the route table holds at most ${MAX_PEERS} peers \\(MAX_PEERS\\)$`));
  t.notOk(reader.refresh(), 'a refused table publishes nothing');
  t.equal(reader.lookup(wire.parseIPv4('198.18.0.1')), 0, 'the table before it still routes');
  t.doesNotThrow(
    () =>
      snapshot.publish(
        Array.from({ length: MAX_PEERS }, () => peer),
        [],
      ),
    'the limit itself fits',
  );

  const small = new RouteSnapshot(RouteSnapshot.allocate(4));
  t.equal(small.capacity, 4);
  t.throws(
    () =>
      small.publish(
        Array.from({ length: 5 }, () => peer),
        [],
      ),
    /^5 peers: the route table holds at most 4 peers$/,
  );
  t.throws(
    () =>
      small.publish(
        [peer],
        Array.from({ length: 9 }, () => ({ subnet: '198.18.0.0/24', peer: 0 })),
      ),
    /9 routes: the route table holds at most 8 \(2 per peer\)/,
  );
  t.throws(
    () => RouteSnapshot.allocate(MAX_PEERS + 1),
    new RegExp(`capacity: ${MAX_PEERS + 1} is not a whole number of peers in 1\\.\\.${MAX_PEERS} \\(MAX_PEERS\\)`),
  );
  t.end();
});
