// The pieces the hostile-input accounting and the key rotation rest on, without namespaces: the kernel's
// per-socket drops as the daemon reads them, and a gossip keyring replaced under traffic.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { dropsByPort, registerSocketDrops } from '../src/daemon/socket-drops.js';
import { GossipStore } from '../src/gossip/gossip-store.js';

// Two sockets on 4789 (IPv4 0.0.0.0 and 192.0.2.2), one on 7946, one elsewhere; the last column is drops.
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 020200C0:12B5 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1001 2 0000000000000000 12
  101: 00000000:12B5 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1002 2 0000000000000000 3
  102: 020200C0:1F0A 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1003 2 0000000000000000 40
  103: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1004 2 0000000000000000 7
`;

t.test('socket drops per port, from /proc/net/udp and udp6', async (t) => {
  t.same(
    [...dropsByPort(UDP)].sort((a, b) => a[0] - b[0]),
    [
      [53, 7],
      [4789, 15],
      [7946, 40],
    ],
    'summed over the sockets bound to each port',
  );
  const registry = new Registry();
  registerSocketDrops(registry, { data: 4789, gossip: 7946 }, (file) => (file.endsWith('udp') ? UDP : ''));
  const text = await registry.metrics();
  t.match(text, /^tulle_socket_drops_total\{socket="data"\} 15$/m, 'data socket');
  t.match(text, /^tulle_socket_drops_total\{socket="gossip"\} 40$/m, 'gossip socket');
});

t.test('a gossip keyring replaced while the peers talk', async (t) => {
  const [k1, k2] = [randomBytes(32).toString('base64'), randomBytes(32).toString('base64')];
  const network = { network: '198.18.0.0/16', subnetLen: 24, subnetMin: '198.18.1.0', subnetMax: '198.18.255.0', backendType: 'udp' as const };
  const open = (hostId: string, seeds: string[] = []) =>
    GossipStore.open({ bind: '127.0.0.1:0', hostId, keys: [k1], label: 'rotation', network, preset: 'local', seeds });
  const a = await open('a');
  const b = await open('b', [a.address]);
  t.teardown(async () => {
    await b.close();
    await a.close();
  });
  const alive = (s: GossipStore) => s.health().members?.alive ?? 0;
  for (let i = 0; i < 50 && (alive(a) < 1 || alive(b) < 1); i++) await sleep(100);
  t.same([alive(a), alive(b)], [1, 1], 'a and b see each other on K1');

  t.throws(() => b.setKeys([k2, 'c2hvcnQ=']), /keyring key #2: 5 bytes after decoding; must be at least 16/, 'a short key is refused, naming it');
  t.equal(b.keyCount, 1, 'and the keys in use stay');

  b.setKeys([k2]);
  const before = a.counters.dropped.badMac;
  for (let i = 0; i < 30 && a.counters.dropped.badMac === before; i++) await sleep(100);
  t.ok(a.counters.dropped.badMac > before, 'b signs with K2 alone: a, which knows only K1, refuses it as badMac');

  a.setKeys([k1, k2]);
  await sleep(300);
  const settled = a.counters.dropped.badMac;
  await sleep(1500);
  t.equal(a.counters.dropped.badMac, settled, 'with K2 added to its ring, a accepts b again');
  t.equal(a.keyCount, 2, 'a verifies with two keys');
});
