// VTEPs do not fragment (RFC 7348 §4.3). With a TUN MTU set above what the
// underlay carries, an inner packet whose outer packet would not fit is
// answered with ICMP "fragmentation needed" carrying the overlay MTU, so path
// MTU discovery works through tulle: ping learns the MTU, TCP adapts.
import t from 'tap';
import { freshStats, startDaemon, switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { trafficTools } from './helpers/tools.js';

const lab = rootLab(t);
if (lab) {
  const [a, b] = switchedHosts(lab, ['fa', 'fb']);
  const config = (own: typeof a, subnet: string, peer: typeof a, peerSubnet: string) => ({
    network: '198.18.0.0/16',
    subnet,
    underlay: { address: own.underlay },
    backend: { type: 'udp' },
    tun: { name: 'tulle0', mtu: 1480 },
    peers: [{ subnet: peerSubnet, address: peer.underlay }],
  });
  const { tcpTransfer } = trafficTools(lab);

  t.test('an inner packet over the overlay MTU gets ICMP "fragmentation needed" back', async (t) => {
    const da = await startDaemon(lab, a.ns, config(a, '198.18.1.0/24', b, '198.18.2.0/24'));
    const db = await startDaemon(lab, b.ns, config(b, '198.18.2.0/24', a, '198.18.1.0/24'));
    t.teardown(async () => {
      await da.stop();
      await db.stop();
    });
    t.match(da.log(), /warning: tun\.mtu 1480 is above what eth0 \(mtu 1500\) carries with udp \(1472\)/, 'the operator is warned');
    t.match(
      lab.exec(a.ns, ['ping', '-c', '2', '-i', '0.2', '-W', '2', '-s', String(1472 - 28), '198.18.2.0'], { allowFailure: true }),
      / 0% packet loss/,
      'a packet that fits goes through',
    );
    const before = await freshStats(da);
    const out = lab.exec(a.ns, ['ping', '-c', '2', '-i', '0.2', '-W', '1', '-M', 'do', '-s', String(1480 - 28), '198.18.2.0'], { allowFailure: true });
    t.match(out, /Frag(mentation)? needed and DF set \(mtu = 1472\)|message too long, mtu=1472/, 'ping learns the overlay MTU from tulle');
    const after = await freshStats(da);
    t.ok(after.dropOversize - before.dropOversize >= 1, 'the oversize packet is dropped and counted');
    t.ok(after.icmpTooBig - before.icmpTooBig >= 1, 'and answered with an ICMP error');
    t.equal(after.sendErrors - before.sendErrors, 0, 'nothing reaches the socket oversize');
    t.match(lab.exec(a.ns, ['ip', 'route', 'get', '198.18.2.0']), /mtu 1472/, 'the kernel caches the path MTU');

    // TCP with both caches emptied (a cached MTU would shrink the MSS a advertises): full-size segments, then PMTUD.
    lab.exec(a.ns, ['ip', 'route', 'flush', 'cache']);
    lab.exec(b.ns, ['ip', 'route', 'flush', 'cache']);
    const { sent, received } = await tcpTransfer(b.ns, a.ns, '198.18.1.0', 7792, 16 << 20);
    t.equal(received.bytes, 16 << 20, 'a TCP transfer completes through path MTU discovery');
    t.equal(received.sha256, sent.sha256, 'with the same bytes');
    t.ok((await freshStats(db)).icmpTooBig >= 1, 'the sending side answered its own oversize segments');
  });
}
