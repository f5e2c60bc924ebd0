// Faults during traffic: the gossip cluster partitioned in two (nftables in every host's namespace drops the
// gossip port to and from the other side's underlay addresses; the data port stays open) under traffic. Four
// hosts on the lan preset and the vxlan backend, two a side; while cut off, each side sees the other declared
// dead and gains a host of its own, which leases a subnet the other side cannot know of. A paced UDP stream
// runs within each side all along: not one datagram may be lost. After the heal every host must route every
// other host's subnet, each subnet at one host (0 double allocations), and see every member alive, within the
// convergence target: 10 s, the bound test/gossip-membership.test.ts holds a healed partition to. A host that
// lost its subnet to an earlier claim at the heal exits 1 and is started again, as a supervisor would; its
// restart time is reported and not counted against the target. The partition lasts 10 s in `npm test`, 30 s
// with TULLE_FAULT_LONG=1 (or TULLE_FAULT_PARTITION_S).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { switchedHosts, type Host } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { faultDir, faultSeconds, routedCounts, subnetAddress, within } from './helpers/fault-lab.js';
import { describeStream, lostBetween, udpStream, type StreamReport } from './helpers/udp-stream.js';

const PARTITION_S = faultSeconds('PARTITION', 10, 30);
const GOSSIP_PORT = 7946;
const CONVERGE_MS = 10_000;
const PER_SECOND = 200;
const BEFORE_S = 2;

