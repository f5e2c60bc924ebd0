// `tulle completion bash|zsh`: the scripts run in the real shells. bash:
// `complete -p tulle`, then _tulle with COMP_WORDS/COMP_CWORD as bash sets
// them. zsh: the script sourced in zsh, with the completion system's output
// functions (_describe, compadd, _files, _message, compdef) standing in to
// print what would be offered, since a completion widget needs a terminal.
// For every command of the tree, each subcommand and each option completes.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { completionTree } from '../src/cli/completion-tree.js';
import { buildProgram } from '../src/cli/program.js';
import { CLI } from './helpers/daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'tulle-completion-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'hosts.yaml'), '');
const tree = completionTree(buildProgram());

const script = (shell: string) => {
  const r = spawnSync(process.execPath, [CLI, 'completion', shell], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`tulle completion ${shell} exited ${r.status}: ${r.stderr}`);
  const file = join(dir, `tulle.${shell}`);
  writeFileSync(file, r.stdout);
  return file;
};

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

t.test('bash', async (t) => {
  const file = script('bash');
  /** What bash offers for `tulle WORDS…` with the cursor on the last word. */
  const complete = (words: string[]) => {
    const r = spawnSync(
      'bash',
      [
        '--norc',
        '-c',
        `source ${quote(file)}; COMP_WORDS=(tulle ${words.map(quote).join(' ')}); COMP_CWORD=${words.length}; _tulle; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { encoding: 'utf8', cwd: dir },
    );
    if (r.status !== 0) throw new Error(`bash: ${r.stderr}`);
    return r.stdout.split('\n').filter(Boolean);
  };
  const registered = spawnSync('bash', ['--norc', '-c', `source ${quote(file)}; complete -p tulle`], { encoding: 'utf8' });
  t.equal(registered.stdout.trim(), 'complete -o filenames -F _tulle tulle', 'complete -p tulle names the function');
  t.same(complete(['l']).sort(), ['lab', 'leases'], 'tulle l → lab, leases');
  t.same(complete(['lab', 'd']).sort(), ['demo', 'down'], 'tulle lab d → demo, down');
  t.same(complete(['run', '--log']), ['--log-level'], 'tulle run --log → --log-level');
  t.same(
    complete(['run', '--mtu', '1400', '--ba']).sort(),
    ['--backend', '--backend-port', '--backlog-yield-microseconds', '--batch'],
    "an option's value is skipped",
  );
  t.same(complete(['run', '-c', 'ho']), ['hosts.yaml'], 'a file after -c');
  t.same(complete(['run', '--log-level', '']), [], 'no command offered as the value of --log-level');
  t.same(complete(['completion', '']).sort(), ['bash', 'zsh'], 'the shells of tulle completion');
  t.same(complete(['config', 'check', 'ho']), ['hosts.yaml'], "config check's file argument");
  for (const node of tree) {
    const path = node.path === '' ? [] : node.path.split(' ');
    for (const command of node.commands) t.ok(complete([...path, command.name.slice(0, 2)]).includes(command.name), `tulle ${node.path} ${command.name}`);
    const offered = complete([...path, '-']);
    for (const name of node.options.flatMap((o) => o.names)) t.ok(offered.includes(name), `tulle ${node.path} ${name}`);
  }
});

t.test('zsh', async (t) => {
  const which = spawnSync('zsh', ['-c', 'true']);
  if (which.error !== undefined) {
    t.fail('zsh is not installed: `npm run test:setup` installs it (scripts/test-tools.mjs)');
    return;
  }
  const file = script('zsh');
  t.equal(spawnSync('zsh', ['-n', file]).status, 0, 'zsh -n: the script parses');
  const stubs = [
    '_describe() { local name=${@[-1]} item; for item in "${(@P)name}"; do print -r -- "${item%%:*}"; done }',
    'compadd() { if [[ $1 == -a ]]; then print -l -- "${(@P)2}"; else print -l -- "$@"; fi }',
    "_files() { print -- '<files>' }",
    "_message() { print -- '<message>' }",
    'compdef() { print -- "compdef $*" }',
  ].join('\n');
  /** What zsh's completion would be offered for `tulle WORDS…` with the cursor on the last word (unfiltered). */
  const complete = (words: string[]) => {
    const prefix = words[words.length - 1];
    const r = spawnSync(
      'zsh',
      [
        '-f',
        '-c',
        `${stubs}\nsource ${quote(file)} >/dev/null\nwords=(tulle ${words.map(quote).join(' ')}); CURRENT=${words.length + 1}; PREFIX=${quote(prefix)}; _tulle`,
      ],
      { encoding: 'utf8', cwd: dir },
    );
    if (r.status !== 0) throw new Error(`zsh: ${r.stderr}`);
    return r.stdout.split('\n').filter(Boolean);
  };
  const sourced = spawnSync('zsh', ['-f', '-c', `${stubs}\nsource ${quote(file)}`], { encoding: 'utf8' });
  t.equal(sourced.stdout.trim(), 'compdef _tulle tulle', 'sourced, it registers _tulle for tulle');
  t.ok(complete(['']).includes('lab') && complete(['']).includes('leases'), 'tulle → lab, leases among the commands');
  t.same(complete(['lab', '']).sort(), ['demo', 'down', 'help', 'wire-demo'], 'tulle lab → its subcommands');
  t.ok(complete(['run', '--']).includes('--log-level'), 'tulle run -- → --log-level among the options');
  t.same(complete(['run', '-c', '']), ['<files>'], 'files after -c');
  t.same(complete(['run', '--log-level', '']), ['<message>'], 'a value after --log-level, no command');
  t.same(complete(['run', '--mtu', '1400', '']), [], 'after a value, nothing: run has no subcommands and no arguments');
  t.same(complete(['completion', '']).sort(), ['bash', 'zsh'], 'the shells of tulle completion');
  for (const node of tree) {
    const path = node.path === '' ? [] : node.path.split(' ');
    const commands = complete([...path, '']);
    for (const command of node.commands) t.ok(commands.includes(command.name), `tulle ${node.path} ${command.name}`);
    const offered = complete([...path, '-']);
    for (const name of node.options.flatMap((o) => o.names)) t.ok(offered.includes(name), `tulle ${node.path} ${name}`);
  }
});
