// The standalone binary for tests: built once per source state (scripts/build-binary.mjs
// into a cache under the OS temp dir keyed by a hash of what goes into it), and a PATH
// with the host's programs but no node, npm or npx, as on a lab host without Node.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/util/package-root.js';

const root = packageRoot();
const CACHE = join(tmpdir(), 'tulle-binary-cache');
/**
 * Cached builds of other source states (about 100 MB each) are removed once this old: long enough for a test
 * run of another checkout to finish with its own, short enough that they do not pile up.
 */
const STALE_MS = 3600_000;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]))
    .sort();
}

/** A hash of everything the binary is made of: the sources, the build script, the lock file, the addon and this Node. */
export function binarySourceHash(): string {
  const hash = createHash('sha256').update(process.version).update(process.execPath);
  const inputs = [
    ...files(join(root, 'src')),
    join(root, 'scripts', 'build-binary.mjs'),
    join(root, 'package.json'),
    join(root, 'package-lock.json'),
    join(root, 'native', 'build', 'Release', 'tulle.node'),
  ];
  for (const file of inputs) hash.update(file.slice(root.length)).update(readFileSync(file));
  return hash.digest('hex').slice(0, 16);
}

/** The path of a `tulle` binary built from the current sources: from the cache, or built now (about 10-30 s). */
export function standaloneBinary(): string {
  const key = binarySourceHash();
  const dir = join(CACHE, key);
  const exe = join(dir, 'tulle');
  mkdirSync(CACHE, { recursive: true, mode: 0o700 });
  for (const other of readdirSync(CACHE)) {
    const path = join(CACHE, other);
    if (other !== key && Date.now() - statSync(path).mtimeMs > STALE_MS) rmSync(path, { recursive: true, force: true });
  }
  if (existsSync(exe)) return exe;
  // Built beside the cache entry, then renamed in: a reader never sees half a build.
  const work = mkdtempSync(join(CACHE, `${key}.building-`));
  try {
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-binary.mjs'), '--out', work], { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) throw new Error(`scripts/build-binary.mjs failed (exit ${r.status}): ${r.stderr}${r.stdout}`);
    try {
      renameSync(work, dir);
    } catch (error) {
      // Another run built the same sources first: use that one.
      if (!existsSync(exe)) throw error;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return exe;
}

const NODE_PROGRAMS = new Set(['node', 'nodejs', 'npm', 'npx', 'corepack']);

/**
 * A folder of links to every program in the system's bin folders except Node's,
 * for a PATH on which `command -v node` fails. `into` is removed by the caller.
 */
export function pathWithoutNode(into: string): string {
  mkdirSync(into, { recursive: true });
  const linked = new Set<string>();
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (NODE_PROGRAMS.has(name) || linked.has(name)) continue;
      symlinkSync(join(dir, name), join(into, name));
      linked.add(name);
    }
  }
  return into;
}
