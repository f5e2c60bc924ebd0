#!/usr/bin/env node
// Builds and tests tulle on the Node versions beside the one it is installed with (Node 20): for each, the
// TypeScript compile, the addon built from source against that version's own headers, the unit tests and
// one real-kernel engine test, all run by that version's node. The binaries come from the npm registry
// (node-linux-<arch>, which also ships include/node, so node-gyp never downloads headers) into a cache
// folder outside the project (tulle-node in the temporary folder, or TULLE_NODE_CACHE); nothing in
// package.json or node_modules changes.
//
//   node scripts/other-nodes.mjs [VERSION...]     default: the versions in VERSIONS below
//
// Prints one line per version at the end and exits 1 if any version failed. Run after `npm ci` (it uses the
// project's typescript, node-gyp, node-addon-api and tap). The engine test needs root; without it the line
// says it was left out.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The newest 22 and 24 at the time of writing; pinned so a run is repeatable and the cache is reused. */
const VERSIONS = ['22.23.5', '24.22.3'];

/** Pure unit tests of the wire library, gossip, config, routes and the addon's layout: fast, no root. */
const UNIT_TESTS = [
  'wire-headers',
  'wire-checksum',
  'wire-batch',
  'wire-icmp',
  'gossip-codec',
  'gossip-store',
  'config-load',
  'engine-decide',
  'engine-table4',
  'engine-token-bucket',
  'native-parity',
  'state-file',
];
/** Two namespaces, two daemons, ping and a TCP transfer through the overlay with path MTU discovery. */
const ENGINE_TEST = 'engine-mtu';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Under the temporary folder rather than root's home: tests that drop root (setpriv to nobody) run this node too.
const cache = process.env.TULLE_NODE_CACHE ?? join(tmpdir(), 'tulle-node');
const pkg = `node-linux-${process.arch}`;
const isRoot = process.getuid?.() === 0;
const projectAddon = join(root, 'native', 'build', 'Release', 'tulle.node');
const savedAddon = `${projectAddon}.node20`;

checkCache();
const versions = process.argv.slice(2).length > 0 ? process.argv.slice(2) : VERSIONS;
for (const v of versions) {
  if (!/^\d+\.\d+\.\d+$/.test(v)) fail(`version "${v}" is not an exact version such as 22.23.5`);
}
const lines = [];
let failed = false;
for (const version of versions) {
  const line = testVersion(version);
  lines.push(line);
  if (!line.ok) failed = true;
}
console.log('');
for (const line of lines) console.log(`node ${line.version}: ${line.ok ? 'ok' : 'FAILED'} in ${line.seconds} s: ${line.steps.join('; ')}`);
process.exit(failed ? 1 : 0);

function testVersion(version) {
  const result = { version, ok: true, steps: [], seconds: 0 };
  const begun = Date.now();
  const step = (name, fn) => {
    if (!result.ok) return;
    console.log(`\n== node ${version}: ${name}`);
    const started = Date.now();
    let said;
    try {
      said = fn();
    } catch (error) {
      result.ok = false;
      said = `${name} failed: ${error.message}`;
    }
    result.steps.push(`${said} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  };

  let nodeDir;
  step('install', () => {
    nodeDir = install(version);
    const said = spawnSync(join(nodeDir, 'bin', 'node'), ['--version'])
      .stdout?.toString()
      .trim();
    if (said !== `v${version}`) throw new Error(`${pkg}@${version}'s node says it is ${said}`);
    return `${pkg}@${version}`;
  });
  const env = envFor(nodeDir);
  const node = join(nodeDir ?? '', 'bin', 'node');

  step('tsc', () => {
    run(node, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], env, 600);
    return 'tsc -p tsconfig.json';
  });

  let built;
  step('addon', () => {
    built = buildAddon(node, nodeDir, env, version);
    return `addon built (${checkAddon(node, env, built)})`;
  });

  step('tests', () => {
    const files = [...UNIT_TESTS, ...(isRoot ? [ENGINE_TEST] : [])].map((t) => join('test', `${t}.test.ts`));
    const tap = join(root, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs');
    // Coverage is the main run's business: here it would only cost time (about a fifth) and log lines.
    const r = withAddon(built, () => spawn(node, [tap, '-R', 'terse', '--disable-coverage', ...files], env, 1800));
    const totals = /# \{ total: (\d+), pass: (\d+)/.exec(r.out);
    const counts = totals ? `${totals[2]} of ${totals[1]} asserts pass` : 'no totals';
    const said = `${files.length} test files, ${counts}${isRoot ? '' : `, ${ENGINE_TEST} left out (not root)`}`;
    if (r.failure) throw new Error(`${said}: ${r.failure}`);
    return said;
  });
  result.seconds = ((Date.now() - begun) / 1000).toFixed(0);
  return result;
}

