/**
 * The command tree as the completion scripts need it: for each command path
 * ("" for `tulle` itself, "lab down" …) its subcommands, options and
 * arguments, read from commander through its public Help (what --help shows,
 * the help option and the help command included). The scripts are generated
 * from this, so they cannot drift from the commands.
 */
import type { Command } from 'commander';

export interface CompletionOption {
  /** Every spelling: ["-c", "--config"]. */
  names: string[];
  /** The value's name when the option takes one ("file" for `--config <file>`). */
  value?: string;
  description: string;
}

export interface CompletionNode {
  /** Space-separated subcommand names below `tulle`; "" for the top. */
  path: string;
  commands: { name: string; description: string }[];
  options: CompletionOption[];
  /** Allowed values of the first argument, when commander knows them (`completion <shell>`). */
  choices?: string[];
  /** Whether the command takes arguments (then file names complete). */
  takesArguments: boolean;
}

export function completionTree(program: Command): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  const walk = (command: Command, path: string) => {
    const help = command.createHelp();
    const commands = help.visibleCommands(command);
    const args = command.registeredArguments;
    nodes.push({
      path,
      commands: commands.map((c) => ({ name: c.name(), description: c.description() })),
      options: help.visibleOptions(command).map((o) => ({
        names: [o.short, o.long].filter((n): n is string => n !== undefined),
        ...(o.required || o.optional ? { value: /[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1] ?? 'value' } : {}),
        description: o.description,
      })),
      ...(args[0]?.argChoices !== undefined ? { choices: [...args[0].argChoices] } : {}),
      takesArguments: args.length > 0,
    });
    for (const sub of command.commands) walk(sub, path === '' ? sub.name() : `${path} ${sub.name()}`);
  };
  walk(program, '');
  return nodes;
}
