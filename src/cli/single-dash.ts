/**
 * nebula (-config) and flannel (-iface, -etcd-endpoints) spell long options
 * with one dash; commander would read `-config` as `-c onfig` and then fail
 * on the file name ("too many arguments"). This finds such a word before
 * commander parses and says which option was meant.
 */
import type { Command } from 'commander';

/** The command argv names (`run`, `lab demo` …), walking subcommand names from the top. */
function commandOf(argv: readonly string[], program: Command): Command {
  let command = program;
  for (const word of argv) {
    const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub === undefined) break;
    command = sub;
  }
  return command;
}

/** An error message for the first single-dash long option in argv that the command has as `--name`, else undefined. */
export function singleDashAnswer(argv: readonly string[], program: Command): string | undefined {
  const command = commandOf(argv, program);
  for (const word of argv) {
    if (word === '--') break;
    const match = /^-([a-z][a-z0-9-]+)(=.*)?$/i.exec(word);
    if (match === null) continue;
    const option = command.options.find((o) => o.long === `--${match[1]}`);
    if (option === undefined) continue;
    const spelt = option.short === undefined ? option.long : `${option.short}/${option.long}`;
    return `unknown option '${word}': tulle's long options take two dashes; did you mean ${spelt}? (see tulle ${command === program ? '' : `${command.name()} `}--help)`;
  }
  return undefined;
}
