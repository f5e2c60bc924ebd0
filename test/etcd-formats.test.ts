// flannel's etcd formats, without etcd: the network config (defaults, checks,
// every error at once), the lease value (flannel's exact JSON both ways, and
// refusal of malformed values without exceptions), subnet keys, the subnet
// pool, the watch's known-lease table and the retry backoff.
import t from 'tap';
import fc from 'fast-check';
import {
  checkNetworkConfig,
  decodeLeaseValue,
  encodeLeaseValue,
  formatNetworkConfig,
  formatSubnetKey,
  NetworkConfigError,
  parseNetworkConfig,
  parseSubnetKey,
} from '../src/etcd/index.js';
import { fitsNetwork, freeSubnets, pickSubnet } from '../src/etcd/subnet-pool.js';
import { KnownLeases } from '../src/etcd/known-leases.js';
import { Backoff } from '../src/etcd/backoff.js';
import type { Lease, LeaseAttrs } from '../src/lease/lease.js';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof NetworkConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a NetworkConfigError');
}

// ---------------------------------------------------------------- network config

t.test('network config: flannel defaults', async (t) => {
  const c = parseNetworkConfig('{"Network":"198.18.0.0/16","Backend":{"Type":"vxlan"}}');
  t.same(
    c,
    {
      network: '198.18.0.0/16',
      subnetLen: 24,
      subnetMin: '198.18.1.0',
      subnetMax: '198.18.255.0',
      backendType: 'vxlan',
      backend: { type: 'vxlan', vni: 1 },
    },
    '/16: SubnetLen 24, the first subnet skipped, up to the last; VNI 1',
  );
  const small = parseNetworkConfig('{"Network":"198.18.0.0/26","Backend":{"Type":"udp"}}');
  t.same([small.subnetLen, small.subnetMin, small.subnetMax], [28, '198.18.0.16', '198.18.0.48'], 'a network smaller than /22: SubnetLen = prefix + 2');
  t.equal(parseNetworkConfig('{"Network":"198.18.0.0/15"}').backendType, 'udp', "no Backend: udp, as flannel's parseBackendType");
  const explicit = parseNetworkConfig(
    JSON.stringify({
      Network: '198.18.0.0/16',
      SubnetLen: 26,
      SubnetMin: '198.18.10.0',
      SubnetMax: '198.18.20.192',
      Backend: { Type: 'vxlan', VNI: 42, Port: 8472, DirectRouting: true },
      EnableIPv4: true,
      EnableIPv6: false,
    }),
  );
  t.same([explicit.subnetLen, explicit.subnetMin, explicit.subnetMax], [26, '198.18.10.0', '198.18.20.192']);
  t.same(explicit.backend, { type: 'vxlan', vni: 42, port: 8472, directRouting: true });
  // Go's encoding/json matches keys case-insensitively; what flannel accepts, tulle reads.
  t.equal(parseNetworkConfig('{"network":"198.18.0.0/16","backend":{"type":"host-gw"}}').backendType, 'host-gw');
  t.equal(parseNetworkConfig('{"Network":"198.18.0.0/16","SubnetLen":null,"Backend":{"Type":"vxlan","vni":7}}').backend.vni, 7, 'null is unset');
});

