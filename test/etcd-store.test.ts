// The etcd store against a real etcd (Debian's etcd-server, started here on
// loopback with its own data dir): flannel's layout both ways (what etcdctl
// writes in flannel's form is read; what tulle writes is flannel's exact
// JSON under a TTL lease), acquire / renew / reclaim, two and more hosts,
// TTL expiry, malformed values, and etcd going away: killed and restarted,
// paused, or cut off from one host while others keep writing, including
// past its compaction.
import t, { type Test } from 'tap';
import { EtcdServer, LinkCut, haveEtcd } from './helpers/etcd-server.js';
import { EtcdStore, NetworkConfigError, PermanentError, readNetworkConfig, writeNetworkConfig, type EtcdStoreOptions } from '../src/etcd/index.js';
import { LeaseTable, type Lease, type LeaseAttrs, type LeaseEvent } from '../src/lease/lease.js';

if (!haveEtcd()) {
  t.fail('etcd and etcdctl are needed (Debian: apt-get install etcd-server etcd-client; .ci/run installs them)');
  process.exit(1);
}

const server = await EtcdServer.start();
t.teardown(() => server.dispose());

let prefixes = 0;
/** A fresh prefix per test, so watches and allocations never see another test's keys. */
function freshPrefix(): string {
  return `/tulle-test-${++prefixes}/network`;
}

function vxlan(n: number): LeaseAttrs {
  return { publicIP: `192.0.2.${n}`, backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: `02:00:5e:00:53:${n.toString(16).padStart(2, '0')}` } };
}

/** Flannel's value for a host, as flannel's vxlan backend marshals it. */
function flannelValue(n: number): string {
  return `{"PublicIP":"192.0.2.${n}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:5e:00:53:${n.toString(16).padStart(2, '0')}"}}`;
}

const FAST = { pingIntervalMs: 200, callTimeoutMs: 1000, retryInitialMs: 100, retryMaxMs: 500 };

async function openStore(t: Test, options: Partial<EtcdStoreOptions> & { prefix: string }, endpoint = server.endpoint) {
  const logs: string[] = [];
  const store = await EtcdStore.open({ endpoints: [endpoint], ...FAST, log: (line) => logs.push(line), ...options });
  t.teardown(() => store.close());
  return { store, logs };
}

