// The lease keeper without etcd: an in-memory registry on virtual time, so a
// day of renewals, an outage with its backoff, and TTLs running out take
// milliseconds. Renewal before expiry, re-creation after the lease expired or
// was deleted, backoff while the registry is away and recovery, a subnet lost
// to another host, replies lost after a write, and acquisition races. The
// same logic against a real etcd: test/etcd-store.test.ts.
import t, { type Test } from 'tap';
import { PermanentError } from '../src/etcd/connection.js';
import { parseNetworkConfig } from '../src/etcd/flannel-config.js';
import { LeaseKeeper, type KeeperOptions } from '../src/etcd/lease-keeper.js';
import { encodeLeaseValue, decodeLeaseValue } from '../src/etcd/lease-value.js';
import { MemoryRegistry } from '../src/etcd/memory-registry.js';
import type { Lease, LeaseAttrs } from '../src/lease/lease.js';
import { memoryEtcd } from './helpers/memory-etcd.js';
import { VirtualClock } from './helpers/virtual-clock.js';

const S = 1000;
const config = parseNetworkConfig('{"Network":"198.18.0.0/16","Backend":{"Type":"vxlan"}}');

function vxlan(n: number): LeaseAttrs {
  return { publicIP: `192.0.2.${n}`, backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: `02:00:5e:00:53:${n.toString(16).padStart(2, '0')}` } };
}

interface FixtureOptions {
  clock?: VirtualClock;
  registry?: MemoryRegistry;
  ttlSeconds?: number;
  renewMarginSeconds?: number;
  host?: number;
  keeper?: Partial<KeeperOptions>;
}

/** A keeper on a memory registry; backoff without jitter (random() = 1 takes the top of each range). */
function fixture(t: Test, o: FixtureOptions = {}) {
  const { clock, calls, registry, logs, connection } = memoryEtcd(t, o);
  const lost: Lease[] = [];
  const options: KeeperOptions = {
    registry,
    connection,
    config,
    attrs: vxlan(o.host ?? 1),
    ttlSeconds: o.ttlSeconds ?? 3600,
    renewMarginSeconds: o.renewMarginSeconds ?? 600,
    random: () => 0,
    log: (line) => logs.push(line),
    onLost: (lease) => lost.push(lease),
    clock,
    ...o.keeper,
  };
  const acquire = async () => {
    const keeper = await LeaseKeeper.acquire(options);
    t.teardown(() => keeper.stop(false));
    return keeper;
  };
  const key = (lease: Lease) => registry.keys.subnetKey(lease.subnet);
  return { clock, registry, connection, logs, lost, calls, acquire, key };
}

t.test('renews at expiration − margin, onto a new etcd lease, and gives the old one back; a day passes without a gap', async (t) => {
  const f = fixture(t, { ttlSeconds: 3600, renewMarginSeconds: 600 });
  const t0 = f.clock.now();
  const keeper = await f.acquire();
  t.equal(keeper.lease.subnet, '198.18.1.0/24', 'random() = 0 picks the first free subnet');
  t.equal(keeper.lease.expiration, t0 + 3600 * S);
  const key = f.key(keeper.lease);
  const first = await f.registry.getSubnet(key);
  t.equal(first?.value, encodeLeaseValue(vxlan(1)));

  await f.clock.advance(3000 * S - 1);
  t.equal((await f.registry.getSubnet(key))?.leaseId, first?.leaseId, 'not renewed a moment before expiration − margin');
  t.notOk(f.logs.some((l) => l.includes('renewed')));
  await f.clock.advance(1);
  const second = await f.registry.getSubnet(key);
  t.not(second?.leaseId, first?.leaseId, 'renewed at expiration − margin: a new etcd lease');
  t.equal(keeper.lease.expiration, t0 + (3000 + 3600) * S, 'the expiration moves on by the TTL from the renewal');
  t.equal(await f.registry.remaining(second!.leaseId), 3600);
  t.equal(await f.registry.remaining(first!.leaseId), -1, 'the old etcd lease was revoked');
  t.equal(f.registry.leaseCount, 1);

  // A day: every renewal 50 min after the last; the key never runs out in between.
  const deletes: number[] = [];
  const watch = f.registry.watchSubnets(f.registry.revision + 1, (m) => {
    if (m.kind === 'changes') for (const c of m.changes) if (c.type === 'delete') deletes.push(c.revision);
  });
  t.teardown(() => watch.cancel());
  await f.clock.advance(24 * 3600 * S);
  t.same(deletes, [], 'never expired');
  t.equal(f.logs.filter((l) => l.startsWith('etcd: renewed')).length, 1 + Math.floor((24 * 3600) / 3000));
  t.equal(f.registry.leaseCount, 1, 'no etcd lease left behind');
  t.equal(decodeLeaseValue((await f.registry.getSubnet(key))!.value).ok, true);
});

