// Runs inside a fresh namespace: starts and stops an Engine three times in
// this process and reports open fds, threads and TUN devices after each cycle.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { startEngine } from './engine.js';
import { RouteSnapshot } from '../../src/engine/routes.js';
import * as wire from '../../src/wire/index.js';

const fds = () => readdirSync('/proc/self/fd').length;
const threads = () => readdirSync('/proc/self/task').length;
const tunUp = () => execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).includes('tl0:');

const cycles: { fds: number; threads: number; tunWhileRunning: boolean; tunAfterStop: boolean; offloads: string }[] = [];
for (let i = 0; i < 3; i++) {
  const routes = new RouteSnapshot();
  routes.publish([{ address: '127.0.0.2', port: 8285, template: wire.udpBackend.template() }], [{ subnet: '198.18.2.0/24', peer: 0 }]);
  const engine = await startEngine({ tunName: 'tl0', listenAddress: '127.0.0.1', listenPort: 8285, backend: 'udp', subnet: '198.18.1.0/24', mtu: 1472 }, routes);
  const tunWhileRunning = tunUp();
  await engine.stop();
  cycles.push({ fds: fds(), threads: threads(), tunWhileRunning, tunAfterStop: tunUp(), offloads: JSON.stringify(engine.offloads) });
}
process.stdout.write(JSON.stringify({ cycles }) + '\n');
