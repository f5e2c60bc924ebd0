// The etcd store over TLS with client certificates and etcd's own
// authentication, against real etcd servers started here with certificates
// openssl makes for the test: it connects with a CA, a client certificate
// and key; each mistake (a CA that did not sign the server, an expired or
// foreign client certificate, none at all, a server certificate for another
// name, a wrong password, files that are not PEM) ends open() or the first
// call within seconds with a sentence naming the setting and the file, not a
// gRPC trace; and new certificates and a new password file are taken on
// reload without losing the lease, while invalid or refused ones leave the
// running connection as it was.
import t, { type Test } from 'tap';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdServer, haveEtcd } from './helpers/etcd-server.js';
import { TestCerts, haveOpenssl } from './helpers/test-certs.js';
import { EtcdStore, type EtcdStoreOptions } from '../src/etcd/index.js';
import type { LeaseAttrs, LeaseEvent } from '../src/lease/lease.js';

if (!haveEtcd() || !haveOpenssl()) {
  t.fail('etcd, etcdctl and openssl are needed (Debian: apt-get install etcd-server etcd-client openssl)');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'tulle-etcd-tls-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certs = new TestCerts(dir);
const ca = certs.ca('ca');
const otherCa = certs.ca('other-ca');
const serverCert = certs.leaf('server', ca, 'etcd', 'IP:127.0.0.1');
const client = certs.leaf('client', ca, 'tulle', 'DNS:tulle.example', { days: 5 });
const rotated = certs.leaf('client-rotated', ca, 'tulle', 'DNS:tulle.example', { days: 9 });
const foreignClient = certs.leaf('client-foreign', otherCa, 'tulle', 'DNS:tulle.example');
const expired = certs.leaf('client-expired', ca, 'tulle', 'DNS:tulle.example', { start: '20200101000000Z', end: '20200102000000Z' });
const misnamed = certs.leaf('server-misnamed', ca, 'other.example', 'DNS:other.example');
const tlsOf = (c: { cert: string; key: string }, caFile = ca.cert) => ({ caFile, certFile: c.cert, keyFile: c.key });

const server = await EtcdServer.start({ tls: { ...serverCert, ca: ca.cert, clientCertAuth: true, client } });
t.teardown(() => server.dispose());

const NETWORK = '{"Network":"198.18.0.0/16","SubnetLen":24,"Backend":{"Type":"vxlan"}}';
let prefixes = 0;
function freshPrefix(): string {
  const prefix = `/tulle-tls-${++prefixes}/network`;
  server.etcdctl('put', `${prefix}/config`, NETWORK);
  return prefix;
}

// A TLS handshake, a login and a call within the deadline on a loaded machine: 5 s, as the daemon has.
const FAST = { pingIntervalMs: 200, callTimeoutMs: 5000, retryInitialMs: 100, retryMaxMs: 500 };
const attrs = (n: number): LeaseAttrs => ({ publicIP: `192.0.2.${n}`, backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: `02:00:5e:00:53:0${n}` } });

