// flannel hosts and tulle hosts on one network, sharing one etcd. flanneld cannot run here, so each flannel
// host is what flanneld's vxlan backend leaves on a host (test/helpers/flannel-host.ts): the kernel's
// flannel.1, its lease in flannel's JSON, and its neighbour, FDB and route entries programmed from the
// leases etcdctl reads. Two tulle hosts run `tulle run` on the etcd store with the network flannel's users
// write (vxlan, no port: 8472, VNI 1). Every host reaches every other both ways, hashed transfers cross
// between kernel and tulle hosts, and then the site moves to tulle one host at a time
// (docs/migrate-from-flannel.md): the hosts not moved yet keep reaching the one that moves, and the
// interruption is measured.
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { switchedHosts, type Host } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, tulle, type RunningDaemon } from './helpers/daemon.js';
import { LabEtcd } from './helpers/lab-etcd.js';
import { FlannelHost } from './helpers/flannel-host.js';
import { faultDir, routedCounts, within } from './helpers/fault-lab.js';
import { trafficTools } from './helpers/tools.js';
import { describeStream, longestSilence, lostBetween, udpStream, type StreamReport } from './helpers/udp-stream.js';

const SUBNETS = '/coreos.com/network/subnets/';
const TRANSFER_BYTES = 32 << 20;
const PER_SECOND = 100;
/** What a move may cost the hosts not moved yet: starting tulle (3 s here when idle, 12 s with the machine loaded) and one etcd round. */
const MOVE_BOUND_MS = 30_000;

