/**
 * The podman demo's transfer step: a file of random bytes made in one
 * container goes to a container on another host over TCP (busybox nc), and
 * both ends' SHA-256 must match. The time runs from the send to the last byte
 * on the receiving side.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PodmanContainer } from './podman-containers.js';

export interface Transfer {
  bytes: number;
  seconds: number;
  sent: string;
  received: string;
}

const PORT = 5001;

/** MiB/s (pure). */
export function mibPerSecond(t: Transfer): number {
  return t.seconds > 0 ? t.bytes / 1048576 / t.seconds : 0;
}

function sha256(c: PodmanContainer, file: string): string {
  return c.host.ok(['exec', c.name, 'sha256sum', file]).split(' ')[0];
}

export async function verifiedTransfer(from: PodmanContainer, to: PodmanContainer, mib: number): Promise<Transfer> {
  from.host.ok(['exec', from.name, 'dd', 'if=/dev/urandom', 'of=/tmp/blob', 'bs=1048576', `count=${mib}`], { timeoutMs: 60_000 });
  const sent = sha256(from, '/tmp/blob');
  // busybox nc shuts its socket when its stdin ends, so the receiver's stdin stays open (sleep) and the sender's ends.
  to.host.ok(['exec', '-d', to.name, 'sh', '-c', `sleep 100000 | nc -l -p ${PORT} > /tmp/got`]);
  const began = Date.now();
  // The listener starts in the background: the sender retries while its connection is refused (30 tries, 0.1 s apart).
  const send = `n=0; until nc ${to.address} ${PORT} < /tmp/blob; do n=$((n+1)); [ $n -ge 30 ] && exit 1; sleep 0.1; done`;
  const r = await from.host.execAsync(['podman', 'exec', from.name, 'sh', '-c', send], 120_000);
  if (r.status !== 0) throw new Error(`nc from ${from.name} to ${to.address}:${PORT} failed (exit ${r.status}): ${r.stderr.trim()}`);
  const bytes = mib * 1048576;
  let size = 0;
  for (let n = 0; n < 100; n++) {
    size = Number(to.host.ok(['exec', to.name, 'stat', '-c', '%s', '/tmp/got']));
    if (size >= bytes) break;
    await sleep(100);
  }
  const seconds = (Date.now() - began) / 1000;
  if (size !== bytes) throw new Error(`${to.name} received ${size} of ${bytes} bytes`);
  return { bytes, seconds, sent, received: sha256(to, '/tmp/got') };
}
