// Dual stack over etcd, as flannel does it: the network config's EnableIPv6
// fields, the lease key that names both subnets, the lease value with
// PublicIPv6 and BackendV6Data, and the allocation of an IPv6 subnet next to
// the IPv4 one. The JSON is shaped after what flannel's documentation and code
// show (each fixture names its source), with documentation addresses.
import t from 'tap';
import { checkNetworkConfig, formatNetworkConfig, NetworkConfigError, parseNetworkConfig } from '../src/etcd/flannel-config.js';
import { LeaseKeeper, type KeeperOptions } from '../src/etcd/lease-keeper.js';
import { decodeLeaseValue, encodeLeaseValue, formatSubnetKey, parseSubnetKey } from '../src/etcd/lease-value.js';
import { entryToLease } from '../src/etcd/subnet-entry.js';
import { freeIpv6Subnets } from '../src/etcd/subnet-pool.js';
import type { LeaseAttrs } from '../src/lease/lease.js';
import { memoryEtcd } from './helpers/memory-etcd.js';

const problems = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (error) {
    if (error instanceof NetworkConfigError) return error.problems;
    throw error;
  }
  return [];
};

t.test('network config: EnableIPv6 with the defaults flannel fills in', async (t) => {
  // Documentation/configuration.md, "Dual-stack": "EnableIPv6": true and the "IPv6Network" in /coreos.com/network/config.
  const doc = parseNetworkConfig('{"Network":"198.18.0.0/16","EnableIPv6":true,"IPv6Network":"2001:db8:42::/56","Backend":{"Type":"vxlan"}}');
  t.same(doc.ipv6, { network: '2001:db8:42::/56', subnetLen: 64, subnetMin: '2001:db8:42:1::', subnetMax: '2001:db8:42:ff::' }, 'a /64 each, second to last');
  t.equal(doc.network, '198.18.0.0/16', 'the IPv4 half as before');

  // pkg/subnet/config_test.go TestIPv6ConfigDefaults: lower-case keys (Go matches them), a /48 gives …:1:: to …:ffff::.
  const lower = checkNetworkConfig({ network: '198.18.0.0/16', enableIPv6: true, ipv6Network: '2001:db8::/48' });
  t.same(lower.ipv6, { network: '2001:db8::/48', subnetLen: 64, subnetMin: '2001:db8:0:1::', subnetMax: '2001:db8:0:ffff::' });

  // TestIPv6ConfigOverrides: every IPv6 field given.
  const given = checkNetworkConfig({
    Network: '198.18.0.0/16',
    EnableIPv6: true,
    IPv6Network: '2001:db8::/48',
    IPv6SubnetMin: '2001:db8:0:1::',
    IPv6SubnetMax: '2001:db8:0:f::',
    IPv6SubnetLen: 124,
  });
  t.same(given.ipv6, { network: '2001:db8::/48', subnetLen: 124, subnetMin: '2001:db8:0:1::', subnetMax: '2001:db8:0:f::' });

  // CheckNetworkConfig: a network longer than /62 gets prefix + 2; IPv6Network is read only with EnableIPv6.
  t.equal(checkNetworkConfig({ Network: '198.18.0.0/16', EnableIPv6: true, IPv6Network: '2001:db8:18::/120' }).ipv6?.subnetLen, 122);
  t.equal(checkNetworkConfig({ Network: '198.18.0.0/16', EnableIPv6: false, IPv6Network: '2001:db8:18::/48' }).ipv6, undefined, 'ignored while disabled');
});

