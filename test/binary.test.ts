// The standalone binary (npm run build:binary) on a PATH with no node on it and an
// environment with nothing of Node's: its version and help, the whole demo, and a
// two-host overlay of two `tulle run` daemons from it, in a lab of this test's own.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import type { LeaseView, StatusView } from '../src/daemon/status-view.js';
import { leftoverNamespaces } from '../src/lab/netns.js';
import { switchedHosts } from '../src/lab/topology.js';
import { packageVersion } from '../src/util/package-root.js';
import { pathWithoutNode, standaloneBinary } from './helpers/binary.js';
import { rootLab } from './helpers/lab.js';
import { LabEtcd } from './helpers/lab-etcd.js';

const dir = mkdtempSync(join(tmpdir(), 'tulle-binary-test-'));
chmodSync(dir, 0o755);
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const started = Date.now();
const exe = standaloneBinary();
const built = `${((Date.now() - started) / 1000).toFixed(1)} s`;
const bin = pathWithoutNode(join(dir, 'bin'));
// Where the binary unpacks its addon and worker: checked to be empty after each command.
const scratch = join(dir, 'tmp');
mkdirSync(scratch);
// Nothing from this process: no NODE_OPTIONS (the test runner's loader), no node on PATH.
const env = { PATH: bin, HOME: dir, TMPDIR: scratch, LANG: 'C.UTF-8' };
const runBinary = (args: string[], timeout = 30_000) => spawnSync(exe, args, { env, encoding: 'utf8', timeout });

t.test(`the environment has no node (binary ${existsSync(exe) ? 'ready' : 'missing'} in ${built})`, async (t) => {
  const r = spawnSync('/bin/sh', ['-c', 'command -v node || command -v npm || command -v npx'], { env, encoding: 'utf8' });
  t.not(r.status, 0, `command -v node fails (it printed "${r.stdout.trim()}")`);
  t.ok(statSync(exe).mode & 0o111, `${exe} is executable`);
});

t.test('tulle version and --help', async (t) => {
  const version = runBinary(['version']);
  t.equal(version.status, 0, `tulle version succeeds ${version.stderr}`);
  t.equal(version.stdout, `tulle ${packageVersion()}\n`, 'it prints the package version');
  const help = runBinary(['--help']);
  t.equal(help.status, 0, `tulle --help succeeds ${help.stderr}`);
  for (const command of ['run', 'status', 'leases', 'config', 'bench', 'demo', 'lab', 'version'])
    t.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'), `--help lists ${command}`);
  const config = runBinary(['config', 'check', join(dir, 'missing.yaml')]);
  t.equal(config.status, 2, `config check of a missing file is invalid: ${config.stderr}`);
  t.same(readdirSync(scratch), [], 'nothing unpacked or left in TMPDIR');
});

