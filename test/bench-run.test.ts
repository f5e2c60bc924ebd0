// The bench end to end, short: its refusals (not root, leftover namespaces of
// an earlier bench), a run with no iperf3, ping, perf or ethtool on the PATH
// (only ip, bridge and node), which must fall back to tulle's probes and say so,
// and a run with iperf3 and perf: the cost model's profile and thread figures.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../src/cli/exit-codes.js';
import { Lab, leftoverNamespaces } from '../src/lab/netns.js';
import { packageRoot } from '../src/util/package-root.js';
import { rootLab } from './helpers/lab.js';

const cli = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
const SHORT = ['--duration', '1', '--others', 'none', '--ladder', 'off'];

if (rootLab(t)) {
  t.test('refuses to start when not root', async (t) => {
    // As user nobody where it can read the checkout; otherwise (a checkout under a private home) the
    // child is told it is not root through process.getuid, the one fact the refusal reads.
    // Without the test runner's hooks: they would write where nobody may not at exit. The runner puts them
    // back into NODE_OPTIONS of every child it sees spawned, so env(1) takes them out in the child.
    const withoutHooks = ['-u', 'NODE_OPTIONS', process.execPath];
    const asNobody = { uid: 65534, gid: 65534 };
    const readable = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(cli)})`], { ...asNobody, timeout: 30_000 }).status === 0;
    if (!readable) t.comment('user nobody cannot read the checkout: overriding process.getuid instead');
    const r = readable
      ? spawnSync('/usr/bin/env', [...withoutHooks, cli, 'bench', ...SHORT, '--reps', '1'], { encoding: 'utf8', ...asNobody, timeout: 60_000 })
      : spawnSync(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `process.getuid = () => 1000; process.argv.push('bench', ...${JSON.stringify(SHORT)}); await import(${JSON.stringify(cli)});`,
          ],
          { encoding: 'utf8', timeout: 60_000 },
        );
    t.equal(r.status, EXIT.NOT_ROOT, `exit ${EXIT.NOT_ROOT} (not root), as every command that needs root`);
    t.match(r.stderr, /^tulle bench creates network namespaces.*: run it as root$/m);
    t.notMatch(r.stderr, /\n\s+at |Error:/, 'one line, no stack trace');
  });

  t.test('refuses to start while namespaces of an earlier bench exist, and offers tulle lab down', async (t) => {
    const stale = new Lab(`bench${Math.random().toString(16).slice(2, 8)}`);
    t.teardown(() => stale.dispose());
    const ns = stale.namespace('a');
    const r = spawnSync(process.execPath, [cli, 'bench', ...SHORT, '--reps', '1'], { encoding: 'utf8', timeout: 60_000 });
    t.equal(r.status, 2, 'exit 2');
    // (Other runs' namespaces may be listed too: the machine may be running another bench.)
    t.match(r.stderr, new RegExp(`namespaces of an earlier bench run still exist \\([^)]*\\b${ns}\\b[^)]*\\).*tulle lab down`, 's'));
  });

  t.test('bad options: exit 2 naming the option', async (t) => {
    const r = spawnSync(process.execPath, [cli, 'bench', '--hosts', '1'], { encoding: 'utf8', timeout: 60_000 });
    t.equal(r.status, 2);
    t.match(r.stderr, /--hosts must be a whole number from 2 to 8, got "1"/);
  });

  t.test('with only ip, bridge and node on the PATH: the built-in probes, round-robin, all three outputs', async (t) => {
    const bin = mkdtempSync(join(tmpdir(), 'tulle-barepath-'));
    const out = mkdtempSync(join(tmpdir(), 'tulle-bench-out-'));
    t.teardown(() => {
      rmSync(bin, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    });
    for (const tool of ['ip', 'bridge']) symlinkSync(spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim(), join(bin, tool));
    symlinkSync(process.execPath, join(bin, 'node'));
    const before = leftoverNamespaces();
    const r = spawnSync(process.execPath, [cli, 'bench', ...SHORT, '--systems', 'tulle-udp', '--reps', '2', '--out', out], {
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, PATH: bin },
    });
    t.equal(r.status, 0, `exit 0 (stderr tail: ${r.stderr.slice(-1500)})`);
    t.match(r.stderr, /iperf3 is not installed: throughput measured with tulle's built-in generator/, 'says it fell back');
    t.match(r.stderr, /ping is not installed/);
    t.match(r.stderr, /perf is not installed \(Debian: apt-get install -y linux-perf\): the cost model's CPU profile is left out/);
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    t.same(
      json.rows.map((row: { system: string }) => row.system),
      ['underlay', 'kernel-vxlan', 'tulle-udp'],
    );
    t.same(
      json.samples.map((s: { system: string; rep: number }) => `${s.system}/${s.rep}`),
      ['underlay/1', 'kernel-vxlan/1', 'tulle-udp/1', 'underlay/2', 'kernel-vxlan/2', 'tulle-udp/2'],
      'round-robin order',
    );
    t.match(json.tools.throughput, /built-in generator/);
    t.match(json.tools.latency, /echo probe/);
    for (const row of json.rows) {
      t.ok(row.tcp1_gbps > 0, `${row.system}: TCP ×1 ${row.tcp1_gbps} Gb/s`);
      t.ok(row.rtt_ms > 0, `${row.system}: RTT ${row.rtt_ms} ms`);
      t.ok(row.udp_kpps > 0, `${row.system}: UDP ${row.udp_kpps} kpps`);
      t.equal(row.samples, 2);
    }
    const tulle = json.rows[2];
    t.ok(tulle.cpu_pct > 0, `tulle's CPU measured: ${tulle.cpu_pct}%`);
    const tcpCost = tulle.cost.find((c: { test: string }) => c.test === 'tcp1');
    t.equal(tcpCost.per_unit_us, null, 'without perf, no breakdown');
    t.same(
      tcpCost.threads.map((x: { name: string; host: string }) => `${x.name} ${x.host}`),
      ['tulle-duplex a', 'tulle-duplex b'],
      "but each daemon's data-plane thread, by name",
    );
    t.ok(
      tcpCost.threads.every((x: { us: number }) => x.us > 0),
      `with its µs per MB (${tcpCost.threads.map((x: { us: number }) => x.us).join(', ')})`,
    );
    t.ok(Math.abs(tulle.ratios.vs_kernel_vxlan.tcp1_gbps - tulle.tcp1_gbps / json.rows[1].tcp1_gbps) < 0.01, 'ratio to kernel-vxlan');
    t.equal(json.gro, 'on', 'veth GRO set without ethtool');
    t.same(json.errors, []);
    t.ok(existsSync(join(out, 'results.md')) && existsSync(join(out, 'results.svg')), 'Markdown and SVG written');
    t.match(readFileSync(join(out, 'results.svg'), 'utf8'), /built-in generator/);
    t.same(
      leftoverNamespaces().filter((n) => n.startsWith('tulle-bench') && !before.includes(n)),
      [],
      'no bench namespace left behind',
    );
  });

  t.test('with iperf3 and perf: where the CPU goes, by kind of work, and the rate each data-plane thread allows', async (t) => {
    const out = mkdtempSync(join(tmpdir(), 'tulle-bench-out-'));
    t.teardown(() => rmSync(out, { recursive: true, force: true }));
    const r = spawnSync(
      process.execPath,
      [cli, 'bench', '--duration', '3', '--others', 'none', '--ladder', 'off', '--systems', 'tulle-udp', '--reps', '1', '--out', out],
      {
        encoding: 'utf8',
        timeout: 300_000,
      },
    );
    t.equal(r.status, 0, `exit 0 (stderr tail: ${r.stderr.slice(-1500)})`);
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    t.equal(json.settings.profile, true, 'profiled');
    type Figures = {
      test: string;
      total_us: number;
      per_unit_us: Record<string, number>;
      threads: { name: string; us: number; limit: number }[];
      of_limit: number;
    };
    const cost = (system: string, test: string): Figures =>
      json.rows.find((x: { system: string }) => x.system === system).cost.find((c: Figures) => c.test === test);
    for (const system of ['underlay', 'kernel-vxlan', 'tulle-udp']) {
      for (const test of ['tcp1', 'udp', 'udp_small']) {
        const c = cost(system, test);
        t.ok(c.total_us > 0, `${system} ${test}: ${c.total_us} µs of CPU per ${test === 'tcp1' ? 'MB' : 'datagram'}`);
      }
    }
    // Each system's own device shows in its own profile and no other's: the buckets follow the work.
    t.ok(cost('tulle-udp', 'udp_small').per_unit_us.tun > 0, `tulle-udp: TUN ${cost('tulle-udp', 'udp_small').per_unit_us.tun} µs per datagram`);
    t.ok(cost('tulle-udp', 'udp_small').per_unit_us.js > 0, 'tulle-udp: its own user space (Node, V8) too');
    t.ok(
      cost('kernel-vxlan', 'udp_small').per_unit_us.tunnel > 0,
      `kernel-vxlan: vxlan ${cost('kernel-vxlan', 'udp_small').per_unit_us.tunnel} µs per datagram`,
    );
    t.equal(cost('underlay', 'udp_small').per_unit_us.tun, 0, 'the underlay has no TUN');
    t.equal(cost('kernel-vxlan', 'udp_small').per_unit_us.tun, 0, 'nor has kernel vxlan');
    for (const test of ['tcp1', 'udp', 'udp_small']) {
      const c = cost('tulle-udp', test);
      t.equal(c.threads.length, 2, `tulle-udp ${test}: both daemons' threads`);
      // A thread cannot carry more than its CPU time allows at its own cost per packet (10% for counter timing).
      t.ok(c.of_limit > 0 && c.of_limit <= 1.1, `tulle-udp ${test}: measured / allowed ${c.of_limit} (limits ${c.threads.map((x) => x.limit).join(', ')})`);
    }
    t.match(readFileSync(join(out, 'results.md'), 'utf8'), /## Where the CPU goes: the cost model[\s\S]*\| tulle-udp \| UDP 64 B, per datagram \|/);
    t.match(r.stdout, /\| data-plane thread \| test \| thread \(host\)/, 'the tables are printed too');

    // A ping's round trip through both tulle daemons, hop by hop; none for the kernel rows.
    type Hops = { trips: number; unmatched: number; hops: { hop: string; us: number }[]; total_us: number };
    const row = (system: string) => json.rows.find((x: { system: string }) => x.system === system) as { hops?: Hops; rtt_ms: number };
    const hops = row('tulle-udp').hops!;
    t.ok(hops.trips >= 10, `tulle-udp: ${hops.trips} of 20 round trips traced whole (${hops.unmatched} not)`);
    t.ok(
      hops.hops.every((h) => h.us >= 0),
      `none negative: ${hops.hops.map((h) => h.us).join(', ')} µs`,
    );
    const sum = hops.hops.reduce((s, h) => s + h.us, 0);
    t.ok(hops.total_us > 0 && sum > 0, `the traced round trip: ${hops.total_us} µs (hop medians add up to ${sum})`);
    t.equal(row('kernel-vxlan').hops, undefined, 'kernel vxlan has no tulle hops');
    t.match(
      readFileSync(join(out, 'results.md'), 'utf8'),
      /## Where a round trip goes[\s\S]*\| a → b: send, underlay, receive \| [\d.]+ \|/,
      'results.md has the hop table',
    );
  });
}
