// The kernel routes of vxlan's directRouting (src/daemon/direct-routes.ts)
// against a kernel played in memory: every peer stays in the engine's
// routes, a direct peer also gets a kernel route, switching adds before it
// removes, a route that cannot be installed leaves the whole peer on vxlan,
// a failed lookup keeps what still holds; status and /metrics lines.
import t from 'tap';
import pino from 'pino';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { DirectRoutingSink, type DirectRouteKernel } from '../src/daemon/direct-routes.js';
import { addressKey, type DirectRoute, type RouteLookup } from '../src/daemon/direct-routing.js';
import type { RouteSink } from '../src/daemon/lease-router.js';
import type { Target } from '../src/daemon/lease-routes.js';
import type { KernelRoute } from '../src/daemon/route-audit.js';

/** The kernel's answers, changeable between passes, and every route change in order. */
function fakeKernel() {
  const routesTo = new Map<string, RouteLookup>();
  const ops: string[] = [];
  const holders = new Map<string, KernelRoute[]>();
  let lookupError: Error | undefined;
  let refuse: string | undefined;
  const kernel: DirectRouteKernel = {
    lookUp(addresses) {
      if (lookupError) throw lookupError;
      return new Map(addresses.flatMap((a) => (routesTo.has(a) ? [[addressKey(a), routesTo.get(a)!] as const] : [])));
    },
    holders: (r) => holders.get(r.dst) ?? [],
    replace(r: DirectRoute) {
      if (r.dst === refuse) throw Object.assign(new Error('ip failed'), { stderr: 'Error: Nexthop has invalid gateway.' });
      ops.push(`replace ${r.dst} via ${r.gateway} dev ${r.dev}`);
    },
    remove: (r) => void ops.push(`remove ${r.dst} via ${r.gateway}`),
  };
  return {
    kernel,
    ops,
    holders,
    onLink: (address: string, dev = 'eth0') => routesTo.set(address, { dst: address, dev }),
    viaGateway: (address: string, gateway: string) => routesTo.set(address, { dst: address, gateway, dev: 'eth0' }),
    failLookups: (error: Error | undefined) => (lookupError = error),
    refuse: (dst: string | undefined) => (refuse = dst),
  };
}

