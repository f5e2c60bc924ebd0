// What `tulle run` plans to set up (src/daemon/start-plan.ts), without the
// host: configurations with what a store says (etcd's network config fixing
// the port and VNI as flannel's does, gossip, static), the lease it grants,
// and the plan that comes out. The configuration is deep-frozen: planning
// must never write to it.
import t from 'tap';
import type { NetworkConfig } from '../src/lease/lease.js';
import type { SavedLease } from '../src/lease/state-file.js';
import { DaemonConfigSchema, type DaemonConfig } from '../src/daemon/config/schema.js';
import { planHost, planLeaseRequest, type HostPlan, type StartFacts, type StoreFacts } from '../src/daemon/start-plan.js';
import { subnetFromEnv } from '../src/daemon/subnet-env.js';

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const config = (input: object): DaemonConfig => deepFreeze(DaemonConfigSchema.parse(input));

const host: StartFacts = deepFreeze({
  underlay: { address: '192.0.2.1', device: 'eth0', deviceMtu: 1500 },
  stateDir: '/state',
  hostId: 'host-a',
  newMac: '02:00:5e:00:53:99',
});
const host6: StartFacts = deepFreeze({ ...host, underlay: { address: '2001:db8::1', device: 'eth0', deviceMtu: 1500 } });

/** The network as a store serves it; etcd adds flannel's port and VNI. */
const net = (backendType: NetworkConfig['backendType'], extra: Partial<NetworkConfig> = {}): NetworkConfig => ({
  network: '198.18.0.0/16',
  subnetLen: 24,
  subnetMin: '198.18.1.0',
  subnetMax: '198.18.255.0',
  backendType,
  ...extra,
});
const store = (network: NetworkConfig, extra: Partial<StoreFacts> = {}): StoreFacts =>
  deepFreeze({ description: 'etcd http://192.0.2.10:2379', network, leasesAreConfig: false, ...extra });

const etcdBase = { store: { type: 'etcd', endpoints: ['http://192.0.2.10:2379'] } };
const own = { subnet: '198.18.7.0/24' };

function plan(c: DaemonConfig, s: StoreFacts, h = host, lease: { subnet: string; ipv6Subnet?: string } = own): HostPlan {
  const before = structuredClone(c);
  const result = planHost(c, planLeaseRequest(c, s, h), lease, h);
  t.same(c, before, 'the configuration is as loaded');
  return result;
}

t.test("a store's network settles what the file leaves open, never what it sets", async (t) => {
  const cases: { name: string; config: object; network: NetworkConfig; backend: object; listen: number; networkPort: number; backendData: object }[] = [
    {
      name: "etcd vxlan: flannel's port 8472 and VNI 1 where the file names none",
      config: { ...etcdBase, backend: { type: 'vxlan' } },
      network: net('vxlan', { backendPort: 8472, backendVni: 1 }),
      backend: { type: 'vxlan', vni: 1, port: 8472 },
      listen: 8472,
      networkPort: 8472,
      backendData: { VtepMAC: host.newMac, VNI: 1, Port: 8472, UDPChecksum: true },
    },
    {
      name: "etcd vxlan: the store's VNI 7 over the file's default 1",
      config: { ...etcdBase, backend: { type: 'vxlan' } },
      network: net('vxlan', { backendPort: 8472, backendVni: 7 }),
      backend: { type: 'vxlan', vni: 7, port: 8472 },
      listen: 8472,
      networkPort: 8472,
      backendData: { VtepMAC: host.newMac, VNI: 7, Port: 8472, UDPChecksum: true },
    },
    {
      name: "etcd vxlan: the file's port stays; the store's only where the file names none",
      config: { ...etcdBase, backend: { type: 'vxlan', port: 4789, vni: 7 } },
      network: net('vxlan', { backendPort: 8472, backendVni: 7 }),
      backend: { type: 'vxlan', vni: 7, port: 4789 },
      listen: 4789,
      networkPort: 4789,
      backendData: { VtepMAC: host.newMac, VNI: 7, Port: 4789, UDPChecksum: true },
    },
    {
      name: "etcd udp: flannel's 8285; underlay.port moves only this host's listening port",
      config: { ...etcdBase, backend: { type: 'udp' }, underlay: { port: 9000 } },
      network: net('udp', { backendPort: 8285 }),
      backend: { type: 'udp', port: 8285 },
      listen: 9000,
      networkPort: 8285,
      backendData: { Port: 9000, UDPChecksum: true },
    },
    {
      name: "gossip vxlan: the store fixes nothing, so RFC 7348's 4789",
      config: { network: '198.18.0.0/16', backend: { type: 'vxlan' }, store: { type: 'gossip', key: '00'.repeat(16) } },
      network: net('vxlan'),
      backend: { type: 'vxlan', vni: 1 },
      listen: 4789,
      networkPort: 4789,
      backendData: { VtepMAC: host.newMac, VNI: 1, Port: 4789, UDPChecksum: true },
    },
  ];
  for (const c of cases) {
    const p = plan(config(c.config), store(c.network));
    t.same(p.backend, c.backend, `${c.name}: backend`);
    t.equal(p.port, c.listen, `${c.name}: listening port`);
    t.equal(p.routes.networkPort, c.networkPort, `${c.name}: the network's port for leases that name none`);
    t.same(p.attrs.backendData, c.backendData, `${c.name}: what the lease announces`);
    t.same(
      p.statusBackend,
      { type: c.network.backendType, port: c.listen, ...('vni' in c.backend ? { vni: c.backend.vni, vtepMac: host.newMac } : {}) },
      `${c.name}: status`,
    );
  }
});

