#!/usr/bin/env node
// Builds the standalone `tulle` executable (npm run build:binary): the CLI and
// the data-plane worker bundled by esbuild into CommonJS scripts, the addon and
// the worker as assets, all injected into a copy of this Node binary with
// Node's single-executable-application support (a SEA blob, put in by postject).
// The result needs no Node, npm or node_modules on the host it runs on.
//
//   node scripts/build-binary.mjs [--out DIR]     (default dist/bin; the executable is DIR/tulle)
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const { values } = parseArgs({ options: { out: { type: 'string' } } });
const out = resolve(values.out ?? join(root, 'dist', 'bin'));

const fail = (message) => {
  console.error(`build-binary: ${message}`);
  process.exit(1);
};

const addon = join(root, 'native', 'build', 'Release', 'tulle.node');
if (!existsSync(addon)) fail(`${addon} is missing: build the addon first (\`npm ci\` or \`node scripts/build-native.mjs\`)`);
// SEA arrived in Node 20 with assets and sea.getAsset (20.12); older Nodes lack the fuse or the API.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 12)) fail(`Node ${process.version} cannot build it: single executables with assets need Node 20.12 or newer`);

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  fail('esbuild is not installed: run `npm ci` (it is a devDependency)');
}

// etcd3 reads its .proto files from its package folder when it loads, which a
// single file does not have: parse them now and hand proto-loader the result.
const etcdProtoPlugin = {
  name: 'etcd3-proto',
  setup(build) {
    build.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const call = '(0, proto_loader_1.loadSync)(`${__dirname}/../proto/rpc.proto`,';
      if (!text.includes(call)) throw new Error(`${args.path} no longer loads its protos as build-binary.mjs expects (${call})`);
      // The protobufjs that @grpc/proto-loader uses, with its parse options: keepCase is the one that shapes the result.
      const loaderRequire = createRequire(require.resolve('@grpc/proto-loader'));
      const protobuf = loaderRequire('protobufjs');
      const parsed = new protobuf.Root().loadSync(join(dirname(args.path), '..', 'proto', 'rpc.proto'), { keepCase: true });
      parsed.resolveAll();
      const json = JSON.stringify(parsed.toJSON());
      return { contents: text.replace(call, `(0, proto_loader_1.fromJSON)(${json},`), loader: 'js' };
    });
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${major}`,
  minify: true,
  // Error messages and stack traces keep the functions' and classes' names.
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
  // The paths that use import.meta.url are not taken in the binary (src/util/embedded.ts says which are).
  logOverride: { 'empty-import-meta': 'silent' },
  plugins: [etcdProtoPlugin],
};
const cliScript = join(out, 'tulle.cjs');
const workerScript = join(out, 'worker.cjs');
await esbuild.build({ ...common, entryPoints: [join(root, 'src', 'standalone', 'main.ts')], outfile: cliScript });
await esbuild.build({ ...common, entryPoints: [join(root, 'src', 'standalone', 'worker-main.ts')], outfile: workerScript });

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const git = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', timeout: 5_000 });
const commit = git.status === 0 && /^[0-9a-f]{40}$/.test(git.stdout.trim()) ? git.stdout.trim() : null;
const buildFile = join(out, 'build.json');
writeFileSync(buildFile, JSON.stringify({ version: manifest.version, commit }));

// The asset names are src/standalone/main.ts's ASSETS.
const blob = join(out, 'sea-prep.blob');
const seaConfig = join(out, 'sea-config.json');
writeFileSync(
  seaConfig,
  JSON.stringify({
    main: cliScript,
    output: blob,
    disableExperimentalSEAWarning: true,
    // V8's code cache for the main script: compiled once here, not on every start.
    useCodeCache: true,
    assets: { 'build.json': buildFile, 'tulle.node': addon, 'worker.cjs': workerScript },
  }),
);
const prep = spawnSync(process.execPath, ['--experimental-sea-config', seaConfig], { stdio: 'inherit' });
if (prep.status !== 0) fail(`node --experimental-sea-config ${seaConfig} failed`);

const exe = join(out, 'tulle');
copyFileSync(process.execPath, exe);
chmodSync(exe, 0o755);
const postject = spawnSync(
  process.execPath,
  [require.resolve('postject/dist/cli.js'), exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'],
  // Its output (and its warnings about ELF note names, which are harmless) matters only when it fails.
  { encoding: 'utf8' },
);
if (postject.status !== 0) fail(`postject could not inject the SEA blob:\n${postject.stdout}${postject.stderr}`);
for (const file of [blob, seaConfig, buildFile]) rmSync(file);

const mb = (file) => (statSync(file).size / 1e6).toFixed(1);
console.log(`${exe}: ${mb(exe)} MB (Node ${process.version}; tulle.cjs ${mb(cliScript)} MB, worker.cjs ${mb(workerScript)} MB, addon ${mb(addon)} MB)`);