t.test('a key deleted meanwhile is created again on the same subnet at renewal time', async (t) => {
  const f = fixture(t, { ttlSeconds: 60, renewMarginSeconds: 10 });
  const keeper = await f.acquire();
  const key = f.key(keeper.lease);
  f.registry.delete(key); // by an operator, or a lease revoked by hand
  await f.clock.advance(50 * S);
  const entry = await f.registry.getSubnet(key);
  t.equal(entry?.value, encodeLeaseValue(vxlan(1)), 'the same subnet, written again');
  t.equal(keeper.lease.subnet, '198.18.1.0/24');
  t.equal(keeper.lease.expiration, f.clock.now() + 60 * S);
  t.ok(f.logs.includes('etcd: 198.18.1.0/24 had expired; re-created it for 192.0.2.1'));
  t.same(f.lost, []);
});

t.test('cut off past the TTL: retries with backoff, and on recovery the expired lease is re-created on the same subnet', async (t) => {
  const f = fixture(t, { ttlSeconds: 60, renewMarginSeconds: 10 });
  const keeper = await f.acquire();
  const key = f.key(keeper.lease);
  const t0 = f.clock.now();
  f.registry.disconnect();
  await f.clock.advance(50 * S); // renewal falls due, and fails
  t.equal(f.connection.state, 'down');
  await f.clock.advance(11 * S); // the TTL runs out on the server meanwhile
  f.calls.length = 0;
  await f.clock.advance(30 * S);
  const attempts = f.calls.filter((c) => c.call === 'getSubnet').map((c) => c.at);
  t.ok(
    attempts.every((at, i) => i === 0 || at - attempts[i - 1] === 5 * S),
    'retried every retryMaxMs once backed off fully',
  );
  t.equal(attempts.length, 6);

  // Nobody took the subnet while this host was away: it comes back.
  f.registry.reconnect();
  const waited = await f.clock.until(() => keeper.lease.expiration > t0 + 60 * S, 5 * S);
  t.ok(waited <= 5 * S, `re-created within one backoff step (${waited} ms)`);
  t.equal((await f.registry.getSubnet(key))?.value, encodeLeaseValue(vxlan(1)));
  t.equal(keeper.lease.subnet, '198.18.1.0/24');
  t.equal(f.connection.state, 'up');
  t.same(
    f.logs.filter((l) => /unreachable|reachable again|had expired/.test(l)).map((l) => l.replace(/after [\d.]+ s/, 'after N s')),
    [
      'etcd: unreachable (14 UNAVAILABLE: connection lost); keeping the known leases, retrying',
      'etcd: 198.18.1.0/24 had expired; re-created it for 192.0.2.1',
      'etcd: reachable again after N s',
    ],
    'one line per change of state, not per retry',
  );
});

