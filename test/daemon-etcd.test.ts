// Three tulle hosts on leases from a real etcd in flannel's key layout: the
// network written the way flannel's tools write it, each host acquiring a
// subnet, routes following the leases, traffic across; etcd going away and
// coming back while the data plane keeps forwarding on the leases it knows.
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { LabEtcd } from './helpers/lab-etcd.js';
import { trafficTools } from './helpers/tools.js';

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-daemon-etcd-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const hosts = switchedHosts(lab, ['ea', 'eb', 'ec', 'ed']);
  const etcdHost = hosts.pop()!;
  const etcd = new LabEtcd(lab, etcdHost, dir);
  const endpoint = etcd.endpoint;
  const etcdctl = (...args: string[]) => etcd.etcdctl(...args);
  const startEtcd = () => etcd.start();
  const ping = (ns: string, to: string) => lab.exec(ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', to], { allowFailure: true });
  const { tcpTransfer } = trafficTools(lab);

  t.test('three hosts on etcd-backed leases', async (t) => {
    await startEtcd();
    // What flannel's docs tell an operator to write; vxlan without a port means Linux's 8472, as in flannel.
    etcdctl('put', '/coreos.com/network/config', '{"Network":"198.18.0.0/16","SubnetLen":24,"Backend":{"Type":"vxlan"}}');
    const daemons: RunningDaemon[] = [];
    t.teardown(async () => {
      for (const d of daemons) await d.stop();
    });
    for (const [i, h] of hosts.entries()) {
      const file = join(dir, `host-${i}.yaml`);
      writeFileSync(
        file,
        stringify({
          underlay: { address: h.underlay },
          backend: { type: 'vxlan' },
          store: { type: 'etcd', endpoints: [endpoint] },
          stateDir: join(dir, `state-${i}`),
        }),
      );
      daemons.push(await startDaemon(lab, h.ns, file, join(dir, `state-${i}`)));
    }
    // Leases converge: every host routes to the two others.
    let routed: number[] = [];
    for (let i = 0; i < 50; i++) {
      routed = await Promise.all(daemons.map(async (d) => (await d.leases()).filter((l) => l.state === 'routed').length));
      if (routed.every((n) => n === 2)) break;
      await sleep(200);
    }
    t.same(routed, [2, 2, 2], 'each host routes to the two others');
    const subnets = await Promise.all(daemons.map(async (d) => (await d.status()).subnet));
    t.equal(new Set(subnets).size, 3, `three different subnets (${subnets.join(', ')})`);
    const keys = etcdctl('get', '--prefix', '/coreos.com/network/subnets/', '--keys-only').split('\n').filter(Boolean);
    t.equal(keys.length, 3, "three leases in etcd, in flannel's layout");
    const value = JSON.parse(etcdctl('get', keys[0], '--print-value-only')) as Record<string, unknown>;
    t.match(value, { PublicIP: /^192\.0\.2\./, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: /^[0-9a-f:]{17}$/ } }, "flannel's lease JSON");
    t.match(daemons[0].log(), /vxlan on 192\.0\.2\.1:8472/, "the port flannel's vxlan uses when the network names none");

    const address = (s: string) => s.split('/')[0];
    for (const [i, h] of hosts.entries()) {
      const to = subnets[(i + 1) % 3];
      t.match(ping(h.ns, address(to)), / 0% packet loss/, `${h.underlay} → ${to}`);
    }
    const { sent, received } = await tcpTransfer(hosts[0].ns, hosts[2].ns, address(subnets[2]), 7796, 16 << 20);
    t.equal(received.sha256, sent.sha256, 'a verified TCP transfer across the overlay');

    // etcd goes away: the data plane keeps forwarding on the leases it knows, nothing is dropped from the table.
    await etcd.kill('SIGKILL');
    await sleep(1500);
    t.match(ping(hosts[1].ns, address(subnets[0])), / 0% packet loss/, 'with etcd gone, traffic still flows');
    t.same(await Promise.all(daemons.map(async (d) => (await d.leases()).length)), [3, 3, 3], 'and every host still knows three leases');
    await startEtcd();
    await sleep(1500);
    t.same(await Promise.all(daemons.map(async (d) => (await d.leases()).filter((l) => l.state === 'routed').length)), [2, 2, 2], 'etcd back: the same routes');
    t.match(ping(hosts[2].ns, address(subnets[1])), / 0% packet loss/, 'and traffic');
    t.equal(etcdctl('get', '--prefix', '/coreos.com/network/subnets/', '--keys-only').split('\n').filter(Boolean).length, 3, 'no lease lost in etcd');
  });
}