t.test('network config: each problem names the field, the value and what is allowed; all at once', async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ['missing Network', {}, /^Network: missing is required; allowed: an IPv4 network/],
    ['host bits', { Network: '198.18.0.1/16' }, /^Network: "198.18.0.1\/16" is invalid \(.*host bits.*\); allowed/],
    ['not a CIDR', { Network: 'a.b.c.d/8' }, /^Network: "a.b.c.d\/8" is invalid/],
    ['too small without SubnetLen', { Network: '198.18.0.0/29' }, /^Network: "198.18.0.0\/29" is too small; allowed: a network of \/28 or larger/],
    ['SubnetLen too long', { Network: '198.18.0.0/16', SubnetLen: 31 }, /^SubnetLen: 31 is not allowed; allowed: 18..30/],
    ['SubnetLen too short', { Network: '198.18.0.0/16', SubnetLen: 17 }, /^SubnetLen: 17 is not allowed; allowed: 18..30/],
    ['SubnetLen not a number', { Network: '198.18.0.0/16', SubnetLen: '24' }, /^SubnetLen: "24" is not allowed; allowed: an integer/],
    [
      'SubnetMin outside',
      { Network: '198.18.0.0/16', SubnetMin: '198.19.1.0' },
      /^SubnetMin: "198.19.1.0" is outside the network; allowed: an address inside 198.18.0.0\/16 on a \/24 boundary/,
    ],
    ['SubnetMax misaligned', { Network: '198.18.0.0/16', SubnetMax: '198.18.9.1' }, /^SubnetMax: "198.18.9.1" is not on a \/24 boundary/],
    [
      'SubnetMin above SubnetMax',
      { Network: '198.18.0.0/16', SubnetMin: '198.18.9.0', SubnetMax: '198.18.8.0' },
      /^SubnetMax: "198.18.8.0" is below SubnetMin; allowed: an address not below SubnetMin \(198.18.9.0\)/,
    ],
    ['unknown key', { Network: '198.18.0.0/16', Subnetlength: 24 }, /^Subnetlength: 24 is an unknown or repeated key; allowed: the keys Network, SubnetLen/],
    ['repeated key', { Network: '198.18.0.0/16', network: '198.18.0.0/16' }, /^network: .* is an unknown or repeated key/],
    [
      'backend type',
      { Network: '198.18.0.0/16', Backend: { Type: 'wireguard' } },
      /^Backend.Type: "wireguard" is not supported; allowed: "udp", "vxlan", "host-gw"/,
    ],
    ['backend without type', { Network: '198.18.0.0/16', Backend: {} }, /^Backend.Type: missing is required/],
    [
      'backend key of another type',
      { Network: '198.18.0.0/16', Backend: { Type: 'udp', VNI: 1 } },
      /^Backend.VNI: 1 is an unknown or repeated key; allowed: for udp, the keys Type, Port/,
    ],
    [
      'VNI out of range',
      { Network: '198.18.0.0/16', Backend: { Type: 'vxlan', VNI: 16777216 } },
      /^Backend.VNI: 16777216 is not allowed; allowed: an integer 0..16777215/,
    ],
    [
      'port out of range',
      { Network: '198.18.0.0/16', Backend: { Type: 'udp', Port: 70000 } },
      /^Backend.Port: 70000 is not allowed; allowed: an integer 0..65535/,
    ],
    ['IPv6 without its network', { Network: '198.18.0.0/16', EnableIPv6: true }, /^IPv6Network: missing is required when EnableIPv6 is true/],
    [
      'no IPv4',
      { Network: '198.18.0.0/16', EnableIPv4: false },
      /^EnableIPv4: false is not allowed; allowed: true: over etcd every lease is keyed by its IPv4 subnet/,
    ],
  ];
  for (const [name, value, pattern] of cases) {
    const found = problems(() => checkNetworkConfig(value));
    t.ok(
      found.some((p) => pattern.test(p)),
      `${name}: ${found.join(' | ')}`,
    );
  }
  const many = problems(() => checkNetworkConfig({ Network: '198.18.0.0/16', SubnetLen: 40, Foo: 1, Backend: { Type: 'ipip' } }));
  t.equal(many.length, 3, 'three problems reported together');
  t.match(
    problems(() => parseNetworkConfig('{"Network":')),
    [/^not JSON/],
  );
  t.match(
    problems(() => parseNetworkConfig('[1]')),
    [/is not an object/],
  );
  const error = (() => {
    try {
      parseNetworkConfig('{}', '/coreos.com/network/config');
    } catch (e) {
      return e as Error;
    }
  })();
  t.match(error?.message, /^invalid network config in \/coreos.com\/network\/config:\n {2}- Network/, 'the message names where the config came from');
});

t.test("network config: formatNetworkConfig writes flannel's form with the defaults filled in", async (t) => {
  t.equal(
    formatNetworkConfig({ network: '198.18.0.0/16', backend: { type: 'vxlan' } }),
    '{"Network":"198.18.0.0/16","SubnetLen":24,"SubnetMin":"198.18.1.0","SubnetMax":"198.18.255.0","Backend":{"Type":"vxlan","VNI":1}}',
  );
  t.equal(
    formatNetworkConfig({ network: '198.18.0.0/16', subnetLen: 25, subnetMin: '198.18.4.0', backend: { type: 'udp', port: 8285 } }),
    '{"Network":"198.18.0.0/16","SubnetLen":25,"SubnetMin":"198.18.4.0","SubnetMax":"198.18.255.128","Backend":{"Type":"udp","Port":8285}}',
  );
  t.throws(() => formatNetworkConfig({ network: '198.18.0.0/16', subnetLen: 8 }), NetworkConfigError, 'the writer refuses what the reader would');
  const text = formatNetworkConfig({ network: '198.18.0.0/20', backend: { type: 'host-gw' } });
  t.same(parseNetworkConfig(text), checkNetworkConfig(JSON.parse(text)), 'round trip');
});

