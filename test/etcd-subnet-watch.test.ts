// The watch over `<prefix>/subnets/` without etcd: an in-memory registry on
// virtual time. The first listing, then puts, changes, deletes and TTL expiry
// as batches; a disconnect that reports nothing and resumes from the right
// revision (so nothing is missed or reported twice); a resume point moved on
// by progress notifications; backoff while the stream cannot be opened; and a
// compacted revision answered by listing again and reporting the difference;
// churn faster than a TTL round trip, which the watch must keep up with.
// The same logic against a real etcd: test/etcd-store.test.ts.
import t, { type Test } from 'tap';
import { encodeLeaseValue } from '../src/etcd/lease-value.js';
import { MemoryRegistry } from '../src/etcd/memory-registry.js';
import { SubnetWatch, type WatchCounters } from '../src/etcd/subnet-watch.js';
import { LeaseTable, type LeaseAttrs, type LeaseEvent } from '../src/lease/lease.js';
import { memoryEtcd } from './helpers/memory-etcd.js';
import { VirtualClock } from './helpers/virtual-clock.js';

const S = 1000;

function vxlan(n: number, vni = 1): LeaseAttrs {
  return { publicIP: `192.0.2.${n}`, backendType: 'vxlan', backendData: { VNI: vni, VtepMAC: `02:00:5e:00:53:${n.toString(16).padStart(2, '0')}` } };
}

/** A watch on a memory registry; reconnect backoff without jitter: 200, 400, … 5000 ms. */
function fixture(t: Test) {
  const { clock, calls, registry, logs, connection } = memoryEtcd(t);
  const counters: WatchCounters = { malformed: 0, reconnects: 0, resyncs: 0 };
  const batches: LeaseEvent[][] = [];
  let listenerThrows = false;
  const key = (n: number) => registry.keys.subnetKey(`198.18.${n}.0/24`);
  /** Host n holds 198.18.n.0/24 (etcdctl-style, as another host would write it). */
  const put = (n: number, leaseId?: string, attrs = vxlan(n)) => registry.put(key(n), encodeLeaseValue(attrs), leaseId);
  const start = () => {
    const watch = new SubnetWatch({
      registry,
      connection,
      counters,
      log: (line) => logs.push(line),
      onBatch: (b) => {
        batches.push(b);
        if (listenerThrows) throw new Error('listener failed');
      },
      fallbackTtlSeconds: 3600,
      retryInitialMs: 200,
      retryMaxMs: 5000,
      random: () => 1,
      clock,
    });
    t.teardown(async () => {
      watch.stop();
      connection.close();
      await watch.done;
    });
    return watch;
  };
  const shown = (batch: LeaseEvent[]) => batch.map((e) => `${e.type} ${e.lease.subnet} ${e.lease.publicIP}`);
  const failListener = () => void (listenerThrows = true);
  return { clock, registry, connection, logs, counters, batches, calls, key, put, start, shown, failListener };
}

t.test('the first batch lists every lease; then a put is added, a change added again, a delete and a TTL expiry removed', async (t) => {
  const f = fixture(t);
  const grant = await f.registry.grant(60);
  f.put(1, grant.id);
  f.put(2); // a reservation: no etcd lease
  f.start();
  await f.clock.advance(0);
  t.same(f.batches.map(f.shown), [['added 198.18.1.0/24 192.0.2.1', 'added 198.18.2.0/24 192.0.2.2']]);
  const first = f.batches[0];
  t.equal(first[0].lease.expiration, f.clock.now() + 60 * S, "expiration from the etcd lease's remaining TTL");
  t.equal(first[1].lease.expiration, Number.POSITIVE_INFINITY, 'a reservation never expires');

  f.batches.length = 0;
  f.put(3);
  await f.clock.advance(0);
  f.put(2, undefined, vxlan(2, 7));
  await f.clock.advance(0);
  f.registry.delete(f.key(3));
  await f.clock.advance(0);
  t.same(f.batches.map(f.shown), [['added 198.18.3.0/24 192.0.2.3'], ['added 198.18.2.0/24 192.0.2.2'], ['removed 198.18.3.0/24 192.0.2.3']]);
  t.equal(f.batches[1][0].lease.backendData.VNI, 7, 'the change carries the new value');

  f.batches.length = 0;
  await f.clock.advance(60 * S);
  t.same(f.batches.map(f.shown), [['removed 198.18.1.0/24 192.0.2.1']], 'TTL expiry is a removal');
  t.same(f.counters, { malformed: 0, reconnects: 0, resyncs: 0 });
});

