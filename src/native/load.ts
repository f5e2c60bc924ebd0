/**
 * The one module that loads the native addon. It tries each build folder in
 * turn and fails with one error that lists where it looked.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { standalone } from '../util/embedded.js';
import { packageRoot } from '../util/package-root.js';
import type { NativeAddon } from './addon.js';

export type { EthtoolFeature, NativeAddon, NativeLayout } from './addon.js';

let cached: NativeAddon | undefined;
let loadError: Error | undefined;

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
  const require = createRequire(import.meta.url);
  const root = packageRoot();
  const tried: string[] = [];
  for (const build of ['Release', 'Debug']) {
    const file = resolve(root, 'native', 'build', build, 'tulle.node');
    tried.push(file);
    try {
      cached = require(file) as NativeAddon;
      return cached;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    }
  }
  loadError = new Error(`the native addon is not built (looked for ${tried.join(', ')}); run \`npm ci\` or \`node scripts/build-native.mjs\``);
  throw loadError;
}
