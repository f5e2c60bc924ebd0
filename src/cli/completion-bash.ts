/**
 * `tulle completion bash`: a bash completion script from the command tree
 * (completion-tree.ts). Subcommands complete after their parent, options
 * after a dash, file names after an option that takes a file or directory
 * and for a command's arguments; an option's value is never taken for a
 * subcommand.
 */
import { shellQuote as quote } from '../util/shell-quote.js';
import type { CompletionNode } from './completion-tree.js';

/** A `case` over command paths, each branch setting `reply` to its words. */
function table(fn: string, nodes: CompletionNode[], words: (n: CompletionNode) => string[]): string {
  const branches = nodes.map((n) => `    ${quote(n.path)}) reply=${quote(words(n).join(' '))} ;;`);
  return [`${fn}() {`, '  case "$1" in', ...branches, "    *) reply='' ;;", '  esac', '}'].join('\n');
}

export function bashCompletion(nodes: CompletionNode[]): string {
  const valued = (n: CompletionNode) => n.options.filter((o) => o.value !== undefined).flatMap((o) => o.names);
  const fileValued = (n: CompletionNode) => n.options.filter((o) => o.value !== undefined && /file|dir/.test(o.value)).flatMap((o) => o.names);
  return `# bash completion for tulle, generated from its commands by \`tulle completion bash\`.
# Install: tulle completion bash > /etc/bash_completion.d/tulle (or source it from ~/.bashrc).

${table('_tulle_commands', nodes, (n) => n.commands.map((c) => c.name))}

${table('_tulle_options', nodes, (n) => n.options.flatMap((o) => o.names))}

# Options that take a value: the next word is that value, not a command.
${table('_tulle_valued', nodes, valued)}

# Of those, the ones whose value is a file or a directory.
${table('_tulle_file_valued', nodes, fileValued)}

${table('_tulle_choices', nodes, (n) => n.choices ?? [])}

${table('_tulle_takes_arguments', nodes, (n) => (n.takesArguments ? ['yes'] : []))}

_tulle_has() {
  local word
  for word in $2; do [[ "$word" == "$1" ]] && return 0; done
  return 1
}

_tulle() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" word i reply
  # The command path so far: words before the cursor that name a subcommand, option values skipped.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if [[ "$word" == -* ]]; then
      _tulle_valued "$path"
      [[ "$word" != *=* ]] && _tulle_has "$word" "$reply" && ((i++))
      continue
    fi
    _tulle_commands "$path"
    _tulle_has "$word" "$reply" && path="\${path:+$path }$word"
  done
  local prev="\${COMP_WORDS[COMP_CWORD - 1]}"
  if ((COMP_CWORD > 1)); then
    _tulle_valued "$path"
    if _tulle_has "$prev" "$reply"; then
      _tulle_file_valued "$path"
      if _tulle_has "$prev" "$reply"; then
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      else
        COMPREPLY=()
      fi
      return 0
    fi
  fi
  if [[ "$cur" == -* ]]; then
    _tulle_options "$path"
    mapfile -t COMPREPLY < <(compgen -W "$reply" -- "$cur")
    return 0
  fi
  _tulle_commands "$path"
  local words="$reply"
  _tulle_choices "$path"
  local choices="$reply"
  mapfile -t COMPREPLY < <(compgen -W "$words $choices" -- "$cur")
  _tulle_takes_arguments "$path"
  if [[ -n "$reply" && -z "$choices" ]]; then
    mapfile -t -O "\${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -- "$cur")
  fi
  return 0
}

complete -o filenames -F _tulle tulle
`;
}
