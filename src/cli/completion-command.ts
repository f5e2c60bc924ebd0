/**
 * `tulle completion bash|zsh`: prints a completion script generated from the
 * command tree this very program has, so every command and option completes.
 */
import { Argument, type Command } from 'commander';
import { bashCompletion } from './completion-bash.js';
import { completionTree } from './completion-tree.js';
import { zshCompletion } from './completion-zsh.js';

export const SHELLS = ['bash', 'zsh'] as const;

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script: `tulle completion bash > /etc/bash_completion.d/tulle`; zsh: see docs/cli.md')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(SHELLS))
    .action((shell: (typeof SHELLS)[number]) => {
      const tree = completionTree(program);
      process.stdout.write(shell === 'bash' ? bashCompletion(tree) : zshCompletion(tree));
    });
}
