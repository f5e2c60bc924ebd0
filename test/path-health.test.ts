// Per-peer path health on real namespaces. Hosts a and b share a segment; c sits behind a router whose link to it
// has an MTU of 1300. On a, nftables drops 20% of the UDP datagrams from b. After a minute of probes (the gossip
// store's SWIM probes in one run, the echo probe of the static store in the other), a reads b's loss at 15–25%
// and c's near 0, b reads a's at 15–25% (its probes' datagrams to a are what a drops), and a reads c's path MTU
// as 1300 while b's is the segment's 1500. `tulle status --peers` and /metrics show the same.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { switchedHosts } from '../src/lab/topology.js';
import { controlRequest } from '../src/daemon/control-client.js';
import { socketPath } from '../src/daemon/state-dir.js';
import type { PeerHealthView } from '../src/daemon/path-health/peer-table.js';
import { rootLab } from './helpers/lab.js';
import { httpGet, startDaemon, tulle, type RunningDaemon } from './helpers/daemon.js';
import { faultDir, within } from './helpers/fault-lab.js';

/** How long the probes run before the readings: the loss window is a minute. */
const MEASURE_MS = 62_000;

const lab = rootLab(t);
if (lab) {
  const files = faultDir(lab, 'path-health');
  const [a, b] = switchedHosts(lab, ['pa', 'pb']);
  // The router: on the segment as 192.0.2.254, and on 198.51.100.0/24 toward c with an MTU of 1300 on that link.
  const sw = lab.prefix + 'sw';
  const r = lab.namespace('pr');
  const cNs = lab.namespace('pc');
  lab.veth(r, 'eth0', sw, 'p-pr');
  lab.ip(sw, 'link', 'set', 'p-pr', 'master', 'br0', 'up');
  lab.ip(r, 'addr', 'add', '192.0.2.254/24', 'dev', 'eth0');
  lab.ip(r, 'link', 'set', 'eth0', 'up');
  lab.veth(r, 'eth1', cNs, 'eth0');
  lab.ip(r, 'link', 'set', 'eth1', 'mtu', '1300', 'up');
  lab.ip(r, 'addr', 'add', '198.51.100.1/24', 'dev', 'eth1');
  lab.exec(r, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  lab.ip(cNs, 'link', 'set', 'eth0', 'mtu', '1300', 'up');
  lab.ip(cNs, 'addr', 'add', '198.51.100.2/24', 'dev', 'eth0');
  lab.ip(cNs, 'route', 'add', 'default', 'via', '198.51.100.1');
  for (const h of [a, b]) lab.ip(h.ns, 'route', 'add', '198.51.100.0/24', 'via', '192.0.2.254');
  const c = { ns: cNs, underlay: '198.51.100.2' };
  const hosts = [a, b, c];
  // 20% of what reaches a from b, one way only: a probe's round trip loses 20%, whichever end asks.
  lab.exec(a.ns, ['nft', '-f', '-'], {
    input: `table inet pathtest {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr ${b.underlay} meta l4proto udp numgen random mod 100 < 20 drop
  }
}
`,
  });
  const subnets = ['198.18.1.0/24', '198.18.2.0/24', '198.18.3.0/24'];
  const key = randomBytes(32).toString('base64');
  const peersOf = (stateDir: string) => controlRequest(socketPath(stateDir), 'peers') as Promise<PeerHealthView[]>;

  async function measure(t: Test, name: string, store: (i: number) => object): Promise<void> {
    const daemons: RunningDaemon[] = [];
    t.teardown(async () => {
      for (const d of daemons) if (d.child.exitCode === null) await d.stop();
    });
    for (const [i, h] of hosts.entries()) {
      const file = files.write(`${name}-${i}`, {
        network: '198.18.0.0/16',
        underlay: { address: h.underlay },
        backend: { type: 'udp' },
        metricsAddress: '127.0.0.1:9464',
        pathHealth: { intervalMs: 50 },
        ...store(i),
      });
      daemons.push(await startDaemon(lab!, h.ns, file, files.stateDir(`${name}-${i}`)));
    }
    const known = await within(20_000, async () => (await Promise.all(daemons.map((d) => peersOf(d.stateDir)))).every((p) => p.length === 2));
    t.ok(known !== undefined, 'each host has two peers to measure');
    const started = Date.now();
    await sleep(MEASURE_MS);
    const views = await Promise.all(daemons.map((d) => peersOf(d.stateDir)));
    const at = (i: number, j: number) => views[i].find((v) => v.peer === subnetsOf[j])!;
    const subnetsOf = await Promise.all(daemons.map(async (d) => (await d.status()).subnet));
    const pct = (v: PeerHealthView) => `${((v.lossRatio ?? NaN) * 100).toFixed(1)}% of ${v.probes}`;
    t.comment(`${name}: after ${((Date.now() - started) / 1000).toFixed(0)} s`);
    for (const [i, list] of views.entries())
      for (const v of list) t.comment(`  ${hosts[i].underlay} → ${v.address}: ${pct(v)}, srtt ${v.rttSmoothedMs?.toFixed(2)} ms, mtu ${v.pathMtu}`);
    for (const [i, j] of [
      [0, 1],
      [1, 0],
    ]) {
      const v = at(i, j);
      t.ok(v.lossRatio !== null && v.lossRatio >= 0.15 && v.lossRatio <= 0.25, `${hosts[i].underlay} reads ${hosts[j].underlay}'s loss at 15–25% (${pct(v)})`);
      t.ok(v.probes >= 300, `on enough probes (${v.probes})`);
    }
    for (const [i, j] of [
      [0, 2],
      [1, 2],
      [2, 0],
      [2, 1],
    ]) {
      const v = at(i, j);
      t.ok(v.lossRatio !== null && v.lossRatio < 0.05, `${hosts[i].underlay} reads ${hosts[j].underlay}'s loss near 0 (${pct(v)})`);
    }
    for (const [i, j] of [
      [0, 1],
      [0, 2],
      [2, 0],
    ]) {
      const v = at(i, j);
      t.ok(
        v.rttMs !== null && v.rttSmoothedMs !== null && v.lastSeen !== null,
        `${hosts[i].underlay} → ${hosts[j].underlay}: RTT last and smoothed, last seen`,
      );
    }
    t.equal(at(0, 2).pathMtu, 1300, `a reads c's path MTU as the router's 1300`);
    t.equal(at(1, 2).pathMtu, 1300, `so does b`);
    t.ok((at(0, 1).pathMtu ?? 0) > 1400, `a reads b's (on the segment) as higher: ${at(0, 1).pathMtu}`);
    t.equal(at(2, 0).pathMtu, 1300, `c's own link caps its path to a at 1300`);

    const table = tulle(a.ns, ['status', '--peers', '--state-dir', daemons[0].stateDir]);
    t.equal(table.status, 0, 'tulle status --peers');
    t.match(table.stdout, /^PEER\s+ADDRESS\s+RTT MS\s+SRTT MS\s+LOSS 1M/m, 'a table');
    t.match(table.stdout, new RegExp(`^${subnetsOf[2].replace(/[./]/g, '\\$&')}\\s+198\\.51\\.100\\.2\\s.*\\s1300\\s`, 'm'), "c's row with its path MTU");
    const json = JSON.parse(tulle(a.ns, ['status', '--peers', '--json', '--state-dir', daemons[0].stateDir]).stdout) as PeerHealthView[];
    t.same(json.map((v) => v.peer).sort(), [subnetsOf[1], subnetsOf[2]].sort(), '--json: the same peers');
    const metrics = httpGet(lab!, a.ns, 'http://127.0.0.1:9464/metrics').body;
    const loss = new RegExp(`^tulle_peer_loss_ratio\\{peer="${subnetsOf[1]}"\\} (\\S+)$`, 'm').exec(metrics);
    t.ok(loss !== null && Number(loss[1]) >= 0.15 && Number(loss[1]) <= 0.25, `/metrics: b's loss ratio (${loss?.[1]})`);
    t.match(metrics, new RegExp(`^tulle_peer_path_mtu_bytes\\{peer="${subnetsOf[2]}"\\} 1300$`, 'm'), "/metrics: c's path MTU");
    t.match(metrics, new RegExp(`^tulle_peer_rtt_smoothed_seconds\\{peer="${subnetsOf[2]}"\\} \\S+$`, 'm'), "/metrics: c's smoothed RTT");
    for (const d of daemons) t.equal(await d.stop(), 0, `${d.ns} stops cleanly`);
  }

  t.test('gossip store: from the SWIM probes', async (t) => {
    await measure(t, 'gossip', (i) => ({
      // Faster probes than the presets' so that a minute holds enough of them: each peer 10 a second.
      store: { type: 'gossip', key, preset: 'local', peers: i === 0 ? [] : [a.underlay], probeIntervalMs: 50, probeTimeoutMs: 35 },
    }));
  });

  t.test('static store: from the echo probe', async (t) => {
    await measure(t, 'static', (i) => ({
      store: { type: 'static' },
      subnet: subnets[i],
      peers: hosts.flatMap((h, j) => (j === i ? [] : [{ subnet: subnets[j], address: h.underlay }])),
    }));
  });
}
