// The etcd credentials in the configuration: tulle's flags and flannel's
// spellings of them, the variables, the password refused in argv, and what
// `tulle config check` says about the files and the keys that go together.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/daemon/config/load.js';
import { crossChecks } from '../src/daemon/config/checks.js';
import { hostChecks } from '../src/daemon/config/host-checks.js';
import { formatProblem } from '../src/daemon/config/problems.js';
import { TestCerts, haveOpenssl } from './helpers/test-certs.js';
import { CLI } from './helpers/daemon.js';

if (!haveOpenssl()) {
  t.fail('openssl is needed (Debian: apt-get install openssl)');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'tulle-etcd-tls-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certs = new TestCerts(dir);
const ca = certs.ca('ca');
const client = certs.leaf('client', ca, 'tulle', 'DNS:tulle.example');
const other = certs.leaf('other', ca, 'tulle', 'DNS:tulle.example');
const ENDPOINT = 'https://192.0.2.10:2379';
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, TULLE_ETCD_PASSWORD: '' } });

t.test("flannel's flag names and tulle's give the same settings", async (t) => {
  const flannel = await loadConfig({
    flags: {
      store: 'etcd',
      backend: 'vxlan',
      etcdEndpoints: ENDPOINT,
      etcdCafile: ca.cert,
      etcdCertfile: client.cert,
      etcdKeyfile: client.key,
      etcdUsername: 'node1',
    },
    env: { TULLE_ETCD_PASSWORD: 'from-env' },
  });
  t.match(flannel.config.store, {
    type: 'etcd',
    tls: { caFile: ca.cert, certFile: client.cert, keyFile: client.key },
    username: 'node1',
    password: 'from-env',
  });
  t.equal(flannel.origins.get('store.tls.caFile')?.name, '--etcd-cafile', 'a problem would name the flag as given');
  const tulle = await loadConfig({
    flags: { store: 'etcd', backend: 'vxlan', etcdEndpoints: ENDPOINT, etcdCaFile: ca.cert, etcdCertFile: client.cert, etcdKeyFile: client.key },
    env: { TULLE_ETCD_USERNAME: 'node1', TULLE_ETCD_PASSWORD_FILE: join(dir, 'pw') },
  });
  t.match(tulle.config.store, { tls: { caFile: ca.cert, certFile: client.cert, keyFile: client.key }, username: 'node1', passwordFile: join(dir, 'pw') });
});

t.test('the password on the command line is refused, and not shown', async (t) => {
  await t.rejects(loadConfig({ flags: { store: 'etcd', etcdEndpoints: ENDPOINT, etcdUsername: 'node1', etcdPassword: 'hunter2' } }), {
    message: /store\.password \(--etcd-password\): --etcd-password is not accepted: .*give --etcd-password-file, or set TULLE_ETCD_PASSWORD/,
  });
  const r = cli(
    'config',
    'check',
    '--no-host-checks',
    '--store',
    'etcd',
    '--etcd-endpoints',
    ENDPOINT,
    '--etcd-username',
    'node1',
    '--etcd-password',
    'hunter2',
  );
  t.equal(r.status, 2, 'config check: invalid (exit 2)');
  t.match(r.stderr, /--etcd-password is not accepted/);
  t.notMatch(r.stderr + r.stdout, /hunter2/, 'the password is not echoed');
  const help = cli('run', '--help').stdout;
  t.match(help, /--etcd-ca-file <value>.*\[TULLE_ETCD_CA_FILE\]/s, "--help lists tulle's names");
  t.notMatch(help, /--etcd-password |--etcd-cafile/, "and hides the refused flag and flannel's spellings");
});

t.test('--print hides the password', async (t) => {
  writeFileSync(join(dir, 'pw'), 'secret\n');
  const r = spawnSync(
    process.execPath,
    [CLI, 'config', 'check', '--no-host-checks', '--print', '--backend', 'vxlan', '--store', 'etcd', '--etcd-endpoints', ENDPOINT, '--etcd-username', 'u'],
    {
      encoding: 'utf8',
      env: { ...process.env, TULLE_ETCD_PASSWORD: 'hunter2' },
    },
  );
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /"password": "\(hidden\)"/);
  t.notMatch(r.stdout, /hunter2/);
});

t.test('keys that go together, and https with certificates', async (t) => {
  const said = (store: object) => crossChecks({ network: '198.18.0.0/16', store: { type: 'etcd', ...store } }).map((p) => formatProblem(p, new Map()));
  t.match(said({ endpoints: ['http://192.0.2.10:2379'], tls: { caFile: ca.cert } }), [
    /store\.endpoints\[0\]: is not allowed; allowed: an https:\/\/ URL: store\.tls is set, and the certificates are only used over TLS \(got "http:\/\/192\.0\.2\.10:2379"\)/,
  ]);
  t.match(said({ endpoints: [ENDPOINT], tls: { certFile: client.cert } }), [
    /store\.tls\.keyFile: is missing: store\.tls\.certFile needs the key of its certificate/,
  ]);
  t.match(said({ endpoints: [ENDPOINT], username: 'node1' }), [/store\.passwordFile: is missing: store\.username needs a password/]);
  t.match(said({ endpoints: [ENDPOINT], passwordFile: '/x' }), [/store\.username: is missing/]);
  t.match(said({ endpoints: [ENDPOINT, 'http://192.0.2.11:2379'] }), [/store\.endpoints: mixes http:\/\/ and https:\/\//]);
  t.same(said({ endpoints: [ENDPOINT], tls: { caFile: ca.cert, certFile: client.cert, keyFile: client.key } }), [], 'a complete set is fine');
});

t.test('config check reads the files: readable, PEM, the key of the certificate', async (t) => {
  writeFileSync(join(dir, 'empty-pw'), '\n');
  const said = async (store: object) =>
    (await hostChecks({ network: '198.18.0.0/16', backend: { type: 'vxlan' }, store: { type: 'etcd', endpoints: [ENDPOINT], ...store } })).problems
      .filter((p) => p.path[0] === 'store')
      .map((p) => formatProblem(p, new Map()));
  t.match(await said({ tls: { caFile: client.key } }), [/store\.tls\.caFile: holds a private key, not a certificate \(got ".*client\.key"\)/]);
  t.match(await said({ tls: { caFile: join(dir, 'missing.pem') } }), [/store\.tls\.caFile: cannot be read: no such file \(got ".*missing\.pem"\)/]);
  t.match(await said({ tls: { caFile: ca.cert, certFile: client.cert, keyFile: other.key } }), [
    /store\.tls\.keyFile: is not the key of the certificate in store\.tls\.certFile \(.*client\.pem\) \(got ".*other\.key"\)/,
  ]);
  t.match(await said({ tls: { caFile: ca.cert, certFile: ca.key, keyFile: client.key } }), [/store\.tls\.certFile: holds a private key, not a certificate/]);
  t.match(await said({ username: 'u', passwordFile: join(dir, 'empty-pw') }), [/store\.passwordFile: is empty: it must hold the password/]);
  t.same(await said({ tls: { caFile: ca.cert, certFile: client.cert, keyFile: client.key } }), [], 'good files pass');
});
