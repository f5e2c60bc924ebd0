// `tulle config check` says what `tulle run` will do: for each configuration
// that run refuses (or would have run while ignoring part of it), both are
// run on the same file, on the same host, and must refuse it with the same
// exit code and the same words.
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { tulle } from './helpers/daemon.js';

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-config-run-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const [h] = switchedHosts(lab, ['cr']);
  const key = randomBytes(32).toString('base64');
  writeFileSync(join(dir, 'not-a-ca.pem'), 'not a certificate\n');
  const base = { network: '198.18.0.0/16', underlay: { address: h.underlay }, backend: { type: 'vxlan' }, stateDir: join(dir, 'state') };
  const cases: { name: string; config: object; says: RegExp }[] = [
    {
      name: 'an etcd CA file that is not a certificate',
      config: { ...base, store: { type: 'etcd', endpoints: ['https://192.0.2.10:2379'], tls: { caFile: join(dir, 'not-a-ca.pem') } } },
      says: /store\.tls\.caFile: is not a PEM certificate \(no -----BEGIN CERTIFICATE----- block\)/,
    },
    {
      name: 'ipv6Network with the gossip store',
      config: { ...base, ipv6Network: '2001:db8:18::/48', store: { type: 'gossip', key } },
      says: /ipv6Network.*needs a store that allocates IPv6 subnets \(static, etcd\): the gossip store allocates none yet/,
    },
    {
      name: 'ipv6Subnet with the etcd store',
      config: {
        ...base,
        network: undefined,
        ipv6Network: '2001:db8:18::/48',
        ipv6Subnet: '2001:db8:18:1::/64',
        store: { type: 'etcd', endpoints: ['http://192.0.2.10:2379'] },
      },
      says: /ipv6Subnet.*fixes this host's IPv6 subnet, which only the static store does \(store\.type is etcd\)/,
    },
    {
      name: 'gossip seeds that name only this host',
      config: { ...base, store: { type: 'gossip', key, peers: [h.underlay] } },
      says: /store\.peers.*name only this host's own address 192\.0\.2\.1:7946/,
    },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const file = join(dir, `${c.name.replace(/\W+/g, '-')}.yaml`);
      writeFileSync(file, stringify(c.config));
      const check = tulle(h.ns, ['config', 'check', file]);
      const run = tulle(h.ns, ['run', '-c', file]);
      t.equal(check.status, 2, 'config check: invalid (exit 2)');
      t.match(check.stderr.replace(/\s+/g, ' '), c.says, 'config check names the problem'); // long lines are folded
      t.equal(run.status, check.status, 'run refuses it with the same exit code');
      t.equal(run.stderr, check.stderr, 'and the same words');
    });
  }
}
