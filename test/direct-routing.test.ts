// vxlan's directRouting, decided per peer (src/daemon/direct-routing.ts):
// on-link peers go direct, peers behind a gateway through vxlan, each subnet
// via the lease's address of its own family; and how the option comes from
// the file, flannel's net-conf form and the store (start-plan.ts).
import t from 'tap';
import { DaemonConfigSchema } from '../src/daemon/config/schema.js';
import { fromFlannel } from '../src/daemon/config/flannel.js';
import { addressesToLookUp, decidePeerPath, parseRouteGets, type RouteLookup } from '../src/daemon/direct-routing.js';
import { planRoutes, type PlanContext } from '../src/daemon/lease-routes.js';
import { settleBackend } from '../src/daemon/start-plan.js';
import type { Lease } from '../src/lease/lease.js';

// What `ip -j -force -batch -` printed for four `route get` lines, the second of which failed (no route).
const BATCH = [
  '[{"dst":"192.0.2.2","dev":"eth0","prefsrc":"192.0.2.1","flags":[],"uid":0,"cache":[]}]',
  '[{"dst":"198.51.100.3","gateway":"192.0.2.254","dev":"eth0","prefsrc":"192.0.2.1","flags":[],"uid":0,"cache":[]}]',
  '[{"type":"local","dst":"192.0.2.1","dev":"lo","prefsrc":"192.0.2.1","flags":[],"uid":0,"cache":["local"]}]',
  '[{"dst":"2001:db8::2","dev":"eth0","prefsrc":"2001:db8::1","flags":[],"pref":"medium"}]',
  '',
].join('\n');

const lookups = parseRouteGets(BATCH);
const target = (address: string, extra: object = {}) => ({ subnet: '198.18.2.0/24', address, port: 4789, vtepMac: '02:00:00:00:00:02', vni: 1, ...extra });

t.test('the batch output is keyed by address, whatever its spelling', async (t) => {
  t.equal(lookups.size, 4);
  t.same(lookups.get('2001:db8::2/128')?.dev, 'eth0');
  const d = decidePeerPath(target('2001:0db8:0::2'), lookups, true);
  t.equal(d.path, 'vxlan', 'an IPv4 subnet needs an IPv4 address: an IPv6 underlay alone is not enough');
  t.match(d.reason, /no IPv4 public address for its IPv4 subnet/);
});

t.test('on-link peers go direct, via their address, on the device the kernel names', async (t) => {
  const d = decidePeerPath(target('192.0.2.2'), lookups, false);
  t.equal(d.path, 'direct');
  t.same(d.routes, [{ family: 4, dst: '198.18.2.0/24', gateway: '192.0.2.2', dev: 'eth0' }]);
  t.match(d.reason, /on-link: 192\.0\.2\.2 on eth0/);
});

t.test('peers behind a gateway, without a route, or at an own address go through vxlan, each saying why', async (t) => {
  const routed = decidePeerPath(target('198.51.100.3'), lookups, false);
  t.equal(routed.path, 'vxlan');
  t.equal(routed.reason, 'the route to 198.51.100.3 goes via 192.0.2.254 (dev eth0)');
  t.same(routed.routes, []);
  t.equal(decidePeerPath(target('203.0.113.9'), lookups, false).reason, 'the kernel has no route to 203.0.113.9');
  t.match(decidePeerPath(target('192.0.2.1'), lookups, false).reason, /not another host on a shared segment/);
});

