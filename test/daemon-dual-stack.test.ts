// A dual-stack overlay (IPv6 inside next to IPv4) on every store that hands
// out IPv6 subnets: two tulle hosts over an IPv4 underlay, vxlan, ping6 and
// IPv4 pings both ways, ICMPv6 "packet too big", verified IPv6 TCP. On etcd
// the network is flannel's EnableIPv6 config and each host gets its IPv6
// subnet with its lease; host-gw then routes the IPv6 subnets via each host's
// PublicIPv6, also to a flannel host known only by the lease it wrote.
import t from 'tap';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { switchedHosts, type Host } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { LabEtcd } from './helpers/lab-etcd.js';
import { trafficTools } from './helpers/tools.js';

const NET6 = '2001:db8:18::/48';
const MACS = ['02:00:5e:00:53:21', '02:00:5e:00:53:22'];
const U6 = ['2001:db8:2::1', '2001:db8:2::2', '2001:db8:2::3'];

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-dual-stack-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const hosts = switchedHosts(lab, ['dsa', 'dsb', 'dse']);
  hosts.forEach((h, i) => lab.ip(h.ns, '-6', 'addr', 'add', `${U6[i]}/64`, 'dev', 'eth0', 'nodad'));
  const [a, b, e] = hosts;
  const etcd = new LabEtcd(lab, e, dir);
  let etcdStarted: Promise<void> | undefined;
  const { tcpTransfer } = trafficTools(lab);
  const ping = (ns: string, ...args: string[]) => lab.exec(ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', ...args], { allowFailure: true });

  type Backend = 'vxlan' | 'host-gw';
  /**
   * The store's part of dual-stack host i's configuration (of two, a and b). Each store a dual-stack host can
   * run on is one line here; every test below runs on each.
   */
  const STORES: Record<string, (i: number, backend: Backend) => Promise<object>> = {
    static: async (i, backend) => staticPart(i, backend),
    etcd: async (i, backend) => etcdPart(i, backend),
  };

  const staticPart = (i: number, backend: Backend): object => {
    const j = 1 - i;
    return {
      network: '198.18.0.0/16',
      subnet: `198.18.${i + 1}.0/24`,
      ipv6Network: NET6,
      ipv6Subnet: `2001:db8:18:${i + 1}::/64`,
      peers: [
        {
          subnet: `198.18.${j + 1}.0/24`,
          ipv6Subnet: `2001:db8:18:${j + 1}::/64`,
          address: hosts[j].underlay,
          ...(backend === 'vxlan' ? { mac: MACS[j] } : {}),
        },
      ],
    };
  };

  const etcdPart = async (i: number, backend: Backend): Promise<object> => {
    etcdStarted ??= etcd.start();
    await etcdStarted;
    // Documentation/configuration.md, "Dual-stack": EnableIPv6 and IPv6Network in /coreos.com/network/config.
    if (i === 0)
      etcd.etcdctl(
        'put',
        '/coreos.com/network/config',
        JSON.stringify({ Network: '198.18.0.0/16', EnableIPv6: true, IPv6Network: NET6, Backend: { Type: backend } }),
      );
    return { store: { type: 'etcd', endpoints: [etcd.endpoint] } };
  };

  let runs = 0;
  /** Starts host i on `store`; resolves with the daemon and what its subnet.env says. */
  const start = async (store: string, i: number, backend: Backend, extra: object = {}) => {
    const run = ++runs;
    // One state dir per host and store: its host id is how etcd tells this host's earlier lease from another's.
    const stateDir = join(dir, `state-${store}-${i}`);
    const file = join(dir, `host-${run}.json`);
    const config = {
      underlay: { address: hosts[i].underlay },
      backend: { type: backend, ...(backend === 'vxlan' ? { vni: 1, mac: MACS[i] } : {}) },
      stateDir,
      ...extra,
      ...(await STORES[store](i, backend)),
    };
    writeFileSync(file, JSON.stringify(config));
    const statsFile = join(dir, `stats-${run}.json`);
    const daemon = await startDaemon(lab, hosts[i].ns, file, stateDir, ['--stats-file', statsFile]);
    const env = Object.fromEntries(
      readFileSync(join(stateDir, 'subnet.env'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split('=') as [string, string]),
    );
    /** The counters as of the daemon's next write (twice a second). */
    const stats = async () => {
      await sleep(600);
      return JSON.parse(readFileSync(statsFile, 'utf8')) as Record<string, number>;
    };
    return { daemon, env, stats };
  };
  /** The subnets' network addresses (where the TUN answers) from subnet.env's first addresses. */
  const subnets = (env: Record<string, string>) => [env.FLANNEL_SUBNET.replace(/\.1\/24$/, '.0'), env.FLANNEL_IPV6_SUBNET.replace(/::1\/64$/, '::')];
  const routedAll = async (daemons: RunningDaemon[], n: number) => {
    for (let i = 0; i < 50; i++) {
      const routed = await Promise.all(daemons.map(async (d) => (await d.leases()).filter((l) => l.state === 'routed').length));
      if (routed.every((r) => r === n)) return true;
      await sleep(200);
    }
    return false;
  };

  for (const store of Object.keys(STORES)) {
    t.test(`${store}: a dual-stack overlay over an IPv4 underlay (vxlan, tulle on both ends)`, async (t) => {
      // Above the 1450 the underlay carries: oversize packets must be answered, not lost.
      const tun = { tun: { name: 'tulle0', mtu: 1500 } };
      const ha = await start(store, 0, 'vxlan', tun);
      const hb = await start(store, 1, 'vxlan', tun);
      t.teardown(async () => {
        await ha.daemon.stop();
        await hb.daemon.stop();
      });
      t.ok(await routedAll([ha.daemon, hb.daemon], 1), 'each host routes the other');
      for (const h of [ha, hb]) {
        t.equal(h.env.FLANNEL_IPV6_NETWORK, NET6, "subnet.env has flannel's FLANNEL_IPV6_NETWORK");
        t.match(h.env.FLANNEL_IPV6_SUBNET, /^2001:db8:18:[0-9a-f]+::1\/64$/, 'and the first address of the IPv6 subnet');
      }
      const [[a4, a6], [b4, b6]] = [ha, hb].map((h) => subnets(h.env));
      t.not(a6, b6, `two IPv6 subnets (${a6}, ${b6})`);

      if (store === 'etcd') {
        const keys = etcd.etcdctl('get', '--prefix', '/coreos.com/network/subnets/', '--keys-only').split('\n').filter(Boolean);
        const keyA = keys.find((k) => k.includes(`${a4}-24&${a6}-64`));
        t.ok(keyA, `a's lease key names both subnets, as flannel's MakeSubnetKey (${keys.join(', ')})`);
        const value = JSON.parse(etcd.etcdctl('get', keyA!, '--print-value-only')) as Record<string, unknown>;
        t.match(
          value,
          { PublicIP: a.underlay, PublicIPv6: U6[0], BackendType: 'vxlan', BackendV6Data: { VNI: 1, VtepMAC: MACS[0] } },
          "flannel's dual-stack lease",
        );
      }

      t.match(ping(a.ns, b6), / 0% packet loss/, 'IPv6 ping a → b');
      t.match(ping(b.ns, a6), / 0% packet loss/, 'IPv6 ping b → a');
      t.match(ping(a.ns, b4), / 0% packet loss/, 'IPv4 a → b next to it');
      t.match(ping(b.ns, a4), / 0% packet loss/, 'IPv4 b → a');

      const big = lab.exec(a.ns, ['ping', '-6', '-c', '2', '-i', '0.2', '-W', '1', '-M', 'do', '-s', String(1500 - 48), b6], { allowFailure: true });
      t.match(big, /Packet too big: mtu=1450|message too long, mtu[:=] ?1450/, 'ICMPv6 packet too big tells the overlay MTU');
      t.ok((await ha.stats()).icmpTooBig >= 1, 'counted');

      for (const [from, to, address] of [
        [a, b, b6],
        [b, a, a6],
      ] as [Host, Host, string][]) {
        for (const host of [a, b]) lab.exec(host.ns, ['ip', '-6', 'route', 'flush', 'cache']);
        const { sent, received } = await tcpTransfer(from.ns, to.ns, address, 7797, 16 << 20);
        t.equal(received.bytes, 16 << 20, `IPv6 TCP ${from.ns} → ${address}: 16 MiB through path MTU discovery`);
        t.equal(received.sha256, sent.sha256, 'the same bytes');
      }
      const s = await ha.stats();
      // (No-route drops are expected: the kernel's own IPv6 link-local multicast, MLD reports, goes into the TUN too.)
      t.same(
        { notOurs: s.dropNotOurs, unknownSender: s.dropUnknownSender, malformed: s.dropMalformed, sendErrors: s.sendErrors },
        { notOurs: 0, unknownSender: 0, malformed: 0, sendErrors: 0 },
        'nothing dropped but the oversize packets',
      );
    });
  }

  t.test('etcd, host-gw: IPv6 subnets routed via PublicIPv6, to tulle and to a flannel host', async (t) => {
    const ha = await start('etcd', 0, 'host-gw');
    const hb = await start('etcd', 1, 'host-gw');
    t.teardown(async () => {
      await ha.daemon.stop();
      await hb.daemon.stop();
    });
    t.ok(await routedAll([ha.daemon, hb.daemon], 1), 'each host routes the other');
    const [[a4, a6], [b4, b6]] = [ha, hb].map((h) => subnets(h.env));
    const first = (network: string) => network.replace(/\.0$/, '.1').replace(/::$/, '::1');
    t.match(lab.ip(a.ns, '-6', 'route', 'show', `${b6}/64`), new RegExp(`via ${U6[1]} dev eth0 proto 201`), "a routes b's IPv6 subnet via b's PublicIPv6");
    t.match(lab.ip(b.ns, '-6', 'route', 'show', `${a6}/64`), new RegExp(`via ${U6[0]} dev eth0 proto 201`), 'and b routes a');
    t.match(lab.ip(a.ns, 'route', 'show', `${b4}/24`), /via 192\.0\.2\.2 dev eth0/, 'IPv4 via PublicIP as before');

    // A flannel host-gw host on e: its lease as pkg/backend/hostgw/hostgw.go writes it (PublicIP, PublicIPv6, no
    // backend data), under flannel's dual-stack key, and the routes flannel would install towards a.
    const [f4, f6] = ['198.18.200.0', '2001:db8:18:c8::'];
    etcd.etcdctl('put', `/coreos.com/network/subnets/${f4}-24&${f6}-64`, JSON.stringify({ PublicIP: e.underlay, PublicIPv6: U6[2], BackendType: 'host-gw' }));
    lab.ip(e.ns, 'route', 'add', `${a4}/24`, 'via', a.underlay);
    lab.ip(e.ns, '-6', 'route', 'add', `${a6}/64`, 'via', U6[0]);
    t.ok(await routedAll([ha.daemon], 2), "a routes the flannel host's lease too");
    t.match(lab.ip(a.ns, '-6', 'route', 'show', `${f6}/64`), new RegExp(`via ${U6[2]} dev eth0`), "the flannel host's IPv6 subnet via its PublicIPv6");

    // Each host answers on its subnets' first addresses: traffic between overlay addresses takes the routes both ways.
    const own = (h: Host, v4: string, v6: string) => {
      lab.ip(h.ns, 'addr', 'add', `${first(v4)}/32`, 'dev', 'lo');
      lab.ip(h.ns, '-6', 'addr', 'add', `${first(v6)}/128`, 'dev', 'lo', 'nodad');
    };
    own(a, a4, a6);
    own(b, b4, b6);
    own(e, f4, f6);
    t.match(ping(a.ns, '-I', first(a6), first(b6)), / 0% packet loss/, 'IPv6 a → b over host-gw routes');
    t.match(ping(b.ns, '-I', first(b6), first(a6)), / 0% packet loss/, 'IPv6 b → a');
    t.match(ping(a.ns, '-I', first(a4), first(b4)), / 0% packet loss/, 'IPv4 a → b');
    t.match(ping(a.ns, '-I', first(a6), first(f6)), / 0% packet loss/, 'IPv6 a → the flannel host');
    t.match(ping(e.ns, '-I', first(f6), first(a6)), / 0% packet loss/, 'IPv6 the flannel host → a');
    t.match(ping(e.ns, '-I', first(f4), first(a4)), / 0% packet loss/, 'IPv4 the flannel host → a');

    const value = JSON.parse(etcd.etcdctl('get', `/coreos.com/network/subnets/${a4}-24&${a6}-64`, '--print-value-only')) as Record<string, unknown>;
    t.same(
      { PublicIP: value.PublicIP, PublicIPv6: value.PublicIPv6, BackendType: value.BackendType, v6data: 'BackendV6Data' in value },
      { PublicIP: a.underlay, PublicIPv6: U6[0], BackendType: 'host-gw', v6data: false },
      "a's lease as flannel's host-gw writes one: PublicIPv6, no BackendV6Data",
    );

    // The route check sees the IPv6 routes as tulle's own (the kernel's IPv6 metric, 1024): it neither restores nor removes them.
    for (const d of [ha.daemon, hb.daemon]) t.notMatch(d.log(), /"event":"(own route restored|stale route removed)"/, 'the route check leaves them be');
    t.equal(await ha.daemon.stop(), 0, 'a stops cleanly');
    t.equal(lab.ip(a.ns, '-6', 'route', 'show', 'proto', '201').trim(), '', 'its IPv6 routes are gone');
  });
}
