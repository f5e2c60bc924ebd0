// Routes into the overlay that are not tulle's (flannel #2554): a route for
// another host's subnet left on the underlay device, via a neighbour that
// does not exist, hijacks that subnet's traffic across restarts. tulle reports
// such a route by name (log, `tulle status`, /metrics), removes it with
// `--reconcile-routes replace`, puts its own routes right (a protocol-201
// route left by an earlier host-gw run, a deleted TUN route, a host-gw route
// someone replaced, before the start or while it runs) and leaves a
// container bridge on its own subnet alone — at start, and while it runs.
import t, { type Test } from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { container, switchedHosts } from '../src/lab/topology.js';
import type { StatusView } from '../src/daemon/status-view.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, tulle, type RunningDaemon, httpGet } from './helpers/daemon.js';

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-daemon-routes-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const [a, b, c] = switchedHosts(lab, ['oa', 'ob', 'oc']);
  // Containers on bridges holding the first address of a's and b's subnets: a's bridge route is legitimate.
  container(lab, a, 'oca', '198.18.1.2', '198.18.1.1');
  container(lab, b, 'ocb', '198.18.2.2', '198.18.2.1');
  const write = (name: string, config: object) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, stringify(config));
    return file;
  };
  const ping = (ns: string, to: string, count = 3) => lab.exec(ns, ['ping', '-c', String(count), '-i', '0.2', '-W', '2', to], { allowFailure: true });
  const get = (ns: string, url: string) => httpGet(lab, ns, url);
  const routes = (ns: string, dst: string) => lab.ip(ns, 'route', 'show', 'exact', dst).trim();
  const statusJson = (state: string) => JSON.parse(tulle(a.ns, ['status', '--json', '--state-dir', state]).stdout) as StatusView;
  /** Polls `tulle status` until `ok` holds (the periodic check runs every 10 s); the last status either way. */
  const until = async (state: string, ok: (s: StatusView) => boolean, ms = 40_000): Promise<StatusView> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const s = statusJson(state);
      if (ok(s) || Date.now() > deadline) return s;
      await sleep(500);
    }
  };
  /** The daemon's log once it holds `pattern` (its lines arrive through a pipe, after the status shows the change). */
  const logged = async (t: Test, d: RunningDaemon, pattern: RegExp, message = 'the log says so') => {
    const deadline = Date.now() + 10_000;
    while (!pattern.test(d.log()) && Date.now() < deadline) await sleep(100);
    t.match(d.log(), pattern, message);
  };
  const foreignTo = (s: StatusView, dst: string) => s.routes?.foreign.filter((f) => f.destination === dst) ?? [];

  const peers = {
    a: { subnet: '198.18.1.0/24', address: a.underlay },
    b: { subnet: '198.18.2.0/24', address: b.underlay },
    c: { subnet: '198.18.3.0/24', address: c.underlay },
  };
  const config = (host: 'a' | 'b' | 'c', backend: string, state: string, extra: object = {}) => ({
    network: '198.18.0.0/16',
    subnet: peers[host].subnet,
    underlay: { address: peers[host].address },
    backend: { type: backend },
    peers: Object.entries(peers)
      .filter(([name]) => name !== host)
      .map(([, p]) => p),
    stateDir: state,
    ...extra,
  });

  t.test('udp: a hijacking route is reported, a stale own route made right; replace removes the hijack', async (t) => {
    const stateA = join(dir, 'udp-a');
    const fileA = write('udp-a', config('a', 'udp', stateA, { metricsAddress: '127.0.0.1:9464' }));
    const daemons: RunningDaemon[] = [];
    t.teardown(async () => {
      for (const d of daemons) await d.stop();
    });
    daemons.push(await startDaemon(lab, b.ns, write('udp-b', config('b', 'udp', join(dir, 'udp-b'))), join(dir, 'udp-b')));
    daemons.push(await startDaemon(lab, c.ns, write('udp-c', config('c', 'udp', join(dir, 'udp-c'))), join(dir, 'udp-c')));

    // Left on a before its daemon starts: b's subnet on eth0 via a neighbour that does not exist, and a
    // protocol-201 route for c's subnet from an earlier host-gw run, via an address c no longer has.
    lab.ip(a.ns, 'route', 'add', '198.18.2.0/24', 'via', '192.0.2.99', 'dev', 'eth0');
    lab.ip(a.ns, 'route', 'add', '198.18.3.0/24', 'via', '192.0.2.77', 'dev', 'eth0', 'proto', '201');
    const da = await startDaemon(lab, a.ns, fileA, stateA);
    daemons.push(da);

    t.test('report: the log, tulle status and /metrics name the hijack', async (t) => {
      const s = await until(stateA, (x) => foreignTo(x, '198.18.2.0/24').length > 0);
      t.equal(s.routes?.mode, 'report');
      t.same(
        s.routes?.foreign.map((f) => [f.destination, f.device, f.gateway, f.protocol, f.table, f.shadows]),
        [['198.18.2.0/24', 'eth0', '192.0.2.99', 'boot', 'main', ['198.18.2.0/24 (192.0.2.2)']]],
        "one foreign route, the hijack; the container bridge on a's own subnet is not one",
      );
      await logged(
        t,
        da,
        /"event":"foreign route".*"msg":"foreign route 198\.18\.2\.0\/24 via 192\.0\.2\.99 dev eth0 proto boot shadows the lease 198\.18\.2\.0\/24 \(192\.0\.2\.2\)/,
        'a warning names it',
      );
      const table = tulle(a.ns, ['status', '--state-dir', stateA]).stdout;
      t.match(table, /^routes +reconcile report; 1 foreign/m);
      t.match(table, /^foreign route +198\.18\.2\.0\/24 via 192\.0\.2\.99 dev eth0 proto boot shadows 198\.18\.2\.0\/24 \(192\.0\.2\.2\)$/m);
      const metrics = get(a.ns, 'http://127.0.0.1:9464/metrics').body;
      t.match(metrics, /^tulle_foreign_routes 1$/m);
      t.match(
        metrics,
        /^tulle_foreign_route\{destination="198\.18\.2\.0\/24",device="eth0",gateway="192\.0\.2\.99",protocol="boot",table="main",shadows="198\.18\.2\.0\/24 \(192\.0\.2\.2\)"\} 1$/m,
      );
      t.match(routes(a.ns, '198.18.2.0/24'), /via 192\.0\.2\.99 dev eth0/, 'report leaves it in place');
      t.match(ping(a.ns, '198.18.2.0', 2), / 100% packet loss/, 'so b stays unreachable from a');
    });

    t.test('the stale protocol-201 route is gone, and c is reached through the overlay', async (t) => {
      t.equal(routes(a.ns, '198.18.3.0/24'), '', "no route for c's subnet but the TUN's");
      await logged(t, da, /removed a route an earlier run left: 198\.18\.3\.0\/24 via 192\.0\.2\.77 dev eth0 proto 201/);
      t.match(ping(a.ns, '198.18.3.0'), / 0% packet loss/, 'a → c');
    });

    t.test('while it runs: a new hijack is reported, a deleted TUN route restored', async (t) => {
      lab.ip(a.ns, 'route', 'add', '198.18.3.0/25', 'via', '192.0.2.99', 'dev', 'eth0');
      lab.ip(a.ns, 'route', 'del', '198.18.0.0/16', 'dev', 'tulle0');
      const s = await until(stateA, (x) => foreignTo(x, '198.18.3.0/25').length > 0);
      t.same(
        foreignTo(s, '198.18.3.0/25').map((f) => f.shadows),
        [['198.18.3.0/24 (192.0.2.3)']],
        'the periodic check names the new one',
      );
      await logged(t, da, /foreign route 198\.18\.3\.0\/25 via 192\.0\.2\.99 dev eth0 proto boot shadows the lease 198\.18\.3\.0\/24/);
      t.match(routes(a.ns, '198.18.0.0/16'), /dev tulle0 proto kernel scope link src 198\.18\.1\.0/, "the TUN's route is back");
      await logged(t, da, /restored tulle's route 198\.18\.0\.0\/16 dev tulle0; it was missing/);
      lab.ip(a.ns, 'route', 'del', '198.18.3.0/25');
      const after = await until(stateA, (x) => foreignTo(x, '198.18.3.0/25').length === 0);
      t.same(foreignTo(after, '198.18.3.0/25'), [], 'and forgets it once it is gone');
      t.match(get(a.ns, 'http://127.0.0.1:9464/metrics').body, /^tulle_foreign_routes 1$/m);
    });

    t.test('replace: a restart removes the hijack, and b is reached', async (t) => {
      t.equal(await da.stop(), 0);
      t.match(routes(a.ns, '198.18.2.0/24'), /via 192\.0\.2\.99/, 'the hijack outlived the daemon');
      const again = await startDaemon(lab, a.ns, fileA, stateA, ['--reconcile-routes', 'replace']);
      daemons.push(again);
      const s = await until(stateA, (x) => (x.routes?.foreignRemoved ?? 0) > 0);
      t.equal(s.routes?.mode, 'replace');
      t.same(s.routes?.foreign, [], 'no foreign route left');
      t.equal(routes(a.ns, '198.18.2.0/24'), '', 'the hijack is gone');
      await logged(t, again, /removed the foreign route 198\.18\.2\.0\/24 via 192\.0\.2\.99 dev eth0 proto boot/);
      t.match(ping(a.ns, '198.18.2.0'), / 0% packet loss/, 'a → b through the overlay');
      t.match(ping(a.ns, '198.18.2.2'), / 0% packet loss/, 'a → the container behind b');
      // And one added while it runs goes at the next check.
      lab.ip(a.ns, 'route', 'add', '198.18.2.0/25', 'via', '192.0.2.99', 'dev', 'eth0');
      const later = await until(stateA, (x) => (x.routes?.foreignRemoved ?? 0) >= 2);
      t.equal(later.routes?.foreignRemoved, 2);
      t.equal(routes(a.ns, '198.18.2.0/25'), '', 'the new hijack is gone too');
      t.match(ping(a.ns, '198.18.2.2'), / 0% packet loss/);
      t.match(get(a.ns, 'http://127.0.0.1:9464/metrics').body, /^tulle_route_repairs_total\{action="foreign_removed"\} 2$/m);
    });
  });

  t.test('vxlan: replace removes a hijack left on the underlay device; a container behind b is reached', async (t) => {
    const mac = { a: '02:00:5e:00:53:01', b: '02:00:5e:00:53:02' };
    const vx = (host: 'a' | 'b', state: string) => ({
      ...config(host, 'vxlan', state),
      backend: { type: 'vxlan', mac: mac[host] },
      peers: [host === 'a' ? { ...peers.b, mac: mac.b } : { ...peers.a, mac: mac.a }],
    });
    const stateA = join(dir, 'vx-a');
    const stateB = join(dir, 'vx-b');
    const db = await startDaemon(lab, b.ns, write('vx-b', vx('b', stateB)), stateB);
    t.teardown(() => db.stop());
    lab.ip(a.ns, 'route', 'add', '198.18.2.0/24', 'via', '192.0.2.99', 'dev', 'eth0');
    const da = await startDaemon(lab, a.ns, write('vx-a', vx('a', stateA)), stateA, ['--reconcile-routes', 'replace']);
    t.teardown(() => da.stop());
    const s = await until(stateA, (x) => (x.routes?.foreignRemoved ?? 0) > 0);
    t.same([s.routes?.mode, s.routes?.foreign, s.routes?.foreignRemoved], ['replace', [], 1]);
    t.equal(routes(a.ns, '198.18.2.0/24'), '', 'the hijack is gone');
    await logged(t, da, /removed the foreign route 198\.18\.2\.0\/24 via 192\.0\.2\.99 dev eth0 proto boot/);
    t.match(ping(a.ns, '198.18.2.2'), / 0% packet loss/, 'a → the container behind b, over vxlan');
    t.equal(await da.stop(), 0);
    t.equal(await db.stop(), 0);
  });

  t.test('host-gw: a more specific hijack is reported then removed; a replaced own route is restored', async (t) => {
    const stateA = join(dir, 'gw-a');
    const stateB = join(dir, 'gw-b');
    const only = (host: 'a' | 'b', state: string) => ({ ...config(host, 'host-gw', state), peers: [host === 'a' ? peers.b : peers.a] });
    const db = await startDaemon(lab, b.ns, write('gw-b', only('b', stateB)), stateB);
    t.teardown(() => db.stop());
    lab.ip(a.ns, 'route', 'add', '198.18.2.0/25', 'via', '192.0.2.99', 'dev', 'eth0');
    // One with exactly the key of tulle's route for b's lease: the kernel holds one, and it is tulle's.
    lab.ip(a.ns, 'route', 'add', '198.18.2.0/24', 'via', '192.0.2.97', 'dev', 'eth0');
    const fileA = write('gw-a', only('a', stateA));
    const da = await startDaemon(lab, a.ns, fileA, stateA);
    t.teardown(() => da.stop());
    t.match(routes(a.ns, '198.18.2.0/24'), /via 192\.0\.2\.2 dev eth0 proto 201/, "tulle's route holds b's lease");
    await logged(
      t,
      da,
      /the foreign route 198\.18\.2\.0\/24 via 192\.0\.2\.97 dev eth0 proto boot held the place of tulle's route for the lease 198\.18\.2\.0\/24: replaced/,
    );
    const s = await until(stateA, (x) => foreignTo(x, '198.18.2.0/25').length > 0);
    t.same(
      s.routes?.foreign.map((f) => [f.route, f.shadows]),
      [['198.18.2.0/25 via 192.0.2.99 dev eth0 proto boot', ['198.18.2.0/24 (192.0.2.2)']]],
      "the /25 shadows part of b's lease; the bridge on a's own subnet is not reported",
    );
    t.match(ping(a.ns, '198.18.2.2', 2), / 100% packet loss/, 'report leaves it: the container behind b is unreachable');

    // Someone replaces tulle's route for b's subnet.
    lab.ip(a.ns, 'route', 'replace', '198.18.2.0/24', 'via', '192.0.2.98', 'dev', 'eth0');
    await until(stateA, (x) => (x.routes?.restored ?? 0) > 0);
    t.match(routes(a.ns, '198.18.2.0/24'), /via 192\.0\.2\.2 dev eth0 proto 201/, "tulle's route is back");
    await logged(
      t,
      da,
      /restored tulle's route 198\.18\.2\.0\/24 via 192\.0\.2\.2 dev eth0; it had been replaced by 198\.18\.2\.0\/24 via 192\.0\.2\.98 dev eth0 proto boot/,
    );

    t.equal(await da.stop(), 0);
    const again = await startDaemon(lab, a.ns, fileA, stateA, ['--reconcile-routes', 'replace']);
    t.teardown(() => again.stop());
    await until(stateA, (x) => (x.routes?.foreignRemoved ?? 0) > 0);
    t.equal(routes(a.ns, '198.18.2.0/25'), '', 'replace removed the hijack');
    t.match(ping(a.ns, '198.18.2.2'), / 0% packet loss/, 'a → the container behind b, by host-gw');
    t.match(lab.ip(a.ns, 'route', 'show', '198.18.1.0/24'), /dev cbr0 proto kernel/, "a's container bridge route is untouched");
    t.equal(await again.stop(), 0);
  });
}
