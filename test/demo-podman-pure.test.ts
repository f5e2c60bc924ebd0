// The podman demo's pure parts: busybox ping's output to a matrix row, the ELF check for a static busybox,
// the missing-tools message, podman's private configuration, the DEL leftovers check and the --keep text.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { parsePings, pingScript } from '../src/lab/demo/ping-matrix.js';
import { podmanExploreText } from '../src/lab/demo/podman-explore.js';
import { leftovers } from '../src/lab/demo/podman-hosts.js';
import { mibPerSecond } from '../src/lab/demo/verified-transfer.js';
import { containersConf, storageConf } from '../src/lab/podman/podman-conf.js';
import { isStaticElf, missingMessage } from '../src/lab/podman/requirements.js';

t.test('busybox ping output becomes one result per target', async (t) => {
  const output = [
    '== 198.18.1.3',
    'PING 198.18.1.3 (198.18.1.3): 56 data bytes',
    '64 bytes from 198.18.1.3: seq=0 ttl=64 time=0.100 ms',
    '64 bytes from 198.18.1.3: seq=1 ttl=64 time=0.300 ms',
    '64 bytes from 198.18.1.3: seq=2 ttl=64 time=0.200 ms',
    '',
    '--- 198.18.1.3 ping statistics ---',
    '3 packets transmitted, 3 packets received, 0% packet loss',
    '== 198.18.2.2',
    'PING 198.18.2.2 (198.18.2.2): 56 data bytes',
    '64 bytes from 198.18.2.2: seq=1 ttl=62 time=1.500 ms',
    // A late reply from the previous target must not count for this one.
    '64 bytes from 198.18.1.3: seq=3 ttl=64 time=9.000 ms',
    '3 packets transmitted, 1 packets received, 66% packet loss',
    '== 198.18.3.2',
    '3 packets transmitted, 0 packets received, 100% packet loss',
  ].join('\n');
  const [a, b, c, d] = parsePings(output, ['198.18.1.3', '198.18.2.2', '198.18.3.2', '198.18.4.2'], 3);
  t.same([a.sent, a.received, a.rtt_ms?.median, a.rtt_ms?.min, a.rtt_ms?.max], [3, 3, 0.2, 0.1, 0.3], 'all three replies, their median');
  t.same([b.received, b.loss_pct, b.rtt_ms?.median], [1, 66.67, 1.5], 'one reply of three; the stray reply is not counted');
  t.same([c.received, c.rtt_ms], [0, null], 'no reply');
  t.same([d.target, d.received], ['198.18.4.2', 0], 'a target missing from the output counts as unreachable');
  t.match(pingScript(['198.18.1.3', '198.18.2.2'], 3), /for ip in 198\.18\.1\.3 198\.18\.2\.2; do echo "== \$ip"; ping -c 3 /);
});

t.test('a static busybox is told from a dynamic one by its program headers', async (t) => {
  const elf = (types: number[]) => {
    const b = Buffer.alloc(64 + 56 * types.length);
    b.writeUInt32BE(0x7f454c46, 0);
    b[4] = 2; // 64-bit
    b[5] = 1; // little-endian
    b.writeBigUInt64LE(64n, 32);
    b.writeUInt16LE(56, 54);
    b.writeUInt16LE(types.length, 56);
    types.forEach((type, i) => b.writeUInt32LE(type, 64 + 56 * i));
    return b;
  };
  t.ok(isStaticElf(elf([6, 1, 1, 4])), 'no PT_INTERP: static');
  t.notOk(isStaticElf(elf([6, 3, 1, 1])), 'PT_INTERP: needs a loader and a libc');
  t.notOk(isStaticElf(Buffer.from('#!/bin/sh\necho hi\n')), 'not ELF');
  t.notOk(isStaticElf(elf([1]).subarray(0, 80)), 'headers cut short');
  t.ok(isStaticElf(readFileSync('/bin/busybox').subarray(0, 4096)), "this machine's busybox-static");
  t.notOk(isStaticElf(readFileSync(process.execPath).subarray(0, 4096)), 'node is dynamic');
});

t.test('the missing-tools message names each piece, its package and one install command', async (t) => {
  const text = missingMessage('tulle demo --runtime podman', [
    { what: 'podman', debianPackage: 'podman' },
    { what: 'runc', debianPackage: 'runc' },
    { what: 'the CNI plugins bridge', debianPackage: 'containernetworking-plugins' },
  ]);
  t.match(text, /^tulle demo --runtime podman: /);
  t.match(text, '  runc (Debian package runc)');
  t.match(text, 'apt-get install --no-install-recommends podman runc containernetworking-plugins\n');
  t.match(text, 'tulle demo (network namespaces only');
});

t.test("podman's private configuration", async (t) => {
  const conf = containersConf({ dir: '/d', netConfDir: '/d/net.d', pluginDirs: ['/d/bin', '/usr/lib/cni'], nofile: '524288' });
  t.match(conf, 'runtime = "runc"', 'runc: crun refuses hybrid cgroups');
  t.match(conf, 'default_ulimits = ["nofile=524288:524288", "nproc=4096:4096"]', 'ulimits root may set');
  t.match(conf, 'network_backend = "cni"');
  t.match(conf, 'cni_plugin_dirs = ["/d/bin", "/usr/lib/cni"]', "the host's plugin folder first");
  t.match(conf, 'network_config_dir = "/d/net.d"', 'a private conflist folder, not /etc/cni/net.d');
  t.match(conf, 'default_subnet = "198.19.254.0/24"', "podman's 10.88.0.0/16 default is replaced");
  t.notMatch(conf, /10\.88/);
  const storage = storageConf('/d');
  t.match(storage, 'graphroot = "/d/storage"');
  t.match(storage, 'runroot = "/d/runroot"');
});

t.test('what CNI DEL must have released', async (t) => {
  t.same(leftovers('host1', { leases: [], records: [], results: [], veths: 0 }), [], 'clean');
  t.same(leftovers('host2', { leases: ['198.18.4.2'], records: ['a'], results: [], veths: 1 }), [
    'host2: host-local still holds 198.18.4.2',
    "host2: 1 attachment record(s) left in the plugin's dataDir",
    'host2: 1 veth(s) still on the bridge',
  ]);
});

t.test('transfer rate', async (t) => {
  t.equal(mibPerSecond({ bytes: 64 * 1048576, seconds: 2, sent: 'x', received: 'x' }), 32);
  t.equal(mibPerSecond({ bytes: 1, seconds: 0, sent: 'x', received: 'x' }), 0);
});

t.test('--keep says how to reach podman on each host and how to take it down', async (t) => {
  const text = podmanExploreText({
    hosts: [1, 2].map((i) => ({
      name: `host${i}`,
      ns: `tulle-abc123-host${i}`,
      stateDir: `/x/tulle/host${i}`,
      log: `/x/tulle/host${i}/tulle.log`,
      podman: `/x/podman/host${i}/podman`,
    })),
    containers: [
      { name: 'h1c1', address: '198.18.1.2' },
      { name: 'h2c2', address: '198.18.2.3' },
    ],
  });
  t.match(text, /\n {2}\/x\/podman\/host2\/podman ps +# the containers on host2\n/);
  t.match(text, '/x/podman/host1/podman exec h1c1 ping -c 3 198.18.2.3');
  t.match(text, 'tulle status --state-dir /x/tulle/host1');
  const comments = text.split('\n').filter((l) => l.includes('  # '));
  t.equal(new Set(comments.map((l) => l.indexOf('  # '))).size, 1, 'the comments line up');
  t.match(text, /\n {2}tulle lab down$/);
});
