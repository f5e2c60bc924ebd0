// Faults during traffic: route churn through the daemon's lease path. Two tulle hosts on the etcd store and
// the vxlan backend; a writer in another namespace adds leases to etcd and removes them, 100 of each a second
// (flannel's keys and values, on an etcd lease, as hosts joining and leaving write them), whose PublicIPs are
// decoy addresses a third namespace holds. Each daemon learns every change through its etcd watch and
// reroutes under a paced, hashed TCP transfer between the two hosts. A packet that reaches a host that does
// not own its destination is dropped and counted there (dropNotOurs); the decoy namespace counts on its
// underlay (nftables, before anything else sees a datagram) every VXLAN datagram. Both must stay 0, and the
// transfer's hash must match. (test/engine-route-churn.test.ts churns the engine's routes directly, 1,000 times a second.) The churn
// lasts 10 s in `npm test`, 30 s with TULLE_FAULT_LONG=1 (or TULLE_FAULT_CHURN_S).
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { LabEtcd } from './helpers/lab-etcd.js';
import { trafficTools } from './helpers/tools.js';
import { faultDir, faultSeconds, routedCounts, subnetAddress, within } from './helpers/fault-lab.js';
import type { EtcdChurnPlan, EtcdChurnReport } from './helpers/etcd-churn-child.js';

const CHURN_S = faultSeconds('CHURN', 10, 30);
const PER_SECOND = 100;
/** Decoy leases out at once. */
const LIVE = 20;
/** flannel's vxlan port, which the etcd network config implies. */
const VXLAN_PORT = 8472;
const MIB = 1 << 20;
const RATE = 4 * MIB;
const SUBNETS_PREFIX = '/coreos.com/network/subnets/';
/** How long the daemons may take to match etcd once the churn stops (a watch 15 s behind was seen before it batched). */
const CATCH_UP_MS = 5_000;