t.test('backs off 200 ms doubling to 5 s while the registry fails, and recovers with the next renewal on time', async (t) => {
  const f = fixture(t, { ttlSeconds: 600, renewMarginSeconds: 100 });
  const keeper = await f.acquire();
  const due = keeper.lease.expiration - 100 * S;
  f.registry.disconnect();
  f.calls.length = 0;
  await f.clock.advance(due - f.clock.now() + 20 * S);
  const attempts = f.calls.filter((c) => c.call === 'getSubnet');
  t.equal(attempts[0].at, due, 'the first attempt at expiration − margin');
  t.ok(attempts.every((c) => c.failed));
  const gaps = attempts.slice(1).map((c, i) => c.at - attempts[i].at);
  t.same(gaps.slice(0, 7), [200, 400, 800, 1600, 3200, 5000, 5000]);

  f.registry.reconnect();
  await f.clock.until(() => f.logs.some((l) => l.startsWith('etcd: renewed')), 5 * S);
  const renewedAt = f.clock.now();
  t.equal(keeper.lease.expiration, renewedAt + 600 * S);
  // The backoff does not carry over: the next renewal is an ordinary one, on time and at the first try.
  f.calls.length = 0;
  await f.clock.advance(500 * S);
  t.same(
    f.calls.filter((c) => c.call === 'getSubnet').map((c) => [c.at - renewedAt, c.failed]),
    [[500 * S, false]],
  );
  t.equal(f.logs.filter((l) => l.startsWith('etcd: renewed')).length, 2);
});

t.test('a subnet another host holds by renewal time is reported lost and never taken back', async (t) => {
  const f = fixture(t, { ttlSeconds: 60, renewMarginSeconds: 10 });
  const keeper = await f.acquire();
  const key = f.key(keeper.lease);
  f.registry.delete(key);
  f.registry.put(key, encodeLeaseValue(vxlan(7)));
  await f.clock.advance(50 * S);
  t.same(
    f.lost.map((l) => l.subnet),
    ['198.18.1.0/24'],
  );
  t.equal((await f.registry.getSubnet(key))?.value, encodeLeaseValue(vxlan(7)), 'the other host keeps it');
  f.calls.length = 0;
  await f.clock.advance(3600 * S);
  t.same(
    f.calls.filter((c) => c.call !== 'ping'),
    [],
    'no renewal after the loss',
  );
});

t.test('a renewal whose reply was lost is done again, and no etcd lease is left behind', async (t) => {
  const f = fixture(t, { ttlSeconds: 60, renewMarginSeconds: 10 });
  const keeper = await f.acquire();
  const key = f.key(keeper.lease);
  f.registry.failNext('replace', 1, 'after'); // the write applies; the reply never comes
  await f.clock.until(() => f.logs.some((l) => l.startsWith('etcd: renewed')), 60 * S);
  const entry = await f.registry.getSubnet(key);
  t.equal(entry?.value, encodeLeaseValue(vxlan(1)));
  t.equal(await f.registry.remaining(entry!.leaseId), 60);
  t.equal(f.registry.leaseCount, 1, 'the lease before the lost reply and the one it wrote are both revoked');
});

t.test('acquire: a create whose reply was lost is found by its PublicIP and reused, not a second subnet', async (t) => {
  const f = fixture(t);
  f.registry.failNext('create', 1, 'after');
  const keeper = await f.clock.run(f.acquire(), 5 * S);
  const { entries } = await f.registry.listSubnets();
  t.same(
    entries.map((e) => e.key),
    [f.key(keeper.lease)],
  );
  t.ok(f.logs.some((l) => l.startsWith('etcd: reusing 198.18.1.0/24')));
});

t.test('acquire: hosts racing for one subnet each get their own; a full range is a PermanentError', async (t) => {
  const clock = new VirtualClock();
  const registry = new MemoryRegistry({ clock });
  // random() = 0: every host picks the first free subnet, so all but one lose each race they run.
  const keepers = await Promise.all([1, 2, 3, 4].map((host) => fixture(t, { clock, registry, host }).acquire()));
  const subnets = keepers.map((k) => k.lease.subnet);
  t.equal(new Set(subnets).size, 4, subnets.join(' '));
  const small = parseNetworkConfig('{"Network":"198.18.0.0/28","Backend":{"Type":"vxlan"}}');
  const full = fixture(t, { keeper: { config: small } });
  for (const n of [5, 6, 7]) full.registry.put(full.registry.keys.subnetKey(`198.18.0.${(n - 4) * 4}/30`), encodeLeaseValue(vxlan(n)));
  await t.rejects(full.acquire(), PermanentError);
  await t.rejects(full.acquire(), /no free subnet in 198\.18\.0\.4\.\.198\.18\.0\.12 \(\/30\): 3 taken/);
});
