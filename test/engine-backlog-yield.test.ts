// Backlog yields end to end on real kernels (src/engine/backlog-yield.ts): the sending host's daemon is stopped
// (SIGSTOP) while a plain socket sends a burst into its TUN, so when it goes on, its TUN holds a backlog and its
// reads come back full. It must then yield (counted in txYields), never more often than it read full batches,
// never with backlogYieldMicroseconds 0, and every datagram must still arrive once, intact and in order.
import t from 'tap';
import { freshStats, startDaemon, switchedHosts, type Host } from '../src/lab/topology.js';
import { burstTool } from './helpers/burst-tool.js';
import { rootLab } from './helpers/lab.js';

const MAC = ['', '02:00:5e:00:53:21', '02:00:5e:00:53:22'];
const TARGET = '198.18.2.0';
const PORT = 5301;
/** Datagrams in the burst: fewer than the TUN's queue (500), so none is dropped there while the daemon is stopped. */
const COUNT = 320;
const SIZE = 1000;

function configOf(backend: 'udp' | 'vxlan', own: Host, n: number, peer: Host, m: number, extra: object) {
  return {
    network: '198.18.0.0/16',
    subnet: `198.18.${n}.0/24`,
    underlay: { address: own.underlay },
    backend: backend === 'udp' ? { type: 'udp' } : { type: 'vxlan', vni: 1, mac: MAC[n] },
    tun: { name: 'tulle0' },
    peers: [{ subnet: `198.18.${m}.0/24`, address: peer.underlay, ...(backend === 'vxlan' ? { mac: MAC[m] } : {}) }],
    ...extra,
  };
}

const lab = rootLab(t);
if (lab) {
  const [a, b] = switchedHosts(lab, ['ya', 'yb']);
  const burst = burstTool(lab);
  const plan = JSON.stringify(Array.from({ length: COUNT }, () => [0, SIZE]));

  const cases = [
    { name: 'vxlan, the default (500 µs)', backend: 'vxlan', extra: {}, batch: 64, yields: true, line: /backlog yield every 500 µs at most/ },
    {
      name: 'vxlan, backlogYieldMicroseconds 0',
      backend: 'vxlan',
      extra: { backlogYieldMicroseconds: 0 },
      batch: 64,
      yields: false,
      line: /backlog yield off/,
    },
    {
      name: 'udp, batch 1, two threads, every offload off',
      backend: 'udp',
      extra: { batch: 1, threads: 2, offloads: { tun: false, udpGso: false, udpGro: false, uso: false } },
      batch: 1,
      yields: true,
      line: /backlog yield every 500 µs at most/,
    },
  ] as const;

  for (const c of cases) {
    t.test(c.name, async (t) => {
      const da = await startDaemon(lab, a.ns, configOf(c.backend, a, 1, b, 2, c.extra));
      const db = await startDaemon(lab, b.ns, configOf(c.backend, b, 2, a, 1, c.extra));
      t.teardown(async () => {
        await da.stop();
        await db.stop();
      });
      t.match(da.log(), c.line, 'the start-up line says how often a thread with a backlog yields');
      const before = await freshStats(da);
      // The burst waits in the sending host's TUN while its daemon is stopped.
      const { sent, received } = await burst(a.ns, b.ns, da, { address: TARGET, port: PORT, expect: COUNT, send: ['send', TARGET, String(PORT), plan] });
      const after = await freshStats(da);

      t.equal(received.bad, 0, 'no datagram arrived altered');
      t.same(
        received.flows[0]?.seqs,
        Array.from({ length: COUNT }, (_, i) => i),
        `all ${COUNT} datagrams arrived once, in order`,
      );
      t.equal(received.flows[0]?.sha256, sent.sent[0].sha256, 'with the bytes that were sent');
      const yields = after.txYields - before.txYields;
      // Full batches the packets it sent could have filled (the TUN may hold a stray packet of the host's own).
      const full = Math.floor((after.txPackets - before.txPackets) / c.batch);
      t.ok(full >= Math.floor(COUNT / c.batch), `it sent the burst (${after.txPackets - before.txPackets} packets)`);
      if (c.yields) {
        t.ok(yields >= 1, `the thread yielded after a full batch (${yields} times)`);
        t.ok(yields <= full, `no more often than it read full batches (${yields} ≤ ${full})`);
      } else {
        t.equal(yields, 0, 'with backlogYieldMicroseconds 0 it never yields');
      }
      t.equal(after.dropMalformed + after.sendErrors + after.encapErrors, before.dropMalformed + before.sendErrors + before.encapErrors, 'no drops or errors');
    });
  }
}
