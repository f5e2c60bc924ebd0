#!/usr/bin/env node
/**
 * The tulle command line. Each subcommand is a thin shell over a module that
 * can be used without it. Exit codes are in exit-codes.ts: 0 done, 1 run-time
 * failure, 2 invalid configuration or command line, 3 no daemon running,
 * 4 needs root, 5 the native addon is not built.
 */
import { CommanderError } from 'commander';
import { EXIT } from './exit-codes.js';
import { buildProgram } from './program.js';
import { singleDashAnswer } from './single-dash.js';

const program = buildProgram();

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