/** A watch that records every batch and keeps a LeaseTable, as the daemon would. */
function record(t: Test, store: EtcdStore) {
  const batches: LeaseEvent[][] = [];
  const table = new LeaseTable();
  const stop = store.watch((batch) => {
    batches.push(batch);
    table.apply(batch);
  });
  t.teardown(stop);
  return { batches, table, events: () => batches.flat(), stop };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** etcdctl's lease ID for a key (JSON numbers this large lose precision in JSON.parse: read the digits). */
function leaseIdOf(srv: EtcdServer, key: string): string {
  const m = /"lease":(\d+)/.exec(srv.etcdctl('get', key, '-w', 'json'));
  return m === null ? '0' : BigInt(m[1]).toString(16);
}

function grant(srv: EtcdServer, ttl: number): string {
  const m = /lease ([0-9a-f]+) granted with TTL\((\d+)s\)/.exec(srv.etcdctl('lease', 'grant', String(ttl)));
  if (m === null) throw new Error('etcdctl lease grant: unexpected output');
  return m[1];
}

const subnetOf = (e: LeaseEvent) => `${e.type} ${e.lease.subnet} ${e.lease.publicIP}`;

// ---------------------------------------------------------------- config

t.test('network config: written by the helper or by etcdctl, read strictly', async (t) => {
  const prefix = freshPrefix();
  const written = await writeNetworkConfig({ endpoints: [server.endpoint], prefix }, { network: '198.18.0.0/16', backend: { type: 'vxlan' } });
  t.equal(server.etcdctl('get', `${prefix}/config`, '--print-value-only').trim(), written, 'etcdctl reads what was written');
  t.equal(written, '{"Network":"198.18.0.0/16","SubnetLen":24,"SubnetMin":"198.18.1.0","SubnetMax":"198.18.255.0","Backend":{"Type":"vxlan","VNI":1}}');
  t.same(await readNetworkConfig({ endpoints: [server.endpoint], prefix }), {
    network: '198.18.0.0/16',
    subnetLen: 24,
    subnetMin: '198.18.1.0',
    subnetMax: '198.18.255.0',
    backendType: 'vxlan',
    backend: { type: 'vxlan', vni: 1 },
  });

  // flannel's documented minimal config, put with etcdctl as flannel's docs do.
  const other = freshPrefix();
  server.etcdctl('put', `${other}/config`, '{ "Network": "198.18.0.0/16", "Backend": {"Type": "vxlan"}}');
  const { store } = await openStore(t, { prefix: other });
  t.match(await store.networkConfig(), { subnetMin: '198.18.1.0', subnetMax: '198.18.255.0', backend: { vni: 1 } });
  // vxlan's DirectRouting reaches the daemon's plan (start-plan.ts settleBackend), as the store's choice.
  const direct = freshPrefix();
  server.etcdctl('put', `${direct}/config`, '{"Network":"198.18.0.0/16","Backend":{"Type":"vxlan","DirectRouting":true}}');
  t.match(await (await openStore(t, { prefix: direct })).store.networkConfig(), { backendDirectRouting: true });

  const missing = freshPrefix();
  await t.rejects(readNetworkConfig({ endpoints: [server.endpoint], prefix: missing }), NetworkConfigError);
  const { store: noConfig } = await openStore(t, { prefix: missing });
  await t.rejects(noConfig.networkConfig(), { name: 'NetworkConfigError', message: new RegExp(`${missing}/config:\\n.*the key is missing.*etcdctl put`) });

  const bad = freshPrefix();
  server.etcdctl('put', `${bad}/config`, '{"Network":"198.18.0.0/16","SubnetLen":33,"Backend":{"Type":"ipip"}}');
  const { store: badStore } = await openStore(t, { prefix: bad });
  const error = await badStore.networkConfig().catch((e: unknown) => e);
  t.ok(error instanceof NetworkConfigError);
  t.same(
    (error as NetworkConfigError).problems.map((p) => p.split(':')[0]),
    ['SubnetLen', 'Backend.Type'],
    'both problems, each naming its field',
  );
  await t.rejects(
    writeNetworkConfig({ endpoints: [server.endpoint], prefix: bad }, { network: '198.18.0.1/16' }),
    NetworkConfigError,
    'the writer refuses a bad config before writing',
  );
  t.match(server.etcdctl('get', `${bad}/config`, '--print-value-only'), /"SubnetLen":33/, 'and left the key alone');
});

t.test('options are checked: field, value, allowed', async (t) => {
  await t.rejects(EtcdStore.open({ endpoints: [] }), {
    name: 'EtcdOptionsError',
    message: /endpoints: \[\] is not allowed; allowed: one or more etcd client URLs/,
  });
  await t.rejects(EtcdStore.open({ endpoints: ['127.0.0.1'], prefix: 'coreos.com', ttlSeconds: 1 }), {
    message:
      /endpoints\[0\]: "127.0.0.1" is not allowed[\s\S]*prefix: "coreos.com" is not allowed[\s\S]*ttlSeconds: 1 is not allowed; allowed: an integer number of seconds, at least 2/,
  });
  const prefix = freshPrefix();
  await writeNetworkConfig({ endpoints: [server.endpoint], prefix }, { network: '198.18.0.0/16', backend: { type: 'vxlan' } });
  const { store } = await openStore(t, { prefix });
  await t.rejects(store.acquire({ publicIP: '192.0.2.1', backendType: 'udp', backendData: {} }), {
    message: /backendType: "udp" is not allowed; allowed: "vxlan", the network's Backend.Type/,
  });
  await t.rejects(store.acquire({ publicIP: '192.0.2.256', backendType: 'vxlan', backendData: { VNI: 1 } }), {
    message: /publicIP: "192.0.2.256" is not allowed[\s\S]*backendData.VtepMAC: missing is not allowed/,
  });
});

// ---------------------------------------------------------------- acquire, renew, reclaim

t.test("acquire: flannel's exact lease value under an etcd lease with the TTL; renewed before it runs out", async (t) => {
  const prefix = freshPrefix();
  await writeNetworkConfig({ endpoints: [server.endpoint], prefix }, { network: '198.18.0.0/16', backend: { type: 'vxlan' } });
  const { store, logs } = await openStore(t, { prefix, ttlSeconds: 4 });
  const before = Date.now();
  const own = await store.acquire(vxlan(1));
  t.match(own.subnet, /^198\.18\.(\d+)\.0\/24$/);
  const third = Number(own.subnet.split('.')[2]);
  t.ok(third >= 1 && third <= 255, `inside SubnetMin..SubnetMax: ${own.subnet}`);
  t.ok(own.expiration >= before + 3000 && own.expiration <= Date.now() + 4000, 'expiration ≈ now + TTL');
  const key = `${prefix}/subnets/${own.subnet.replace('/', '-')}`;
  t.equal(server.etcdctl('get', key, '--print-value-only').trim(), flannelValue(1), "etcdctl reads flannel's exact JSON");
  const ttl1 = server.etcdctl('lease', 'timetolive', leaseIdOf(server, key), '--keys');
  t.match(
    ttl1,
    new RegExp(`granted with TTL\\(4s\\), remaining\\(\\d+s\\), attached keys\\(\\[${key}\\]\\)`),
    'the key is attached to an etcd lease with the TTL',
  );

  const firstLease = leaseIdOf(server, key);
  await waitFor('a renewal', () => logs.some((l) => l.includes(`renewed ${own.subnet}`)), 6000);
  const renewedLease = leaseIdOf(server, key);
  t.not(renewedLease, firstLease, 'renewal moved the key to a new etcd lease (flannel renews with a new lease and a put)');
  t.match(server.etcdctl('lease', 'timetolive', firstLease), /already expired|not found/i, 'the old lease was revoked, not left to linger');
  t.ok(store.ownLease!.expiration > own.expiration, "the own lease's expiration moved forward");
  await sleep(2500);
  t.equal(server.etcdctl('get', key, '--print-value-only').trim(), flannelValue(1), 'still there after more than the TTL');
  await t.rejects(store.acquire(vxlan(1)), PermanentError, 'one acquire per store');
});

t.test('reclaim: the same PublicIP gets the same subnet back; release gives it up; a misfit lease is replaced', async (t) => {
  const prefix = freshPrefix();
  await writeNetworkConfig({ endpoints: [server.endpoint], prefix }, { network: '198.18.0.0/16', backend: { type: 'vxlan' } });
  const first = await openStore(t, { prefix });
  const own = await first.store.acquire(vxlan(1));
  await first.store.close(); // a restart: no release

  const second = await openStore(t, { prefix });
  const again = await second.store.acquire({ ...vxlan(1), backendData: { VNI: 1, VtepMAC: '02:00:5e:00:53:aa' } });
  t.equal(again.subnet, own.subnet, 'same subnet after a restart');
  t.ok(
    second.logs.some((l) => l.includes(`reusing ${own.subnet}, already leased to 192.0.2.1`)),
    'and says so',
  );
  t.equal(again.backendData.VtepMAC, '02:00:5e:00:53:aa');
  const key = `${prefix}/subnets/${own.subnet.replace('/', '-')}`;
  t.match(server.etcdctl('get', key, '--print-value-only'), /"VtepMAC":"02:00:5e:00:53:aa"/, 'the stored value carries the new attributes');
  t.equal(server.etcdctl('get', `${prefix}/subnets/`, '--prefix', '--keys-only').trim().split('\n').length, 1, 'still one lease');
  await second.store.close({ release: true });
  t.equal(server.etcdctl('get', key).trim(), '', 'released: the key is gone');

  const third = await openStore(t, { prefix, previousSubnet: own.subnet });
  t.equal((await third.store.acquire(vxlan(2))).subnet, own.subnet, "a free previous subnet is taken again (flannel's subnet.env fallback)");

  // A lease for our PublicIP outside SubnetMin..SubnetMax (e.g. the config changed): deleted, a fitting one taken.
  server.etcdctl('put', `${prefix}/subnets/198.18.0.0-24`, flannelValue(3));
  const fourth = await openStore(t, { prefix });
  const moved = await fourth.store.acquire(vxlan(3));
  t.not(moved.subnet, '198.18.0.0/24');
  t.equal(server.etcdctl('get', `${prefix}/subnets/198.18.0.0-24`).trim(), '', 'the misfit lease was deleted');
  t.ok(fourth.logs.some((l) => l.includes('198.18.0.0/24 was leased to 192.0.2.3 but does not fit the network')));

  // A reservation (flannel's: the key without an etcd lease) for our PublicIP is ours and stays a reservation.
  server.etcdctl('put', `${prefix}/subnets/198.18.40.0-24`, flannelValue(40));
  const reserved = await openStore(t, { prefix, ttlSeconds: 2 });
  const r = await reserved.store.acquire(vxlan(40));
  t.equal(r.subnet, '198.18.40.0/24');
  t.equal(r.expiration, Number.POSITIVE_INFINITY);
  t.ok(reserved.logs.some((l) => l.includes('reusing 198.18.40.0/24, already leased to 192.0.2.40 (a reservation)')));
  await sleep(2500);
  t.equal(leaseIdOf(server, `${prefix}/subnets/198.18.40.0-24`), '0', 'still without an etcd lease after more than the TTL');
  t.notOk(
    reserved.logs.some((l) => l.includes('renewed')),
    'never renewed',
  );
});

t.test('a subnet another host holds by renewal time is never taken back: the loss is reported', async (t) => {
  const prefix = freshPrefix();
  await writeNetworkConfig({ endpoints: [server.endpoint], prefix }, { network: '198.18.0.0/16', backend: { type: 'vxlan' } });
  const lost: Lease[] = [];
  const { store, logs } = await openStore(t, { prefix, ttlSeconds: 2, onLeaseLost: (l) => lost.push(l) });
  const own = await store.acquire(vxlan(1));
  const key = `${prefix}/subnets/${own.subnet.replace('/', '-')}`;
  server.etcdctl('put', key, flannelValue(99)); // e.g. an operator's reservation for another host
  await waitFor('the loss', () => lost.length === 1, 5000);
  t.equal(lost[0].subnet, own.subnet);
  t.ok(logs.some((l) => l === `etcd: ${own.subnet} is now held by 192.0.2.99; this host's lease is lost`));
  await sleep(1500);
  t.equal(server.etcdctl('get', key, '--print-value-only').trim(), flannelValue(99), 'the other host keeps it');
  t.equal(lost.length, 1, 'no renewal after the loss');
});

t.test("hosts see each other's leases; racing hosts never share a subnet; a full range is an error", async (t) => {
  const prefix = freshPrefix();
  await writeNetworkConfig(
    { endpoints: [server.endpoint], prefix },
    { network: '198.18.0.0/16', subnetMin: '198.18.1.0', subnetMax: '198.18.6.0', backend: { type: 'vxlan' } },
  );
  const a = await openStore(t, { prefix });
  const b = await openStore(t, { prefix });
  const wa = record(t, a.store);
  const wb = record(t, b.store);
  await waitFor('first batches', () => wa.batches.length > 0 && wb.batches.length > 0);
  t.same(wa.batches[0], [], 'an empty network: the first batch is empty');
  const la = await a.store.acquire(vxlan(1));
  const lb = await b.store.acquire(vxlan(2));
  t.not(la.subnet, lb.subnet);
  await waitFor('both leases on both hosts', () => wa.table.size === 2 && wb.table.size === 2);
  for (const w of [wa, wb]) {
    t.equal(w.table.get(la.subnet)?.publicIP, '192.0.2.1');
    t.equal(w.table.get(lb.subnet)?.backendData.VtepMAC, '02:00:5e:00:53:02');
  }

  // Four more hosts at once for the four subnets left: each create is a transaction that fails if the key exists.
  const racers = await Promise.all([3, 4, 5, 6].map(async () => (await openStore(t, { prefix })).store));
  const got = await Promise.all(racers.map((s, i) => s.acquire(vxlan(3 + i))));
  const all = new Set([la.subnet, lb.subnet, ...got.map((l) => l.subnet)]);
  t.equal(all.size, 6, `six hosts, six subnets: ${[...all].sort().join(' ')}`);
  await waitFor('all six on the first host', () => wa.table.size === 6);
  const late = await openStore(t, { prefix });
  await t.rejects(late.store.acquire(vxlan(7)), { name: 'PermanentError', message: /no free subnet in 198.18.1.0..198.18.6.0 \(\/24\): 6 taken/ });
});

// ---------------------------------------------------------------- flannel's own leases, expiry, malformed values

t.test('leases written by etcdctl as flannel writes them are read; TTL expiry is a removal', async (t) => {
  const prefix = freshPrefix();
  await writeNetworkConfig(
    { endpoints: [server.endpoint], prefix },
    { network: '198.18.0.0/16', subnetMin: '198.18.10.0', subnetMax: '198.18.12.0', backend: { type: 'vxlan' } },
  );
  const id = grant(server, 30);
  server.etcdctl('put', `--lease=${id}`, `${prefix}/subnets/198.18.10.0-24`, flannelValue(10));
  server.etcdctl('put', `${prefix}/subnets/198.18.11.0-24`, flannelValue(11)); // a reservation: no TTL
  const { store } = await openStore(t, { prefix });
  const w = record(t, store);
  await waitFor('the first batch', () => w.batches.length > 0);
  t.same(w.batches[0].map(subnetOf).sort(), ['added 198.18.10.0/24 192.0.2.10', 'added 198.18.11.0/24 192.0.2.11']);
  const leased = w.table.get('198.18.10.0/24')!;
  t.same(leased.backendData, { VNI: 1, VtepMAC: '02:00:5e:00:53:0a' });
  t.equal(leased.backendType, 'vxlan');
  t.ok(Math.abs(leased.expiration - (Date.now() + 30_000)) < 3000, "expiration from the etcd lease's remaining TTL");
  t.equal(w.table.get('198.18.11.0/24')!.expiration, Number.POSITIVE_INFINITY, 'a reservation never expires');
  t.equal((await store.acquire(vxlan(1))).subnet, '198.18.12.0/24', 'the free one of three');

  // A short-lived lease as flannel would write it: added, then removed when etcd expires it.
  const short = grant(server, 2);
  const other = freshPrefix();
  await writeNetworkConfig({ endpoints: [server.endpoint], prefix: other }, { network: '198.18.0.0/16', backend: { type: 'vxlan' } });
  const watcher = await openStore(t, { prefix: other });
  const w2 = record(t, watcher.store);
  await waitFor('the first batch', () => w2.batches.length > 0);
  server.etcdctl('put', `--lease=${short}`, `${other}/subnets/198.18.20.0-24`, flannelValue(20));
  await waitFor('added', () => w2.events().some((e) => e.type === 'added'));
  const addedAt = Date.now();
  await waitFor('removed on expiry', () => w2.events().some((e) => e.type === 'removed'), 6000);
  t.same(w2.events().map(subnetOf), ['added 198.18.20.0/24 192.0.2.20', 'removed 198.18.20.0/24 192.0.2.20']);
  t.ok(Date.now() - addedAt >= 1000, `removed after the TTL (${Date.now() - addedAt} ms)`);

  // A tulle host that stops without releasing: its lease runs out the same way.
  const quitter = await openStore(t, { prefix: other, ttlSeconds: 2 });
  const q = await quitter.store.acquire(vxlan(21));
  await waitFor('its lease seen', () => w2.table.get(q.subnet) !== undefined);
  await quitter.store.close();
  await waitFor('its lease expired', () => w2.table.get(q.subnet) === undefined, 6000);
  t.equal(w2.events().at(-1)?.type, 'removed');
});

t.test('malformed lease values are skipped, counted and logged; the key stays taken', async (t) => {
  const prefix = freshPrefix();
  await writeNetworkConfig(
    { endpoints: [server.endpoint], prefix },
    { network: '198.18.0.0/16', subnetMin: '198.18.30.0', subnetMax: '198.18.33.0', backend: { type: 'vxlan' } },
  );
  server.etcdctl('put', `${prefix}/subnets/198.18.30.0-24`, 'not json');
  server.etcdctl('put', `${prefix}/subnets/198.18.31.0-24`, '{"PublicIP":"192.0.2.300","BackendType":"vxlan"}');
  server.etcdctl('put', `${prefix}/subnets/not-a-subnet`, flannelValue(9));
  server.etcdctl('put', `${prefix}/subnets/198.18.32.0-24`, flannelValue(32));
  const { store, logs } = await openStore(t, { prefix });
  const w = record(t, store);
  await waitFor('the first batch', () => w.batches.length > 0);
  t.same(w.batches[0].map(subnetOf), ['added 198.18.32.0/24 192.0.2.32'], 'only the good lease');
  t.equal(store.counters.malformed, 3);
  t.ok(
    logs.some((l) => /skipped a lease: .*198\.18\.30\.0-24: not JSON/.test(l)),
    'logged with the key and the reason',
  );
  t.ok(logs.some((l) => /skipped a lease: .*not-a-subnet: not a subnet key/.test(l)));

  // At run time: a good lease overwritten with garbage is no longer anyone's route.
  server.etcdctl('put', `${prefix}/subnets/198.18.32.0-24`, '{"PublicIP":"192.0.2.32","BackendType":"vxlan","BackendData":{"VtepMAC":7}}');
  await waitFor('the overwritten lease removed', () => w.table.size === 0);
  t.equal(store.counters.malformed, 4);
  t.same(w.events().map(subnetOf), ['added 198.18.32.0/24 192.0.2.32', 'removed 198.18.32.0/24 192.0.2.32']);
  t.equal((await store.acquire(vxlan(1))).subnet, '198.18.33.0/24', 'keys with malformed values are still taken');
});

// ---------------------------------------------------------------- etcd going away

t.test('etcd killed and restarted on the same data dir: no removals meanwhile, own lease renewed, later writes seen', async (t) => {
  const own = await EtcdServer.start();
  t.teardown(() => own.dispose());
  const prefix = '/coreos.com/network';
  await writeNetworkConfig({ endpoints: [own.endpoint] }, { network: '198.18.0.0/16', backend: { type: 'vxlan' } });
  const a = await openStore(t, { prefix, ttlSeconds: 6 }, own.endpoint); // renews 3 s after each renewal
  const b = await openStore(t, { prefix }, own.endpoint);
  const w = record(t, a.store);
  const la = await a.store.acquire(vxlan(1));
  const lb = await b.store.acquire(vxlan(2));
  await waitFor('both leases', () => w.table.size === 2);
  const seen = w.events().length;

  await own.kill('SIGKILL');
  const down = Date.now();
  await waitFor('the store to notice', () => a.store.state === 'down', 3000);
  await sleep(4000); // past the renewal that falls due during the outage
  t.same(
    w
      .events()
      .slice(seen)
      .filter((e) => e.type === 'removed'),
    [],
    'no removal while etcd is away',
  );
  t.equal(w.table.size, 2, 'the known leases stand');

  await own.restart();
  const back = Date.now();
  own.etcdctl('put', `--lease=${grant(own, 60)}`, `${prefix}/subnets/198.18.200.0-24`, flannelValue(200));
  await waitFor('the lease written after the restart', () => w.table.get('198.18.200.0/24') !== undefined, 10_000);
  await waitFor('own lease renewed', () => a.store.ownLease!.expiration > back + 4000, 10_000);
  t.equal(a.store.ownLease!.subnet, la.subnet, 'same subnet');
  t.equal(a.store.state, 'up');
  t.same(
    w.events().filter((e) => e.type === 'removed'),
    [],
    'no removal at all',
  );
  t.same(
    w.table
      .list()
      .map((l) => l.subnet)
      .sort(),
    [la.subnet, lb.subnet, '198.18.200.0/24'].sort(),
  );
  const key = `${prefix}/subnets/${la.subnet.replace('/', '-')}`;
  t.equal(own.etcdctl('get', key, '--print-value-only').trim(), flannelValue(1));
  t.match(own.etcdctl('lease', 'timetolive', leaseIdOf(own, key)), /granted with TTL\(6s\)/);
  t.ok(
    a.logs.some((l) => l.startsWith('etcd: unreachable (')),
    'logged: unreachable',
  );
  t.ok(
    a.logs.some((l) => /^etcd: reachable again after \d+\.\d s$/.test(l)),
    'logged: back',
  );
  t.ok(
    a.logs.some((l) => /^etcd: watch resumed from revision \d+$/.test(l)),
    'logged: watch resumed',
  );
  t.equal(a.logs.filter((l) => l.startsWith('etcd: unreachable')).length, 1, 'one line per state change, not per retry');
  t.comment(`outage ${back - down} ms`);

  // Paused (SIGSTOP): connections stay open but nothing answers; calls time out instead of hanging.
  own.pause();
  await waitFor('the store to notice the pause', () => a.store.state === 'down', 5000);
  // Counted once the pause is noticed: a watch event etcd sent just before it (the own lease's renewal
  // falls due every 3 s) may still be on its way when the pause begins.
  const before = w.events().length;
  await sleep(1000);
  t.equal(w.events().length, before, 'nothing reported while etcd is paused');
  own.resume();
  await waitFor('up again', () => a.store.state === 'up', 5000);
  own.etcdctl('put', `${prefix}/subnets/198.18.201.0-24`, flannelValue(201));
  await waitFor('a write after the pause', () => w.table.get('198.18.201.0/24') !== undefined, 5000);
  t.same(
    w.events().filter((e) => e.type === 'removed'),
    [],
    'still no removal',
  );
});

t.test('cut off from etcd while others write: changes seen after; an own lease that expired meanwhile is re-created on the same subnet', async (t) => {
  const relay = await LinkCut.open(server.clientPort);
  t.teardown(() => relay.close());
  const prefix = freshPrefix();
  await writeNetworkConfig({ endpoints: [server.endpoint], prefix }, { network: '198.18.0.0/16', backend: { type: 'vxlan' } });
  const a = await openStore(t, { prefix, ttlSeconds: 3 }, relay.endpoint);
  const b = await openStore(t, { prefix });
  const w = record(t, a.store);
  const la = await a.store.acquire(vxlan(1));
  const lb = await b.store.acquire(vxlan(2));
  await waitFor('both leases', () => w.table.size === 2);

  relay.cut();
  await waitFor('the store to notice', () => a.store.state === 'down', 3000);
  const seen = w.events().length;
  server.etcdctl('put', `--lease=${grant(server, 60)}`, `${prefix}/subnets/198.18.210.0-24`, flannelValue(210));
  await b.store.close({ release: true });
  await sleep(4500); // longer than A's TTL: etcd expires A's lease
  t.equal(server.etcdctl('get', `${prefix}/subnets/${la.subnet.replace('/', '-')}`).trim(), '', "A's lease expired in etcd");
  t.equal(w.events().length, seen, 'nothing reported while cut off');

  relay.restore();
  await waitFor('the new lease', () => w.table.get('198.18.210.0/24') !== undefined);
  await waitFor('the released lease gone', () => w.table.get(lb.subnet) === undefined);
  await waitFor('own lease back', () => w.table.get(la.subnet) !== undefined && a.logs.some((l) => l.includes(`${la.subnet} had expired; re-created it`)));
  t.equal(a.store.ownLease!.subnet, la.subnet, 'same subnet');
  t.equal(server.etcdctl('get', `${prefix}/subnets/${la.subnet.replace('/', '-')}`, '--print-value-only').trim(), flannelValue(1));
  t.equal(a.store.counters.resyncs, 0, 'resumed from its revision: no full listing needed');
  t.ok(a.store.counters.reconnects >= 1);
  const after = w.events().slice(seen).map(subnetOf);
  t.ok(after.includes(`added 198.18.210.0/24 192.0.2.210`) && after.includes(`removed ${lb.subnet} 192.0.2.2`), after.join(', '));
});

t.test("a watch that fell behind etcd's compaction resyncs: the difference is reported, nothing else", async (t) => {
  const relay = await LinkCut.open(server.clientPort);
  t.teardown(() => relay.close());
  const prefix = freshPrefix();
  server.etcdctl('put', `${prefix}/subnets/198.18.1.0-24`, flannelValue(1));
  server.etcdctl('put', `${prefix}/subnets/198.18.2.0-24`, flannelValue(2));
  const a = await openStore(t, { prefix }, relay.endpoint);
  const w = record(t, a.store);
  await waitFor('the first batch', () => w.batches.length > 0);
  t.equal(w.table.size, 2);

  relay.cut();
  await waitFor('the store to notice', () => a.store.state === 'down', 3000);
  server.etcdctl('del', `${prefix}/subnets/198.18.1.0-24`);
  server.etcdctl('put', `${prefix}/subnets/198.18.3.0-24`, flannelValue(3));
  const revision = /"revision":(\d+)/.exec(server.etcdctl('put', `${prefix}/unrelated`, 'x', '-w', 'json'))![1];
  server.etcdctl('compact', revision);
  const seen = w.events().length;

  relay.restore();
  await waitFor('the resync', () => a.store.counters.resyncs === 1 && w.events().length > seen);
  t.same(w.events().slice(seen).map(subnetOf).sort(), ['added 198.18.3.0/24 192.0.2.3', 'removed 198.18.1.0/24 192.0.2.1'], 'only the difference');
  t.same(
    w.table.list().map((l) => l.subnet),
    ['198.18.2.0/24', '198.18.3.0/24'],
  );
  t.ok(a.logs.some((l) => /watch fell behind: revision \d+ was compacted/.test(l)));
  server.etcdctl('put', `${prefix}/subnets/198.18.4.0-24`, flannelValue(4));
  await waitFor('the watch goes on after the resync', () => w.table.size === 3);
});
