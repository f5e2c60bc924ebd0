// The soak's live-heap probe on a real Node process started as the soak starts
// its daemons: the signal makes it write a snapshot, the probe waits until it is
// whole, counts what it holds and deletes it.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { snapshotNodeOptions, takeLiveHeap } from '../bench/soak-live-heap.js';

// 20,000 Kept objects stay reachable; 200,000 Dropped ones are garbage by the time it signals readiness.
const CHILD = `
class Kept { constructor(i) { this.i = i; } }
class Dropped { constructor(i) { this.i = i; this.pad = new Array(8).fill(i); } }
globalThis.kept = Array.from({ length: 20000 }, (_, i) => new Kept(i));
let sink = 0;
for (let i = 0; i < 200000; i++) sink += new Dropped(i).i;
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', () => process.stdout.write('pong\\n'));
process.stdout.write('ready ' + sink + '\\n');
`;

t.test('a snapshot on the signal: what is kept is counted, garbage is not, the file is gone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-live-heap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['-e', CHILD], { env: { ...process.env, NODE_OPTIONS: snapshotNodeOptions(dir) }, stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  t.match((await lines.next()).value, /^ready /);
  const ping = async () => {
    child.stdin!.write('\n');
    return (await lines.next()).value;
  };
  const h = await takeLiveHeap({ host: 'child', pid: child.pid! }, dir, 12, ping);
  t.equal(h.host, 'child');
  t.equal(h.t, 12);
  t.equal(h.summary.byConstructor.Kept?.count, 20_000, 'every kept object');
  t.equal(h.summary.byConstructor.Dropped, undefined, 'no garbage: V8 collected it before the snapshot');
  t.ok(h.liveBytes > 20_000 * 16 && h.liveBytes < 200 * 2 ** 20, `live heap ${h.liveBytes} B`);
  t.ok(h.pauseMs >= 0);
  t.same(readdirSync(dir), [], 'the snapshot is deleted once read');
  await t.rejects(takeLiveHeap({ host: 'child', pid: child.pid! }, join(dir, 'missing'), 0, ping), { code: 'ENOENT' }, 'a folder that is not there');
});
