// The CNI plugin's parts that need no network: the stdin configuration, the CNI_* environment, subnet.env
// as tulle writes it, the delegate configuration (flannel's), the attachment records, and `tulle cni install`'s
// files (in temp folders, never /etc/cni).
import t, { type Test } from 'tap';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { attachmentFile, loadAttachment, removeAttachment, saveAttachment } from '../src/cni/attachments.js';
import { cniCommand, parseCniEnv } from '../src/cni/cni-env.js';
import { delegateConf } from '../src/cni/delegate-conf.js';
import { CNI_CODE, CniError } from '../src/cni/errors.js';
import { parseHostSubnet, type HostSubnet } from '../src/cni/host-subnet.js';
import { conflistText, installCni, InstallConflict, pluginScript } from '../src/cni/install.js';
import { DEFAULT_DATA_DIR, DEFAULT_SUBNET_FILE, parseNetConf } from '../src/cni/net-conf.js';
import { readHostSubnet } from '../src/cni/read-host-subnet.js';
import { compareVersions, versionAnswer } from '../src/cni/versions.js';
import { subnetEnv } from '../src/daemon/subnet-env.js';

function cniError(fn: () => unknown): CniError {
  try {
    fn();
  } catch (error) {
    if (error instanceof CniError) return error;
    throw error;
  }
  throw new Error('no error thrown');
}

const temp = (t: Test) => {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-cni-pure-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

const flannelConf = { cniVersion: '1.0.0', name: 'cbr0', type: 'tulle', delegate: { hairpinMode: true, isDefaultGateway: true } };

t.test('the stdin configuration: defaults, and a clear error for each bad input', (t) => {
  const conf = parseNetConf(JSON.stringify(flannelConf));
  t.same(
    [conf.name, conf.subnetFile, conf.dataDir, conf.subnetFileWaitSeconds, conf.delegate],
    ['cbr0', DEFAULT_SUBNET_FILE, DEFAULT_DATA_DIR, 10, flannelConf.delegate],
    "defaults: tulle's subnet.env, /var/lib/cni/tulle, a 10 s wait",
  );
  const cases: [string, number, RegExp][] = [
    ['', CNI_CODE.DECODE_FAILURE, /no network configuration on stdin/],
    ['{"cniVersion": ', CNI_CODE.DECODE_FAILURE, /not JSON/],
    ['[1]', CNI_CODE.DECODE_FAILURE, /not a JSON object/],
    [JSON.stringify({ ...flannelConf, cniVersion: undefined }), CNI_CODE.INVALID_NETWORK_CONFIG, /cniVersion/],
    [JSON.stringify({ ...flannelConf, cniVersion: '0.2.0' }), CNI_CODE.INCOMPATIBLE_VERSION, /unsupported cniVersion "0.2.0"/],
    [JSON.stringify({ ...flannelConf, name: '' }), CNI_CODE.INVALID_NETWORK_CONFIG, /name/],
    [JSON.stringify({ ...flannelConf, subnetFileWaitSeconds: -1 }), CNI_CODE.INVALID_NETWORK_CONFIG, /subnetFileWaitSeconds/],
    [JSON.stringify({ ...flannelConf, delegate: 'bridge' }), CNI_CODE.INVALID_NETWORK_CONFIG, /delegate/],
  ];
  for (const [stdin, code, msg] of cases) {
    const e = cniError(() => parseNetConf(stdin));
    t.equal(e.code, code, `${JSON.stringify(stdin).slice(0, 60)}: code ${code}`);
    t.match(e.message, msg, `  and says so: ${e.message} (${e.details})`);
  }
  t.match(
    cniError(() => parseNetConf(JSON.stringify({ ...flannelConf, cniVersion: '9.9.9' }))).details,
    /0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0/,
    'the version error lists what is allowed',
  );
  t.end();
});

t.test('the CNI_* environment', (t) => {
  const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc123', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin:/usr/lib/cni' };
  t.same(parseCniEnv(env), { command: 'ADD', containerId: 'abc123', netns: '/run/netns/x', ifname: 'eth0', args: '', path: ['/opt/cni/bin', '/usr/lib/cni'] });
  t.equal(parseCniEnv({ ...env, CNI_COMMAND: 'DEL', CNI_NETNS: '' }).netns, '', 'DEL may come without a namespace');
  const cases: [NodeJS.ProcessEnv, RegExp][] = [
    [{ ...env, CNI_COMMAND: undefined }, /CNI_COMMAND is not set/],
    [{ ...env, CNI_COMMAND: 'UPDATE' }, /unknown CNI_COMMAND "UPDATE"/],
    [{ ...env, CNI_NETNS: undefined }, /CNI_NETNS is not set/],
    [{ ...env, CNI_COMMAND: 'CHECK', CNI_NETNS: '' }, /CNI_NETNS is not set/],
    [{ ...env, CNI_CONTAINERID: '../../etc/x' }, /invalid CNI_CONTAINERID/],
    [{ ...env, CNI_IFNAME: 'a/b' }, /invalid CNI_IFNAME/],
    [{ ...env, CNI_IFNAME: 'much-too-long-name' }, /invalid CNI_IFNAME/],
    [{ ...env, CNI_PATH: '' }, /CNI_PATH is not set/],
  ];
  for (const [e, msg] of cases) {
    const error = cniError(() => parseCniEnv(e));
    t.equal(error.code, CNI_CODE.INVALID_ENVIRONMENT, `${error.message}: code ${CNI_CODE.INVALID_ENVIRONMENT}`);
    t.match(error.message, msg);
  }
  t.equal(cniCommand({ CNI_COMMAND: 'VERSION' }), 'VERSION', 'VERSION needs nothing else');
  t.end();
});

