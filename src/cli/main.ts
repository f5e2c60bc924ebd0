#!/usr/bin/env node
/**
 * The tulle command line. Each subcommand is a thin shell over a module that
 * can be used without it. Exit codes are in exit-codes.ts: 0 done, 1 run-time
 * failure, 2 invalid configuration or command line, 3 no daemon running,
 * 4 needs root, 5 the native addon is not built.
 */
import { Command, CommanderError } from 'commander';
import { packageVersion } from '../util/package-root.js';
import { registerConfig } from './config-command.js';
import { registerDaemonCommands } from './daemon-commands.js';
import { EXIT } from './exit-codes.js';
import { registerRun } from './run-command.js';
import { registerBench } from './bench-command.js';
import { registerCni } from './cni-command.js';
import { requireAddon } from './require-addon.js';
import { requireRoot } from './require-root.js';
import { singleDashAnswer } from './single-dash.js';

const program = new Command('tulle')
  .description('a userspace overlay network')
  .version(`tulle ${packageVersion()}`, '-V, --version', 'print the version')
  .showHelpAfterError()
  // Usage errors exit 2 (as invalid configuration does), help and version 0: see the catch below.
  .exitOverride();

program
  .command('version')
  .description('print the version')
  .action(() => console.log(`tulle ${packageVersion()}`));

registerRun(program);
registerDaemonCommands(program);
registerConfig(program);
registerBench(program);
registerCni(program);

const DEMO_HELP = 'three hosts in namespaces run tulle on gossip leases; six containers reach each other; a short throughput table (needs root)';

function registerDemo(parent: Command, name: string, usage: string): void {
  parent
    .command(name)
    .description(DEMO_HELP)
    .option('--keep', 'leave the lab and the daemons up, and print how to explore it (`tulle lab down` removes it)')
    .option('--out <dir>', 'where the throughput results go (default bench/results/demo in the current directory)')
    .option('--no-bench', 'leave out the throughput step')
    .action(async (options: { keep?: boolean; out?: string; bench: boolean }) => {
      requireRoot(usage, 'creates network namespaces and TUN devices');
      requireAddon();
      const { runDemo } = await import('../lab/demo/run-demo.js');
      process.exitCode = await runDemo({ keep: options.keep === true, out: options.out, bench: options.bench });
    });
}

registerDemo(program, 'demo', 'tulle demo');

const lab = program.command('lab').description('lab namespaces');
registerDemo(lab, 'demo', 'tulle lab demo');
lab
  .command('wire-demo')
  .description('show tulle encapsulation working against a kernel vxlan device, in a namespace of its own (needs root)')
  .option('--inside-namespace', 'internal: the part that runs inside the lab namespace')
  .action(async (options: { insideNamespace?: boolean }) => {
    const { insideWireDemo, runWireDemo } = await import('../lab/wire-demo.js');
    if (options.insideNamespace) return insideWireDemo();
    requireRoot('tulle lab wire-demo', 'creates a network namespace and a TUN device');
    requireAddon();
    runWireDemo();
  });
lab
  .command('down')
  .description("end the processes in tulle lab namespaces, remove the namespaces and a kept demo's state dirs")
  .option('--prefix <prefix>', 'only the namespaces and state dirs that start with this (one lab, e.g. tulle-3fa2c1-)')
  .action(async (options: { prefix?: string }) => {
    requireRoot('tulle lab down', 'ends processes in network namespaces and removes them');
    if (options.prefix !== undefined && !options.prefix.startsWith('tulle-')) {
      console.error(`tulle lab down: --prefix must start with "tulle-" (tulle's namespaces do), got "${options.prefix}"`);
      process.exit(EXIT.INVALID);
    }
    const { labDown } = await import('../lab/lab-down.js');
    const r = await labDown(options.prefix);
    if (r.ended.length > 0) console.log(`ended ${r.ended.length} process(es)${r.killed > 0 ? ` (${r.killed} needed SIGKILL)` : ''}`);
    if (r.dirs.length > 0) console.log(`removed ${r.dirs.join(', ')}`);
    console.log(r.namespaces.length === 0 ? 'no tulle namespaces' : `removed ${r.namespaces.join(', ')}`);
  });

// nebula's and flannel's flags take one dash (-config, -iface): name the option tulle spells differently.
const misspelt = singleDashAnswer(process.argv.slice(2), program);
if (misspelt !== undefined) {
  console.error(`error: ${misspelt}`);
  process.exit(EXIT.INVALID);
}

// A promise chain, not a top-level await: the standalone binary runs this module as CommonJS.
program.parseAsync().catch((error: unknown) => {
  if (!(error instanceof CommanderError)) throw error;
  // commander has printed the message (or the help); only the exit code is ours.
  process.exit(error.exitCode === 0 ? EXIT.OK : EXIT.INVALID);
});
