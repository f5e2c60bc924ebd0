// The low-latency mode (busyPollMicroseconds) on real kernels: the data plane still carries every packet, with
// one thread and with two, with offloads and batching and without; a window longer than the gaps between
// packets keeps the thread polling; and when no packets flow it sleeps, so an idle host pays nothing for it.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSeconds } from '../src/bench/counters.js';
import { startDaemon, switchedHosts } from '../src/lab/topology.js';
import { trafficTools } from './helpers/tools.js';
import { rootLab } from './helpers/lab.js';

const MTU = 1450;
const SPIN_US = 200;
/** Longer than the loop's 50 ms waits and than the gap between the pings below. */
const LONG_SPIN_US = 200_000;

const lab = rootLab(t);
if (lab) {
  const [a, b] = switchedHosts(lab, ['a', 'b']);
  const config = (own: typeof a, subnet: string, peer: typeof a, peerSubnet: string, variant: Variant, spinUs = SPIN_US) => ({
    network: '198.18.0.0/16',
    subnet,
    underlay: { address: own.underlay },
    backend: { type: 'vxlan', vni: 1, mac: own === a ? '02:00:00:00:01:01' : '02:00:00:00:01:02' },
    tun: { name: 'tulle0', mtu: MTU },
    peers: [{ subnet: peerSubnet, address: peer.underlay, mac: own === a ? '02:00:00:00:01:02' : '02:00:00:00:01:01', udpChecksum: true }],
    offloads: { tun: variant.offloads, udpGso: variant.offloads, udpGro: variant.offloads },
    batch: variant.batch,
    threads: variant.threads,
    busyPollMicroseconds: spinUs,
  });
  const { tcpTransfer } = trafficTools(lab);

  interface Variant {
    threads: 1 | 2;
    offloads: boolean;
    batch: number;
  }
  const variants: Variant[] = [
    { threads: 1, offloads: true, batch: 64 },
    { threads: 2, offloads: true, batch: 64 },
    { threads: 1, offloads: false, batch: 1 },
  ];
  for (const variant of variants) {
    const name = `${variant.threads === 1 ? 'one thread' : 'two threads'}, offloads ${variant.offloads ? 'on' : 'off'}, batch ${variant.batch}`;
    t.test(`busy-polling ${SPIN_US} µs, ${name}`, async (t) => {
      const da = await startDaemon(lab, a.ns, config(a, '198.18.1.0/24', b, '198.18.2.0/24', variant));
      const db = await startDaemon(lab, b.ns, config(b, '198.18.2.0/24', a, '198.18.1.0/24', variant));
      t.teardown(async () => {
        await da.stop();
        await db.stop();
      });

      t.test('the daemons say the mode is on', async (t) => {
        for (const d of [da, db]) t.match(d.log(), new RegExp(`; busy-poll ${SPIN_US} µs`));
      });

      t.test('ping across the overlay, both ways', async (t) => {
        t.match(lab.exec(a.ns, ['ping', '-c', '5', '-i', '0.2', '-W', '2', '198.18.2.0'], { allowFailure: true }), / 0% packet loss/, 'a → b');
        t.match(lab.exec(b.ns, ['ping', '-c', '5', '-i', '0.2', '-W', '2', '198.18.1.0'], { allowFailure: true }), / 0% packet loss/, 'b → a');
      });

      t.test('a 256 MiB TCP transfer arrives byte for byte', async (t) => {
        const bytes = 256 * 1024 * 1024;
        const { sent, received } = await tcpTransfer(a.ns, b.ns, '198.18.2.0', 7790, bytes);
        t.equal(received.bytes, bytes, 'every byte arrived');
        t.equal(received.sha256, sent.sha256, 'and they are the same bytes');
      });

      t.test('idle, the data plane sleeps: the daemons use almost no CPU', async (t) => {
        await sleep(500);
        for (const p of await cpuPercent([da.process.pid!, db.process.pid!], () => sleep(3000))) {
          t.ok(p < 20, `${p}% of a core while idle (a spinning thread would use ~100%)`);
        }
      });
    });
  }

  t.test(`busy-polling ${LONG_SPIN_US / 1000} ms: pings 50 ms apart keep the threads polling, and idle they sleep`, async (t) => {
    const variant: Variant = { threads: 1, offloads: true, batch: 64 };
    const da = await startDaemon(lab, a.ns, config(a, '198.18.1.0/24', b, '198.18.2.0/24', variant, LONG_SPIN_US));
    const db = await startDaemon(lab, b.ns, config(b, '198.18.2.0/24', a, '198.18.1.0/24', variant, LONG_SPIN_US));
    t.teardown(async () => {
      await da.stop();
      await db.stop();
    });
    const pids = [da.process.pid!, db.process.pid!];
    // Each ping's request and reply reopen both daemons' windows before they close: a thread that slept
    // between pings would use a few percent of a core here, one that polls nearly all of one.
    const pinging = await cpuPercent(pids, async () => {
      const out = lab.exec(a.ns, ['ping', '-c', '40', '-i', '0.05', '-W', '2', '198.18.2.0'], { allowFailure: true });
      t.match(out, / 0% packet loss/, '40 pings a → b, none lost');
    });
    for (const p of pinging) t.ok(p > 40, `${p}% of a core while pings come every 50 ms`);
    // The window runs from the last packet, not from each wait: 200 ms after the last ping the threads sleep,
    // however often their loops wake to look at the stop flag.
    await sleep(500);
    for (const p of await cpuPercent(pids, () => sleep(3000))) t.ok(p < 20, `${p}% of a core once the pings stopped`);
  });
}

/** Each process's CPU while `work` runs, in % of one core (one decimal). */
async function cpuPercent(pids: number[], work: () => Promise<unknown>): Promise<number[]> {
  const before = pids.map(cpuSeconds);
  const start = performance.now();
  await work();
  const wall = (performance.now() - start) / 1000;
  return pids.map((pid, i) => Math.round(((cpuSeconds(pid) - before[i]) / wall) * 1000) / 10);
}
