// The demo's promise on a fresh machine: with no ping, iperf3 or ethtool on the
// PATH (only `ip` and `node`), tulle's own probes still set veth GRO, show
// reachability and measure TCP and UDP inside namespaces.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { featureSummary, setFeatures } from '../src/lab/features.js';
import { LabProbes } from '../src/probe/lab-probes.js';
import { fullyReachable, formatMatrix } from '../src/probe/matrix.js';
import { rootLab } from './helpers/lab.js';

/** A PATH folder holding only `ip` and `node`. */
function barePath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-barepath-'));
  const ip = spawnSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).stdout.trim();
  symlinkSync(ip, join(dir, 'ip'));
  symlinkSync(process.execPath, join(dir, 'node'));
  return dir;
}

const lab = rootLab(t);
if (lab) {
  const dir = barePath();
  const savedPath = process.env.PATH;
  process.env.PATH = dir;
  t.teardown(() => {
    process.env.PATH = savedPath;
    rmSync(dir, { recursive: true, force: true });
  });

  t.test('the PATH has no ping, iperf3, ethtool', async (t) => {
    for (const tool of ['ping', 'iperf3', 'ethtool', 'tcpdump']) {
      t.equal((spawnSync(tool, ['--version']).error as NodeJS.ErrnoException | undefined)?.code, 'ENOENT', `${tool} is not found`);
    }
    t.equal(spawnSync('ip', ['-V']).status, 0, 'ip is');
  });

  t.test("GRO, echo matrix, TCP and UDP with tulle's probes only", async (t) => {
    const names = ['na', 'nb', 'nc'];
    const nss = names.map((n) => lab.namespace(n));
    const sw = lab.namespace('nsw');
    lab.ip(sw, 'link', 'add', 'br0', 'type', 'bridge');
    lab.ip(sw, 'link', 'set', 'br0', 'up');
    nss.forEach((ns, i) => {
      lab.veth(ns, 'eth0', sw, `p${i}`);
      lab.ip(sw, 'link', 'set', `p${i}`, 'master', 'br0', 'up');
      lab.ip(ns, 'addr', 'add', `192.0.2.${i + 1}/24`, 'dev', 'eth0');
      lab.ip(ns, 'link', 'set', 'eth0', 'up');
    });
    for (const [i, ns] of nss.entries()) {
      t.same(setFeatures(lab, ns, ['eth0:gro=on']).map(featureSummary), ['on'], `GRO on in ${names[i]}`);
    }
    t.same(setFeatures(lab, sw, ['p0:gro=on', 'p1:gro=on', 'p2:gro=on']).map(featureSummary), ['on', 'on', 'on'], 'GRO on on the bridge ports');
    const probes = new LabProbes(lab);
    const matrix = await probes.echoMatrix(
      nss.map((ns, i) => ({ name: names[i], ns, address: `192.0.2.${i + 1}` })),
      { count: 3, intervalMs: 20 },
    );
    t.ok(fullyReachable(matrix), `3 × 3 matrix, every pair answers:\n${formatMatrix(matrix)}`);
    t.equal(matrix.cells.flat().filter((c) => c !== null).length, 6);
    const tcp = await probes.tcp(nss[0], nss[1], '192.0.2.2', { seconds: 1, streams: 2 });
    t.ok(tcp.gbps > 0.1, `TCP: ${tcp.gbps} Gbit/s`);
    const udp = await probes.udp(nss[0], nss[2], '192.0.2.3', { seconds: 1, size: 1400 });
    t.ok(udp.kpps! > 1, `UDP: ${udp.kpps} kpps received, ${udp.loss_pct}% lost`);
  });
}