t.test("subnet.env as tulle's daemon writes it", (t) => {
  const text = subnetEnv({ network: '198.18.0.0/16', subnet: '198.18.7.0/24', mtu: 1450, ipMasq: true });
  t.same(parseHostSubnet(text, 'f'), { network: '198.18.0.0/16', subnet: '198.18.7.0/24', gateway: '198.18.7.1', mtu: 1450, ipMasq: true });
  const dual = subnetEnv({
    network: '198.18.0.0/16',
    subnet: '198.18.7.0/24',
    ipv6Network: '2001:db8:18::/48',
    ipv6Subnet: '2001:db8:18:7::/64',
    mtu: 1450,
    ipMasq: true,
  });
  t.same(parseHostSubnet(dual, 'f'), parseHostSubnet(text, 'f'), "a dual-stack subnet.env's IPv6 lines do not disturb the IPv4 ones");
  const flannel = 'FLANNEL_NETWORK=198.18.0.0/15\nFLANNEL_SUBNET=198.19.3.0/24\nFLANNEL_MTU=1400\n';
  t.same(
    parseHostSubnet(flannel, 'f'),
    { network: '198.18.0.0/15', subnet: '198.19.3.0/24', gateway: '198.19.3.1', mtu: 1400, ipMasq: false },
    'a subnet written as its network: the gateway is its first host',
  );
  const bad: [string, RegExp][] = [
    ['FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_MTU=1450\n', /FLANNEL_SUBNET/],
    ['FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.300.1/24\nFLANNEL_MTU=1450\n', /FLANNEL_SUBNET/],
    ['FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.7.1/24\nFLANNEL_MTU=big\n', /FLANNEL_MTU/],
    ['FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=yes\n', /FLANNEL_IPMASQ/],
  ];
  for (const [text, field] of bad) {
    const e = cniError(() => parseHostSubnet(text, '/run/tulle/subnet.env'));
    t.equal(e.code, CNI_CODE.BAD_SUBNET_ENV);
    t.match(e.message, /\/run\/tulle\/subnet\.env/, `names the file: ${e.message}`);
    t.match(e.message, field, `and the field (${e.details})`);
  }
  t.end();
});

