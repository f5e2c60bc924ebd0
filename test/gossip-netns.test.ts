// Three hosts in namespaces on one bridge, gossiping over real UDP with 20%
// of inbound gossip datagrams dropped by nftables (numgen random): leases are
// distinct and known everywhere, a host that lost its state file gets its
// subnet back, a crash keeps the lease, a leave releases it.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startPeer, type Peer } from './helpers/gossip-peers.js';

const LOSS = 20;
const PORT = 7946;
const lab = rootLab(t);
if (lab) {
  const hosts = switchedHosts(lab, ['g1', 'g2', 'g3']);
  for (const h of hosts) {
    lab.exec(h.ns, ['nft', '-f', '-'], {
      input: `table inet gossiploss {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport ${PORT} numgen random mod 100 < ${LOSS} counter drop
  }
}
`,
    });
  }
  const state = mkdtempSync(join(tmpdir(), 'tulle-gossip-'));
  lab.onDispose(() => rmSync(state, { recursive: true, force: true }));
  const keys = [randomBytes(32).toString('base64')];
  const network = { network: '198.18.0.0/16', subnetLen: 24, subnetMin: '198.18.1.0', subnetMax: '198.18.20.0', backendType: 'udp' as const };
  const addr = (i: number) => `${hosts[i].underlay}:${PORT}`;
  const launch = (i: number) => (argv: string[]) => lab.spawn(hosts[i].ns, argv);
  const start = (i: number) =>
    startPeer(
      `g${i + 1}`,
      {
        bind: addr(i),
        seeds: hosts.map((_, j) => addr(j)).filter((_, j) => j !== i),
        keys,
        label: 'netns-test',
        network,
        preset: 'local',
        stateDir: join(state, `g${i + 1}`),
        publicIP: hosts[i].underlay,
      },
      launch(i),
    );
  const peers: Peer[] = [];
  const subnetOf = (p: Peer) => p.last('lease')!.subnet as string;
  t.teardown(async () => {
    await Promise.all(peers.map((p) => p.crash()));
  });

  t.test(`three hosts at ${LOSS}% inbound loss agree on three distinct leases`, async (t) => {
    for (let i = 0; i < 3; i++) peers.push(start(i));
    for (const p of peers) await p.until(() => p.last('lease') !== undefined, 20_000, 'lease');
    t.equal(new Set(peers.map(subnetOf)).size, 3, `distinct: ${peers.map(subnetOf).join(', ')}`);
    for (const p of peers) await p.until(() => p.table.size === 3, 20_000, 'three leases');
    for (const p of peers) t.same([...p.table].sort(), peers.map(subnetOf).sort(), `${p.name} routes all three`);
    // A few more protocol periods, then the loss must show in the nftables counters (~70 datagrams at 20%).
    await new Promise((r) => setTimeout(r, 3_000));
    let dropped = 0;
    for (const h of hosts) {
      const rules = lab.exec(h.ns, ['nft', 'list', 'table', 'inet', 'gossiploss']);
      dropped += Number(/counter packets (\d+)/.exec(rules)?.[1] ?? 0);
    }
    t.ok(dropped > 0, `nftables dropped ${dropped} gossip datagrams across the three hosts`);
    for (const p of peers) t.ok(p.running && p.table.size === 3, `${p.name} still holds all three leases`);
  });

  t.test('a host restarted without its state file gets its subnet back', async (t) => {
    const old = subnetOf(peers[1]);
    await peers[1].crash();
    rmSync(join(state, 'g2', 'lease.json'), { force: true });
    peers[1] = start(1);
    await peers[1].until(() => peers[1].last('lease') !== undefined, 20_000, 'lease');
    t.equal(subnetOf(peers[1]), old, `g2 got ${old} back from its peers`);
  });

  t.test('a crash keeps the lease; a leave releases it', async (t) => {
    const crashedSubnet = subnetOf(peers[2]);
    const leftSubnet = subnetOf(peers[1]);
    await peers[2].crash();
    await peers[1].stop();
    await peers[0].until(() => !peers[0].table.has(leftSubnet), 10_000, `release of ${leftSubnet}`);
    t.pass(`g1 dropped the released ${leftSubnet}`);
    t.ok(peers[0].table.has(crashedSubnet), `g1 still routes the crashed host's ${crashedSubnet}`);
  });
}
