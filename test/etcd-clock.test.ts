// The real clock behind the etcd store's timers: a delay longer than
// setTimeout can hold (~24.8 days, a TTL of a month) waits in steps and never
// fires early; clearing works at any step. Shown with a tiny step limit.
import t from 'tap';
import { nodeClock, realClock } from '../src/etcd/clock.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (real time, bounded) until `done()` holds. */
async function until(done: () => boolean, limitMs = 3000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!done() && Date.now() < deadline) await sleep(5);
}

t.test('a delay longer than the timer limit fires once, on time, not at the limit', async (t) => {
  const clock = nodeClock(20);
  const start = Date.now();
  const fired: number[] = [];
  clock.setTimer(90, () => fired.push(Date.now() - start));
  await until(() => fired.length > 0);
  await sleep(50);
  t.equal(fired.length, 1);
  t.ok(fired[0] >= 90, `fired at ${fired[0]} ms, not at a 20 ms step`);
});

t.test('clearing stops a stepped timer between steps', async (t) => {
  const clock = nodeClock(20);
  let fired = 0;
  const timer = clock.setTimer(1000, () => fired++);
  await sleep(45); // past the first steps
  clock.clearTimer(timer);
  await sleep(1100);
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