t.test('a malformed value is counted and skipped; over a known lease, that lease is removed; a throwing listener is logged', async (t) => {
  const f = fixture(t);
  f.put(1);
  f.start();
  await f.clock.advance(0);
  f.batches.length = 0;
  f.registry.put(f.key(1), '{"PublicIP":"not an address"}');
  f.registry.put(f.registry.keys.subnetsPrefix + 'not-a-subnet', encodeLeaseValue(vxlan(9)));
  await f.clock.advance(0);
  t.same(f.batches.map(f.shown), [['removed 198.18.1.0/24 192.0.2.1']]);
  t.equal(f.counters.malformed, 2);
  t.equal(f.logs.filter((l) => l.startsWith('etcd: skipped a lease: ')).length, 2);

  f.failListener();
  f.put(2);
  await f.clock.advance(0);
  f.put(3);
  await f.clock.advance(0);
  t.same(f.batches.slice(1).map(f.shown), [['added 198.18.2.0/24 192.0.2.2'], ['added 198.18.3.0/24 192.0.2.3']], 'the watch goes on');
  t.equal(f.logs.filter((l) => l === 'etcd: a lease listener threw: listener failed').length, 2);
});

t.test('cut off: nothing is reported meanwhile; the watch resumes from the last revision and reports the changes once', async (t) => {
  const f = fixture(t);
  f.put(1);
  f.put(2);
  f.start();
  await f.clock.advance(0);
  const listedAt = f.registry.revision;
  f.batches.length = 0;

  f.registry.disconnect();
  f.put(3); // other hosts write meanwhile
  f.registry.delete(f.key(1));
  await f.clock.advance(30 * S);
  t.same(f.batches, [], 'no removal for want of etcd');
  t.equal(f.connection.state, 'down');

  f.registry.reconnect();
  await f.clock.advance(5 * S);
  t.same(f.batches.map(f.shown), [['added 198.18.3.0/24 192.0.2.3'], ['removed 198.18.1.0/24 192.0.2.1']], 'each change once, in order');
  t.ok(f.logs.includes(`etcd: watch broken (14 UNAVAILABLE: connection lost); will resume from revision ${listedAt + 1}`));
  t.ok(f.logs.includes(`etcd: watch resumed from revision ${listedAt + 1}`));
  t.equal(f.counters.reconnects, 1);
  t.equal(f.counters.resyncs, 0, 'resumed, not listed again');
  t.equal(f.calls.filter((c) => c.call === 'listSubnets').length, 1);

  // And the stream goes on after the resume.
  f.batches.length = 0;
  f.put(4);
  await f.clock.advance(0);
  t.same(f.batches.map(f.shown), [['added 198.18.4.0/24 192.0.2.4']]);
});

t.test('the resume point moves on with the changes received and with progress notifications', async (t) => {
  const f = fixture(t);
  f.start();
  await f.clock.advance(0);
  f.put(1);
  await f.clock.advance(0);
  const afterPut = f.registry.revision;
  await f.registry.putConfig('{"Network":"198.18.0.0/16"}'); // a revision outside the watched prefix
  f.registry.notifyProgress();
  await f.clock.advance(0);
  f.registry.disconnect();
  await f.clock.advance(0);
  t.ok(afterPut < f.registry.revision);
  t.ok(f.logs.includes(`etcd: watch broken (14 UNAVAILABLE: connection lost); will resume from revision ${f.registry.revision + 1}`), f.logs.join('\n'));
});

