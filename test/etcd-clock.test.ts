// The real clock behind the etcd store's timers: a delay longer than
// setTimeout can hold (~24.8 days, a TTL of a month) waits in steps and never
// fires early; clearing works at any step. Shown with a tiny step limit.
import t from 'tap';
import { nodeClock, realClock } from '../src/etcd/clock.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a delay longer than the timer limit fires once, on time, not at the limit', async (t) => {
  const clock = nodeClock(20);
  const start = Date.now();
  const fired: number[] = [];
  clock.setTimer(90, () => fired.push(Date.now() - start));
  await sleep(60);
  t.same(fired, [], 'not at the first or second step');
  await sleep(80);
  t.equal(fired.length, 1);
  t.ok(fired[0] >= 90, `fired at ${fired[0]} ms`);
});

t.test('clearing stops a stepped timer between steps', async (t) => {
  const clock = nodeClock(20);
  let fired = 0;
  const timer = clock.setTimer(70, () => fired++);
  await sleep(45);
  clock.clearTimer(timer);
  await sleep(60);
  t.equal(fired, 0);
});

t.test('the real clock: now() is the wall clock; short timers fire once; unref timers do not hold the process', async (t) => {
  t.ok(Math.abs(realClock.now() - Date.now()) < 50);
  let fired = 0;
  realClock.setTimer(10, () => fired++, { unref: true });
  const cleared = realClock.setTimer(10, () => fired++);
  realClock.clearTimer(cleared);
  await sleep(40);
  t.equal(fired, 1);
});
