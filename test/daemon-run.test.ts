// The daemon as an operator runs it: `tulle run -c FILE.yaml` on hosts in
// namespaces. Traffic, `tulle status` and `tulle leases` (table and JSON),
// subnet.env and Docker options, /metrics counting a ping, /healthz,
// masquerade while running and gone after a stop; a restart that keeps its
// subnet and VTEP MAC; kill -9 then a restart that recovers by itself.
import t from 'tap';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { container, switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, tulle, httpGet } from './helpers/daemon.js';

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-daemon-run-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const [a, b, c] = switchedHosts(lab, ['ra', 'rb', 'rc']);
  // A container behind a, on a bridge holding the first address of a's subnet (Docker's --bip).
  const ctr = container(lab, a, 'rca', '198.18.1.2', '198.18.1.1');
  const write = (name: string, config: object) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, stringify(config));
    return file;
  };
  const ping = (ns: string, to: string, count = 3) => lab.exec(ns, ['ping', '-c', String(count), '-i', '0.2', '-W', '2', to], { allowFailure: true });
  /** GET a URL from inside a namespace (the metrics address is the namespace's loopback). */
  const get = (ns: string, url: string) => httpGet(lab, ns, url);
  const metric = (text: string, name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);

  const stateA = join(dir, 'state-a');
  const fileA = write('a', {
    network: '198.18.0.0/16',
    subnet: '198.18.1.0/24',
    underlay: { interface: 'eth0' },
    backend: { type: 'udp' },
    peers: [{ subnet: '198.18.2.0/24', address: b.underlay }],
    stateDir: stateA,
    subnetFile: join(dir, 'run-a', 'subnet.env'),
    dockerOptsFile: join(dir, 'run-a', 'docker_opts.env'),
    ipMasq: true,
    metricsAddress: '127.0.0.1:9464',
  });
  const stateB = join(dir, 'state-b');
  const fileB = write('b', {
    network: '198.18.0.0/16',
    subnet: '198.18.2.0/24',
    underlay: { address: b.underlay },
    backend: { type: 'udp' },
    peers: [{ subnet: '198.18.1.0/24', address: a.underlay }],
    stateDir: stateB,
  });

  t.test('two hosts started from YAML files', async (t) => {
    const da = await startDaemon(lab, a.ns, fileA, stateA);
    const db = await startDaemon(lab, b.ns, fileB, stateB);
    t.teardown(async () => {
      await da.stop();
      await db.stop();
    });
    t.match(ping(a.ns, '198.18.2.0'), / 0% packet loss/, 'a → b across the overlay');
    t.match(ping(ctr, '198.18.2.0'), / 0% packet loss/, 'a container behind a → b');

    t.test('tulle status: a table, and JSON with --json', async (t) => {
      const table = tulle(a.ns, ['status', '--state-dir', stateA]);
      t.equal(table.status, 0);
      t.match(table.stdout, /^health +ok$/m);
      t.match(table.stdout, /^network +198\.18\.0\.0\/16 \(subnets \/24\)$/m);
      t.match(table.stdout, /^subnet +198\.18\.1\.0\/24 \(lease expires never\)$/m);
      t.match(table.stdout, /^backend +udp, port 8285$/m);
      t.match(table.stdout, /^underlay +192\.0\.2\.1 on eth0$/m, 'the address of underlay.interface');
      t.match(table.stdout, /^device +tulle0 198\.18\.1\.0\/16 mtu 1472; offloads /m);
      t.match(table.stdout, /^leases +2 \(1 peers routed\)$/m);
      t.match(table.stdout, /^ip masq +on$/m);
      t.match(table.stdout, /^tx +\d+ packets/m);
      const json = tulle(a.ns, ['status', '--json', '--state-dir', stateA]);
      t.equal(json.status, 0);
      const status = JSON.parse(json.stdout) as {
        subnet: string;
        peers: number;
        leases: number;
        tun: { name: string; mtu: number };
        counters: { txPackets: number };
      };
      t.equal(status.subnet, '198.18.1.0/24');
      t.equal(status.peers, 1);
      t.equal(status.tun.name, 'tulle0');
      t.equal(status.tun.mtu, 1472);
      t.ok(status.counters.txPackets >= 6, `the pings were counted (${status.counters.txPackets} packets sent)`);
      // -c FILE finds the state dir the file names.
      t.equal(JSON.parse(tulle(a.ns, ['status', '--json', '-c', fileA]).stdout).subnet, '198.18.1.0/24');
    });

    t.test('tulle leases: a table, and JSON with --json', async (t) => {
      const table = tulle(b.ns, ['leases', '--state-dir', stateB]);
      t.equal(table.status, 0);
      const lines = table.stdout.trim().split('\n');
      t.match(lines[0], /^SUBNET +PUBLIC IP +BACKEND +VTEP MAC +PORT +EXPIRES +STATE$/);
      t.match(lines[1], /^198\.18\.1\.0\/24 +192\.0\.2\.1 +udp +- +- +never +routed$/);
      t.match(lines[2], /^198\.18\.2\.0\/24 +192\.0\.2\.2 +udp +- +8285 +never +own$/);
      t.equal(lines.length, 3);
      const json = JSON.parse(tulle(b.ns, ['leases', '--json', '--state-dir', stateB]).stdout) as { subnet: string; state: string; publicIP: string }[];
      t.same(
        json.map((l) => [l.subnet, l.publicIP, l.state]),
        [
          ['198.18.1.0/24', '192.0.2.1', 'routed'],
          ['198.18.2.0/24', '192.0.2.2', 'own'],
        ],
      );
    });

    t.test('subnet.env and the Docker options', async (t) => {
      t.equal(
        readFileSync(join(dir, 'run-a', 'subnet.env'), 'utf8'),
        'FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.1.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n',
      );
      t.equal(
        readFileSync(join(dir, 'run-a', 'docker_opts.env'), 'utf8'),
        'DOCKER_OPT_BIP="--bip=198.18.1.1/24"\nDOCKER_OPT_IPMASQ="--ip-masq=false"\nDOCKER_OPT_MTU="--mtu=1472"\nDOCKER_OPTS=" --bip=198.18.1.1/24 --ip-masq=false --mtu=1472"\n',
      );
      t.equal(
        readFileSync(join(stateB, 'subnet.env'), 'utf8'),
        'FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.2.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n',
        'by default in the state dir',
      );
      t.same(JSON.parse(readFileSync(join(stateA, 'lease.json'), 'utf8')), {
        format: 1,
        lease: { network: '198.18.0.0/16', subnet: '198.18.1.0/24', backendType: 'udp', publicIP: '192.0.2.1' },
      });
    });

    t.test('/metrics counts the packets of a ping; /healthz says ok', async (t) => {
      const before = get(a.ns, 'http://127.0.0.1:9464/metrics');
      t.equal(before.status, 200);
      t.match(before.body, /# TYPE tulle_packets_total counter/);
      t.match(before.body, /^tulle_drops_total\{reason="unknown_sender"\} 0$/m, 'drops by reason');
      t.equal(metric(before.body, 'tulle_peers'), 1);
      t.equal(metric(before.body, 'tulle_leases'), 2);
      t.match(ping(a.ns, '198.18.2.0', 5), / 0% packet loss/);
      const after = get(a.ns, 'http://127.0.0.1:9464/metrics');
      for (const direction of ['tx', 'rx']) {
        const key = `tulle_packets_total{direction="${direction}"}`;
        t.ok(
          metric(after.body, key) - metric(before.body, key) >= 5,
          `${direction} packets rose by at least 5 (${metric(before.body, key)} → ${metric(after.body, key)})`,
        );
      }
      t.ok(
        metric(after.body, 'tulle_bytes_total{direction="tx"}') - metric(before.body, 'tulle_bytes_total{direction="tx"}') >= 5 * 84,
        'and the bytes (5 × 84-byte echo requests)',
      );
      const health = get(a.ns, 'http://127.0.0.1:9464/healthz');
      t.same(
        { status: health.status, body: JSON.parse(health.body) },
        { status: 200, body: { state: 'ok', reasons: [] } },
        'a static store has no store health of its own',
      );
      t.equal(get(a.ns, 'http://127.0.0.1:9464/nothing').status, 404);
    });

    t.test('masquerade: the table is there and a container reaches a host outside the overlay', async (t) => {
      t.match(lab.exec(a.ns, ['nft', 'list', 'table', 'ip', 'tulle']), /ip saddr 198\.18\.0\.0\/16 ip daddr != 224\.0\.0\.0\/4 masquerade/);
      // c knows no route back to 198.18.1.2: only a masqueraded ping (source 192.0.2.1) gets an answer.
      t.match(ping(ctr, c.underlay), / 0% packet loss/, 'container → 192.0.2.3, masqueraded');
      t.match(ping(ctr, '198.18.2.0'), / 0% packet loss/, 'and still reaches b through the overlay');
    });

    t.test('SIGTERM: exit 0, and everything the daemon set up is gone', async (t) => {
      t.equal(await da.stop(), 0, 'exit 0');
      t.match(da.log(), /"event":"stopped"/);
      t.notOk(lab.ip(a.ns, '-o', 'link', 'show').includes('tulle0:'), 'the TUN is gone');
      t.equal(lab.exec(a.ns, ['nft', 'list', 'tables']).includes('tulle'), false, 'the masquerade table is gone');
      t.match(ping(ctr, c.underlay, 2), / 100% packet loss/, 'and without it the container cannot reach c');
      t.notOk(existsSync(join(stateA, 'tulle.sock')), 'the control socket is gone');
      t.ok(existsSync(join(stateA, 'lease.json')), 'the lease is kept for the next start');
      const status = tulle(a.ns, ['status', '--state-dir', stateA]);
      t.equal(status.status, 3, 'tulle status: exit 3 when no daemon runs');
      t.match(status.stderr, /no tulle daemon is running with this state dir/);
    });
  });

  t.test('a restart keeps the subnet it picked and its VTEP MAC', async (t) => {
    const state = join(dir, 'state-c');
    const file = write('c', { network: '198.18.0.0/16', underlay: { address: c.underlay }, backend: { type: 'vxlan' }, stateDir: state, logLevel: 'warn' });
    const first = await startDaemon(lab, c.ns, file, state);
    const one = await first.status();
    t.equal(await first.stop('SIGINT'), 0, 'SIGINT stops it cleanly too');
    const second = await startDaemon(lab, c.ns, file, state);
    const two = await second.status();
    t.equal(await second.stop(), 0);
    t.match(one.subnet, /^198\.18\.\d+\.0\/24$/);
    t.equal(two.subnet, one.subnet, `the same subnet (${one.subnet})`);
    t.match(one.backend.vtepMac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    t.equal(two.backend.vtepMac, one.backend.vtepMac, 'the same VTEP MAC');
    const saved = JSON.parse(readFileSync(join(state, 'lease.json'), 'utf8')) as { lease: { subnet: string; vtepMac: string } };
    t.same([saved.lease.subnet, saved.lease.vtepMac], [one.subnet, one.backend.vtepMac], 'both kept in lease.json');
  });

  t.test('kill -9, then a restart recovers without manual cleanup', async (t) => {
    const db = await startDaemon(lab, b.ns, fileB, stateB);
    t.teardown(() => db.stop());
    const killed = await startDaemon(lab, a.ns, fileA, stateA);
    t.match(ping(a.ns, '198.18.2.0'), / 0% packet loss/);
    t.equal(await killed.stop('SIGKILL'), null, 'killed');
    t.ok(existsSync(join(stateA, 'tulle.sock')), 'it left its control socket');
    t.match(lab.exec(a.ns, ['nft', 'list', 'tables']), /table ip tulle/, 'and its masquerade table');
    const again = await startDaemon(lab, a.ns, fileA, stateA);
    t.equal((await again.status()).subnet, '198.18.1.0/24');
    t.match(ping(a.ns, '198.18.2.0'), / 0% packet loss/, 'traffic flows again');
    t.match(ping(ctr, c.underlay), / 0% packet loss/, 'masquerade works again');
    t.equal((lab.exec(a.ns, ['nft', 'list', 'tables']).match(/table ip tulle/g) ?? []).length, 1, 'one masquerade table, not two');
    t.equal(lab.exec(a.ns, ['nft', 'list', 'table', 'ip', 'tulle']).match(/masquerade/g)?.length, 2, 'holding its two masquerade rules once');
    t.equal(await again.stop(), 0);
  });

  t.test('host-gw: routes follow the leases; routes a killed daemon left are removed at the next start', async (t) => {
    const state = join(dir, 'state-gw');
    const withPeer = write('gw', {
      network: '198.18.0.0/16',
      subnet: '198.18.1.0/24',
      underlay: { address: a.underlay },
      backend: { type: 'host-gw' },
      peers: [{ subnet: '198.18.2.0/24', address: b.underlay }],
      stateDir: state,
    });
    const first = await startDaemon(lab, a.ns, withPeer, state);
    t.match(lab.ip(a.ns, 'route', 'show', '198.18.2.0/24'), /198\.18\.2\.0\/24 via 192\.0\.2\.2 dev eth0 proto 201/);
    t.match(tulle(a.ns, ['leases', '--state-dir', state]).stdout, /^198\.18\.2\.0\/24 +192\.0\.2\.2 +host-gw .* routed$/m);
    t.equal(await first.stop('SIGKILL'), null, 'killed');
    t.match(lab.ip(a.ns, 'route', 'show', '198.18.2.0/24'), /via 192\.0\.2\.2/, 'the route outlived it');
    // The next start's configuration no longer has the peer: the stale route must go.
    const alone = write('gw-alone', {
      network: '198.18.0.0/16',
      subnet: '198.18.1.0/24',
      underlay: { address: a.underlay },
      backend: { type: 'host-gw' },
      stateDir: state,
    });
    const second = await startDaemon(lab, a.ns, alone, state);
    t.equal(lab.ip(a.ns, 'route', 'show', 'proto', '201').trim(), '', 'no tulle route is left');
    t.match(second.log(), /removed host-gw routes a previous run left: 198\.18\.2\.0\/24 via 192\.0\.2\.2/);
    t.equal(await second.stop(), 0);
  });

  t.test('by default each network namespace has a state dir of its own, which a clean stop removes', async (t) => {
    const inode = /\[(\d+)\]/.exec(lab.exec(c.ns, ['readlink', '/proc/self/ns/net']))![1];
    const state = `/run/tulle/netns-${inode}`;
    const file = write('default-state', {
      network: '198.18.0.0/16',
      subnet: '198.18.3.0/24',
      underlay: { address: c.underlay },
      backend: { type: 'udp' },
      logLevel: 'warn',
    });
    const d = await startDaemon(lab, c.ns, file, state);
    t.teardown(() => d.stop());
    const status = tulle(c.ns, ['status', '--json']);
    t.equal(status.status, 0, 'tulle status finds it with no flag, from inside the namespace');
    t.equal((JSON.parse(status.stdout) as { stateDir: string }).stateDir, state);
    t.ok(existsSync(join(state, 'subnet.env')));
    t.equal(await d.stop(), 0);
    t.notOk(existsSync(state), "gone after the stop: the namespace's identity does not outlive it");
  });
}
