/**
 * The standalone binary's entry. scripts/build-binary.mjs bundles it, with
 * everything it imports, into the one script Node's single-executable
 * support runs; the addon, the bundled data-plane worker and the build's
 * version and commit ride along as assets. The addon and the worker are
 * unpacked only when a command needs them (`tulle version` unpacks nothing),
 * into a folder only this user can read, removed at exit.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getAsset } from 'node:sea';
import { STANDALONE_CNI_ARG } from '../cni/install.js';
import { STANDALONE_PROBE_ARG } from '../probe/entry.js';
import { useEmbedded } from '../util/embedded.js';

/** The asset names scripts/build-binary.mjs uses. */
export const ASSETS = { build: 'build.json', addon: 'tulle.node', worker: 'worker.cjs' } as const;

const build = JSON.parse(getAsset(ASSETS.build, 'utf8')) as { version: string; commit: string | null };

let dir: string | undefined;
const unpacked = new Map<string, string>();

function unpack(name: string): string {
  const known = unpacked.get(name);
  if (known !== undefined) return known;
  if (dir === undefined) {
    const made = mkdtempSync(join(tmpdir(), 'tulle-bin-')); // mode 0700
    process.on('exit', () => rmSync(made, { recursive: true, force: true }));
    dir = made;
  }
  const file = join(dir, name);
  // wx: a file already there (it cannot be, in a fresh private folder) is an error, not something to load.
  writeFileSync(file, new Uint8Array(getAsset(name)), { mode: 0o500, flag: 'wx' });
  unpacked.set(name, file);
  return file;
}

useEmbedded({ ...build, addonFile: () => unpack(ASSETS.addon), workerFile: () => unpack(ASSETS.worker) });

// Probes run inside lab namespaces as `tulle __probe COMMAND …` (src/probe/entry.ts); a runtime runs the CNI
// plugin as `tulle __cni` (the script `tulle cni install` places).
const hidden = process.argv[2];
if (hidden === STANDALONE_PROBE_ARG || hidden === STANDALONE_CNI_ARG) process.argv.splice(2, 1);
const entry =
  hidden === STANDALONE_PROBE_ARG ? import('../probe/main.js') : hidden === STANDALONE_CNI_ARG ? import('../cni/main.js') : import('../cli/main.js');
entry.catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
