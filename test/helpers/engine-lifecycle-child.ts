// Runs inside a fresh namespace: starts and stops an Engine three times in
// this process and reports open fds, threads and TUN devices after each cycle;
// then hands an engine a host set up for it with options it refuses, and
// reports what was left open.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setUpHost } from '../../src/daemon/host-setup.js';
import { Engine } from '../../src/engine/engine.js';
import { startEngine } from './engine.js';
import { RouteSnapshot } from '../../src/engine/routes.js';
import * as wire from '@tulle/wire';

const fds = () => readdirSync('/proc/self/fd').length;
const threads = () => readdirSync('/proc/self/task').length;
const links = () => execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
const tunUp = () => links().includes('tl0:');
const threadNames = () =>
  readdirSync('/proc/self/task')
    .map((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim())
    .filter((name) => name.startsWith('tulle-'));

const cycles: { fds: number; threads: number; tunWhileRunning: boolean; tunAfterStop: boolean; offloads: string; named: string[]; namedAfterStop: string[] }[] =
  [];
for (let i = 0; i < 3; i++) {
  const routes = new RouteSnapshot();
  routes.publish([{ address: '127.0.0.2', port: 8285, template: wire.udpBackend.template() }], [{ subnet: '198.18.2.0/24', peer: 0 }]);
  const engine = await startEngine(
    { tunName: 'tl0', listenAddress: '127.0.0.1', listenPort: 8285, backend: 'udp', subnet: '198.18.1.0/24', mtu: 1472 },
    routes,
  );
  const tunWhileRunning = tunUp();
  const named = threadNames();
  await engine.stop();
  cycles.push({
    fds: fds(),
    threads: threads(),
    tunWhileRunning,
    tunAfterStop: tunUp(),
    offloads: JSON.stringify(engine.offloads),
    named,
    namedAfterStop: threadNames(),
  });
}

// The engine owns what it is given from the call on: refusing its options, it must still close all of it.
const fdsBefore = fds();
const host = setUpHost({ tunName: 'tl0', listenAddress: '127.0.0.1', listenPort: 4789, backend: 'vxlan', offloads: { udpTunnelGso: true } });
const opened = { fds: fds() - fdsBefore, sourcePorts: host.devices.sourcePorts.length, tap: links().includes('tl0-tx:') };
let error = '';
try {
  await Engine.start(host, { backend: 'vxlan', subnet: '198.18.1.0/24', ipv6Subnet: '198.18.2.0/24', mtu: 1450 }, new RouteSnapshot());
} catch (e) {
  error = (e as Error).message;
}
const refused = {
  opened,
  error,
  fdsLeft: fds() - fdsBefore,
  devicesLeft: links()
    .split('\n')
    .filter((l) => / tl0(-tx)?:/.test(l)).length,
};
process.stdout.write(JSON.stringify({ cycles, refused }) + '\n');
