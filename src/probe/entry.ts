import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';

/** The compiled probe entry script (src/probe/main.ts), which runs inside namespaces. */
export function probeEntry(): string {
  const entry = join(packageRoot(), 'dist', 'src', 'probe', 'main.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
  return entry;
}

/** The command that runs probe `args` with this Node binary (an absolute path: no PATH lookup inside the namespace). */
export function probeCommand(args: string[]): string[] {
  return [process.execPath, probeEntry(), ...args];
}