t.test('tulle cni install places a plugin that runs from the binary', async (t) => {
  const conf = join(dir, 'net.d');
  const plugins = join(dir, 'cni-bin');
  const r = runBinary(['cni', 'install', '--conf-dir', conf, '--bin-dir', plugins]);
  t.equal(r.status, 0, `cni install succeeds ${r.stderr}`);
  const script = readFileSync(join(plugins, 'tulle'), 'utf8');
  t.match(script, `'${exe}' '__cni'`, 'the plugin script runs the binary');
  const version = spawnSync(join(plugins, 'tulle'), [], { env: { ...env, CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"1.0.0"}', encoding: 'utf8' });
  t.equal(version.status, 0, `the placed plugin answers VERSION ${version.stdout}${version.stderr}`);
  const answer = JSON.parse(version.stdout || '{}') as { cniVersion?: string; supportedVersions?: string[] };
  t.equal(answer.cniVersion, '1.0.0');
  t.ok(answer.supportedVersions?.includes('1.0.0'), 'it supports CNI 1.0.0');
});

t.test('tulle demo', async (t) => {
  if (process.getuid?.() !== 0) return t.fail('this test needs root (CI runs as root)');
  const out = join(dir, 'demo-out');
  const r = runBinary(['demo', '--out', out], 300_000);
  t.equal(r.status, 0, r.status === 0 ? 'the demo succeeds' : `the demo succeeds: ${r.stderr}\n${r.stdout}`);
  t.match(r.stdout, /all 30 pairs reachable/);
  const prefix = /building the lab \((tulle-[0-9a-f]+-)\*\)/.exec(r.stdout)?.[1];
  t.ok(prefix, 'the demo names its lab');
  t.same(
    leftoverNamespaces().filter((ns) => prefix !== undefined && ns.startsWith(prefix)),
    [],
    'the demo removed its namespaces',
  );
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { rows: { system: string }[] };
  t.same(
    results.rows.map((row) => row.system),
    ['underlay', 'kernel-vxlan', 'tulle-udp', 'tulle-vxlan', 'tulle-host-gw'],
    'the throughput step measured every system',
  );
  t.same(readdirSync(scratch), [], 'the demo and its daemons removed their files in TMPDIR');
  const down = runBinary(['lab', 'down', '--prefix', prefix ?? 'tulle-none-']);
  t.equal(down.status, 0, `tulle lab down succeeds ${down.stderr}`);
  t.match(down.stdout, /no tulle namespaces/, 'tulle lab down finds nothing of the demo left');
});

const lab = rootLab(t);
if (lab) {
  // On etcd leases (the demo covers gossip): the binary carries etcd3's protocol definitions too.
  t.test('a two-host overlay of daemons from the binary, on etcd leases', async (t) => {
    const hosts = switchedHosts(lab, ['bina', 'binb', 'bine']);
    const etcd = new LabEtcd(lab, hosts.pop()!, dir);
    await etcd.start();
    etcd.etcdctl('put', '/coreos.com/network/config', '{"Network":"198.18.0.0/16","SubnetLen":24,"Backend":{"Type":"vxlan"}}');
    const inNs = (ns: string, args: string[]) => spawnSync('ip', ['netns', 'exec', ns, exe, ...args], { env, encoding: 'utf8', timeout: 30_000 });
    const daemons = hosts.map((h, i) => {
      const stateDir = join(dir, `state-${i}`);
      const file = join(dir, `host-${i}.yaml`);
      writeFileSync(
        file,
        stringify({ underlay: { address: h.underlay }, backend: { type: 'vxlan' }, store: { type: 'etcd', endpoints: [etcd.endpoint] }, stateDir }),
      );
      // Started through `ip` found on the node-less PATH, as the binary would be on a lab host.
      const child = spawn('ip', ['netns', 'exec', h.ns, exe, 'run', '-c', file], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      return { ns: h.ns, stateDir, child, exited, log: () => log };
    });
    t.teardown(async () => {
      for (const d of daemons) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
      await Promise.all(daemons.map((d) => d.exited));
    });
    const leases = (d: (typeof daemons)[number]): LeaseView[] => {
      const r = inNs(d.ns, ['leases', '--json', '--state-dir', d.stateDir]);
      return r.status === 0 ? (JSON.parse(r.stdout) as LeaseView[]) : [];
    };
    let routed: number[] = [];
    for (let i = 0; i < 100; i++) {
      if (daemons.some((d) => d.child.exitCode !== null)) break;
      routed = daemons.map((d) => leases(d).filter((l) => l.state === 'routed').length);
      if (routed.every((n) => n === 1)) break;
      await sleep(200);
    }
    const converged = routed.length === 2 && routed.every((n) => n === 1);
    t.same(routed, [1, 1], converged ? 'each host routes to the other' : `each host routes to the other; the logs:\n${daemons.map((d) => d.log()).join('\n')}`);
    const status = daemons.map((d) => {
      const r = inNs(d.ns, ['status', '--json', '--state-dir', d.stateDir]);
      t.equal(r.status, 0, `tulle status in ${d.ns}: ${r.stderr}`);
      return JSON.parse(r.stdout || '{}') as StatusView;
    });
    t.same(
      status.map((s) => s.version),
      [packageVersion(), packageVersion()],
      'the daemons report the version the binary carries',
    );
    const unpacked = readdirSync(scratch);
    t.equal(unpacked.length, 2, `each daemon unpacked its addon and worker into a folder of its own (${unpacked.join(', ')})`);
    for (const name of unpacked) t.equal(statSync(join(scratch, name)).mode & 0o777, 0o700, `${name} is private`);
    const address = (subnet: string | undefined) => (subnet ?? '').split('/')[0];
    for (const [i, d] of daemons.entries()) {
      const to = address(status[1 - i].subnet);
      const ping = lab.exec(d.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', to], { allowFailure: true });
      t.match(ping, / 0% packet loss/, `${d.ns} → ${to} across the overlay`);
    }
    for (const d of daemons) {
      d.child.kill('SIGTERM');
      t.equal(await d.exited, 0, `the daemon in ${d.ns} stops cleanly`);
    }
    t.same(readdirSync(scratch), [], 'the daemons removed their unpacked files at exit');
  });
}
