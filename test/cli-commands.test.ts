// The `tulle` command line: --help for every command, the version, and exit
// codes scripts can rely on (0 done, 1 failure, 2 invalid, 3 no daemon).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './helpers/daemon.js';
import { SETTINGS } from '../src/daemon/config/settings.js';
import { OPTION_HELP } from '../src/bench/options.js';
import { SYSTEM_IDS } from '../src/bench/systems.js';

const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

t.test('--help for every command, exit 0', async (t) => {
  for (const command of [[], ['run'], ['status'], ['leases'], ['config'], ['config', 'check'], ['version'], ['demo'], ['lab'], ['lab', 'down'], ['bench']]) {
    const r = cli(...command, '--help');
    t.equal(r.status, 0, `tulle ${command.join(' ')} --help`);
    t.match(r.stdout, new RegExp(`^Usage: tulle${command.length ? ` ${command.join(' ')}` : ''}`), 'starts with the usage line');
  }
  const run = cli('run', '--help').stdout;
  for (const s of SETTINGS.filter((x) => x.flag !== undefined)) t.match(run, `--${s.flag}`, `run --help lists --${s.flag}`);
  t.notMatch(run, /gossip-key\b(?!-file)/, 'no flag carries the gossip key itself (it would show in ps)');
  const top = cli('--help').stdout;
  for (const name of ['run', 'status', 'leases', 'config', 'version', 'demo', 'lab', 'bench']) t.match(top, new RegExp(`^  ${name}\\b`, 'm'), `lists ${name}`);
});

t.test('tulle bench --help: every option and every system id; npm run bench is the same command', async (t) => {
  const help = cli('bench', '--help').stdout;
  for (const [flag] of OPTION_HELP) t.match(help, flag, `lists ${flag}`);
  const systems = /Systems \(ids for --systems\):\n\s+(.*)/.exec(help);
  t.same(systems?.[1].split(', '), SYSTEM_IDS, 'lists the system ids');
  const scripts = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }).scripts;
  t.equal(scripts.bench, 'node dist/src/cli/main.js bench', 'npm run bench runs tulle bench');
});

t.test('the version', async (t) => {
  t.same(cli('version'), { status: 0, stdout: `tulle ${version}\n`, stderr: '' });
  t.same(cli('--version'), { status: 0, stdout: `tulle ${version}\n`, stderr: '' });
});

t.test('a command line that is wrong exits 2 and says why', async (t) => {
  const unknown = cli('frobnicate');
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /unknown command 'frobnicate'/);
  const option = cli('status', '--colour');
  t.equal(option.status, 2);
  t.match(option.stderr, /unknown option '--colour'/);
  const missing = cli('run', '--mtu');
  t.equal(missing.status, 2);
  t.match(missing.stderr, /option '--mtu <n>' argument missing/);
});

t.test('status and leases exit 3 when no daemon runs there', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const command of ['status', 'leases']) {
    const r = cli(command, '--state-dir', dir);
    t.equal(r.status, 3, command);
    t.equal(r.stderr, `tulle: no tulle daemon is running with this state dir (nothing answers on ${join(dir, 'tulle.sock')})\n`);
  }
});