async function open(t: Test, options: Partial<EtcdStoreOptions>, endpoint = server.endpoint) {
  const logs: string[] = [];
  const store = await EtcdStore.open({ endpoints: [endpoint], ...FAST, log: (line) => logs.push(line), ...options });
  t.teardown(() => store.close());
  return { store, logs };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The error the first call (or open itself) ends with, and how long it took. */
async function firstFailure(t: Test, options: Partial<EtcdStoreOptions>, endpoint = server.endpoint): Promise<{ message: string; ms: number }> {
  const started = Date.now();
  try {
    const { store } = await open(t, { prefix: '/tulle-tls-bad/network', ...options }, endpoint);
    await store.networkConfig();
  } catch (error) {
    return { message: (error as Error).message, ms: Date.now() - started };
  }
  throw new Error('expected a failure');
}

function noTrace(t: Test, message: string): void {
  t.notMatch(message, /UNAVAILABLE|\n\s+at |rec_layer|Resolution note|Please report/, 'no gRPC status, stack or OpenSSL trace');
}

t.test('with the CA, a client certificate and key: leases and watches work over TLS', async (t) => {
  const prefix = freshPrefix();
  const { store, logs } = await open(t, { prefix, credentials: { tls: tlsOf(client) } });
  const lease = await store.acquire(attrs(1));
  t.match(lease.subnet, /^198\.18\.\d+\.0\/24$/, `a subnet (${lease.subnet})`);
  const events: LeaseEvent[] = [];
  const stop = store.watch((batch) => events.push(...batch));
  t.teardown(stop);
  await waitFor('the own lease in the watch', () => events.some((e) => e.lease.subnet === lease.subnet));
  t.match(logs.join('\n'), new RegExp(`etcd: connected \\(${server.endpoint.replace(/[.]/g, '\\.')}\\)`), 'connected over https');
});

t.test('each mistake gives one sentence naming the setting and the file, within seconds', async (t) => {
  const cases: { name: string; options: Partial<EtcdStoreOptions>; says: RegExp }[] = [
    {
      name: 'a CA that did not sign the server',
      options: { credentials: { tls: tlsOf(client, otherCa.cert) } },
      says: new RegExp(`the etcd server certificate at https://127\\.0\\.0\\.1:\\d+ is not signed by the CA in store\\.tls\\.caFile \\(${otherCa.cert}\\)`),
    },
    {
      name: 'an expired client certificate',
      options: { credentials: { tls: tlsOf(expired) } },
      says: new RegExp(`store\\.tls\\.certFile \\(${expired.cert}\\): the client certificate expired on 2020-01-02T00:00:00\\.000Z`),
    },
    {
      name: 'a client certificate from a CA etcd does not trust',
      options: { credentials: { tls: tlsOf(foreignClient) } },
      says: new RegExp(
        `etcd at https://127\\.0\\.0\\.1:\\d+ refused the client certificate store\\.tls\\.certFile \\(${foreignClient.cert}\\): it is not signed by a CA etcd trusts`,
      ),
    },
    {
      name: 'no client certificate where etcd requires one',
      options: { credentials: { tls: { caFile: ca.cert } } },
      says: /etcd at https:\/\/127\.0\.0\.1:\d+ requires a client certificate \(its --client-cert-auth\): give store\.tls\.certFile and store\.tls\.keyFile/,
    },
    {
      name: 'a key that is not the certificate’s',
      options: { credentials: { tls: { caFile: ca.cert, certFile: client.cert, keyFile: rotated.key } } },
      says: new RegExp(`store\\.tls\\.keyFile \\(${rotated.key}\\): is not the key of the certificate in store\\.tls\\.certFile \\(${client.cert}\\)`),
    },
    {
      name: 'a CA file that is not PEM',
      options: { credentials: { tls: tlsOf(client, client.key) } },
      says: new RegExp(`store\\.tls\\.caFile \\(${client.key}\\): holds a private key, not a certificate`),
    },
    {
      name: 'a CA file that does not exist',
      options: { credentials: { tls: tlsOf(client, join(dir, 'nope.pem')) } },
      says: /store\.tls\.caFile \(.*nope\.pem\): cannot be read: no such file/,
    },
    {
      name: 'certificates with an http:// endpoint',
      options: { endpoints: [server.endpoint.replace('https', 'http')], credentials: { tls: tlsOf(client) } },
      says: /endpoints\[0\]: "http:\/\/127\.0\.0\.1:\d+" is not allowed; allowed: an https:\/\/ URL: store\.tls is set/,
    },
  ];
  for (const c of cases) {
    const { message, ms } = await firstFailure(t, c.options);
    t.match(message, c.says, c.name);
    noTrace(t, message);
    t.ok(ms < 10_000, `${c.name}: refused in ${ms} ms, not retried forever`);
  }
});

t.test('a server certificate for another name', async (t) => {
  // The helper's health check skips the name here, or it could not see this etcd start either.
  const misnamedServer = await EtcdServer.start({ tls: { ...misnamed, ca: ca.cert, clientCertAuth: true, client, skipNameCheck: true } });
  t.teardown(() => misnamedServer.dispose());
  const { message, ms } = await firstFailure(t, { credentials: { tls: tlsOf(client) } }, misnamedServer.endpoint);
  t.match(message, /the etcd server certificate at https:\/\/127\.0\.0\.1:\d+ is for 'other\.example', not 127\.0\.0\.1/);
  noTrace(t, message);
  t.ok(ms < 10_000, `refused in ${ms} ms`);
});

t.test('etcd authentication: the password from a file; a wrong one is named', async (t) => {
  const auth = await EtcdServer.start({ tls: { ...serverCert, ca: ca.cert, clientCertAuth: true, client } });
  t.teardown(() => auth.dispose());
  const prefix = '/tulle-auth/network';
  auth.etcdctl('put', `${prefix}/config`, NETWORK);
  auth.etcdctl('user', 'add', 'root:rootpw');
  auth.etcdctl('role', 'add', 'flannel');
  auth.etcdctl('role', 'grant-permission', 'flannel', '--prefix=true', 'readwrite', `${prefix}/`);
  auth.etcdctl('user', 'add', 'node1:s3cret');
  auth.etcdctl('user', 'grant-role', 'node1', 'flannel');
  auth.etcdctl('auth', 'enable');
  auth.etcdctlUser = 'root:rootpw';
  const passwordFile = join(dir, 'etcd-password');
  writeFileSync(passwordFile, 's3cret\n', { mode: 0o600 });
  const credentials = { tls: tlsOf(client), username: 'node1', passwordFile };

  const { store } = await open(t, { prefix, credentials }, auth.endpoint);
  const lease = await store.acquire(attrs(2));
  t.match(auth.etcdctl('get', '--prefix', `${prefix}/subnets/`, '--keys-only'), lease.subnet.replace('/', '-'), 'the lease written as node1');

  writeFileSync(join(dir, 'wrong-password'), 'guess\n');
  const wrong = await firstFailure(t, { prefix, credentials: { ...credentials, passwordFile: join(dir, 'wrong-password') } }, auth.endpoint);
  t.match(
    wrong.message,
    new RegExp(`etcd authentication failed for user 'node1': wrong user name or password \\(store\\.passwordFile \\(${join(dir, 'wrong-password')}\\)\\)`),
  );
  noTrace(t, wrong.message);
  t.notMatch(wrong.message, /guess/, 'the password is not shown');

  const denied = await firstFailure(t, { prefix: '/elsewhere/network', credentials }, auth.endpoint);
  t.match(denied.message, /etcd refused user 'node1': permission denied; it needs a role with readwrite on \/elsewhere\/network\//);

  // The password changes in etcd: the running store fails, then a reload with the new file puts it right.
  auth.etcdctl('user', 'delete', 'node1');
  auth.etcdctl('user', 'add', 'node1:n3w-s3cret');
  auth.etcdctl('user', 'grant-role', 'node1', 'flannel');
  writeFileSync(passwordFile, 'n3w-s3cret\n');
  t.match(await store.reloadCredentials(), /etcd credentials reloaded \(etcd took them/);
  t.equal(store.ownLease?.subnet, lease.subnet, 'the lease is kept');
  await store.networkConfig();
  t.pass('calls work with the new password');
});

t.test('SIGHUP rotation: a new client certificate is taken, the lease kept, the watch resumed; bad ones are refused', async (t) => {
  const prefix = freshPrefix();
  const live = { cert: join(dir, 'live-client.pem'), key: join(dir, 'live-client.key') };
  copyFileSync(client.cert, live.cert);
  copyFileSync(client.key, live.key);
  const { store, logs } = await open(t, { prefix, credentials: { tls: tlsOf(live) } });
  const lease = await store.acquire(attrs(3));
  const leaseIdBefore = leaseIdOf(prefix, lease.subnet);
  const events: LeaseEvent[] = [];
  const stop = store.watch((batch) => events.push(...batch));
  t.teardown(stop);
  await waitFor('the initial listing', () => events.length > 0);

  // The same paths, new contents: how certificates are rotated on disk.
  copyFileSync(rotated.cert, live.cert);
  copyFileSync(rotated.key, live.key);
  const said = await store.reloadCredentials();
  const until = new Date(Date.now() + 9 * 86_400_000).toISOString().slice(0, 10);
  t.match(said, new RegExp(`etcd credentials reloaded \\(etcd took them, client certificate valid until ${until}`), 'the new certificate (9 days) is in use');
  // The old client is closed once its calls had their deadline; everything goes on on the new one.
  await new Promise((r) => setTimeout(r, FAST.callTimeoutMs + 500));
  server.etcdctl(
    'put',
    `${prefix}/subnets/198.18.200.0-24`,
    '{"PublicIP":"192.0.2.200","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:5e:00:53:c8"}}',
  );
  await waitFor('a lease put after the reload, seen by the watch', () => events.some((e) => e.lease.subnet === '198.18.200.0/24'));
  t.equal(store.ownLease?.subnet, lease.subnet, 'the same subnet');
  t.equal(leaseIdOf(prefix, lease.subnet), leaseIdBefore, 'on the same etcd lease');
  t.notMatch(logs.join('\n'), /unreachable/, 'no outage was seen');

  // An invalid file: refused, the running client stays.
  writeFileSync(live.cert, 'not a certificate\n');
  await t.rejects(store.reloadCredentials(), new RegExp(`store\\.tls\\.certFile \\(${live.cert}\\): is not a PEM certificate`));
  // A valid certificate etcd does not take: refused by etcd, the running client stays.
  copyFileSync(foreignClient.cert, live.cert);
  copyFileSync(foreignClient.key, live.key);
  await t.rejects(
    store.reloadCredentials(),
    /the new etcd credentials are refused, the running connection stays: etcd at https:\/\/127\.0\.0\.1:\d+ refused the client certificate/,
  );
  server.etcdctl(
    'put',
    `${prefix}/subnets/198.18.201.0-24`,
    '{"PublicIP":"192.0.2.201","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:5e:00:53:c9"}}',
  );
  await waitFor('a lease put after the refused reloads', () => events.some((e) => e.lease.subnet === '198.18.201.0/24'));
  await store.networkConfig();
  t.pass('the store works on as before');
});

function leaseIdOf(prefix: string, subnet: string): string {
  const out = JSON.parse(server.etcdctl('get', `${prefix}/subnets/${subnet.replace('/', '-')}`, '-w', 'json')) as { kvs: { lease: number }[] };
  return String(out.kvs[0].lease);
}