t.test('a file and a store that disagree are refused, naming the field and both values', async (t) => {
  const cases: { name: string; config: object; network: NetworkConfig; error: string }[] = [
    {
      name: 'VNI chosen in the file',
      config: { ...etcdBase, backend: { type: 'vxlan', vni: 5 } },
      network: net('vxlan', { backendVni: 7 }),
      error: "the etcd http://192.0.2.10:2379 store's network has VNI 7, the configuration 5: make them agree",
    },
    {
      name: 'backend type',
      config: { ...etcdBase, backend: { type: 'udp' } },
      network: net('vxlan', { backendVni: 1 }),
      error: "the etcd http://192.0.2.10:2379 store's network has backend type vxlan, the configuration udp: make them agree",
    },
    {
      name: 'network',
      config: { ...etcdBase, network: '198.19.0.0/16', backend: { type: 'vxlan' } },
      network: net('vxlan'),
      error: "the etcd http://192.0.2.10:2379 store's network has network 198.18.0.0/16, the configuration 198.19.0.0/16: make them agree",
    },
    {
      name: 'subnetLen',
      config: { ...etcdBase, subnetLen: 26, backend: { type: 'host-gw' } },
      network: net('host-gw'),
      error: "the etcd http://192.0.2.10:2379 store's network has subnetLen 24, the configuration 26: make them agree",
    },
  ];
  for (const c of cases) {
    t.throws(() => planLeaseRequest(config(c.config), store(c.network), host), { message: c.error }, c.name);
  }
});

t.test("the VTEP MAC: the file's, else the last run's on this network, else a new one", async (t) => {
  const saved = (network: string): SavedLease => ({
    network,
    subnet: '198.18.3.0/24',
    backendType: 'vxlan',
    vtepMac: '02:00:5e:00:53:33',
    publicIP: '192.0.2.1',
  });
  const vxlan = { network: '198.18.0.0/16', backend: { type: 'vxlan' } };
  const fromFile = planLeaseRequest(
    config({ ...vxlan, backend: { type: 'vxlan', mac: '02:00:5e:00:53:01' } }),
    store(net('vxlan'), { saved: saved('198.18.0.0/16') }),
    host,
  );
  t.equal(fromFile.ownMac, '02:00:5e:00:53:01');
  t.equal(fromFile.attrs.previousSubnet, '198.18.3.0/24', "the last run's subnet is asked for first");
  const kept = planLeaseRequest(config(vxlan), store(net('vxlan'), { saved: saved('198.18.0.0/16') }), host);
  t.equal(kept.ownMac, '02:00:5e:00:53:33');
  const otherNetwork = planLeaseRequest(config(vxlan), store(net('vxlan'), { saved: saved('198.19.0.0/16') }), host);
  t.equal(otherNetwork.ownMac, host.newMac, "a lease on another network is not this one's");
  t.equal(otherNetwork.previous, undefined);
  t.notOk('previousSubnet' in otherNetwork.attrs);
  t.equal(planLeaseRequest(config({ ...vxlan, backend: { type: 'udp' } }), store(net('udp')), host).ownMac, undefined, 'udp has no VTEP');
});

