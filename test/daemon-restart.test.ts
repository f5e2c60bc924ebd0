// A restart keeps the host's subnet and its VTEP MAC, for every store (static
// without a fixed subnet, gossip with and without seeds, etcd) and for both
// ways a daemon goes away: kill -9 and a clean SIGTERM. The state dir has one
// owner (src/daemon/state-dir.ts) and one format, written atomically.
import t, { type Test } from 'tap';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { LabEtcd } from './helpers/lab-etcd.js';

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-daemon-restart-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const [s1, g1, g2, g3, e1, etcdHost] = switchedHosts(lab, ['ks', 'kg1', 'kg2', 'kg3', 'ke', 'ketcd']);
  const key = randomBytes(32).toString('base64');
  const write = (name: string, config: object) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, stringify({ network: '198.18.0.0/16', backend: { type: 'vxlan' }, logLevel: 'info', ...config, stateDir: join(dir, `state-${name}`) }));
    return file;
  };
  const routedCount = async (d: RunningDaemon) => (await d.leases()).filter((l) => l.state === 'routed').length;
  async function waitRouted(daemons: RunningDaemon[], n: number): Promise<number[]> {
    let counts: number[] = [];
    for (let i = 0; i < 300; i++) {
      counts = await Promise.all(daemons.map(routedCount));
      if (counts.every((c) => c === n)) break;
      await sleep(100);
    }
    return counts;
  }
  interface Identity {
    subnet: string;
    mac: string | undefined;
  }
  const identity = async (d: RunningDaemon): Promise<Identity> => {
    const s = await d.status();
    return { subnet: s.subnet, mac: s.backend.vtepMac };
  };

  /**
   * Stops `d` with `signal`, starts it again from the same file and state dir, and checks that it came back
   * with `before`'s subnet and MAC and is still running a few seconds later (no lease lost to a peer).
   */
  async function restart(t: Test, d: RunningDaemon, file: string, signal: NodeJS.Signals, before: Identity): Promise<RunningDaemon> {
    const code = await d.stop(signal);
    t.equal(code, signal === 'SIGKILL' ? null : 0, `${signal} ends it${signal === 'SIGKILL' ? '' : ' cleanly'}`);
    const again = await startDaemon(lab!, d.ns, file, d.stateDir);
    const after = await identity(again);
    t.equal(after.subnet, before.subnet, `after ${signal}: the same subnet (${before.subnet})`);
    t.equal(after.mac, before.mac, `after ${signal}: the same VTEP MAC (${before.mac})`);
    t.match(again.log(), /kept from the last run/, 'the start-up line says the lease was kept');
    const saved = JSON.parse(readFileSync(join(d.stateDir, 'lease.json'), 'utf8')) as { format: number; lease: { subnet: string; vtepMac: string } };
    t.same([saved.format, saved.lease.subnet, saved.lease.vtepMac], [1, before.subnet, before.mac], 'lease.json: one format, the same lease');
    return again;
  }

  t.test('static store without a fixed subnet', async (t) => {
    const file = write('static', { underlay: { address: s1.underlay } });
    let d = await startDaemon(lab, s1.ns, file, join(dir, 'state-static'));
    t.teardown(() => d.stop());
    const first = await identity(d);
    for (const signal of ['SIGKILL', 'SIGTERM'] as const) d = await restart(t, d, file, signal, first);
  });

  // Three hosts, as the demo runs them: g1 with no seeds, g2 and g3 with g1 as their seed. A restart of g1
  // must find g2 and g3 again although it knows nobody and they know each other (they retry their seed).
  t.test('gossip: a host with no seeds and two hosts with it as their seed', async (t) => {
    const gossip = (peers: string[]) => ({ type: 'gossip', key, preset: 'local', peers });
    const files = [
      write('g1', { underlay: { address: g1.underlay }, store: gossip([]) }),
      write('g2', { underlay: { address: g2.underlay }, store: gossip([g1.underlay]) }),
      write('g3', { underlay: { address: g3.underlay }, store: gossip([g1.underlay]) }),
    ];
    const hosts = [g1, g2, g3];
    const d: RunningDaemon[] = [];
    for (const [i, h] of hosts.entries()) d.push(await startDaemon(lab, h.ns, files[i], join(dir, `state-g${i + 1}`)));
    t.teardown(async () => {
      for (const x of d) await x.stop();
    });
    t.same(await waitRouted(d, 2), [2, 2, 2], 'each host routes to the two others');
    const names = ['without seeds', 'with a seed'];
    for (const i of [0, 1]) {
      const first = await identity(d[i]);
      for (const signal of ['SIGKILL', 'SIGTERM', 'SIGKILL'] as const) {
        const at = Date.now();
        d[i] = await restart(t, d[i], files[i], signal, first);
        t.same(
          await waitRouted(d, 2),
          [2, 2, 2],
          `the host ${names[i]}, after ${signal}: each routes to the two others again (${((Date.now() - at) / 1000).toFixed(1)} s after the stop)`,
        );
        const subnets = await Promise.all(d.map(async (x) => (await x.status()).subnet));
        t.equal(new Set(subnets).size, 3, `three different subnets (${subnets.join(', ')})`);
      }
      // A lease lost to a peer would end the daemon ("the store revoked this host's lease"): give it time to show.
      await sleep(3000);
      t.same(
        d.map((x) => x.child.exitCode),
        [null, null, null],
        'all still run',
      );
      t.same(await identity(d[i]), first, `the host ${names[i]} still holds its first lease`);
    }
  });

  t.test('etcd store', async (t) => {
    const etcd = new LabEtcd(lab, etcdHost, dir);
    await etcd.start();
    t.teardown(() => etcd.kill());
    etcd.putNetwork('vxlan');
    const endpoint = etcd.endpoint;
    const file = join(dir, 'etcd.yaml');
    writeFileSync(
      file,
      stringify({
        underlay: { address: e1.underlay },
        backend: { type: 'vxlan' },
        store: { type: 'etcd', endpoints: [endpoint] },
        stateDir: join(dir, 'state-etcd'),
      }),
    );
    let d = await startDaemon(lab, e1.ns, file, join(dir, 'state-etcd'));
    t.teardown(() => d.stop());
    const first = await identity(d);
    for (const signal of ['SIGKILL', 'SIGTERM'] as const) d = await restart(t, d, file, signal, first);
  });
}
