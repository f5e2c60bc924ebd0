// Membership on the seeded simulator: joins, probes, suspicion and
// refutation, crashes, restarts, leaves, partitions, and the protocol's
// small parts (Lifeguard timeouts, awareness, the broadcast queue).
import t from 'tap';
import { BroadcastQueue } from '../src/gossip/broadcast-queue.js';
import { makeConfig, retransmitLimit, suspicionTimeout } from '../src/gossip/config.js';
import { EnvelopeReader, EnvelopeWriter } from '../src/gossip/envelope.js';
import { MSG } from '../src/gossip/messages.js';
import { ALIVE, SUSPECT, encodeMember } from '../src/gossip/records.js';
import { ByteWriter } from '../src/gossip/bytes.js';
import { SimCluster } from '../src/gossip/sim/cluster.js';
import { crashDetection, dissemination, percentile, steadyState } from '../src/gossip/sim/scenarios.js';
import { Awareness, Suspicion } from '../src/gossip/suspicion.js';

const stateOf = (c: SimCluster, id: string) => {
  const count = new Map<string, number>();
  for (const s of c.live()) {
    if (s.id === id) continue;
    const m = s.node!.member(id);
    const k = m ? ['alive', 'suspect', 'dead', 'left'][m.state] : 'unknown';
    count.set(k, (count.get(k) ?? 0) + 1);
  }
  return Object.fromEntries(count);
};

t.test('protocol formulas (memberlist and Lifeguard)', async (t) => {
  t.equal(retransmitLimit(4, 1000), 16, '4 · ceil(log10 1001)');
  t.equal(retransmitLimit(4, 9), 4);
  t.equal(suspicionTimeout(4, 1000, 500), 6000, '4 · log10(1000) · 500 ms');
  t.equal(suspicionTimeout(4, 5, 500), 2000, 'log N is at least 1');
  const s = new Suspicion(2, 6000, 36000, 0, 'a');
  t.equal(s.timeoutMs(), 36000, 'no confirmation: the longest');
  t.notOk(s.confirm('a'), 'the accuser does not confirm itself');
  t.ok(s.confirm('b'));
  t.notOk(s.confirm('b'), 'one confirmation per member');
  t.ok(s.timeoutMs() < 36000 && s.timeoutMs() > 6000, `one confirmation: ${s.timeoutMs()} ms`);
  t.ok(s.confirm('c'));
  t.equal(s.timeoutMs(), 6000, 'k confirmations: the shortest');
  t.notOk(s.confirm('d'), 'no more than k');
  const a = new Awareness(8);
  a.apply(-1);
  t.equal(a.scale(500), 500);
  a.apply(3);
  t.equal(a.scale(500), 2000);
  a.apply(100);
  t.equal(a.score, 7, 'clamped below the max multiplier');
});

t.test('config: presets, and errors naming the field', async (t) => {
  t.equal(makeConfig('lan').gossipNodes, 3);
  t.equal(makeConfig('local').indirectChecks, 1);
  t.throws(() => makeConfig('wan' as 'lan'), /preset "wan" is unknown: use one of lan, local/);
  t.throws(() => makeConfig('lan', { probeIntervalMs: -1 }), /probeIntervalMs = -1: must be a positive number/);
  t.throws(() => makeConfig('lan', { probeTimeoutMs: 900 }), /probeTimeoutMs = 900: must be below probeIntervalMs/);
  t.throws(() => makeConfig('lan', { maxDatagramBytes: 100 }), /maxDatagramBytes = 100/);
  t.throws(() => makeConfig('lan', { seedRetryMaxMs: 500 }), /seedRetryMaxMs = 500: must be at least reconnectIntervalMs \(1000\)/);
});

t.test('broadcast queue: fewest transmits first, newest replaces, limit honoured', async (t) => {
  const q = new BroadcastQueue();
  const ring = { keys: [new Uint8Array(16)], mac: () => new Uint8Array(16) };
  const rec = (id: string, inc: number) => {
    const w = new ByteWriter(128);
    encodeMember(w, { id, addr: 'x', incarnation: inc, state: ALIVE, from: '' });
    return w.take();
  };
  q.enqueue('a', rec('a', 1));
  q.enqueue('b', rec('b', 1));
  q.enqueue('a', rec('a', 2));
  t.equal(q.size, 2, 'a newer record about a replaces the older');
  const env = new EnvelopeWriter(1400, 'l', 'me', 0, ring);
  const reader = new EnvelopeReader(1400, 'l', ring);
  let sends = 0;
  for (;;) {
    env.begin(MSG.gossip);
    env.records();
    if (q.fill(env, 3) === 0) break;
    const r = reader.open(env.finish()!);
    t.type(r, 'object');
    sends++;
  }
  t.equal(sends, 3, 'each record goes out limit times, then leaves the queue');
  t.equal(q.size, 0);
  // A small datagram takes what fits.
  for (let i = 0; i < 100; i++) q.enqueue(`m${i}`, rec(`m${i}`, i));
  const small = new EnvelopeWriter(600, 'l', 'me', 0, ring);
  small.begin(MSG.gossip);
  small.records();
  const n = q.fill(small, 5);
  const out = small.finish()!;
  t.ok(n > 5 && out.length <= 600, `${n} records in ${out.length} bytes`);
});

