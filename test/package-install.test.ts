// Installs the packed tarballs as a user would, into a new project on a PATH that has node, npm and sh and no
// compiler, make or Python, and runs docs/library.md's two install examples (example.mjs, example.cjs) there:
// - @tulle/wire alone: installs from its tarball with no registry (it has no dependencies), runs as an ES
//   module and as CommonJS with Node's require(esm) turned off (Node before 20.19), and TypeScript finds its
//   types with nodenext and bundler resolution;
// - tulle with it: installed offline from the npm cache (`npm ci` of this repository fills it) with a lockfile
//   made from this repository's; the install succeeds without building the addon, says what is missing,
//   tulle/wire works both ways, and `tulle run` says the same as the install did and exits 5.
import t, { type Test } from 'tap';
import ts from 'typescript';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findProgram } from '../src/native/build-prerequisites.mjs';
import { packageRoot } from '../src/util/package-root.js';

const root = packageRoot();
const tmp = mkdtempSync(join(tmpdir(), 'tulle-install-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end (at most `timeout` ms). Detached: in a session of its own, with no controlling terminal,
 * so the install script's message goes to its stderr only.
 */
function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeout?: number }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, options.timeout ?? 120_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

// The PATH of a machine without build tools: node, npm, and the sh npm runs scripts with.
const bin = join(tmp, 'bin');
mkdirSync(bin);
const npmCli = findProgram('npm', process.env.PATH ?? '');
const sh = findProgram('sh', process.env.PATH ?? '');
if (npmCli === undefined || sh === undefined) throw new Error('npm and sh must be on the PATH to run this test');
symlinkSync(process.execPath, join(bin, 'node'));
symlinkSync(realpathSync(npmCli), join(bin, 'npm'));
symlinkSync(sh, join(bin, 'sh'));
/** What the installs and the examples run with: the bare PATH, and the npm cache that `npm ci` here filled. */
const bare: NodeJS.ProcessEnv = { PATH: bin, HOME: process.env.HOME, npm_config_cache: process.env.npm_config_cache, LANG: 'C.UTF-8' };
const NPM_QUIET = ['--no-audit', '--no-fund', '--no-update-notifier'];

/** docs/library.md's install examples: the ```js blocks whose first line names the file, with what they print. */
function examples(): { file: string; code: string; prints: string }[] {
  const markdown = readFileSync(join(root, 'docs', 'library.md'), 'utf8');
  return [...markdown.matchAll(/```js\n\/\/ (example\.[cm]js)\n([\s\S]*?)```/g)].map((m) => {
    const prints = /\/\/ prints: (.*)\n$/.exec(m[2]);
    if (prints === null) throw new Error(`docs/library.md: the ${m[1]} example ends without a "// prints: …" line`);
    return { file: m[1], code: m[2], prints: prints[1] };
  });
}

/** Writes the examples into `dir` with the package name `name`, runs each, and checks what it prints. */
async function runExamples(t: Test, dir: string, name: string): Promise<void> {
  const found = examples();
  t.same(
    found.map((e) => e.file),
    ['example.mjs', 'example.cjs'],
    'docs/library.md has an ES module and a CommonJS example',
  );
  for (const example of found) {
    t.match(example.code, /'@tulle\/wire'/, `${example.file} imports @tulle/wire`);
    writeFileSync(join(dir, example.file), example.code.replaceAll("'@tulle/wire'", `'${name}'`));
    // CommonJS without require(esm): a require() that works only because Node can load an ES module fails here.
    const flags = example.file.endsWith('.cjs') ? ['--no-experimental-require-module'] : [];
    const ran = await run('node', [...flags, example.file], { cwd: dir, env: bare });
    t.equal(ran.stderr, '', `${example.file} with ${name}: no error`);
    t.equal(ran.stdout.trim(), example.prints, `${example.file} with ${name} prints what the docs say`);
  }
}

const tarballs = new Map<string, string>();

/** Packs tulle (no `workspace`) or a workspace package once; returns the tarball's path. */
async function pack(t: Test, workspace?: string): Promise<string> {
  const name = workspace ?? 'tulle';
  const done = tarballs.get(name);
  if (done !== undefined) return done;
  // --ignore-scripts: pack what `npm run build` made; prepack and prepare would build again in the work tree.
  const args = ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp, ...(workspace === undefined ? [] : ['--workspace', workspace])];
  const packed = await run('npm', args, { cwd: root, env: process.env });
  t.equal(packed.status, 0, `npm pack ${name}`, { stderr: packed.stderr });
  const tarball = join(tmp, (JSON.parse(packed.stdout) as { filename: string }[])[0].filename);
  tarballs.set(name, tarball);
  return tarball;
}

/** Type-checks `files` in `dir` with the given resolution; returns the diagnostics as text. */
function typeCheck(files: string[], resolution: 'nodenext' | 'bundler'): string[] {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    types: [],
    lib: ['lib.es2022.d.ts'],
    target: ts.ScriptTarget.ES2022,
    ...(resolution === 'nodenext'
      ? { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext }
      : { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler }),
  };
  const program = ts.createProgram(files, options);
  return ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
}

/**
 * TypeScript users: the types of `name` resolve for import (.mts) and require (.cts) with nodenext, and with
 * bundler. A literal type (vxlan.PORT is 4789) compiles only where the declarations were found and read.
 */