t.test('the stream is reopened with backoff, 200 ms doubling to 5 s, reset once it is back', async (t) => {
  const f = fixture(t);
  f.start();
  await f.clock.advance(0);
  f.calls.length = 0;
  const firstBreak = f.clock.now();
  f.registry.disconnect();
  await f.clock.advance(30 * S);
  const opens = f.calls.filter((c) => c.call === 'watchSubnets');
  t.ok(opens.every((c) => c.failed));
  t.equal(opens[0].at - firstBreak, 200, 'the first reopen 200 ms after the break');
  t.same(
    opens
      .slice(1)
      .map((c, i) => c.at - opens[i].at)
      .slice(0, 7),
    [400, 800, 1600, 3200, 5000, 5000, 5000],
    'then doubling to 5 s',
  );
  f.registry.reconnect();
  await f.clock.advance(5 * S);
  t.equal(f.counters.reconnects, 1);

  // Broken again: the backoff starts over from 200 ms.
  f.calls.length = 0;
  const brokeAt = f.clock.now();
  f.registry.disconnect();
  await f.clock.advance(1 * S);
  t.same(
    f.calls.filter((c) => c.call === 'watchSubnets').map((c) => c.at - brokeAt),
    [200, 600],
  );
});

t.test('a resume point compacted away: the leases are listed again and only the difference is reported', async (t) => {
  const f = fixture(t);
  const lease2 = await f.registry.grant(600);
  f.put(1);
  f.put(2, lease2.id);
  f.put(3);
  f.start();
  await f.clock.advance(0);
  f.batches.length = 0;

  f.registry.disconnect();
  f.put(4); // new
  f.registry.delete(f.key(1)); // gone
  const renewed = await f.registry.grant(600).catch(() => undefined);
  t.equal(renewed, undefined, 'this host cannot reach the registry');
  f.put(3, undefined, vxlan(3)); // rewritten as it was (a renewal): same holder
  f.put(2, undefined, vxlan(2, 9)); // changed
  f.registry.compact();
  f.registry.reconnect();
  await f.clock.advance(5 * S);
  t.equal(f.counters.resyncs, 1);
  t.ok(f.logs.some((l) => /^etcd: watch fell behind: revision \d+ was compacted \(now \d+\); listing the leases again$/.test(l)));
  t.same(
    f.batches.map((b) => f.shown(b).sort()),
    [['added 198.18.2.0/24 192.0.2.2', 'added 198.18.4.0/24 192.0.2.4', 'removed 198.18.1.0/24 192.0.2.1']],
    'one batch: the difference, not the unchanged lease',
  );

  // After the resync the watch follows the stream again, from the listing's revision.
  f.batches.length = 0;
  f.registry.delete(f.key(4));
  await f.clock.advance(0);
  t.same(f.batches.map(f.shown), [['removed 198.18.4.0/24 192.0.2.4']]);
});

/** A registry whose TTL lookup is a round trip of `rttMs` (etcd under load), on the virtual clock. */
class SlowTtlRegistry extends MemoryRegistry {
  constructor(
    private readonly clock: VirtualClock,
    private readonly rttMs: number,
  ) {
    super({ clock });
  }

  override remaining(leaseId: string): Promise<number> {
    return new Promise<void>((resolve) => this.clock.setTimer(this.rttMs, resolve)).then(() => super.remaining(leaseId));
  }
}