/** The node-linux-<arch> package unpacked into the cache (once): bin/node, include/node, lib. */
function install(version) {
  const dir = join(cache, version);
  if (
    existsSync(join(dir, 'bin', 'node')) &&
    spawnSync(join(dir, 'bin', 'node'), ['--version'])
      .stdout?.toString()
      .trim() === `v${version}`
  )
    return dir;
  const tmp = mkdtempSync(join(cache, `.${version}-`));
  try {
    // npm pack checks the tarball's integrity against the registry's; tar is on every Linux host.
    const name = run('npm', ['pack', '--silent', `${pkg}@${version}`, '--pack-destination', tmp], process.env, 600)
      .trim()
      .split('\n')
      .pop();
    const unpacked = join(tmp, 'package');
    run('tar', ['-xzf', join(tmp, name), '-C', tmp], process.env, 600);
    if (!existsSync(join(unpacked, 'include', 'node', 'node_api.h'))) throw new Error(`${pkg}@${version} has no include/node/node_api.h`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(unpacked, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/**
 * Compiles the addon from native/ with this node and its headers, in a scratch copy so the project's own
 * build (Node 20's) is left as it is. Returns the built tulle.node.
 */
function buildAddon(node, nodeDir, env, version) {
  const scratch = join(cache, 'build', version);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(join(scratch, 'native'), { recursive: true });
  cpSync(join(root, 'native', 'binding.gyp'), join(scratch, 'native', 'binding.gyp'));
  cpSync(join(root, 'native', 'src'), join(scratch, 'native', 'src'), { recursive: true });
  // binding.gyp asks `node -p "require('node-addon-api')..."` from the native folder: resolve it from the project.
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'));
  const gyp = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  run(node, [gyp, 'rebuild', '--directory', join(scratch, 'native'), `--nodedir=${nodeDir}`, '--jobs=max', '--loglevel=warn'], env, 900);
  return join(scratch, 'native', 'build', 'Release', 'tulle.node');
}

/** Loads the new build and the project's (built by Node 20) in this node: both must load, with the same exports. */
function checkAddon(node, env, built) {
  restoreAddon();
  const project = projectAddon;
  const script = `const keys = (f) => Object.keys(require(f)).sort().join(' ');
const [a, b] = [keys(${JSON.stringify(built)}), keys(${JSON.stringify(project)})];
if (a !== b) { console.error('exports differ: ' + a + ' | ' + b); process.exit(1); }
console.log(a.split(' ').length);`;
  const count = run(node, ['-e', script], env, 60).trim();
  return `${count} exports; the Node 20 build loads too`;
}

/**
 * Runs fn with the project's tulle.node replaced by `built` (the tests load the addon from there), and puts
 * the project's back afterwards. A run killed in between leaves it beside, as tulle.node.node20: the next
 * run puts it back first (and the swapped-in build loads in Node 20 all the same: N-API is ABI-stable).
 */
function withAddon(built, fn) {
  restoreAddon();
  renameSync(projectAddon, savedAddon);
  try {
    copyFileSync(built, projectAddon);
    return fn();
  } finally {
    restoreAddon();
  }
}

function restoreAddon() {
  if (existsSync(savedAddon)) renameSync(savedAddon, projectAddon);
}

/** This node first on PATH, so tap, its test processes and the daemons the tests start all run on it. */
function envFor(nodeDir) {
  const env = { ...process.env, PATH: [join(nodeDir ?? '', 'bin'), process.env.PATH].join(delimiter) };
  // Left by npm when run as an npm script: they would point node-gyp and friends back at Node 20.
  for (const k of Object.keys(env)) if (k.startsWith('npm_') || k === 'NODE') delete env[k];
  return env;
}

/** Runs a command in the project, its output shown as it goes; returns stdout, or throws naming the command. */
function run(command, args, env, timeoutSeconds) {
  const r = spawn(command, args, env, timeoutSeconds);
  if (r.failure) throw new Error(r.failure);
  return r.out;
}

/** Runs a command in the project: its stdout (also shown) and, if it failed, how. */
function spawn(command, args, env, timeoutSeconds) {
  const r = spawnSync(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'], timeout: timeoutSeconds * 1000, maxBuffer: 256 << 20 });
  const out = r.stdout?.toString() ?? '';
  process.stdout.write(out);
  const what = `${command.split('/').pop()} ${args
    .map((a) => a.split('/').pop())
    .slice(0, 2)
    .join(' ')}`;
  let failure;
  if (r.error) failure = `${what}: ${r.error.message}`;
  else if (r.signal) failure = `${what}: ended by ${r.signal} (limit ${timeoutSeconds} s)`;
  else if (r.status !== 0) failure = `${what}: exit ${r.status}`;
  return { out, failure };
}

/** The binaries run as root: the cache must be this user's and writable by nobody else. */
function checkCache() {
  mkdirSync(cache, { recursive: true, mode: 0o755 });
  const st = statSync(cache);
  if (st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0) {
    fail(`the cache folder ${cache} is not owned by this user or is writable by others: remove it, or set TULLE_NODE_CACHE to another folder`);
  }
}

function fail(message) {
  console.error(`other-nodes: ${message}`);
  process.exit(2);
}
