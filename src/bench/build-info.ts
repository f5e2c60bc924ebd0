/** What code a run measured: a fingerprint of dist/ and the addon, and whether the sources are newer. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { standalone } from '../util/embedded.js';
import { packageVersion } from '../util/package-root.js';

/**
 * A hash of the compiled JavaScript under dist/src and of the addon, so a rebuild in the middle of a run shows up;
 * without a package folder (`root` undefined: the standalone binary), a hash of the executable.
 */
export function buildFingerprint(root: string | undefined): string {
  const hash = createHash('sha256');
  if (root === undefined) return hash.update(readFileSync(process.execPath)).digest('hex').slice(0, 12);
  const walk = (dir: string): string[] =>
    existsSync(dir)
      ? readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : [],
        )
      : [];
  const files = [...walk(join(root, 'dist', 'src')).sort(), join(root, 'native', 'build', 'Release', 'tulle.node')];
  for (const file of files) {
    if (!existsSync(file)) continue;
    hash.update(file.slice(root.length)).update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 12);
}

/** Newest modification time (ms) of the files under `dir` whose names end with one of `exts`. */
function newest(dir: string, exts: string[]): number {
  if (!existsSync(dir)) return 0;
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) max = Math.max(max, newest(path, exts));
    else if (exts.some((x) => e.name.endsWith(x))) max = Math.max(max, statSync(path).mtimeMs);
  }
  return max;
}

/** A warning when src/ or native/src/ is newer than the build, else undefined. */
export function staleBuild(root: string): string | undefined {
  const src = Math.max(newest(join(root, 'src'), ['.ts']), newest(join(root, 'native', 'src'), ['.cc', '.h']));
  const dist = Math.max(newest(join(root, 'dist', 'src'), ['.js']), newest(join(root, 'native', 'build', 'Release'), ['.node']));
  if (src === 0 || src <= dist) return undefined;
  return `src/ or native/src/ is newer than the build (${new Date(src).toISOString()} > ${new Date(dist).toISOString()}): the run measures the last build, not the current sources`;
}

/** The git commit of a checkout at `root`, or null for an installed package (no .git) or when git is missing. */
export function gitCommit(root: string): string | null {
  if (!existsSync(join(root, '.git'))) return null;
  const r = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', timeout: 5_000 });
  const commit = r.status === 0 ? r.stdout.trim() : '';
  return /^[0-9a-f]{40}$/.test(commit) ? commit : null;
}

/** What results.json records about the software that ran: tulle's version and commit, Node's version, the kernel. */
export function provenance(root: string | undefined): { tulle: string; commit: string | null; node: string; kernel: string } {
  const commit = root === undefined ? (standalone()?.commit ?? null) : gitCommit(root);
  return { tulle: packageVersion(), commit, node: process.version, kernel: os.release() };
}
