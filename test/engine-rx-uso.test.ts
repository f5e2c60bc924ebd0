// Receive-side UDP coalescing (USO) end to end on real kernels: two tulle hosts, bursts of UDP datagrams
// from a plain socket on one to a plain socket (no UDP_GRO) on the other. The receiving daemon is stopped
// (SIGSTOP) while a burst is sent, so it finds the whole burst in its socket at once: batches with runs to merge.
// Every datagram must arrive once, intact and in order within its flow, whether runs were merged or not;
// a datagram with a wrong UDP checksum inside a run must still be dropped by the kernel, and only it.
import t, { type Test } from 'tap';
import type { Lab } from '../src/lab/netns.js';
import { freshStats, startDaemon, switchedHosts, type Host } from '../src/lab/topology.js';
import { burstTool, type Received, type Sent } from './helpers/burst-tool.js';
import { rootLab } from './helpers/lab.js';

const MAC = ['', '02:00:5e:00:53:11', '02:00:5e:00:53:12'];
const PORT = { udp: 8285, vxlan: 8472 } as const;
const TARGET4 = '198.18.2.0';
const TARGET6 = '2001:db8:18:2::';

type Backend = keyof typeof PORT;
type Plan = [number, number][];

/** `count` datagrams of `flow`, `size` bytes each. */
const run = (flow: number, size: number, count: number): Plan => Array.from({ length: count }, () => [flow, size]);

// Equal sizes in one flow; then runs cut short by a smaller datagram; then two flows in chunks of 8 and strictly
// alternating (nothing to merge there, but order within each flow must hold).
const IPV4_PLAN: Plan = [
  ...run(0, 1400, 64),
  ...[1000, 1000, 1000, 1000, 1000, 600, 1000, 1000, 1000, 200, 1000, 1000, 1].map((size): [number, number] => [1, size]),
  ...[0, 1, 2, 3].flatMap((k) => [...run(2, 1200, 8), ...run(3, 900 + k, 8)]),
  ...Array.from({ length: 20 }, (_, i): [number, number] => [2 + (i % 2), 1100]),
];
const IPV6_PLAN: Plan = [...run(4, 1300, 40), ...run(4, 700, 3)];

function configOf(backend: Backend, own: Host, n: number, peer: Host, m: number, extra: object) {
  return {
    network: '198.18.0.0/16',
    subnet: `198.18.${n}.0/24`,
    ipv6Network: '2001:db8:18::/48',
    ipv6Subnet: `2001:db8:18:${n}::/64`,
    underlay: { address: own.underlay, port: PORT[backend] },
    backend: backend === 'udp' ? { type: 'udp' } : { type: 'vxlan', vni: 1, mac: MAC[n] },
    tun: { name: 'tulle0' },
    peers: [
      {
        subnet: `198.18.${m}.0/24`,
        ipv6Subnet: `2001:db8:18:${m}::/64`,
        address: peer.underlay,
        port: PORT[backend],
        ...(backend === 'vxlan' ? { mac: MAC[m] } : {}),
      },
    ],
    ...extra,
  };
}

/** The kernel's count of UDP datagrams it refused for a bad checksum, in `ns`. */
function csumErrors(lab: Lab, ns: string, v6: boolean): number {
  if (v6) return Number(/Udp6InCsumErrors\s+(\d+)/.exec(lab.exec(ns, ['cat', '/proc/net/snmp6']))?.[1]);
  const lines = lab
    .exec(ns, ['cat', '/proc/net/snmp'])
    .split('\n')
    .filter((l) => l.startsWith('Udp:'));
  const [names, values] = lines.map((l) => l.trim().split(/\s+/));
  return Number(values[names.indexOf('InCsumErrors')]);
}

