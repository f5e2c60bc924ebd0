// `tulle demo --runtime podman` end to end: real podman containers attached by tulle's CNI plugin on three
// lab hosts reach each other, a file crosses with matching SHA-256, and CNI DEL releases every address; then
// nothing is left (namespaces, the lab's cgroups, the demo's folder with podman's storage, bridges, anything
// under the machine's own /var/lib/cni, /var/lib/containers or /etc/cni). A kept podman lab is what a killed
// demo leaves: `tulle lab down` must end its containers too. Without podman the demo names the packages.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../src/cli/exit-codes.js';
import { leftoverNamespaces } from '../src/lab/netns.js';
import { cgroupPids, podmanCgroupNames } from '../src/lab/podman/cgroups.js';
import { packageRoot } from '../src/util/package-root.js';

const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
/** The machine's own podman and CNI folders: the demo must not write there. */
const MACHINE_DIRS = [
  '/var/lib/cni',
  '/var/lib/cni/results',
  '/var/lib/cni/networks',
  '/var/lib/containers',
  '/run/containers',
  '/run/libpod',
  '/etc/cni/net.d',
];

const listing = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : null);
const machineState = () => Object.fromEntries(MACHINE_DIRS.map((d) => [d, listing(d)]));
const rootBridges = () =>
  spawnSync('ip', ['-o', 'link', 'show', 'type', 'bridge'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map((l) => l.split(':')[1].trim());
/** Alive and not a zombie: a killed container's PID 1 is reaped by the machine's init, a moment later. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
const prefixOf = (stdout: string) => /building the lab \((tulle-[0-9a-z]+-)\*\)/.exec(stdout)?.[1];

function nothingLeft(t: Test, prefix: string, before: { machine: object; bridges: string[] }): void {
  t.same(
    leftoverNamespaces().filter((ns) => ns.startsWith(prefix)),
    [],
    'no namespace of the demo left',
  );
  t.same(
    podmanCgroupNames().filter((n) => n.startsWith(prefix)),
    [],
    'no cgroup of its containers left',
  );
  t.notOk(existsSync(join(tmpdir(), `${prefix}demo`)), "its folder (daemons' state, podman's configuration and storage) removed");
  t.same(machineState(), before.machine, `nothing written to ${MACHINE_DIRS.join(', ')}`);
  t.same(rootBridges(), before.bridges, "no bridge added in the machine's own namespace");
}

if (process.getuid?.() !== 0) {
  t.fail('the demo needs root (CI runs as root)');
} else {
  const demo = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
    spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 180_000, env });

  t.test('tulle demo --runtime podman: containers reach each other, a verified transfer, CNI DEL releases everything, nothing left', async (t) => {
    const before = { machine: machineState(), bridges: rootBridges() };
    const started = Date.now();
    const run = demo(['demo', '--runtime', 'podman']);
    const seconds = (Date.now() - started) / 1000;
    t.equal(run.status, 0, `exit 0 in ${seconds.toFixed(1)} s (stderr: ${run.stderr.slice(-2000)}; stdout: ${run.stdout.slice(-3000)})`);
    t.notMatch(run.stdout, /✗/, 'no step failed');
    t.match(run.stdout, /\[2\/7\] .* ✓ leases converged/, 'the leases converge');
    t.match(run.stdout, /\[3\/7\] .* ✓ podman \d+\.\d+/, 'podman is set up on each host');
    const leased = [...run.stdout.matchAll(/ {2}host(\d) \(192\.0\.2\.\d\) leased 198\.18\.(\d+)\.0\/24/g)].map((m) => [m[1], m[2]]);
    t.equal(leased.length, 3, 'three leases printed');
    const containers = [...run.stdout.matchAll(/h(\d)c(\d) 198\.18\.(\d+)\.(\d+)/g)];
    t.equal(new Set(containers.map((m) => `h${m[1]}c${m[2]}`)).size, 6, 'six containers started');
    for (const [host, octet] of leased) {
      const mine = containers.filter((m) => m[1] === host);
      t.ok(mine.length === 2 && mine.every((m) => m[3] === octet), `host ${host}'s containers have addresses in its lease 198.18.${octet}.0/24`);
    }
    t.match(run.stdout, /\[5\/7\] .* ✓ all 30 pairs reachable/, 'every container reaches every other, across hosts');
    t.match(run.stdout, /\[6\/7\] .* ✓ 64 MiB in [\d.]+ s \(\d+ MiB\/s\), SHA-256 equal/, 'the transfer arrives whole');
    t.match(run.stdout, /\[7\/7\] .* ✓ every address released; no veth, CNI result or attachment record left/, 'CNI DEL released every address');
    t.ok(seconds < 120, `the run ends within 2 minutes (${seconds.toFixed(1)} s; about 20 s on an idle 2-core machine)`);
    const prefix = prefixOf(run.stdout);
    t.ok(prefix, 'the demo names its lab');
    if (prefix) nothingLeft(t, prefix, before);
  });

  t.test('a kept podman demo (what a killed one leaves): tulle lab down ends the containers and removes everything', async (t) => {
    const before = { machine: machineState(), bridges: rootBridges() };
    const run = demo(['lab', 'demo', '--runtime', 'podman', '--keep', '--no-bench']);
    const prefix = prefixOf(run.stdout);
    t.teardown(() => {
      if (prefix) spawnSync(process.execPath, [CLI, 'lab', 'down', '--prefix', prefix]); // in case an assertion below failed
    });
    t.equal(run.status, 0, `exit 0 (stderr: ${run.stderr.slice(-2000)}; stdout: ${run.stdout.slice(-2000)})`);
    t.match(run.stdout, /✓ all 30 pairs reachable/, 'every pair reachable');
    t.notMatch(run.stdout, /verified transfer/, '--no-bench leaves out the transfer');
    t.ok(prefix, 'the demo names its lab');
    if (!prefix) return;
    const wrapper = /^ {2}(\S+\/host2\/podman) ps/m.exec(run.stdout)?.[1];
    t.ok(wrapper, 'it prints how to run podman on a host');
    const ps = spawnSync(wrapper ?? 'false', ['ps', '--format', '{{.Names}}'], { encoding: 'utf8' });
    t.same(ps.stdout.split('\n').filter(Boolean).sort(), ['h2c1', 'h2c2'], `podman on host 2 lists its two containers (${ps.stderr.trim()})`);
    const [cgroup] = podmanCgroupNames().filter((n) => n.startsWith(prefix));
    const pids = cgroup ? cgroupPids(cgroup) : [];
    t.ok(pids.length >= 6, `the containers and their conmons run in the lab's cgroup (${pids.length} processes)`);

    const down = spawnSync(process.execPath, [CLI, 'lab', 'down', '--prefix', prefix], { encoding: 'utf8', timeout: 60_000 });
    t.equal(down.status, 0, `lab down exits 0 (${down.stderr})`);
    t.match(down.stdout, /killed \d+ podman container process\(es\); removed cgroups/, 'it ends the containers');
    t.same(pids.filter(running), [], 'none of those processes runs');
    nothingLeft(t, prefix, before);
  });

  t.test('without podman: a clear message naming the Debian packages, exit 6, nothing built', async (t) => {
    const bin = mkdtempSync(join(tmpdir(), 'tulle-demo-path-'));
    t.teardown(() => rmSync(bin, { recursive: true, force: true }));
    for (const tool of ['ip', 'sh', 'nft']) {
      const path = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'].map((d) => join(d, tool)).find(existsSync);
      if (path) symlinkSync(path, join(bin, tool));
    }
    const run = demo(['demo', '--runtime', 'podman'], { ...process.env, PATH: bin });
    t.equal(run.status, EXIT.MISSING_TOOLS, `exit ${EXIT.MISSING_TOOLS} (stderr: ${run.stderr})`);
    t.match(run.stderr, /podman \(Debian package podman\)/, 'it names podman and its package');
    t.match(run.stderr, /apt-get install --no-install-recommends podman/, 'and the command that installs it');
    t.match(run.stderr, /tulle demo \(network namespaces only/, 'and the demo that needs no podman');
    t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
    t.equal(run.stdout, '', 'nothing started: the check comes before the lab');
  });

  t.test('a runtime tulle does not know: exit 2 naming the choices', async (t) => {
    const run = demo(['demo', '--runtime', 'docker']);
    t.equal(run.status, EXIT.INVALID, `exit ${EXIT.INVALID}`);
    t.match(run.stderr, /'docker' is invalid/, 'it names the value');
    t.match(run.stderr, /namespaces, podman/, 'and the values allowed');
  });
}