// ---------------------------------------------------------------- lease values

const vxlanAttrs: LeaseAttrs = { publicIP: '192.0.2.1', backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'c6:d2:32:6f:8f:44' } };

t.test("lease value: flannel's exact JSON, both ways", async (t) => {
  // As in flannel's Documentation/reservations.md (with a documentation address).
  const flannel = '{"PublicIP":"192.0.2.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}';
  t.equal(encodeLeaseValue(vxlanAttrs), flannel);
  t.same(decodeLeaseValue(flannel), { ok: true, attrs: vxlanAttrs });
  t.equal(
    encodeLeaseValue({ publicIP: '192.0.2.2', backendType: 'udp', backendData: {} }),
    '{"PublicIP":"192.0.2.2","PublicIPv6":null,"BackendType":"udp"}',
    'udp: no BackendData (omitempty)',
  );
  t.equal(
    encodeLeaseValue({
      publicIP: '192.0.2.3',
      publicIPv6: '2001:db8::3',
      backendType: 'vxlan',
      backendData: { VNI: 2, VtepMAC: '02:00:5E:00:53:03', Port: 4789 },
    }),
    '{"PublicIP":"192.0.2.3","PublicIPv6":"2001:db8::3","BackendType":"vxlan","BackendData":{"VNI":2,"VtepMAC":"02:00:5e:00:53:03","Port":4789}}',
    "MAC lower case as Go prints it; Port is tulle's addition after flannel's fields",
  );
  // Written by a dual-stack flannel host: BackendV6Data is read too (test/etcd-dual-stack.test.ts has more).
  const dual = decodeLeaseValue(
    '{"PublicIP":"192.0.2.4","PublicIPv6":"2001:db8::4","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:5e:00:53:04"},"BackendV6Data":{"VNI":1,"VtepMAC":"02:00:5e:00:53:05"}}',
  );
  t.same(dual, {
    ok: true,
    attrs: {
      publicIP: '192.0.2.4',
      publicIPv6: '2001:db8::4',
      backendType: 'vxlan',
      backendData: { VNI: 1, VtepMAC: '02:00:5e:00:53:04' },
      ipv6BackendData: { VNI: 1, VtepMAC: '02:00:5e:00:53:05' },
    },
  });
});

t.test('lease value: malformed values are refused with a reason, never thrown', async (t) => {
  const cases: [string, RegExp][] = [
    ['', /^not JSON/],
    ['{"PublicIP":', /^not JSON/],
    ['[]', /^not an object/],
    ['null', /^not an object/],
    ['{"BackendType":"vxlan"}', /^PublicIP missing is not an IPv4 address/],
    ['{"PublicIP":"192.0.2.300","BackendType":"udp"}', /^PublicIP "192.0.2.300"/],
    ['{"PublicIP":"0.0.0.0","BackendType":"udp"}', /^PublicIP "0.0.0.0"/],
    ['{"PublicIP":"192.0.2.1","PublicIPv6":"nope","BackendType":"udp"}', /^PublicIPv6 "nope"/],
    ['{"PublicIP":"192.0.2.1","BackendType":"ipip"}', /^BackendType "ipip" is not one of udp, vxlan, host-gw/],
    ['{"PublicIP":"192.0.2.1","BackendType":"vxlan","BackendData":{"VNI":1}}', /VtepMAC/],
    ['{"PublicIP":"192.0.2.1","BackendType":"vxlan","BackendData":{"VNI":"1","VtepMAC":"02:00:5e:00:53:01"}}', /^BackendData.VNI "1"/],
    ['{"PublicIP":"192.0.2.1","BackendType":"vxlan","BackendData":{"VtepMAC":"02:00:5e"}}', /^BackendData.VtepMAC "02:00:5e"/],
    ['{"PublicIP":"192.0.2.1","BackendType":"udp","BackendData":[1]}', /^BackendData \[1\] is not an object/],
    ['{"PublicIP":"192.0.2.1","BackendType":"udp","BackendData":{"Port":0}}', /^BackendData.Port 0/],
  ];
  for (const [value, reason] of cases) {
    const r = decodeLeaseValue(value);
    t.ok(!r.ok && reason.test(r.reason), `${JSON.stringify(value)} → ${r.ok ? 'accepted' : r.reason}`);
  }
});