t.test('a cluster built by real joins agrees on members and leases', async (t) => {
  const c = new SimCluster({ nodes: 30, seed: 11, converged: false, loss: 0.05 });
  c.run(30_000);
  for (const s of c.slots) {
    const alive = s.node!.memberList().filter((m) => m.state === ALIVE).length;
    t.equal(alive, 30, `${s.id} knows 30 alive members`);
  }
  const subnets = new Set(c.slots.map((s) => s.replica!.own?.subnet));
  t.equal(subnets.size, 30, 'thirty distinct subnets');
  for (const s of c.slots) t.equal(s.replica!.table().length, 30, `${s.id} routes 30 subnets`);
  t.ok(c.net.largest <= 1400, `largest datagram ${c.net.largest} bytes ≤ 1400`);
});

t.test('two agreeing nodes exchange one small digest', async (t) => {
  const c = new SimCluster({ nodes: 100, seed: 12 });
  c.run(1_000);
  const [a, b] = [c.slots[0].node!, c.slots[1].node!];
  const before = a.counters.sentBytes + b.counters.sentBytes;
  const datagrams = a.counters.sentDatagrams + b.counters.sentDatagrams;
  a.startSync(b.addr, false);
  c.net.runFor(0.01); // too short for any timer, long enough for nothing: deliveries take ≥ 0.5 ms
  c.net.runFor(5);
  const bytes = a.counters.sentBytes + b.counters.sentBytes - before;
  t.ok(a.counters.sentDatagrams + b.counters.sentDatagrams - datagrams <= 3, 'no records moved');
  t.ok(bytes < 600, `${bytes} bytes for a sync of 100 members and 100 leases`);
});

t.test('a crash is detected; a suspicion is refuted; restarts and leaves', async (t) => {
  const c = new SimCluster({ nodes: 50, seed: 13, loss: 0.05 });
  c.run(2_000);
  c.crash(7);
  c.run(20_000);
  t.same(stateOf(c, 'h7'), { dead: 49 }, 'every live node holds the crashed one dead');

  // Someone accuses h3 falsely: it hears of it and refutes with a higher incarnation.
  const env = new EnvelopeWriter(1400, c.label, 'h4', 1e9, c.keyring);
  env.begin(MSG.gossip);
  env.records();
  const w = new ByteWriter(128);
  encodeMember(w, { id: 'h3', addr: 'sim:3', incarnation: 0, state: SUSPECT, from: 'h4' });
  env.add(w.take());
  c.slots[3].node!.receive('sim:4', env.finish()!);
  c.run(5_000);
  t.ok(c.slots[3].node!.incarnation >= 1, 'h3 raised its incarnation');
  t.same(stateOf(c, 'h3'), { alive: 48 }, 'nobody holds h3 suspect or dead');

  // h7 comes back without state: it learns it was declared dead and refutes.
  c.restart(7, false);
  c.run(10_000);
  t.same(stateOf(c, 'h7'), { alive: 49 }, 'the restarted host is alive everywhere');
  t.ok(c.slots[7].node!.incarnation >= 1, 'with a new incarnation');

  c.leave(9);
  c.run(3_000);
  t.same(stateOf(c, 'h9'), { left: 49 }, 'a leave is known everywhere within 3 s');
});

t.test('a partition: each side declares the other dead; after the heal all are alive again', async (t) => {
  const c = new SimCluster({ nodes: 40, seed: 14 });
  c.run(2_000);
  c.partition((i) => (i < 20 ? 0 : 1));
  c.run(40_000);
  t.same(stateOf(c, 'h30'), { alive: 19, dead: 20 }, 'h30 is dead to the other side');
  c.heal();
  const healed = c.now;
  let back = Infinity;
  for (let i = 0; i < 300 && back === Infinity; i++) {
    c.run(100);
    if (c.live().every((s) => s.node!.memberList().every((m) => m.state === ALIVE))) back = c.now - healed;
  }
  t.ok(back <= 10_000, `every node sees every node alive ${(back / 1000).toFixed(1)} s after the heal`);
});