t.test('network config: each IPv6 problem names the field, the value and what is allowed', async (t) => {
  const base = { Network: '198.18.0.0/16', EnableIPv6: true };
  const cases: [string, object, RegExp][] = [
    ['no IPv6Network', {}, /^IPv6Network: missing is required when EnableIPv6 is true; allowed: an IPv6 network in CIDR form/],
    ['an IPv4 IPv6Network', { IPv6Network: '198.19.0.0/16' }, /^IPv6Network: "198.19.0.0\/16" is not an IPv6 network/],
    ['host bits set', { IPv6Network: '2001:db8:18::1/48' }, /^IPv6Network: "2001:db8:18::1\/48" is not an IPv6 network with its host bits clear/],
    ['too small', { IPv6Network: '2001:db8:18::/125' }, /^IPv6Network: "2001:db8:18::\/125" is too small; allowed: a network of \/124 or larger/],
    ['IPv6SubnetLen /127', { IPv6Network: '2001:db8:18::/48', IPv6SubnetLen: 127 }, /^IPv6SubnetLen: 127 is not allowed; allowed: an integer 50\.\.126/],
    [
      'IPv6SubnetLen under prefix + 2',
      { IPv6Network: '2001:db8:18::/48', IPv6SubnetLen: 49 },
      /^IPv6SubnetLen: 49 is not allowed; allowed: an integer 50\.\.126/,
    ],
    [
      'IPv6SubnetMin outside',
      { IPv6Network: '2001:db8:18::/48', IPv6SubnetMin: '2001:db8:19::' },
      /^IPv6SubnetMin: "2001:db8:19::" is outside the network; allowed: an address inside 2001:db8:18::\/48 on a \/64 boundary/,
    ],
    [
      'IPv6SubnetMax misaligned',
      { IPv6Network: '2001:db8:18::/48', IPv6SubnetMax: '2001:db8:18:5::1' },
      /^IPv6SubnetMax: "2001:db8:18:5::1" is not on a \/64 boundary/,
    ],
    [
      'inverted range',
      { IPv6Network: '2001:db8:18::/48', IPv6SubnetMin: '2001:db8:18:9::', IPv6SubnetMax: '2001:db8:18:2::' },
      /^IPv6SubnetMax: "2001:db8:18:2::" is below IPv6SubnetMin; allowed: an address not below IPv6SubnetMin \(2001:db8:18:9::\)/,
    ],
  ];
  for (const [name, extra, pattern] of cases) {
    const found = problems(() => checkNetworkConfig({ ...base, ...extra }));
    t.ok(
      found.some((p) => pattern.test(p)),
      `${name}: ${found.join(' | ')}`,
    );
  }
  // IPv6 only: flannel's etcd manager keys leases by an IPv4 subnet it always allocates; refused, with why.
  t.match(
    problems(() => checkNetworkConfig({ EnableIPv4: false, EnableIPv6: true, IPv6Network: '2001:db8:18::/48' })),
    [/^EnableIPv4: false is not allowed; allowed: true: over etcd every lease is keyed by its IPv4 subnet, so IPv6-only networks cannot be served/],
  );
});

t.test('network config: written with the IPv6 defaults spelled out, and read back the same', async (t) => {
  const text = formatNetworkConfig({ network: '198.18.0.0/16', ipv6: { network: '2001:db8:18::/48' }, backend: { type: 'vxlan' } });
  t.equal(
    text,
    '{"Network":"198.18.0.0/16","SubnetLen":24,"SubnetMin":"198.18.1.0","SubnetMax":"198.18.255.0","EnableIPv6":true,' +
      '"IPv6Network":"2001:db8:18::/48","IPv6SubnetLen":64,"IPv6SubnetMin":"2001:db8:18:1::","IPv6SubnetMax":"2001:db8:18:ffff::",' +
      '"Backend":{"Type":"vxlan","VNI":1}}',
  );
  const read = parseNetworkConfig(text);
  t.same(read.ipv6, { network: '2001:db8:18::/48', subnetLen: 64, subnetMin: '2001:db8:18:1::', subnetMax: '2001:db8:18:ffff::' });
  t.equal(formatNetworkConfig({ network: read.network, ipv6: read.ipv6, backend: read.backend }), text, 'round trip');
  t.throws(() => formatNetworkConfig({ network: '198.18.0.0/16', ipv6: { network: '2001:db8:18::/48', subnetLen: 127 } }), NetworkConfigError);
});

// pkg/lease/lease.go LeaseAttrs marshalled by json.Marshal, as pkg/backend/vxlan/vxlan.go newSubnetAttrs fills it on a
// dual-stack host: PublicIP, PublicIPv6, BackendType, BackendData and BackendV6Data (vxlanLeaseAttrs: VNI, VtepMAC).
const FLANNEL_DUAL_VXLAN =
  '{"PublicIP":"192.0.2.11","PublicIPv6":"2001:db8:2::11","BackendType":"vxlan",' +
  '"BackendData":{"VNI":1,"VtepMAC":"02:00:5e:00:53:11"},"BackendV6Data":{"VNI":1,"VtepMAC":"02:00:5e:00:53:61"}}';
