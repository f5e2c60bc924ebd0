// The `tulle` command (compiled, from dist/) inside lab namespaces: one-shot
// commands with their exit code and output, and daemons started from a
// configuration file, ready once their control socket answers.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lab } from '../../src/lab/netns.js';
import { controlRequest } from '../../src/daemon/control-client.js';
import { socketPath } from '../../src/daemon/state-dir.js';
import type { LeaseView, StatusView } from '../../src/daemon/status-view.js';
import { packageRoot } from '../../src/util/package-root.js';

export const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');

export interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function requireBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
}

/** Runs `tulle ARGS` in `ns` to completion; `prefix` goes before node (e.g. setpriv …). */
export function tulle(ns: string, args: string[], options: { env?: NodeJS.ProcessEnv; prefix?: string[] } = {}): Result {
  requireBuilt();
  const r = spawnSync('ip', ['netns', 'exec', ns, ...(options.prefix ?? []), process.execPath, CLI, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, ...options.env },
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** GET `url` from inside `ns` (a daemon's /metrics or /healthz is on the namespace's loopback); status 0 when unreachable. */
export function httpGet(lab: Lab, ns: string, url: string): { status: number; body: string } {
  return JSON.parse(
    lab.exec(ns, [
      process.execPath,
      '-e',
      `fetch(${JSON.stringify(url)}).then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })), (e) => console.log(JSON.stringify({ status: 0, body: String(e.cause ?? e) })))`,
    ]),
  ) as { status: number; body: string };
}

export interface RunningDaemon {
  child: ChildProcess;
  ns: string;
  stateDir: string;
  /** stderr so far: the daemon's log lines. */
  log(): string;
  status(): Promise<StatusView>;
  leases(): Promise<LeaseView[]>;
  /** Sends `signal` and resolves with the exit code (null when a signal ended it). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `tulle run -c FILE` in `ns` (with `env` over this process's environment); resolves once its control socket answers. */
export async function startDaemon(lab: Lab, ns: string, file: string, stateDir: string, extra: string[] = [], env?: NodeJS.ProcessEnv): Promise<RunningDaemon> {
  requireBuilt();
  const child = lab.spawn(ns, [process.execPath, CLI, 'run', '-c', file, ...extra], env !== undefined ? { env: { ...process.env, ...env } } : {});
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const socket = socketPath(stateDir);
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tulle run exited with ${child.exitCode} in ${ns}: ${stderr}`);
    try {
      await controlRequest(socket, 'status', 1000);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`tulle run did not answer on ${socket} within 15 s: ${stderr}`);
      await sleep(50);
    }
  }
  return {
    child,
    ns,
    stateDir,
    log: () => stderr,
    status: async () => (await controlRequest(socket, 'status')) as StatusView,
    leases: async () => (await controlRequest(socket, 'leases')) as LeaseView[],
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
