// `tulle install-service`: the unit it writes starts this very tulle with the
// configuration named, is Type=notify with a SIGHUP reload, and passes
// `systemd-analyze verify` where that exists (systemd need not run). A unit
// already there is left alone when it is the same, and replaced only with
// --force when it differs.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './helpers/daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'tulle-install-service-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

t.test('--print: the unit, starting this tulle with the configuration given', async (t) => {
  const unit = cli('install-service', '--print', '-c', '/etc/tulle/lab host.yaml').stdout;
  t.match(unit, /^Type=notify$/m, 'Type=notify');
  t.match(unit, /^NotifyAccess=main$/m, 'only the main process may notify');
  t.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m, 'reload is SIGHUP');
  t.match(unit, /^RestartPreventExitStatus=2 4$/m, 'no restarts for an invalid configuration or missing privileges');
  t.equal(
    /^ExecStart=(.*)$/m.exec(unit)?.[1],
    `${process.execPath} ${realpathSync(CLI)} run -c "/etc/tulle/lab host.yaml"`,
    'node, the CLI, run -c FILE (quoted)',
  );
  t.equal(cli('install-service', '--print').stdout.match(/^ExecStart=.* -c (.*)$/m)?.[1], '/etc/tulle/tulle.yaml', 'the default configuration file');
});

t.test(
  'writes the unit; the same unit again changes nothing; a different one needs --force',
  { skip: process.getuid?.() !== 0 ? 'needs root' : false },
  async (t) => {
    const path = join(dir, 'system', 'tulle.service');
    const config = join(dir, 'tulle.yaml');
    writeFileSync(config, '');
    const first = cli('install-service', '--unit', path, '-c', config);
    t.equal(first.status, 0, first.stderr);
    t.match(first.stdout, `wrote ${path}`);
    t.match(first.stdout, 'systemctl daemon-reload && systemctl enable --now tulle', 'says what to run next');
    const written = readFileSync(path, 'utf8');
    t.equal(written, cli('install-service', '--print', '-c', config).stdout, 'what --print shows');

    const again = cli('install-service', '--unit', path, '-c', config);
    t.same([again.status, again.stdout.trim()], [0, `${path} is already this unit; nothing changed`], 'the same unit: nothing changed');

    const other = cli('install-service', '--unit', path, '-c', join(dir, 'other.yaml'));
    t.equal(other.status, 1, 'a different unit is refused');
    t.match(other.stderr, `${path} exists and differs`, 'naming the file');
    t.match(other.stderr, '--force replaces it', 'and the way out');
    t.equal(readFileSync(path, 'utf8'), written, 'the file is untouched');

    const forced = cli('install-service', '--unit', path, '-c', join(dir, 'other.yaml'), '--force');
    t.equal(forced.status, 0, forced.stderr);
    t.match(forced.stdout, `replaced ${path}`);
    t.match(forced.stdout, `${join(dir, 'other.yaml')} does not exist yet`, 'a missing configuration file is pointed out');
    t.match(readFileSync(path, 'utf8'), `-c ${join(dir, 'other.yaml')}`, 'now the new unit');
  },
);

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
t.test('systemd-analyze verify accepts the unit', { skip: analyze.error !== undefined ? 'systemd-analyze is not installed' : false }, async (t) => {
  mkdirSync(join(dir, 'verify'));
  const path = join(dir, 'verify', 'tulle.service');
  writeFileSync(path, cli('install-service', '--print').stdout);
  const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 0, 'exit 0');
  t.equal(r.stderr.trim(), '', `no warnings (${analyze.stdout.split('\n')[0]})`);
});