// pkg/backend/hostgw/hostgw.go: PublicIP and PublicIPv6, no backend data (omitempty).
const FLANNEL_DUAL_HOSTGW = '{"PublicIP":"192.0.2.12","PublicIPv6":"2001:db8:2::12","BackendType":"host-gw"}';
// An IPv4-only flannel host: PublicIPv6 null, as pkg/subnet/etcd/registry_test.go expects it written.
const FLANNEL_V4_VXLAN = '{"PublicIP":"192.0.2.13","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:5e:00:53:13"}}';

t.test("lease values: flannel's dual-stack leases read, and written back byte for byte", async (t) => {
  const dual = decodeLeaseValue(FLANNEL_DUAL_VXLAN);
  t.same(dual, {
    ok: true,
    attrs: {
      publicIP: '192.0.2.11',
      publicIPv6: '2001:db8:2::11',
      backendType: 'vxlan',
      backendData: { VNI: 1, VtepMAC: '02:00:5e:00:53:11' },
      ipv6BackendData: { VNI: 1, VtepMAC: '02:00:5e:00:53:61' },
    },
  });
  t.equal(encodeLeaseValue(dual.ok ? dual.attrs : (undefined as never)), FLANNEL_DUAL_VXLAN, 'the same bytes flannel wrote');

  const hostgw = decodeLeaseValue(FLANNEL_DUAL_HOSTGW);
  t.same(hostgw, { ok: true, attrs: { publicIP: '192.0.2.12', publicIPv6: '2001:db8:2::12', backendType: 'host-gw', backendData: {} } });
  t.equal(encodeLeaseValue(hostgw.ok ? hostgw.attrs : (undefined as never)), FLANNEL_DUAL_HOSTGW);

  const v4 = decodeLeaseValue(FLANNEL_V4_VXLAN);
  t.ok(v4.ok && v4.attrs.publicIPv6 === undefined && v4.attrs.ipv6BackendData === undefined, 'an IPv4-only lease has no IPv6 half');
  t.equal(encodeLeaseValue(v4.ok ? v4.attrs : (undefined as never)), FLANNEL_V4_VXLAN);

  // What tulle writes on a dual-stack vxlan host: flannel's fields in flannel's order, tulle's additions where flannel ignores them.
  const tulle: LeaseAttrs = {
    publicIP: '192.0.2.1',
    publicIPv6: '2001:db8:2::1',
    backendType: 'vxlan',
    backendData: { VNI: 1, VtepMAC: '02:00:5E:00:53:01', Port: 8472, UDPChecksum: true },
    ipv6BackendData: { VNI: 1, VtepMAC: '02:00:5e:00:53:01' },
    hostId: 'h1',
  };
  t.equal(
    encodeLeaseValue(tulle),
    '{"PublicIP":"192.0.2.1","PublicIPv6":"2001:db8:2::1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:5e:00:53:01","Port":8472,"UDPChecksum":true},' +
      '"BackendV6Data":{"VNI":1,"VtepMAC":"02:00:5e:00:53:01"},"TulleHostID":"h1"}',
  );

  t.same(decodeLeaseValue(FLANNEL_DUAL_VXLAN.replace('"VtepMAC":"02:00:5e:00:53:61"', '"VtepMAC":"nope"')), {
    ok: false,
    reason: 'BackendV6Data.VtepMAC "nope" is not a MAC address',
  });
  t.same(decodeLeaseValue(FLANNEL_DUAL_VXLAN.replace('"PublicIPv6":"2001:db8:2::11"', '"PublicIPv6":"192.0.2.11"')), {
    ok: false,
    reason: 'PublicIPv6 "192.0.2.11" is not an IPv6 address',
  });
});

