// The store's view of etcd's reachability, without etcd: a fake ping and fake
// calls that fail on demand. One log line per change of state, retries that
// wait with backoff and wake as soon as etcd is seen back, recovery hooks,
// and errors that retrying cannot fix thrown at once.
import t from 'tap';
import { Connection, PermanentError, StoreClosedError } from '../src/etcd/connection.js';

function fixture(pingIntervalMs = 20) {
  const logs: string[] = [];
  let reachable = true;
  let pings = 0;
  const connection = new Connection({
    endpoints: ['http://127.0.0.1:2379'],
    log: (line) => logs.push(line),
    pingIntervalMs,
    retryInitialMs: 10,
    retryMaxMs: 40,
    random: () => 1,
    ping: async () => {
      pings++;
      if (!reachable) throw new Error('14 UNAVAILABLE: No connection established');
    },
  });
  return {
    connection,
    logs,
    set reachable(v: boolean) {
      reachable = v;
    },
    get reachable() {
      return reachable;
    },
    get pings() {
      return pings;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('one line per change of state; recovery hooks run once per outage', async (t) => {
  const f = fixture();
  t.teardown(() => f.connection.close());
  let recoveries = 0;
  f.connection.onRecovered(() => recoveries++);
  t.equal(f.connection.state, 'connecting');
  f.connection.start();
  await sleep(60);
  t.equal(f.connection.state, 'up');
  f.reachable = false;
  await sleep(100);
  t.equal(f.connection.state, 'down');
  t.ok(f.pings >= 4, `pinged on (${f.pings} pings)`);
  f.reachable = true;
  await sleep(60);
  t.equal(f.connection.state, 'up');
  t.equal(recoveries, 1);
  t.same(
    f.logs.map((l) => l.replace(/\d+\.\d s/, 'N s')),
    [
      'etcd: connected (http://127.0.0.1:2379)',
      'etcd: unreachable (14 UNAVAILABLE: No connection established); keeping the known leases, retrying',
      'etcd: reachable again after N s',
    ],
  );
});

t.test('retry: waits with backoff while failing, wakes when etcd is seen back, returns the value', async (t) => {
  const f = fixture(1000);
  t.teardown(() => f.connection.close());
  let calls = 0;
  const started = Date.now();
  const value = await f.connection.retry(async () => {
    calls++;
    if (calls < 4) throw new Error('14 UNAVAILABLE');
    return 42;
  });
  t.equal(value, 42);
  t.equal(calls, 4);
  // Waits of 10, 20, 40 ms (random() = 1 takes the top of each jitter range).
  t.ok(Date.now() - started >= 65, `backed off (${Date.now() - started} ms)`);
  t.equal(f.connection.state, 'up');
  t.equal(f.logs.filter((l) => l.startsWith('etcd: unreachable')).length, 1, 'three failures, one line');

  // A retry asleep for its backoff is woken as soon as some other call succeeds.
  const slow = new Connection({ endpoints: ['e'], log: () => {}, pingIntervalMs: 1000, retryInitialMs: 5000, retryMaxMs: 5000, ping: async () => {} });
  t.teardown(() => slow.close());
  let attempts = 0;
  const woken = Date.now();
  const pending = slow.retry(async () => {
    if (++attempts === 1) throw new Error('down');
    return 'ok';
  });
  await sleep(50);
  slow.ok();
  t.equal(await pending, 'ok');
  t.ok(Date.now() - woken < 1000, `woken early (${Date.now() - woken} ms of a 2.5–5 s backoff)`);
});

t.test('retry: permanent errors at once; closing ends every retry', async (t) => {
  const f = fixture(1000);
  let calls = 0;
  await t.rejects(
    f.connection.retry(async () => {
      calls++;
      throw new PermanentError('no free subnet');
    }),
    { name: 'PermanentError', message: 'no free subnet' },
  );
  t.equal(calls, 1);
  const pending = f.connection.retry(async () => {
    throw new Error('down');
  });
  await sleep(30);
  f.connection.close();
  await t.rejects(pending, StoreClosedError);
  let stop = false;
  const g = fixture(1000);
  t.teardown(() => g.connection.close());
  const cancelled = g.connection.retry(
    async () => {
      throw new Error('down');
    },
    () => stop,
  );
  stop = true;
  await t.rejects(cancelled, StoreClosedError, 'a cancelled retry ends after its current wait');
});
