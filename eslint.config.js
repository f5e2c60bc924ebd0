// ESLint (flat config): typescript-eslint's recommended rules, plus the project's import boundaries.
// Formatting is prettier's (npm run lint runs both); no rule here is about layout.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** src/ is the package: nothing in it may reach outside it (bench/, test/ and scripts/ are not shipped). */
const leavesSrc = (depth) => ({
  regex: `^(\\.\\./){${depth + 1},}`,
  message: 'src/ imports nothing outside src/ (what src/ needs belongs in src/)',
});

/** packages/wire (@tulle/wire, also `tulle/wire`) is pure TypeScript with no dependencies: it runs where Node does not. */
const wireOwnModulesOnly = {
  regex: '^(?!\\./)',
  message: '@tulle/wire imports only its own modules (./x.js): no package, no Node built-in, nothing outside packages/wire/src',
};

/** The same for import(), which no-restricted-imports does not see. A selector's regex cannot hold '/': it is written \x2f. */
const dynamicImport = (regex, message) => ({ selector: `ImportExpression[source.value=/${regex}/]`, message });
const leavesSrcDynamic = (depth) => dynamicImport(`^${'\\.\\.\\x2f'.repeat(depth + 1)}`, leavesSrc(depth).message);

/** One block per folder depth under src/: how many '../' leave src/ depends on where the file is. */
const boundaries = [0, 1, 2, 3, 4].map((depth) => ({
  files: [`src/${'*/'.repeat(depth)}*.ts`],
  rules: {
    'no-restricted-imports': ['error', { patterns: [leavesSrc(depth)] }],
    'no-restricted-syntax': ['error', leavesSrcDynamic(depth)],
  },
}));

/** The engine is below the control plane: it gets what it needs as arguments (routes, opened devices), never imports it. */
const ENGINE_MESSAGE = 'src/engine imports only @tulle/wire, src/native, src/util and Node built-ins: the layers above hand it what it needs';
const aboveEngine = {
  group: ['../daemon/*', '../gossip/*', '../etcd/*', '../lease/*', '../cli/*', '../lab/*', '../bench/*', '../probe/*'],
  message: ENGINE_MESSAGE,
};
/** Nor does it import a package of its own accord (etcd3, pino…): only the wire library and Node. */
const enginePackages = { regex: '^(?!\\.|node:|@tulle/wire$)', message: ENGINE_MESSAGE };

export default defineConfig(
  { ignores: ['dist/', 'packages/*/dist/', 'native/build/', 'bench/results/', '.tap/', 'test/.docs-tmp/'] },
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
    files: ['packages/wire/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [wireOwnModulesOnly] }],
      // Every module it has is imported statically, so a bundler sees them all.
      'no-restricted-syntax': ['error', { selector: 'ImportExpression', message: wireOwnModulesOnly.message }],
    },
  },
  {
    files: ['src/engine/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [leavesSrc(1), aboveEngine, enginePackages] }],
    },
  },
);