t.test('lease keys: both subnets in one key, as flannel names it', async (t) => {
  // pkg/subnet/subnet_test.go TestSubnetNodev6: "10.12.13.0-24&fd00:12:13::-56", here in documentation ranges.
  t.same(parseSubnetKey('198.18.13.0-24&2001:db8:12:13::-64'), { subnet: '198.18.13.0/24', ipv6Subnet: '2001:db8:12:13::/64' });
  t.equal(formatSubnetKey('198.18.13.0/24', '2001:db8:12:13::/64'), '198.18.13.0-24&2001:db8:12:13::-64', 'MakeSubnetKey');
  t.same(parseSubnetKey('198.18.13.0-24'), { subnet: '198.18.13.0/24' });
  for (const bad of ['&2001:db8::-56', '198.18.13.0-24&:12:13:-56', '198.18.13.0-24&2001-56', '198.18.13.0-24&2001:db8::-129'])
    t.equal(parseSubnetKey(bad), undefined, `not a key: ${bad}`);

  const r = entryToLease(
    '/coreos.com/network/subnets/',
    { key: '/coreos.com/network/subnets/198.18.11.0-24&2001:db8:18:b::-64', value: FLANNEL_DUAL_VXLAN, leaseId: '7', modRevision: 3 },
    100,
    0,
  );
  t.same(r, {
    ok: true,
    lease: {
      subnet: '198.18.11.0/24',
      ipv6Subnet: '2001:db8:18:b::/64',
      publicIP: '192.0.2.11',
      publicIPv6: '2001:db8:2::11',
      backendType: 'vxlan',
      backendData: { VNI: 1, VtepMAC: '02:00:5e:00:53:11' },
      ipv6BackendData: { VNI: 1, VtepMAC: '02:00:5e:00:53:61' },
      expiration: 100_000,
    },
  });
});

t.test('allocation: an IPv6 subnet next to the IPv4 one, each free in its family, kept with the lease', async (t) => {
  const config = parseNetworkConfig('{"Network":"198.18.0.0/16","EnableIPv6":true,"IPv6Network":"2001:db8:18::/48","Backend":{"Type":"vxlan"}}');
  const { registry, connection, logs, clock } = memoryEtcd(t);
  const seed = async (name: string, value: string) => {
    const grant = await registry.grant(3600);
    t.ok(await registry.create(`${registry.keys.subnetsPrefix}${name}`, value, grant.id));
  };
  // A flannel host holds .1 and :1::; another lease holds the IPv6 :2:: with the IPv4 .9.
  await seed('198.18.1.0-24&2001:db8:18:1::-64', FLANNEL_DUAL_VXLAN);
  await seed('198.18.9.0-24&2001:db8:18:2::-64', FLANNEL_DUAL_VXLAN.replace(/192\.0\.2\.11/, '192.0.2.19'));
  const attrs: LeaseAttrs = {
    publicIP: '192.0.2.1',
    publicIPv6: '2001:db8:2::1',
    backendType: 'vxlan',
    backendData: { VNI: 1, VtepMAC: '02:00:5e:00:53:01' },
    ipv6BackendData: { VNI: 1, VtepMAC: '02:00:5e:00:53:01' },
  };
  const options: KeeperOptions = {
    registry,
    connection,
    config,
    attrs,
    ttlSeconds: 3600,
    renewMarginSeconds: 600,
    random: () => 0,
    log: (l) => logs.push(l),
    clock,
  };
  const keeper = await LeaseKeeper.acquire(options);
  t.teardown(() => keeper.stop(false));
  t.equal(keeper.lease.subnet, '198.18.2.0/24', 'the first free IPv4 subnet');
  t.equal(keeper.lease.ipv6Subnet, '2001:db8:18:3::/64', 'the first free IPv6 subnet: :2:: is taken by a lease of another IPv4 subnet');
  const key = registry.keys.subnetKey('198.18.2.0/24', '2001:db8:18:3::/64');
  t.equal(key, '/coreos.com/network/subnets/198.18.2.0-24&2001:db8:18:3::-64');
  t.equal((await registry.getSubnet(key))?.value, encodeLeaseValue(attrs), 'PublicIPv6 and BackendV6Data in the value');
  t.match(logs.join('\n'), /acquired 198\.18\.2\.0\/24 and 2001:db8:18:3::\/64 for 192\.0\.2\.1/);

  await clock.advance(3000 * 1000);
  const renewed = await registry.getSubnet(key);
  t.ok(renewed !== undefined && logs.some((l) => l.includes('renewed 198.18.2.0/24')), 'renewed under the same key');
  t.equal(keeper.lease.ipv6Subnet, '2001:db8:18:3::/64', 'the IPv6 subnet stays');

  // A restart finds its own lease by PublicIP and reuses both subnets (flannel's findLeaseByIP).
  await keeper.stop(false);
  const again = await LeaseKeeper.acquire({ ...options, random: () => 0.99 });
  t.teardown(() => again.stop(false));
  t.same([again.lease.subnet, again.lease.ipv6Subnet], ['198.18.2.0/24', '2001:db8:18:3::/64']);
  t.match(logs.at(-1), /reusing 198\.18\.2\.0\/24 and 2001:db8:18:3::\/64/);
});

