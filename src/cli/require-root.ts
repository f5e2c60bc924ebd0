/** The answer the lab commands give without root: a line that says why, exit NOT_ROOT (as `tulle run` exits). */
import { isRoot } from '../util/privileges.js';
import { EXIT } from './exit-codes.js';

export function exitNotPrivileged(command: string, why: string): never {
  console.error(`${command} ${why}: run it as root`);
  process.exit(EXIT.NOT_ROOT);
}

/** For the lab commands (demo, bench, lab …): they need root itself, not one capability. */
export function requireRoot(command: string, why: string): void {
  if (!isRoot()) exitNotPrivileged(command, why);
}
