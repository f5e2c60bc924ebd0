// What building the addon needs (src/native/build-prerequisites.mjs) and what scripts/build-native.mjs does
// without it: on a PATH of stand-in programs, each missing one is named with its Debian package; the variables
// node-gyp reads (CXX, PYTHON, MAKE) are honoured; the install script exits 0 with the message, by hand 1.
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explainMissing, findProgram, missingPrerequisites } from '../src/native/build-prerequisites.mjs';
import { packageRoot } from '../src/util/package-root.js';

const tmp = mkdtempSync(join(tmpdir(), 'tulle-prereq-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

/** A folder of stand-in executables with these names (and a plain, non-executable file for each of `plain`). */
function binDir(name: string, programs: string[], plain: string[] = []): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  for (const program of programs) {
    writeFileSync(join(dir, program), '#!/bin/sh\n');
    chmodSync(join(dir, program), 0o755);
  }
  for (const file of plain) writeFileSync(join(dir, file), 'not a program\n');
  return dir;
}

// Node's headers where npm_config_nodedir points, so that the programs alone decide.
const nodedir = join(tmp, 'node');
mkdirSync(join(nodedir, 'include', 'node'), { recursive: true });
writeFileSync(join(nodedir, 'include', 'node', 'node_api.h'), '');
const execPath = join(tmp, 'nowhere', 'bin', 'node');
const missingNames = (env: Record<string, string | undefined>) =>
  missingPrerequisites({ env: { npm_config_nodedir: nodedir, ...env }, execPath }).map((p) => p.name);

t.test('everything there: nothing missing', async (t) => {
  t.same(missingNames({ PATH: binDir('all', ['python3', 'make', 'g++']) }), []);
});

t.test('each missing program is named, with its Debian package', async (t) => {
  const path = binDir('only-make', ['make'], ['g++']);
  t.same(missingNames({ PATH: path }), ['python3', 'g++'], 'a file that is not executable does not count');
  const lines = explainMissing(missingPrerequisites({ env: { PATH: path, npm_config_nodedir: nodedir }, execPath }), '/opt/app/node_modules/tulle');
  t.ok(lines.includes('  - python3 (runs node-gyp): Debian package python3'));
  t.ok(lines.includes('  - g++ (compiles the C++ sources): Debian package g++'));
  t.ok(lines.includes('Install them (Debian, Ubuntu): apt-get install python3 g++'));
  t.ok(lines.includes('Then build the addon: npm rebuild tulle (or: node /opt/app/node_modules/tulle/scripts/build-native.mjs)'), 'installed: npm rebuild');
  const checkout = explainMissing(missingPrerequisites({ env: { PATH: path, npm_config_nodedir: nodedir }, execPath }), '/home/me/tulle');
  t.ok(checkout.includes('Then build the addon: node /home/me/tulle/scripts/build-native.mjs (or npm ci)'), 'a checkout: the script itself');
});

t.test('python is found as node-gyp finds it: python3, else python', async (t) => {
  t.same(missingNames({ PATH: binDir('python2-named', ['python', 'make', 'g++']) }), []);
});

t.test('the variables node-gyp and its Makefile read: CXX, PYTHON, MAKE', async (t) => {
  const path = binDir('other-names', ['clang++', 'gmake', 'py']);
  t.same(missingNames({ PATH: path }), ['python3', 'make', 'g++']);
  t.same(missingNames({ PATH: path, CXX: 'clang++', MAKE: 'gmake', PYTHON: 'py' }), []);
  t.same(missingNames({ PATH: path, CXX: 'clang++ -stdlib=libc++', MAKE: 'gmake', PYTHON: join(path, 'py') }), [], 'a CXX with flags; a PYTHON path');
  t.same(missingNames({ PATH: path, CXX: 'g++-14', MAKE: 'gmake', PYTHON: 'py' }), ['g++-14'], 'the CXX named is the one looked for');
});

t.test("Node's headers: missing where neither npm_config_nodedir nor the node binary's prefix has them", async (t) => {
  const path = binDir('tools', ['python3', 'make', 'g++']);
  const missing = missingPrerequisites({ env: { PATH: path }, execPath });
  t.equal(missing.length, 1);
  t.match(missing[0].name, /^Node's headers \(include\/node\/node_api\.h\)/);
  t.equal(missing[0].debian, 'libnode-dev');
});

t.test('findProgram: a bare name on PATH, a path as it is', async (t) => {
  const dir = binDir('find', ['tool']);
  t.equal(findProgram('tool', `/nonexistent:${dir}`), join(dir, 'tool'));
  t.equal(findProgram(join(dir, 'tool'), ''), join(dir, 'tool'));
  t.equal(findProgram('other', dir), undefined);
});

/**
 * Runs the script in a session of its own (detached): with no controlling terminal, the install script's copy of
 * its message for the terminal has nowhere to go, and the person running the tests does not see it.
 */
function runScript(script: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

t.test('scripts/build-native.mjs without the tools: exit 0 as the install script, 1 by hand, the same message', async (t) => {
  const script = join(packageRoot(), 'scripts', 'build-native.mjs');
  const env = { PATH: binDir('none', []) };
  const asInstall = await runScript(script, { ...env, npm_lifecycle_event: 'install' });
  const byHand = await runScript(script, env);
  t.equal(asInstall.status, 0, 'the install succeeds: the library part is installed');
  t.equal(byHand.status, 1, 'asked to build and cannot: a failure');
  t.match(asInstall.stderr, /^tulle: the native addon .* cannot be built on this machine; missing:\n {2}- python3 .*\n {2}- make .*\n {2}- g\+\+ /);
  t.equal(byHand.stderr, asInstall.stderr);
});
