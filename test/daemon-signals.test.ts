// Every signal that can reach a daemon, sent to a real `tulle run` with
// ipMasq on in a lab namespace: INT, TERM and QUIT stop it cleanly (exit 0,
// no control socket, no nftables table, no TUN); HUP re-reads the log level
// and restores what it keeps on the host, and it runs on; USR1 logs a status
// line, USR2 is ignored with a line, and neither starts Node's inspector nor
// ends the daemon. kill -9 cannot be caught: the next start — even without
// ipMasq — removes what the killed one left, and a clean stop leaves nothing.
import t, { type Test } from 'tap';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-daemon-signals-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const [a, b] = switchedHosts(lab, ['ga', 'gb']);
  const state = join(dir, 'state');
  const subnetFile = join(dir, 'subnet.env');
  const config = {
    network: '198.18.0.0/16',
    subnet: '198.18.1.0/24',
    underlay: { address: a.underlay },
    backend: { type: 'udp' },
    peers: [{ subnet: '198.18.2.0/24', address: b.underlay }],
    stateDir: state,
    subnetFile,
    ipMasq: true,
    logLevel: 'info',
  };
  const file = join(dir, 'a.yaml');
  const write = (changes: object = {}) => writeFileSync(file, stringify({ ...config, ...changes }));
  write();

  const hasTable = () => /table ip tulle/.test(lab.exec(a.ns, ['nft', 'list', 'tables']));
  const hasTun = () => lab.ip(a.ns, '-o', 'link', 'show').includes('tulle0:');
  const hasSocket = () => existsSync(join(state, 'tulle.sock'));
  const alive = (d: RunningDaemon) => d.child.exitCode === null && d.child.signalCode === null;
  /** Waits (bounded) for a log line matching `pattern`, or for the daemon to end. */
  const logged = async (d: RunningDaemon, pattern: RegExp) => {
    for (let i = 0; i < 100 && !pattern.test(d.log()) && alive(d); i++) await sleep(100);
    return pattern.test(d.log());
  };
  /** Everything the daemon set up is gone. */
  const clean = (t: Test, what: string) => {
    t.notOk(hasSocket(), `${what}: no control socket`);
    t.notOk(hasTable(), `${what}: no nftables table ip tulle`);
    t.notOk(hasTun(), `${what}: no TUN`);
  };

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGQUIT'] as const) {
    t.test(`${signal} stops the daemon cleanly`, async (t) => {
      const d = await startDaemon(lab, a.ns, file, state);
      t.ok(hasTable() && hasTun() && hasSocket(), 'running: table, TUN and socket are there');
      const code = await d.stop(signal);
      t.same({ code, signal: d.child.signalCode }, { code: 0, signal: null }, 'exit 0');
      t.match(d.log(), new RegExp(`"event":"signal","signal":"${signal}"`), 'the signal is logged');
      t.match(d.log(), /"event":"stopped"/, 'and the stop');
      clean(t, signal);
    });
  }

  t.test('SIGHUP re-reads the log level and restores the host state; the daemon runs on', async (t) => {
    write();
    const d = await startDaemon(lab, a.ns, file, state);
    t.teardown(() => d.stop());
    // What an operator or another tool may have undone behind the daemon's back.
    lab.exec(a.ns, ['nft', 'delete', 'table', 'ip', 'tulle']);
    rmSync(subnetFile);
    write({ logLevel: 'debug', batch: 32 });
    d.child.kill('SIGHUP');
    t.ok(await logged(d, /"event":"reloaded"/), 'a reloaded line');
    t.ok(alive(d), 'still running');
    t.match(d.log(), /"msg":"SIGHUP: [^"]*log level debug/, 'it names the new log level');
    t.match(d.log(), /"event":"restart needed","keys":\["batch"\]/, 'and the key that needs a restart');
    t.ok(hasTable(), 'the masquerade table is back');
    t.equal(
      readFileSync(subnetFile, 'utf8'),
      'FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.1.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n',
      'subnet.env is back',
    );
    t.ok((await d.status()).subnet === '198.18.1.0/24', 'and it answers on its socket');
    // A configuration that no longer loads is reported; the daemon runs on as it was.
    write({ batch: 'many' });
    d.child.kill('SIGHUP');
    t.ok(await logged(d, /"event":"reload refused"[^\n]*batch/), 'a broken configuration: reload refused, naming the key');
    t.ok(alive(d), 'and it runs on');
    write();
    t.equal(await d.stop(), 0, 'a later SIGTERM stops it cleanly');
    clean(t, 'after the stop');
  });

  t.test('SIGUSR1 logs a status line; SIGUSR2 is ignored with a line; neither ends the daemon or starts the inspector', async (t) => {
    write();
    const d = await startDaemon(lab, a.ns, file, state);
    t.teardown(() => d.stop());
    d.child.kill('SIGUSR1');
    t.ok(await logged(d, /"event":"status"/), 'SIGUSR1: a status line');
    t.match(d.log(), /"msg":"SIGUSR1: status: [^"]*subnet 198\.18\.1\.0\/24[^"]*1 peers routed/, 'naming the subnet and peers');
    d.child.kill('SIGUSR2');
    t.ok(await logged(d, /"event":"ignored","signal":"SIGUSR2"/), 'SIGUSR2: an ignored line');
    await sleep(500);
    t.ok(alive(d), 'still running');
    t.notMatch(d.log(), /Debugger listening/, 'no inspector');
    t.notMatch(lab.exec(a.ns, ['ss', '-Htln']), /:9229\b/, "nothing listens on the inspector's port");
    t.equal(await d.stop(), 0);
    clean(t, 'after the stop');
  });

  t.test('kill -9: a restart without ipMasq removes the stale table and socket; a clean stop then leaves nothing', async (t) => {
    write();
    const killed = await startDaemon(lab, a.ns, file, state);
    t.equal(await killed.stop('SIGKILL'), null, 'killed');
    t.ok(hasSocket(), 'it left its control socket');
    t.ok(hasTable(), 'and its masquerade table');
    t.notOk(hasTun(), 'the kernel removed the TUN with the process');
    const again = await startDaemon(lab, a.ns, file, state, ['--no-ip-masq']);
    t.teardown(() => again.stop());
    t.notOk(hasTable(), 'the restart without ipMasq removed the table');
    t.match(again.log(), /"event":"leftover removed"[^\n]*masquerade table/, 'and said so');
    t.match(again.log(), /"event":"leftover removed"[^\n]*control socket/, 'and the stale socket');
    t.equal(await again.stop(), 0);
    clean(t, 'after the clean stop');
  });
}
