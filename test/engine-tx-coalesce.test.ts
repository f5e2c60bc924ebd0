// TX coalescing on real kernels: with offloads.udpGso, consecutive single datagrams to one peer of one length
// leave in one UDP_SEGMENT send. Bursts of numbered UDP datagrams from host a through tulle to b and c (equal
// sizes, mixed sizes, two flows to two peers taking turns), for both backends: every datagram arrives once,
// intact and in order per flow, whether the receiver has UDP GRO or takes the segments one by one; the
// txCoalesced counter moves with udpGso on and stays 0 with udpGso off or a batch of 1.
import t, { type Test } from 'tap';
import { fileURLToPath } from 'node:url';
import { freshStats, startDaemon, switchedHosts, type Daemon, type Host } from '../src/lab/topology.js';
import { trafficTools } from './helpers/tools.js';
import { rootLab } from './helpers/lab.js';

const MAC = ['02:00:5e:00:53:21', '02:00:5e:00:53:22', '02:00:5e:00:53:23'];
const SUBNET = ['198.18.1.0/24', '198.18.2.0/24', '198.18.3.0/24'];
const MTU = { udp: 1472, vxlan: 1450 } as const;
const PORT = 7800;
const COUNT = 3000;
// Datagrams sent back to back before a pause: what the TUN's queue holds while tulle catches up on a busy machine.
const BURST = 48;
const EQUAL = '1400';
// Runs that end on a shorter datagram (which may close a UDP_SEGMENT send), and longer ones that must start a new one.
const MIXED = '1400,1400,1400,700,1400,1400,1400,1400,100,1000,1000,1400,1200,1200,1200,64,1400,1400';

const loader = import.meta.resolve('@tapjs/typescript/import');
const burstTool = fileURLToPath(new URL('./helpers/udp-burst.ts', import.meta.url));

interface FlowReport {
  received: number;
  duplicates: number;
  outOfOrder: number;
  damaged: number;
}

