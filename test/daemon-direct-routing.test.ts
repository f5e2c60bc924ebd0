// vxlan with backend.directRouting (flannel's DirectRouting): hosts 1 and 2
// share a bridge, host 3 sits behind a router namespace on another underlay
// subnet. 1↔2 traffic takes a kernel route past the TUN (the engines count
// nothing for it), 1↔3 goes through vxlan (they do); `tulle status` and
// /metrics say which path each peer takes. Then host 3 joins the bridge and
// the underlay routes change: its path flips to direct within the re-check
// interval, while traffic keeps flowing. On stop the direct routes go.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { container, switchedHosts } from '../src/lab/topology.js';
import type { StatusView } from '../src/daemon/status-view.js';
import { RECHECK_INTERVAL_MS } from '../src/daemon/direct-routes.js';
import { rootLab } from './helpers/lab.js';
import { httpGet, startDaemon, tulle, type RunningDaemon } from './helpers/daemon.js';
import { faultDir, within } from './helpers/fault-lab.js';
import { trafficTools } from './helpers/tools.js';

const lab = rootLab(t);
if (lab) {
  const [h1, h2] = switchedHosts(lab, ['dr1', 'dr2']);
  // Host 3: 198.51.100.3 behind a router that also sits on the bridge as 192.0.2.254.
  const sw = `${lab.prefix}sw`; // switchedHosts' switch namespace
  const router = lab.namespace('drr');
  const h3 = lab.namespace('dr3');
  lab.veth(router, 'eth0', sw, 'p-drr');
  lab.ip(sw, 'link', 'set', 'p-drr', 'master', 'br0', 'up');
  lab.ip(router, 'addr', 'add', '192.0.2.254/24', 'dev', 'eth0');
  lab.ip(router, 'link', 'set', 'eth0', 'up');
  lab.veth(router, 'eth1', h3, 'eth0');
  lab.ip(router, 'addr', 'add', '198.51.100.1/24', 'dev', 'eth1');
  lab.ip(router, 'link', 'set', 'eth1', 'up');
  lab.exec(router, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  lab.ip(h3, 'addr', 'add', '198.51.100.3/24', 'dev', 'eth0');
  lab.ip(h3, 'link', 'set', 'eth0', 'up');
  lab.ip(h3, 'route', 'add', 'default', 'via', '198.51.100.1');
  for (const h of [h1, h2]) lab.ip(h.ns, 'route', 'add', '198.51.100.0/24', 'via', '192.0.2.254');

  const hosts = {
    h1: { ns: h1.ns, subnet: '198.18.1.0/24', address: '192.0.2.1', mac: '02:00:5e:00:53:01' },
    h2: { ns: h2.ns, subnet: '198.18.2.0/24', address: '192.0.2.2', mac: '02:00:5e:00:53:02' },
    h3: { ns: h3, subnet: '198.18.3.0/24', address: '198.51.100.3', mac: '02:00:5e:00:53:03' },
  };
  const c1 = container(lab, h1, 'drc1', '198.18.1.2', '198.18.1.1');
  const c2 = container(lab, h2, 'drc2', '198.18.2.2', '198.18.2.1');
  const c3 = container(lab, { ns: h3, underlay: '198.51.100.3', dev: 'eth0' }, 'drc3', '198.18.3.2', '198.18.3.1');
  const files = faultDir(lab, 'direct-routing');
  const config = (name: keyof typeof hosts, extra: object = {}) => ({
    network: '198.18.0.0/16',
    subnet: hosts[name].subnet,
    underlay: { address: hosts[name].address },
    backend: { type: 'vxlan', mac: hosts[name].mac, directRouting: true },
    peers: Object.entries(hosts)
      .filter(([n]) => n !== name)
      .map(([, p]) => ({ subnet: p.subnet, address: p.address, mac: p.mac })),
    ...extra,
  });
  const { tcpTransfer } = trafficTools(lab);
  const ping = (ns: string, to: string, count = 3) => lab.exec(ns, ['ping', '-c', String(count), '-i', '0.2', '-W', '2', to], { allowFailure: true });
  const status = (name: keyof typeof hosts) =>
    JSON.parse(tulle(hosts[name].ns, ['status', '--json', '--state-dir', files.stateDir(name)]).stdout) as StatusView;
  const pathTo = (s: StatusView, subnet: string) => s.paths?.find((p) => p.subnet === subnet)?.path;
  const packets = (s: StatusView) => (s.counters?.txPackets ?? 0) + (s.counters?.rxPackets ?? 0);

  t.test('same segment direct, across the router vxlan; the path follows the underlay', async (t) => {
    const daemons: RunningDaemon[] = [];
    t.teardown(async () => {
      for (const d of daemons) await d.stop();
    });
    for (const name of ['h1', 'h2', 'h3'] as const) {
      const extra = name === 'h1' ? { metricsAddress: '127.0.0.1:9471' } : {};
      daemons.push(await startDaemon(lab, hosts[name].ns, files.write(name, config(name, extra)), files.stateDir(name)));
    }
    const [d1, d2, d3] = daemons;

    const s1 = status('h1');
    t.equal(pathTo(s1, '198.18.2.0/24'), 'direct', 'h1 → h2: direct');
    t.equal(pathTo(s1, '198.18.3.0/24'), 'vxlan', 'h1 → h3: vxlan');
    t.match(s1.paths?.find((p) => p.subnet === '198.18.3.0/24')?.reason, /goes via 192\.0\.2\.254/);
    t.equal(pathTo(status('h2'), '198.18.1.0/24'), 'direct', 'h2 → h1: direct');
    t.equal(pathTo(status('h3'), '198.18.1.0/24'), 'vxlan', 'h3 → h1: vxlan');
    t.match(lab.ip(h1.ns, 'route', 'show', 'exact', '198.18.2.0/24'), /via 192\.0\.2\.2 dev eth0 proto 201/, 'the kernel route on h1');
    t.equal(lab.ip(h1.ns, 'route', 'show', 'exact', '198.18.3.0/24').trim(), '', 'none for h3: the overlay route into the TUN carries it');
    const human = tulle(h1.ns, ['status', '--state-dir', files.stateDir('h1')]).stdout;
    t.match(human, /paths +1 direct, 1 vxlan/);
    t.match(human, /path +198\.18\.2\.0\/24 \(192\.0\.2\.2\) direct: on-link: 192\.0\.2\.2 on eth0/);
    t.match(human, /vxlan, port 4789, vni 1, vtep 02:00:5e:00:53:01, direct routing/);
    const metrics = httpGet(lab, h1.ns, 'http://127.0.0.1:9471/metrics').body;
    t.match(metrics, /tulle_peer_path\{peer="198\.18\.2\.0\/24",address="192\.0\.2\.2",path="direct"\} 1/);
    t.match(metrics, /tulle_peer_path\{peer="198\.18\.3\.0\/24",address="198\.51\.100\.3",path="vxlan"\} 1/);
    t.match(metrics, /tulle_peer_paths\{path="direct"\} 1/);
    t.equal(s1.routes?.foreign.length, 0, 'the route check takes the direct route as tulle’s own');

    // 1↔2: nothing through either engine.
    const before1 = packets(status('h1'));
    const before2 = packets(status('h2'));
    t.match(ping(c1, '198.18.2.2'), / 0% packet loss/, 'container 1 → container 2');
    const a = await tcpTransfer(c2, c1, '198.18.1.2', 7801, 8 << 20);
    t.equal(a.received.sha256, a.sent.sha256, '8 MiB 2 → 1, the same bytes');
    t.equal(packets(status('h1')) - before1, 0, "h1's engine saw none of it");
    t.equal(packets(status('h2')) - before2, 0, "h2's engine saw none of it");

    // 1↔3: through the engines.
    t.match(ping(c1, '198.18.3.2'), / 0% packet loss/, 'container 1 → container 3');
    const b = await tcpTransfer(c3, c1, '198.18.1.2', 7802, 4 << 20);
    t.equal(b.received.sha256, b.sent.sha256, '4 MiB 3 → 1, the same bytes');
    t.ok(packets(status('h1')) - before1 > 1000, "h1's engine carried it");

    // Host 3 joins the bridge, and the underlay routes say so: 198.51.100.0/24 and 192.0.2.0/24 on-link.
    lab.veth(h3, 'eth1', sw, 'p-dr3b');
    lab.ip(sw, 'link', 'set', 'p-dr3b', 'master', 'br0', 'up');
    lab.ip(h3, 'link', 'set', 'eth1', 'up');
    const pinger = lab.spawn(c1, ['ping', '-i', '0.05', '-c', String(Math.round((RECHECK_INTERVAL_MS * 4) / 50)), '-W', '1', '198.18.3.2']);
    let pingOut = '';
    pinger.stdout!.on('data', (chunk: Buffer) => (pingOut += chunk.toString()));
    const pingDone = new Promise<void>((resolve) => pinger.once('exit', () => resolve()));
    await sleep(500);
    lab.ip(h3, 'route', 'add', '192.0.2.0/24', 'dev', 'eth1');
    for (const h of [h1, h2]) lab.ip(h.ns, 'route', 'replace', '198.51.100.0/24', 'dev', 'eth0');
    const flipped = await within(
      RECHECK_INTERVAL_MS * 2 + 5_000,
      () => pathTo(status('h1'), '198.18.3.0/24') === 'direct' && pathTo(status('h3'), '198.18.1.0/24') === 'direct',
    );
    t.ok(flipped !== undefined, `h1 and h3 take the direct path to each other (after ${flipped} ms)`);
    t.match(lab.ip(h1.ns, 'route', 'show', 'exact', '198.18.3.0/24'), /via 198\.51\.100\.3 dev eth0 proto 201/);
    await pingDone;
    const sent = Number(/(\d+) packets transmitted/.exec(pingOut)?.[1]);
    const received = Number(/(\d+) received/.exec(pingOut)?.[1]);
    t.ok(sent > 0 && sent - received <= 10, `the switch lost at most 10 pings at 50 ms (${received} of ${sent} answered)`);
    t.match(d1.log(), /peer 198\.18\.3\.0\/24 \(198\.51\.100\.3\): vxlan → direct/, 'the log names the change');
    const before = packets(status('h1'));
    const c = await tcpTransfer(c3, c1, '198.18.1.2', 7803, 4 << 20);
    t.equal(c.received.sha256, c.sent.sha256, '4 MiB 3 → 1 after the switch');
    t.equal(packets(status('h1')) - before, 0, "now h1's engine sees none of h3's traffic");

    for (const d of [d1, d2, d3]) t.equal(await d.stop(), 0, 'stops cleanly');
    daemons.length = 0;
    t.equal(lab.ip(h1.ns, 'route', 'show', 'proto', '201').trim(), '', 'the direct routes are gone after stop');
  });
}
