// What `npm pack` puts in the tarballs users install, for both packages (tulle and @tulle/wire): only the files
// that belong there, a LICENSE, source maps whose sources ship too, no import of a devDependency (none at all but
// its own modules for @tulle/wire), every `exports` target present, and os: linux where the native addon is.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import { packageRoot } from '../src/util/package-root.js';

const root = packageRoot();

interface Manifest {
  name: string;
  version: string;
  license?: string;
  os?: string[];
  exports?: unknown;
  files?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

interface Package {
  name: string;
  dir: string;
  manifest: Manifest;
  files: string[];
  shipped: Set<string>;
  /** What may ship. */
  allowed: RegExp[];
  /** The source a compiled file comes from, or undefined for a file that is not compiled. */
  sourceOf: (file: string) => string | undefined;
  packStatus: number | null;
  packError: string;
}

function load(name: string, dir: string, args: string[], allowed: RegExp[], sourceOf: Package['sourceOf']): Package {
  // --ignore-scripts: list what is there; prepare and prepack would compile again, which the test run has done.
  const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  const files: string[] = pack.status === 0 ? (JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path) : [];
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
  return { name, dir, manifest, files, shipped: new Set(files), allowed, sourceOf, packStatus: pack.status, packError: pack.stderr };
}

const tulle = load(
  'tulle',
  root,
  [],
  [
    /^(LICENSE|README\.md|package\.json)$/,
    /^dist\/src\/[\w/.-]+\.(js|js\.map|d\.ts|cjs|cjs\.map|d\.cts|mjs|mjs\.map|d\.mts)$/,
    /^src\/[\w/.-]+\.(ts|cts|mjs)$/,
    /^native\/binding\.gyp$/,
    /^native\/src\/[\w-]+\.(cc|h)$/,
    /^scripts\/build-native\.mjs$/,
  ],
  (file) => {
    const m = /^dist\/(src\/.+)\.(js|cjs|mjs)$/.exec(file);
    return m === null ? undefined : `${m[1]}.${{ js: 'ts', cjs: 'cts', mjs: 'mjs' }[m[2]]}`;
  },
);

const wire = load(
  '@tulle/wire',
  join(root, 'packages', 'wire'),
  ['--workspace', '@tulle/wire'],
  [/^(LICENSE|README\.md|package\.json)$/, /^dist\/(esm|cjs)\/[\w-]+\.(js|js\.map|d\.ts)$/, /^dist\/cjs\/package\.json$/, /^src\/[\w-]+\.ts$/],
  (file) => {
    const m = /^dist\/(?:esm|cjs)\/(.+)\.js$/.exec(file);
    return m === null ? undefined : `src/${m[1]}.ts`;
  },
);

/** Every file path an `exports` map names. */
function exportTargets(exports: unknown): string[] {
  if (typeof exports === 'string') return [exports.replace(/^\.\//, '')];
  if (exports === null || typeof exports !== 'object') return [];
  return Object.values(exports).flatMap(exportTargets);
}

/** The module specifiers a compiled file imports or requires: statements only, not words in strings or comments. */
function specifiers(text: string): string[] {
  const patterns = [
    /^\s*(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    // require() as code uses it (after =, (, a comma or a line start), not `require('x')` quoted in a comment.
    /(?:^|[=(,;]\s*)require\(\s*['"]([^'"]+)['"]\s*\)/gm,
  ];
  return patterns.flatMap((re) => [...text.matchAll(re)].map((m) => m[1]));
}

function checkPackage(t: Test, pkg: Package): void {
  t.test('npm pack lists the tarball', async (t) => {
    t.equal(pkg.packStatus, 0, pkg.packError);
    t.ok(pkg.files.length > 0);
  });

  t.test('no file outside the allow-list', async (t) => {
    const strays = pkg.files.filter((f) => !pkg.allowed.some((re) => re.test(f)));
    t.same(strays, [], 'files that should not ship (add them to the allow-list here if they should)');
  });

  t.test('every compiled file comes from a source that ships: no leftovers of a deleted module', async (t) => {
    const orphans = pkg.files.filter((f) => {
      const source = pkg.sourceOf(f);
      return source !== undefined && !pkg.shipped.has(source);
    });
    t.same(orphans, []);
  });

  t.test('a LICENSE: the Apache License 2.0 that package.json names', async (t) => {
    t.ok(pkg.shipped.has('LICENSE'));
    const text = readFileSync(join(pkg.dir, 'LICENSE'), 'utf8');
    t.match(text, /^\s+Apache License\n\s+Version 2\.0, January 2004\n/);
    t.match(text, /END OF TERMS AND CONDITIONS/);
    t.equal(text, readFileSync(join(root, 'LICENSE'), 'utf8'), "the repository's LICENSE");
    t.equal(pkg.manifest.license, 'Apache-2.0');
  });

  t.test('no dangling source map: every source a shipped map names ships too', async (t) => {
    const dangling: string[] = [];
    for (const map of pkg.files.filter((f) => f.endsWith('.map'))) {
      const { sources, sourceRoot } = JSON.parse(readFileSync(join(pkg.dir, map), 'utf8')) as { sources: string[]; sourceRoot?: string };
      for (const source of sources) {
        const path = normalize(join(dirname(map), sourceRoot ?? '', source));
        if (!pkg.shipped.has(path)) dangling.push(`${map} → ${path}`);
      }
    }
    t.same(dangling, []);
  });

  t.test('every file the exports map names ships', async (t) => {
    const targets = exportTargets(pkg.manifest.exports);
    t.ok(targets.length > 0, 'an exports map');
    t.same(
      targets.filter((f) => !pkg.shipped.has(f)),
      [],
    );
  });

  t.test('nothing shipped imports a devDependency, or any package that is not a dependency', async (t) => {
    const builtins = new Set(builtinModules);
    const dependencies = pkg.manifest.dependencies ?? {};
    const bad: string[] = [];
    for (const file of pkg.files.filter((f) => /\.(js|mjs|cjs)$/.test(f))) {
      for (const spec of specifiers(readFileSync(join(pkg.dir, file), 'utf8'))) {
        if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (name in dependencies) continue;
        bad.push(`${file} imports ${name}${name in (pkg.manifest.devDependencies ?? {}) ? ' (a devDependency)' : ''}`);
      }
    }
    t.same(bad, []);
  });
}

t.test('tulle', async (t) => {
  checkPackage(t, tulle);

  t.test('the tulle command and tulle/wire (import and require) ship', async (t) => {
    for (const file of ['dist/src/cli/main.js', 'dist/src/wire.js', 'dist/src/wire.d.ts', 'dist/src/wire.cjs', 'dist/src/wire.d.cts'])
      t.ok(tulle.shipped.has(file), file);
  });

  t.test('os: linux, as the native addon ships (TUN, UDP GSO/GRO are Linux interfaces)', async (t) => {
    t.ok(
      tulle.files.some((f) => f.startsWith('native/')),
      'the addon ships',
    );
    t.same(tulle.manifest.os, ['linux']);
  });

  t.test('the standalone binary and its bundles (npm run build:binary, dist/bin) stay out', async (t) => {
    t.ok(tulle.manifest.files?.includes('!dist/bin'), 'package.json "files" leaves out dist/bin, which "dist" would take in');
    t.same(
      tulle.files.filter((f) => f.startsWith('dist/bin/')),
      [],
      'npm pack lists nothing under dist/bin',
    );
  });

  t.test('the install script and the module it shares with the daemon ship', async (t) => {
    t.ok(tulle.shipped.has('scripts/build-native.mjs'));
    t.ok(tulle.shipped.has('src/native/build-prerequisites.mjs'), 'what scripts/build-native.mjs imports');
  });
});

t.test('@tulle/wire', async (t) => {
  checkPackage(t, wire);

  t.test('no dependencies at all: its code imports only its own modules', async (t) => {
    t.same(wire.manifest.dependencies ?? {}, {});
    const foreign = wire.files
      .filter((f) => f.endsWith('.js'))
      .flatMap((f) => specifiers(readFileSync(join(wire.dir, f), 'utf8')).map((spec) => `${f} imports ${spec}`))
      .filter((line) => !/ imports \.\/[\w-]+\.js$/.test(line));
    t.same(foreign, []);
  });

  t.test('ES modules and CommonJS: both builds ship, the CommonJS one marked as such', async (t) => {
    for (const build of ['esm', 'cjs']) {
      const compiled = wire.files
        .filter((f) => f.startsWith(`dist/${build}/`) && f.endsWith('.js'))
        .map((f) => f.replace(`dist/${build}/`, 'src/').replace(/\.js$/, '.ts'));
      t.same(compiled.sort(), wire.files.filter((f) => f.startsWith('src/')).sort(), `dist/${build} has a module for every source`);
    }
    t.same(JSON.parse(readFileSync(join(wire.dir, 'dist', 'cjs', 'package.json'), 'utf8')), { type: 'commonjs' });
    t.equal(wire.manifest.name, '@tulle/wire');
  });

  t.test('tulle depends on exactly this version, which is its own', async (t) => {
    t.equal(wire.manifest.version, tulle.manifest.version);
    t.equal(tulle.manifest.dependencies?.['@tulle/wire'], wire.manifest.version);
  });
});