const lab = rootLab(t);
if (lab) {
  const hosts = switchedHosts(lab, ['xa', 'xb', 'xc']);
  for (const h of hosts) lab.exec(h.ns, ['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0']);
  const [a, b, c] = hosts;
  const { ready, output, lastLine } = trafficTools(lab);
  const tool = (ns: string, ...args: string[]) =>
    lab.spawn(ns, [process.execPath, '--import', loader, burstTool, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });

  type Backend = 'udp' | 'vxlan';
  const overlay = (i: number) => SUBNET[i].replace('/24', '');
  const peer = (backend: Backend, i: number) =>
    backend === 'udp' ? { subnet: SUBNET[i], address: hosts[i].underlay } : { subnet: SUBNET[i], address: hosts[i].underlay, mac: MAC[i], udpChecksum: true };
  const tulle = (backend: Backend, host: Host, i: number, peers: number[], offloads: object, batch: number) =>
    startDaemon(lab, host.ns, {
      network: '198.18.0.0/16',
      subnet: SUBNET[i],
      underlay: { address: host.underlay },
      backend: backend === 'udp' ? { type: 'udp' } : { type: 'vxlan', mac: MAC[i] },
      tun: { name: 'tulle0', mtu: MTU[backend] },
      peers: peers.map((p) => peer(backend, p)),
      offloads,
      batch,
    });

  /** Sends COUNT datagrams of `sizes` from a to each of `to`, `chunk` at a time per flow; returns what each receiver saw. */
  const burst = async (to: Host[], sizes: string, chunk: number, size: number): Promise<{ sent: number[]; flows: Record<string, FlowReport>[] }> => {
    const receivers = to.map((h) => tool(h.ns, 'recv', overlay(hosts.indexOf(h)), String(PORT), sizes, '120'));
    const outputs = receivers.map((r) => output(r, 'udp-burst recv', 150_000));
    for (const o of outputs) o.catch(() => {}); // seen below
    await Promise.all(receivers.map((r) => ready(r)));
    const sender = tool(a.ns, 'send', sizes, String(COUNT), String(chunk), String(size), ...to.map((h) => `${overlay(hosts.indexOf(h))}:${PORT}`));
    const { sent } = lastLine(await output(sender, 'udp-burst send', 120_000)) as { sent: number[] };
    await new Promise((resolve) => setTimeout(resolve, 500)); // what is still on its way
    for (const r of receivers) r.stdin!.end();
    const reports = (await Promise.all(outputs)).map((o) => lastLine(o) as { flows: Record<string, FlowReport> });
    return { sent, flows: reports.map((r) => r.flows) };
  };

  /** Every datagram of flow `flow` arrived at its receiver exactly once, undamaged and in order. */
  const allArrived = (t: Test, report: Record<string, FlowReport>, flow: number, sent: number, what: string) => {
    const f = report[String(flow)] ?? { received: 0, duplicates: 0, outOfOrder: 0, damaged: 0 };
    t.same(f, { received: sent, duplicates: 0, outOfOrder: 0, damaged: 0 }, `${what}: all ${sent} arrived once, intact, in order`);
  };

  interface Case {
    name: string;
    /** a's offloads (the sender). */
    sender: object;
    /** b's and c's offloads (the receivers). */
    receivers: object;
    batch: number;
    /** Datagrams back to back: a batch of 1 reads one packet per wake-up, so it is given smaller bursts. */
    burst: number;
    coalesces: boolean;
  }
  const on = { tun: true, udpGso: true, udpGro: true };
  const cases: Case[] = [
    { name: 'every offload on (receivers with UDP GRO)', sender: on, receivers: on, batch: 64, burst: BURST, coalesces: true },
    {
      name: 'receivers without UDP GRO: the segments arrive one by one',
      sender: on,
      receivers: { ...on, udpGro: false },
      batch: 64,
      burst: BURST,
      coalesces: true,
    },
    { name: 'udpGso off on the sender', sender: { ...on, udpGso: false }, receivers: on, batch: 64, burst: BURST, coalesces: false },
    { name: 'a batch of 1', sender: on, receivers: on, batch: 1, burst: 8, coalesces: false },
  ];

  for (const backend of ['udp', 'vxlan'] as const) {
    for (const setup of cases) {
      t.test(`${backend}: ${setup.name}`, async (t) => {
        const da = await tulle(backend, a, 0, [1, 2], setup.sender, setup.batch);
        t.teardown(() => da.stop());
        const receivers: Daemon[] = [];
        for (const i of [1, 2]) {
          const d = await tulle(backend, hosts[i], i, [0], setup.receivers, setup.batch);
          t.teardown(() => d.stop());
          receivers.push(d);
        }
        // The sender's TUN ring holds 500 packets by default: enough for the bursts unless a busy machine stalls
        // tulle for longer than a few bursts take. What this test checks is what leaves tulle, not that ring.
        lab.ip(a.ns, 'link', 'set', 'tulle0', 'txqueuelen', '4096');
        t.match(da.log(), setup.sender === on ? /udpGso on/ : /udpGso off/, 'the sender reports udpGso as configured');
        const start = await freshStats(da);

        const equal = await burst([b], EQUAL, COUNT, setup.burst);
        allArrived(t, equal.flows[0], 0, COUNT, 'equal sizes');
        t.equal(equal.sent[0], COUNT);
        const afterEqual = await freshStats(da);
        const coalescedEqual = afterEqual.txCoalesced - start.txCoalesced;

        const mixed = await burst([b], MIXED, COUNT, setup.burst);
        allArrived(t, mixed.flows[0], 0, COUNT, 'mixed sizes');

        // Two flows to two peers, taking turns 8 datagrams at a time: runs end where the peer changes.
        const two = await burst([b, c], EQUAL, 8, setup.burst);
        allArrived(t, two.flows[0], 0, COUNT, 'to b, interleaved with c');
        allArrived(t, two.flows[1], 1, COUNT, 'to c, interleaved with b');
        t.same(Object.keys(two.flows[0]), ['0'], 'b saw only its flow');
        t.same(Object.keys(two.flows[1]), ['1'], 'c saw only its flow');

        const end = await freshStats(da);
        const coalesced = end.txCoalesced - start.txCoalesced;
        t.equal(end.sendErrors - start.sendErrors, 0, 'no send failed');
        if (setup.coalesces) {
          t.ok(coalescedEqual > 0, `equal sizes: ${coalescedEqual} of ${COUNT} datagrams left in coalesced UDP_SEGMENT sends`);
          t.ok(coalesced > coalescedEqual, `all bursts: ${coalesced} of ${4 * COUNT} coalesced`);
        } else {
          t.equal(coalesced, 0, 'nothing coalesced');
        }
        t.ok(end.txPackets - start.txPackets >= 4 * COUNT, 'the sender counted every datagram');
        for (const d of receivers) t.equal(d.process.exitCode, null, 'the receivers are still running');
      });
    }
  }
}
