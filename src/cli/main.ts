#!/usr/bin/env node
/**
 * The tulle command line. Each subcommand is a thin shell over a module that
 * can be used without it.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { leftoverNamespaces, run } from '../lab/netns.js';
import { insideWireDemo, runWireDemo } from '../lab/wire-demo.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
const program = new Command('tulle').description('a userspace overlay network').showHelpAfterError();

program.command('version').description('print the version').action(() => console.log(`tulle ${pkg.version}`));

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
    process.exit(1);
  }
}

await program.parseAsync();