t.test('a host that ran flanneld asks for the subnet its subnet.env names, as flanneld does', async (t) => {
  const vxlan = config({ ...etcdBase, backend: { type: 'vxlan' } });
  // What flanneld writes to /run/flannel/subnet.env: the bridge's address with the subnet's prefix.
  const flannelEnv = 'FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.12.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n';
  t.equal(planLeaseRequest(vxlan, store(net('vxlan'), { subnetEnv: flannelEnv }), host).attrs.previousSubnet, '198.18.12.0/24');
  t.equal(subnetFromEnv('export FLANNEL_NETWORK="198.18.0.0/16"\nFLANNEL_SUBNET="198.18.12.1/24"\n', '198.18.0.0/16'), '198.18.12.0/24', 'quoted, exported');
  t.equal(subnetFromEnv(flannelEnv, '198.19.0.0/16'), undefined, 'another network: not ours to ask for');
  for (const bad of [
    'FLANNEL_NETWORK=198.18.0.0/16\n',
    'FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.12.1\n',
    'FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.300.1/24\n',
    '',
  ]) {
    t.equal(subnetFromEnv(bad, '198.18.0.0/16'), undefined, `nothing usable in ${JSON.stringify(bad)}`);
  }
  const saved: SavedLease = { network: '198.18.0.0/16', subnet: '198.18.3.0/24', backendType: 'vxlan', vtepMac: '02:00:5e:00:53:33', publicIP: '192.0.2.1' };
  t.equal(
    planLeaseRequest(vxlan, store(net('vxlan'), { saved, subnetEnv: flannelEnv }), host).attrs.previousSubnet,
    '198.18.3.0/24',
    "the state dir's lease comes first",
  );
  t.notOk('previousSubnet' in planLeaseRequest(vxlan, store(net('vxlan')), host).attrs, 'neither: no subnet asked for');
});

t.test('host-gw: no port, no checksum claim; static peers are checked for adjacency, gossip leases are not', async (t) => {
  const hostGw = { network: '198.18.0.0/16', backend: { type: 'host-gw' } };
  const asStatic = plan(config(hostGw), store(net('host-gw'), { description: 'static', leasesAreConfig: true }));
  t.equal(asStatic.checkAdjacentPeers, true);
  t.equal(asStatic.port, undefined);
  t.same(asStatic.attrs, { publicIP: '192.0.2.1', backendType: 'host-gw', backendData: {}, hostId: 'host-a' });
  t.same(asStatic.routes, { ownSubnet: own.subnet, backendType: 'host-gw', networkPort: 0, ipv6Underlay: false });
  t.same(asStatic.statusBackend, { type: 'host-gw' });
  const gossip = plan(config({ ...hostGw, store: { type: 'gossip', key: '00'.repeat(16) } }), store(net('host-gw'), { description: 'gossip 192.0.2.1:7946' }));
  t.equal(gossip.checkAdjacentPeers, false);
  t.equal(
    plan(config({ ...hostGw, backend: { type: 'udp' } }), store(net('udp'), { description: 'static', leasesAreConfig: true })).checkAdjacentPeers,
    false,
    'udp reaches peers anywhere',
  );
});

t.test('dual stack: the IPv6 network and subnet go to the data plane and the route check once the lease has one', async (t) => {
  const dual = config({ network: '198.18.0.0/16', ipv6Network: '2001:db8:18::/48', ipv6Subnet: '2001:db8:18:7::/64', backend: { type: 'udp' } });
  const p = plan(dual, store(net('udp'), { description: 'static', leasesAreConfig: true }), host, {
    subnet: '198.18.7.0/24',
    ipv6Subnet: '2001:db8:18:7::/64',
  });
  t.same(p.ipv6, { network: '2001:db8:18::/48', subnet: '2001:db8:18:7::/64' });
  t.same(p.routeCheck, {
    mode: 'report',
    network: '198.18.0.0/16',
    ownSubnet: '198.18.7.0/24',
    ownPublicIP: '192.0.2.1',
    underlayDevice: 'eth0',
    ipv6Network: '2001:db8:18::/48',
    ownIpv6Subnet: '2001:db8:18:7::/64',
  });
  t.equal(p.routes.ipv6Network, '2001:db8:18::/48');
  t.same(p.forwardAccept, { ipv4: '198.18.0.0/16', ipv6: '2001:db8:18::/48' });
  t.same(p.saved, { network: '198.18.0.0/16', subnet: '198.18.7.0/24', ipv6Subnet: '2001:db8:18:7::/64', backendType: 'udp', publicIP: '192.0.2.1' });
  const v4only = plan(dual, store(net('udp'), { description: 'static', leasesAreConfig: true }));
  t.equal(v4only.ipv6, undefined, 'a lease without an IPv6 subnet gets no IPv6 address');
  t.notOk('ownIpv6Subnet' in v4only.routeCheck);
  t.equal(v4only.routes.ipv6Network, '2001:db8:18::/48', "peers' IPv6 subnets are still routed");
});

t.test('an IPv6 underlay: the lease announces publicIPv6, the state dir keeps the address', async (t) => {
  const p = plan(config({ network: '198.18.0.0/16', backend: { type: 'udp' } }), store(net('udp'), { description: 'static' }), host6);
  t.equal(p.ipv6Underlay, true);
  t.equal(p.attrs.publicIP, '0.0.0.0');
  t.equal(p.attrs.publicIPv6, '2001:db8::1');
  t.equal(p.saved.publicIP, '2001:db8::1');
  t.equal(p.routes.ipv6Underlay, true);
});

