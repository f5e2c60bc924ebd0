/**
 * `tulle bench` (also `npm run bench`): the overlay benchmark of src/bench/ as
 * a subcommand. The CLI calls registerBench(program) once; the bench's
 * harness loads only when the command runs.
 */
import type { Command } from 'commander';
import { OPTION_HELP } from '../bench/options.js';
import { SYSTEM_IDS } from '../bench/systems.js';
import { requireAddon } from './require-addon.js';
import { requireRoot } from './require-root.js';

export function registerBench(program: Command): Command {
  const command = program
    .command('bench')
    .description('measure tulle against the underlay, a kernel vxlan device and other overlays, in a lab of namespaces (needs root)');
  for (const [flag, help] of OPTION_HELP) command.option(flag, help);
  command.option('--rows <list>', 'the same as --systems');
  command.addHelpText('after', `\nSystems (ids for --systems):\n  ${SYSTEM_IDS.join(', ')}`);
  command.action(async (options: Record<string, string | undefined>) => {
    requireRoot('tulle bench', 'creates network namespaces, veth, vxlan and TUN devices');
    requireAddon();
    const { benchMain } = await import('../bench/main.js');
    // The command for the report, from what commander parsed (argv may hold options of the parent program).
    const given = Object.entries(options)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${v}`);
    process.exitCode = await benchMain(options, ['tulle bench', ...given].join(' '));
  });
  return command;
}
