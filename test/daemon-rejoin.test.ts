// Four tulle hosts on the gossip store; h1's only seed is h2, and h1 boots
// while its gossip is dropped (nftables in h1's namespace). It times out its
// join and leases a subnet from an empty view: in a pool of exactly four
// subnets it is booted again until that subnet is one another host holds, a
// double allocation. After the heal (the rule deleted) h1 must find its seed
// again: within a bounded time every host sees all four leases and no
// subnet is held by two hosts. A host whose own lease loses the conflict
// exits 1 (as when a store revokes its lease); the test restarts it, as a
// supervisor would, and it comes back with the subnet the conflict moved it to.
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';

const PORT = 7946;
/** Booting h1 again until its subnet collides: each boot collides with probability 3/4. */
const MAX_BOOTS = 10;
/** Time allowed after the heal until every host agrees (the fix needs well under 30 s; the issue saw none in 70 s). */
const CONVERGE_MS = 90_000;

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-daemon-rejoin-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const hosts = switchedHosts(lab, ['j1', 'j2', 'j3', 'j4']);
  const key = randomBytes(32).toString('base64');
  const file = (i: number) => join(dir, `host-${i}.yaml`);
  const stateDir = (i: number) => join(dir, `state-${i}`);
  for (const [i, h] of hosts.entries()) {
    writeFileSync(
      file(i),
      stringify({
        network: '198.18.0.0/16',
        subnetMin: '198.18.1.0',
        subnetMax: '198.18.4.0',
        underlay: { address: h.underlay },
        backend: { type: 'udp' },
        // h2 is everyone's only seed; it has none itself.
        store: { type: 'gossip', key, preset: 'local', port: PORT, peers: i === 1 ? [] : [hosts[1].underlay] },
        stateDir: stateDir(i),
      }),
    );
  }
  const partition = () =>
    lab.exec(hosts[0].ns, ['nft', '-f', '-'], {
      input: `table inet rejoin {
  chain input { type filter hook input priority 0; policy accept; udp dport ${PORT} counter drop; }
  chain output { type filter hook output priority 0; policy accept; udp dport ${PORT} counter drop; }
}
`,
    });
  const heal = () => lab.exec(hosts[0].ns, ['nft', 'delete', 'table', 'inet', 'rejoin']);
  const dropped = () =>
    [...lab.exec(hosts[0].ns, ['nft', 'list', 'table', 'inet', 'rejoin']).matchAll(/counter packets (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);

  t.test('a host booted while its only seed is unreachable rejoins after the heal', async (t) => {
    const daemons: (RunningDaemon | undefined)[] = [undefined, undefined, undefined, undefined];
    const exits: string[] = [];
    t.teardown(async () => {
      for (const d of daemons) if (d && d.child.exitCode === null) await d.stop();
    });
    const start = async (i: number) => (daemons[i] = await startDaemon(lab, hosts[i].ns, file(i), stateDir(i)));
    const subnetOf = async (i: number) => (await daemons[i]!.status()).subnet;

    // h2, then h3 and h4 through it: three distinct leases, known to all three.
    for (const i of [1, 2, 3]) await start(i);
    const three = async () => (await Promise.all([1, 2, 3].map(async (i) => (await daemons[i]!.leases()).length))).every((n) => n === 3);
    for (let i = 0; i < 200 && !(await three()); i++) await sleep(100);
    t.ok(await three(), 'h2, h3, h4 each see three leases');
    const others = await Promise.all([1, 2, 3].map(subnetOf));
    t.equal(new Set(others).size, 3, `h2, h3, h4 hold ${others.join(', ')}`);

    // h1 boots cut off from its seed, until it has leased a subnet another host holds.
    partition();
    let boots = 0;
    let mine = '';
    for (; boots < MAX_BOOTS;) {
      rmSync(stateDir(0), { recursive: true, force: true });
      await start(0);
      boots++;
      mine = await subnetOf(0);
      if (others.includes(mine)) break;
      await daemons[0]!.stop();
    }
    t.ok(others.includes(mine), `h1 leased ${mine} (held by h${others.indexOf(mine) + 2}) from an empty view after ${boots} boot(s): a double allocation`);
    t.match(daemons[0]!.log(), /join: no seed agreed with our state in time/, 'h1 timed out its join');
    t.equal((await daemons[0]!.leases()).length, 1, 'h1 knows only its own lease');
    await sleep(15_000); // a partition long enough for any retry backoff to grow
    t.ok(dropped() > 0, `nftables dropped ${dropped()} of h1's gossip datagrams`);

    heal();
    const healedAt = Date.now();
    let agreed = false;
    let last = '';
    while (Date.now() - healedAt < CONVERGE_MS) {
      // A host whose lease lost the conflict stops (exit 1); start it again, as its supervisor would.
      for (const [i, d] of daemons.entries()) {
        if (d && d.child.exitCode !== null) {
          const why = /^tulle: (.*stopping, so that a restart acquires a new lease)$/m.exec(d.log())?.[1] ?? d.log().slice(-400);
          exits.push(`h${i + 1} exited ${d.child.exitCode} at +${((Date.now() - healedAt) / 1000).toFixed(1)} s: ${why}`);
          await start(i);
        }
      }
      try {
        const views = await Promise.all(daemons.map((d) => d!.leases()));
        const subnets = await Promise.all(daemons.map((_, i) => subnetOf(i)));
        const owners = new Map(subnets.map((s, i) => [s, hosts[i].underlay]));
        agreed = new Set(subnets).size === 4 && views.every((v) => v.length === 4 && v.every((l) => owners.get(l.subnet) === l.publicIP));
        last = views.map((v, i) => `h${i + 1} (${subnets[i]}) sees ${v.map((l) => `${l.subnet}@${l.publicIP}`).join(' ')}`).join('; ');
      } catch (error) {
        last = `a control request failed: ${(error as Error).message}`;
      }
      if (agreed) break;
      await sleep(250);
    }
    const took = (Date.now() - healedAt) / 1000;
    t.ok(
      agreed,
      agreed
        ? `every host sees all four leases, each subnet at one host, ${took.toFixed(1)} s after the heal`
        : `no agreement ${took.toFixed(1)} s after the heal: ${last}`,
    );
    t.comment(last);
    if (agreed) t.same(await Promise.all([1, 2, 3].map(subnetOf)), others, 'h2, h3, h4 kept their subnets');
    for (const e of exits) t.comment(e);
    // h1's claim is the later one, so h1 moves; its daemon follows by exiting (and being restarted).
    t.equal(exits.length, 1, 'one daemon stopped on the conflict');
    // The store reports the subnet as the earlier claim's now (one `added` event), so the daemon names its holder.
    t.match(exits[0] ?? '', /^h1 exited 1 .*the store gave this host's subnet \S+ to 192\.0\.2\.\d+/, 'h1, whose later claim lost the subnet');
  });
}