t.test("outputs and servers: defaults under the state dir, the file's settings where given", async (t) => {
  const base = { network: '198.18.0.0/16', backend: { type: 'udp' } };
  const defaults = plan(config(base), store(net('udp'), { description: 'static' }));
  t.same(defaults.outputs, { network: '198.18.0.0/16', subnet: own.subnet, ipMasq: false, subnetFile: '/state/subnet.env' });
  t.equal(defaults.controlSocket, '/state/tulle.sock');
  t.equal(defaults.metrics, undefined);
  t.same(defaults.forwardAccept, { ipv4: '198.18.0.0/16' });
  const set = plan(
    config({
      ...base,
      ipMasq: true,
      forwardAccept: false,
      subnetFile: '/etc/subnet.env',
      dockerOptsFile: '/etc/docker-opts',
      metricsAddress: '[::1]:9464',
      reconcileRoutes: 'replace',
    }),
    store(net('udp'), { description: 'static' }),
  );
  t.same(set.outputs, { network: '198.18.0.0/16', subnet: own.subnet, ipMasq: true, subnetFile: '/etc/subnet.env', dockerOptsFile: '/etc/docker-opts' });
  t.equal(set.forwardAccept, undefined);
  t.same(set.metrics, { address: '[::1]:9464', host: '::1', port: 9464 });
  t.equal(set.routeCheck.mode, 'replace');
});

t.test("dual stack on etcd: the store's IPv6 network, PublicIPv6 from the underlay device, flannel's BackendV6Data, subnet.env's IPv6 pair", async (t) => {
  const ipv6 = { network: '2001:db8:18::/48', subnetLen: 64, subnetMin: '2001:db8:18:1::', subnetMax: '2001:db8:18:ffff::' };
  const dualNet = net('vxlan', { backendPort: 8472, backendVni: 1, ipv6 });
  const dualHost: StartFacts = deepFreeze({ ...host, underlay: { ...host.underlay, address6: '2001:db8:2::1' } });
  const c = config({ ...etcdBase, backend: { type: 'vxlan' } });
  const saved: SavedLease = {
    network: '198.18.0.0/16',
    subnet: '198.18.7.0/24',
    ipv6Subnet: '2001:db8:18:7::/64',
    backendType: 'vxlan',
    vtepMac: '02:00:5e:00:53:07',
    publicIP: '192.0.2.1',
  };
  const request = planLeaseRequest(c, store(dualNet, { saved }), dualHost);
  t.match(request.attrs, {
    publicIP: '192.0.2.1',
    publicIPv6: '2001:db8:2::1',
    ipv6BackendData: { VNI: 1, VtepMAC: '02:00:5e:00:53:07' },
    previousSubnet: '198.18.7.0/24',
    previousIpv6Subnet: '2001:db8:18:7::/64',
  });
  const p = plan(c, store(dualNet), dualHost, { subnet: '198.18.7.0/24', ipv6Subnet: '2001:db8:18:7::/64' });
  t.same(p.ipv6, { network: '2001:db8:18::/48', subnet: '2001:db8:18:7::/64' }, 'the IPv6 network is the store’s; the file names none');
  t.equal(p.routes.ipv6Network, '2001:db8:18::/48');
  t.match(p.outputs, { ipv6Network: '2001:db8:18::/48', ipv6Subnet: '2001:db8:18:7::/64' });

  const hostgw = planLeaseRequest(config({ ...etcdBase, backend: { type: 'host-gw' } }), store(net('host-gw', { ipv6 })), dualHost);
  t.equal(hostgw.attrs.publicIPv6, '2001:db8:2::1');
  t.notOk('ipv6BackendData' in hostgw.attrs, 'host-gw writes no BackendV6Data, as flannel');

  t.throws(
    () => planLeaseRequest(c, store(dualNet), host),
    /the etcd http:\/\/192\.0\.2\.10:2379 store's network is dual-stack \(IPv6Network 2001:db8:18::\/48\), but eth0 has no global IPv6 address to announce as this host's PublicIPv6/,
  );
  t.throws(
    () => planLeaseRequest(config({ ...etcdBase, backend: { type: 'vxlan' }, ipv6Network: '2001:db8:19::/48' }), store(dualNet), dualHost),
    /the etcd http:\/\/192\.0\.2\.10:2379 store's network has IPv6 network 2001:db8:18::\/48, the configuration 2001:db8:19::\/48: make them agree/,
  );
  t.equal(planLeaseRequest(c, store(net('vxlan')), dualHost).attrs.publicIPv6, undefined, 'an IPv4-only network announces no PublicIPv6');
});
