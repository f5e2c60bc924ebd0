import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { standalone } from './embedded.js';

/** The folder holding tulle's package.json, from src/ (tests) or dist/src/ (compiled). */
export function packageRoot(): string {
  if (standalone() !== undefined) throw new Error('tulle: the standalone binary has no package folder (a code path that needs one was reached)');
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    dir = resolve(dir, '..');
    try {
      if ((JSON.parse(readFileSync(resolve(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'tulle') return dir;
    } catch {
      // keep climbing
    }
  }
  throw new Error('tulle: cannot find the package root (package.json named "tulle")');
}

export function packageVersion(): string {
  const embedded = standalone();
  if (embedded !== undefined) return embedded.version;
  return (JSON.parse(readFileSync(resolve(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
