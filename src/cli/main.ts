#!/usr/bin/env node
/**
 * The tulle command line. Each subcommand is a thin shell over a module that
 * can be used without it.
 */
import { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { leftoverNamespaces, run } from '../lab/netns.js';
import { insideWireDemo, runWireDemo } from '../lab/wire-demo.js';
import { packageVersion } from '../util/package-root.js';
import { runDaemon } from '../daemon/run.js';
import { ConfigError, loadStaticConfig } from '../daemon/static-config.js';

const program = new Command('tulle').description('a userspace overlay network').showHelpAfterError();

program.command('version').description('print the version').action(() => console.log(`tulle ${packageVersion()}`));

program
  .command('demo')
  .description('show tulle encapsulation working against the kernel, in a namespace of its own (needs root)')
  .option('--inside-namespace', 'internal: the part that runs inside the lab namespace')
  .action(async (options: { insideNamespace?: boolean }) => {
    if (options.insideNamespace) return insideWireDemo();
    requireRoot('tulle demo');
    runWireDemo(fileURLToPath(import.meta.url));
  });

program
  .command('run')
  .description('run the overlay on this host (needs root)')
  .requiredOption('-c, --config <file>', 'configuration file (JSON)')
  .option('--stats-file <file>', 'write the data-plane counters here as JSON, twice a second')
  .action(async (options: { config: string; statsFile?: string }) => {
    let config;
    try {
      config = loadStaticConfig(options.config);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      console.error(`tulle: ${error.message}`);
      process.exit(2);
    }
    requireRoot('tulle run');
    try {
      await runDaemon(config, { statsFile: options.statsFile, log: (line) => console.error(line) });
    } catch (error) {
      // A syscall or host set-up failure (port in use, no TUN): one line that names it, no stack trace.
      console.error(`tulle: ${(error as Error).message}`);
      process.exit(1);
    }
  });

const lab = program.command('lab').description('lab namespaces');
lab
  .command('down')
  .description('remove namespaces left behind by tulle labs, tests and benches')
  .action(() => {
    requireRoot('tulle lab down');
    const names = leftoverNamespaces();
    for (const ns of names) run(['ip', 'netns', 'del', ns]);
    console.log(names.length === 0 ? 'no tulle namespaces' : `removed ${names.join(', ')}`);
  });

function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    console.error(`${what} creates network namespaces and TUN devices: run it as root`);
    process.exit(1);
  }
}

await program.parseAsync();