const lab = rootLab(t);
if (lab) {
  const [fa, fb, ta, tb, etcdHost] = switchedHosts(lab, ['fa', 'fb', 'ta', 'tb', 'etcd']);
  const files = faultDir(lab, 'flannel-interop');
  const etcd = new LabEtcd(lab, etcdHost, files.dir);
  const { tcpTransfer } = trafficTools(lab);
  const ping = (from: Host, to: string) => lab.exec(from.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', to], { allowFailure: true });
  /** `tulle run`'s file on a host: the network's backend, the etcd flanneld uses; `subnetFile` where flanneld's subnet.env is. */
  const tulleConfig = (h: Host, backend: object = {}, subnetFile?: string) =>
    files.write(name(h), {
      backend: { type: 'vxlan', ...backend },
      underlay: { interface: 'eth0' },
      store: { type: 'etcd', endpoints: [etcd.endpoint] },
      ...(subnetFile !== undefined ? { subnetFile } : {}),
    });
  /** Where each flannel host's flanneld wrote subnet.env (/run/flannel/subnet.env on a real host). */
  const flannelSubnetFile = (h: Host) => join(files.dir, `${name(h)}-flannel-subnet.env`);
  const leaseValue = (subnet: string) => JSON.parse(etcd.etcdctl('get', SUBNETS + subnet.replace('/', '-'), '--print-value-only')) as Record<string, unknown>;

  const flannel = new Map<Host, FlannelHost>();
  const daemons = new Map<Host, RunningDaemon>();
  /** Each host's overlay address: flannel.1's, or the TUN's (both the subnet's network address). */
  const address = new Map<Host, string>();
  t.teardown(async () => {
    for (const f of flannel.values()) f.stop();
    for (const d of daemons.values()) if (d.child.exitCode === null) await d.stop();
    await etcd.kill();
  });

  t.test('two flannel hosts and two tulle hosts on one etcd', async (t) => {
    await etcd.start();
    etcd.putNetwork('vxlan');
    flannel.set(fa, FlannelHost.start(lab, fa, etcd.endpoint, { subnet: '198.18.11.0/24', subnetFile: flannelSubnetFile(fa) }));
    flannel.set(fb, FlannelHost.start(lab, fb, etcd.endpoint, { subnet: '198.18.12.0/24', subnetFile: flannelSubnetFile(fb) }));
    for (const h of [ta, tb]) daemons.set(h, await startDaemon(lab, h.ns, tulleConfig(h), files.stateDir(name(h))));
    const tulleHosts = [...daemons.values()];
    t.ok((await within(20_000, async () => (await routedCounts(tulleHosts)).every((n) => n === 3))) !== undefined, 'each tulle host routes the three others');
    t.ok(
      (await within(20_000, () => [...flannel.values()].every((f) => f.programmed.length === 3))) !== undefined,
      'each flannel host has programmed the three others',
    );
    for (const [h, f] of flannel) address.set(h, f.address);
    for (const [h, d] of daemons) address.set(h, (await d.status()).subnet!.split('/')[0]);

    // The leases as flannel reads them: the flannel hosts' exactly as flanneld writes them, tulle's decodable by it.
    const fbLease = flannel.get(fb)!;
    t.equal(
      etcd.etcdctl('get', `${SUBNETS}198.18.12.0-24`, '--print-value-only').trim(),
      `{"PublicIP":"192.0.2.2","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${fbLease.mac}"}}`,
      "the flannel host's lease, in flannel's JSON",
    );
    const taStatus = await daemons.get(ta)!.status();
    const taLease = leaseValue(taStatus.subnet!);
    t.match(taLease, { PublicIP: ta.underlay, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: /^[0-9a-f:]{17}$/ } }, "a tulle host's lease");
    t.match(daemons.get(ta)!.log(), new RegExp(`vxlan on ${ta.underlay.replace(/\./g, '\\.')}:8472`), 'tulle listens on flannel’s vxlan port');
    t.same([taStatus.backend.port, taStatus.backend.vni], [8472, 1], 'port 8472, VNI 1: what flannel uses when the network names neither');

    // What each side shows of the other.
    const leases = tulle(ta.ns, ['leases', '--state-dir', files.stateDir('ta')]);
    t.equal(leases.status, 0, 'tulle leases answers');
    const fbRow = leases.stdout.split('\n').find((l) => l.startsWith('198.18.12.0/24')) ?? '';
    t.match(fbRow, new RegExp(`192\\.0\\.2\\.2\\s+vxlan\\s+${fbLease.mac}\\s.*routed`), `tulle leases lists the flannel host's lease, routed: ${fbRow}`);
    const taMac = (taLease.BackendData as { VtepMAC: string }).VtepMAC;
    const gateway = address.get(ta)!;
    t.match(
      lab.ip(fa.ns, 'neigh', 'show', gateway, 'dev', 'flannel.1'),
      new RegExp(`lladdr ${taMac} PERMANENT`),
      'the flannel host: a neighbour entry for the tulle host',
    );
    t.match(lab.exec(fa.ns, ['bridge', 'fdb', 'show', 'dev', 'flannel.1']), new RegExp(`${taMac} dst ${ta.underlay} self permanent`), 'an FDB entry');
    t.match(lab.ip(fa.ns, 'route', 'show', taStatus.subnet!), new RegExp(`via ${gateway} dev flannel\\.1 onlink`), 'and an onlink route');

    // Everyone reaches everyone, both ways.
    const hosts = [fa, fb, ta, tb];
    for (const from of hosts) {
      for (const to of hosts) {
        if (from === to) continue;
        t.match(ping(from, address.get(to)!), / 0% packet loss/, `${name(from)} → ${name(to)} (${address.get(to)})`);
      }
    }

    // Transfers between the kernel's VXLAN and tulle's, each way.
    for (const [from, to] of [
      [fa, ta],
      [tb, fa],
    ] as const) {
      const { sent, received } = await tcpTransfer(from.ns, to.ns, address.get(to)!, 7850, TRANSFER_BYTES);
      t.equal(received.bytes, TRANSFER_BYTES, `${name(from)} → ${name(to)}: ${TRANSFER_BYTES >> 20} MiB arrived`);
      t.equal(received.sha256, sent.sha256, `${name(from)} → ${name(to)}: the same bytes`);
    }
  });

  t.test('the site moves to tulle one host at a time', async (t) => {
    if (address.size !== 4) return t.fail('the hosts did not come up');

    // fb moves, the default way: tulle makes up its own VTEP MAC, so the others must learn the new one. Its
    // flannel lease is gone by the time tulle starts: tulle finds the subnet in flanneld's subnet.env.
    const fbMove = await move(t, fb, [fa, ta], { keepMac: false, leaseExpired: true });
    t.ok(fbMove.worst <= MOVE_BOUND_MS, `moving with a new VTEP MAC: the others lost it for ${fbMove.worst} ms at most`);
    t.match(
      flannel.get(fa)!.changes.at(-1),
      new RegExp(`^add 198\\.18\\.12\\.0/24 via 192\\.0\\.2\\.2 mac ${fbMove.mac}`),
      'the flannel host not moved yet reprogrammed the moved host from its new lease',
    );

    // fa, the last flannel host, moves keeping flannel.1's MAC (backend.mac): nobody needs to learn anything.
    const faMove = await move(t, fa, [fb, ta], { keepMac: true });
    t.ok(faMove.worst <= MOVE_BOUND_MS, `moving with the same VTEP MAC: the others lost it for ${faMove.worst} ms at most`);
    t.comment(`interruption seen by the others: new MAC ${fbMove.worst} ms, same MAC ${faMove.worst} ms`);

    // The whole site runs tulle now: four daemons, four leases, everyone reaches everyone.
    const all = [fa, fb, ta, tb];
    t.ok(
      (await within(20_000, async () => (await routedCounts(all.map((h) => daemons.get(h)!))).every((n) => n === 3))) !== undefined,
      'each host routes the three others',
    );
    for (const from of all) {
      const to = all[(all.indexOf(from) + 1) % all.length];
      t.match(ping(from, address.get(to)!), / 0% packet loss/, `${name(from)} → ${name(to)}`);
    }
    const { sent, received } = await tcpTransfer(ta.ns, fa.ns, address.get(fa)!, 7851, TRANSFER_BYTES);
    t.equal(received.sha256, sent.sha256, 'a verified transfer to a moved host');
  });

  /**
   * Moves `host` from flannel to tulle while `watchers` stream to it: flanneld stops (the device keeps
   * forwarding), flannel.1 is deleted, `tulle run` starts on the same etcd. Returns the new VTEP MAC and the
   * longest silence any watcher saw.
   */
  async function move(t: Test, host: Host, watchers: Host[], options: { keepMac: boolean; leaseExpired?: boolean }): Promise<{ mac: string; worst: number }> {
    const f = flannel.get(host)!;
    const target = address.get(host)!;
    const streams = await Promise.all(
      watchers.map((w, i) =>
        udpStream(lab!, { fromNs: w.ns, toNs: host.ns, address: target, port: 7860 + i, perSecond: PER_SECOND, maxSeconds: MOVE_BOUND_MS / 1000 + 30 }),
      ),
    );
    await sleep(1000);
    // flanneld stopped: flannel.1 and its entries stay, so the host is still reached.
    f.stop();
    await sleep(1000);
    const n = name(host);
    const file = tulleConfig(host, options.keepMac ? { mac: f.mac } : {}, flannelSubnetFile(host));
    // Started while flannel.1 is still there, tulle cannot have the port (the kernel holds 8472 on every
    // address): it must say so and leave the lease alone, or the others would follow a lease nobody serves.
    const leaseBefore = etcd.etcdctl('get', SUBNETS + f.subnet.replace('/', '-'), '--print-value-only');
    const early = tulle(host.ns, ['run', '-c', file]);
    t.equal(early.status, 1, `${n}: tulle run with flannel.1 still there fails`);
    t.match(early.stderr, /UDP port 8472 on 192\.0\.2\.\d+ is in use by another program .*flannel\.1/, 'naming the port and what may hold it');
    t.equal(etcd.etcdctl('get', SUBNETS + f.subnet.replace('/', '-'), '--print-value-only'), leaseBefore, `${n}: and the flannel lease is untouched`);
    const removedAt = Date.now();
    f.removeDevice();
    // A lease gone by the time tulle starts (the host was down past its TTL): tulle asks for the subnet flanneld's
    // subnet.env names, as flanneld would.
    if (options.leaseExpired) etcd.etcdctl('del', SUBNETS + f.subnet.replace('/', '-'));
    const d = await startDaemon(lab!, host.ns, file, files.stateDir(n));
    const upAt = Date.now();
    t.comment(`${n}: tulle run answered ${upAt - removedAt} ms after flannel.1 went`);
    daemons.set(host, d);
    flannel.delete(host);
    const status = await d.status();
    t.equal(
      status.subnet,
      f.subnet,
      `${n}: tulle took ${f.subnet}, ${options.leaseExpired ? "the subnet flanneld's subnet.env named" : "the flannel lease's subnet"}`,
    );
    const mac = (leaseValue(f.subnet).BackendData as { VtepMAC: string }).VtepMAC;
    t.equal(mac === f.mac, options.keepMac, `${n}: VTEP MAC ${mac} (flannel.1 had ${f.mac})`);
    // Each watcher has caught up once it forwards to the new lease: a flannel host has programmed its MAC, a
    // tulle host routes it. Then a few seconds more of the streams.
    const caughtUp = await within(MOVE_BOUND_MS, async () => {
      for (const w of watchers) {
        const programmed = flannel.get(w)?.programmed.find((l) => l.subnet === f.subnet);
        const routed = flannel.has(w) ? undefined : (await daemons.get(w)!.leases()).find((l) => l.subnet === f.subnet);
        if (programmed !== undefined ? programmed.vtepMac !== mac : routed?.state !== 'routed' || routed.backendData.VtepMAC !== mac) return false;
      }
      return true;
    });
    t.ok(caughtUp !== undefined, `${n}: every other host forwards to its new lease`);
    await sleep(3000);
    const reports: StreamReport[] = [];
    for (const s of streams) reports.push(await s.stop());
    let worst = 0;
    for (const [i, r] of reports.entries()) {
      const w = name(watchers[i]);
      // One silence, from when flannel.1 went until tulle forwarded: nothing lost before it or after it.
      const silence = longestSilence(r);
      const resumedAt = silence.from + silence.ms;
      t.comment(
        `${w} → ${n}: ${describeStream(r)}, from ${Math.round(silence.from - removedAt)} ms after flannel.1 went to ${Math.round(resumedAt - upAt)} ms after tulle answered`,
      );
      t.same(lostBetween(r, -Infinity, removedAt - 50), [], `${w} → ${n}: nothing lost before flannel.1 went, flanneld stopped or not`);
      t.ok(silence.from >= removedAt - 50, `${w} → ${n}: the silence began when flannel.1 went`);
      t.same(lostBetween(r, resumedAt + 50), [], `${w} → ${n}: nothing lost once it was back`);
      worst = Math.max(worst, Math.round(silence.ms));
    }
    return { mac, worst };
  }

  function name(h: Host): string {
    return h.ns.slice(lab!.prefix.length);
  }
}
