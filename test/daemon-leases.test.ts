// From leases to routes, without a kernel: the static store, the route plan
// (own, routed, expired, skipped and why), the router following event
// batches and expirations, the engine's peers and templates, and the text
// the daemon writes for the host (subnet.env, Docker options, nft rules).
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import * as wire from '@tulle/wire';
import type { Lease, LeaseEvent, NetworkConfig } from '../src/lease/lease.js';
import { NEVER_EXPIRES, StaticStore } from '../src/lease/static-store.js';
import { planRoutes, type PlanContext, type Target } from '../src/daemon/lease-routes.js';
import { LeaseRouter, type RouteSink } from '../src/daemon/lease-router.js';
import { EngineSink, engineRoutes } from '../src/daemon/engine-sink.js';
import { RouteReader, RouteSnapshot } from '../src/engine/routes.js';
import { dockerOpts, subnetEnv } from '../src/daemon/subnet-env.js';
import { masqueradeRules } from '../src/daemon/masquerade.js';
import { parseRequest } from '../src/daemon/control-protocol.js';
import { formatLeases } from '../src/cli/format.js';
import { describeLease } from '../src/daemon/status-view.js';

const silent = pino({ level: 'silent' });
const NET: NetworkConfig = { network: '198.18.0.0/16', subnetLen: 24, subnetMin: '198.18.1.0', subnetMax: '198.18.255.0', backendType: 'vxlan' };
const lease = (subnet: string, publicIP: string, extra: Partial<Lease> = {}): Lease => ({
  subnet,
  publicIP,
  backendType: 'vxlan',
  backendData: { VtepMAC: '02:00:5e:00:53:02', VNI: 1 },
  expiration: NEVER_EXPIRES,
  ...extra,
});
const ctx: PlanContext = { ownSubnet: '198.18.1.0/24', backendType: 'vxlan', networkPort: 8472, vni: 1, ipv6Underlay: false, now: 1_000 };
/** A seeded generator (mulberry32), so a picked subnet is the same on every run. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
};

t.test('the plan: own, routed, expired and skipped leases, each with its reason', async (t) => {
  const plan = planRoutes(
    [
      lease('198.18.1.0/24', '192.0.2.1'),
      lease('198.18.2.0/24', '192.0.2.2', { expiration: 5_000 }),
      lease('198.18.3.0/24', '192.0.2.3', { backendData: { VtepMAC: '02:00:5e:00:53:03', Port: 4789, VNI: 9 } }),
      lease('198.18.4.0/24', '192.0.2.4', { expiration: 1_000 }),
      lease('198.18.5.0/24', '192.0.2.5', { backendType: 'udp' }),
      lease('198.18.6.0/24', '192.0.2.6', { backendData: {} }),
      lease('198.18.1.128/25', '192.0.2.7'),
      lease('198.18.8.0/24', '0.0.0.0', { publicIPv6: '2001:db8::8' }),
    ],
    ctx,
  );
  t.same(
    plan.targets,
    [
      { subnet: '198.18.2.0/24', address: '192.0.2.2', port: 8472, vtepMac: '02:00:5e:00:53:02', vni: 1 },
      { subnet: '198.18.3.0/24', address: '192.0.2.3', port: 4789, vtepMac: '02:00:5e:00:53:03', vni: 9 },
    ],
    "the network port unless the lease names one; the lease's VNI",
  );
  t.same(
    plan.statuses.map((s) => [s.lease.subnet, s.state, s.reason]),
    [
      ['198.18.1.0/24', 'own', undefined],
      ['198.18.2.0/24', 'routed', undefined],
      ['198.18.3.0/24', 'routed', undefined],
      ['198.18.4.0/24', 'expired', undefined],
      ['198.18.5.0/24', 'skipped', 'its backend is udp, ours vxlan'],
      ['198.18.6.0/24', 'skipped', 'it has no VtepMAC in its BackendData'],
      ['198.18.1.128/25', 'skipped', 'its subnet overlaps ours (198.18.1.0/24)'],
      ['198.18.8.0/24', 'skipped', 'it has no IPv4 public address'],
    ],
  );
  t.equal(plan.nextExpiry, 5_000, 'plan again when the first routed lease runs out');
  const v6 = planRoutes([lease('198.18.8.0/24', '0.0.0.0', { publicIPv6: '2001:db8::8' })], { ...ctx, ipv6Underlay: true });
  t.same(
    v6.targets.map((x) => x.address),
    ['2001:db8::8'],
    'an IPv6 underlay routes to publicIPv6',
  );

  // host-gw in a dual-stack network: the IPv6 subnet goes via the lease's PublicIPv6 (flannel's GetV6Route).
  const gw = { ...ctx, backendType: 'host-gw' as const, ipv6Network: '2001:db8:18::/48' };
  const hostgw = (extra: Partial<Lease>) =>
    lease('198.18.9.0/24', '192.0.2.9', { backendType: 'host-gw', backendData: {}, ipv6Subnet: '2001:db8:18:9::/64', ...extra });
  t.same(planRoutes([hostgw({ publicIPv6: '2001:db8:2::9' })], gw).targets, [
    { subnet: '198.18.9.0/24', address: '192.0.2.9', port: 8472, ipv6Subnet: '2001:db8:18:9::/64', address6: '2001:db8:2::9' },
  ]);
  const v4only = planRoutes([hostgw({})], gw);
  t.same(v4only.targets, [{ subnet: '198.18.9.0/24', address: '192.0.2.9', port: 8472 }], 'without a PublicIPv6, IPv4 only');
  t.same(
    v4only.statuses.map((s) => [s.state, s.reason]),
    [['routed', 'IPv4 only: its IPv6 subnet 2001:db8:18:9::/64 has no IPv6 public address to be routed via']],
    'and it says so',
  );
  t.notOk(
    'address6' in
      planRoutes([lease('198.18.9.0/24', '192.0.2.9', { ipv6Subnet: '2001:db8:18:9::/64', publicIPv6: '2001:db8:2::9' })], {
        ...ctx,
        ipv6Network: '2001:db8:18::/48',
      }).targets[0],
    'vxlan carries IPv6 over the one underlay',
  );
});

t.test('the router follows batches and never routes a lease past its expiration', async (t) => {
  const applied: Target[][] = [];
  const sink: RouteSink = { apply: (targets) => (applied.push([...targets]), new Map([['198.18.9.0/24', 'not adjacent']])) };
  const lost: string[] = [];
  const router = new LeaseRouter({ ...ctx }, sink, silent, { ownPublicIP: '192.0.2.1', onOwnLost: (why) => lost.push(why) });
  t.teardown(() => router.stop());
  const soon = Date.now() + 150;
  router.onBatch([
    { type: 'added', lease: lease('198.18.1.0/24', '192.0.2.1') },
    { type: 'added', lease: lease('198.18.2.0/24', '192.0.2.2', { expiration: soon }) },
    { type: 'added', lease: lease('198.18.9.0/24', '192.0.2.9') },
  ]);
  t.same(
    applied.at(-1)!.map((x) => x.subnet),
    ['198.18.2.0/24', '198.18.9.0/24'],
  );
  t.equal(router.routed, 1, 'a target the sink could not route does not count');
  t.same(router.statuses().find((s) => s.lease.subnet === '198.18.9.0/24')?.reason, 'not adjacent');
  router.onBatch([{ type: 'removed', lease: lease('198.18.9.0/24', '192.0.2.9') }]);
  t.same(
    applied.at(-1)!.map((x) => x.subnet),
    ['198.18.2.0/24'],
    'a removed lease is unrouted',
  );
  await sleep(400);
  t.same(applied.at(-1), [], 'once it expired, the lease is no longer routed, without any event from the store');
  t.equal(router.statuses().find((s) => s.lease.subnet === '198.18.2.0/24')?.state, 'expired');
  t.same(lost, [], 'the own lease is still ours');
  router.onBatch([{ type: 'added', lease: lease('198.18.1.0/24', '192.0.2.66') }]);
  router.onBatch([{ type: 'removed', lease: lease('198.18.1.0/24', '192.0.2.66') }]);
  t.same(
    lost,
    ["the store gave this host's subnet 198.18.1.0/24 to 192.0.2.66", "the store revoked this host's lease 198.18.1.0/24"],
    'a revoked own lease is reported',
  );
});

t.test('the static store: peers and the own lease in the first batch, then the own lease going on release', async (t) => {
  const store = new StaticStore({
    network: NET,
    subnet: '198.18.1.0/24',
    peers: [{ subnet: '198.18.2.0/24', address: '192.0.2.2', mac: '02:00:5e:00:53:02', port: 8472 }],
    vni: 3,
  });
  t.same(await store.networkConfig(), NET);
  const own = await store.acquire({
    publicIP: '192.0.2.1',
    backendType: 'vxlan',
    backendData: { VtepMAC: '02:00:5e:00:53:01', VNI: 3 },
    previousSubnet: '198.18.7.0/24',
  });
  t.equal(own.subnet, '198.18.1.0/24', 'a fixed subnet wins over the previous one');
  const batches: LeaseEvent[][] = [];
  const stop = store.watch((events) => batches.push(events));
  await sleep(0);
  t.same(
    batches[0].map((e) => [e.type, e.lease.subnet, e.lease.publicIP, e.lease.backendData]),
    [
      ['added', '198.18.2.0/24', '192.0.2.2', { VtepMAC: '02:00:5e:00:53:02', VNI: 3, Port: 8472 }],
      ['added', '198.18.1.0/24', '192.0.2.1', { VtepMAC: '02:00:5e:00:53:01', VNI: 3 }],
    ],
  );
  await store.close({ release: true });
  t.same(
    batches[1]?.map((e) => [e.type, e.lease.subnet]),
    [['removed', '198.18.1.0/24']],
  );
  stop();
});

t.test('the static store takes a new peer list (SIGHUP): one batch of what changed, nothing for the peers that stay', async (t) => {
  const b = { subnet: '198.18.2.0/24', address: '192.0.2.2', mac: '02:00:5e:00:53:02' };
  const c = { subnet: '198.18.3.0/24', address: '192.0.2.3', mac: '02:00:5e:00:53:03' };
  const d = { subnet: '198.18.4.0/24', address: '192.0.2.4', mac: '02:00:5e:00:53:04' };
  const store = new StaticStore({ network: { ...NET, subnetMax: '198.18.2.0' }, peers: [b, c], vni: 1 });
  const own = await store.acquire({ publicIP: '192.0.2.1', backendType: 'vxlan', backendData: { VtepMAC: '02:00:5e:00:53:01', VNI: 1 } });
  t.equal(own.subnet, '198.18.1.0/24', 'the one free subnet, picked');
  const batches: LeaseEvent[][] = [];
  const stop = store.watch((events) => batches.push(events));
  await sleep(0);
  t.same(store.setPeers([b, { ...c, address: '192.0.2.33' }, d]), { added: ['198.18.4.0/24'], removed: [], changed: ['198.18.3.0/24'] });
  t.same(
    batches[1].map((e) => [e.type, e.lease.subnet, e.lease.publicIP]),
    [
      ['added', '198.18.4.0/24', '192.0.2.4'],
      ['added', '198.18.3.0/24', '192.0.2.33'],
    ],
    'the new peer and the changed one, as added (the table replaces by subnet); b unmentioned',
  );
  t.same(store.setPeers([d]), { added: [], removed: ['198.18.2.0/24', '198.18.3.0/24'], changed: [] });
  t.same(
    batches[2].map((e) => [e.type, e.lease.subnet]),
    [
      ['removed', '198.18.2.0/24'],
      ['removed', '198.18.3.0/24'],
    ],
  );
  t.same(store.setPeers([d]), { added: [], removed: [], changed: [] }, 'the same list: no change');
  t.equal(batches.length, 3, 'and no batch');
  // The own subnet was picked, so the configuration checks could not see this clash; the store refuses it.
  t.throws(() => store.setPeers([d, { subnet: '198.18.1.128/25', address: '192.0.2.5' }]), /198\.18\.1\.128\/25, which overlaps this host's 198\.18\.1\.0\/24/);
  t.equal(batches.length, 3, 'a refused list sends nothing');
  t.same(store.setPeers([d]), { added: [], removed: [], changed: [] }, 'and changes nothing');
  stop();
});

t.test('the static store picks a free subnet, and the previous one when it is still free', async (t) => {
  const peers = [
    { subnet: '198.18.2.0/24', address: '192.0.2.2' },
    { subnet: '198.18.3.0/24', address: '192.0.2.3' },
  ];
  const small: NetworkConfig = { ...NET, backendType: 'udp', subnetMin: '198.18.1.0', subnetMax: '198.18.4.0' };
  const attrs = { publicIP: '192.0.2.1', backendType: 'udp' as const, backendData: {} };
  const picked = new Set<string>();
  for (let seed = 1; seed <= 20; seed++) picked.add((await new StaticStore({ network: small, peers, random: seeded(seed) }).acquire(attrs)).subnet);
  t.same([...picked].sort(), ['198.18.1.0/24', '198.18.4.0/24'], 'only free subnets in subnetMin..subnetMax, and not always the same');
  t.equal(
    (await new StaticStore({ network: small, peers, random: seeded(1) }).acquire({ ...attrs, previousSubnet: '198.18.4.0/24' })).subnet,
    '198.18.4.0/24',
    'the previous subnet',
  );
  t.equal(
    (await new StaticStore({ network: small, peers, random: () => 0 }).acquire({ ...attrs, previousSubnet: '198.18.2.0/24' })).subnet,
    '198.18.1.0/24',
    'a previous subnet a peer holds now is not taken',
  );
  const full: NetworkConfig = { ...small, subnetMax: '198.18.3.0' };
  await t.rejects(
    new StaticStore({ network: full, peers: [...peers, { subnet: '198.18.1.0/24', address: '192.0.2.4' }] }).acquire(attrs),
    /no free \/24 subnet left between 198\.18\.1\.0 and 198\.18\.3\.0 in 198\.18\.0\.0\/16/,
  );
});

t.test('targets become engine peers: vxlan templates from our VTEP to theirs', async (t) => {
  const { peers, routes } = engineRoutes(
    [
      { subnet: '198.18.2.0/24', address: '192.0.2.2', port: 8472, vtepMac: '02:00:5e:00:53:02', vni: 5 },
      { subnet: '198.18.3.0/24', address: '192.0.2.3', port: 4789, vtepMac: '02:00:5e:00:53:03', vni: 5 },
    ],
    'vxlan',
    '02:00:5e:00:53:01',
  );
  t.same(routes, [
    { subnet: '198.18.2.0/24', peer: 0 },
    { subnet: '198.18.3.0/24', peer: 1 },
  ]);
  t.same(
    peers.map((p) => [p.address, p.port]),
    [
      ['192.0.2.2', 8472],
      ['192.0.2.3', 4789],
    ],
  );
  const bytes = peers[1].template.bytes;
  t.equal(wire.vxlan.decodeHeader(bytes).vni, 5);
  t.equal(wire.formatMac(bytes, wire.vxlan.HEADER), '02:00:5e:00:53:03', "inner destination: the peer's VTEP");
  t.equal(wire.formatMac(bytes, wire.vxlan.HEADER + 6), '02:00:5e:00:53:01', 'inner source: ours');
  const udp = engineRoutes([{ subnet: '198.18.2.0/24', address: '192.0.2.2', port: 8285 }], 'udp');
  t.equal(udp.peers[0].template.headerLength, 0, 'udp: the inner packet is the payload');
});

t.test('leases past what the route table holds are reported not routed, naming the limit; the rest are routed', async (t) => {
  const snapshot = new RouteSnapshot(RouteSnapshot.allocate(2));
  const reader = new RouteReader(snapshot);
  const lines: { level: number; subnet?: string; reason?: string }[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const router = new LeaseRouter({ ...ctx }, new EngineSink(snapshot, 'vxlan', '02:00:5e:00:53:01'), log);
  t.teardown(() => router.stop());
  router.onBatch(
    ['198.18.4.0/24', '198.18.2.0/24', '198.18.3.0/24', '198.18.1.0/24'].map((subnet, i) => ({ type: 'added', lease: lease(subnet, `192.0.2.${i + 2}`) })),
  );
  const why = 'the route table holds at most 2 peers; 3 leases to route';
  t.same(
    router.statuses().map((s) => [s.lease.subnet, s.state, s.reason]),
    [
      ['198.18.1.0/24', 'own', undefined],
      ['198.18.2.0/24', 'routed', undefined],
      ['198.18.3.0/24', 'routed', undefined],
      ['198.18.4.0/24', 'skipped', why],
    ],
    'the first subnets in order are routed, the one past the limit is not',
  );
  t.equal(router.routed, 2);
  t.same(
    lines.map((l) => [l.subnet, l.reason]),
    [['198.18.4.0/24', why]],
    'and it is logged as a warning',
  );
  reader.refresh();
  t.equal(reader.lookup(wire.parseIPv4('198.18.3.1')), 1, 'the routed leases are in the table');
  t.equal(reader.lookup(wire.parseIPv4('198.18.4.1')), -1, 'the one past the limit is not');
  router.onBatch([{ type: 'removed', lease: lease('198.18.2.0/24', '192.0.2.3') }]);
  t.same(
    router.statuses().filter((s) => s.state === 'skipped'),
    [],
    'once a lease goes, the one past the limit fits',
  );
  reader.refresh();
  t.equal(reader.lookup(wire.parseIPv4('198.18.4.1')), 1);
});

t.test('subnet.env, Docker options and the masquerade rules', async (t) => {
  const host = { network: '198.18.0.0/16', subnet: '198.18.7.0/24', mtu: 1450, ipMasq: true };
  t.equal(subnetEnv(host), 'FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  // Documentation/configuration.md, "Dual-stack": the IPv6 pair after the IPv4 one, the subnet as its first address.
  t.equal(
    subnetEnv({ ...host, ipv6Network: '2001:db8:42::/56', ipv6Subnet: '2001:db8:42::/64' }),
    'FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.7.1/24\nFLANNEL_IPV6_NETWORK=2001:db8:42::/56\nFLANNEL_IPV6_SUBNET=2001:db8:42::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n',
  );
  t.equal(
    dockerOpts(host),
    'DOCKER_OPT_BIP="--bip=198.18.7.1/24"\nDOCKER_OPT_IPMASQ="--ip-masq=false"\nDOCKER_OPT_MTU="--mtu=1450"\nDOCKER_OPTS=" --bip=198.18.7.1/24 --ip-masq=false --mtu=1450"\n',
    'Docker does not masquerade when tulle does',
  );
  t.match(dockerOpts({ ...host, ipMasq: false }), /--ip-masq=true/);
  const rules = masqueradeRules('198.18.0.0/16', '198.18.7.0/24');
  t.match(rules, /type nat hook postrouting priority srcnat/);
  t.match(
    rules,
    /ip saddr 198\.18\.0\.0\/16 ip daddr 198\.18\.0\.0\/16 return\n.*ip saddr 198\.18\.0\.0\/16 ip daddr != 224\.0\.0\.0\/4 masquerade fully-random\n.*ip saddr != 198\.18\.0\.0\/16 ip daddr 198\.18\.7\.0\/24 return\n.*ip saddr != 198\.18\.0\.0\/16 ip daddr 198\.18\.0\.0\/16 masquerade fully-random/,
  );
});

t.test('control requests: malformed ones get an error, never a crash', async (t) => {
  t.same(parseRequest('{"id":4,"method":"leases"}'), { id: 4, method: 'leases' });
  t.same(parseRequest('status'), { id: null, error: 'not JSON: send {"id":1,"method":"status"}' });
  t.same(parseRequest('[1]'), { id: null, error: 'id: must be an integer' });
  t.same(parseRequest('{"id":2,"method":"reboot"}'), { id: 2, error: 'method: must be one of status, leases, peers (got "reboot")' });
});

t.test('the leases table', async (t) => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const text = formatLeases(
    [
      describeLease(lease('198.18.1.0/24', '192.0.2.1'), 'own'),
      describeLease(lease('198.18.2.0/24', '192.0.2.2', { expiration: now + 3 * 3600_000 }), 'routed'),
      describeLease(lease('198.18.5.0/24', '192.0.2.5', { backendType: 'udp', backendData: {}, expiration: now - 5_000 }), 'expired'),
    ],
    now,
  );
  t.equal(
    text,
    [
      'SUBNET         PUBLIC IP  BACKEND  VTEP MAC           PORT  EXPIRES          STATE',
      '198.18.1.0/24  192.0.2.1  vxlan    02:00:5e:00:53:02  -     never            own',
      '198.18.2.0/24  192.0.2.2  vxlan    02:00:5e:00:53:02  -     in 3 h           routed',
      '198.18.5.0/24  192.0.2.5  udp      -                  -     expired 5 s ago  expired',
    ].join('\n'),
  );
});

t.test("a dual-stack subnet.env: flannel's FLANNEL_IPV6_NETWORK and FLANNEL_IPV6_SUBNET (the first host address)", async (t) => {
  const lease = { network: '198.18.0.0/16', subnet: '198.18.7.0/24', mtu: 1450, ipMasq: false };
  t.equal(
    subnetEnv({ ...lease, ipv6Network: '2001:db8:18::/48', ipv6Subnet: '2001:db8:18:7::/64' }),
    'FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.7.1/24\nFLANNEL_IPV6_NETWORK=2001:db8:18::/48\nFLANNEL_IPV6_SUBNET=2001:db8:18:7::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n',
  );
  t.equal(subnetEnv(lease), 'FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n', 'IPv4 only: as before');
});
