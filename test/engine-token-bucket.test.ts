// The ICMP "too big" budget: one bucket in shared memory, drawn on by two
// threads' responders, never gives more than its burst plus its rate.
import t from 'tap';
import { Worker } from 'node:worker_threads';
import { TokenBucket } from '../src/engine/token-bucket.js';

t.test('a burst, then the rate', (t) => {
  const bucket = new TokenBucket(TokenBucket.allocate(), 1, 50);
  let taken = 0;
  for (let i = 0; i < 200; i++) if (bucket.take(1_000)) taken++;
  t.equal(taken, 50, 'a fresh bucket gives its burst at once, and no more');
  t.notOk(bucket.take(1_000), 'empty');
  t.ok(bucket.take(1_001), 'one token a millisecond later');
  t.notOk(bucket.take(1_001));
  taken = 0;
  for (let i = 0; i < 200; i++) if (bucket.take(1_011)) taken++;
  t.equal(taken, 10, '10 ms later, 10 tokens');
  taken = 0;
  for (let i = 0; i < 200; i++) if (bucket.take(1_000_000)) taken++;
  t.equal(taken, 50, 'never more than the burst, however long it waited');
  t.notOk(bucket.take(900_000), 'a clock that went back adds nothing');
  t.notOk(bucket.take(1_000_000), 'and the time it went back is not counted again');
  t.ok(bucket.take(1_000_001), 'one more millisecond, one more token');
  t.end();
});

t.test('two holders of one buffer share one budget', (t) => {
  const buffer = TokenBucket.allocate();
  const a = new TokenBucket(buffer, 1, 50);
  const b = new TokenBucket(buffer, 1, 50);
  let taken = 0;
  for (let i = 0; i < 100; i++) {
    if (a.take(5_000)) taken++;
    if (b.take(5_000)) taken++;
  }
  t.equal(taken, 50, 'the burst is shared, not doubled');
  t.end();
});

t.test('another thread draws on the same budget', async (t) => {
  const buffer = TokenBucket.allocate();
  const here = new TokenBucket(buffer, 1, 50);
  let taken = 0;
  for (let i = 0; i < 30; i++) if (here.take(7_000)) taken++;
  t.equal(taken, 30);
  // The compiled module (npm test builds it first): an eval'd worker has no TypeScript loader.
  const url = new URL('../dist/src/engine/token-bucket.js', import.meta.url);
  const there = await new Promise<number>((resolve, reject) => {
    const w = new Worker(
      `
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.url).then(({ TokenBucket }) => {
        const bucket = new TokenBucket(workerData.buffer, 1, 50);
        let n = 0;
        for (let i = 0; i < 100; i++) if (bucket.take(7_000)) n++;
        parentPort.postMessage(n);
      });`,
      { eval: true, workerData: { buffer, url: url.href } },
    );
    w.once('message', resolve);
    w.once('error', reject);
  });
  t.equal(there, 20, 'the other thread gets what is left of the burst');
});
