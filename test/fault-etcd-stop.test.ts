// Faults during traffic: etcd stopped under traffic (the etcd store; the real etcd in its own namespace).
// Three hosts on the vxlan backend; a paced UDP stream runs from one to another from before etcd stops until
// after it is back. Forwarding must never stop: not one datagram lost, before, during or after. And nothing
// may be lost once etcd is back: the three leases are still in etcd, each attached to a live etcd lease,
// every host renews its own, and a fourth host joins and is routed by all. etcd is down 10 s in `npm test`,
// 30 s with TULLE_FAULT_LONG=1 (or TULLE_FAULT_ETCD_DOWN_S).
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { LabEtcd } from './helpers/lab-etcd.js';
import { faultDir, faultSeconds, routedCounts, subnetAddress, within } from './helpers/fault-lab.js';
import { describeStream, lostBetween, received, udpStream } from './helpers/udp-stream.js';

const DOWN_S = faultSeconds('ETCD_DOWN', 10, 30);
const PER_SECOND = 200;
const BEFORE_S = 2;
const AFTER_S = 4;
const SUBNETS_PREFIX = '/coreos.com/network/subnets/';

const lab = rootLab(t);
if (lab) {
  const [a, b, c, d, etcdHost] = switchedHosts(lab, ['ea', 'eb', 'ec', 'ed', 'etcd']);
  const hosts = [a, b, c, d];
  const files = faultDir(lab, 'fault-etcd');
  const etcd = new LabEtcd(lab, etcdHost, files.dir);
  const config = hosts.map((h, i) =>
    files.write(`e${i}`, {
      underlay: { address: h.underlay },
      backend: { type: 'vxlan' },
      logLevel: 'info',
      store: { type: 'etcd', endpoints: [etcd.endpoint] },
    }),
  );
  const leaseKeys = () => etcd.etcdctl('get', '--prefix', SUBNETS_PREFIX, '--keys-only').split('\n').filter(Boolean);

  t.test(`etcd stopped for ${DOWN_S} s under traffic`, async (t) => {
    await etcd.start();
    t.teardown(() => etcd.kill());
    etcd.putNetwork('vxlan');
    const daemons: RunningDaemon[] = [];
    t.teardown(async () => {
      for (const x of daemons) if (x.child.exitCode === null) await x.stop();
    });
    for (const [i, h] of hosts.slice(0, 3).entries()) daemons.push(await startDaemon(lab, h.ns, config[i], files.stateDir(`e${i}`)));
    t.ok((await within(20_000, async () => (await routedCounts(daemons)).every((n) => n === 2))) !== undefined, 'each host routes to the two others');
    const subnets = await Promise.all(daemons.map(async (x) => (await x.status()).subnet));

    const stream = await udpStream(lab, {
      fromNs: a.ns,
      toNs: b.ns,
      address: subnetAddress(subnets[1]),
      port: 7830,
      perSecond: PER_SECOND,
      maxSeconds: BEFORE_S + DOWN_S + AFTER_S + 120,
    });
    await sleep(BEFORE_S * 1000);
    const stoppedAt = Date.now();
    await etcd.kill('SIGKILL');
    await sleep(DOWN_S * 1000);
    const logsAtRestart = daemons.map((x) => x.log().length);
    await etcd.start();
    const backAt = Date.now();
    await sleep(AFTER_S * 1000);
    const r = await stream.stop();
    t.comment(describeStream(r));
    t.ok(received(r) >= PER_SECOND * (BEFORE_S + DOWN_S + AFTER_S) * 0.9, `the stream ran throughout: ${r.sent} sent`);
    t.same(lostBetween(r, stoppedAt, backAt), [], `not one datagram lost while etcd was down (${lostBetween(r, stoppedAt, backAt).length} lost)`);
    t.same(lostBetween(r), [], 'nor before or after');
    t.match(daemons[0].log(), /etcd: unreachable/, 'the daemons noticed etcd was gone');

    // Once etcd is back: every host says so and renews its lease (at once, on recovery).
    for (const [i, x] of daemons.entries()) {
      const since = () => x.log().slice(logsAtRestart[i]);
      const renewed = new RegExp(`etcd: renewed ${subnets[i].replace(/[./]/g, '\\$&')} for \\d+ s`);
      const took = await within(15_000, () => /etcd: reachable again/.test(since()) && renewed.test(since()));
      const line = since()
        .split('\n')
        .find((l) => renewed.test(l));
      const at = line === undefined ? NaN : Date.parse((JSON.parse(line) as { time: string }).time);
      t.ok(
        took !== undefined,
        `${hosts[i].ns}: etcd reachable again and ${subnets[i]} renewed${took === undefined ? ': not within 15 s' : `, ${((at - backAt) / 1000).toFixed(1)} s after etcd answered again`}`,
      );
    }
    const keys = leaseKeys();
    t.equal(keys.length, 3, `the three leases are still in etcd (${keys.map((k) => k.slice(SUBNETS_PREFIX.length)).join(', ')})`);
    for (const key of keys) {
      // Lease IDs are 64-bit: read them as text, not through JSON numbers.
      const id = /"Lease" : (\d+)/.exec(etcd.etcdctl('get', key, '-w', 'fields'))?.[1];
      const ttl =
        id === undefined || id === '0' ? -1 : Number(/"TTL" : (-?\d+)/.exec(etcd.etcdctl('lease', 'timetolive', BigInt(id).toString(16), '-w', 'fields'))?.[1]);
      t.ok(ttl > 0, `${key.slice(SUBNETS_PREFIX.length)}: attached to a live etcd lease (${ttl} s left)`);
    }

    // A new host joins after the outage: a subnet of its own, routed by all.
    daemons.push(await startDaemon(lab, d.ns, config[3], files.stateDir('e3')));
    const joined = await within(20_000, async () => (await routedCounts(daemons)).every((n) => n === 3));
    t.ok(joined !== undefined, 'a fourth host joins: each of the four routes to the three others');
    const all = await Promise.all(daemons.map(async (x) => (await x.status()).subnet));
    t.equal(new Set(all).size, 4, `four different subnets (${all.join(', ')})`);
    t.equal(leaseKeys().length, 4, 'four leases in etcd');
    t.match(
      lab.exec(d.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', subnetAddress(subnets[0])], { allowFailure: true }),
      / 0% packet loss/,
      'the new host reaches the first',
    );
    t.same(
      daemons.map((x) => x.child.exitCode),
      [null, null, null, null],
      'every daemon still runs',
    );
  });
}
