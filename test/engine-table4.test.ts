// The IPv4 stride table against a linear scan, with probes inside the routes (their own
// addresses, host bits at random) so that every level of the table is asked.
import t from 'tap';
import fc from 'fast-check';
import { Table4, type Route4 } from '../src/engine/table4.js';

const mask = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** The reference: the longest prefix holding `address`; among equal ones, the first listed. */
function scan(routes: readonly Route4[], address: number): number {
  let best = -1;
  routes.forEach((r, i) => {
    if ((address & mask(r.prefix)) >>> 0 === r.network && (best < 0 || r.prefix > routes[best].prefix)) best = i;
  });
  return best < 0 ? -1 : routes[best].value;
}

// Routes nested in a few /8s, so that shorter and longer ones overlap often.
const route = fc
  .record({
    base: fc.integer({ min: 0, max: 3 }),
    rest: fc.integer({ min: 0, max: 0xffffff }),
    prefix: fc.integer({ min: 0, max: 32 }),
    value: fc.integer({ min: 0, max: 131_071 }),
  })
  .map(({ base, rest, prefix, value }): Route4 => ({ network: ((((198 + base) << 24) | rest) & mask(prefix)) >>> 0, prefix, value }));

t.test('longest-prefix match agrees with a linear scan at every level', (t) => {
  // Each table takes over the one before, as in a worker: nothing of the old routes may show through.
  let previous: Table4 | undefined;
  let before: Route4[] = [];
  fc.assert(
    fc.property(fc.array(route, { maxLength: 60 }), fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 30 }), (routes, bits) => {
      const table = (previous = new Table4(routes, previous));
      const probes = [
        ...bits.map((b) => b >>> 0),
        ...before.map((r) => r.network),
        ...routes.flatMap((r, i) => [r.network, (r.network | (bits[i % bits.length] & ~mask(r.prefix))) >>> 0]),
      ];
      before = routes;
      for (const p of probes) {
        const got = table.get(p);
        const want = scan(routes, p);
        if (got !== want) throw new Error(`${p >>> 24}.${(p >>> 16) & 255}.${(p >>> 8) & 255}.${p & 255}: got ${got}, expected ${want}`);
      }
    }),
    { numRuns: 500 },
  );
  t.pass('500 random tables');
  t.end();
});

t.test('no routes: nothing found; a default route: everything', (t) => {
  t.equal(new Table4([]).get(0xc6120001), -1);
  const table = new Table4([
    { network: 0, prefix: 0, value: 7 },
    { network: 0xc6120100, prefix: 32, value: 8 },
  ]);
  t.equal(table.get(0xffffffff), 7);
  t.equal(table.get(0xc6120100), 8, 'a /32 inside it');
  t.equal(table.get(0xc6120101), 7, 'and its neighbour under the default');
  t.end();
});
