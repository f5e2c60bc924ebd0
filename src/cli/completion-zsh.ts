/**
 * `tulle completion zsh`: a zsh completion function from the command tree
 * (completion-tree.ts), with each subcommand's and option's description.
 * The same walk as the bash script: subcommands after their parent, options
 * after a dash, files after an option that takes a file or directory.
 */
import { shellQuote as quote } from '../util/shell-quote.js';
import type { CompletionNode } from './completion-tree.js';

/** A `case` over command paths, each branch setting the array `reply`. */
function table(fn: string, nodes: CompletionNode[], items: (n: CompletionNode) => string[]): string {
  const branches = nodes.map((n) => `    ${quote(n.path)}) reply=(${items(n).map(quote).join(' ')}) ;;`);
  return [`${fn}() {`, '  case "$1" in', ...branches, '    *) reply=() ;;', '  esac', '}'].join('\n');
}

/** One line for _describe: "name:description", colons in the name escaped. */
const described = (name: string, description: string) => `${name.replace(/:/g, '\\:')}:${description.replace(/\s+/g, ' ')}`;

export function zshCompletion(nodes: CompletionNode[]): string {
  return `#compdef tulle
# zsh completion for tulle, generated from its commands by \`tulle completion zsh\`.
# Install: tulle completion zsh > "\${fpath[1]}/_tulle" (a directory on $fpath, before compinit runs),
# or source <(tulle completion zsh) in ~/.zshrc after compinit.

${table('_tulle_commands', nodes, (n) => n.commands.map((c) => described(c.name, c.description)))}

${table('_tulle_options', nodes, (n) => n.options.flatMap((o) => o.names.map((name) => described(name, o.description))))}

${table('_tulle_valued', nodes, (n) => n.options.filter((o) => o.value !== undefined).flatMap((o) => o.names))}

${table('_tulle_file_valued', nodes, (n) => n.options.filter((o) => o.value !== undefined && /file|dir/.test(o.value)).flatMap((o) => o.names))}

${table('_tulle_choices', nodes, (n) => n.choices ?? [])}

${table('_tulle_takes_arguments', nodes, (n) => (n.takesArguments ? ['yes'] : []))}

_tulle() {
  local path="" word i
  local -a reply names
  # The command path so far: words before the cursor that name a subcommand, option values skipped.
  for (( i = 2; i < CURRENT; i++ )); do
    word=\${words[i]}
    if [[ $word == -* ]]; then
      _tulle_valued "$path"
      [[ $word != *=* && \${reply[(Ie)$word]} -gt 0 ]] && (( i++ ))
      continue
    fi
    _tulle_commands "$path"
    names=(\${reply%%:*})
    (( \${names[(Ie)$word]} )) && path="\${path:+$path }$word"
  done
  if (( CURRENT > 2 )); then
    local prev=\${words[CURRENT-1]}
    _tulle_valued "$path"
    if (( \${reply[(Ie)$prev]} )); then
      _tulle_file_valued "$path"
      if (( \${reply[(Ie)$prev]} )); then _files; else _message 'value'; fi
      return
    fi
  fi
  if [[ $PREFIX == -* ]]; then
    _tulle_options "$path"
    _describe -t options 'option' reply
    return
  fi
  local -a commands choices
  _tulle_commands "$path"
  commands=("\${reply[@]}")
  _tulle_choices "$path"
  choices=("\${reply[@]}")
  (( \${#commands} )) && _describe -t commands 'command' commands
  (( \${#choices} )) && compadd -a choices
  _tulle_takes_arguments "$path"
  (( \${#reply} && ! \${#choices} )) && _files
  return 0
}

# Autoloaded from $fpath this file is _tulle's body: complete now. Sourced, it registers the function.
if [[ $funcstack[1] == _tulle ]]; then
  _tulle "$@"
else
  compdef _tulle tulle
fi
`;
}
