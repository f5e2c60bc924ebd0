// systemd's Type=notify, with a real `tulle run` in a lab namespace and a
// receiver on NOTIFY_SOCKET standing in for systemd (python3, which node-gyp
// needs anyway: Node has no unix datagram sockets). The receiver looks at the
// host the moment READY=1 arrives: the TUN, its route, subnet.env and the
// control socket must all be there. A SIGHUP is RELOADING=1 with
// MONOTONIC_USEC, then READY=1; SIGTERM is STOPPING=1. An abstract socket
// name (@…) works too, and without NOTIFY_SOCKET nothing is sent.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon } from './helpers/daemon.js';

/** Binds argv[1] (a path, or @name for an abstract socket); one JSON line per datagram, with what the host holds then. */
const RECEIVER = `
import json, os, socket, subprocess, sys
name, ns, subnet_env, control = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('\\0' + name[1:] if name.startswith('@') else name)
print(json.dumps({'bound': True}), flush=True)
s.settimeout(60)
while True:
    message = s.recv(4096).decode()
    seen = {
        'subnetEnv': os.path.exists(subnet_env),
        'control': os.path.exists(control),
        'tun': subprocess.run(['ip', '-n', ns, 'link', 'show', 'tulle0'], capture_output=True).returncode == 0,
        'route': 'tulle0' in subprocess.run(['ip', '-n', ns, 'route', 'show', 'exact', '198.18.0.0/16'], capture_output=True, text=True).stdout,
    }
    print(json.dumps({'message': message, **seen}), flush=True)
    if 'STOPPING=1' in message.split('\\n'):
        break
`;

interface Seen {
  message: string;
  subnetEnv: boolean;
  control: boolean;
  tun: boolean;
  route: boolean;
}

interface Receiver {
  child: ChildProcess;
  seen: Seen[];
  /** Waits (bounded) until `count` datagrams have arrived. */
  until(count: number): Promise<Seen[]>;
}

async function receive(command: string[]): Promise<Receiver> {
  const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const seen: Seen[] = [];
  let bound = false;
  let stderr = '';
  let buffer = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) {
      const value = JSON.parse(line) as Seen & { bound?: boolean };
      if (value.bound) bound = true;
      else seen.push(value);
    }
  });
  for (let i = 0; i < 100 && !bound; i++) {
    if (child.exitCode !== null) throw new Error(`the receiver exited: ${stderr}`);
    await sleep(50);
  }
  if (!bound) throw new Error(`the receiver did not bind within 5 s: ${stderr}`);
  return {
    child,
    seen,
    until: async (count) => {
      for (let i = 0; i < 200 && seen.length < count; i++) await sleep(50);
      return seen;
    },
  };
}

const lines = (message: string) => message.split('\n');

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-daemon-systemd-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const [a, b] = switchedHosts(lab, ['sa', 'sb']);
  const state = join(dir, 'state');
  const subnetFile = join(dir, 'run', 'subnet.env');
  const control = join(state, 'tulle.sock');
  const file = join(dir, 'a.yaml');
  writeFileSync(
    file,
    stringify({
      network: '198.18.0.0/16',
      subnet: '198.18.1.0/24',
      underlay: { address: a.underlay },
      backend: { type: 'udp' },
      peers: [{ subnet: '198.18.2.0/24', address: b.underlay }],
      stateDir: state,
      subnetFile,
    }),
  );
  const receiverArgs = (name: string) => ['python3', '-c', RECEIVER, name, a.ns, subnetFile, control];

  t.test('READY=1 only once the TUN, its route, subnet.env and the control socket are there; RELOADING=1 … READY=1; STOPPING=1', async (t) => {
    const socket = join(dir, 'notify.sock');
    const receiver = await receive(receiverArgs(socket));
    t.teardown(() => receiver.child.kill());
    const d = await startDaemon(lab, a.ns, file, state, [], { NOTIFY_SOCKET: socket });
    t.teardown(() => d.stop());
    const [ready] = await receiver.until(1);
    t.ok(ready, 'a message came');
    t.ok(lines(ready.message).includes('READY=1'), `READY=1 (${JSON.stringify(ready.message)})`);
    t.match(ready.message, /^STATUS=subnet 198\.18\.1\.0\/24, udp, 1 peers routed$/m, 'with a status line');
    t.same(
      { tun: ready.tun, route: ready.route, subnetEnv: ready.subnetEnv, control: ready.control },
      { tun: true, route: true, subnetEnv: true, control: true },
      'when it arrived: the TUN, the route into the overlay, subnet.env and the control socket were in place',
    );

    d.child.kill('SIGHUP');
    const afterHup = await receiver.until(3);
    const [reloading, readyAgain] = afterHup.slice(1, 3);
    t.ok(reloading && lines(reloading.message).includes('RELOADING=1'), 'SIGHUP: RELOADING=1 first');
    const usec = Number(/^MONOTONIC_USEC=(\d+)$/m.exec(reloading?.message ?? '')?.[1]);
    // CLOCK_MONOTONIC, as systemd reads it: the system's uptime, never the wall clock.
    const uptime = Number(/^[\d.]+/.exec(lab.exec(a.ns, ['cat', '/proc/uptime']))![0]);
    t.ok(Math.abs(usec / 1e6 - uptime) < 30, `with MONOTONIC_USEC on the monotonic clock (${usec} µs, uptime ${uptime} s)`);
    t.ok(readyAgain && lines(readyAgain.message).includes('READY=1'), 'then READY=1 again');

    t.equal(await d.stop(), 0, 'SIGTERM: exit 0');
    const all = await receiver.until(4);
    t.ok(all[3] && lines(all[3].message).includes('STOPPING=1'), 'STOPPING=1 at the stop');
    t.equal(all.length, 4, 'nothing else');
  });

  t.test('an abstract socket name (@…) is reached in the daemon\u2019s own namespace', async (t) => {
    const name = `@tulle-notify-${process.pid}`;
    // Abstract names belong to a network namespace: the receiver listens in the daemon's.
    const receiver = await receive(['ip', 'netns', 'exec', a.ns, ...receiverArgs(name)]);
    t.teardown(() => receiver.child.kill());
    const d = await startDaemon(lab, a.ns, file, state, [], { NOTIFY_SOCKET: name });
    const [ready] = await receiver.until(1);
    t.ok(ready && lines(ready.message).includes('READY=1'), 'READY=1 arrives');
    t.equal(await d.stop(), 0);
    const all = await receiver.until(2);
    t.ok(all[1] && lines(all[1].message).includes('STOPPING=1'), 'STOPPING=1 arrives');
  });

  t.test('a NOTIFY_SOCKET nobody listens on is a warning, and the daemon runs as usual', async (t) => {
    const missing = join(dir, 'nobody.sock');
    const d = await startDaemon(lab, a.ns, file, state, [], { NOTIFY_SOCKET: missing });
    // READY=1 follows the control socket's first answer by a little.
    for (let i = 0; i < 100 && !/"event":"notify failed"/.test(d.log()); i++) await sleep(50);
    t.match(d.log(), /"event":"notify failed"[^\n]*nobody\.sock/, 'one warning naming the socket');
    t.equal((await d.status()).subnet, '198.18.1.0/24', 'it answers on its socket');
    t.equal(await d.stop(), 0, 'and stops cleanly');
    t.equal(d.log().match(/"event":"notify failed"/g)?.length, 1, 'only one warning, not one per message');
    t.notOk(existsSync(missing), 'no socket file was made');
  });
}
