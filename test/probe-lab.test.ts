// tulle's own probes in a namespace pair on a veth: echo (reachability and
// RTT), TCP and UDP streams, and veth GRO set through the addon's SIOCETHTOOL.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { featureSummary, setFeatures } from '../src/lab/features.js';
import { LabProbes } from '../src/probe/lab-probes.js';
import { formatMatrix, fullyReachable } from '../src/probe/matrix.js';
import { probeCommand } from '../src/probe/entry.js';
import { rootLab } from './helpers/lab.js';

const lab = rootLab(t);
if (lab) {
  const a = lab.namespace('pa');
  const b = lab.namespace('pb');
  lab.veth(a, 'eth0', b, 'eth0');
  lab.ip(a, 'addr', 'add', '192.0.2.1/24', 'dev', 'eth0');
  lab.ip(b, 'addr', 'add', '192.0.2.2/24', 'dev', 'eth0');
  lab.ip(a, 'link', 'set', 'eth0', 'up');
  lab.ip(b, 'link', 'set', 'eth0', 'up');
  const probes = new LabProbes(lab);

  t.test('veth GRO through SIOCETHTOOL', async (t) => {
    const off = setFeatures(lab, a, ['eth0:gro=off']);
    t.same(off.map(featureSummary), ['off'], 'GRO off');
    const on = setFeatures(lab, a, ['eth0:gro=on', 'eth0:gro?']);
    t.same(on.map(featureSummary), ['on', 'on'], 'GRO on, and read back as on');
    const ethtool = spawnSync('ethtool', ['--version']);
    if (ethtool.error === undefined) {
      // Cross-check with the ethtool binary where it is installed (CI installs it).
      t.match(lab.exec(a, ['ethtool', '-k', 'eth0']), /generic-receive-offload: on/, 'ethtool -k agrees');
      setFeatures(lab, a, ['eth0:gro=off']);
      t.match(lab.exec(a, ['ethtool', '-k', 'eth0']), /generic-receive-offload: off/, 'ethtool -k sees it off again');
    }
    const missing = setFeatures(lab, a, ['nosuch0:gro=on']);
    t.match(featureSummary(missing[0]), /^off \(.*SIOCETHTOOL.*nosuch0: No such device/, 'a missing device reads as off, with the ioctl and errno');
    const bad = spawnSync(probeCommand([])[0], [...probeCommand([]).slice(1), 'features', 'eth0:warp=on'], { encoding: 'utf8' });
    t.equal(bad.status, 2, 'an unknown feature is a usage error');
    t.match(bad.stderr, /feature "warp" is not one of gro, tx-checksum/, 'naming the value and what is allowed');
    setFeatures(lab, a, ['eth0:gro=on']);
    setFeatures(lab, b, ['eth0:gro=on']);
  });

  t.test('echo: reachability matrix and RTT', async (t) => {
    const matrix = await probes.echoMatrix(
      [
        { name: 'a', ns: a, address: '192.0.2.1' },
        { name: 'b', ns: b, address: '192.0.2.2' },
      ],
      { count: 5, intervalMs: 20 },
    );
    t.ok(fullyReachable(matrix), `every pair answers:\n${formatMatrix(matrix)}`);
    const ab = matrix.cells[0][1]!;
    t.equal(ab.sent, 5);
    t.equal(ab.received, 5);
    t.ok(ab.rtt_ms!.min > 0 && ab.rtt_ms!.min <= ab.rtt_ms!.median && ab.rtt_ms!.median <= ab.rtt_ms!.max, `RTT ordered: ${JSON.stringify(ab.rtt_ms)}`);
    t.ok(ab.rtt_ms!.max < 100, 'RTT on a veth is well under 100 ms');
    t.match(formatMatrix(matrix), /from \\ to\s+a\s+b\n/);
  });

  t.test('echo: an address nobody answers on reads as unreachable', async (t) => {
    // 192.0.2.3 is on the segment but not assigned: requests go unanswered.
    const matrix = await probes.echoMatrix(
      [
        { name: 'a', ns: a, address: '192.0.2.1' },
        { name: 'b', ns: b, address: '192.0.2.2' },
      ],
      { count: 2, intervalMs: 10 },
    );
    t.ok(fullyReachable(matrix));
    const report = JSON.parse(
      lab.exec(a, probeCommand(['echo', '--to', '192.0.2.3', '--count', '2', '--interval-ms', '10', '--timeout-ms', '300']), { timeoutMs: 20_000 }),
    );
    t.equal(report.targets[0].received, 0, 'no reply');
    t.equal(report.targets[0].loss_pct, 100);
    t.equal(report.targets[0].rtt_ms, null);
    t.notOk(
      fullyReachable({
        nodes: ['a', 'x'],
        cells: [
          [null, report.targets[0]],
          [report.targets[0], null],
        ],
      }),
      'such a matrix is not fully reachable',
    );
  });

  t.test('echo server counts and drops garbage, and keeps answering', async (t) => {
    const server = lab.spawn(b, probeCommand(['echo-server', '--address', '192.0.2.2', '--port', '7300', '--seconds', '20']));
    let out = '';
    server.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const ended = new Promise<void>((r) => server.once('close', () => r()));
    for (let i = 0; i < 100 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 50));
    // Garbage from the root namespace cannot reach b; send it from a with the probe's own process: a short script.
    lab.exec(
      a,
      [
        process.execPath,
        '--input-type=module',
        '-e',
        `
            const s = dgram.createSocket('udp4');
      const sends = [Buffer.from('hello'), Buffer.alloc(16), Buffer.from('TLP1\\x09xxxxxxxxxxxxxxxxx')];
      for (const m of sends) await new Promise((r) => s.send(m, 7300, '192.0.2.2', r));
      s.close();`,
      ],
      { timeoutMs: 20_000 },
    );
    const report = JSON.parse(
      lab.exec(a, probeCommand(['echo', '--to', '192.0.2.2', '--port', '7300', '--count', '3', '--interval-ms', '10']), { timeoutMs: 20_000 }),
    );
    t.equal(report.targets[0].received, 3, 'still answers after the garbage');
    server.kill('SIGTERM');
    await ended;
    const serverReport = JSON.parse(out.trim().split('\n').pop()!);
    t.equal(serverReport.malformed, 3, 'three malformed datagrams counted');
    t.equal(serverReport.replied, 3, 'three replies');
  });

  t.test('TCP stream, 1 and 2 streams', async (t) => {
    const one = await probes.tcp(a, b, '192.0.2.2', { seconds: 1 });
    t.equal(one.protocol, 'tcp');
    t.ok(one.bytes > 1e6, `bytes arrived: ${one.bytes}`);
    t.ok(one.seconds > 0.5 && one.seconds < 5, `about 1 s of data: ${one.seconds}`);
    t.ok(Math.abs(one.gbps - (one.bytes * 8) / one.seconds / 1e9) < 0.01, `Gbit/s is bytes over time: ${one.gbps}`);
    t.ok(one.sender_cpu_pct > 0 && one.receiver_cpu_pct > 0, `CPU reported: ${one.sender_cpu_pct}% / ${one.receiver_cpu_pct}%`);
    const two = await probes.tcp(a, b, '192.0.2.2', { seconds: 1, streams: 2 });
    t.equal(two.streams, 2);
    t.ok(two.bytes > 1e6, `2 streams: ${two.gbps} Gbit/s`);
  });

  t.test('UDP stream', async (t) => {
    const r = await probes.udp(a, b, '192.0.2.2', { seconds: 1, size: 1200 });
    t.ok(r.datagrams! > 1000, `datagrams arrived: ${r.datagrams}`);
    t.ok(r.datagrams! <= r.sent_datagrams!, 'no more arrived than were sent');
    t.equal(r.bytes, r.datagrams! * 1200, 'every datagram is 1200 bytes');
    t.ok(r.loss_pct! >= 0 && r.loss_pct! <= 100);
    t.equal(r.malformed, 0);
    t.ok(r.kpps! > 0);
  });

  t.test('bad arguments name the option and what is allowed', async (t) => {
    const [node, entry] = probeCommand([]);
    const r = spawnSync(node, [entry, 'udp-send', '--to', '192.0.2.2', '--size', '3'], { encoding: 'utf8' });
    t.equal(r.status, 2);
    t.match(r.stderr, /--size must be a whole number from 16 to 65507, got "3"/);
    const u = spawnSync(node, [entry, 'warp'], { encoding: 'utf8' });
    t.match(u.stderr, /unknown command "warp"; commands: echo-server, echo/);
  });
}
