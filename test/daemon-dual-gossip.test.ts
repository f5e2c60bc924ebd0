// A dual-stack overlay on each lease store: three tulle hosts on the vxlan backend with ipv6Network,
// IPv4 and IPv6 pings between every pair. On the gossip store each host allocates its IPv6 subnet as it
// does its IPv4 one, and keeps both across a kill -9 and a graceful restart.
import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { switchedHosts } from '../src/lab/topology.js';
import { contains, parseCidr } from '../src/util/cidr.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { DUAL_IPV6_NETWORK, dualStackConfig, grantedSubnets, pingBothFamilies, type DualStackStore } from './helpers/dual-stack.js';

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-daemon-dual-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const hosts = switchedHosts(lab, ['da', 'db', 'dc']);
  const routed = async (d: RunningDaemon) => (await d.leases()).filter((l) => l.state === 'routed').length;
  const converged = async (daemons: RunningDaemon[]) => {
    let counts: number[] = [];
    for (let i = 0; i < 150; i++) {
      counts = await Promise.all(daemons.map(routed));
      if (counts.every((n) => n === daemons.length - 1)) break;
      await sleep(100);
    }
    return counts;
  };

  const stores: DualStackStore[] = [{ type: 'static' }, { type: 'gossip', key: randomBytes(32).toString('base64') }];
  for (const store of stores) {
    t.test(`dual-stack on the ${store.type} store: ping and ping -6 between every pair`, async (t) => {
      const sub = join(dir, store.type);
      const start = (i: number) => {
        const file = join(sub, `host-${i}.yaml`);
        writeFileSync(file, stringify(dualStackConfig(store, hosts, i, sub)));
        return startDaemon(lab, hosts[i].ns, file, join(sub, `state-${i}`));
      };
      mkdirSync(sub, { recursive: true });
      const daemons: RunningDaemon[] = [];
      t.teardown(async () => {
        for (const d of daemons) if (d.child.exitCode === null && d.child.signalCode === null) await d.stop();
      });
      for (const i of hosts.keys()) daemons.push(await start(i));
      t.same(await converged(daemons), [2, 2, 2], 'each host routes to the two others');
      const subnets = daemons.map((d) => grantedSubnets(d.stateDir));
      const v6 = subnets.map((s) => s.ipv6Subnet);
      t.equal(new Set(v6.filter((s) => s !== undefined)).size, 3, `three IPv6 subnets (${v6.join(', ')})`);
      t.ok(
        v6.every((s) => s !== undefined && contains(parseCidr(DUAL_IPV6_NETWORK), parseCidr(s))),
        `inside ${DUAL_IPV6_NETWORK}`,
      );
      pingBothFamilies(t, lab, hosts, subnets);
      const env = readFileSync(join(sub, 'state-0', 'subnet.env'), 'utf8');
      t.match(env, `FLANNEL_IPV6_NETWORK=${DUAL_IPV6_NETWORK}\n`, 'subnet.env: the IPv6 network');
      t.match(env, `FLANNEL_IPV6_SUBNET=${subnets[0].ipv6Subnet!.replace('::/', '::1/')}\n`, "and the IPv6 subnet's first host address");
      if (store.type !== 'gossip') return;

      // kill -9: nothing released, nothing said; the host comes back with the subnets its state dir keeps.
      t.equal(await daemons[2].stop('SIGKILL'), null, 'host c killed');
      daemons[2] = await start(2);
      t.same(await converged(daemons), [2, 2, 2], 'after kill -9, routed again');
      t.same(grantedSubnets(daemons[2].stateDir), subnets[2], 'the same IPv4 and IPv6 subnets after kill -9');
      pingBothFamilies(t, lab, hosts, subnets, 'after kill -9: ');

      // A graceful stop releases the lease; a restart reclaims both subnets while they are free.
      t.equal(await daemons[1].stop(), 0, 'host b stops cleanly');
      daemons[1] = await start(1);
      t.same(await converged(daemons), [2, 2, 2], 'after a graceful restart, routed again');
      t.same(grantedSubnets(daemons[1].stateDir), subnets[1], 'the same IPv4 and IPv6 subnets after a graceful restart');
      pingBothFamilies(t, lab, hosts, subnets, 'after a restart: ');
    });
  }
}
