// Bad configurations on a real host (a namespace): `tulle run` and `tulle
// config check` name every problem at once and exit 2, and nothing on the
// host has changed — no TUN, no nftables table, no state written.
import t, { type Test } from 'tap';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { CLI, tulle } from './helpers/daemon.js';

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-config-check-'));
  chmodSync(dir, 0o755); // the unprivileged case below must be able to read its file
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const [h] = switchedHosts(lab, ['ch']);
  const state = join(dir, 'state');
  const good = {
    network: '198.18.0.0/16',
    subnet: '198.18.1.0/24',
    underlay: { address: h.underlay },
    backend: { type: 'udp' },
    stateDir: state,
    ipMasq: true,
  };
  let n = 0;
  const write = (config: object) => {
    const file = join(dir, `c${n++}.yaml`);
    writeFileSync(file, stringify(config));
    chmodSync(file, 0o644);
    return file;
  };

  /** The host as tulle would change it: links, nftables tables, the state dir. */
  const snapshot = () => ({
    links: lab
      .ip(h.ns, '-o', 'link', 'show')
      .split('\n')
      .map((l) => l.split(':')[1]?.trim())
      .filter(Boolean),
    nft: lab.exec(h.ns, ['nft', 'list', 'tables']).trim(),
    state: existsSync(state) ? readdirSync(state) : [],
  });
  const before = snapshot();

  /** `tulle run` with a bad file: exit 2 (4 when not root), the problems, and the host as it was. */
  const refused = (t: Test, config: object, expected: (string | RegExp)[], options: { prefix?: string[]; env?: NodeJS.ProcessEnv } = {}, runStatus = 2) => {
    const file = write(config);
    const run = tulle(h.ns, ['run', '-c', file], options);
    t.equal(run.status, runStatus, `tulle run: exit ${runStatus}`);
    const lines = run.stderr.trim().split('\n');
    t.equal(lines[0], 'tulle: invalid configuration:');
    const problems = lines.slice(1).map((l) => l.replace(/^ {2}- /, ''));
    t.equal(problems.length, expected.length, `${expected.length} problem(s): ${problems.join(' | ')}`);
    expected.forEach((e, i) => (typeof e === 'string' ? t.equal(problems[i], e) : t.match(problems[i], e)));
    t.same(snapshot(), before, 'nothing changed on the host: no TUN, no nft table, no state');
    const check = tulle(h.ns, ['config', 'check', file], options);
    t.equal(check.status, 2, 'tulle config check: exit 2');
    t.equal(check.stderr, run.stderr, 'with the same report');
  };

  t.test('a good file: config check says OK, and nothing changes', async (t) => {
    const check = tulle(h.ns, ['config', 'check', write(good)]);
    t.equal(check.status, 0);
    t.match(check.stdout, /^OK: .*c\d+\.yaml is valid for this host$/m);
    t.same(snapshot(), before);
  });

  t.test('an invalid CIDR', async (t) =>
    refused(t, { ...good, network: '198.18.0.0/33' }, ['network: must be an IPv4 CIDR like 198.18.0.0/16 (prefix length 0 to 32) (got "198.18.0.0/33")']),
  );

  t.test('overlapping CIDRs', async (t) =>
    refused(
      t,
      {
        ...good,
        peers: [
          { subnet: '198.18.1.0/25', address: '192.0.2.2' },
          { subnet: '198.19.0.0/24', address: '198.18.7.7' },
        ],
      },
      [
        'peers[0].subnet: overlaps subnet (198.18.1.0/24): each subnet belongs to one host (got "198.18.1.0/25")',
        'peers[1].subnet: must be inside the network 198.18.0.0/16 (got "198.19.0.0/24")',
        'peers[1].address: is inside the overlay network 198.18.0.0/16: underlay and overlay must not overlap (got "198.18.7.7")',
      ],
    ),
  );

  t.test('the overlay overlapping a network the host is on', async (t) => {
    lab.ip(h.ns, 'addr', 'add', '198.19.9.9/15', 'dev', 'eth0');
    t.teardown(() => lab.ip(h.ns, 'addr', 'del', '198.19.9.9/15', 'dev', 'eth0'));
    refused(t, good, [
      'network: overlaps 198.18.0.0/15, the network of 198.19.9.9 on eth0: choose an overlay network this host is not on (got "198.18.0.0/16")',
    ]);
  });

  t.test('subnetLen out of range, or not longer than the network', async (t) => {
    refused(t, { ...good, subnet: undefined, subnetLen: 33 }, ['subnetLen: must be an integer from 1 to 32 (got 33)']);
    refused(t, { ...good, subnet: undefined, subnetLen: 12 }, ["subnetLen: must be longer than the network's prefix: 17 to 32 for 198.18.0.0/16 (got 12)"]);
  });

  t.test('a port in use', async (t) => {
    const holder = lab.spawn(h.ns, [
      process.execPath,
      '-e',
      `const s = require('node:dgram').createSocket('udp4'); s.bind(8285, ${JSON.stringify(h.underlay)}, () => console.log('bound'));`,
    ]);
    await new Promise((resolve) => holder.stdout!.once('data', resolve));
    t.teardown(() => {
      holder.kill();
    });
    refused(t, good, ['underlay.port: UDP port 8285 on 192.0.2.1 is in use by another program (8285 is the udp default); free it or choose another port']);
    refused(t, { ...good, underlay: { address: h.underlay, port: 8285 } }, [
      'underlay.port: UDP port 8285 on 192.0.2.1 is in use by another program; free it or choose another port (got 8285)',
    ]);
    const offHost = tulle(h.ns, ['config', 'check', '--no-host-checks', write(good)]);
    t.equal(offHost.status, 0, '--no-host-checks does not look at the host');
    t.match(offHost.stdout, /is valid$/m);
    await sleep(0);
  });

  t.test('a missing gossip key', async (t) =>
    refused(t, { ...good, subnet: undefined, store: { type: 'gossip', peers: ['192.0.2.2'] } }, [
      'store.key: is missing: the gossip store needs a shared key (store.key, store.keyFile or TULLE_GOSSIP_KEY), at least 16 bytes as hex or base64',
    ]),
  );

  t.test('a keyring file: one key per line, each checked', async (t) => {
    const keys = join(dir, 'keys');
    const gossip = { ...good, subnet: undefined, store: { type: 'gossip', keyFile: keys, peers: ['192.0.2.2'] } };
    writeFileSync(keys, `${'ab'.repeat(32)}\nshort\n`);
    refused(t, gossip, [/^store\.keyFile: holds no usable key: key 2 of 2 must be at least 16 bytes/]);
    // Two good keys (the first signs, both verify: a rotation in progress) make a valid file.
    writeFileSync(keys, `${'ab'.repeat(32)}\n${'cd'.repeat(32)}\n`);
    const check = tulle(h.ns, ['config', 'check', write(gossip)]);
    t.equal(check.status, 0, `a file of two keys is valid: ${check.stderr}`);
  });

  t.test('no permission for /dev/net/tun (an unprivileged user)', async (t) => {
    refused(
      t,
      good,
      [
        '(top level): tulle needs CAP_NET_ADMIN to set up devices and routes: run it as root',
        /^tun: no permission to open \/dev\/net\/tun \(EACCES\): run tulle as root, or give it access to the device and CAP_NET_ADMIN$/,
        /^stateDir: .* is not writable \(EACCES\)/,
        // Without the test runner's coverage hooks (NODE_OPTIONS), which would write where this user may not.
      ],
      { prefix: ['env', '-u', 'NODE_OPTIONS', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'] },
      4, // not root: the exit code every command gives (config check exits 2: it judges the configuration)
    );
  });

  t.test('all problems at once, from the file, a variable and a flag', async (t) => {
    const file = write({ ...good, backend: { type: 'vxlan', vni: 1 << 24 }, tun: { name: 'a-name-much-too-long' }, logLevel: 'chatty' });
    const r = tulle(h.ns, ['run', '-c', file, '--mtu', '20'], { env: { TULLE_IP_MASQ: 'perhaps' } });
    t.equal(r.status, 2);
    t.same(r.stderr.trim().split('\n').slice(1), [
      '  - backend.vni: must be an integer from 0 to 16777215 (got 16777216)',
      '  - tun.name: must be an interface name (at most 15 characters) (got "a-name-much-too-long")',
      '  - tun.mtu (--mtu): must be an integer from 68 to 65535 (got 20)',
      '  - ipMasq (TULLE_IP_MASQ): must be true or false (got "perhaps")',
      '  - logLevel: must be one of fatal, error, warn, info, debug, trace, silent (got "chatty")',
    ]);
    t.same(snapshot(), before);
  });

  t.test('an etcd that does not answer: tulle waits for it, changes nothing, and stops cleanly', async (t) => {
    const child = lab.spawn(h.ns, [
      process.execPath,
      CLI,
      'run',
      '-c',
      write({ ...good, subnet: undefined, store: { type: 'etcd', endpoints: ['http://192.0.2.10:2379'] } }),
    ]);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    for (let i = 0; i < 100 && !/etcd: unreachable/.test(stderr); i++) await sleep(100);
    t.match(stderr, /etcd: unreachable \(.*\); keeping the known leases, retrying/, 'it says what it waits for');
    t.same(snapshot(), before, 'and has changed nothing on the host');
    child.kill('SIGTERM');
    t.equal(await exited, 0, 'SIGTERM ends the wait with exit 0');
    t.same(snapshot(), before);
  });
}
