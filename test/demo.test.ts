// The README's main command: `npm run demo` (`tulle demo`) on a machine that
// has iproute2 and node and nothing else — no ping, iperf3, ethtool, tcpdump
// or sysctl on the PATH. It must show every container reaching every other,
// write the throughput files and leave nothing behind; with --keep, the lab
// stays up until `tulle lab down` ends its processes and removes it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leftoverNamespaces } from '../src/lab/netns.js';
import { packageRoot } from '../src/util/package-root.js';
import { onPath } from '../src/bench/tools.js';

const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
const NEEDED = ['ip', 'bridge', 'sh', 'nft'];

if (process.getuid?.() !== 0) {
  t.fail('the demo needs root (CI runs as root)');
} else {
  const bin = mkdtempSync(join(tmpdir(), 'tulle-demo-path-'));
  t.teardown(() => rmSync(bin, { recursive: true, force: true }));
  for (const tool of NEEDED) {
    const path = onPath(tool) ?? ['/usr/sbin', '/sbin', '/usr/bin', '/bin'].map((d) => join(d, tool)).find(existsSync);
    if (path) symlinkSync(path, join(bin, tool));
  }
  symlinkSync(process.execPath, join(bin, 'node'));
  const env = { ...process.env, PATH: bin };
  const demo = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 150_000, env });
  const prefixOf = (stdout: string) => /building the lab \((tulle-[0-9a-z]+-)\*\)/.exec(stdout)?.[1];

  t.test('a bare PATH: no ping, iperf3, ethtool, tcpdump or sysctl', async (t) => {
    for (const tool of ['ping', 'iperf3', 'ethtool', 'tcpdump', 'sysctl', 'cat']) {
      t.not(spawnSync('sh', ['-c', `command -v ${tool}`], { env }).status, 0, `${tool} is not on the demo's PATH`);
    }
  });

  t.test('tulle demo: leases converge, all 30 pairs reach each other, results written, nothing left', async (t) => {
    const out = mkdtempSync(join(tmpdir(), 'tulle-demo-out-'));
    t.teardown(() => rmSync(out, { recursive: true, force: true }));
    const started = Date.now();
    const run = demo(['demo', '--out', out]);
    const seconds = (Date.now() - started) / 1000;
    t.equal(run.status, 0, `exit 0 in ${seconds.toFixed(1)} s (stderr: ${run.stderr.slice(-2000)}; stdout: ${run.stdout.slice(-3000)})`);
    t.match(run.stdout, /\[2\/6\] .* ✓ leases converged/, 'the leases converge');
    t.match(run.stdout, /\[4\/6\] .* ✓ all 30 pairs reachable/, 'the matrix says every pair is reachable');
    t.notMatch(run.stdout, /✗/, 'no cell of the matrix and no step failed');
    t.match(run.stdout, /veth GRO on/, 'veth GRO set without ethtool');
    t.match(run.stdout, /iperf3 is not installed: throughput measured with tulle's built-in generator/, 'it says it uses the built-in generator');
    for (const system of ['underlay', 'kernel-vxlan', 'tulle-udp', 'tulle-vxlan', 'tulle-host-gw']) {
      t.match(run.stdout, new RegExp(`\\n  ${system}\\s+\\d+\\.\\d\\d\\s`), `the table has a ${system} row with a figure`);
    }
    for (const file of ['results.json', 'results.md', 'results.svg'])
      t.ok(existsSync(join(out, file)) && statSync(join(out, file)).size > 0, `${file} written`);
    // Under 2 minutes on an idle 2-core machine; the bound leaves room for a CI machine that is busy.
    t.ok(seconds < 180, `the whole run ends within 3 minutes (${seconds.toFixed(1)} s)`);
    const prefix = prefixOf(run.stdout);
    t.ok(prefix, 'the demo names its lab');
    t.same(
      leftoverNamespaces().filter((ns) => prefix && ns.startsWith(prefix)),
      [],
      'no namespace of the demo left',
    );
    t.notOk(prefix && existsSync(join(tmpdir(), `${prefix}demo`)), 'its state dir removed');
  });

  t.test('tulle lab demo --keep (no bench) leaves the lab up; tulle lab down ends its daemons and removes it', async (t) => {
    const out = mkdtempSync(join(tmpdir(), 'tulle-demo-out-'));
    t.teardown(() => rmSync(out, { recursive: true, force: true }));
    const run = demo(['lab', 'demo', '--keep', '--no-bench', '--out', out]);
    const prefix = prefixOf(run.stdout);
    t.teardown(() => {
      if (prefix) spawnSync(process.execPath, [CLI, 'lab', 'down', '--prefix', prefix], { env }); // in case an assertion below failed
    });
    t.equal(run.status, 0, `exit 0 (stderr: ${run.stderr.slice(-2000)})`);
    t.match(run.stdout, /✓ all 30 pairs reachable/, 'every pair reachable');
    t.match(run.stdout, /tulle lab down/, 'it says how to take the lab down');
    t.match(run.stdout, /tulle status --state-dir \S+/, 'and how to look at a daemon');
    t.ok(prefix, 'the demo names its lab');
    if (!prefix) return;
    const namespaces = leftoverNamespaces().filter((ns) => ns.startsWith(prefix));
    t.equal(namespaces.length, 3 + 6 + 1, 'the hosts, containers and switch are still there');
    const pids = namespaces.flatMap((ns) => spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number));
    t.equal(pids.length, 3, 'the three daemons still run');
    const status = spawnSync(process.execPath, [CLI, 'status', '--state-dir', join(tmpdir(), `${prefix}demo`, 'host1')], { encoding: 'utf8', env });
    t.equal(status.status, 0, `tulle status answers (${status.stderr})`);
    t.match(status.stdout, /leases\s+3 \(2 peers routed\)/, 'host 1 routes to both peers');

    const down = spawnSync(process.execPath, [CLI, 'lab', 'down', '--prefix', prefix], { encoding: 'utf8', env, timeout: 30_000 });
    t.equal(down.status, 0, `lab down exits 0 (${down.stderr})`);
    t.match(down.stdout, /ended 3 process/, 'it ends the daemons');
    t.same(
      leftoverNamespaces().filter((ns) => ns.startsWith(prefix)),
      [],
      'no namespace left',
    );
    t.same(
      pids.filter((pid) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      }),
      [],
      'no process left',
    );
    t.notOk(existsSync(join(tmpdir(), `${prefix}demo`)), 'the state dirs removed');
  });
}
