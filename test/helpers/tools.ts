// Runs test/helpers/traffic.ts inside lab namespaces: the tests' own traffic
// generators and checkers, which need no iperf3.
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../../src/lab/netns.js';

const loader = import.meta.resolve('@tapjs/typescript/import');
const traffic = fileURLToPath(new URL('./traffic.ts', import.meta.url));

export interface Transfer {
  sent: { bytes: number; sha256: string };
  received: { bytes: number; sha256: string };
}

export function trafficTools(lab: Lab) {
  const command = (args: string[]) => [process.execPath, '--import', loader, traffic, ...args];
  /** Runs a tool to completion and returns what it printed. */
  const run = (ns: string, ...args: string[]) => lab.exec(ns, command(args), { timeoutMs: 180_000 });
  /** Starts a tool (a server); the lab ends it. */
  const spawn = (ns: string, ...args: string[]) => lab.spawn(ns, command(args));
  /** Resolves with the first line a tool prints (servers print one once they listen). */
  const ready = (child: ChildProcess) =>
    new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]);
      });
      child.once('exit', (code) => reject(new Error(`tool exited with ${code} before printing`)));
    });
  /** A TCP transfer of `bytes` from `fromNs` to `address:port` in `toNs`, hashed on both ends. */
  const tcpTransfer = async (fromNs: string, toNs: string, address: string, port: number, bytes: number): Promise<Transfer> => {
    const server = spawn(toNs, 'tcp-server', address, String(port));
    const output = new Promise<string>((resolve) => {
      let out = '';
      server.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      server.once('exit', () => resolve(out));
    });
    await ready(server);
    const sent = JSON.parse(run(fromNs, 'tcp-client', address, String(port), String(bytes))) as Transfer['sent'];
    const received = JSON.parse((await output).trim().split('\n').pop()!) as Transfer['received'];
    return { sent, received };
  };
  return { run, spawn, ready, tcpTransfer };
}