function logger() {
  const lines: string[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  return { log, text: () => lines.join('') };
}

const engine = () => {
  const applied: string[][] = [];
  const sink: RouteSink = {
    apply(targets) {
      applied.push(targets.map((x) => x.subnet));
      return new Map();
    },
  };
  return { sink, applied };
};

const peer = (n: number, address: string, extra: Partial<Target> = {}): Target => ({
  subnet: `198.18.${n}.0/24`,
  address,
  port: 4789,
  vtepMac: `02:00:5e:00:53:0${n}`,
  vni: 1,
  ...extra,
});

t.test('direct and vxlan peers: all in the engine, kernel routes for the direct ones only', async (t) => {
  const k = fakeKernel();
  const e = engine();
  const { log, text } = logger();
  const sink = new DirectRoutingSink(e.sink, false, log, k.kernel);
  k.onLink('192.0.2.2');
  k.viaGateway('198.51.100.3', '192.0.2.254');
  t.same(sink.apply([peer(2, '192.0.2.2'), peer(3, '198.51.100.3')]), new Map());
  t.same(e.applied, [['198.18.2.0/24', '198.18.3.0/24']], 'the engine routes both');
  t.same(k.ops, ['replace 198.18.2.0/24 via 192.0.2.2 dev eth0']);
  t.same(
    sink.paths().map((p) => `${p.subnet} ${p.path}`),
    ['198.18.2.0/24 direct', '198.18.3.0/24 vxlan'],
  );
  t.same(sink.routes(), [{ family: 4, dst: '198.18.2.0/24', gateway: '192.0.2.2', dev: 'eth0', protocol: '201', metric: 0 }]);
  t.match(text(), /peer 198\.18\.2\.0\/24 \(192\.0\.2\.2\): direct \(on-link: 192\.0\.2\.2 on eth0\)/);

  // The same answers again: nothing to change, nothing logged.
  const before = text().length;
  sink.recheck();
  t.same(k.ops.length, 1, 'no route change when nothing changed');
  t.equal(text().length, before, 'and no log line');

  const registry = new Registry();
  sink.registerMetrics(registry);
  const metrics = await registry.metrics();
  t.match(metrics, /tulle_peer_paths\{path="direct"\} 1/);
  t.match(metrics, /tulle_peer_paths\{path="vxlan"\} 1/);
  t.match(metrics, /tulle_peer_path\{peer="198\.18\.3\.0\/24",address="198\.51\.100\.3",path="vxlan"\} 1/);
});

t.test('switching: the new path is in place before the old one goes', async (t) => {
  const k = fakeKernel();
  const e = engine();
  const { log, text } = logger();
  const sink = new DirectRoutingSink(e.sink, false, log, k.kernel);
  k.onLink('192.0.2.2');
  k.viaGateway('198.51.100.3', '192.0.2.254');
  sink.apply([peer(2, '192.0.2.2'), peer(3, '198.51.100.3')]);
  k.ops.length = 0;

  // The underlay changes: 3 comes on-link, 2 goes behind a gateway.
  k.onLink('198.51.100.3');
  k.viaGateway('192.0.2.2', '192.0.2.254');
  sink.recheck();
  t.same(k.ops, ['replace 198.18.3.0/24 via 198.51.100.3 dev eth0', 'remove 198.18.2.0/24 via 192.0.2.2']);
  t.match(text(), /peer 198\.18\.3\.0\/24 \(198\.51\.100\.3\): vxlan → direct/);
  t.match(text(), /peer 198\.18\.2\.0\/24 \(192\.0\.2\.2\): direct → vxlan \(the route to 192\.0\.2\.2 goes via 192\.0\.2\.254/);
  t.equal(e.applied.length, 1, 'the engine is not touched: it routed both peers all along');

  // A lease moves to another on-link address: one replace, never a gap.
  k.ops.length = 0;
  k.onLink('198.51.100.9');
  sink.apply([peer(2, '192.0.2.2'), peer(3, '198.51.100.9')]);
  t.same(k.ops, ['replace 198.18.3.0/24 via 198.51.100.9 dev eth0']);

  // A lease goes: its route goes.
  k.ops.length = 0;
  sink.apply([peer(2, '192.0.2.2')]);
  t.same(k.ops, ['remove 198.18.3.0/24 via 198.51.100.9']);
  t.same(sink.routes(), []);
});

t.test('a route the kernel refuses leaves the whole peer on vxlan; a foreign route in the way is named', async (t) => {
  const k = fakeKernel();
  const { log, text } = logger();
  const sink = new DirectRoutingSink(engine().sink, false, log, k.kernel);
  k.onLink('192.0.2.2');
  k.onLink('2001:db8::2');
  k.refuse('2001:db8:18:2::/64');
  k.holders.set('198.18.2.0/24', [{ dst: '198.18.2.0/24', gateway: '192.0.2.99', dev: 'eth0', protocol: 'boot' }]);
  sink.apply([peer(2, '192.0.2.2', { ipv6Subnet: '2001:db8:18:2::/64', otherFamilyAddress: '2001:db8::2' })]);
  t.same(k.ops, ['replace 198.18.2.0/24 via 192.0.2.2 dev eth0', 'remove 198.18.2.0/24 via 192.0.2.2'], 'the IPv4 route that went in comes out again');
  t.same(sink.routes(), []);
  t.equal(sink.paths()[0].path, 'vxlan');
  t.match(sink.paths()[0].reason, /installing a direct route failed: Error: Nexthop has invalid gateway/);
  t.match(text(), /the foreign route 198\.18\.2\.0\/24 via 192\.0\.2\.99 dev eth0 proto boot held the place of tulle's direct route/);

  k.refuse(undefined);
  k.ops.length = 0;
  sink.recheck();
  t.same(k.ops, ['replace 198.18.2.0/24 via 192.0.2.2 dev eth0', 'replace 2001:db8:18:2::/64 via 2001:db8::2 dev eth0']);
  t.same(
    sink.routes().map((r) => r.metric),
    [0, 1024],
    "IPv6 routes carry the kernel's default metric, so the route check finds them as installed",
  );
});

t.test('when the kernel cannot be asked, what still holds stays and what changed goes', async (t) => {
  const k = fakeKernel();
  const { log, text } = logger();
  const sink = new DirectRoutingSink(engine().sink, false, log, k.kernel);
  k.onLink('192.0.2.2');
  k.onLink('192.0.2.3');
  k.onLink('192.0.2.4');
  sink.apply([peer(2, '192.0.2.2'), peer(3, '192.0.2.3'), peer(4, '192.0.2.4')]);
  k.ops.length = 0;
  k.failLookups(new Error('spawnSync ip ETIMEDOUT'));
  sink.apply([peer(2, '192.0.2.2'), peer(3, '192.0.2.33')]);
  t.same(k.ops.sort(), ['remove 198.18.3.0/24 via 192.0.2.3', 'remove 198.18.4.0/24 via 192.0.2.4'], 'a moved peer and a gone one lose their routes');
  t.same(
    sink.paths().map((p) => `${p.subnet} ${p.path}`),
    ['198.18.2.0/24 direct', '198.18.3.0/24 vxlan'],
  );
  t.match(sink.paths()[1].reason, /looking up the path failed: spawnSync ip ETIMEDOUT/);
  t.match(text(), /looking up the paths to peers failed: spawnSync ip ETIMEDOUT/);
  k.failLookups(undefined);
  k.onLink('192.0.2.33');
  sink.recheck();
  t.equal(sink.paths()[1].path, 'direct');
  t.match(text(), /looking up the paths to peers works again/);

  k.ops.length = 0;
  sink.stop();
  t.same(k.ops.sort(), ['remove 198.18.2.0/24 via 192.0.2.2', 'remove 198.18.3.0/24 via 192.0.2.33'], 'stop removes every direct route');
});
