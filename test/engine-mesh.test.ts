// Three tulle hosts on one bridge, each with two peers: every host reaches
// every other one through the overlay (the lease lookup picks the right peer).
import t from 'tap';
import { startDaemon, switchedHosts, type Daemon } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';

const lab = rootLab(t);
if (lab) {
  const hosts = switchedHosts(lab, ['m1', 'm2', 'm3']);
  const subnet = (i: number) => `198.18.${i + 1}.0/24`;
  const daemons: Daemon[] = [];
  t.before(async () => {
    for (const [i, host] of hosts.entries()) {
      daemons.push(
        await startDaemon(lab, host.ns, {
          network: '198.18.0.0/16',
          subnet: subnet(i),
          underlay: { address: host.underlay },
          backend: { type: 'udp' },
          peers: hosts.flatMap((peer, j) => (j === i ? [] : [{ subnet: subnet(j), address: peer.underlay }])),
        }),
      );
    }
  });
  t.teardown(async () => {
    for (const d of daemons) await d.stop();
  });

  t.test('every host pings every other host', async (t) => {
    for (const [i, from] of hosts.entries()) {
      for (const [j] of hosts.entries()) {
        if (i === j) continue;
        const out = lab.exec(from.ns, ['ping', '-c', '2', '-i', '0.2', '-W', '2', `198.18.${j + 1}.0`], { allowFailure: true });
        t.match(out, / 0% packet loss/, `m${i + 1} → m${j + 1}`);
      }
    }
  });

  t.test('the overlay MTU comes from the underlay device, and outer packets carry DF', async (t) => {
    for (const d of daemons) t.match(d.log(), /tulle0 198\.18\.\d\.0\/16 mtu 1472 \(eth0 1500 − 28\)/, `${d.ns}: mtu 1500 − 28`);
    const capture = lab.spawn(hosts[1].ns, ['tcpdump', '-n', '-v', '-c', '1', '-i', 'eth0', 'udp', 'port', '8285']);
    let out = '';
    capture.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const done = new Promise((resolve) => capture.once('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, 1000)); // tcpdump needs a moment to attach
    lab.exec(hosts[0].ns, ['ping', '-c', '2', '-i', '0.2', '-W', '2', '198.18.2.0'], { allowFailure: true });
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 5000))]);
    t.match(out, /flags \[DF\], proto UDP/, 'the outer IPv4 header has DF set');
  });

  t.test('each packet went to its own peer: every daemon received from both others', async (t) => {
    await new Promise((resolve) => setTimeout(resolve, 600));
    for (const [i, d] of daemons.entries()) {
      const s = d.stats();
      t.ok(s.rxPackets >= 8, `m${i + 1} received ${s.rxPackets} packets (4 echo requests and 4 replies at least)`);
      t.equal(s.dropUnknownSender + s.dropNotOurs, 0, `m${i + 1}: nothing misdirected`);
    }
  });
}
