// An IPv6 underlay (outer IPv6, 70 bytes of VXLAN overhead) against a Linux
// vxlan device, and the udp backend over IPv6, dual stack inside. A
// dual-stack overlay over an IPv4 underlay, on every store, is in
// test/daemon-dual-stack.test.ts.
import t from 'tap';
import { startDaemon, switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { trafficTools } from './helpers/tools.js';

const MAC_A = '02:00:5e:00:53:11';
const MAC_B = '02:00:5e:00:53:12';
const NET6 = '2001:db8:18::/48';

const lab = rootLab(t);
if (lab) {
  const [a, b] = switchedHosts(lab, ['6a', '6b']);
  const [u6a, u6b] = ['2001:db8:2::1', '2001:db8:2::2'];
  lab.ip(a.ns, '-6', 'addr', 'add', `${u6a}/64`, 'dev', 'eth0', 'nodad');
  lab.ip(b.ns, '-6', 'addr', 'add', `${u6b}/64`, 'dev', 'eth0', 'nodad');
  const { tcpTransfer } = trafficTools(lab);
  const ping = (ns: string, ...args: string[]) => lab.exec(ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', ...args], { allowFailure: true });

  t.test('an IPv6 underlay: tulle (vxlan) and a Linux vxlan device, IPv4 and IPv6 inside', async (t) => {
    // b: the kernel's VXLAN over IPv6, flannel style (flannel-v6.1 uses the same settings).
    lab.ip(b.ns, 'link', 'add', 'vx6', 'address', MAC_B, 'type', 'vxlan', 'id', '1', 'dstport', '4789', 'local', u6b, 'dev', 'eth0', 'nolearning');
    lab.ip(b.ns, 'addr', 'add', '198.18.2.0/32', 'dev', 'vx6');
    lab.ip(b.ns, '-6', 'addr', 'add', '2001:db8:18:2::/128', 'dev', 'vx6', 'nodad');
    lab.ip(b.ns, 'link', 'set', 'vx6', 'mtu', '1430', 'up');
    lab.ip(b.ns, 'route', 'add', '198.18.1.0/24', 'via', '198.18.1.0', 'dev', 'vx6', 'onlink');
    lab.ip(b.ns, '-6', 'route', 'add', '2001:db8:18:1::/64', 'via', '2001:db8:18:1::', 'dev', 'vx6', 'onlink');
    lab.ip(b.ns, 'neigh', 'add', '198.18.1.0', 'lladdr', MAC_A, 'dev', 'vx6');
    lab.ip(b.ns, '-6', 'neigh', 'add', '2001:db8:18:1::', 'lladdr', MAC_A, 'dev', 'vx6');
    lab.exec(b.ns, ['bridge', 'fdb', 'append', MAC_A, 'dev', 'vx6', 'dst', u6a]);
    lab.exec(b.ns, ['ethtool', '-K', 'eth0', 'tx', 'off']); // a wire, not a veth: see engine-vxlan.test.ts
    t.teardown(() => {
      lab.ip(b.ns, 'link', 'del', 'vx6'); // with its routes, which would shadow the next test's
      lab.exec(b.ns, ['ethtool', '-K', 'eth0', 'tx', 'on']);
    });

    const d = await startDaemon(lab, a.ns, {
      network: '198.18.0.0/16',
      subnet: '198.18.1.0/24',
      ipv6Network: NET6,
      ipv6Subnet: '2001:db8:18:1::/64',
      underlay: { address: u6a },
      backend: { type: 'vxlan', vni: 1, mac: MAC_A },
      peers: [{ subnet: '198.18.2.0/24', ipv6Subnet: '2001:db8:18:2::/64', address: u6b, mac: MAC_B }],
    });
    t.teardown(() => d.stop());
    t.match(d.log(), /mtu 1430 \(eth0 1500 − 70\)/, 'the overlay MTU leaves room for the 70-byte IPv6 VXLAN overhead');
    t.match(ping(a.ns, '198.18.2.0'), / 0% packet loss/, 'IPv4 inside, tulle → kernel');
    t.match(ping(b.ns, '198.18.1.0'), / 0% packet loss/, 'IPv4 inside, kernel → tulle');
    t.match(ping(a.ns, '2001:db8:18:2::'), / 0% packet loss/, 'IPv6 inside, tulle → kernel');
    t.match(ping(b.ns, '2001:db8:18:1::'), / 0% packet loss/, 'IPv6 inside, kernel → tulle');
    for (const [from, to, address] of [
      [a, b, '198.18.2.0'],
      [b, a, '198.18.1.0'],
      [a, b, '2001:db8:18:2::'],
      [b, a, '2001:db8:18:1::'],
    ] as const) {
      const { sent, received } = await tcpTransfer(from.ns, to.ns, address, 7794, 32 << 20);
      t.equal(received.bytes, 32 << 20, `TCP ${from === a ? 'tulle → kernel' : 'kernel → tulle'} to ${address}: 32 MiB`);
      t.equal(received.sha256, sent.sha256, 'the same bytes');
    }
    const s = d.stats();
    t.equal(s.dropUnknownSender + s.dropWrongVni + s.dropUnknownVtep + s.dropMalformed + s.dropNotOurs, 0, 'nothing from the kernel peer was dropped');
  });

  t.test('the udp backend over an IPv6 underlay, dual stack inside', async (t) => {
    const config = (own: string, n: number, peer: string, m: number) => ({
      network: '198.18.0.0/16',
      subnet: `198.18.${n}.0/24`,
      ipv6Network: NET6,
      ipv6Subnet: `2001:db8:18:${n}::/64`,
      underlay: { address: own },
      backend: { type: 'udp' },
      peers: [{ subnet: `198.18.${m}.0/24`, ipv6Subnet: `2001:db8:18:${m}::/64`, address: peer }],
    });
    const da = await startDaemon(lab, a.ns, config(u6a, 1, u6b, 2));
    const db = await startDaemon(lab, b.ns, config(u6b, 2, u6a, 1));
    t.teardown(async () => {
      await da.stop();
      await db.stop();
    });
    t.match(da.log(), /mtu 1452 \(eth0 1500 − 48\)/, '48 bytes of overhead over IPv6');
    const ping = (ns: string, target: string) => lab.exec(ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', target], { allowFailure: true });
    t.match(ping(a.ns, '198.18.2.0'), / 0% packet loss/, 'IPv4 inside');
    t.match(ping(b.ns, '2001:db8:18:1::'), / 0% packet loss/, 'IPv6 inside');
    const { sent, received } = await tcpTransfer(a.ns, b.ns, '2001:db8:18:2::', 7795, 32 << 20);
    t.equal(received.sha256, sent.sha256, 'IPv6 TCP over IPv6: 32 MiB, the same bytes');
    t.equal(db.stats().dropUnknownSender, 0, 'IPv6 senders are known by their address');
  });
}
