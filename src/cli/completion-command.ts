/**
 * `tulle completion bash|zsh`: prints a completion script generated from the
 * command tree this very program has, so every command and option completes.
 */
import { Argument, type Command } from 'commander';

export const SHELLS = ['bash', 'zsh'] as const;

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script: `tulle completion bash > /etc/bash_completion.d/tulle`; zsh: see docs/cli.md')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(SHELLS))
    .action(async (shell: (typeof SHELLS)[number]) => {
      // The generators load when asked for, not at every start.
      const { completionTree } = await import('./completion-tree.js');
      const tree = completionTree(program);
      const script = shell === 'bash' ? (await import('./completion-bash.js')).bashCompletion(tree) : (await import('./completion-zsh.js')).zshCompletion(tree);
      process.stdout.write(script);
    });
}
