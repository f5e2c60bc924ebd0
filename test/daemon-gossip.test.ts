// Three tulle hosts whose leases come from gossip alone: each picks a free
// subnet, the leases converge, traffic crosses the vxlan overlay, and a host
// that leaves gracefully gives its lease back.
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, type RunningDaemon, httpGet } from './helpers/daemon.js';

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-daemon-gossip-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const hosts = switchedHosts(lab, ['ga', 'gb', 'gc']);
  const key = randomBytes(32).toString('base64');
  const ping = (ns: string, to: string) => lab.exec(ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', to], { allowFailure: true });
  const routed = async (d: RunningDaemon) => (await d.leases()).filter((l) => l.state === 'routed').length;

  t.test('three hosts on leases from gossip', async (t) => {
    const daemons: RunningDaemon[] = [];
    t.teardown(async () => {
      for (const d of daemons) if (d.child.exitCode === null) await d.stop();
    });
    const started = Date.now();
    for (const [i, h] of hosts.entries()) {
      const file = join(dir, `host-${i}.yaml`);
      writeFileSync(
        file,
        stringify({
          network: '198.18.0.0/16',
          underlay: { address: h.underlay },
          backend: { type: 'vxlan' },
          store: { type: 'gossip', key, preset: 'local', peers: i === 0 ? [] : [hosts[0].underlay] },
          stateDir: join(dir, `state-${i}`),
          metricsAddress: '127.0.0.1:9464',
        }),
      );
      daemons.push(await startDaemon(lab, h.ns, file, join(dir, `state-${i}`)));
    }
    let counts: number[] = [];
    for (let i = 0; i < 100; i++) {
      counts = await Promise.all(daemons.map(routed));
      if (counts.every((n) => n === 2)) break;
      await sleep(100);
    }
    t.same(
      counts,
      [2, 2, 2],
      `the leases converge: each host routes to the two others (${((Date.now() - started) / 1000).toFixed(1)} s after the first started)`,
    );
    const subnets = await Promise.all(daemons.map(async (d) => (await d.status()).subnet));
    t.equal(new Set(subnets).size, 3, `three different subnets (${subnets.join(', ')})`);
    // Gossip health in /metrics and /healthz (the metrics address is the namespace's own loopback).
    const get = (ns: string, url: string) => httpGet(lab, ns, url);
    const metrics = get(hosts[1].ns, 'http://127.0.0.1:9464/metrics').body;
    t.match(metrics, /^tulle_gossip_members\{state="alive"\} 3$/m, '/metrics: three members alive');
    t.match(metrics, /^tulle_gossip_datagrams_total\{direction="rx"\} [1-9]\d*$/m, '/metrics: gossip traffic counted');
    t.match(metrics, /^tulle_gossip_dropped_total\{reason="badMac"\} 0$/m, '/metrics: drops by reason');
    t.equal(get(hosts[1].ns, 'http://127.0.0.1:9464/healthz').status, 200, '/healthz: healthy');
    const address = (s: string) => s.split('/')[0];
    for (const [i, h] of hosts.entries()) {
      t.match(ping(h.ns, address(subnets[(i + 1) % 3])), / 0% packet loss/, `${h.underlay} → ${subnets[(i + 1) % 3]}`);
    }
    // A graceful leave releases the lease: the others stop routing to it.
    t.equal(await daemons[2].stop(), 0, 'host c stops cleanly');
    for (let i = 0; i < 100 && (await Promise.all(daemons.slice(0, 2).map(routed))).some((n) => n !== 1); i++) await sleep(100);
    t.same(await Promise.all(daemons.slice(0, 2).map(routed)), [1, 1], 'its lease is released: a and b route only to each other');
    t.match(ping(hosts[0].ns, address(subnets[1])), / 0% packet loss/, 'and still reach each other');
  });
}
