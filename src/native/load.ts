/**
 * The one module that loads the native addon. It tries each build folder in
 * turn; when none has it, the error says where it looked, what building it
 * needs that this machine lacks, and the command that builds it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { standalone } from '../util/embedded.js';
import { packageRoot } from '../util/package-root.js';
import type { NativeAddon } from './addon.js';
import { explainMissing, missingPrerequisites, rebuildCommand } from './build-prerequisites.mjs';

export type { EthtoolFeature, NativeAddon, NativeLayout } from './addon.js';

/** The addon is not built: a daemon command cannot run, the library can. */
export class AddonMissingError extends Error {
  override readonly name = 'AddonMissingError';
}

let cached: NativeAddon | undefined;
let loadError: Error | undefined;

/** Where the build puts the addon, Release first. */
function builds(): string[] {
  return ['Release', 'Debug'].map((build) => resolve(packageRoot(), 'native', 'build', build, 'tulle.node'));
}

/** Whether a build of the addon is there (it may still fail to load). */
export function addonBuilt(): boolean {
  if (standalone() !== undefined) return true;
  return builds().some((file) => existsSync(file));
}

/** What to tell the user when the addon is not built: what is missing to build it, or how to build it. */
export function addonMissingMessage(): string {
  const root = packageRoot();
  const missing = missingPrerequisites({ env: process.env, execPath: process.execPath });
  const lines =
    missing.length > 0
      ? explainMissing(missing, root)
      : [
          "tulle: the native addon (the daemon's TUN and UDP I/O) is not built. Everything building it needs is here",
          `(its install script did not run, or ran before they were): ${rebuildCommand(root)}`,
        ];
  return [...lines, `(looked for ${builds().join(', ')})`].join('\n');
}

export function loadNative(): NativeAddon {
  if (cached !== undefined) return cached;
  if (loadError !== undefined) throw loadError;
  const embedded = standalone();
  if (embedded !== undefined) {
    // The standalone binary has no package folder: its addon is unpacked to a private file.
    const module = { exports: {} };
    process.dlopen(module, embedded.addonFile());
    cached = module.exports as NativeAddon;
    return cached;
  }
  // Made here, not at the top: in the standalone binary's bundle import.meta.url is not a file URL.
  const require = createRequire(import.meta.url);
  for (const file of builds()) {
    try {
      cached = require(file) as NativeAddon;
      return cached;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    }
  }
  loadError = new AddonMissingError(addonMissingMessage());
  throw loadError;
}
