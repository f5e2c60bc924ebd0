// Health that tells the truth, from real daemons in lab namespaces: a host on
// etcd whose etcd is killed reports itself degraded (`tulle status`, its
// JSON and /healthz name the reason and since when) while it keeps
// forwarding, failing (503) once its own lease has run out, and ok again
// once etcd is back; a gossip host whose only seed
// does not answer is degraded ("alone"), a seedless one alone says so, and
// hosts with their peers are ok. /healthz answers on its default address
// without metricsAddress.
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, tulle, type RunningDaemon, httpGet } from './helpers/daemon.js';
import { LabEtcd } from './helpers/lab-etcd.js';

interface HealthView {
  state: string;
  reasons: string[];
  store?: { state: string; since: string; detail: string; membersAlive?: number };
}

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-daemon-health-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const [a, b, c, e] = switchedHosts(lab, ['ha', 'hb', 'hc', 'he']);
  const write = (name: string, config: object) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, stringify(config));
    return file;
  };
  /** GET a URL from inside a namespace: status and body, or the error. */
  const get = (ns: string, url: string) => httpGet(lab, ns, url);
  const healthz = (ns: string) => {
    const r = get(ns, 'http://127.0.0.1:9465/healthz');
    return { status: r.status, body: r.status === 0 ? r.body : (JSON.parse(r.body) as HealthView) };
  };
  /** The daemon's health from its control socket (a daemon without states reads as ok/unhealthy, so a failure shows what it said). */
  const health = async (d: RunningDaemon): Promise<HealthView> => {
    const h = (await d.status()).health as unknown as Partial<HealthView> & { ok?: boolean; problems?: string[] };
    return { state: h.state ?? (h.ok ? 'ok' : 'unhealthy'), reasons: h.reasons ?? h.problems ?? [], ...(h.store ? { store: h.store } : {}) };
  };
  /** Polls (bounded) until the daemon's health state is `state`. */
  const until = async (d: RunningDaemon, state: string, seconds: number) => {
    let h = await health(d);
    for (let i = 0; i < seconds * 5 && h.state !== state; i++) {
      await sleep(200);
      h = await health(d);
    }
    return h;
  };

  t.test('etcd killed: degraded, with the reason and since when; failing once the own lease runs out; etcd back: ok', async (t) => {
    const etcd = new LabEtcd(lab, e, dir);
    const endpoint = etcd.endpoint;
    const etcdctl = (...args: string[]) => etcd.etcdctl(...args);
    const startEtcd = () => etcd.start();
    await startEtcd();
    t.teardown(() => etcd.kill());
    etcdctl('put', '/coreos.com/network/config', '{"Network":"198.18.0.0/16","SubnetLen":24,"Backend":{"Type":"udp"}}');
    const state = join(dir, 'state-etcd');
    const d = await startDaemon(
      lab,
      a.ns,
      write('etcd', {
        underlay: { address: a.underlay },
        backend: { type: 'udp' },
        store: { type: 'etcd', endpoints: [endpoint], ttlSeconds: 20 },
        stateDir: state,
      }),
      state,
    );
    t.teardown(() => d.stop());

    const up = await until(d, 'ok', 10);
    t.equal(up.state, 'ok', 'etcd up: ok');
    t.match(up.store, { state: 'ok', detail: /^etcd connected/ }, 'the store says connected');
    const probe = healthz(a.ns);
    t.match(probe, { status: 200, body: { state: 'ok' } }, '/healthz answers on 127.0.0.1:9465 with no metricsAddress');

    const killedAt = Date.now();
    await etcd.kill('SIGKILL');
    const down = await until(d, 'degraded', 30);
    t.equal(down.state, 'degraded', `etcd killed: degraded (noticed ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill)`);
    t.match(down.reasons.join('\n'), /store: etcd unreachable since \d{4}-\d\d-\d\dT[\d:.]+Z: /, 'the reason names etcd and since when');
    t.ok(Date.parse(down.store?.since ?? '') >= killedAt - 1000, `since ${down.store?.since ?? ''}, not before the kill`);
    const table = tulle(a.ns, ['status', '--state-dir', state]);
    t.comment(
      table.stdout
        .split('\n')
        .filter((l) => /^(health|store) /.test(l))
        .join('\n'),
    );
    t.match(table.stdout, /^health +degraded: store: etcd unreachable since \d{4}-/m, 'tulle status: degraded, with the reason');
    t.match(table.stdout, /^store +etcd http:\/\/192\.0\.2\.4:2379, degraded: etcd unreachable since /m, 'and on the store line');
    const degraded = healthz(a.ns);
    t.match(
      degraded,
      { status: 200, body: { state: 'degraded', reasons: [/etcd unreachable since/] } },
      '/healthz: 200 (it still forwards), state degraded and the reason',
    );

    // etcd stays away past the own lease's 20 s TTL: another host could now be given the subnet.
    const expired = await until(d, 'failing', 45);
    t.equal(expired.state, 'failing', `the own lease ran out: failing (${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill)`);
    t.match(expired.reasons, [/^own lease 198\.18\.\d+\.0\/24 expired at \d{4}-/, /^store: etcd unreachable since/], 'naming the lease and the store');
    t.match(healthz(a.ns), { status: 503, body: { state: 'failing' } }, '/healthz: 503');

    await startEtcd();
    const back = await until(d, 'ok', 30);
    t.equal(back.state, 'ok', 'etcd back: ok');
    t.same(back.reasons, [], 'no reasons left');
    t.match(healthz(a.ns), { status: 200, body: { state: 'ok' } }, '/healthz: ok');
    t.match(tulle(a.ns, ['status', '--state-dir', state]).stdout, /^health +ok$/m, 'tulle status: ok');
  });

  t.test('gossip: alone with an unreachable seed is degraded; a seedless host alone says so; with its peers, ok', async (t) => {
    const key = randomBytes(32).toString('base64');
    const gossip = (name: string, host: { underlay: string }, peers: string[]) => {
      const state = join(dir, `state-${name}`);
      return {
        state,
        file: write(name, {
          network: '198.18.0.0/16',
          underlay: { address: host.underlay },
          backend: { type: 'udp' },
          store: { type: 'gossip', key, preset: 'local', peers },
          stateDir: state,
          logLevel: 'warn',
        }),
      };
    };
    // b's only seed is an address on the segment where no host answers.
    const sb = gossip('gb', b, ['192.0.2.9']);
    const db = await startDaemon(lab, b.ns, sb.file, sb.state);
    t.teardown(() => db.stop());
    const lonely = await until(db, 'degraded', 15);
    t.equal(lonely.state, 'degraded', 'alone with an unreachable seed: degraded');
    t.match(lonely.reasons.join('\n'), /store: alone: 0 of 1 seeds reachable/, 'saying why');
    t.equal(lonely.store?.membersAlive, 0, 'no member alive');
    t.match(tulle(b.ns, ['status', '--state-dir', sb.state]).stdout, /^health +degraded: store: alone: 0 of 1 seeds reachable/m, 'tulle status says so');
    t.match(healthz(b.ns), { status: 200, body: { state: 'degraded' } }, '/healthz: degraded');

    // c, seedless, and a, which has c as its seed: they find each other.
    const sc = gossip('gc', c, []);
    const dc = await startDaemon(lab, c.ns, sc.file, sc.state);
    t.teardown(() => dc.stop());
    const sa = gossip('ga', a, [c.underlay]);
    const da = await startDaemon(lab, a.ns, sa.file, sa.state);
    t.teardown(() => da.stop());
    const both = [await until(da, 'ok', 30), await until(dc, 'ok', 30)];
    t.same(
      both.map((h) => h.state),
      ['ok', 'ok'],
      'with its peer: both ok',
    );
    t.same(
      both.map((h) => h.store?.membersAlive),
      [1, 1],
      'one other member alive each',
    );
    t.match(healthz(c.ns), { status: 200, body: { state: 'ok' } }, '/healthz: ok');
    t.match(tulle(c.ns, ['status', '--state-dir', sc.state]).stdout, /^health +ok$/m, 'tulle status: ok');

    // a leaves: c, seedless, is alone again, and says so.
    t.equal(await da.stop(), 0);
    const alone = await until(dc, 'degraded', 30);
    t.equal(alone.state, 'degraded', 'the seedless host alone: degraded');
    t.match(alone.reasons.join('\n'), /store: alone in its cluster \(no seeds configured\)/, 'saying it is alone and has no seeds');
  });

  t.test('healthAddress: another address, or off; the default taken by another daemon is a warning, not a failure', async (t) => {
    const one = join(dir, 'state-addr-1');
    const first = await startDaemon(
      lab,
      e.ns,
      write('addr-1', { network: '198.18.0.0/16', subnet: '198.18.7.0/24', underlay: { address: e.underlay }, backend: { type: 'udp' }, stateDir: one }),
      one,
    );
    t.teardown(() => first.stop());
    t.match(healthz(e.ns), { status: 200, body: { state: 'ok', reasons: [] } }, 'the default address');
    // A second daemon in the same namespace: the default is taken.
    const two = join(dir, 'state-addr-2');
    const file2 = write('addr-2', {
      network: '198.18.0.0/16',
      subnet: '198.18.8.0/24',
      underlay: { address: e.underlay, port: 8286 },
      backend: { type: 'udp' },
      tun: { name: 'tulle1' },
      stateDir: two,
    });
    const second = await startDaemon(lab, e.ns, file2, two);
    t.match(second.log(), /"event":"no health endpoint"[^\n]*127\.0\.0\.1:9465[^\n]*EADDRINUSE/, 'the second says it has no /healthz there, and why');
    t.equal((await second.status()).subnet, '198.18.8.0/24', 'and runs');
    t.equal(await second.stop(), 0);
    const elsewhere = await startDaemon(lab, e.ns, file2, two, ['--health-address', '127.0.0.1:9470']);
    const r = get(e.ns, 'http://127.0.0.1:9470/healthz');
    t.same([r.status, (JSON.parse(r.body) as HealthView).state], [200, 'ok'], '--health-address 127.0.0.1:9470 serves there');
    t.match(tulle(e.ns, ['status', '--state-dir', two]).stdout, /^healthz +http:\/\/127\.0\.0\.1:9470\/healthz$/m, 'and tulle status says where');
    t.equal(await elsewhere.stop(), 0);
    t.equal(await first.stop(), 0);
    const off = await startDaemon(lab, e.ns, file2, two, ['--health-address', 'off']);
    t.match(healthz(e.ns), { status: 0, body: /ECONNREFUSED/ }, '--health-address off: nothing on the default');
    t.equal(await off.stop(), 0);
  });
}
