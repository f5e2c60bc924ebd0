// offloads.udpTunnelGso on the udp backend: TCP super-packets leave whole
// through the tunnel TAP, as UDP-tunnel GSO frames whose tunnel header is
// empty (flannel's format: the inner IP packet right after the outer UDP
// header), and the kernel cuts them into ordinary udp-backend datagrams.
// Verified TCP between two tulle hosts with the receiver's UDP GRO on and
// off, cut by the sender's kernel in software, inner IPv6 on a dual-stack
// overlay, to a receiver without TUN offloads, and that with a batch of 1 or
// with the offloads off the same transfers still arrive.
import t, { type Test } from 'tap';
import { freshStats, startDaemon, switchedHosts, type Daemon } from '../src/lab/topology.js';
import { trafficTools } from './helpers/tools.js';
import { rootLab } from './helpers/lab.js';

const MTU = 1472;
const NO_TAP_SUPPORT = /udpTunnelGso off: this kernel's TAP does not take/;

const lab = rootLab(t);
if (lab) {
  const [a, b] = switchedHosts(lab, ['ua', 'ub']);
  // Hosts may inherit a reverse-path filter from the machine; these labs' hosts start without one.
  for (const h of [a, b]) lab.exec(h.ns, ['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0']);
  const { tcpTransfer } = trafficTools(lab);
  const dual = (n: number) => ({ ipv6Network: '2001:db8:18::/48', ipv6Subnet: `2001:db8:18:${n}::/64` });
  const tulle = (host: typeof a, n: number, peer: typeof b, peerN: number, o: { offloads?: object; extra?: object; ipv6?: boolean } = {}) =>
    startDaemon(lab, host.ns, {
      network: '198.18.0.0/16',
      subnet: `198.18.${n}.0/24`,
      underlay: { address: host.underlay },
      backend: { type: 'udp' },
      tun: { name: 'tulle0', mtu: MTU },
      peers: [{ subnet: `198.18.${peerN}.0/24`, address: peer.underlay, udpChecksum: true, ...(o.ipv6 ? { ipv6Subnet: dual(peerN).ipv6Subnet } : {}) }],
      offloads: o.offloads ?? { udpTunnelGso: true },
      ...(o.ipv6 ? dual(n) : {}),
      ...o.extra,
    });
  const verified = async (t: Test, from: string, to: string, address: string, port: number, bytes: number, what: string) => {
    const { sent, received } = await tcpTransfer(from, to, address, port, bytes);
    t.equal(received.bytes, bytes, `${what}: ${bytes >> 20} MiB arrived`);
    t.equal(received.sha256, sent.sha256, `${what}: the same bytes`);
  };
  // TCP segments the receiving kernel refused for their checksum.
  const csumErrors = (ns: string) => {
    const [names, values] = lab
      .exec(ns, ['cat', '/proc/net/snmp'])
      .split('\n')
      .filter((l) => l.startsWith('Tcp:'))
      .map((l) => l.trim().split(/\s+/));
    return Number(values[names.indexOf('InCsumErrors')]);
  };
  const kernelLacksIt = (t: Test, d: Daemon) => {
    const lacks = NO_TAP_SUPPORT.test(d.log());
    if (lacks) t.pass('skipped: this kernel lacks UDP-tunnel GSO on a TAP', { skip: true });
    return lacks;
  };
  interface PairOptions {
    a?: Parameters<typeof tulle>[4];
    b?: Parameters<typeof tulle>[4];
  }
  /** tulle on a and on b, stopped when the test ends; undefined (the test skips) where the kernel lacks the offload. */
  const pair = async (t: Test, o: PairOptions = {}): Promise<{ da: Daemon; db: Daemon } | undefined> => {
    const da = await tulle(a, 1, b, 2, o.a);
    t.teardown(() => da.stop());
    if (kernelLacksIt(t, da)) return undefined;
    const db = await tulle(b, 2, a, 1, o.b);
    t.teardown(() => db.stop());
    return { da, db };
  };
  /** One transfer a → b, and what a sent whole meanwhile. */
  const wholeDuring = async (t: Test, da: Daemon, bytes: number, port: number, what: string, to = '198.18.2.0') => {
    const before = await freshStats(da);
    await verified(t, a.ns, b.ns, to, port, bytes, what);
    const after = await freshStats(da);
    t.equal(after.sendErrors + after.encapErrors, 0, `${what}: no send or encapsulation errors`);
    return after.txWhole - before.txWhole;
  };

  t.test('two tulle hosts on the udp backend: super-packets leave whole, the receiver with UDP GRO on', async (t) => {
    const hosts = await pair(t);
    if (!hosts) return;
    const { da, db } = hosts;
    t.match(da.log(), /udpTunnelGso on/, 'the log lists it on');
    t.match(lab.exec(a.ns, ['ip', '-o', 'link', 'show', 'tulle0-tx']), /tulle0-tx: .*UP/, 'the tunnel TAP is up');
    const refusedBefore = csumErrors(b.ns);
    const whole = await wholeDuring(t, da, 256 << 20, 7901, 'tulle → tulle');
    t.ok(whole > 100, `super-packets went whole (${whole})`);
    t.equal(csumErrors(b.ns) - refusedBefore, 0, 'the receiving kernel refused no segment for its checksum');
    const rx = await freshStats(db);
    t.equal(rx.dropMalformed + rx.dropNotOurs + rx.writeErrors, 0, 'the receiver took and wrote every datagram');
    await verified(t, b.ns, a.ns, '198.18.1.0', 7902, 64 << 20, 'and back');
    t.ok((await freshStats(db)).txWhole > 10, 'b sent whole too');
  });

  t.test("the receiver's UDP GRO off: it takes the kernel's segments one by one", async (t) => {
    const hosts = await pair(t, { b: { offloads: { udpTunnelGso: true, udpGro: false } } });
    if (!hosts) return;
    const { da, db } = hosts;
    t.match(db.log(), /udpGro off/, 'the receiver runs without UDP GRO');
    const whole = await wholeDuring(t, da, 256 << 20, 7903, 'whole → no GRO');
    t.ok(whole > 100, `super-packets went whole (${whole})`);
  });

  t.test("segmented by the sender's kernel (the underlay cannot): segments still arrive intact", async (t) => {
    const hosts = await pair(t);
    if (!hosts) return;
    const { da } = hosts;
    lab.exec(a.ns, ['ethtool', '-K', 'eth0', 'tx-udp_tnl-segmentation', 'off', 'tx-udp_tnl-csum-segmentation', 'off']);
    t.teardown(() => lab.exec(a.ns, ['ethtool', '-K', 'eth0', 'tx-udp_tnl-segmentation', 'on', 'tx-udp_tnl-csum-segmentation', 'on']));
    const refusedBefore = csumErrors(b.ns);
    const whole = await wholeDuring(t, da, 64 << 20, 7904, 'software segmentation');
    t.ok(whole > 10, `super-packets went whole (${whole})`);
    t.equal(csumErrors(b.ns) - refusedBefore, 0, 'the receiving kernel refused no segment for its checksum');
  });

  t.test('inner IPv6 (a dual-stack overlay): sent whole too, segmented by the underlay or by the kernel', async (t) => {
    // The kernel takes the inner protocol from the GSO type (TCPV6), not from the outer header's family.
    const hosts = await pair(t, { a: { ipv6: true }, b: { ipv6: true } });
    if (!hosts) return;
    const { da } = hosts;
    const whole = await wholeDuring(t, da, 64 << 20, 7905, 'IPv6 tulle → tulle', '2001:db8:18:2::');
    t.ok(whole > 10, `IPv6 super-packets went whole (${whole})`);
    lab.exec(a.ns, ['ethtool', '-K', 'eth0', 'tx-udp_tnl-segmentation', 'off', 'tx-udp_tnl-csum-segmentation', 'off']);
    t.teardown(() => lab.exec(a.ns, ['ethtool', '-K', 'eth0', 'tx-udp_tnl-segmentation', 'on', 'tx-udp_tnl-csum-segmentation', 'on']));
    const refusedBefore = csumErrors(b.ns);
    const cut = await wholeDuring(t, da, 64 << 20, 7906, "IPv6, segmented by the sender's kernel", '2001:db8:18:2::');
    t.ok(cut > 10, `IPv6 super-packets went whole (${cut})`);
    t.equal(csumErrors(b.ns) - refusedBefore, 0, 'the receiving kernel refused no segment for its checksum');
  });

  t.test('a receiver without TUN offloads cuts whole super-packets itself', async (t) => {
    const hosts = await pair(t, { b: { offloads: { tun: false, udpGso: false, udpGro: false } } });
    if (!hosts) return;
    const refusedBefore = csumErrors(b.ns);
    const whole = await wholeDuring(t, hosts.da, 64 << 20, 7909, 'whole → no offloads');
    t.ok(whole > 10, `super-packets went whole (${whole})`);
    t.equal(csumErrors(b.ns) - refusedBefore, 0, 'every segment it cut had a valid checksum');
  });

  t.test('a batch of 1 still sends whole; with the offloads off nothing goes whole, and both deliver', async (t) => {
    const one = await pair(t, { a: { extra: { batch: 1 } }, b: { extra: { batch: 1 } } });
    if (!one) return;
    const whole = await wholeDuring(t, one.da, 64 << 20, 7907, 'batch 1');
    t.ok(whole > 10, `batch 1: super-packets went whole (${whole})`);
    await one.da.stop();
    await one.db.stop();

    const off = { offloads: { tun: false, udpGso: false, udpGro: false, udpTunnelGso: true } };
    const plain = await pair(t, { a: off, b: off });
    if (!plain) return;
    t.match(plain.da.log(), /udpTunnelGso off: the TUN has no offloads/, 'offloads off: the log says why');
    t.notMatch(lab.exec(a.ns, ['ip', '-o', 'link', 'show']), /tulle0-tx/, 'offloads off: no TAP');
    t.equal(await wholeDuring(t, plain.da, 16 << 20, 7908, 'offloads off'), 0, 'offloads off: nothing went whole');
  });
}