t.test('churn at 200 writes/s with a 20 ms TTL round trip: the table keeps within a round trip or two of etcd', async (t) => {
  const RTT_MS = 20;
  const TICK_MS = 5; // one put and one delete per tick: 200 writes/s
  const TICKS = 3000; // 6,000 writes
  const LIVE = 20;
  const clock = new VirtualClock();
  const registry = new SlowTtlRegistry(clock, RTT_MS);
  const { connection } = memoryEtcd(t, { clock, registry });
  const table = new LeaseTable();
  let batches = 0;
  let events = 0;
  const watch = new SubnetWatch({
    registry,
    connection,
    counters: { malformed: 0, reconnects: 0, resyncs: 0 },
    log: () => {},
    onBatch: (b) => {
      batches++;
      events += b.length;
      table.apply(b);
    },
    fallbackTtlSeconds: 3600,
    retryInitialMs: 200,
    retryMaxMs: 5000,
    random: () => 1,
    clock,
  });
  t.teardown(async () => {
    watch.stop();
    connection.close();
    await watch.done;
  });
  await clock.advance(RTT_MS);
  const { id } = await registry.grant(3600);
  const subnet = (i: number) => `198.18.${(i % 250) + 1}.0/24`;
  /** What etcd holds now: subnet → holder (subnets come round again, each time to another holder). */
  const live = new Map<string, string>();
  /** Leases the table holds that etcd no longer does, and those etcd holds that the table lacks. */
  const stale = () => table.list().filter((l) => live.get(l.subnet) !== l.publicIP).length;
  const behind = () => stale() + [...live].filter(([s, ip]) => table.get(s)?.publicIP !== ip).length;
  let maxStale = 0;
  for (let i = 0; i < TICKS; i++) {
    const holder = vxlan((i % 199) + 1);
    registry.put(registry.keys.subnetKey(subnet(i)), encodeLeaseValue(holder), id);
    live.set(subnet(i), holder.publicIP);
    if (i >= LIVE) {
      registry.delete(registry.keys.subnetKey(subnet(i - LIVE)));
      live.delete(subnet(i - LIVE));
    }
    await clock.advance(TICK_MS);
    maxStale = Math.max(maxStale, stale());
  }
  const caughtUp = await clock.until(() => behind() === 0, 120_000);
  t.comment(
    `${batches} batches, ${events} events for ${TICKS * 2} writes; at most ${maxStale} deleted leases still known; caught up ${caughtUp} ms after the churn`,
  );
  t.ok(caughtUp <= 2 * RTT_MS, `the table matched etcd ${caughtUp} ms after the churn stopped (at most ${2 * RTT_MS})`);
  t.ok(
    maxStale <= (2 * RTT_MS) / TICK_MS,
    `at most ${maxStale} deleted leases still known at once (at most ${(2 * RTT_MS) / TICK_MS}: two round trips of churn)`,
  );
  t.ok(batches < TICKS, `${batches} batches for ${TICKS * 2} writes: changes that wait are handled together`);
});

t.test('changes handled together: their net effect, a delete never lost or moved after a later put of its subnet', async (t) => {
  const clock = new VirtualClock();
  const registry = new SlowTtlRegistry(clock, 20);
  const f = memoryEtcd(t, { clock, registry });
  const batches: LeaseEvent[][] = [];
  const watch = new SubnetWatch({
    registry,
    connection: f.connection,
    counters: { malformed: 0, reconnects: 0, resyncs: 0 },
    log: () => {},
    onBatch: (b) => batches.push(b),
    fallbackTtlSeconds: 3600,
    retryInitialMs: 200,
    retryMaxMs: 5000,
    random: () => 1,
    clock,
  });
  t.teardown(async () => {
    watch.stop();
    f.connection.close();
    await watch.done;
  });
  const key = (n: number) => registry.keys.subnetKey(`198.18.${n}.0/24`);
  const put = (n: number, attrs = vxlan(n)) => registry.put(key(n), encodeLeaseValue(attrs), id);
  const { id } = await registry.grant(3600);
  put(1);
  put(2);
  put(3);
  await clock.advance(100);
  batches.length = 0;

  put(9); // the first change: handled at once, the rest wait for its TTL lookup
  await clock.advance(0);
  registry.delete(key(1)); // a reported lease deleted, then given to another host
  put(1, vxlan(41));
  registry.delete(key(2)); // deleted and gone
  put(3, vxlan(43)); // rewritten in place
  put(5); // new, then deleted: never reported
  registry.delete(key(5));
  put(6); // deleted, then put again
  registry.delete(key(6));
  put(6, vxlan(66));
  await clock.advance(100);
  const shown = batches.map((b) => b.map((e) => `${e.type} ${e.lease.subnet} ${e.lease.publicIP}`));
  t.same(
    shown,
    [
      ['added 198.18.9.0/24 192.0.2.9'],
      [
        'removed 198.18.1.0/24 192.0.2.1',
        'added 198.18.1.0/24 192.0.2.41',
        'removed 198.18.2.0/24 192.0.2.2',
        'added 198.18.3.0/24 192.0.2.43',
        'added 198.18.6.0/24 192.0.2.66',
      ],
    ],
    'one batch for the changes that waited, as their net effect',
  );
});
