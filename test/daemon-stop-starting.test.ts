// A stop signal while start-up waits (here for an etcd that does not answer,
// as flannel waits for it) ends the daemon as a normal stop: exit 0, the
// stopping line, no lease taken and no control socket left.
import t from 'tap';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { switchedHosts } from '../src/lab/topology.js';
import { socketPath } from '../src/daemon/state-dir.js';
import { packageRoot } from '../src/util/package-root.js';
import { rootLab } from './helpers/lab.js';

const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-stop-starting-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  // The second host runs no etcd: connections to it are refused and the store keeps retrying.
  const [h, silent] = switchedHosts(lab, ['sa', 'sb']);
  const stateDir = join(dir, 'state');

  t.test('SIGTERM while the etcd store is unreachable', async (t) => {
    const file = join(dir, 'host.yaml');
    writeFileSync(
      file,
      stringify({
        underlay: { address: h.underlay },
        backend: { type: 'vxlan' },
        store: { type: 'etcd', endpoints: [`http://${silent.underlay}:2379`] },
        stateDir,
      }),
    );
    const child = lab.spawn(h.ns, [process.execPath, CLI, 'run', '-c', file]);
    let log = '';
    child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 15_000;
    while (!/etcd: unreachable/.test(log) && child.exitCode === null && Date.now() < deadline) await sleep(50);
    t.match(log, /etcd: unreachable/, 'start-up waits for etcd');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    t.equal(code, 0, 'exit 0, as after a normal stop');
    t.match(log, /tulle: stopping/);
    t.notMatch(log, /lease \S+ from the/, 'no lease was taken');
    const errors = log.split('\n').filter((line) => line.startsWith('{') && (JSON.parse(line) as { level: number }).level >= 50);
    t.same(errors, [], 'nothing logged as an error on the way out');
    t.match(log, /tulle: stopped; everything it set up is removed/);
    t.notOk(existsSync(socketPath(stateDir)), 'no control socket left');
  });
}
