// The rule that tells tulle's routes, legitimate ones and foreign ones that
// shadow a lease apart, on routes as `ip -j route show table all` prints them.
import t from 'tap';
import {
  auditRoutes,
  deleteArgs,
  earlyTables,
  replaceArgs,
  type AuditContext,
  type KernelRoute,
  type KernelView,
  type OwnRoute,
} from '../src/daemon/route-audit.js';

const RULES = [
  { priority: 0, table: 'local' },
  { priority: 32766, table: 'main' },
  { priority: 32767, table: 'default' },
];
const tunRoute: OwnRoute = { family: 4, dst: '198.18.0.0/16', dev: 'tulle0', protocol: 'kernel', metric: 0, scope: 'link', prefsrc: '198.18.1.0' };
const udp: AuditContext = {
  network: '198.18.0.0/16',
  ownSubnet: '198.18.1.0/24',
  ownPublicIP: '192.0.2.1',
  underlayDevice: 'eth0',
  ownDevices: ['tulle0'],
  leases: [
    { subnet: '198.18.2.0/24', publicIP: '192.0.2.2' },
    { subnet: '198.18.3.0/24', publicIP: '192.0.2.3' },
  ],
  own: [tunRoute],
};
/** What a udp host with a container bridge on its own subnet has, before anything foreign. */
const base: KernelRoute[] = [
  { dst: '198.18.0.0/16', dev: 'tulle0', protocol: 'kernel', scope: 'link', prefsrc: '198.18.1.0' },
  { dst: '198.18.1.0/24', dev: 'docker0', protocol: 'kernel', scope: 'link', prefsrc: '198.18.1.1' },
  { type: 'local', dst: '198.18.1.0', dev: 'tulle0', table: 'local', protocol: 'kernel', scope: 'host' },
  { type: 'local', dst: '198.18.1.1', dev: 'docker0', table: 'local', protocol: 'kernel', scope: 'host' },
  { type: 'broadcast', dst: '198.18.1.255', dev: 'docker0', table: 'local', protocol: 'kernel', scope: 'link' },
  { type: 'broadcast', dst: '198.18.255.255', dev: 'tulle0', table: 'local', protocol: 'kernel', scope: 'link' },
];
const view = (routes4: KernelRoute[], rules4 = RULES): KernelView => ({ routes4, routes6: [], rules4, rules6: [] });
const foreign = (routes: KernelRoute[], ctx = udp, rules = RULES) => auditRoutes(view(routes, rules), ctx).foreign.map((f) => [f.description, f.shadows]);

t.test('a healthy host: nothing foreign, nothing missing', async (t) => {
  // A point-to-point CNI's per-container route on its own subnet is connected too.
  t.same(auditRoutes(view([...base, { dst: '198.18.1.7', dev: 'veth12ab', scope: 'link' }]), udp), { missing: [], stale: [], foreign: [] });
});

t.test("the hijack: a peer's subnet via the underlay", async (t) => {
  t.same(foreign([...base, { dst: '198.18.2.0/24', gateway: '192.0.2.99', dev: 'eth0' }]), [
    ['198.18.2.0/24 via 192.0.2.99 dev eth0 proto boot', ['198.18.2.0/24 (192.0.2.2)']],
  ]);
  t.same(
    foreign([...base, { type: 'blackhole', dst: '198.18.3.0/25' }]),
    [['blackhole 198.18.3.0/25 proto boot', ['198.18.3.0/24 (192.0.2.3)']]],
    'a blackhole',
  );
  t.same(
    foreign([...base, { dst: '198.18.2.0/23', gateway: '192.0.2.99', dev: 'eth0' }]).map(([, s]) => s),
    [['198.18.2.0/24 (192.0.2.2)', '198.18.3.0/24 (192.0.2.3)']],
    'one route over two leases',
  );
  t.same(
    foreign([...base, { type: 'local', dst: '198.18.2.5', dev: 'lo', table: 'local', scope: 'host' }]).map(([d]) => d),
    ['local 198.18.2.5 dev lo table local proto boot'],
    "an address of b's on this host",
  );
  t.same(foreign([...base, { dst: '198.18.9.0/24', gateway: '192.0.2.99', dev: 'eth0' }]), [], 'no lease there: nothing shadowed');
});

t.test('the own subnet: a bridge or veth is fine; a gateway or the underlay device is not', async (t) => {
  t.same(foreign([...base, { dst: '198.18.1.128/25', gateway: '192.0.2.99', dev: 'eth0' }]), [
    ['198.18.1.128/25 via 192.0.2.99 dev eth0 proto boot', ['198.18.1.0/24 (192.0.2.1, this host)']],
  ]);
  t.same(
    foreign([{ dst: '198.18.1.0/24', dev: 'eth0', scope: 'link' }]).map(([d]) => d),
    ['198.18.1.0/24 dev eth0 proto boot'],
    'on the underlay device',
  );
  t.same(foreign([...base, { dst: '198.18.1.64/26', gateway: '198.18.1.2', dev: 'docker0' }]), [], 'via a container on this host: stays here');
});