t.test('a dual-stack peer is direct only when both its subnets can be', async (t) => {
  const both = decidePeerPath(target('192.0.2.2', { ipv6Subnet: '2001:db8:18:2::/64', otherFamilyAddress: '2001:db8::2' }), lookups, false);
  t.equal(both.path, 'direct');
  t.same(both.routes, [
    { family: 4, dst: '198.18.2.0/24', gateway: '192.0.2.2', dev: 'eth0' },
    { family: 6, dst: '2001:db8:18:2::/64', gateway: '2001:db8::2', dev: 'eth0' },
  ]);
  const noV6Address = decidePeerPath(target('192.0.2.2', { ipv6Subnet: '2001:db8:18:2::/64' }), lookups, false);
  t.equal(noV6Address.path, 'vxlan', 'the kernel takes no IPv6 route via an IPv4 gateway: the whole peer stays on vxlan');
  t.match(noV6Address.reason, /no IPv6 public address for its IPv6 subnet/);
  t.same(addressesToLookUp([target('192.0.2.2', { ipv6Subnet: '2001:db8:18:2::/64', otherFamilyAddress: '2001:db8::2' }), target('192.0.2.2')], false), [
    '192.0.2.2',
    '2001:db8::2',
  ]);
});

t.test('route planning hands the other family address over only with directRouting', async (t) => {
  const lease: Lease = {
    subnet: '198.18.2.0/24',
    ipv6Subnet: '2001:db8:18:2::/64',
    publicIP: '192.0.2.2',
    publicIPv6: '2001:db8::2',
    backendType: 'vxlan',
    backendData: { VtepMAC: '02:00:00:00:00:02' },
    expiration: Number.MAX_SAFE_INTEGER,
  } as Lease;
  const ctx: PlanContext = {
    ownSubnet: '198.18.1.0/24',
    backendType: 'vxlan',
    networkPort: 4789,
    vni: 1,
    ipv6Underlay: false,
    ipv6Network: '2001:db8:18::/48',
    now: 0,
  };
  t.equal(planRoutes([lease], ctx).targets[0].otherFamilyAddress, undefined);
  t.equal(planRoutes([lease], { ...ctx, directRouting: true }).targets[0].otherFamilyAddress, '2001:db8::2');
});

t.test('the option: the file, flannel form, and the store when the file is silent', async (t) => {
  const parsed = DaemonConfigSchema.parse({ network: '198.18.0.0/16', backend: { type: 'vxlan', directRouting: true } });
  t.equal(parsed.backend.type === 'vxlan' && parsed.backend.directRouting, true);
  const bad = DaemonConfigSchema.safeParse({ network: '198.18.0.0/16', backend: { type: 'vxlan', directRouting: 'yes' } });
  t.notOk(bad.success);
  t.match(JSON.stringify(bad.error?.issues), /must be true or false/);
  const netconf = fromFlannel({ Network: '198.18.0.0/16', Backend: { Type: 'vxlan', DirectRouting: true } });
  t.same(netconf.problems, []);
  const flannel = DaemonConfigSchema.parse(netconf.value);
  t.equal(flannel.backend.type === 'vxlan' && flannel.backend.directRouting, true, "flannel's Backend.DirectRouting is read");
  const network = { network: '198.18.0.0/16', subnetLen: 24, subnetMin: '198.18.1.0', subnetMax: '198.18.255.0', backendType: 'vxlan' as const };
  const silent = DaemonConfigSchema.parse({ network: '198.18.0.0/16', backend: { type: 'vxlan' } }).backend;
  const off = DaemonConfigSchema.parse({ network: '198.18.0.0/16', backend: { type: 'vxlan', directRouting: false } }).backend;
  const settled = (b: typeof silent, store: boolean | undefined) => {
    const s = settleBackend(b, { ...network, ...(store !== undefined ? { backendDirectRouting: store } : {}) }, 'etcd');
    return s.type === 'vxlan' ? s.directRouting : undefined;
  };
  t.equal(settled(silent, true), true, "the store's DirectRouting when the file says nothing");
  t.equal(settled(off, true), false, "the file's own choice wins");
  t.equal(settled(silent, undefined), undefined);
});

// The lookups are plain data: a hand-made one decides the same way.
t.test('a lookup without a device is not a shared segment', async (t) => {
  const only = new Map<string, RouteLookup>([['192.0.2.7/32', { dst: '192.0.2.7', type: 'blackhole' }]]);
  t.equal(decidePeerPath(target('192.0.2.7'), only, false).path, 'vxlan');
});
