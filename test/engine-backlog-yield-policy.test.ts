// When a data-plane thread with a backlog yields (src/engine/backlog-yield.ts): the policy on a manual clock,
// then the duplex loop over memory TUNs, where only a full TX batch may yield, and each yield is counted.
import t from 'tap';
import { BacklogYield } from '../src/engine/backlog-yield.js';
import { ManualClock } from '../src/engine/clock.js';
import { C } from '../src/engine/counters.js';
import { memoryPair } from './helpers/memory-engines.js';
import { ICMP_ECHO_REQUEST, echo } from './helpers/overlay-traffic.js';

t.test('at most one yield per interval', (t) => {
  const clock = new ManualClock(1_000);
  let yields = 0;
  const policy = new BacklogYield(500, clock, () => yields++);
  t.ok(policy.afterFullBatch(), 'the first full batch yields');
  t.notOk(policy.afterFullBatch(), 'not again at once');
  clock.advance(0.499);
  t.notOk(policy.afterFullBatch(), 'nor 499 µs later');
  clock.advance(0.001);
  t.ok(policy.afterFullBatch(), '500 µs after the last yield, again');
  t.equal(yields, 2, 'yieldCore ran once per yield');
  for (let i = 0; i < 100; i++) {
    clock.advance(0.1);
    policy.afterFullBatch();
  }
  t.equal(yields, 2 + 20, '10 ms of full batches every 100 µs: 20 yields');
  t.end();
});

t.test('0 never yields; a bad interval is refused by name', (t) => {
  let yields = 0;
  const off = new BacklogYield(0, new ManualClock(), () => yields++);
  for (let i = 0; i < 10; i++) t.notOk(off.afterFullBatch());
  t.equal(yields, 0, 'never called');
  for (const bad of [-1, 0.5, Number.NaN])
    t.throws(() => new BacklogYield(bad, new ManualClock(), () => {}), {
      message: `BacklogYield: interval ${bad} µs is not allowed (a whole number, 0 or more)`,
    });
  t.end();
});

t.test('the duplex loop yields after a full TX batch only, and counts it', (t) => {
  const pair = memoryPair('vxlan', { seed: 5 }, { batch: 4, backlogYieldUs: 500 });
  const { a, b, clock } = pair;
  const packet = new Uint8Array(128);
  const queue = (n: number) => {
    for (let seq = 1; seq <= n; seq++) a.tun.inject(packet, 0, echo(packet, ICMP_ECHO_REQUEST, a.overlay, b.overlay, 7, seq, new Uint8Array(16)));
  };
  queue(10);
  t.equal(a.loop.step(0), 4, 'a full batch of 4');
  t.same([a.yields, a.counters[C.txYields]], [1, 1], 'yielded once, counted once');
  t.equal(a.loop.step(0), 4, 'another full batch at the same moment');
  t.same([a.yields, a.counters[C.txYields]], [1, 1], 'no second yield within 500 µs');
  clock.advance(1);
  t.equal(a.loop.step(0), 2, 'the last 2, 1 ms later');
  t.same([a.yields, a.counters[C.txYields]], [1, 1], 'a batch that was not full does not yield');
  queue(4);
  t.equal(a.loop.step(0), 4, 'a full batch again');
  t.same([a.yields, a.counters[C.txYields]], [2, 2], 'it yields: the last yield was 1 ms ago');
  pair.settle();
  t.equal(b.yields, 0, 'the receiving host had no backlog: it never yielded');
  t.equal(a.counters[C.txPackets], 14, 'every packet was sent');

  const off = memoryPair('vxlan', { seed: 6 }, { batch: 4 });
  for (let seq = 1; seq <= 8; seq++) off.a.tun.inject(packet, 0, echo(packet, ICMP_ECHO_REQUEST, off.a.overlay, off.b.overlay, 7, seq, new Uint8Array(16)));
  off.settle();
  t.same([off.a.yields, off.a.counters[C.txYields], off.a.counters[C.txPackets]], [0, 0, 8], 'backlogYieldUs 0 (the helper default): 8 packets, no yield');
  t.end();
});