t.test('tables: main by specificity, tables looked at before main always, the others never', async (t) => {
  const wide = { dst: '198.18.0.0/16', gateway: '192.0.2.99', dev: 'eth0', metric: 100 };
  t.same(foreign([...base, wide]), [], "as specific as the TUN's route with a higher metric: the TUN's wins");
  const inTable = { dst: '198.18.2.0/24', gateway: '192.0.2.99', dev: 'eth0', table: '100' };
  t.same(foreign([...base, inTable]), [], 'a table no rule names before main');
  t.same(foreign([...base, inTable], udp, [...RULES, { priority: 100, table: '100' }]).length, 1, 'a table a rule names before main');
  // wg-quick: main with suppress_prefixlength 0 before its own table.
  t.same(
    [
      ...earlyTables([
        { priority: 0, table: 'local' },
        { priority: 32764, table: 'main' },
        { priority: 32765, table: '51820' },
        { priority: 32766, table: 'main' },
      ]),
    ],
    ['local'],
  );
});

t.test("host-gw: a lease's own route carries it; only more specific routes shadow", async (t) => {
  const gwRoute: OwnRoute = { family: 4, dst: '198.18.2.0/24', gateway: '192.0.2.2', dev: 'eth0', protocol: '201', metric: 0 };
  const hostGw: AuditContext = { ...udp, ownDevices: [], own: [gwRoute], leases: [{ subnet: '198.18.2.0/24', publicIP: '192.0.2.2' }] };
  const installed = { dst: '198.18.2.0/24', gateway: '192.0.2.2', dev: 'eth0', protocol: '201' };
  t.same(
    auditRoutes(view([installed, { dst: '198.18.0.0/20', gateway: '192.0.2.5', dev: 'eth0' }]), hostGw),
    { missing: [], stale: [], foreign: [] },
    'a wider route loses',
  );
  t.same(foreign([installed, { dst: '198.18.2.0/25', gateway: '192.0.2.99', dev: 'eth0' }], hostGw).length, 1, 'a narrower one wins');
  const replaced = { dst: '198.18.2.0/24', gateway: '192.0.2.98', dev: 'eth0' };
  const audit = auditRoutes(view([replaced, { dst: '198.18.4.0/24', gateway: '192.0.2.4', dev: 'eth0', protocol: '201' }]), hostGw);
  t.same(audit.missing, [{ route: gwRoute, instead: replaced }], 'its own route, replaced: missing, and what holds its place');
  t.same(
    audit.stale.map((s) => s.route.dst),
    ['198.18.4.0/24'],
    'a protocol-201 route it does not want: stale',
  );
  t.same(replaceArgs(gwRoute), ['-4', 'route', 'replace', '198.18.2.0/24', 'via', '192.0.2.2', 'dev', 'eth0', 'proto', '201', 'metric', '0']);
  t.same(deleteArgs(4, { type: 'local', dst: '198.18.2.5', dev: 'lo', table: 'local' }), [
    '-4',
    'route',
    'del',
    'local',
    '198.18.2.5',
    'table',
    'local',
    'proto',
    'boot',
    'metric',
    '0',
    'dev',
    'lo',
  ]);
});

t.test("IPv6: the overlay's IPv6 network is checked as well", async (t) => {
  const ctx: AuditContext = {
    ...udp,
    ipv6Network: '2001:db8:18::/48',
    ownIpv6Subnet: '2001:db8:18:1::/64',
    leases: [{ subnet: '198.18.2.0/24', ipv6Subnet: '2001:db8:18:2::/64', publicIP: '192.0.2.2' }],
    own: [tunRoute, { family: 6, dst: '2001:db8:18::/48', dev: 'tulle0', protocol: 'kernel', metric: 256 }],
  };
  const routes6: KernelRoute[] = [
    { dst: '2001:db8:18::/48', dev: 'tulle0', protocol: 'kernel', metric: 256 },
    { dst: '2001:db8:18:2::/64', gateway: '2001:db8::99', dev: 'eth0', metric: 1024 },
  ];
  const audit = auditRoutes({ routes4: base, routes6, rules4: RULES, rules6: RULES.slice(0, 2) }, ctx);
  t.same(audit.missing, []);
  t.same(
    audit.foreign.map((f) => f.shadows),
    [['2001:db8:18:2::/64 (192.0.2.2)']],
  );
});
