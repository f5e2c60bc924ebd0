/**
 * `tulle run`: load and check the configuration (all problems at once, exit
 * 2, nothing changed), then run the daemon until SIGTERM, SIGINT or SIGQUIT
 * (exit 0); SIGHUP reads the configuration again (src/daemon/signals.ts).
 */
import { Option, type Command } from 'commander';
import { ConfigError } from '../daemon/config/problems.js';
import { SETTINGS } from '../daemon/config/settings.js';
import { hasNetAdmin } from '../util/privileges.js';
import { EXIT } from './exit-codes.js';
import { requireAddon } from './require-addon.js';

/** The settings table as flags on a command, each with its variable and its default. */
export function addSettingFlags(command: Command): Command {
  for (const s of SETTINGS) {
    // Registered so that giving it gets a message saying where the secret goes (sources.ts), not "unknown option".
    if (s.refusedFlag !== undefined) command.addOption(new Option(`--${s.refusedFlag} <value>`, `refused: use ${s.env} or a file`).hideHelp());
    if (s.flag === undefined) continue;
    for (const alias of s.aliases ?? []) command.addOption(new Option(`--${alias} <value>`, `same as --${s.flag}`).hideHelp());
    // In the text only: a commander default would count as a flag given and hide the file's value.
    const help = `${s.help} [${s.env}]${s.default !== undefined ? ` (default: ${s.default})` : ''}`;
    if (s.kind === 'bool') {
      command.option(`--${s.flag}`, help);
      command.option(`--no-${s.flag}`, `do not ${s.help.replace(/^\w+/, (w) => w)}`);
    } else {
      command.option(`--${s.flag} <${s.kind === 'list' ? 'list' : s.kind === 'int' ? 'n' : 'value'}>`, help);
    }
  }
  return command;
}

/** Prints a ConfigError and exits with `code` (2, invalid); anything else is rethrown. */
export function exitOnConfigError(error: unknown, code: number = EXIT.INVALID): never {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`tulle: ${error.message}`);
  process.exit(code);
}

export function registerRun(program: Command): void {
  const run = program
    .command('run')
    .description('run the overlay on this host until SIGTERM, SIGINT or SIGQUIT; SIGHUP reloads (needs root)')
    .option('-c, --config <file>', "configuration file, YAML or JSON (tulle's keys or flannel's net-conf.json) [TULLE_CONFIG]")
    .option('--stats-file <file>', 'write the data-plane counters here as JSON, twice a second');
  addSettingFlags(run).action(async (options: Record<string, unknown> & { config?: string; statsFile?: string }) => {
    requireAddon();
    // Without privileges every problem is still listed (the host checks name that one too), but the exit
    // code is the one every command gives when not root.
    const refusedWith = hasNetAdmin() ? EXIT.INVALID : EXIT.NOT_ROOT;
    // The daemon's dependencies (zod, yaml, pino, prom-client, etcd3) load here, not when `tulle version` starts.
    const [{ loadConfig }, { createLogger }, { runDaemon }] = await Promise.all([
      import('../daemon/config/load.js'),
      import('../daemon/logger.js'),
      import('../daemon/run.js'),
    ]);
    const file = options.config ?? (process.env.TULLE_CONFIG || undefined);
    const loaded = await loadConfig({ file, env: process.env, flags: options, host: true }).catch((error: unknown) => exitOnConfigError(error, refusedWith));
    const log = createLogger(loaded.config.logLevel);
    try {
      // SIGHUP reads the same sources again; the host was checked at start and is not checked again.
      const reread = async () => (await loadConfig({ file, env: process.env, flags: options })).config;
      await runDaemon(loaded.config, { log, facts: loaded.facts!, statsFile: options.statsFile, reread });
    } catch (error) {
      // A run-time failure (store, host set-up, data plane): one line that names it, no stack trace.
      log.fatal({ event: 'failed', error: (error as Error).message }, `tulle: ${(error as Error).message}`);
      console.error(`tulle: ${(error as Error).message}`);
      process.exit(EXIT.FAILURE);
    }
    log.info({ event: 'stopped' }, 'tulle: stopped; everything it set up is removed');
    process.exitCode = EXIT.OK;
    // Nothing of ours is left to keep the process alive; should a library's handle linger, do not wait on it.
    setTimeout(() => process.exit(EXIT.OK), 2000).unref();
  });
}
