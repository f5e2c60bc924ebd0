// `--help` shows every default: walks every command of the tree (as the
// completion scripts do) and reads its real --help. An option commander holds
// a default for shows it, and each setting flag whose key has a default in the
// configuration schema shows that very value (checked against the schema, so
// a changed default cannot leave the help behind).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { DaemonConfigSchema } from '../src/daemon/config/schema.js';
import { SETTINGS } from '../src/daemon/config/settings.js';
import { buildProgram } from '../src/cli/program.js';
import type { Command } from 'commander';
import { CLI } from './helpers/daemon.js';

const help = (path: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...path, '--help'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`tulle ${path.join(' ')} --help exited ${r.status}: ${r.stderr}`);
  return r.stdout;
};

/** The help's option entries by flag, wrapped lines joined: "--batch <n>" → "packets per … (default: 64)". */
function optionEntries(text: string): Map<string, string> {
  const section = text.split(/^Options:\n/m)[1]?.split(/^\S.*:\n/m)[0] ?? '';
  const entries = new Map<string, string>();
  let current: string | undefined;
  for (const line of section.split('\n')) {
    const start = /^ {2}(-\S.*?)(?: {2,}(.*))?$/.exec(line);
    if (start !== null) {
      current = start[1].trim();
      entries.set(current, (start[2] ?? '').trim());
    } else if (current !== undefined && line.trim() !== '') {
      entries.set(current, `${entries.get(current)} ${line.trim()}`.trim());
    }
  }
  return entries;
}

/** Every command below `command`, with its words. */
function commands(command: Command, path: string[] = []): { path: string[]; command: Command }[] {
  return [{ path, command }, ...command.commands.flatMap((c) => commands(c, [...path, c.name()]))];
}

/** What --help should show for a schema default: its value, an empty list as "none". */
const shown = (value: unknown) => (Array.isArray(value) && value.length === 0 ? 'none' : Array.isArray(value) ? value.join(',') : String(value));

const get = (object: unknown, path: string) => path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], object);

const program = buildProgram();

t.test('every option commander holds a default for shows it, in every command', async (t) => {
  let checked = 0;
  for (const { path, command } of commands(program)) {
    const entries = optionEntries(help(path));
    for (const option of command.options) {
      // Hidden on purpose (flannel's spellings, a refused flag): docs/cli.md names them (cli-docs.test.ts).
      if (option.hidden) {
        t.notOk(entries.has(option.flags), `tulle ${path.join(' ')} --help hides ${option.flags}`);
        continue;
      }
      t.ok(entries.has(option.flags), `tulle ${path.join(' ')} --help lists ${option.flags}`);
      if (option.defaultValue === undefined || option.negate) continue;
      checked++;
      t.match(entries.get(option.flags), `(default: ${JSON.stringify(option.defaultValue)})`, `tulle ${path.join(' ')}: ${option.flags} shows its default`);
    }
  }
  t.ok(checked >= 2, `options with a commander default were found (${checked})`);
});

t.test('each setting flag with a default in the configuration schema shows that value, in run and config check', async (t) => {
  // Minimal configurations, one per store type: whatever the schema fills in beyond them is a default.
  const inputs = [
    { network: '198.18.0.0/16', backend: { type: 'vxlan' } },
    { network: '198.18.0.0/16', backend: { type: 'vxlan' }, store: { type: 'gossip' } },
    { network: '198.18.0.0/16', backend: { type: 'vxlan' }, store: { type: 'etcd', endpoints: ['http://192.0.2.10:2379'] } },
  ];
  const defaults = new Map<string, unknown>();
  for (const input of inputs) {
    const parsed = DaemonConfigSchema.parse(input);
    for (const s of SETTINGS) {
      const value = get(parsed, s.path);
      if (value !== undefined && get(input, s.path) === undefined) defaults.set(s.path, value);
    }
  }
  t.ok(defaults.size >= 12, `schema defaults found for ${[...defaults.keys()].join(', ')}`);
  for (const path of [['run'], ['config', 'check']]) {
    const entries = optionEntries(help(path));
    for (const s of SETTINGS) {
      if (s.flag === undefined) continue;
      const entry = [...entries].find(([flags]) => flags === `--${s.flag}` || flags.startsWith(`--${s.flag} `))?.[1];
      t.ok(entry !== undefined, `tulle ${path.join(' ')} --help lists --${s.flag}`);
      if (defaults.has(s.path)) {
        t.match(entry, `(default: ${shown(defaults.get(s.path))})`, `--${s.flag} shows the schema's default ${shown(defaults.get(s.path))}`);
      } else if (s.default !== undefined) {
        t.match(entry, `(default: ${s.default})`, `--${s.flag} shows how its default is found`);
      }
    }
  }
});
