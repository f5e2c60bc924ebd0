// What `npm pack` puts in the tarball users install: only the files that belong there, a LICENSE,
// source maps whose sources ship too, no import of a devDependency, and os: linux for the native addon.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import { packageRoot } from '../src/util/package-root.js';

const root = packageRoot();
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  os?: string[];
  files: string[];
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

// --ignore-scripts: list what is there; prepare would compile again, which the test run has done.
const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
const files: string[] = pack.status === 0 ? (JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path) : [];
const shipped = new Set(files);

/** What may ship: the compiled code with its types and maps, its sources, the addon's sources and build script, and the package's papers. */
const ALLOWED = [
  /^(LICENSE|README\.md|package\.json)$/,
  /^dist\/src\/[\w/.-]+\.(js|js\.map|d\.ts)$/,
  /^src\/[\w/.-]+\.ts$/,
  /^native\/binding\.gyp$/,
  /^native\/src\/[\w-]+\.(cc|h)$/,
  /^scripts\/build-native\.mjs$/,
];

t.test('npm pack lists the tarball', async (t) => {
  t.equal(pack.status, 0, pack.stderr);
  t.ok(files.length > 0);
});

t.test('no file outside the allow-list', async (t) => {
  const strays = files.filter((f) => !ALLOWED.some((re) => re.test(f)));
  t.same(strays, [], 'files that should not ship (add them to the allow-list here if they should)');
});

t.test('every compiled file comes from a source that ships: no leftovers of a deleted module', async (t) => {
  const compiled = files.filter((f) => f.startsWith('dist/src/') && f.endsWith('.js'));
  t.ok(compiled.includes('dist/src/cli/main.js'), 'the tulle command ships');
  const orphans = compiled.filter((f) => !shipped.has(f.replace(/^dist\//, '').replace(/\.js$/, '.ts')));
  t.same(orphans, []);
});

t.test('the standalone binary and its bundles (npm run build:binary, dist/bin) stay out', async (t) => {
  t.ok(manifest.files.includes('!dist/bin'), 'package.json "files" leaves out dist/bin, which "dist" would take in');
  t.same(
    files.filter((f) => f.startsWith('dist/bin/')),
    [],
    'npm pack lists nothing under dist/bin',
  );
});

t.test('a LICENSE: the Apache License 2.0 that package.json names', async (t) => {
  t.ok(shipped.has('LICENSE'));
  const text = readFileSync(join(root, 'LICENSE'), 'utf8');
  t.match(text, /^\s+Apache License\n\s+Version 2\.0, January 2004\n/);
  t.match(text, /END OF TERMS AND CONDITIONS/);
  t.equal((manifest as { license?: string }).license, 'Apache-2.0');
});

t.test('no dangling source map: every source a shipped map names ships too', async (t) => {
  const maps = files.filter((f) => f.endsWith('.map'));
  const dangling: string[] = [];
  for (const map of maps) {
    const { sources, sourceRoot } = JSON.parse(readFileSync(join(root, map), 'utf8')) as { sources: string[]; sourceRoot?: string };
    for (const source of sources) {
      const path = normalize(join(dirname(map), sourceRoot ?? '', source));
      if (!shipped.has(path)) dangling.push(`${map} → ${path}`);
    }
  }
  t.same(dangling, []);
});

t.test('nothing shipped imports a devDependency, or any package that is not a dependency', async (t) => {
  const builtins = new Set(builtinModules);
  const bad: string[] = [];
  for (const file of files.filter((f) => /\.(js|mjs)$/.test(f))) {
    const text = readFileSync(join(root, file), 'utf8');
    // Statements only (import/export … from, bare import, import()), not words in strings or comments.
    const patterns = [/^\s*(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/gm, /^\s*import\s*['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
    const specifiers = patterns.flatMap((re) => [...text.matchAll(re)].map((m) => m[1]));
    for (const spec of specifiers) {
      if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (name in manifest.dependencies) continue;
      bad.push(`${file} imports ${name}${name in manifest.devDependencies ? ' (a devDependency)' : ''}`);
    }
  }
  t.same(bad, []);
});

t.test('os: linux, as the native addon ships (TUN, UDP GSO/GRO are Linux interfaces)', async (t) => {
  t.ok(
    files.some((f) => f.startsWith('native/')),
    'the addon ships',
  );
  t.same(manifest.os, ['linux']);
});
