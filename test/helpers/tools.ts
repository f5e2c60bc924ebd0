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
  /** Starts a tool (a server) with its input open; the lab ends it. */
  const spawn = (ns: string, ...args: string[]) => lab.spawn(ns, command(args), { stdio: ['pipe', 'pipe', 'pipe'] });
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
  /** What a tool prints before it exits; rejects when it exits with an error or outlives `timeoutMs` (then it is ended). */
  const output = (child: ChildProcess, what: string, timeoutMs: number) =>
    new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${what}: not done within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new Error(`${what} exited with ${code}: ${err.slice(-500)}`));
      });
    });
  const lastLine = (out: string) => JSON.parse(out.trim().split('\n').pop()!) as unknown;
  /**
   * Starts a TCP transfer of `bytes` paced at `bytesPerSecond` without waiting for it (the event loop stays free
   * for faults meanwhile); resolves once the client is connected. `done` resolves with both hashes, or rejects
   * after `timeoutMs`.
   */
  const startTransfer = async (fromNs: string, toNs: string, address: string, port: number, bytes: number, bytesPerSecond: number, timeoutMs: number) => {
    const server = spawn(toNs, 'tcp-server', address, String(port));
    const serverOut = output(server, 'tcp-server', timeoutMs);
    await ready(server);
    const client = spawn(fromNs, 'tcp-client', address, String(port), String(bytes), String(bytesPerSecond));
    const clientOut = output(client, 'tcp-client', timeoutMs);
    let finished = false;
    const done = Promise.all([clientOut, serverOut]).then(([c, s]) => {
      finished = true;
      return { sent: lastLine(c), received: lastLine(s) } as Transfer;
    });
    done.catch(() => {}); // the caller sees it through `done`; a failure before it awaits must not end the process
    await ready(client);
    return { done, finished: () => finished };
  };
  return { run, spawn, ready, tcpTransfer, output, lastLine, startTransfer };
}
