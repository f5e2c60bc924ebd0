// Drives test/helpers/udp-bursts.ts in lab namespaces: a burst sent while one tulle daemon is stopped
// (SIGSTOP), so the burst waits whole in front of it (its socket, or its TUN), and the receiver's report.
import { fileURLToPath } from 'node:url';
import type { Lab } from '../../src/lab/netns.js';
import type { Daemon } from '../../src/lab/topology.js';

const loader = import.meta.resolve('@tapjs/typescript/import');
const bursts = fileURLToPath(new URL('./udp-bursts.ts', import.meta.url));

export interface Received {
  flows: Record<string, { seqs: number[]; sha256: string }>;
  bad: number;
  foreign: number;
}

export interface Sent {
  sent: Record<string, { count: number; sha256: string }>;
}

export function burstTool(lab: Lab) {
  const command = (args: string[]) => [process.execPath, '--import', loader, bursts, ...args];
  /**
   * Starts a receiver of `expect` datagrams on `address:port` in `toNs`, stops `stopped` and runs `send` (udp-bursts.ts
   * arguments) in `fromNs`, goes on, and waits for the receiver's report (at most 25 s).
   */
  return async (fromNs: string, toNs: string, stopped: Daemon, args: { address: string; port: number; expect: number; send: string[] }) => {
    const receiver = lab.spawn(toNs, command(['recv', args.address, String(args.port), String(args.expect), '20']), { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    receiver.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<void>((resolve) => receiver.once('exit', () => resolve()));
    const deadline = Date.now() + 30_000;
    while (!out.includes('\n')) {
      if (receiver.exitCode !== null || Date.now() > deadline) throw new Error(`recv did not start: ${out}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    process.kill(stopped.process.pid!, 'SIGSTOP');
    let sent: Sent;
    try {
      sent = JSON.parse(lab.exec(fromNs, command(args.send), { timeoutMs: 60_000 })) as Sent;
    } finally {
      process.kill(stopped.process.pid!, 'SIGCONT');
    }
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 25_000))]);
    if (receiver.exitCode === null) receiver.stdin!.end();
    await exited;
    return { sent, received: JSON.parse(out.trim().split('\n').pop()!) as Received };
  };
}
