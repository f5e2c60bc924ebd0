// ESLint (flat config): typescript-eslint's recommended rules, plus the project's import boundaries.
// Formatting is prettier's (npm run lint runs both); no rule here is about layout.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

/** src/ is the package: nothing in it may reach outside it (bench/, test/ and scripts/ are not shipped). */
const leavesSrc = (depth) => ({
  regex: `^(\\.\\./){${depth + 1},}`,
  message: 'src/ imports nothing outside src/ (what src/ needs belongs in src/)',
});

/** src/wire is the I/O-free library behind `tulle/wire`: it runs where Node does not. */
const nodeBuiltins = {
  paths: builtinModules.map((name) => ({ name, message: 'src/wire imports no Node built-in (pure TypeScript, no I/O)' })),
  pattern: { group: ['node:*'], message: 'src/wire imports nothing from node:* (pure TypeScript, no I/O)' },
};

/** The same for import(), which no-restricted-imports does not see. A selector's regex cannot hold '/': it is written \x2f. */
const dynamicImport = (regex, message) => ({ selector: `ImportExpression[source.value=/${regex}/]`, message });
const leavesSrcDynamic = (depth) => dynamicImport(`^${'\\.\\.\\x2f'.repeat(depth + 1)}`, leavesSrc(depth).message);

/** One block per folder depth under src/: how many '../' leave src/ depends on where the file is. */
const boundaries = [0, 1, 2, 3, 4].map((depth) => ({
  files: [`src/${'*/'.repeat(depth)}*.ts`],
  ignores: depth === 1 ? ['src/wire/*.ts'] : [],
  rules: {
    'no-restricted-imports': ['error', { patterns: [leavesSrc(depth)] }],
    'no-restricted-syntax': ['error', leavesSrcDynamic(depth)],
  },
}));

/** The engine is below the control plane: it gets what it needs as arguments (routes, opened devices), never imports it. */
const aboveEngine = {
  group: ['../daemon/*', '../gossip/*', '../etcd/*', '../lease/*', '../cli/*', '../lab/*', '../bench/*', '../probe/*'],
  message: 'src/engine imports only src/wire, src/native and src/util: the layers above hand it what it needs',
};

export default defineConfig(
  { ignores: ['dist/', 'native/build/', 'bench/results/', '.tap/', 'test/.docs-tmp/'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    rules: {
      // A variable a callback reads, assigned once after the callback is made (a socket's handler and its owner), stays let.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...boundaries,
  {
    files: ['src/wire/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: nodeBuiltins.paths, patterns: [leavesSrc(1), nodeBuiltins.pattern] }],
      'no-restricted-syntax': ['error', leavesSrcDynamic(1), dynamicImport('^node:', nodeBuiltins.pattern.message)],
    },
  },
  {
    files: ['src/engine/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [leavesSrc(1), aboveEngine] }],
    },
  },
);
