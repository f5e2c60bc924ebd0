// The data-plane warm-up (src/engine/warm-up.ts) on real kernels: each thread runs its code over loopback
// stand-ins before start-up ends, then hands its TUN, sockets, routes and counters back as they were, so
// real traffic flows and the counters start at zero. With one thread and two, both backends, offloads
// and batching on and off; turned off; and skipped (not fatal) where loopback is down.
import t, { type Test } from 'tap';
import { startDaemon, switchedHosts, freshStats, type Daemon } from '../src/lab/topology.js';
import { trafficTools } from './helpers/tools.js';
import { rootLab } from './helpers/lab.js';

const MAC_A = '02:00:00:00:02:01';
const MAC_B = '02:00:00:00:02:02';

interface Variant {
  backend: 'udp' | 'vxlan';
  threads: 1 | 2;
  offloads: boolean;
  batch: number;
  warmUp?: boolean;
}

/** The start-up log's warm-up lines, parsed. */
function warmUps(daemon: Daemon): { event: string; rounds?: number; delivered?: number; ms?: number; reason?: string }[] {
  return daemon
    .log()
    .split('\n')
    .filter((line) => line.includes('"event":"warm-up'))
    .map((line) => JSON.parse(line));
}

const lab = rootLab(t);
if (lab) {
  const [a, b] = switchedHosts(lab, ['a', 'b']);
  const config = (own: typeof a, subnet: string, peer: typeof a, peerSubnet: string, v: Variant) => ({
    network: '198.18.0.0/16',
    subnet,
    underlay: { address: own.underlay },
    backend: v.backend === 'vxlan' ? { type: 'vxlan', vni: 1, mac: own === a ? MAC_A : MAC_B } : { type: 'udp' },
    tun: { name: 'tulle0', mtu: v.backend === 'vxlan' ? 1450 : 1472 },
    peers: [{ subnet: peerSubnet, address: peer.underlay, udpChecksum: true, ...(v.backend === 'vxlan' ? { mac: own === a ? MAC_B : MAC_A } : {}) }],
    offloads: { tun: v.offloads, udpGso: v.offloads, udpGro: v.offloads },
    batch: v.batch,
    threads: v.threads,
    ...(v.warmUp === false ? { warmUp: false } : {}),
  });
  const start = async (v: Variant) => {
    const da = await startDaemon(lab, a.ns, config(a, '198.18.1.0/24', b, '198.18.2.0/24', v));
    const db = await startDaemon(lab, b.ns, config(b, '198.18.2.0/24', a, '198.18.1.0/24', v));
    return [da, db];
  };
  const pingBothWays = (t: Test) => {
    t.match(lab.exec(a.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '198.18.2.0'], { allowFailure: true }), / 0% packet loss/, 'a → b');
    t.match(lab.exec(b.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '198.18.1.0'], { allowFailure: true }), / 0% packet loss/, 'b → a');
  };
  const { tcpTransfer } = trafficTools(lab);

  const variants: Variant[] = [
    { backend: 'vxlan', threads: 1, offloads: true, batch: 64 },
    { backend: 'udp', threads: 2, offloads: true, batch: 64 },
    { backend: 'vxlan', threads: 1, offloads: false, batch: 1 },
    { backend: 'udp', threads: 1, offloads: false, batch: 1 },
  ];
  for (const v of variants) {
    const name = `${v.backend}, ${v.threads === 1 ? 'one thread' : 'two threads'}, offloads ${v.offloads ? 'on' : 'off'}, batch ${v.batch}`;
    t.test(`warmed up: ${name}`, async (t) => {
      const daemons = await start(v);
      t.teardown(async () => {
        for (const d of daemons) await d.stop();
      });

      t.test('each data-plane thread warmed up, and its packets made the round trip', async (t) => {
        for (const d of daemons) {
          const lines = warmUps(d);
          t.equal(lines.length, v.threads, `one warm-up line per thread: ${JSON.stringify(lines)}`);
          for (const w of lines) {
            t.equal(w.event, 'warm-up', `not skipped: ${w.reason ?? ''}`);
            t.ok(w.rounds! >= 100, `${w.rounds} round trips in ${w.ms} ms`);
            // Three packets come back each round (an ICMP echo request and two UDP datagrams).
            t.ok(w.delivered! >= 0.9 * 3 * w.rounds!, `${w.delivered} of ${3 * w.rounds!} packets came back through the stand-ins`);
          }
        }
      });

      t.test('what the warm-up counted is gone: the counters start at zero', async (t) => {
        for (const d of daemons) {
          const c = await freshStats(d);
          // Every one of these was counted thousands of times while warming up; dropNoRoute is left out, since
          // the kernel sends IPv6 packets of its own into a new TUN.
          for (const name of [
            'txPackets',
            'rxPackets',
            'txBytes',
            'rxBytes',
            'dropUnknownSender',
            'dropNotOurs',
            'dropOversize',
            'dropMalformed',
            'icmpTooBig',
          ] as const) {
            t.equal(c[name], 0, `${d.ns.slice(lab.prefix.length)}: ${name}`);
          }
          if (v.backend === 'vxlan') t.equal(c.dropWrongVni, 0, 'dropWrongVni');
        }
      });

      t.test('real traffic flows on the handed-back TUN, sockets and routes', async (t) => {
        pingBothWays(t);
        const bytes = 256 * 1024 * 1024;
        const { sent, received } = await tcpTransfer(a.ns, b.ns, '198.18.2.0', 7791, bytes);
        t.equal(received.bytes, bytes, 'every byte of 256 MiB arrived');
        t.equal(received.sha256, sent.sha256, 'and they are the same bytes');
        const c = await freshStats(daemons[0]);
        t.ok(c.txPackets > 0 && c.rxPackets > 0, `a sent ${c.txPackets} and received ${c.rxPackets} datagrams`);
      });
    });
  }

  t.test('warmUp false: no warm-up, traffic flows', async (t) => {
    const daemons = await start({ backend: 'vxlan', threads: 1, offloads: true, batch: 64, warmUp: false });
    t.teardown(async () => {
      for (const d of daemons) await d.stop();
    });
    for (const d of daemons) t.same(warmUps(d), [], 'no warm-up line');
    pingBothWays(t);
  });

  t.test('loopback down: the warm-up is skipped with a warning, start-up goes on', async (t) => {
    for (const h of [a, b]) lab.ip(h.ns, 'link', 'set', 'lo', 'down');
    const daemons = await start({ backend: 'vxlan', threads: 1, offloads: true, batch: 64 });
    t.teardown(async () => {
      for (const d of daemons) await d.stop();
      for (const h of [a, b]) lab.ip(h.ns, 'link', 'set', 'lo', 'up');
    });
    for (const d of daemons) {
      const lines = warmUps(d);
      t.equal(lines.length, 1, 'one line');
      t.equal(lines[0]?.event, 'warm-up skipped', `skipped: ${lines[0]?.reason}`);
      t.match(d.log(), /data-plane warm-up skipped: .*; the first packets run uncompiled code/, 'the warning says what it costs');
    }
    pingBothWays(t);
  });
}
