// The host-gw backend: containers on per-host bridges reach each other by
// plain kernel routes `peer-subnet via peer-underlay`; a peer behind a router
// is refused by name before anything changes; the routes go on stop.
import t from 'tap';
import { container, startDaemon, switchedHosts } from '../src/lab/topology.js';
import { trafficTools } from './helpers/tools.js';
import { rootLab } from './helpers/lab.js';

const lab = rootLab(t);
if (lab) {
  const [a, b] = switchedHosts(lab, ['ga', 'gb']);
  const ca = container(lab, a, 'gca', '198.18.1.2', '198.18.1.1');
  const cb = container(lab, b, 'gcb', '198.18.2.2', '198.18.2.1');
  const { tcpTransfer } = trafficTools(lab);
  const config = (own: typeof a, subnet: string, peer: string, peerSubnet: string) => ({
    network: '198.18.0.0/16',
    subnet,
    underlay: { address: own.underlay },
    backend: { type: 'host-gw' },
    peers: [{ subnet: peerSubnet, address: peer }],
  });

  t.test('containers on two hosts talk through host-gw routes', async (t) => {
    const da = await startDaemon(lab, a.ns, config(a, '198.18.1.0/24', b.underlay, '198.18.2.0/24'));
    const db = await startDaemon(lab, b.ns, config(b, '198.18.2.0/24', a.underlay, '198.18.1.0/24'));
    t.match(lab.ip(a.ns, 'route', 'show', '198.18.2.0/24'), new RegExp(`via ${b.underlay.replace(/\./g, '\\.')} dev eth0`), 'route installed on a');
    t.match(lab.exec(ca, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '198.18.2.2'], { allowFailure: true }), / 0% packet loss/, 'container a → container b');
    const { sent, received } = await tcpTransfer(cb, ca, '198.18.1.2', 7791, 32 << 20);
    t.equal(received.bytes, 32 << 20, '32 MiB arrived');
    t.equal(received.sha256, sent.sha256, 'the same bytes');
    t.equal(await da.stop(), 0, 'a stops cleanly');
    t.equal(await db.stop(), 0, 'b stops cleanly');
    t.equal(lab.ip(a.ns, 'route', 'show', '198.18.2.0/24').trim(), '', 'the route is gone after stop');
  });

  t.test('a peer that is not on the same L2 segment is refused by name', async (t) => {
    // 198.51.100.0/24 is reachable from a only through a router (b's address): not L2-adjacent.
    lab.ip(a.ns, 'route', 'add', '198.51.100.0/24', 'via', b.underlay);
    await t.rejects(
      startDaemon(lab, a.ns, config(a, '198.18.1.0/24', '198.51.100.7', '198.18.2.0/24')),
      /host-gw peer 198\.51\.100\.7 is not on the same L2 segment: the route to it goes via 192\.0\.2\.2/,
    );
    t.equal(lab.ip(a.ns, 'route', 'show', '198.18.2.0/24').trim(), '', 'nothing was installed');
  });
}
