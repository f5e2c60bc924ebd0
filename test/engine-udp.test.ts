// The udp backend end to end on real kernels: three hosts on one underlay
// segment, tulle on two of them, the third fires garbage at tulle's port.
import t from 'tap';
import { container, freshStats, startDaemon, switchedHosts } from '../src/lab/topology.js';
import { trafficTools } from './helpers/tools.js';
import { rootLab } from './helpers/lab.js';

const MTU = 1472;

const lab = rootLab(t);
if (lab) {
  const [a, b, c] = switchedHosts(lab, ['a', 'b', 'c']);
  // A container behind host a, on a bridge inside a's subnet: its traffic is forwarded through the overlay.
  const ctr = container(lab, a, 'ctr', '198.18.1.2', '198.18.1.1');
  const config = (own: typeof a, subnet: string, peer: typeof a, peerSubnet: string, offloads: boolean, threads: 1 | 2) => ({
    network: '198.18.0.0/16',
    subnet,
    underlay: { address: own.underlay },
    backend: { type: 'udp' },
    tun: { name: 'tulle0', mtu: MTU },
    peers: [{ subnet: peerSubnet, address: peer.underlay }],
    offloads: { tun: offloads, udpGso: offloads, udpGro: offloads },
    threads,
  });
  const { run: tool, spawn: spawnTool, ready: firstLine, tcpTransfer } = trafficTools(lab);

  // One data-plane thread (the default) with and without offloads, and two threads (TX, RX).
  for (const [offloads, threads] of [
    [true, 1],
    [false, 1],
    [true, 2],
  ] as const) {
    t.test(`${offloads ? 'with every offload the kernel has' : 'with every offload off'}, ${threads === 1 ? 'one thread' : 'two threads'}`, async (t) => {
      const da = await startDaemon(lab, a.ns, config(a, '198.18.1.0/24', b, '198.18.2.0/24', offloads, threads));
      const db = await startDaemon(lab, b.ns, config(b, '198.18.2.0/24', a, '198.18.1.0/24', offloads, threads));
      t.teardown(async () => {
        await da.stop();
        await db.stop();
      });

      t.test('the daemons report the offloads in force', async (t) => {
        for (const d of [da, db]) t.match(d.log(), offloads ? /offloads: tun on, udpGso on, udpGro on/ : /offloads: tun off, udpGso off, udpGro off/);
        for (const d of [da, db]) t.match(d.log(), threads === 1 ? /; 1 data-plane thread/ : /; 2 data-plane threads \(TX, RX\)/, 'and the threads');
      });

      t.test('ping across the overlay, both ways', async (t) => {
        const ab = lab.exec(a.ns, ['ping', '-c', '5', '-i', '0.2', '-W', '2', '198.18.2.0'], { allowFailure: true });
        t.match(ab, / 0% packet loss/, 'a → b');
        const ba = lab.exec(b.ns, ['ping', '-c', '5', '-i', '0.2', '-W', '2', '198.18.1.0'], { allowFailure: true });
        t.match(ba, / 0% packet loss/, 'b → a');
      });

      t.test('a container behind a host reaches the other host through the overlay', async (t) => {
        t.match(lab.exec(ctr, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '198.18.2.0'], { allowFailure: true }), / 0% packet loss/);
      });

      t.test('path MTU discovery works through the overlay: an oversize DF packet gets ICMP fragmentation-needed back', async (t) => {
        // The container's link has MTU 1500; the overlay's is 1472. Host a must answer like a router.
        const out = lab.exec(ctr, ['sh', '-c', `ping -c 2 -i 0.3 -M do -s ${1500 - 28} -W 1 198.18.2.0 2>&1`], { allowFailure: true });
        t.match(out, new RegExp(`[Ff]rag needed and DF set \\(mtu = ${MTU}\\)|mtu=${MTU}`), 'told the overlay MTU');
        const retry = lab.exec(ctr, ['sh', '-c', `ping -c 1 -M do -s ${MTU - 28} -W 2 198.18.2.0 2>&1`], { allowFailure: true });
        t.match(retry, / 0% packet loss/, 'and a packet of that size goes through');
      });

      t.test('UDP datagrams from 1 byte to the overlay MTU arrive intact', async (t) => {
        const echo = spawnTool(b.ns, 'udp-echo', '198.18.2.0', '7777', '20');
        await firstLine(echo);
        const sizes = [1, 2, 3, 63, 64, 512, 1000, 1400, MTU - 28 - 1, MTU - 28];
        const results = JSON.parse(tool(a.ns, 'udp-probe', '198.18.2.0', '7777', ...sizes.map(String))) as { size: number; ok: boolean }[];
        t.same(
          results,
          sizes.map((size) => ({ size, ok: true })),
        );
        echo.kill();
      });

      t.test('a 256 MiB TCP transfer arrives byte for byte', async (t) => {
        const bytes = 256 * 1024 * 1024;
        const { sent, received } = await tcpTransfer(a.ns, b.ns, '198.18.2.0', 7778, bytes);
        t.equal(sent.bytes, bytes);
        t.equal(received.bytes, bytes, 'every byte arrived');
        t.equal(received.sha256, sent.sha256, 'and they are the same bytes');
      });

      t.test('the overlay MTU holds: one byte over it with DF set is refused at the TUN, a full-size packet passes', async (t) => {
        const out = lab.exec(a.ns, ['sh', '-c', `ping -c 1 -M do -s ${MTU - 28 + 1} -W 1 198.18.2.0 2>&1`], { allowFailure: true });
        t.match(out, new RegExp(`mtu=${MTU}|message too long`, 'i'));
        const fits = lab.exec(a.ns, ['ping', '-c', '1', '-M', 'do', '-s', String(MTU - 28), '-W', '2', '198.18.2.0'], { allowFailure: true });
        t.match(fits, / 0% packet loss/, 'a full-MTU DF packet goes through');
      });

      t.test('garbage, truncated and unsolicited datagrams are dropped and counted; traffic goes on', async (t) => {
        const before = await freshStats(da);
        // From a host that holds no lease: everything is an unknown sender.
        const fromStranger = JSON.parse(tool(c.ns, 'garbage', a.underlay, '8285', '198.18.1.0')) as { sent: number };
        // From a peer's address (another port): it passes the sender check and must fail the packet checks.
        const fromPeer = JSON.parse(tool(b.ns, 'garbage', a.underlay, '8285', '198.18.1.0')) as { sent: number };
        const ping = lab.exec(b.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '198.18.1.0'], { allowFailure: true });
        t.match(ping, / 0% packet loss/, 'the overlay still works');
        const after = await freshStats(da);
        t.equal(
          after.dropUnknownSender - before.dropUnknownSender,
          fromStranger.sent,
          `all ${fromStranger.sent} datagrams from the stranger dropped as unknown-sender`,
        );
        // From the peer: 20 well-formed packets for our subnet are delivered (they are valid overlay
        // traffic from a known host); the rest is malformed.
        const malformed = after.dropMalformed - before.dropMalformed;
        const notOurs = after.dropNotOurs - before.dropNotOurs;
        t.ok(malformed >= fromPeer.sent - 20 - 10, `${malformed} malformed dropped`);
        t.equal(malformed + notOurs, fromPeer.sent - 20, 'every malformed datagram from the peer counted once');
        t.equal(da.process.exitCode, null, 'the daemon is still running');
      });

      t.test('a clean stop: exit 0, the TUN removed', async (t) => {
        t.equal(await da.stop(), 0);
        t.equal(await db.stop(), 0);
        t.notMatch(lab.exec(a.ns, ['ip', 'link']), /tulle0/);
        t.notMatch(lab.exec(b.ns, ['ip', 'link']), /tulle0/);
      });
    });
  }
}
