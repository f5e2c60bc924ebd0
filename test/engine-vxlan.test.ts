// The vxlan backend against a Linux vxlan device set up the way flannel sets
// up its own (VNI 1, port 8472, nolearning, an onlink route, a neighbour and
// an FDB entry for the tulle host's VTEP): ping and verified TCP both ways.
import t from 'tap';
import { startDaemon, switchedHosts } from '../src/lab/topology.js';
import { kernelVxlanHost } from './helpers/kernel-vxlan.js';
import { trafficTools } from './helpers/tools.js';
import { rootLab } from './helpers/lab.js';

const TULLE_MAC = '02:00:5e:00:53:01';
const KERNEL_MAC = '02:00:5e:00:53:02';
const MTU = 1450;

const lab = rootLab(t);
if (lab) {
  const [a, b] = switchedHosts(lab, ['vt', 'vk']);
  // b: the kernel's VXLAN, as flannel's vxlan backend configures it.
  kernelVxlanHost(lab, b, {
    mac: KERNEL_MAC,
    address: '198.18.2.0',
    mtu: MTU,
    peer: { subnet: '198.18.1.0/24', address: '198.18.1.0', mac: TULLE_MAC, underlay: a.underlay },
  });

  const { run: tool, tcpTransfer } = trafficTools(lab);

  t.test('tulle (vxlan) and a Linux vxlan device', async (t) => {
    const d = await startDaemon(lab, a.ns, {
      network: '198.18.0.0/16',
      subnet: '198.18.1.0/24',
      underlay: { address: a.underlay, port: 8472 },
      backend: { type: 'vxlan', vni: 1, mac: TULLE_MAC },
      tun: { name: 'tulle0', mtu: MTU },
      peers: [{ subnet: '198.18.2.0/24', address: b.underlay, port: 8472, mac: KERNEL_MAC }],
    });
    t.teardown(() => d.stop());

    t.match(lab.exec(a.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '198.18.2.0'], { allowFailure: true }), / 0% packet loss/, 'tulle → kernel: ping');
    t.match(lab.exec(b.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '198.18.1.0'], { allowFailure: true }), / 0% packet loss/, 'kernel → tulle: ping');

    for (const [from, to, address] of [
      [a, b, '198.18.2.0'],
      [b, a, '198.18.1.0'],
    ] as const) {
      const { sent, received } = await tcpTransfer(from.ns, to.ns, address, 7790, 64 << 20);
      const dir = from === a ? 'tulle → kernel' : 'kernel → tulle';
      t.equal(received.bytes, 64 << 20, `${dir}: 64 MiB arrived`);
      t.equal(received.sha256, sent.sha256, `${dir}: the same bytes`);
    }
    const s = d.stats();
    t.equal(s.dropWrongVni + s.dropUnknownVtep + s.dropUnknownSender + s.dropMalformed, 0, 'tulle dropped nothing from the kernel peer');

    // From the peer's own address: frames with another VNI, or another VTEP's MAC, are dropped and counted.
    const strangers = JSON.parse(tool(b.ns, 'vxlan-strangers', a.underlay, '8472', '198.18.1.0', '1', KERNEL_MAC)) as { sent: number };
    await new Promise((resolve) => setTimeout(resolve, 700));
    const after = d.stats();
    t.equal(strangers.sent, 20);
    t.equal(after.dropWrongVni - s.dropWrongVni, 10, 'wrong VNI: 10 dropped');
    t.equal(after.dropUnknownVtep - s.dropUnknownVtep, 10, 'unknown VTEP MAC: 10 dropped');
    t.match(
      lab.exec(b.ns, ['ping', '-c', '2', '-i', '0.2', '-W', '2', '198.18.1.0'], { allowFailure: true }),
      / 0% packet loss/,
      'and the real peer still gets through',
    );

    // RFC 7348 §5: the outer source port follows the inner flow, from 49152–65535.
    const pool = (/source ports ([\d,]+)/.exec(d.log())?.[1] ?? '').split(',').map(Number);
    t.equal(pool.length, 8, 'tulle sends from a pool of 8 source ports');
    const capture = lab.spawn(b.ns, ['tcpdump', '-n', '-l', '-i', 'eth0', '-c', '32', `udp and src host ${a.underlay} and dst port 8472`]);
    let lines = '';
    capture.stdout!.on('data', (chunk: Buffer) => (lines += chunk.toString()));
    const listening = new Promise<void>((resolve) => capture.stderr!.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && resolve()));
    const done = new Promise<void>((resolve) => capture.once('exit', () => resolve()));
    await listening;
    tool(a.ns, 'udp-flows', '198.18.2.0', '9', '32');
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 5000))]);
    const ports = [...lines.matchAll(new RegExp(`${a.underlay.replaceAll('.', '\\.')}\\.(\\d+) >`, 'g'))].map((m) => Number(m[1]));
    t.equal(ports.length, 32, '32 flows captured on the underlay');
    t.ok(
      ports.every((p) => p >= 49152 && p <= 65535 && pool.includes(p)),
      `every source port is one of the pool's (${[...new Set(ports)].join(', ')})`,
    );
    t.ok(new Set(ports).size >= 4, 'and the flows spread over the pool');
  });

  // Linux vxlan sends without a UDP checksum over IPv4, so nothing has checked the inner bytes: tulle
  // verifies each TCP segment before merging it into a super-packet the kernel would not check again.
  // A tulle peer (udpChecksum) sends checksummed datagrams the kernel verified: no second check.
  t.test('inner TCP checksums: verified for a peer without UDP checksums, trusted for a tulle peer', async (t) => {
    const csumErrors = () => {
      const lines = lab
        .exec(a.ns, ['cat', '/proc/net/snmp'])
        .split('\n')
        .filter((l) => l.startsWith('Tcp:'));
      const [names, values] = lines.map((l) => l.trim().split(/\s+/));
      return Number(values[names.indexOf('InCsumErrors')]);
    };
    for (const udpChecksum of [false, true]) {
      const d = await startDaemon(lab, a.ns, {
        network: '198.18.0.0/16',
        subnet: '198.18.1.0/24',
        underlay: { address: a.underlay, port: 8472 },
        backend: { type: 'vxlan', vni: 1, mac: TULLE_MAC },
        tun: { name: 'tulle0', mtu: MTU },
        peers: [{ subnet: '198.18.2.0/24', address: b.underlay, port: 8472, mac: KERNEL_MAC, udpChecksum }],
      });
      const before = csumErrors();
      // Stopped, tulle finds all ten in its socket at once: one batch, one run of mergeable segments.
      process.kill(d.process.pid!, 'SIGSTOP');
      tool(b.ns, 'vxlan-bad-tcp', a.underlay, '8472', '198.18.1.0', '1', KERNEL_MAC, '10');
      process.kill(d.process.pid!, 'SIGCONT');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const errors = csumErrors() - before;
      const s = d.stats();
      if (udpChecksum)
        t.ok(errors < 10 && s.rxMerged > 0, `trusted: merged unverified (${errors} of 10 reached the kernel's own check alone, ${s.rxMerged} merged)`);
      else t.equal(errors, 10, 'verified: none merged, so the kernel checked and refused all ten');
      await d.stop();
    }
  });
}
