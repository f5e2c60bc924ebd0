/**
 * `tulle config check [FILE]`: the checks `tulle run` makes before it
 * changes anything — the file, TULLE_* variables and flags merged, the shape,
 * the fields against each other, and (unless --no-host-checks) this host:
 * privileges, addresses, ports in use. Prints OK or every problem.
 */
import type { Command } from 'commander';
import { addSettingFlags, exitOnConfigError } from './run-command.js';
import { EXIT } from './exit-codes.js';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('configuration tools');
  const check = config
    .command('check')
    .description('check a configuration as `tulle run` would, without changing anything (exit 0 valid, 2 invalid)')
    .argument('[file]', 'configuration file, YAML or JSON [TULLE_CONFIG]')
    .option('--no-host-checks', 'check the configuration alone, not against this host (ports, privileges, addresses)')
    .option('--print', 'print the effective configuration (defaults, file, variables and flags merged) as JSON');
  addSettingFlags(check).action(async (file: string | undefined, options: Record<string, unknown> & { hostChecks: boolean; print?: boolean }) => {
    const { loadConfig } = await import('../daemon/config/load.js');
    const source = file ?? (process.env.TULLE_CONFIG || undefined);
    const loaded = await loadConfig({ file: source, env: process.env, flags: options, host: options.hostChecks }).catch(exitOnConfigError);
    // Secrets are not printed: the output may end up in a ticket or a log.
    const secret = (key: string, value: unknown) => ((key === 'password' || key === 'key') && typeof value === 'string' ? '(hidden)' : value);
    if (options.print) console.log(JSON.stringify(loaded.config, secret, 2));
    else console.log(`OK: ${source ?? 'the configuration'} is valid${options.hostChecks ? ' for this host' : ''}`);
    process.exitCode = EXIT.OK;
  });
}