t.test('allocation: an IPv4-only lease of ours in a dual-stack network is replaced; the previous IPv6 subnet is taken again', async (t) => {
  const config = parseNetworkConfig('{"Network":"198.18.0.0/16","EnableIPv6":true,"IPv6Network":"2001:db8:18::/48","Backend":{"Type":"host-gw"}}');
  const { registry, connection, logs, clock } = memoryEtcd(t);
  const attrs: LeaseAttrs = { publicIP: '192.0.2.1', publicIPv6: '2001:db8:2::1', backendType: 'host-gw', backendData: {} };
  const grant = await registry.grant(3600);
  await registry.create(registry.keys.subnetKey('198.18.4.0/24'), encodeLeaseValue({ ...attrs, publicIPv6: undefined }), grant.id);
  const keeper = await LeaseKeeper.acquire({
    registry,
    connection,
    config,
    attrs,
    previousSubnet: '198.18.4.0/24',
    previousIpv6Subnet: '2001:db8:18:77::/64',
    ttlSeconds: 3600,
    renewMarginSeconds: 600,
    random: () => 0,
    log: (l) => logs.push(l),
    clock,
  });
  t.teardown(() => keeper.stop(false));
  t.match(
    logs.join('\n'),
    /198\.18\.4\.0\/24 was leased to 192\.0\.2\.1 but does not fit the network .*IPv6 \/64 2001:db8:18:1::\.\.2001:db8:18:ffff::\); deleting it/,
  );
  t.same([keeper.lease.subnet, keeper.lease.ipv6Subnet], ['198.18.4.0/24', '2001:db8:18:77::/64'], 'the previous subnets, now both');
  t.equal(await registry.getSubnet(registry.keys.subnetKey('198.18.4.0/24')), undefined, 'the IPv4-only key is gone');
  t.ok(await registry.getSubnet(registry.keys.subnetKey('198.18.4.0/24', '2001:db8:18:77::/64')));
});

t.test('the IPv6 pool: taken prefixes of any length are skipped, a full range says so', async (t) => {
  const range = { network: '2001:db8:18::/48', subnetLen: 64, subnetMin: '2001:db8:18:1::', subnetMax: '2001:db8:18:8::' };
  t.same(freeIpv6Subnets(range, ['2001:db8:18::/62', '2001:db8:18:6::/64', '198.18.1.0/24']), [
    '2001:db8:18:4::/64',
    '2001:db8:18:5::/64',
    '2001:db8:18:7::/64',
    '2001:db8:18:8::/64',
  ]);
  t.same(freeIpv6Subnets(range, ['2001:db8:18::/60']), [], 'a /60 covers the whole range');
  t.equal(freeIpv6Subnets({ ...range, subnetMax: '2001:db8:18:ffff::' }, []).length, 100, "at most flannel's 100 candidates");

  const config = parseNetworkConfig(
    '{"Network":"198.18.0.0/16","EnableIPv6":true,"IPv6Network":"2001:db8:18::/48","IPv6SubnetMax":"2001:db8:18:1::","Backend":{"Type":"host-gw"}}',
  );
  const { registry, connection, clock } = memoryEtcd(t);
  const grant = await registry.grant(3600);
  await registry.create(registry.keys.subnetKey('198.18.1.0/24', '2001:db8:18:1::/64'), FLANNEL_DUAL_HOSTGW, grant.id);
  await t.rejects(
    LeaseKeeper.acquire({
      registry,
      connection,
      config,
      attrs: { publicIP: '192.0.2.1', publicIPv6: '2001:db8:2::1', backendType: 'host-gw', backendData: {} },
      ttlSeconds: 3600,
      renewMarginSeconds: 600,
      random: () => 0,
      log: () => {},
      clock,
    }),
    /no free IPv6 subnet in 2001:db8:18:1::\.\.2001:db8:18:1:: \(\/64\): 1 taken/,
  );
});
