#!/usr/bin/env node
// Builds the addon with node-gyp, offline: Node's headers ship next to the
// node binary (<prefix>/include/node), so node-gyp is pointed there instead of
// downloading them. Run by `npm ci` as the package's install script.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const candidates = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..')].filter(Boolean);
const nodedir = candidates.find((dir) => existsSync(join(dir, 'include', 'node', 'node_api.h')));
if (nodedir === undefined) {
  console.error(`tulle: cannot build the native addon: Node's headers (include/node/node_api.h) are in none of: ${candidates.join(', ')}.`);
  console.error('Install the headers for this Node version, or set npm_config_nodedir to the folder that holds include/node.');
  process.exit(1);
}

const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const args = [gyp, 'rebuild', '--directory', join(root, 'native'), `--nodedir=${nodedir}`, '--jobs=max', '--loglevel=warn'];
if (process.argv.includes('--debug')) args.push('--debug');
const run = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(run.status ?? 1);
