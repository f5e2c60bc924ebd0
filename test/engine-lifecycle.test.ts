// A clean start and stop: the engine's threads are joined, its fds closed and
// its TUN removed, every time (three cycles in one process, in a namespace);
// and an engine that refuses its options closes what it was given.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { rootLab } from './helpers/lab.js';

const lab = rootLab(t);
if (lab) {
  const ns = lab.namespace('life');
  const child = fileURLToPath(new URL('./helpers/engine-lifecycle-child.ts', import.meta.url));
  const out = lab.exec(ns, [process.execPath, '--import', import.meta.resolve('@tapjs/typescript/import'), child], { timeoutMs: 60_000 });
  const { cycles, refused } = JSON.parse(out.trim().split('\n').pop()!) as {
    cycles: { fds: number; threads: number; tunWhileRunning: boolean; tunAfterStop: boolean; offloads: string; named: string[]; namedAfterStop: string[] }[];
    refused: { opened: { fds: number; sourcePorts: number; tap: boolean }; error: string; fdsLeft: number; devicesLeft: number };
  };
  t.equal(cycles.length, 3);
  for (const [i, c] of cycles.entries()) {
    t.equal(c.tunWhileRunning, true, `cycle ${i}: the TUN exists while the engine runs`);
    t.equal(c.tunAfterStop, false, `cycle ${i}: and is gone after stop()`);
    t.same(c.named, ['tulle-duplex'], `cycle ${i}: the data-plane thread is named, for top -H and profiles`);
    t.same(c.namedAfterStop, [], `cycle ${i}: and is gone after stop()`);
  }
  // The first cycle may start lazily created runtime threads and fds; after it, nothing may grow.
  t.equal(cycles[2].fds, cycles[1].fds, `no fd leaked (${cycles.map((c) => c.fds).join(', ')})`);
  t.equal(cycles[2].threads, cycles[1].threads, `no thread left running (${cycles.map((c) => c.threads).join(', ')})`);
  t.match(cycles[0].offloads, /"tun":true/, 'offloads were in force, so the offload paths were set up and torn down too');

  // TUN, listening socket, 8 source ports and (on kernels that take UDP-tunnel GSO frames) the tunnel TAP.
  t.ok(
    refused.opened.fds >= 10 && refused.opened.sourcePorts === 8,
    `the host set-up opened the TUN, the socket and the source ports (${refused.opened.fds} fds)`,
  );
  t.match(refused.error, /ipv6Subnet "198\.18\.2\.0\/24" is not an IPv6 prefix/, 'Engine.start refuses an IPv4 ipv6Subnet, naming it');
  t.equal(refused.fdsLeft, 0, 'and closes every fd it was given');
  t.equal(refused.devicesLeft, 0, `so the TUN${refused.opened.tap ? ' and the tunnel TAP are' : ' is'} gone`);
}
