// offloads.udpTunnelGso: TCP super-packets leave whole, as UDP-tunnel GSO
// frames through the tunnel TAP, and the kernel cuts them into VXLAN
// datagrams. 'auto' (the default) turns it on in this lab (veth underlays
// segment UDP tunnels) and off where the underlay does not or the firewall
// drops forwarded packets. Verified TCP between two tulle hosts (whole across
// the bridge; cut up in software by the sender's kernel, whose segments reach
// the receiver with unfinished inner checksums; to a receiver without TUN
// offloads, which cuts them itself; inner IPv6), and from tulle to a Linux vxlan device. Only peers
// known as tulle hosts (udpChecksum) get them.
import t, { type Test } from 'tap';
import { container, freshStats, startDaemon, switchedHosts, type Daemon } from '../src/lab/topology.js';
import { kernelVxlanHost } from './helpers/kernel-vxlan.js';
import { trafficTools } from './helpers/tools.js';
import { rootLab } from './helpers/lab.js';

const MAC_A = '02:00:5e:00:53:11';
const MAC_B = '02:00:5e:00:53:12';
const MTU = 1450;
const NO_TAP_SUPPORT = /udpTunnelGso off: this kernel's TAP does not take/;

const lab = rootLab(t);
if (lab) {
  const [a, b, k] = switchedHosts(lab, ['wa', 'wb', 'wk']);
  // Hosts may inherit a reverse-path filter from the machine; these labs' hosts start without one.
  for (const h of [a, b, k]) lab.exec(h.ns, ['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0']);
  const { tcpTransfer } = trafficTools(lab);
  const tulle = (host: typeof a, subnet: string, mac: string, peers: object[], offloads: object = {}, extra: object = {}) =>
    startDaemon(lab, host.ns, {
      network: '198.18.0.0/16',
      subnet,
      underlay: { address: host.underlay },
      backend: { type: 'vxlan', mac },
      tun: { name: 'tulle0', mtu: MTU },
      peers,
      offloads,
      ...extra,
    });
  const peerB = { subnet: '198.18.2.0/24', address: b.underlay, mac: MAC_B, udpChecksum: true };
  const peerA = { subnet: '198.18.1.0/24', address: a.underlay, mac: MAC_A, udpChecksum: true };
  const verified = async (t: Test, from: string, to: string, address: string, port: number, bytes: number, what: string) => {
    const { sent, received } = await tcpTransfer(from, to, address, port, bytes);
    t.equal(received.bytes, bytes, `${what}: ${bytes >> 20} MiB arrived`);
    t.equal(received.sha256, sent.sha256, `${what}: the same bytes`);
  };
  // A counter of the namespace's /proc/net/snmp, e.g. ('Tcp', 'InCsumErrors').
  const snmp = (ns: string, group: string, name: string) => {
    const [names, values] = lab
      .exec(ns, ['cat', '/proc/net/snmp'])
      .split('\n')
      .filter((l) => l.startsWith(`${group}:`))
      .map((l) => l.trim().split(/\s+/));
    return Number(values[names.indexOf(name)]);
  };
  // TCP segments the receiving kernel refused for their checksum.
  const csumErrors = (ns: string) => snmp(ns, 'Tcp', 'InCsumErrors');
  const kernelLacksIt = (t: Test, d: Daemon) => {
    const lacks = NO_TAP_SUPPORT.test(d.log());
    if (lacks) t.pass(`skipped: this kernel lacks UDP-tunnel GSO on a TAP`, { skip: true });
    return lacks;
  };
  interface PairOptions {
    toB?: object;
    toA?: object;
    offloadsA?: object;
    offloadsB?: object;
    extraA?: object;
    extraB?: object;
  }
  /** tulle on a and on b, stopped when the test ends; undefined (the test skips) where the kernel lacks the offload. */
  const pair = async (t: Test, o: PairOptions = {}): Promise<{ da: Daemon; db: Daemon } | undefined> => {
    const da = await tulle(a, '198.18.1.0/24', MAC_A, [o.toB ?? peerB], o.offloadsA, o.extraA);
    t.teardown(() => da.stop());
    if (kernelLacksIt(t, da)) return undefined;
    const db = await tulle(b, '198.18.2.0/24', MAC_B, [o.toA ?? peerA], o.offloadsB, o.extraB);
    t.teardown(() => db.stop());
    return { da, db };
  };

  t.test('two tulle hosts: super-packets leave whole (auto)', async (t) => {
    const hosts = await pair(t);
    if (!hosts) return;
    const { da, db } = hosts;
    t.match(da.log(), /udpTunnelGso on/, 'auto: on over a veth underlay (the log says so)');
    t.match(lab.exec(a.ns, ['ip', '-o', 'link', 'show', 'tulle0-tx']), /tulle0-tx: .*UP/, 'the tunnel TAP is up');
    const before = await freshStats(da);
    await verified(t, a.ns, b.ns, '198.18.2.0', 7801, 256 << 20, 'tulle → tulle');
    const after = await freshStats(da);
    t.ok(after.txWhole - before.txWhole > 100, `super-packets went whole (${after.txWhole - before.txWhole})`);
    t.equal(after.sendErrors + after.encapErrors, 0, 'no send or encapsulation errors');
    const rx = await freshStats(db);
    t.equal(rx.dropMalformed + rx.writeErrors, 0, 'the receiver wrote everything');

    // The sender's underlay cannot segment UDP tunnels: its kernel cuts the frames in software, and
    // over the veth the segments keep the inner checksums unfinished (a NIC would finish them).
    lab.exec(a.ns, ['ethtool', '-K', 'eth0', 'tx-udp_tnl-segmentation', 'off', 'tx-udp_tnl-csum-segmentation', 'off']);
    t.teardown(() => lab.exec(a.ns, ['ethtool', '-K', 'eth0', 'tx-udp_tnl-segmentation', 'on', 'tx-udp_tnl-csum-segmentation', 'on']));
    const refusedBefore = csumErrors(b.ns);
    await verified(t, a.ns, b.ns, '198.18.2.0', 7802, 64 << 20, "segmented by the sender's kernel");
    // A segment that tulle wrote alone still holds the sender's partial checksum: it must go as
    // CHECKSUM_PARTIAL, or the kernel refuses it and TCP has to send it again.
    const refused = csumErrors(b.ns) - refusedBefore;
    t.equal(refused, 0, `the receiving kernel refused no segment for its checksum (${refused})`);
    await verified(t, b.ns, a.ns, '198.18.1.0', 7803, 64 << 20, 'and back');
  });

  t.test('forwarded to a container behind the receiver: whole super-packets are cut at its MTU, not refused', async (t) => {
    const hosts = await pair(t);
    if (!hosts) return;
    const { da } = hosts;
    const ctr = container(lab, b, 'wctr', '198.18.2.2', '198.18.2.1');
    // A packet the kernel must forward but cannot (longer than the MTU, DF set) counts as FragFails.
    const fragFails = () => snmp(b.ns, 'Ip', 'FragFails');
    const failsBefore = fragFails();
    const before = await freshStats(da);
    await verified(t, a.ns, ctr, '198.18.2.2', 7812, 64 << 20, 'tulle → container');
    t.ok((await freshStats(da)).txWhole - before.txWhole > 10, 'super-packets went whole');
    t.equal(fragFails() - failsBefore, 0, 'the receiving host forwarded every packet (no FragFails)');
  });

  t.test('inner IPv6 (a dual-stack overlay): super-packets leave whole too', async (t) => {
    const dual = (n: number) => ({ ipv6Network: '2001:db8:18::/48', ipv6Subnet: `2001:db8:18:${n}::/64` });
    const hosts = await pair(t, {
      toB: { ...peerB, ipv6Subnet: dual(2).ipv6Subnet },
      toA: { ...peerA, ipv6Subnet: dual(1).ipv6Subnet },
      extraA: dual(1),
      extraB: dual(2),
    });
    if (!hosts) return;
    const { da } = hosts;
    const before = await freshStats(da);
    await verified(t, a.ns, b.ns, '2001:db8:18:2::', 7810, 64 << 20, 'IPv6 tulle → tulle');
    const after = await freshStats(da);
    t.ok(after.txWhole - before.txWhole > 10, `IPv6 super-packets went whole (${after.txWhole - before.txWhole})`);
    await verified(t, b.ns, a.ns, '2001:db8:18:1::', 7811, 64 << 20, 'and back');
  });

  t.test('a receiver without TUN offloads cuts whole super-packets itself', async (t) => {
    const hosts = await pair(t, { offloadsA: { udpTunnelGso: true }, offloadsB: { tun: false, udpGso: false, udpGro: false } });
    if (!hosts) return;
    const { da } = hosts;
    const refusedBefore = csumErrors(b.ns);
    const before = await freshStats(da);
    await verified(t, a.ns, b.ns, '198.18.2.0', 7806, 64 << 20, 'whole → no offloads');
    const after = await freshStats(da);
    t.ok(after.txWhole - before.txWhole > 10, `super-packets went whole (${after.txWhole - before.txWhole})`);
    const refused = csumErrors(b.ns) - refusedBefore;
    t.equal(refused, 0, `every segment it cut had a valid checksum (${refused} refused)`);
  });

  t.test('a peer not marked as a tulle host gets no whole super-packets, and TCP flows both ways', async (t) => {
    // b does not know a for a tulle host, so it verifies a's inner checksums: a frame that crossed the
    // veth whole would arrive with them unfinished, and every segment would be dropped.
    const hosts = await pair(t, { toB: { ...peerB, udpChecksum: undefined }, toA: { ...peerA, udpChecksum: undefined }, offloadsA: { udpTunnelGso: true } });
    if (!hosts) return;
    const { da } = hosts;
    await verified(t, a.ns, b.ns, '198.18.2.0', 7808, 16 << 20, 'to an unmarked tulle peer');
    await verified(t, b.ns, a.ns, '198.18.1.0', 7809, 16 << 20, 'and back');
    t.equal((await freshStats(da)).txWhole, 0, 'nothing went whole');
  });

  t.test('tulle sending whole to a Linux vxlan device (with outer checksums)', async (t) => {
    kernelVxlanHost(lab, k, {
      mac: MAC_B,
      address: '198.18.3.0',
      mtu: MTU,
      udpcsum: true,
      peer: { subnet: '198.18.1.0/24', address: '198.18.1.0', mac: MAC_A, underlay: a.underlay },
    });
    const d = await startDaemon(lab, a.ns, {
      network: '198.18.0.0/16',
      subnet: '198.18.1.0/24',
      underlay: { address: a.underlay, port: 8472 },
      backend: { type: 'vxlan', vni: 1, mac: MAC_A },
      tun: { name: 'tulle0', mtu: MTU },
      peers: [{ subnet: '198.18.3.0/24', address: k.underlay, port: 8472, mac: MAC_B, udpChecksum: true }],
      offloads: { udpTunnelGso: true },
    });
    t.teardown(() => d.stop());
    if (kernelLacksIt(t, d)) return;
    const before = await freshStats(d);
    await verified(t, a.ns, k.ns, '198.18.3.0', 7804, 64 << 20, 'tulle → kernel');
    await verified(t, k.ns, a.ns, '198.18.1.0', 7805, 64 << 20, 'kernel → tulle');
    const after = await freshStats(d);
    t.ok(after.txWhole - before.txWhole > 10, `super-packets went whole (${after.txWhole - before.txWhole})`);
  });

  t.test('refused, with the reason in the log, where rp_filter would drop the frames', async (t) => {
    // Loose reverse-path filtering (2) drops the TAP's frames as strict (1) does.
    lab.exec(b.ns, ['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=2']);
    t.teardown(() => lab.exec(b.ns, ['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0']));
    const vx = await tulle(b, '198.18.2.0/24', MAC_B, [peerA], { udpTunnelGso: true });
    t.teardown(() => vx.stop());
    t.match(vx.log(), /udpTunnelGso off: net\.ipv4\.conf\.all\.rp_filter is 2/, 'rp_filter 2: the warning names the sysctl and its value');
    t.notMatch(lab.exec(b.ns, ['ip', '-o', 'link', 'show']), /tulle0-tx/, 'rp_filter 2: no TAP');
    t.match(vx.log(), /udpTunnelGso off/, 'the start-up line lists it off');
    t.equal(vx.process.exitCode, null, 'and the daemon runs without it');
  });

  t.test('auto stays off where the underlay does not segment UDP tunnels, or the firewall drops forwarded packets', async (t) => {
    lab.exec(b.ns, ['ethtool', '-K', 'eth0', 'tx-udp_tnl-csum-segmentation', 'off']);
    const plain = await tulle(b, '198.18.2.0/24', MAC_B, [peerA]);
    t.match(plain.log(), /udpTunnelGso off \(auto\): eth0 does not segment UDP tunnels itself/, 'no tunnel segmentation on eth0: off, and the log says why');
    await plain.stop();
    lab.exec(b.ns, ['ethtool', '-K', 'eth0', 'tx-udp_tnl-csum-segmentation', 'on']);

    lab.exec(b.ns, ['nft', 'add', 'table', 'inet', 'fwdrop']);
    lab.exec(b.ns, ['nft', 'add', 'chain', 'inet', 'fwdrop', 'forwarding', '{ type filter hook forward priority 0; policy drop; }']);
    t.teardown(() => lab.exec(b.ns, ['nft', 'delete', 'table', 'inet', 'fwdrop'], { allowFailure: true }));
    const da = await tulle(a, '198.18.1.0/24', MAC_A, [peerB]);
    t.teardown(() => da.stop());
    const db = await tulle(b, '198.18.2.0/24', MAC_B, [peerA]);
    t.teardown(() => db.stop());
    t.match(
      db.log(),
      /udpTunnelGso off \(auto\): the firewall drops forwarded packets by default \(nftables inet fwdrop chain forwarding \(policy drop\)\)/,
      'a forward chain with policy drop: off, naming the chain',
    );
    // TCP from b still flows: its super-packets are split and leave through the sockets.
    await verified(t, b.ns, a.ns, '198.18.1.0', 7807, 16 << 20, 'behind the firewall');
    t.equal((await freshStats(db)).txWhole, 0, 'nothing went through the TAP');
  });
}
