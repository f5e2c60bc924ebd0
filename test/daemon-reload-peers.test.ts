// SIGHUP reloads the static peers of a real `tulle run`: a peer added to the
// file gets a route (traffic reaches it), a removed one loses its lease, and
// a ping stream to the peer that stays loses nothing across the reload. A
// file that no longer passes the checks changes nothing.
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-daemon-reload-peers-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const [a, b, c] = switchedHosts(lab, ['pa', 'pb', 'pc']);
  const write = (name: string, config: object) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, stringify(config));
    return file;
  };
  const host = (name: string, subnet: string, address: string, peers: object[]) => ({
    network: '198.18.0.0/16',
    subnet,
    underlay: { address },
    backend: { type: 'udp' },
    peers,
    stateDir: join(dir, `state-${name}`),
    subnetFile: join(dir, `run-${name}`, 'subnet.env'),
    logLevel: 'info',
  });
  const peerA = { subnet: '198.18.1.0/24', address: a.underlay };
  const peerB = { subnet: '198.18.2.0/24', address: b.underlay };
  // A peer that is in a's first file only (nobody runs it), and c, in the second only.
  const gone = { subnet: '198.18.3.0/24', address: '192.0.2.99' };
  const peerC = { subnet: '198.18.4.0/24', address: c.underlay };
  const configA = (peers: object[], extra: object = {}) => ({ ...host('a', '198.18.1.0/24', a.underlay, peers), ...extra });
  const fileA = write('a', configA([peerB, gone]));
  const fileB = write('b', host('b', '198.18.2.0/24', b.underlay, [peerA]));
  const fileC = write('c', host('c', '198.18.4.0/24', c.underlay, [peerA]));

  const ping = (ns: string, to: string, count = 3) => lab.exec(ns, ['ping', '-c', String(count), '-i', '0.2', '-W', '2', to], { allowFailure: true });
  const alive = (d: RunningDaemon) => d.child.exitCode === null && d.child.signalCode === null;
  const logged = async (d: RunningDaemon, pattern: RegExp) => {
    for (let i = 0; i < 100 && !pattern.test(d.log()) && alive(d); i++) await sleep(100);
    return pattern.test(d.log());
  };
  const leaseStates = async (d: RunningDaemon) => Object.fromEntries((await d.leases()).map((l) => [l.subnet, l.state]));

  t.test('SIGHUP: an added peer is routed, a removed one is gone, and the unchanged peer loses no packet', async (t) => {
    const da = await startDaemon(lab, a.ns, fileA, join(dir, 'state-a'));
    const db = await startDaemon(lab, b.ns, fileB, join(dir, 'state-b'));
    const dc = await startDaemon(lab, c.ns, fileC, join(dir, 'state-c'));
    t.teardown(async () => {
      await da.stop();
      await db.stop();
      await dc.stop();
    });
    t.same(await leaseStates(da), { '198.18.1.0/24': 'own', '198.18.2.0/24': 'routed', '198.18.3.0/24': 'routed' }, 'before: b and the gone peer');
    t.match(ping(a.ns, '198.18.2.0'), / 0% packet loss/, 'a reaches b');
    t.match(ping(a.ns, '198.18.4.0', 2), / 100% packet loss/, 'c is not a peer yet: no way there');

    // A ping stream to b across the reload: 150 echoes 20 ms apart, each answered within 1 s.
    const stream = lab.spawn(a.ns, ['ping', '-c', '150', '-i', '0.02', '-W', '1', '198.18.2.0']);
    let streamOut = '';
    stream.stdout!.on('data', (chunk: Buffer) => (streamOut += chunk.toString()));
    const streamDone = new Promise<number | null>((resolve) => stream.once('exit', resolve));
    t.teardown(() => stream.kill());
    await sleep(1000);
    write('a', configA([peerB, peerC], { logLevel: 'debug' }));
    da.child.kill('SIGHUP');
    t.ok(await logged(da, /"event":"reloaded"/), 'a reloaded line');
    t.match(
      da.log(),
      /"event":"peers reloaded","added":\["198\.18\.4\.0\/24"\],"removed":\["198\.18\.3\.0\/24"\],"changed":\[\]/,
      'it logs the peers added and removed',
    );
    t.match(da.log(), /"msg":"SIGHUP: reloaded: log level debug \(was info\); peers added 198\.18\.4\.0\/24; removed 198\.18\.3\.0\/24;/, 'and sums it up');
    t.notMatch(da.log(), /"event":"restart needed"/, 'nothing needs a restart: the peers and the log level are live');
    const code = await streamDone;
    t.equal(code, 0, 'the ping stream ended with every echo answered');
    t.match(streamOut, /150 packets transmitted, 150 received, 0% packet loss/, 'no loss to the unchanged peer across the reload');

    t.same(await leaseStates(da), { '198.18.1.0/24': 'own', '198.18.2.0/24': 'routed', '198.18.4.0/24': 'routed' }, 'after: b and c, the gone peer removed');
    t.match(ping(a.ns, '198.18.4.0'), / 0% packet loss/, 'a reaches the added peer c');
    t.match(ping(a.ns, '198.18.2.0'), / 0% packet loss/, 'and still b');

    // A file that no longer passes the checks (a peer on a's own subnet) is refused whole: the peers stay.
    write('a', configA([peerB, { subnet: '198.18.1.0/25', address: c.underlay }]));
    da.child.kill('SIGHUP');
    t.ok(await logged(da, /"event":"reload refused"[^\n]*198\.18\.1\.0\/25/), 'a peer overlapping the own subnet: reload refused, naming it');
    t.same(await leaseStates(da), { '198.18.1.0/24': 'own', '198.18.2.0/24': 'routed', '198.18.4.0/24': 'routed' }, 'the peers stay as they were');
    t.ok(alive(da), 'a runs on');
    t.equal(await da.stop(), 0, 'and stops cleanly');
  });
}
