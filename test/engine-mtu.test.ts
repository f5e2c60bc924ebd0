// VTEPs do not fragment (RFC 7348 §4.3). With a TUN MTU set above what the
// underlay carries, an inner packet whose outer packet would not fit is
// refused by the socket (DF, IP_PMTUDISC_DO) and counted, never fragmented.
import t from 'tap';
import { freshStats, startDaemon, switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';

const lab = rootLab(t);
if (lab) {
  const [a, b] = switchedHosts(lab, ['fa', 'fb']);
  const config = (own: typeof a, subnet: string, peer: typeof a, peerSubnet: string) => ({
    network: '198.18.0.0/16', subnet, underlay: { address: own.underlay }, backend: { type: 'udp' },
    tun: { name: 'tulle0', mtu: 1480 }, peers: [{ subnet: peerSubnet, address: peer.underlay }],
  });

  t.test('an outer packet over the underlay MTU is refused and counted, not fragmented', async (t) => {
    const da = await startDaemon(lab, a.ns, config(a, '198.18.1.0/24', b, '198.18.2.0/24'));
    const db = await startDaemon(lab, b.ns, config(b, '198.18.2.0/24', a, '198.18.1.0/24'));
    t.teardown(async () => {
      await da.stop();
      await db.stop();
    });
    t.match(da.log(), /warning: tun\.mtu 1480 is above what eth0 \(mtu 1500\) carries with udp \(1472\)/, 'the operator is warned');
    t.match(lab.exec(a.ns, ['ping', '-c', '2', '-i', '0.2', '-W', '2', '-s', String(1472 - 28), '198.18.2.0'], { allowFailure: true }), / 0% packet loss/, 'a packet that fits goes through');
    const before = await freshStats(da);
    const out = lab.exec(a.ns, ['ping', '-c', '2', '-i', '0.2', '-W', '1', '-M', 'do', '-s', String(1480 - 28), '198.18.2.0'], { allowFailure: true });
    t.match(out, / 100% packet loss/, 'one that does not fit the underlay does not arrive');
    const after = await freshStats(da);
    t.equal(after.sendErrors - before.sendErrors, 2, 'both refused by the socket and counted as send errors');
  });
}
