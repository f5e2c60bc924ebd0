// `tulle run` on an etcd that speaks TLS only and requires client
// certificates, configured with flannel's flag names: two hosts acquire
// leases and see each other's, `tulle leases` lists them; one host's client
// certificate is rotated with SIGHUP (lease kept, watch going on), an
// invalid one is refused on SIGHUP with the old connection kept; and a
// host given a CA that did not sign etcd exits at start-up with that
// sentence instead of waiting forever.
import t from 'tap';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, tulle, type RunningDaemon } from './helpers/daemon.js';
import { LabEtcd } from './helpers/lab-etcd.js';
import { TestCerts } from './helpers/test-certs.js';

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-daemon-etcd-tls-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const hosts = switchedHosts(lab, ['ta', 'tb', 'tc']);
  const etcdHost = hosts.pop()!;
  const certs = new TestCerts(join(dir, 'certs'));
  const ca = certs.ca('ca');
  const otherCa = certs.ca('other-ca');
  const serverCert = certs.leaf('etcd', ca, 'etcd', `IP:${etcdHost.underlay}`);
  const admin = certs.leaf('admin', ca, 'admin', 'DNS:admin.example');
  const etcd = new LabEtcd(lab, etcdHost, dir, { ...serverCert, ca: ca.cert, client: admin });

  /** flannel's flags for host i, its client certificate at paths that rotation overwrites. */
  const flags = (i: number, caFile = ca.cert) => {
    const own = certs.leaf(`host-${i}`, ca, `host-${i}`, `DNS:host-${i}.example`, { days: 5 });
    return ['--etcd-endpoints', etcd.endpoint, '--etcd-cafile', caFile, '--etcd-certfile', own.cert, '--etcd-keyfile', own.key];
  };
  const config = (i: number) => {
    const file = join(dir, `host-${i}.yaml`);
    writeFileSync(
      file,
      stringify({
        underlay: { address: hosts[i].underlay },
        backend: { type: 'vxlan' },
        store: { type: 'etcd', endpoints: [etcd.endpoint] },
        stateDir: join(dir, `state-${i}`),
      }),
    );
    return file;
  };

  async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await sleep(200);
    }
  }

  t.test("two hosts on a TLS etcd with client certificates, flannel's flag names", async (t) => {
    await etcd.start();
    etcd.putNetwork('vxlan');
    const daemons: RunningDaemon[] = [];
    t.teardown(async () => {
      for (const d of daemons) await d.stop();
    });
    const hostFlags = [flags(0), flags(1)];
    for (const i of [0, 1]) daemons.push(await startDaemon(lab, hosts[i].ns, config(i), join(dir, `state-${i}`), hostFlags[i]));
    const routed = async () => Promise.all(daemons.map(async (d) => (await d.leases()).filter((l) => l.state === 'routed').length));
    await until('each host routes to the other', async () => (await routed()).every((n) => n === 1));
    const subnets = await Promise.all(daemons.map(async (d) => (await d.status()).subnet));
    t.equal(new Set(subnets).size, 2, `two subnets (${subnets.join(', ')})`);
    const listed = tulle(hosts[0].ns, ['leases', '--state-dir', join(dir, 'state-0')]);
    t.equal(listed.status, 0, listed.stderr);
    for (const s of subnets) t.match(listed.stdout, s, `tulle leases lists ${s}`);
    t.match(daemons[0].log(), /etcd: connected \(https:\/\/192\.0\.2\.\d+:2379\)/, 'over https');

    // Rotation: a new certificate and key from the same CA written over the files, then SIGHUP.
    const certFile = hostFlags[0][hostFlags[0].indexOf('--etcd-certfile') + 1];
    const keyFile = hostFlags[0][hostFlags[0].indexOf('--etcd-keyfile') + 1];
    const rotated = certs.leaf('host-0-rotated', ca, 'host-0', 'DNS:host-0.example', { days: 11 });
    copyFileSync(rotated.cert, certFile);
    copyFileSync(rotated.key, keyFile);
    daemons[0].child.kill('SIGHUP');
    const until11 = new Date(Date.now() + 11 * 86_400_000).toISOString().slice(0, 10);
    await until('the reload', () => /SIGHUP: reloaded: .*etcd credentials reloaded \(etcd took them/.test(daemons[0].log()));
    t.match(daemons[0].log(), new RegExp(`client certificate valid until ${until11}`), 'the new certificate is in use');
    etcd.etcdctl(
      'put',
      '/coreos.com/network/subnets/198.18.200.0-24',
      '{"PublicIP":"192.0.2.200","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:5e:00:53:c8"}}',
    );
    await until('a lease written after the rotation, seen by the rotated host', async () =>
      (await daemons[0].leases()).some((l) => l.subnet === '198.18.200.0/24'),
    );
    t.equal((await daemons[0].status()).subnet, subnets[0], 'the rotated host keeps its subnet');

    // An invalid certificate on SIGHUP: refused, the running connection stays.
    writeFileSync(certFile, 'not a certificate\n');
    daemons[0].child.kill('SIGHUP');
    await until('the refusal', () => /reload refused.*store\.tls\.certFile \([^)]*\): is not a PEM certificate/.test(daemons[0].log()));
    etcd.etcdctl('del', '/coreos.com/network/subnets/198.18.200.0-24');
    await until('a lease removed after the refused reload, seen', async () => !(await daemons[0].leases()).some((l) => l.subnet === '198.18.200.0/24'));
    t.pass('the host still follows etcd on the old connection');
    t.equal(daemons[0].child.exitCode, null, 'and runs on');
  });

  t.test('a CA that did not sign etcd: tulle run exits at start-up, saying so', async (t) => {
    const started = Date.now();
    const r = tulle(hosts[0].ns, ['run', '-c', config(0), ...flags(2, otherCa.cert)]);
    const ms = Date.now() - started;
    t.equal(r.status, 1, 'exit 1 (a run-time failure)');
    t.match(
      r.stderr,
      new RegExp(
        `tulle: the etcd server certificate at https://${etcdHost.underlay.replace(/\./g, '\\.')}:2379 is not signed by the CA in store\\.tls\\.caFile \\(${otherCa.cert}\\)`,
      ),
    );
    t.notMatch(r.stderr, /UNAVAILABLE|\n\s+at /, 'no gRPC status, no stack');
    t.ok(ms < 20_000, `within ${ms} ms`);
  });
}
