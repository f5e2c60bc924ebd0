// @ts-check
/**
 * What building the native addon needs, which of it this machine lacks, and the words that say so. Plain
 * JavaScript, because two places use it: the install script (scripts/build-native.mjs), which runs before
 * anything is compiled, and the daemon (load.ts), when a command finds the addon missing. Both print the same text.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';

/**
 * @typedef {object} Prerequisite
 * @property {string} name what it is, as a person looks for it (a program's name, or Node's headers)
 * @property {string} why what the build uses it for
 * @property {string} debian the Debian package that brings it
 * @property {string} [found] where it is, when it is there
 */

/**
 * @typedef {object} Environment
 * @property {Record<string, string | undefined>} env the environment (PATH and the variables node-gyp reads)
 * @property {string} execPath the node binary whose headers the addon is built against
 */

/**
 * The program `name` as the shell would find it: a path is taken as it is, a bare name is looked up on PATH.
 * @param {string} name
 * @param {string} path
 * @returns {string | undefined}
 */
export function findProgram(name, path) {
  const candidates = name.includes('/')
    ? [name]
    : path
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, name));
  for (const file of candidates) {
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The folders that may hold Node's headers (include/node/node_api.h), as scripts/build-native.mjs tries them.
 * @param {Environment} environment
 * @returns {string[]}
 */
export function headerCandidates({ env, execPath }) {
  const beside = resolve(dirname(execPath), '..');
  return env.npm_config_nodedir ? [env.npm_config_nodedir, beside] : [beside];
}

/**
 * The folder holding Node's headers for this node, if any candidate has them.
 * @param {Environment} environment
 * @returns {string | undefined}
 */
export function nodeHeaders(environment) {
  return headerCandidates(environment).find((dir) => existsSync(join(dir, 'include', 'node', 'node_api.h')));
}

/**
 * Every prerequisite of the build, each with where it was found (if it was). The programs are the ones node-gyp
 * and the Makefile it writes run: the Python it looks for, make, and the C++ compiler (CXX, else g++).
 * @param {Environment} environment
 * @returns {Prerequisite[]}
 */
export function prerequisites({ env, execPath }) {
  const path = env.PATH ?? '';
  const pythonGiven = [env.NODE_GYP_FORCE_PYTHON, env.npm_config_python, env.PYTHON].find((p) => p !== undefined && p !== '');
  const python = pythonGiven ?? 'python3';
  const pythonFound = findProgram(python, path) ?? (pythonGiven === undefined ? findProgram('python', path) : undefined);
  const make = env.MAKE || 'make';
  const cxx = env.CXX_target || env.CXX || 'g++';
  return [
    { name: python, why: 'runs node-gyp', debian: 'python3', found: pythonFound },
    { name: make, why: 'runs the build', debian: 'make', found: findProgram(make, path) },
    { name: cxx, why: 'compiles the C++ sources', debian: 'g++', found: findProgram(cxx.split(' ')[0], path) },
    {
      name: `Node's headers (include/node/node_api.h) for node ${process.version}`,
      why: `looked for in ${headerCandidates({ env, execPath }).join(', ')}; Node's release tarball has them, Debian's nodejs package has them in libnode-dev, or set npm_config_nodedir`,
      debian: 'libnode-dev',
      found: nodeHeaders({ env, execPath }),
    },
  ];
}

/**
 * The prerequisites this machine lacks.
 * @param {Environment} environment
 * @returns {Prerequisite[]}
 */
export function missingPrerequisites(environment) {
  return prerequisites(environment).filter((p) => p.found === undefined);
}

/**
 * How to build the addon once its prerequisites are there: `npm rebuild tulle` where tulle is a dependency, the
 * script itself in a checkout of tulle.
 * @param {string} packageRoot
 * @returns {string}
 */
export function rebuildCommand(packageRoot) {
  const script = join(packageRoot, 'scripts', 'build-native.mjs');
  const installed = packageRoot.split(/[\\/]/).includes('node_modules');
  return installed ? `npm rebuild tulle (or: node ${script})` : `node ${script} (or npm ci)`;
}

/**
 * The lines that say what is missing, the Debian packages that bring it, and how to build the addon after.
 * @param {Prerequisite[]} missing
 * @param {string} packageRoot
 * @returns {string[]}
 */
export function explainMissing(missing, packageRoot) {
  const packages = [...new Set(missing.map((p) => p.debian))];
  return [
    "tulle: the native addon (the daemon's TUN and UDP I/O) cannot be built on this machine; missing:",
    ...missing.map((p) => `  - ${p.name} (${p.why}): Debian package ${p.debian}`),
    `Install them (Debian, Ubuntu): apt-get install ${packages.join(' ')}`,
    `Then build the addon: ${rebuildCommand(packageRoot)}`,
    'The library (tulle/wire, or @tulle/wire alone) is installed and needs none of this; `tulle run`, `demo` and `bench` need the addon.',
  ];
}