function typeCheckConsumers(t: Test, dir: string, name: string): void {
  const base = name.replace(/\W+/g, '-');
  const esm = `import { vxlan, type OuterTemplate } from '${name}';\nexport const port: 4789 = vxlan.PORT;\nexport type T = OuterTemplate;\n`;
  const cjs = `import wire = require('${name}');\nexport const port: 4789 = wire.vxlan.PORT;\nexport type T = wire.OuterTemplate;\n`;
  writeFileSync(join(dir, `${base}.mts`), esm);
  writeFileSync(join(dir, `${base}.cts`), cjs);
  writeFileSync(join(dir, `${base}.ts`), esm);
  t.same(typeCheck([join(dir, `${base}.mts`), join(dir, `${base}.cts`)], 'nodenext'), [], `${name}, nodenext: no type errors`);
  t.same(typeCheck([join(dir, `${base}.ts`)], 'bundler'), [], `${name}, bundler: no type errors`);
  writeFileSync(join(dir, `${base}-wrong.mts`), `import { vxlan } from '${name}';\nexport const port: 8472 = vxlan.PORT;\n`);
  t.match(
    typeCheck([join(dir, `${base}-wrong.mts`)], 'nodenext').join('\n'),
    /Type '4789' is not assignable to type '8472'/,
    `${name}: a wrong type is caught`,
  );
}

t.test('@tulle/wire alone: no dependencies, no compiler, no registry', async (t) => {
  t.ok(existsSync(join(root, 'packages', 'wire', 'dist', 'cjs', 'package.json')), '@tulle/wire is built (npm run build)');
  const tarball = await pack(t, '@tulle/wire');
  const project = join(tmp, 'wire-user');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'wire-user', version: '1.0.0', private: true }));
  // --offline: a package with no dependencies needs nothing from a registry.
  const installed = await run('npm', ['install', '--offline', ...NPM_QUIET, tarball], { cwd: project, env: bare });
  t.equal(installed.status, 0, 'npm install succeeds offline', { stderr: installed.stderr });
  t.same(
    readdirSync(join(project, 'node_modules')).filter((name) => !name.startsWith('.')),
    ['@tulle'],
    'nothing but @tulle/wire installed',
  );
  t.same(readdirSync(join(project, 'node_modules', '@tulle')), ['wire'], 'and in @tulle only wire');
  await runExamples(t, project, '@tulle/wire');

  typeCheckConsumers(t, project, '@tulle/wire');
});

/** A lockfile for a project that depends on the two tarballs: tulle's dependencies as this repository locks them. */
function lockfileFor(wireTarball: string, tulleTarball: string): object {
  const repo = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const dependencies = { '@tulle/wire': `file:${wireTarball}`, tulle: `file:${tulleTarball}` };
  const packages: Record<string, unknown> = {
    '': { name: 'tulle-user', version: '1.0.0', dependencies },
    'node_modules/tulle': {
      version: manifest.version,
      resolved: `file:${tulleTarball}`,
      hasInstallScript: true,
      license: manifest.license,
      os: manifest.os,
      engines: manifest.engines,
      bin: manifest.bin,
      dependencies: manifest.dependencies,
    },
    'node_modules/@tulle/wire': { version: manifest.version, resolved: `file:${wireTarball}`, license: manifest.license, engines: manifest.engines },
  };
  for (const [path, entry] of Object.entries(repo.packages)) {
    if (!path.startsWith('node_modules/') || entry.dev === true || entry.link === true || path in packages) continue;
    packages[path] = entry;
  }
  return { name: 'tulle-user', version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}

t.test('tulle without a compiler: the install succeeds, the library works, the daemon says what is missing', async (t) => {
  t.ok(existsSync(join(root, 'dist', 'src', 'wire.cjs')), 'tulle is built (npm run build)');
  const wireTarball = await pack(t, '@tulle/wire');
  const tulleTarball = await pack(t);
  const project = join(tmp, 'tulle-user');
  mkdirSync(project);
  const lock = lockfileFor(wireTarball, tulleTarball) as { packages: Record<string, { dependencies?: object }> };
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'tulle-user', version: '1.0.0', private: true, dependencies: lock.packages[''].dependencies }),
  );
  writeFileSync(join(project, 'package-lock.json'), JSON.stringify(lock));
  // --foreground-scripts: npm shows an install script's output only when it fails, unless asked.
  const installed = await run('npm', ['ci', '--offline', '--foreground-scripts', ...NPM_QUIET], { cwd: project, env: bare, timeout: 300_000 });
  t.equal(installed.status, 0, 'npm ci succeeds without a compiler', { stderr: installed.stderr });
  const said = installed.stderr.split('\n');
  const from = said.findIndex((line) => line.startsWith('tulle: the native addon'));
  const to = said.findIndex((line) => line.startsWith('The library (tulle/wire'));
  t.ok(from >= 0 && to > from, 'the install script says what is missing');
  const message = said.slice(from, to + 1);
  for (const tool of ['python3', 'make', 'g++'])
    t.ok(
      message.some((line) => line.startsWith(`  - ${tool} `)),
      `names ${tool}`,
    );
  t.ok(message.includes('Install them (Debian, Ubuntu): apt-get install python3 make g++'), 'names the Debian packages');
  t.ok(
    message.some((line) => line.startsWith('Then build the addon: npm rebuild tulle')),
    'says how to build the addon after',
  );
  t.notOk(existsSync(join(project, 'node_modules', 'tulle', 'native', 'build', 'Release', 'tulle.node')), 'no addon was built');

  await runExamples(t, project, 'tulle/wire');
  typeCheckConsumers(t, project, 'tulle/wire');

  const daemon = await run(join(project, 'node_modules', '.bin', 'tulle'), ['run', '-c', '/dev/null'], { cwd: project, env: bare });
  t.equal(daemon.status, 5, 'tulle run exits 5: the addon is not built');
  const daemonSaid = daemon.stderr.split('\n');
  const at = daemonSaid.indexOf(message[0]);
  t.same(daemonSaid.slice(at, at + message.length), message, 'tulle run says what the install said');
});
