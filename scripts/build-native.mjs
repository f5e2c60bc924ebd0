#!/usr/bin/env node
// Builds the addon with node-gyp, offline: Node's headers ship next to the
// node binary (<prefix>/include/node), so node-gyp is pointed there instead of
// downloading them. Run by `npm ci` and `npm i tulle` as the package's install script.
//
// Where the build cannot run (no Python, make or C++ compiler, no headers) it
// says what is missing and which Debian package brings it. As the install
// script it then exits 0: the library (tulle/wire) works without the addon,
// and the commands that need it say the same thing again. Run by hand, or with
// everything present and the build failing, it exits non-zero.
import { spawnSync } from 'node:child_process';
import { openSync, writeSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { explainMissing, missingPrerequisites, nodeHeaders } from '../src/native/build-prerequisites.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const asInstallScript = process.env.npm_lifecycle_event === 'install';

/** npm hides an install script's output unless it fails: the terminal, when there is one, still sees the message. */
function tellTheTerminal(text) {
  if (!asInstallScript || process.stderr.isTTY) return;
  try {
    const tty = openSync('/dev/tty', 'w');
    writeSync(tty, text);
    closeSync(tty);
  } catch {
    // no terminal (CI, a detached process): the message is on stderr, where npm --foreground-scripts shows it
  }
}

const environment = { env: process.env, execPath: process.execPath };
const missing = missingPrerequisites(environment);
if (missing.length > 0) {
  const text = explainMissing(missing, root).join('\n') + '\n';
  process.stderr.write(text);
  tellTheTerminal(text);
  process.exit(asInstallScript ? 0 : 1);
}

const nodedir = nodeHeaders(environment);
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const args = [gyp, 'rebuild', '--directory', join(root, 'native'), `--nodedir=${nodedir}`, '--jobs=max', '--loglevel=warn'];
if (process.argv.includes('--debug')) args.push('--debug');
const run = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (run.status !== 0) console.error('tulle: building the native addon failed (the tools it needs are all here: see the errors above)');
process.exit(run.status ?? 1);
