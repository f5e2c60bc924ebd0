/**
 * The `ip` command (iproute2) for the daemon's route work: run to completion,
 * its output returned; a failure carries ip's own words (stderrOf).
 */
import { execFileSync } from 'node:child_process';

export function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

/** What `ip` said on stderr when it failed, else the error's message. */
export function stderrOf(error: unknown): string {
  return (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
}
