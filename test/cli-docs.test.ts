// docs/cli.md against the commands, both ways: every command and every option
// of the command tree (program.ts) is on the page, and every `tulle …`
// command the page names exists, with its subcommands. The systemd unit the
// page shows is the one `tulle install-service` writes.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/program.js';
import { CLI } from './helpers/daemon.js';

const doc = readFileSync(new URL('../docs/cli.md', import.meta.url), 'utf8');
const program = buildProgram();

function walk(command: Command, path: string[] = []): { path: string[]; command: Command }[] {
  return [{ path, command }, ...command.commands.flatMap((c) => walk(c, [...path, c.name()]))];
}

/** Code spans and the lines of code blocks: where the page names commands, as opposed to prose. */
function codeText(markdown: string): string[] {
  const out: string[] = [];
  let inBlock = false;
  for (const line of markdown.split('\n')) {
    if (/^ {0,3}```/.test(line)) {
      inBlock = !inBlock;
      continue;
    }
    if (inBlock) out.push(line);
    else for (const m of line.matchAll(/`([^`]+)`/g)) out.push(m[1]);
  }
  return out;
}

/**
 * Every command line in code that runs tulle (`tulle …`, `$ tulle …`, `ip netns exec NS tulle …`): its words up
 * to the first that is not a plain word (an option, an argument, punctuation). Log lines and output that merely
 * mention tulle are not command lines.
 */
function namedCommands(markdown: string): string[][] {
  const named: string[][] = [];
  for (const text of codeText(markdown)) {
    const m = /^\s*(?:\$\s+)?(?:sudo\s+)?(?:ip netns exec \S+\s+)?tulle((?: [a-z][a-z-]*)+)/.exec(text);
    if (m !== null) named.push(m[1].trim().split(' '));
  }
  return named;
}

t.test('every command and option of the tree is in docs/cli.md', async (t) => {
  const commands = walk(program).filter((c) => c.path.length > 0);
  t.ok(commands.length >= 12, `the tree has its commands (${commands.length})`);
  for (const { path, command } of commands) {
    t.ok(doc.includes(`tulle ${path.join(' ')}`), `tulle ${path.join(' ')}`);
    for (const option of command.options) {
      const name = option.long ?? option.short!;
      // In code, and whole: `--subnet` is not found inside `--subnet-len`.
      t.ok(new RegExp(`\`[^\`]*${name}(?![\\w-])[^\`]*\``).test(doc), `tulle ${path.join(' ')} ${name}`);
    }
  }
  for (const option of program.options) t.ok(doc.includes(option.long!), `tulle ${option.long}`);
});

t.test('every `tulle …` command docs/cli.md names exists', async (t) => {
  const named = namedCommands(doc);
  t.ok(named.length >= 30, `the page names commands (${named.length})`);
  for (const words of named) {
    let command: Command = program;
    for (const word of words) {
      // A leaf's further words are its arguments (`config check FILE`); below a group they must be subcommands.
      if (command.commands.length === 0) break;
      const sub = command.commands.find((c) => c.name() === word) ?? (word === 'help' && command === program ? command : undefined);
      t.ok(sub, `tulle ${words.join(' ')}: "${word}" is a command${command === program ? '' : ` of tulle ${command.name()}`}`);
      if (sub === undefined || sub === program) break;
      command = sub;
    }
  }
});

t.test('the extractor finds a command that does not exist', async (t) => {
  // The check above can fail: a page naming `tulle lab frobnicate` yields words it would reject.
  t.same(namedCommands('run `tulle lab frobnicate --x` and\n```\n$ tulle statuz\n```\n'), [['lab', 'frobnicate'], ['statuz']]);
});

t.test("the systemd unit on the page is install-service's (ExecStart aside, which names where tulle is)", async (t) => {
  const shown = /```ini\n([\s\S]*?)```/.exec(doc)?.[1];
  t.ok(shown, 'the page shows a unit');
  const printed = spawnSync(process.execPath, [CLI, 'install-service', '--print'], { encoding: 'utf8' }).stdout;
  const withoutExec = (unit: string) => unit.replace(/^ExecStart=.*$/m, 'ExecStart=…');
  t.equal(withoutExec(shown ?? ''), withoutExec(printed));
  t.match(shown, /^ExecStart=\S+ \S+ run -c \/etc\/tulle\/tulle\.yaml$/m, 'starting tulle run with the default configuration');
});