const lab = rootLab(t);
if (lab) {
  const hosts = switchedHosts(lab, ['pa', 'pb', 'pc', 'pd', 'pe', 'pf']);
  // Side one: pa, pb and the joiner pe; side two: pc, pd and the joiner pf.
  const sides: Host[][] = [
    [hosts[0], hosts[1], hosts[4]],
    [hosts[2], hosts[3], hosts[5]],
  ];
  const files = faultDir(lab, 'fault-partition');
  const key = randomBytes(32).toString('base64');
  // pa has no seed; pb, pc, pd join through it; each joiner's seed is on its own side.
  const seeds = [[], [hosts[0]], [hosts[0]], [hosts[0]], [hosts[0]], [hosts[2]]];
  const config = hosts.map((h, i) =>
    files.write(`p${i}`, {
      network: '198.18.0.0/16',
      underlay: { address: h.underlay },
      backend: { type: 'vxlan' },
      logLevel: 'info',
      store: { type: 'gossip', key, preset: 'lan', port: GOSSIP_PORT, peers: seeds[i].map((s) => s.underlay) },
    }),
  );
  const partition = () => {
    for (const [s, side] of sides.entries()) {
      const others = sides[1 - s].map((h) => h.underlay).join(', ');
      for (const h of side) {
        lab.exec(h.ns, ['nft', '-f', '-'], {
          input: `table inet partition {
  chain input { type filter hook input priority 0; policy accept; ip saddr { ${others} } udp dport ${GOSSIP_PORT} counter drop; }
  chain output { type filter hook output priority 0; policy accept; ip daddr { ${others} } udp dport ${GOSSIP_PORT} counter drop; }
}
`,
        });
      }
    }
  };
  const heal = () => {
    for (const h of hosts) lab.exec(h.ns, ['nft', 'delete', 'table', 'inet', 'partition']);
  };
  const dropped = () =>
    hosts.reduce(
      (sum, h) =>
        sum + [...lab.exec(h.ns, ['nft', 'list', 'table', 'inet', 'partition']).matchAll(/counter packets (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0),
      0,
    );

  t.test(`a ${PARTITION_S} s partition of the gossip cluster under traffic`, async (t) => {
    const daemons: (RunningDaemon | undefined)[] = hosts.map(() => undefined);
    t.teardown(async () => {
      for (const d of daemons) if (d && d.child.exitCode === null) await d.stop();
    });
    const start = async (i: number) => (daemons[i] = await startDaemon(lab, hosts[i].ns, config[i], files.stateDir(`p${i}`)));
    for (const i of [0, 1, 2, 3]) await start(i);
    const four = daemons.slice(0, 4) as RunningDaemon[];
    t.ok((await within(30_000, async () => (await routedCounts(four)).every((n) => n === 3))) !== undefined, 'the four hosts route to each other');
    const subnets = await Promise.all(four.map(async (d) => (await d.status()).subnet));

    const plan = { perSecond: PER_SECOND, maxSeconds: PARTITION_S + 180, port: 7840 };
    const streams = await Promise.all([
      udpStream(lab, { ...plan, fromNs: hosts[0].ns, toNs: hosts[1].ns, address: subnetAddress(subnets[1]) }),
      udpStream(lab, { ...plan, fromNs: hosts[2].ns, toNs: hosts[3].ns, address: subnetAddress(subnets[3]) }),
    ]);
    await sleep(BEFORE_S * 1000);
    partition();
    const cutAt = Date.now();
    // Each side gains a host while cut off.
    await start(4);
    await start(5);
    const left = cutAt + PARTITION_S * 1000 - Date.now();
    if (left > 0) await sleep(left);
    const deadWhileCut = four.map((d) => (d.log().match(/member declared dead/g) ?? []).length);
    t.ok(dropped() > 0, `nftables dropped ${dropped()} gossip datagrams between the sides`);
    t.ok(
      deadWhileCut[0] + deadWhileCut[1] > 0 && deadWhileCut[2] + deadWhileCut[3] > 0,
      `each side declared the other dead while cut off (a host hears of a death its side-mate declared first; declared by pa..pd: ${deadWhileCut.join(', ')})`,
    );
    const joinerSubnets = await Promise.all([4, 5].map(async (i) => (await daemons[i]!.status()).subnet));
    t.comment(`joiners: pe leased ${joinerSubnets[0]}, pf ${joinerSubnets[1]}`);
    const before = await Promise.all((daemons as RunningDaemon[]).map(async (d) => [(await d.leases()).length, (await d.status()).store.health?.membersAlive]));
    t.same(
      before,
      hosts.map(() => [hosts.length - 1, 2]),
      `before the heal, each host knows every lease but the other side's joiner, and its own side alive (leases/alive: ${before.map((x) => x.join('/')).join(', ')})`,
    );
    heal();
    const healedAt = Date.now();

    // Until every host agrees: each routes the five others, each subnet at one host, every member alive.
    const restarts: string[] = [];
    let restartMs = 0;
    let agreed = false;
    let last = '';
    while (Date.now() - healedAt < CONVERGE_MS + restartMs + 20_000 && !agreed) {
      for (const [i, d] of daemons.entries()) {
        if (d && d.child.exitCode !== null) {
          const why = /^tulle: (.*stopping, so that a restart acquires a new lease)$/m.exec(d.log())?.[1] ?? d.log().slice(-300);
          restarts.push(`${hosts[i].ns} exited ${d.child.exitCode} at +${((Date.now() - healedAt) / 1000).toFixed(1)} s: ${why}`);
          const began = Date.now();
          await start(i);
          restartMs += Date.now() - began;
        }
      }
      try {
        const all = daemons as RunningDaemon[];
        const views = await Promise.all(all.map((d) => d.leases()));
        const status = await Promise.all(all.map((d) => d.status()));
        const owners = new Map(status.map((s, i) => [s.subnet, hosts[i].underlay]));
        agreed =
          owners.size === hosts.length &&
          views.every((v) => v.length === hosts.length && v.every((l) => owners.get(l.subnet) === l.publicIP)) &&
          (await routedCounts(all)).every((n) => n === hosts.length - 1) &&
          status.every((s) => s.store.health?.membersAlive === hosts.length - 1);
        last = status.map((s, i) => `${hosts[i].ns.slice(-2)} ${s.subnet} routes ${views[i].length - 1}, ${s.store.health?.membersAlive} alive`).join('; ');
      } catch (error) {
        last = `a control request failed: ${(error as Error).message}`;
      }
      if (!agreed) await sleep(100);
    }
    const took = Date.now() - healedAt - restartMs;
    for (const r of restarts) t.comment(r);
    t.ok(agreed, agreed ? `every host agrees ${(took / 1000).toFixed(1)} s after the heal` : `no agreement after the heal: ${last}`);
    t.ok(
      agreed && took <= CONVERGE_MS,
      `every route and member back within the ${CONVERGE_MS / 1000} s target (${(took / 1000).toFixed(1)} s${restartMs > 0 ? `, not counting ${(restartMs / 1000).toFixed(1)} s of restarts` : ''})`,
    );
    const final = await Promise.all((daemons as RunningDaemon[]).map(async (d) => (await d.status()).subnet));
    t.equal(new Set(final).size, hosts.length, `0 double allocations: ${hosts.length} hosts, ${new Set(final).size} subnets (${final.join(', ')})`);
    t.same(final.slice(0, 4), subnets, 'the four first hosts kept their subnets');

    await sleep(1000);
    const reports: StreamReport[] = await Promise.all(streams.map((s) => s.stop()));
    for (const [s, r] of reports.entries()) {
      const name = s === 0 ? 'pa → pb (side one)' : 'pc → pd (side two)';
      t.comment(`${name}: ${describeStream(r)}`);
      t.ok(r.sent >= PER_SECOND * (BEFORE_S + PARTITION_S), `${name}: ran through the partition (${r.sent} sent)`);
      t.same(lostBetween(r), [], `${name}: not one datagram lost`);
    }
  });
}
