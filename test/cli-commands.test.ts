// The `tulle` command line: --help for every command, the version, and exit
// codes scripts can rely on (0 done, 1 failure, 2 invalid, 3 no daemon, 4 not root).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

t.test("nebula's and flannel's single-dash long options get an answer that names tulle's option, exit 2", async (t) => {
  // commander alone reads -config as -c onfig and then fails on the file: "too many arguments".
  const config = cli('run', '-config', '/etc/tulle/tulle.yaml');
  t.equal(config.status, 2);
  t.match(config.stderr, /unknown option '-config'.*did you mean -c\/--config\?/);
  t.notMatch(config.stderr, /too many arguments/);
  const iface = cli('run', '-iface', 'eth0');
  t.equal(iface.status, 2);
  t.match(iface.stderr, /unknown option '-iface'.*did you mean --iface\?/);
  const stateDir = cli('status', '-state-dir=/run/tulle');
  t.equal(stateDir.status, 2);
  t.match(stateDir.stderr, /unknown option '-state-dir=\/run\/tulle'.*did you mean --state-dir\?/);
  t.equal(cli('run', '-c', '/nonexistent/tulle.yaml', '--no-ip-masq').status, 2, 'a short option is still read as one');
});

// Every command that needs privileges answers the same way without them. Run as nobody: setpriv drops root.
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
t.test(
  'not root: every command that needs it exits 4 and says so',
  { skip: process.getuid?.() !== 0 || setpriv === undefined ? 'needs root and setpriv' : false },
  async (t) => {
    for (const command of [['run'], ['demo'], ['lab', 'demo'], ['lab', 'wire-demo'], ['lab', 'down'], ['bench'], ['install-service']]) {
      const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups', '/usr/bin/env', '-u', 'NODE_OPTIONS'];
      const r = spawnSync(setpriv!, [...asNobody, process.execPath, CLI, ...command], {
        encoding: 'utf8',
        timeout: 30_000,
        cwd: tmpdir(),
        // Without the test runner's coverage hooks (NODE_OPTIONS): they would write where nobody may not.
        env: { PATH: process.env.PATH },
      });
      t.equal(r.status, 4, `tulle ${command.join(' ')}: ${r.stderr.trim()}`);
      if (command[0] === 'run') {
        // run lists every problem of the configuration at once, the privilege among them.
        t.match(
          r.stderr,
          /^tulle: invalid configuration:\n[\s\S]*\n {2}- \(top level\): tulle needs CAP_NET_ADMIN to set up devices and routes: run it as root\n/,
        );
      } else t.match(r.stderr, new RegExp(`^tulle ${command.join(' ')} .*run it as root\\n$`), 'one line that names the command');
    }
  },
);
