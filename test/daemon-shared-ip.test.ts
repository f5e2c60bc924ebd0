// Two hosts whose default-route device holds the same address (Vagrant's NAT
// address on eth0), so both pick it as their public IP. Over etcd the second
// would reuse the first's lease (flannel finds its own lease by PublicIP) and
// both would run one subnet as their own; over gossip a host whose seeds name
// only that address would run alone. Each must refuse, naming the address,
// the other host, and --iface/--public-ip.
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { switchedHosts, type Host } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, tulle } from './helpers/daemon.js';
import { LabEtcd } from './helpers/lab-etcd.js';

const SHARED = '203.0.113.15';

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-daemon-shared-ip-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const [h1, h2, etcdHost] = switchedHosts(lab, ['va', 'vb', 'vetcd']);
  // Each twin's own "NAT" device with the shared address and the default route; eth0 still reaches etcd.
  const natted = (h: Host) => {
    // A veth pair with its peer left in the host: this kernel has no dummy devices (no loadable modules).
    lab.ip(h.ns, 'link', 'add', 'nat0', 'type', 'veth', 'peer', 'name', 'nat0-peer');
    lab.ip(h.ns, 'addr', 'add', `${SHARED}/24`, 'dev', 'nat0');
    lab.ip(h.ns, 'link', 'set', 'nat0-peer', 'up');
    lab.ip(h.ns, 'link', 'set', 'nat0', 'up');
    lab.ip(h.ns, 'route', 'add', 'default', 'dev', 'nat0');
  };
  natted(h1);
  natted(h2);
  const write = (name: string, config: object) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, stringify({ network: '198.18.0.0/16', backend: { type: 'vxlan' }, ...config, stateDir: join(dir, `state-${name}`) }));
    return file;
  };

  t.test("etcd: the second host with the same public IP refuses the first one's lease", async (t) => {
    const etcd = new LabEtcd(lab, etcdHost, dir);
    await etcd.start();
    t.teardown(() => etcd.kill());
    etcd.putNetwork('vxlan');
    const endpoint = etcd.endpoint;
    const etcdctl = (...args: string[]) => etcd.etcdctl(...args);
    const store = { type: 'etcd', endpoints: [endpoint] };
    const first = await startDaemon(lab, h1.ns, write('etcd-1', { store }), join(dir, 'state-etcd-1'));
    t.teardown(() => first.stop());
    const one = await first.status();
    t.equal(one.underlay.address, SHARED, `host 1 took ${SHARED} from its default-route device`);
    const second = tulle(h2.ns, ['run', '-c', write('etcd-2', { store })]);
    t.equal(second.status, 1, 'host 2 refuses to start');
    t.match(
      second.stderr,
      new RegExp(
        `another host \\(tulle host id [0-9a-f-]+\\) already announces public IP ${SHARED.replace(/\./g, '\\.')} with ${one.subnet.replace(/\./g, '\\.')}`,
      ),
      'naming the address, the other host and its subnet',
    );
    t.match(second.stderr, /--iface or --public-ip/, 'and the way out');
    t.notMatch(second.stderr, /^\s+at /m, 'no stack trace');
    const keys = etcdctl('get', '--prefix', '/coreos.com/network/subnets/', '--keys-only').split('\n').filter(Boolean);
    t.equal(keys.length, 1, "etcd still holds one lease, host 1's");
    t.equal((await first.status()).subnet, one.subnet, 'host 1 runs on, with its lease');
    // Host 1 restarting is still itself (its host id is in its state dir): it keeps its lease.
    t.equal(await first.stop('SIGKILL'), null);
    const again = await startDaemon(lab, h1.ns, join(dir, 'etcd-1.yaml'), join(dir, 'state-etcd-1'));
    t.equal((await again.status()).subnet, one.subnet, 'host 1, restarted, reuses its own lease');
    t.equal(await again.stop(), 0);
  });

  t.test("gossip: seeds that name only this host's own (shared) address are refused", async (t) => {
    const key = randomBytes(32).toString('base64');
    const first = await startDaemon(lab, h1.ns, write('g-1', { store: { type: 'gossip', key, preset: 'local', peers: [] } }), join(dir, 'state-g-1'));
    t.teardown(() => first.stop());
    const second = tulle(h2.ns, ['run', '-c', write('g-2', { store: { type: 'gossip', key, preset: 'local', peers: [SHARED] } })]);
    t.equal(second.status, 2, 'host 2 refuses to start instead of running alone (its configuration cannot work here)');
    t.match(
      second.stderr.replace(/\s+/g, ' '),
      new RegExp(`store\\.peers.*: ${SHARED.replace(/\./g, '\\.')}:7946 name only this host's own address`),
      'naming the address',
    );
    t.match(second.stderr.replace(/\s+/g, ' '), /--iface or --public-ip/, 'and the way out');
    t.notMatch(second.stderr, /^\s+at /m, 'no stack trace');
  });
}
