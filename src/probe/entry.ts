import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { standalone } from '../util/embedded.js';
import { packageRoot } from '../util/package-root.js';

/** The argument the standalone binary's entry (src/standalone/main.ts) takes as "run the probes, not the CLI". */
export const STANDALONE_PROBE_ARG = '__probe';

/** The compiled probe entry script (src/probe/main.ts), which runs inside namespaces. */
export function probeEntry(): string {
  if (standalone() !== undefined) return STANDALONE_PROBE_ARG;
  const entry = join(packageRoot(), 'dist', 'src', 'probe', 'main.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
  return entry;
}

/** The command that runs probe `args` with this Node binary, or the standalone binary (an absolute path: no PATH lookup inside the namespace). */
export function probeCommand(args: string[]): string[] {
  return [process.execPath, probeEntry(), ...args];
}
