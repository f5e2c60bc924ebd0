// Gossip peers as processes (dist/src/gossip/peer-main.js): start, read their
// JSON-line events, wait for conditions, end them by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/util/package-root.js';

export const peerMain = join(packageRoot(), 'dist', 'src', 'gossip', 'peer-main.js');

export interface PeerEvent {
  t: number;
  event: string;
  [k: string]: unknown;
}

export class Peer {
  readonly events: PeerEvent[] = [];
  /** Subnets in this peer's table, from its batches. */
  readonly table = new Set<string>();
  /** When each subnet was first added to the table (wall ms). */
  readonly firstSeen = new Map<string, number>();
  stderr = '';
  #waiters: (() => void)[] = [];

  constructor(
    readonly child: ChildProcess,
    readonly name: string,
  ) {
    let buf = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const e = JSON.parse(line) as PeerEvent;
        this.events.push(e);
        if (e.event === 'batch') {
          for (const s of e.removed as string[]) this.table.delete(s);
          for (const s of e.added as string[]) {
            this.table.add(s);
            if (!this.firstSeen.has(s)) this.firstSeen.set(s, e.t);
          }
        }
        for (const w of this.#waiters.splice(0)) w();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    child.once('exit', () => {
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  last(event: string): PeerEvent | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) if (this.events[i].event === event) return this.events[i];
    return undefined;
  }

  /** Resolves when `pred` holds (checked on every event), rejects after `timeoutMs`. */
  async until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (!this.running) throw new Error(`${this.name} exited while waiting for ${what}: ${this.stderr.slice(-500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no ${what} within ${timeoutMs} ms; stderr: ${this.stderr.slice(-500)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** SIGTERM (a graceful leave); SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  /** SIGKILL: a crash. */
  async crash(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** Starts a peer with `options` (GossipStoreOptions plus publicIP) through `launch` (plain spawn, or a lab namespace). */
export function startPeer(name: string, options: object, launch?: (argv: string[]) => ChildProcess): Peer {
  if (!existsSync(peerMain)) throw new Error(`${peerMain} is missing: run \`npm run build\` first`);
  const argv = [process.execPath, peerMain, JSON.stringify(options)];
  const child = launch ? launch(argv) : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Peer(child, name);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