const lab = rootLab(t);
if (lab) {
  const [ca, cb, etcdHost, decoyHost] = switchedHosts(lab, ['ca', 'cb', 'cetcd', 'cdecoy']);
  const decoys = Array.from({ length: 8 }, (_, k) => `192.0.2.${200 + k}`);
  for (const address of decoys) lab.ip(decoyHost.ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
  const files = faultDir(lab, 'fault-churn');
  const etcd = new LabEtcd(lab, etcdHost, files.dir);
  const config = [ca, cb].map((h, i) =>
    files.write(`c${i}`, {
      underlay: { address: h.underlay },
      backend: { type: 'vxlan' },
      logLevel: 'info',
      store: { type: 'etcd', endpoints: [etcd.endpoint] },
    }),
  );
  const tools = trafficTools(lab);

  /** Counts every VXLAN datagram that reaches `ns`, on its underlay before anything else sees it. */
  const tally = (ns: string) =>
    lab.exec(ns, ['nft', '-f', '-'], {
      input: `table inet tally {
  chain in { type filter hook prerouting priority -300; policy accept; udp dport ${VXLAN_PORT} counter; }
}
`,
    });
  const readTally = (ns: string) => Number(/counter packets (\d+)/.exec(lab.exec(ns, ['nft', 'list', 'table', 'inet', 'tally']))?.[1] ?? -1);

  t.test(`leases added and removed at ${PER_SECOND}/s each for ${CHURN_S} s under a verified transfer`, async (t) => {
    await etcd.start();
    t.teardown(() => etcd.kill());
    etcd.putNetwork('vxlan');
    const daemons: RunningDaemon[] = [];
    t.teardown(async () => {
      for (const d of daemons) if (d.child.exitCode === null) await d.stop();
    });
    for (const [i, h] of [ca, cb].entries()) daemons.push(await startDaemon(lab, h.ns, config[i], files.stateDir(`c${i}`)));
    t.ok((await within(20_000, async () => (await routedCounts(daemons)).every((n) => n === 1))) !== undefined, 'the two hosts route to each other');
    const subnets = await Promise.all(daemons.map(async (d) => (await d.status()).subnet));
    tally(decoyHost.ns);
    const before = await Promise.all(daemons.map(async (d) => (await d.status()).counters!));

    // Decoy subnets: any of the network's but the two the hosts hold.
    const pool = Array.from({ length: 250 }, (_, k) => `198.18.${k + 1}.0/24`).filter((s) => !subnets.includes(s));
    const plan: EtcdChurnPlan = {
      endpoint: etcd.endpoint,
      subnetsPrefix: SUBNETS_PREFIX,
      subnets: pool,
      decoys,
      perSecond: PER_SECOND,
      seconds: CHURN_S,
      live: LIVE,
    };
    const bytes = (CHURN_S + 4) * RATE;
    const transfer = await tools.startTransfer(ca.ns, cb.ns, subnetAddress(subnets[1]), 7850, bytes, RATE, (CHURN_S + 4) * 1000 + 90_000);
    const loader = import.meta.resolve('@tapjs/typescript/import');
    const child = fileURLToPath(new URL('./helpers/etcd-churn-child.ts', import.meta.url));
    const writer = lab.spawn(etcdHost.ns, [process.execPath, '--import', loader, child, JSON.stringify(plan)]);
    const written = tools.output(writer, 'the lease writer', CHURN_S * 1000 + 90_000);
    // Midway, the daemons must be routing decoys: the churn reaches the route path.
    let seen = 0;
    const sampler = setInterval(() => {
      void daemons[0].leases().then(
        (l) => (seen = Math.max(seen, l.length - 2)),
        () => {},
      );
    }, 500);
    const report = tools.lastLine(await written) as EtcdChurnReport;
    clearInterval(sampler);
    const transferred = await transfer.done;
    t.comment(
      `the writer: ${report.adds} adds and ${report.removes} removes in ${(report.elapsedMs / 1000).toFixed(1)} s (${((report.adds + report.removes) / (report.elapsedMs / 1000)).toFixed(0)} writes/s), at most ${report.maxLive} decoys out (${report.maxStored} in etcd as its replies tell)`,
    );
    t.same(report.errors, [], 'every write succeeded');
    t.ok(report.adds >= PER_SECOND * CHURN_S && report.removes >= PER_SECOND * CHURN_S, `${report.adds} adds and ${report.removes} removes`);
    t.ok(report.elapsedMs <= CHURN_S * 1000 * 1.5, `at the rate asked: ${(report.elapsedMs / 1000).toFixed(1)} s for ${CHURN_S} s of churn`);
    t.ok(seen > 0, `ca routed up to ${seen} decoy leases at once while they churned`);
    const added = daemons.map((d) => (d.log().match(/"event":"lease added","subnet":"198\.18\.\d+\.0\/24","publicIP":"192\.0\.2\.2\d\d"/g) ?? []).length);
    // A lease added and removed before the daemon read the watch is never logged: a figure, not a bound.
    t.comment(`the daemons logged ${added.join(' and ')} of the ${report.adds} decoy leases as added`);

    // A datagram that reaches a host not owning its inner destination is dropped there and counted (dropNotOurs).
    const after = await Promise.all(daemons.map(async (d) => (await d.status()).counters!));
    const delta = (i: number, k: 'rxPackets' | 'dropNotOurs') => after[i][k] - before[i][k];
    const toDecoys = readTally(decoyHost.ns);
    t.comment(
      `received: ca ${delta(0, 'rxPackets')}, cb ${delta(1, 'rxPackets')} packets; not their own: ${delta(0, 'dropNotOurs')}, ${delta(1, 'dropNotOurs')}; to decoys ${toDecoys} datagrams`,
    );
    t.ok(delta(1, 'rxPackets') > 100, `the transfer crossed the overlay (${delta(1, 'rxPackets')} packets reached cb)`);
    t.equal(delta(0, 'dropNotOurs') + delta(1, 'dropNotOurs'), 0, '0 packets reached a host that does not own their destination');
    t.equal(toDecoys, 0, '0 datagrams went to a decoy address');
    t.equal(transferred.received.bytes, bytes, `the transfer completed (${bytes / MIB} MiB)`);
    t.equal(transferred.received.sha256, transferred.sent.sha256, 'with a matching hash');
    // The watch handles what waited as one batch (subnet-watch.ts), so the daemons are at most a round trip or two behind
    // etcd when the churn ends, not a backlog of responses: a table seconds behind keeps routing released subnets.
    const caughtUp = await within(60_000, async () => (await Promise.all(daemons.map(async (d) => (await d.leases()).length))).every((n) => n === 2));
    t.ok(
      caughtUp !== undefined && caughtUp <= CATCH_UP_MS,
      `once the decoys are gone, each daemon knows the two leases again within ${CATCH_UP_MS / 1000} s${caughtUp === undefined ? '' : ` (${(caughtUp / 1000).toFixed(1)} s after the writer finished)`}`,
    );
    t.same(
      daemons.map((d) => d.child.exitCode),
      [null, null],
      'both daemons still run',
    );
  });
}