t.test('lease value: property: decode(encode(attrs)) = attrs; decoding arbitrary text never throws', async (t) => {
  const octet = fc.integer({ min: 0, max: 255 });
  const ip = fc.tuple(fc.integer({ min: 1, max: 255 }), octet, octet, octet).map((a) => a.join('.'));
  const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));
  const attrs = fc.oneof(
    fc.record({
      publicIP: ip,
      backendType: fc.constant('vxlan' as const),
      backendData: fc.record({ VNI: fc.integer({ min: 0, max: 0xffffff }), VtepMAC: mac }),
    }),
    // A dual-stack vxlan lease: PublicIPv6 and BackendV6Data.
    fc.record({
      publicIP: ip,
      backendType: fc.constant('vxlan' as const),
      backendData: fc.record({ VNI: fc.integer({ min: 0, max: 0xffffff }), VtepMAC: mac }),
      publicIPv6: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((w) => w.map((x) => x.toString(16)).join(':')),
      ipv6BackendData: fc.record({ VNI: fc.integer({ min: 0, max: 0xffffff }), VtepMAC: mac }),
    }),
    fc.record({
      publicIP: ip,
      backendType: fc.constantFrom('udp' as const, 'host-gw' as const),
      backendData: fc.record({ Port: fc.integer({ min: 1, max: 65535 }) }, { requiredKeys: [] }),
    }),
  );
  fc.assert(
    fc.property(attrs, (a) => {
      const r = decodeLeaseValue(encodeLeaseValue(a));
      return r.ok && JSON.stringify(r.attrs) === JSON.stringify(a);
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.json(),
        fc.jsonValue().map((v) => JSON.stringify({ PublicIP: '192.0.2.1', BackendType: 'vxlan', BackendData: v })),
        fc
          .jsonValue()
          .map((v) => JSON.stringify({ PublicIP: '192.0.2.1', BackendType: 'vxlan', BackendData: { VtepMAC: '02:00:5e:00:53:01' }, BackendV6Data: v })),
      ),
      (text) => {
        const r = decodeLeaseValue(text);
        return typeof r.ok === 'boolean';
      },
    ),
    { numRuns: 1000 },
  );
  t.pass('properties hold');
});

t.test("subnet keys: flannel's MakeSubnetKey / ParseSubnetKey", async (t) => {
  t.equal(formatSubnetKey('198.18.1.0/24'), '198.18.1.0-24');
  t.equal(formatSubnetKey('198.18.1.0/24', '2001:db8:1::/64'), '198.18.1.0-24&2001:db8:1::-64');
  t.same(parseSubnetKey('198.18.1.0-24'), { subnet: '198.18.1.0/24' });
  t.same(parseSubnetKey('198.18.1.0-24&2001:db8:1::-64'), { subnet: '198.18.1.0/24', ipv6Subnet: '2001:db8:1::/64' });
  for (const bad of ['198.18.1.0', '198.18.1.0-33', '198.18.1.1-24', '198.18.1.0/24', 'x-24', '198.18.1.0-24&zz::-64', '198.18.1.0-24&2001:db8::-200', '']) {
    t.equal(parseSubnetKey(bad), undefined, `refused: "${bad}"`);
  }
});

// ---------------------------------------------------------------- subnet pool