t.test("the delegate configuration is flannel's, with the overlay route's gateway", (t) => {
  const host: HostSubnet = { network: '198.18.0.0/16', subnet: '198.18.7.0/24', gateway: '198.18.7.1', mtu: 1450, ipMasq: true };
  const d = delegateConf(parseNetConf(JSON.stringify(flannelConf)), host);
  t.same(d, {
    hairpinMode: true,
    isDefaultGateway: true,
    name: 'cbr0',
    cniVersion: '1.0.0',
    type: 'bridge',
    ipMasq: false,
    mtu: 1450,
    isGateway: true,
    ipam: { type: 'host-local', ranges: [[{ subnet: '198.18.7.0/24', gateway: '198.18.7.1' }]], routes: [{ dst: '198.18.0.0/16', gw: '198.18.7.1' }] },
  });
  const own = delegateConf(
    parseNetConf(
      JSON.stringify({
        ...flannelConf,
        delegate: { ipMasq: true, mtu: 1300, bridge: 'tulle-br' },
        ipam: { dataDir: '/tmp/x', routes: [{ dst: '203.0.113.0/24' }] },
      }),
    ),
    { ...host, ipMasq: false },
  );
  t.same([own.ipMasq, own.mtu, own.bridge], [true, 1300, 'tulle-br'], "the delegate's own keys win, as in flannel");
  t.same(
    own.ipam,
    {
      dataDir: '/tmp/x',
      type: 'host-local',
      ranges: [[{ subnet: '198.18.7.0/24', gateway: '198.18.7.1' }]],
      routes: [{ dst: '203.0.113.0/24' }, { dst: '198.18.0.0/16', gw: '198.18.7.1' }],
    },
    "the network's ipam keys are kept and the overlay route added",
  );
  t.equal(delegateConf(parseNetConf(JSON.stringify(flannelConf)), { ...host, ipMasq: false }).ipMasq, true, 'the bridge masquerades when tulle does not');
  t.end();
});

t.test('versions', (t) => {
  t.same(versionAnswer('0.4.0'), { cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] });
  t.equal(versionAnswer('7.0.0').cniVersion, '1.0.0', 'an unknown version is answered in the latest');
  t.same([compareVersions('0.3.1', '0.4.0'), compareVersions('1.0.0', '1.0.0'), compareVersions('1.0.0', '0.4.0')], [-1, 0, 1]);
  t.end();
});

t.test('subnet.env: waited for a bounded time, then a CNI error naming the file', async (t) => {
  const dir = temp(t);
  const file = join(dir, 'subnet.env');
  const began = Date.now();
  const e = (await readHostSubnet(file, 0.3).then(
    () => undefined,
    (error: unknown) => error,
  )) as CniError;
  t.ok(e instanceof CniError, 'fails');
  t.ok(Date.now() - began >= 300, `after the wait (${Date.now() - began} ms)`);
  t.equal(e.code, CNI_CODE.TRY_AGAIN_LATER);
  t.match(e.message, `${file} is missing`);
  t.match(e.details, 'waited 0.3 s');
  const late = readHostSubnet(file, 5);
  await sleep(300);
  writeFileSync(file, subnetEnv({ network: '198.18.0.0/16', subnet: '198.18.7.0/24', mtu: 1450, ipMasq: false }));
  t.equal((await late).subnet, '198.18.7.0/24', 'a file written while ADD waits is read');
});

t.test('attachment records', (t) => {
  const dir = join(temp(t), 'data');
  const a = { containerId: 'c0ffee', ifname: 'eth0', delegate: { type: 'bridge', name: 'n' } };
  t.equal(loadAttachment(dir, 'c0ffee', 'eth0'), undefined, 'none before ADD');
  saveAttachment(dir, a);
  t.same(loadAttachment(dir, 'c0ffee', 'eth0'), a, 'saved and read back');
  t.equal(statSync(attachmentFile(dir, 'c0ffee', 'eth0')).mode & 0o777, 0o600, 'readable by root only');
  t.equal(loadAttachment(dir, 'c0ffee', 'eth1'), undefined, 'per interface');
  writeFileSync(attachmentFile(dir, 'bad', 'eth0'), '{"format": 9}');
  t.equal(cniError(() => loadAttachment(dir, 'bad', 'eth0')).code, CNI_CODE.DECODE_FAILURE, 'a record in another format is a CNI error');
  removeAttachment(dir, 'c0ffee', 'eth0');
  t.equal(loadAttachment(dir, 'c0ffee', 'eth0'), undefined, 'gone after DEL');
  t.end();
});

