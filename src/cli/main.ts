#!/usr/bin/env node
/**
 * The tulle command line. Each subcommand is a thin shell over a module that
 * can be used without it. Exit codes are in exit-codes.ts: 0 done, 1 run-time
 * failure, 2 invalid configuration or command line, 3 no daemon running.
 */
import { Command, CommanderError } from 'commander';
import { fileURLToPath } from 'node:url';
import { leftoverNamespaces, run } from '../lab/netns.js';
import { insideWireDemo, runWireDemo } from '../lab/wire-demo.js';
import { packageVersion } from '../util/package-root.js';
import { registerConfig } from './config-command.js';
import { registerDaemonCommands } from './daemon-commands.js';
import { EXIT } from './exit-codes.js';
import { registerRun } from './run-command.js';
import { registerBench } from '../bench-cli/register.js';

const program = new Command('tulle')
  .description('a userspace overlay network')
  .version(`tulle ${packageVersion()}`, '-V, --version', 'print the version')
  .showHelpAfterError()
  // Usage errors exit 2 (as invalid configuration does), help and version 0: see the catch below.
  .exitOverride();

program.command('version').description('print the version').action(() => console.log(`tulle ${packageVersion()}`));

registerRun(program);
registerDaemonCommands(program);
registerConfig(program);
registerBench(program);

program
  .command('demo')
  .description('show tulle encapsulation working against the kernel, in a namespace of its own (needs root)')
  .option('--inside-namespace', 'internal: the part that runs inside the lab namespace')
  .action(async (options: { insideNamespace?: boolean }) => {
    if (options.insideNamespace) return insideWireDemo();
    requireRoot('tulle demo');
    runWireDemo(fileURLToPath(import.meta.url));
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
    process.exit(EXIT.FAILURE);
  }
}

try {
  await program.parseAsync();
} catch (error) {
  if (!(error instanceof CommanderError)) throw error;
  // commander has printed the message (or the help); only the exit code is ours.
  process.exit(error.exitCode === 0 ? EXIT.OK : EXIT.INVALID);
}
