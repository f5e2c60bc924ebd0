// The README's test line installs what the tests use and .ci/run runs that line as written; `npm test`
// names each missing program with its Debian package before anything else runs.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const script = join(import.meta.dirname, '..', 'scripts', 'test-tools.mjs');

t.test('check: every program the tests use is on this machine', (t) => {
  const r = spawnSync(process.execPath, [script, 'check'], { encoding: 'utf8' });
  t.equal(r.status, 0, `check passes here (what it said: ${r.stderr.trim() || 'nothing'})`);
  t.end();
});

t.test('check: a missing program is named with its package and how to install it', (t) => {
  // A PATH with nothing on it: only the sbin folders the script always looks in remain.
  const empty = mkdtempSync(join(tmpdir(), 'tulle-path-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  const r = spawnSync(process.execPath, [script, 'check'], { encoding: 'utf8', env: { PATH: empty } });
  t.equal(r.status, 1, 'check fails');
  t.match(r.stderr, /^ {2}ping \(Debian package iputils-ping\): /m, 'names ping and its package');
  t.match(r.stderr, /^ {2}etcd \(Debian package etcd-server\): /m, 'names etcd and its package');
  t.match(r.stderr, /npm run test:setup/, 'says how to install them');
  t.match(r.stderr, /apt-get install [a-z0-9 -]*iputils-ping/, 'gives the apt-get line');
  t.notMatch(r.stderr, /^ {2}ip \(/m, 'does not name ip, which /usr/sbin holds');
  t.end();
});

t.test("README's test line is the line .ci/run runs", (t) => {
  const root = join(import.meta.dirname, '..');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /```sh\n([\s\S]*?)```/.exec(readme);
  t.ok(block, 'the README opens with a sh block');
  const lines = block![1].split('\n').filter((l) => l.trim() !== '');
  t.equal(lines.length, 2, 'two lines: set-up with the demo, and the tests');
  const testLine = lines[1].replace(/\s+#.*$/, '').trim();
  t.equal(testLine, 'npm run test:setup && npm test');
  const ci = readFileSync(join(root, '.ci', 'run'), 'utf8');
  t.ok(ci.includes(`(${testLine}) 2>&1`), `.ci/run runs "${testLine}"`);
  t.end();
});
