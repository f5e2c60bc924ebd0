// The demo's pure parts: container addresses, host configurations, the
// throughput table's ratios and the --keep text.
import t from 'tap';
import { hostAddress } from '../src/lab/demo/containers.js';
import { daemonConfig } from '../src/lab/demo/daemons.js';
import { exploreText } from '../src/lab/demo/explore.js';
import { throughputTable } from '../src/lab/demo/throughput.js';
import type { Row } from '../src/bench/aggregate.js';

t.test('container addresses come from the host subnet', async (t) => {
  t.equal(hostAddress('198.18.166.0/24', 1), '198.18.166.1');
  t.equal(hostAddress('198.18.7.0/24', 3), '198.18.7.3');
  t.throws(() => hostAddress('198.18.0.0/20', 2), /expects \/24/);
});

t.test("host 1 is every other host's gossip peer", async (t) => {
  const hosts = [1, 2, 3].map((i) => ({ ns: `h${i}`, underlay: `192.0.2.${i}`, dev: 'eth0' }));
  const configs = hosts.map((_, i) => daemonConfig(hosts, i, 'k', `/s${i}`) as { store: { peers: string[] }; underlay: { address: string } });
  t.same(
    configs.map((c) => c.store.peers),
    [[], ['192.0.2.1'], ['192.0.2.1']],
  );
  t.same(
    configs.map((c) => c.underlay.address),
    ['192.0.2.1', '192.0.2.2', '192.0.2.3'],
  );
});

t.test('the table shows tulle rows as ratios to kernel vxlan, references without', async (t) => {
  const row = (system: string, kind: Row['kind'], tcp: number | null, udp: number | null, ratio?: [number | null, number | null]): Row => ({
    system,
    kind,
    samples: 1,
    tcp1_gbps: tcp,
    tcp_multi_gbps: null,
    udp_kpps: udp,
    udp_loss_pct: null,
    udp_small_kpps: null,
    udp_small_loss_pct: null,
    rtt_ms: 0.5,
    cpu_pct: null,
    cpu_idle_pct: null,
    cpu_rtt_pct: null,
    gbps_per_core: null,
    spread: {},
    generator_limited: [],
    not_measured: {},
    ratios: ratio
      ? {
          vs_kernel_vxlan: { tcp1_gbps: ratio[0], tcp_multi_gbps: null, udp_kpps: ratio[1], udp_small_kpps: null, rtt_ms: null },
          vs_underlay: { tcp1_gbps: null, tcp_multi_gbps: null, udp_kpps: null, udp_small_kpps: null, rtt_ms: null },
        }
      : undefined,
  });
  const text = throughputTable([
    row('kernel-vxlan', 'reference', 4, 30),
    row('tulle-udp', 'tulle', 2, 15, [0.5, 0.5]),
    row('tulle-host-gw', 'tulle', 3, null, [0.75, null]),
  ]);
  const lines = text.split('\n');
  t.match(lines[1], /^kernel-vxlan\s+4\.00\s+30\.0\s+0\.500$/);
  t.match(lines[2], /^tulle-udp\s+2\.00\s+15\.0\s+0\.500\s+0\.50×\s+0\.50×$/);
  t.match(lines[3], /^tulle-host-gw\s+3\.00\s+–\s+0\.500\s+0\.75×\s+–$/);
});

t.test('--keep says how to explore and how to take it down', async (t) => {
  const text = exploreText({
    hosts: [{ name: 'host1', ns: 'tulle-abc123-host1', stateDir: '/x/host1', log: '/x/host1/tulle.log' }],
    containers: [
      { name: 'h1c1', ns: 'tulle-abc123-h1c1', address: '198.18.1.2' },
      { name: 'h3c2', ns: 'tulle-abc123-h3c2', address: '198.18.3.3' },
    ],
  });
  t.match(text, 'ip netns exec tulle-abc123-h1c1 ip addr');
  t.match(text, 'tulle status --state-dir /x/host1');
  t.match(text, 'ping 198.18.3.3');
  t.match(text, /\n {2}tulle lab down$/);
});