const lab = rootLab(t);
if (lab) {
  const [a, b] = switchedHosts(lab, ['ua', 'ub']);
  const burst = burstTool(lab);

  /** Every datagram of the plan arrived once, intact and in order within its flow. */
  const allArrived = (t: Test, plan: Plan, sent: Sent, received: Received, what: string) => {
    const flows = [...new Set(plan.map(([flow]) => flow))];
    t.equal(received.bad, 0, `${what}: no datagram arrived altered`);
    for (const flow of flows) {
      const count = plan.filter(([f]) => f === flow).length;
      const got = received.flows[flow];
      t.same(
        got?.seqs,
        Array.from({ length: count }, (_, i) => i),
        `${what}: flow ${flow}: all ${count} arrived once, in order`,
      );
      t.equal(got?.sha256, sent.sent[flow].sha256, `${what}: flow ${flow}: the same bytes`);
    }
  };

  for (const backend of ['udp', 'vxlan'] as const) {
    const cases = [
      { name: 'every offload on (uso on)', extra: {}, uso: true },
      { name: 'offloads.uso off', extra: { offloads: { uso: false } }, uso: false },
      { name: 'batch 1', extra: { batch: 1 }, uso: undefined },
      { name: 'every offload off (no virtio-net header)', extra: { offloads: { tun: false, udpGso: false, udpGro: false, uso: false } }, uso: false },
    ];
    for (const c of cases) {
      t.test(`${backend} backend, ${c.name}`, async (t) => {
        const da = await startDaemon(lab, a.ns, configOf(backend, a, 1, b, 2, c.extra));
        const db = await startDaemon(lab, b.ns, configOf(backend, b, 2, a, 1, c.extra));
        t.teardown(async () => {
          await da.stop();
          await db.stop();
        });
        if (c.uso !== undefined)
          t.match(db.log(), c.uso ? /offloads: [^;]*uso on/ : /offloads: [^;]*uso off/, 'the start-up line says whether USO is in force');
        const before = await freshStats(db);

        for (const [address, plan, port] of [
          [TARGET4, IPV4_PLAN, 7801],
          [TARGET6, IPV6_PLAN, 7802],
        ] as const) {
          const { sent, received } = await burst(a.ns, b.ns, db, {
            address,
            port,
            expect: plan.length,
            send: ['send', address, String(port), JSON.stringify(plan)],
          });
          allArrived(t, plan, sent as Sent, received, `to ${address}`);
          t.equal(received.foreign, 0, 'nothing else arrived');
        }

        // Injected from the peer's address: one run of a flow with a wrong checksum in its middle.
        for (const v6 of [false, true]) {
          const plan = run(5, 1200, 16);
          const errors = csumErrors(lab, b.ns, v6);
          const spec = {
            backend,
            outerPort: PORT[backend],
            vni: 1,
            mac: MAC[1],
            src: v6 ? '2001:db8:18:1::' : '198.18.1.0',
            dst: v6 ? TARGET6 : TARGET4,
            srcPort: 40000,
            plan,
            corrupt: [7],
          };
          const port = v6 ? 7804 : 7803;
          const { received } = await burst(a.ns, b.ns, db, {
            address: spec.dst,
            port,
            expect: plan.length - 1,
            send: ['inject', b.underlay, String(port), JSON.stringify(spec)],
          });
          const what = `a wrong UDP checksum inside a run (IPv${v6 ? 6 : 4})`;
          t.same(
            received.flows[5]?.seqs,
            Array.from({ length: 16 }, (_, i) => i).filter((i) => i !== 7),
            `${what}: that datagram is not delivered, its neighbours are, in order`,
          );
          t.equal(received.bad, 0, `${what}: none arrived altered`);
          t.equal(csumErrors(lab, b.ns, v6) - errors, 1, `${what}: the kernel refused it for its checksum`);
        }

        const after = await freshStats(db);
        const mergedUdp = after.rxMergedUdp - before.rxMergedUdp;
        if (c.uso === true) t.ok(mergedUdp > 0, `runs were merged into USO super-packets (${mergedUdp})`);
        else if (c.uso === false) t.equal(mergedUdp, 0, 'no USO super-packets');
        t.ok(after.rxMerged - before.rxMerged >= mergedUdp, 'UDP super-packets are counted among all super-packets');
        t.equal(after.writeErrors, 0, 'no TUN write failed');
      });
    }
  }
}
