// Loading the daemon's configuration without the host: files (YAML, JSON,
// flannel's net-conf.json), TULLE_* variables and flags merged in order, and
// every kind of mistake reported at once, each naming the field, the value
// and what is allowed.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type LoadOptions } from '../src/daemon/config/load.js';
import { ConfigError } from '../src/daemon/config/problems.js';
import { networkFromConfig } from '../src/daemon/config/network.js';
import { SETTINGS } from '../src/daemon/config/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'tulle-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (text: string, ext = 'yaml') => {
  const path = join(dir, `c${n++}.${ext}`);
  writeFileSync(path, text);
  return path;
};

/** The problems of a configuration that must fail, one string each. */
async function problems(options: LoadOptions): Promise<string[]> {
  try {
    await loadConfig(options);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('the configuration was accepted');
}

t.test('YAML and JSON files give the same configuration, defaults filled in', async (t) => {
  const yaml = file(`
network: 198.18.0.0/16
subnet: 198.18.1.0/24
underlay: { address: 192.0.2.1 }
backend:
  type: vxlan
  mac: 02:00:5e:00:53:01
peers:
  - { subnet: 198.18.2.0/24, address: 192.0.2.2, mac: 02:00:5e:00:53:02 }
`);
  const json = file(
    JSON.stringify({
      network: '198.18.0.0/16',
      subnet: '198.18.1.0/24',
      underlay: { address: '192.0.2.1' },
      backend: { type: 'vxlan', mac: '02:00:5e:00:53:01' },
      peers: [{ subnet: '198.18.2.0/24', address: '192.0.2.2', mac: '02:00:5e:00:53:02' }],
    }),
    'json',
  );
  const a = (await loadConfig({ file: yaml })).config;
  const b = (await loadConfig({ file: json })).config;
  t.same(a, b);
  t.equal(a.backend.type === 'vxlan' && a.backend.vni, 1, "vni defaults to flannel's 1");
  t.same(a.tun, { name: 'tulle0' });
  t.same(a.store, { type: 'static' });
  t.equal(a.logLevel, 'info');
  t.equal(a.ipMasq, false);
  t.equal(a.forwardAccept, true, 'accept rules in forward chains that drop by policy, as flannel adds them');
  t.equal(a.batch, 64);
  t.equal(a.threads, 1, 'one data-plane thread');
  t.same(
    networkFromConfig(a),
    { network: '198.18.0.0/16', subnetLen: 24, subnetMin: '198.18.1.0', subnetMax: '198.18.255.0', backendType: 'vxlan' },
    "subnetLen from the subnet; the range is flannel's (second to last subnet)",
  );
});

t.test('the static configurations of the engine tests load unchanged', async (t) => {
  const legacy = {
    network: '198.18.0.0/16',
    subnet: '198.18.1.0/24',
    underlay: { address: '192.0.2.1', port: 8472 },
    backend: { type: 'vxlan', vni: 1, mac: '02:00:5e:00:53:01' },
    tun: { name: 'tulle0', mtu: 1450 },
    peers: [{ subnet: '198.18.2.0/24', address: '192.0.2.2', port: 8472, mac: '02:00:5e:00:53:02' }],
    batch: 64,
    offloads: { tun: false, udpGso: true, udpGro: false },
  };
  const { config } = await loadConfig({ file: file(JSON.stringify(legacy), 'json') });
  t.equal(config.underlay.port, 8472);
  t.same(config.offloads, { tun: false, udpGso: true, udpGro: false, udpTunnelGso: 'auto', uso: true });
  t.equal(config.peers[0].mac, '02:00:5e:00:53:02');
});

t.test('merge order: defaults < file < environment < flags', async (t) => {
  const path = file('network: 198.18.0.0/16\nbackend: { type: udp }\ntun: { mtu: 1400 }\nlogLevel: warn\n');
  const env = { TULLE_MTU: '1300', TULLE_LOG_LEVEL: 'debug', TULLE_IP_MASQ: 'true' };
  t.equal((await loadConfig({ file: path })).config.tun.mtu, 1400, 'file over default');
  t.equal((await loadConfig({ file: path, env })).config.tun.mtu, 1300, 'environment over file');
  const both = (await loadConfig({ file: path, env, flags: { mtu: '1200', ipMasq: false } })).config;
  t.equal(both.tun.mtu, 1200, 'flag over environment');
  t.equal(both.ipMasq, false, 'a negated flag (--no-ip-masq) over the environment');
  t.equal(both.logLevel, 'debug');
  t.equal(both.tun.name, 'tulle0', 'the default where nothing sets it');
  t.equal((await loadConfig({ file: path, flags: { forwardAccept: false } })).config.forwardAccept, false, '--no-forward-accept');
  // No file at all: everything from the environment.
  const fromEnv = (await loadConfig({ env: { TULLE_NETWORK: '198.18.0.0/16', TULLE_BACKEND: 'vxlan', TULLE_VNI: '7', TULLE_ETCD_ENDPOINTS: '' } })).config;
  t.same(fromEnv.backend, { type: 'vxlan', vni: 7 });
});

t.test('a type given later replaces the earlier mapping instead of merging into it', async (t) => {
  const path = file('network: 198.18.0.0/16\nbackend: { type: vxlan, vni: 5 }\nstore: { type: gossip, key: 00112233445566778899aabbccddeeff }\n');
  const { config } = await loadConfig({
    file: path,
    env: { TULLE_BACKEND: 'udp', TULLE_STORE: 'etcd', TULLE_ETCD_ENDPOINTS: 'http://192.0.2.10:2379,http://192.0.2.11:2379' },
  });
  t.same(config.backend, { type: 'udp' });
  t.same(config.store, { type: 'etcd', endpoints: ['http://192.0.2.10:2379', 'http://192.0.2.11:2379'], prefix: '/coreos.com/network' });
});

t.test("flannel's net-conf.json is read, and its errors use flannel's names", async (t) => {
  const netconf = file(
    JSON.stringify({
      Network: '198.18.0.0/16',
      SubnetLen: 26,
      SubnetMin: '198.18.0.64',
      SubnetMax: '198.18.3.192',
      Backend: { Type: 'vxlan', VNI: 4, Port: 8472 },
    }),
    'json',
  );
  const { config } = await loadConfig({ file: netconf, env: { TULLE_PUBLIC_IP: '192.0.2.1' } });
  t.equal(config.network, '198.18.0.0/16');
  t.equal(config.subnetLen, 26);
  t.equal(config.subnetMin, '198.18.0.64');
  t.equal(config.subnetMax, '198.18.3.192');
  t.same(config.backend, { type: 'vxlan', vni: 4, port: 8472 });
  t.equal(config.underlay.address, '192.0.2.1', "tulle's own settings come from beside it");

  const bad = file(JSON.stringify({ Network: '198.18.0.0/16', SubnetLen: 8, Backend: { Type: 'ipip', GBP: true }, EnableIPv6: true, Frobnicate: 1 }), 'json');
  const found = await problems({ file: bad });
  t.same(
    found.sort(),
    [
      'Backend.GBP: not supported by tulle; supported: Type, VNI, Port, DirectRouting (got true)',
      'Backend.Type: must be one of udp, vxlan, host-gw (got "ipip")',
      'EnableIPv6: needs IPv6Network, the dual-stack network\'s IPv6 range, like "2001:db8:18::/48" (got true)',
      'Frobnicate: not a flannel key tulle knows; known: Network, SubnetLen, SubnetMin, SubnetMax, IPv6Network, Backend, EnableIPv6, EnableIPv4, EnableNFTables (got 1)',
      "SubnetLen: must be longer than the network's prefix: 17 to 32 for 198.18.0.0/16 (got 8)",
    ].sort(),
  );

  // Dual stack as flannel's Documentation/configuration.md writes it in net-conf.json: EnableIPv6 with IPv6Network.
  const dual = file(
    JSON.stringify({
      Network: '198.18.0.0/16',
      EnableIPv6: true,
      IPv6Network: '2001:db8:18::/48',
      Backend: { Type: 'vxlan' },
      ipv6Subnet: '2001:db8:18:1::/64',
    }),
    'json',
  );
  const loaded = await loadConfig({ file: dual, env: { TULLE_PUBLIC_IP: '192.0.2.1' } });
  t.equal(loaded.config.ipv6Network, '2001:db8:18::/48', 'IPv6Network is the ipv6Network');
  const lone = file(
    JSON.stringify({ Network: '198.18.0.0/16', IPv6Network: '2001:db8:18::/48', Backend: { Type: 'vxlan' }, ipv6Subnet: '2001:db8:18:1::/64' }),
    'json',
  );
  t.same(await problems({ file: lone }), [
    'IPv6Network: is read only with EnableIPv6: true (flannel ignores it otherwise): add EnableIPv6: true or remove it (got "2001:db8:18::/48")',
  ]);
});

t.test('every problem at once, each naming the field, the value and what is allowed', async (t) => {
  const path = file(`
network: 198.18.0.0/33
subnetLen: 40
backend: { type: vxlen }
underlay: { address: 192.0.2, port: 70000 }
tun: { nmae: tulle1, mtu: 40 }
logLevel: loud
metricsAddress: localhost
healthAddress: 9465
`);
  const found = await problems({ file: path });
  t.same(found, [
    'network: must be an IPv4 CIDR like 198.18.0.0/16 (prefix length 0 to 32) (got "198.18.0.0/33")',
    'subnetLen: must be an integer from 1 to 32 (got 40)',
    'backend.type: must be one of udp, vxlan, host-gw (got "vxlen")',
    'underlay.address: must be an IPv4 or IPv6 address (got "192.0.2")',
    'underlay.port: must be a UDP/TCP port from 1 to 65535 (got 70000)',
    'tun.mtu: must be an integer from 68 to 65535 (got 40)',
    'tun.nmae: unknown key; allowed here: name, mtu (got "tulle1")',
    'metricsAddress: must be address:port like 127.0.0.1:9464 or [::1]:9464 (got "localhost")',
    'healthAddress: must be address:port like 127.0.0.1:9465, or off (got 9465)',
    'logLevel: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
  ]);
});

t.test('the checks across fields', async (t) => {
  const base = { backend: { type: 'udp' }, underlay: { address: '192.0.2.1' } };
  const cases: [string, object, string[]][] = [
    ['a CIDR with host bits set', { network: '198.18.0.1/16' }, ['network: has host bits set; the network would be 198.18.0.0/16 (got "198.18.0.1/16")']],
    [
      'subnetLen not longer than the network',
      { network: '198.18.0.0/16', subnetLen: 16 },
      ["subnetLen: must be longer than the network's prefix: 17 to 32 for 198.18.0.0/16 (got 16)"],
    ],
    ['subnetLen below 1', { network: '198.18.0.0/16', subnetLen: 0 }, ['subnetLen: must be an integer from 1 to 32 (got 0)']],
    [
      'the subnet outside the network',
      { network: '198.18.0.0/16', subnet: '198.19.1.0/24' },
      ['subnet: must be inside the network 198.18.0.0/16 (got "198.19.1.0/24")'],
    ],
    [
      'overlapping subnets',
      {
        network: '198.18.0.0/16',
        subnet: '198.18.1.0/24',
        peers: [
          { subnet: '198.18.1.128/25', address: '192.0.2.2' },
          { subnet: '198.18.2.0/24', address: '192.0.2.3' },
          { subnet: '198.18.2.0/24', address: '192.0.2.4' },
        ],
      },
      [
        'peers[0].subnet: overlaps subnet (198.18.1.0/24): each subnet belongs to one host (got "198.18.1.128/25")',
        'peers[2].subnet: overlaps peers[1].subnet (198.18.2.0/24): each subnet belongs to one host (got "198.18.2.0/24")',
      ],
    ],
    [
      'the underlay inside the overlay',
      { network: '198.18.0.0/15', underlay: { address: '198.19.0.1' } },
      ['underlay.address: is inside the overlay network 198.18.0.0/15: underlay and overlay must not overlap (got "198.19.0.1")'],
    ],
    [
      'subnetMin off the subnet grid and outside',
      { network: '198.18.0.0/16', subnetMin: '198.18.1.7', subnetMax: '198.19.0.0' },
      ['subnetMin: must be the first address of a /24 subnet (got "198.18.1.7")', 'subnetMax: must be inside the network 198.18.0.0/16 (got "198.19.0.0")'],
    ],
    ['no network', {}, ['network: is required with the static store (an IPv4 CIDR like 198.18.0.0/16; only the etcd store holds it itself)']],
    [
      'a vxlan peer without its VTEP MAC',
      { network: '198.18.0.0/16', backend: { type: 'vxlan' }, peers: [{ subnet: '198.18.2.0/24', address: '192.0.2.2' }] },
      ["peers[0].mac: is required with the vxlan backend: the peer's VTEP MAC, like 02:00:5e:00:53:02"],
    ],
    [
      'a gossip store without a key',
      { network: '198.18.0.0/16', store: { type: 'gossip', peers: ['192.0.2.2'] } },
      ['store.key: is missing: the gossip store needs a shared key (store.key, store.keyFile or TULLE_GOSSIP_KEY), at least 16 bytes as hex or base64'],
    ],
    [
      'a gossip key too short (and not printed)',
      { network: '198.18.0.0/16', store: { type: 'gossip', key: 'c2VjcmV0' } },
      ['store.key: must be at least 16 bytes, as hex (32+ digits) or base64 (e.g. from `openssl rand -base64 32`)'],
    ],
    [
      'static peers with another store',
      { network: '198.18.0.0/16', store: { type: 'etcd', endpoints: ['http://192.0.2.10:2379'] }, peers: [{ subnet: '198.18.2.0/24', address: '192.0.2.2' }] },
      ['peers: lists static peers, which only the static store uses (store.type is etcd)'],
    ],
    [
      'an etcd endpoint that is not a URL',
      { store: { type: 'etcd', endpoints: ['192.0.2.10:2379'], prefix: 'coreos.com/network/' } },
      [
        'store.endpoints[0]: must be a URL like http://192.0.2.10:2379 (got "192.0.2.10:2379")',
        'store.prefix: must be a key prefix like /coreos.com/network (leading /, no trailing /) (got "coreos.com/network/")',
      ],
    ],
  ];
  for (const [name, config, expected] of cases) {
    t.same(await problems({ file: file(JSON.stringify({ ...base, ...config }), 'json') }), expected, name);
  }
  // The etcd store holds the network itself: none needed in the file.
  t.equal(
    (await loadConfig({ file: file(JSON.stringify({ ...base, store: { type: 'etcd', endpoints: ['http://192.0.2.10:2379'] } }), 'json') })).config.network,
    undefined,
  );
});

t.test('a dual-stack overlay on the gossip store: ipv6Network and ipv6SubnetLen accepted, ipv6Subnet refused', async (t) => {
  const base = { network: '198.18.0.0/16', backend: { type: 'vxlan' }, underlay: { address: '192.0.2.1' }, store: { type: 'gossip', key: 'a'.repeat(32) } };
  const load = async (extra: object) => (await loadConfig({ file: file(JSON.stringify({ ...base, ...extra }), 'json') })).config;
  t.equal((await load({ ipv6Network: '2001:db8:18::/48' })).ipv6Network, '2001:db8:18::/48', 'ipv6Network with the gossip store');
  t.equal((await load({ ipv6Network: '2001:db8:18::/48', ipv6SubnetLen: 80 })).ipv6SubnetLen, 80);
  const cases: [string, object, string[]][] = [
    [
      'an IPv6 subnet fixed in the file',
      { ipv6Network: '2001:db8:18::/48', ipv6Subnet: '2001:db8:18:1::/64' },
      [
        'ipv6Subnet: fixes this host\'s IPv6 subnet, which only the static store does: the gossip store allocates one in ipv6Network (of ipv6SubnetLen) and keeps it across restarts, as it does the IPv4 subnet (got "2001:db8:18:1::/64")',
      ],
    ],
    [
      'ipv6SubnetLen not longer than ipv6Network',
      { ipv6Network: '2001:db8:18::/64', ipv6SubnetLen: 64 },
      ["ipv6SubnetLen: the IPv6 subnets (/64) must be longer than the IPv6 network's prefix: 65 to 126 for 2001:db8:18::/64 (got 64)"],
    ],
    [
      "ipv6Network too long for the default's /64",
      { ipv6Network: '2001:db8:18::/64' },
      [
        'ipv6Network: the IPv6 subnets (/64, ipv6SubnetLen\'s default) must be longer than the IPv6 network\'s prefix: 65 to 126 for 2001:db8:18::/64 (got "2001:db8:18::/64")',
      ],
    ],
    ['ipv6SubnetLen beyond 126', { ipv6Network: '2001:db8:18::/48', ipv6SubnetLen: 127 }, ['ipv6SubnetLen: must be an integer from 1 to 126 (got 127)']],
    ['ipv6SubnetLen without ipv6Network', { ipv6SubnetLen: 64 }, ['ipv6SubnetLen: needs ipv6Network, the IPv6 network the subnets are cut from (got 64)']],
    [
      'ipv6SubnetLen with the static store',
      { store: { type: 'static' }, ipv6Network: '2001:db8:18::/48', ipv6Subnet: '2001:db8:18:1::/64', ipv6SubnetLen: 64 },
      ['ipv6SubnetLen: sets the length of the IPv6 subnets the gossip store allocates (store.type is static) (got 64)'],
    ],
  ];
  for (const [name, config, expected] of cases) t.same(await problems({ file: file(JSON.stringify({ ...base, ...config }), 'json') }), expected, name);
});

t.test('problems from variables and flags name the variable or flag', async (t) => {
  const found = await problems({
    env: { TULLE_NETWORK: '198.18.0.0/16', TULLE_BACKEND: 'udp', TULLE_MTU: 'big', TULLE_IP_MASQ: 'maybe' },
    flags: { batch: '999', subnetLen: '8', threads: '3' },
  });
  t.same(found, [
    'tun.mtu (TULLE_MTU): must be an integer from 68 to 65535 (got "big")',
    'ipMasq (TULLE_IP_MASQ): must be true or false (got "maybe")',
    'batch (--batch): must be an integer from 1 to 256 (got 999)',
    'threads (--threads): must be 1 or 2 (got 3)',
    "subnetLen (--subnet-len): must be longer than the network's prefix: 17 to 32 for 198.18.0.0/16 (got 8)",
  ]);
});

t.test('a file that cannot be read or parsed says so, and only that', async (t) => {
  t.same(await problems({ file: join(dir, 'missing.yaml'), env: { TULLE_MTU: 'big' } }), [
    `(top level): cannot read the configuration file ${join(dir, 'missing.yaml')}: no such file`,
  ]);
  const [yaml] = await problems({ file: file('network: [198.18.0.0/16\n') });
  t.match(yaml, /is not valid YAML at line \d+, column \d+: /);
  const [json] = await problems({ file: file('{ "network": ', 'json') });
  t.match(json, /is not valid JSON at line 1, column 14: /);
  const [dup] = await problems({ file: file('network: 198.18.0.0/16\nnetwork: 198.18.0.0/15\n') });
  t.match(dup, /not valid YAML at line 2, column 1: Map keys must be unique\n/);
});

t.test('a syntax error names the line and the column and shows that line with a caret, YAML and JSON', async (t) => {
  // The reason ends the first line: no dangling colon where the parser's own code frame was cut off.
  const [yaml] = await problems({ file: file('network: 198.18.0.0/16\nbackend: { type: udp\nmtu: 1400\n') });
  t.match(yaml, /is not valid YAML at line 3, column 1: Flow map in block collection must be sufficiently indented and end with a \}\n/);
  t.ok(yaml.endsWith('\n    3 | mtu: 1400\n      | ^'), `the offending line and a caret: ${yaml}`);
  // Node 20's JSON.parse gives no position for this one; the line and column still come out.
  const [json] = await problems({ file: file('{\n  "network": "198.18.0.0/16",\n  "backend": }\n', 'json') });
  t.match(json, /is not valid JSON at line 3, column 14: Unexpected token '\}'\n/);
  t.ok(json.endsWith('\n    3 |   "backend": }\n      |              ^'), `the offending line and a caret: ${json}`);
  const [cut] = await problems({ file: file('{\n  "network": "198.18.0.0/16",\n', 'json') });
  t.match(cut, /is not valid JSON at line 3, column 1: /, 'a file that ends too early points past its last line');
  const [word] = await problems({ file: file('{ "ipMasq": tru }', 'json') });
  t.match(word, /is not valid JSON at line 1, column 16: /);
  t.same(await problems({ file: file('- network\n') }), [
    `(top level): ${join(dir, `c${n - 1}.yaml`)} must hold a mapping of keys (like network: 198.18.0.0/16) (got ["network"])`,
  ]);
});

t.test('docs/config.md lists every variable and flag', async (t) => {
  const doc = readFileSync(new URL('../docs/config.md', import.meta.url), 'utf8');
  for (const s of SETTINGS) {
    t.match(doc, new RegExp(`\\| \`${s.path.replace('.', '\\.')}\`[^|]*\\| \`${s.env}\``), `${s.path}: ${s.env}`);
    if (s.flag !== undefined) t.match(doc, `\`--${s.flag}\``, `${s.path}: --${s.flag}`);
  }
});
