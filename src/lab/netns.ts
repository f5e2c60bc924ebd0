/**
 * Network namespaces for tests, benches and the demo. Every namespace a Lab
 * creates carries the lab's per-run prefix; the lab removes them, and ends the
 * processes it started (by PID), on dispose, on process exit and on SIGINT /
 * SIGTERM / SIGHUP, so a crashed or interrupted run leaves nothing behind.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** All lab namespaces start with this; `tulle lab down` looks for it. */
export const LAB_PREFIX = 'tulle-';

export class CommandError extends Error {
  constructor(
    readonly command: string[],
    readonly status: number | null,
    readonly stderr: string,
  ) {
    super(`${command.join(' ')} failed (exit ${status}): ${stderr.trim() || '(no output)'}`);
    this.name = 'CommandError';
  }
}

/** Runs a command to completion; throws CommandError naming it when it fails. */
export function run(command: string[], options: { input?: string; timeoutMs?: number; allowFailure?: boolean } = {}): string {
  const result = spawnSync(command[0], command.slice(1), {
    input: options.input,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 30_000,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (result.error) throw new CommandError(command, null, result.error.message);
  if (result.status !== 0 && !options.allowFailure) throw new CommandError(command, result.status, result.stderr);
  return result.stdout;
}

const live = new Set<Lab>();
let hooked = false;

function disposeAll(): void {
  for (const lab of live) lab.dispose();
}

function hookProcess(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', disposeAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      disposeAll();
      process.kill(process.pid, signal);
    });
  }
}

export class Lab {
  /** e.g. "tulle-3fa2c1-": unique to this run. */
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private readonly cleanups: (() => void)[] = [];

  constructor(tag = randomBytes(3).toString('hex')) {
    this.prefix = `${LAB_PREFIX}${tag}-`;
    live.add(this);
    hookProcess();
  }

  /** Creates namespace `<prefix><name>` with loopback up; returns its full name. */
  namespace(name: string): string {
    const full = this.prefix + name;
    run(['ip', 'netns', 'add', full]);
    this.namespaces.push(full);
    run(['ip', '-n', full, 'link', 'set', 'lo', 'up']);
    return full;
  }

  /** `ip -n <ns> …` */
  ip(ns: string, ...args: string[]): string {
    return run(['ip', '-n', ns, ...args]);
  }

  /** Runs a command inside `ns` to completion. */
  exec(ns: string, command: string[], options?: { input?: string; timeoutMs?: number; allowFailure?: boolean }): string {
    return run(['ip', 'netns', 'exec', ns, ...command], options);
  }

  /** Starts a long-running command inside `ns`; the lab ends it (by PID) on dispose. */
  spawn(ns: string, command: string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, ...command], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Joins two namespaces with a veth pair named `<a-if>`/`<b-if>`. */
  veth(a: string, aIf: string, b: string, bIf: string): void {
    run(['ip', 'link', 'add', aIf, 'netns', a, 'type', 'veth', 'peer', bIf, 'netns', b]);
  }

  /** Runs `fn` (synchronously) when the lab is disposed, after its processes have ended. */
  onDispose(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /**
   * Leaves the lab up: forgets its namespaces, processes and clean-ups without
   * touching them, so they outlive this process (`tulle lab down` removes them).
   */
  release(): void {
    for (const child of this.children) child.unref();
    this.children.clear();
    this.cleanups.length = 0;
    this.namespaces.length = 0;
    live.delete(this);
  }

  /** Ends the lab's processes and removes its namespaces. Safe to call twice. */
  dispose(): void {
    for (const child of this.children) {
      if (child.exitCode === null && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    this.children.clear();
    for (const fn of this.cleanups.splice(0)) {
      try {
        fn();
      } catch {
        // best effort: keep cleaning up
      }
    }
    while (this.namespaces.length > 0) {
      const ns = this.namespaces.pop()!;
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    }
    live.delete(this);
  }
}

/** Namespaces left by earlier runs (any lab prefix). */
export function leftoverNamespaces(): string[] {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  return out
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter((name) => name.startsWith(LAB_PREFIX));
}
