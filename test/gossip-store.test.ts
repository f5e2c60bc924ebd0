// The gossip store as the daemon sees it: the leases it hands over.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { GossipStore } from '../src/gossip/gossip-store.js';
import type { BackendType } from '../src/lease/lease.js';

const network = (backendType: BackendType) => ({
  network: '198.18.0.0/16',
  subnetLen: 24,
  subnetMin: '198.18.1.0',
  subnetMax: '198.18.255.0',
  backendType,
});

async function ownLease(t: Test, backendType: BackendType) {
  const store = await GossipStore.open({
    bind: '127.0.0.1:0',
    hostId: `h-${backendType}`,
    keys: [randomBytes(32).toString('base64')],
    label: 'test',
    network: network(backendType),
    preset: 'local',
  });
  t.teardown(() => store.close());
  const backendData = backendType === 'vxlan' ? { VtepMAC: '02:00:5e:00:53:01', VNI: 1 } : {};
  return store.acquire({ publicIP: '192.0.2.1', backendType, backendData });
}

// Only tulle hosts gossip, and they always send UDP checksums: a receiver trusts them as it trusts a
// static peer with `udpChecksum: true`, instead of verifying every inner TCP segment again.
t.test('leases from gossip say that their host checksums its datagrams', async (t) => {
  for (const backendType of ['udp', 'vxlan'] as const) {
    const lease = await ownLease(t, backendType);
    t.equal(lease.backendData.UDPChecksum, true, `${backendType}: UDPChecksum`);
  }
  const hostGw = await ownLease(t, 'host-gw');
  t.equal(hostGw.backendData.UDPChecksum, undefined, 'host-gw sends no datagrams: no flag');
});

// Two hosts that announce one public IP (Vagrant's NAT address on eth0): the second refuses its lease,
// naming the address, the other host and the flags that fix it.
t.test('a host refuses a lease when another live host announces its public IP', async (t) => {
  const keys = [randomBytes(32).toString('base64')];
  const first = await GossipStore.open({ bind: '127.0.0.1:0', hostId: 'twin-1', keys, label: 'twins', network: network('udp'), preset: 'local' });
  t.teardown(() => first.close());
  const own = await first.acquire({ publicIP: '203.0.113.15', backendType: 'udp', backendData: {} });
  const second = await GossipStore.open({
    bind: '127.0.0.1:0',
    seeds: [first.address],
    hostId: 'twin-2',
    keys,
    label: 'twins',
    network: network('udp'),
    preset: 'local',
  });
  t.teardown(() => second.close());
  await t.rejects(
    second.acquire({ publicIP: '203.0.113.15', backendType: 'udp', backendData: {} }),
    new RegExp(
      `another host \\(gossip host id twin-1\\) already announces public IP 203\\.0\\.113\\.15 with ${own.subnet.replace(/\./g, '\\.')}.*--iface or --public-ip`,
    ),
  );
  t.equal(second.ownLease(), undefined, 'no lease taken');
  const third = await GossipStore.open({
    bind: '127.0.0.1:0',
    seeds: [first.address],
    hostId: 'other',
    keys,
    label: 'twins',
    network: network('udp'),
    preset: 'local',
  });
  t.teardown(() => third.close());
  const lease = await third.acquire({ publicIP: '203.0.113.16', backendType: 'udp', backendData: {} });
  t.not(lease.subnet, own.subnet, 'a host with its own address gets a lease');
});

t.test("seeds that name only the host's own address are refused", async (t) => {
  await t.rejects(
    GossipStore.open({
      bind: '127.0.0.1:7999',
      seeds: ['127.0.0.1:7999'],
      hostId: 'alone',
      keys: [randomBytes(32).toString('base64')],
      label: 'x',
      network: network('udp'),
    }),
    /gossip seeds: 127\.0\.0\.1:7999 name only this host's own address 127\.0\.0\.1:7999\. .*--iface or --public-ip/,
  );
});

t.test('two hosts that met only after both took a lease with one public IP: health says so, naming the other', async (t) => {
  const keys = [randomBytes(32).toString('base64')];
  const logged: string[] = [];
  const a = await GossipStore.open({
    bind: '127.0.0.1:0',
    hostId: 'early',
    keys,
    label: 'late-twins',
    network: network('udp'),
    preset: 'local',
    log: (level, msg) => logged.push(`${level} ${msg}`),
  });
  t.teardown(() => a.close());
  const b = await GossipStore.open({ bind: '127.0.0.1:0', hostId: 'late', keys, label: 'late-twins', network: network('udp'), preset: 'local' });
  t.teardown(() => b.close());
  await a.acquire({ publicIP: '203.0.113.15', backendType: 'udp', backendData: {} });
  await b.acquire({ publicIP: '203.0.113.15', backendType: 'udp', backendData: {} });
  t.equal(a.health().state, 'degraded', 'alone at first (no seeds)');
  t.notMatch(a.health().detail ?? '', /another host/);
  b.node.startSync(a.address, false);
  for (let i = 0; i < 100 && !/another host/.test(a.health().detail ?? ''); i++) await new Promise((r) => setTimeout(r, 50));
  t.match(a.health(), {
    state: 'degraded',
    detail: /another host \(gossip host id late\) announces this host's own public IP 203\.0\.113\.15.*--iface or --public-ip/,
  });
  t.ok(
    logged.some((l) => /^error another host \(gossip host id late\)/.test(l)),
    'logged',
  );
  a.health();
  t.equal(logged.filter((l) => l.startsWith('error another host')).length, 1, 'not again');
});