t.test("subnet pool: flannel's range, overlap and 100-candidate rules", async (t) => {
  const config = parseNetworkConfig('{"Network":"198.18.0.0/16","Backend":{"Type":"udp"}}');
  t.ok(fitsNetwork(config, '198.18.1.0/24'));
  t.ok(fitsNetwork(config, '198.18.255.0/24'));
  t.notOk(fitsNetwork(config, '198.18.0.0/24'), 'the first subnet is outside [SubnetMin, SubnetMax]');
  t.notOk(fitsNetwork(config, '198.18.2.0/25'), 'a different SubnetLen does not fit');
  t.notOk(fitsNetwork(config, '198.19.2.0/24'));
  t.notOk(fitsNetwork(config, 'garbage'));
  const free = freeSubnets(config, []);
  t.equal(free.length, 100, 'at most 100 candidates');
  t.equal(free[0], '198.18.1.0/24');
  t.equal(free[99], '198.18.100.0/24');
  const taken = ['198.18.1.0/24', '198.18.2.0/23', 'not-a-subnet'];
  t.same(freeSubnets(config, taken, 3), ['198.18.4.0/24', '198.18.5.0/24', '198.18.6.0/24'], 'a taken /23 covers two /24s');
  t.same(freeSubnets(config, ['198.18.0.0/16']), [], 'a lease over the whole network leaves nothing');
  t.equal(
    pickSubnet(config, taken, () => 0),
    '198.18.4.0/24',
  );
  t.equal(
    pickSubnet(config, taken, () => 0.999999),
    '198.18.103.0/24',
    'the 100th free subnet',
  );
  const tiny = parseNetworkConfig('{"Network":"198.18.0.0/16","SubnetMin":"198.18.7.0","SubnetMax":"198.18.8.0"}');
  t.same(freeSubnets(tiny, []), ['198.18.7.0/24', '198.18.8.0/24']);
  t.equal(pickSubnet(tiny, ['198.18.7.0/24', '198.18.8.0/24']), undefined, 'full range: nothing to pick');
  const picks = new Set(Array.from({ length: 200 }, () => pickSubnet(config, [])));
  t.ok(picks.size > 20, `random picks spread over the candidates (${picks.size} distinct of 200)`);
});

// ---------------------------------------------------------------- known leases

function lease(subnet: string, publicIP: string, expiration = 1): Lease {
  return { subnet, publicIP, backendType: 'udp', backendData: {}, expiration };
}

t.test('known leases: stream events and resync diffs', async (t) => {
  const k = new KnownLeases();
  t.same(
    k.resync([lease('198.18.1.0/24', '192.0.2.1'), lease('198.18.2.0/24', '192.0.2.2')]).map((e) => [e.type, e.lease.subnet]),
    [
      ['added', '198.18.1.0/24'],
      ['added', '198.18.2.0/24'],
    ],
    'first listing: everything added',
  );
  t.same(k.put(lease('198.18.1.0/24', '192.0.2.1', 2)), { type: 'added', lease: lease('198.18.1.0/24', '192.0.2.1', 2) }, 'a put (renewal) is reported');
  t.equal(k.delete('198.18.9.0/24'), undefined, 'deleting an unknown subnet reports nothing');
  const events = k.resync([lease('198.18.1.0/24', '192.0.2.1', 3), lease('198.18.2.0/24', '192.0.2.9'), lease('198.18.3.0/24', '192.0.2.3')]);
  t.same(
    events.map((e) => [e.type, e.lease.subnet, e.lease.publicIP]),
    [
      ['added', '198.18.2.0/24', '192.0.2.9'],
      ['added', '198.18.3.0/24', '192.0.2.3'],
    ],
    'resync: changed holder and new lease reported; a new expiration alone is not',
  );
  const gone = k.resync([lease('198.18.3.0/24', '192.0.2.3')]);
  t.same(
    gone.map((e) => [e.type, e.lease.subnet, e.lease.publicIP]),
    [
      ['removed', '198.18.1.0/24', '192.0.2.1'],
      ['removed', '198.18.2.0/24', '192.0.2.9'],
    ],
    'resync: gone leases removed, with the lease as last known',
  );
  t.same(k.delete('198.18.3.0/24')?.type, 'removed');
  t.equal(k.size, 0);
});

t.test('backoff: doubles to the cap, jittered in [d/2, d], resets', async (t) => {
  const low = new Backoff(100, 1000, () => 0);
  t.same([low.next(), low.next(), low.next(), low.next(), low.next(), low.next()], [50, 100, 200, 400, 500, 500]);
  const high = new Backoff(100, 1000, () => 1);
  t.same([high.next(), high.next(), high.next(), high.next(), high.next()], [100, 200, 400, 800, 1000]);
  high.reset();
  t.equal(high.next(), 100);
});
