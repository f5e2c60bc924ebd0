import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { standalone } from './embedded.js';
import { packageRoot } from './package-root.js';

/**
 * The argv that runs this tulle's command line with `args`: the standalone
 * binary itself, or this Node with the compiled CLI. Absolute paths, so no
 * PATH lookup happens inside a namespace.
 */
export function tulleCommand(args: string[]): string[] {
  if (standalone() !== undefined) return [process.execPath, ...args];
  const cli = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` (or \`npm ci\`) first`);
  return [process.execPath, cli, ...args];
}