t.test('a node whose seeds are unreachable keeps trying them, backing off up to seedRetryMaxMs, until they answer', async (t) => {
  const c = new SimCluster({ nodes: 3, seed: 15 });
  const { reconnectIntervalMs: base, seedRetryMaxMs: cap } = c.config;
  c.run(1_000);
  c.partition(() => 0);
  const lone = c.addNode(1);
  const tries: number[] = [];
  const send = c.net.send.bind(c.net);
  c.net.send = (src, addr, data) => {
    if (src === lone.index && ['sim:0', 'sim:1', 'sim:2'].includes(addr) && tries.at(-1) !== c.now) tries.push(c.now);
    send(src, addr, data);
  };
  const start = c.now;
  c.run(600_000);
  const gaps = tries.slice(1).map((at, i) => at - tries[i]);
  // The join (a sync every joinRetryMs) ends at joinTimeoutMs; the retries follow.
  const retries = gaps.filter((_, i) => tries[i] - start >= c.config.joinTimeoutMs);
  t.ok(retries.length >= 600_000 / cap, `${retries.length} tries in 10 simulated minutes`);
  t.ok(
    retries.slice(0, 3).every((g) => g <= 4 * base + base),
    `the first gaps are short: ${retries
      .slice(0, 3)
      .map((g) => (g / 1000).toFixed(1))
      .join(', ')} s`,
  );
  t.ok(Math.max(...retries) <= cap + base, `no gap above seedRetryMaxMs + a tick: longest ${(Math.max(...retries) / 1000).toFixed(1)} s`);
  t.ok(
    retries.slice(-5).every((g) => g >= cap / 2),
    `backed off: the last gaps ${retries
      .slice(-5)
      .map((g) => (g / 1000).toFixed(1))
      .join(', ')} s`,
  );
  t.ok(tries.at(-1)! > c.now - cap - base, 'still trying at the end');
  t.equal(lone.node!.liveCount, 1, 'alone all along');
  c.heal();
  c.run(cap + 5_000);
  t.equal(lone.node!.liveCount, 4, 'after the heal it found the others');
  const pings = lone.node!.counters.seedPings;
  c.run(120_000);
  t.equal(lone.node!.counters.seedPings, pings, `and, its seeds live, it stopped trying them (${pings} seed pings in all)`);
});

t.test('1,000 nodes at 10% loss: a new lease everywhere within 2.4 s; crashes found within 12 s', async (t) => {
  const d = dissemination({ nodes: 1000, loss: 0.1, seed: 21, trials: 6, gapMs: 2_000, waitMs: 8_000 });
  const p99 = percentile(d.times, 99);
  t.ok(p99 <= 2.4, `p99 ${p99.toFixed(2)} s (times ${d.times.map((x) => x.toFixed(2)).join(', ')})`);
  t.ok(d.cluster.net.largest <= 1400, `largest datagram ${d.cluster.net.largest} bytes`);
  const k = crashDetection({ nodes: 1000, loss: 0.1, seed: 22, crashes: 6, gapMs: 1_000, waitMs: 14_000 });
  const kp99 = percentile(k.firstDetection, 99);
  t.ok(kp99 <= 12, `crash detected p99 ${kp99.toFixed(1)} s (${k.firstDetection.map((x) => x.toFixed(1)).join(', ')})`);
});

t.test('500 nodes at 30% loss: every node has a new lease within 10 s (the bench runs 1,000)', async (t) => {
  const d = dissemination({ nodes: 500, loss: 0.3, seed: 23, trials: 2, gapMs: 2_000, waitMs: 9_000 });
  const worst = Math.max(...d.times);
  t.ok(worst <= 10, `worst ${worst.toFixed(2)} s (${d.times.map((x) => x.toFixed(2)).join(', ')})`);
});

t.test('200 nodes at 10% loss for 5 simulated minutes: nobody healthy is declared dead', async (t) => {
  const h = steadyState({ nodes: 200, loss: 0.1, seed: 24, durationMs: 300_000 });
  t.equal(h.falseDeaths, 0, `false deaths (suspicions raised ${h.suspicions}, refuted ${h.refutations})`);
  t.ok(h.suspicions > 0, 'the loss did cause suspicions, which were all refuted');
});