t.test('tulle cni install: the files, a conflict, --force', (t) => {
  const dir = temp(t);
  const o = {
    confDir: join(dir, 'net.d'),
    binDir: join(dir, 'bin'),
    name: 'tulle',
    subnetFile: '/run/tulle/subnet.env',
    dataDir: '/var/lib/cni/tulle',
    force: false,
  };
  const conf = JSON.parse(conflistText(o)) as { cniVersion: string; name: string; plugins: Record<string, unknown>[] };
  t.same(
    [conf.cniVersion, conf.name, conf.plugins.length, conf.plugins[0].type, conf.plugins[0].subnetFile],
    ['1.0.0', 'tulle', 1, 'tulle', '/run/tulle/subnet.env'],
  );
  t.equal(pluginScript(["/opt/no'de", '/x/main.js']).split('\n')[2], `exec '/opt/no'\\''de' '/x/main.js' "$@"`, 'quoted for sh');
  const first = installCni(o);
  t.same(first.unchanged, [], 'both files written');
  t.equal(statSync(first.plugin).mode & 0o777, 0o755, 'the plugin is executable');
  t.equal(readFileSync(first.conflist, 'utf8'), conflistText(o));
  t.same(installCni(o).unchanged, [first.conflist, first.plugin], 'a second install changes nothing');
  const other = { ...o, subnetFile: '/elsewhere/subnet.env' };
  t.throws(() => installCni(other), InstallConflict, 'a different conflist is not replaced');
  t.equal(readFileSync(first.conflist, 'utf8'), conflistText(o), 'and stays as it was');
  writeFileSync(first.plugin, '#!/bin/sh\necho someone else\n');
  t.throws(() => installCni(o), InstallConflict, "a plugin file that is not tulle's is not replaced");
  t.same(installCni({ ...other, force: true }).unchanged, [], '--force replaces both');
  t.equal(readFileSync(first.conflist, 'utf8'), conflistText(other));
  t.throws(() => installCni({ ...o, name: '../x' }), /not a network name/, 'a bad network name is refused');
  t.end();
});

t.test('tulle cni install: the command', (t) => {
  const dir = temp(t);
  chmodSync(dir, 0o755);
  const cli = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
  const install = (...extra: string[]) =>
    spawnSync(process.execPath, [cli, 'cni', 'install', '--conf-dir', join(dir, 'net.d'), '--bin-dir', join(dir, 'bin'), ...extra], { encoding: 'utf8' });
  const r = install('--name', 'pods', '--subnet-file', '/run/x/subnet.env', '--data-dir', '/var/lib/x');
  t.equal(r.status, 0, `exit 0 (${r.stderr.trim() || r.stdout.trim()})`);
  const conf = JSON.parse(readFileSync(join(dir, 'net.d', '10-pods.conflist'), 'utf8')) as { name: string; plugins: Record<string, unknown>[] };
  t.same([conf.name, conf.plugins[0].subnetFile, conf.plugins[0].dataDir], ['pods', '/run/x/subnet.env', '/var/lib/x'], 'the flags are in the conflist');
  const version = spawnSync(join(dir, 'bin', 'tulle'), [], { input: '{"cniVersion":"0.4.0"}', encoding: 'utf8', env: { CNI_COMMAND: 'VERSION' } });
  t.same(JSON.parse(version.stdout), versionAnswer('0.4.0'), 'the placed plugin answers VERSION');
  const conflict = install('--name', 'pods');
  t.equal(conflict.status, 1, 'a different conflist: exit 1');
  t.match(conflict.stderr, /10-pods\.conflist exists and differs.*--force/, `and says so: ${conflict.stderr.trim()}`);
  t.equal(install('--name', 'pods', '--force').status, 0, '--force replaces it');
  const bad = install('--name', 'a b');
  t.equal(bad.status, 2, 'a bad --name: exit 2');
  t.end();
});
