/**
 * podman with its CNI backend inside a lab host: a keeper process holds the
 * host's network namespace and a private mount namespace with tmpfs over /run
 * and /var/lib, so nothing podman or the CNI plugins write outside the host's
 * folder (container netns mounts, /var/lib/cni results and host-local leases)
 * reaches the machine's own folders, and all of it goes with the keeper.
 * Every podman command runs in the keeper's namespaces: `ip netns exec` would
 * remount /sys and lose the cgroup mounts podman needs. Containers run under
 * the lab's cgroup parent (./cgroups.ts), so they can be found and ended
 * after a crash.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shellQuote } from '../../util/shell-quote.js';
import type { Lab } from '../netns.js';
import { endCgroup, podmanCgroupName, removeCgroupFolders } from './cgroups.js';
import { containersConf, storageConf } from './podman-conf.js';

/** The containers' image: Debian's static busybox and a few applet links. */
export const IMAGE = 'localhost/tulle-busybox';
const APPLETS = ['sh', 'ip', 'ping', 'nc', 'sleep', 'sha256sum', 'dd', 'cat', 'stat', 'ls', 'timeout', 'head', 'wc'];

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface PodmanHostOptions {
  /** The folder with the standard CNI plugins (bridge, host-local, loopback). */
  cniDir?: string;
}

export class PodmanHost {
  readonly netConfDir: string;
  /** The host's own plugin folder (tulle's plugin goes here), searched before the system's. */
  readonly binDir: string;
  /** A script that runs podman in this host's namespaces with its configuration (for a kept lab). */
  readonly wrapper: string;
  /** `/<lab prefix>podman/<ns>`: this host's containers' cgroups. */
  readonly cgroupParent: string;
  private readonly labCgroup: string;
  private keeper: ChildProcess | undefined;
  private readonly env: NodeJS.ProcessEnv;

  /** `ns`: the lab host's namespace; `dir`: this host's own folder (removed on dispose). */
  constructor(
    lab: Lab,
    readonly ns: string,
    readonly dir: string,
    options: PodmanHostOptions = {},
  ) {
    this.netConfDir = join(dir, 'net.d');
    this.binDir = join(dir, 'bin');
    this.wrapper = join(dir, 'podman');
    this.labCgroup = podmanCgroupName(lab.prefix);
    this.cgroupParent = `/${this.labCgroup}/${ns}`;
    for (const d of [this.netConfDir, this.binDir, join(dir, 'tmp')]) mkdirSync(d, { recursive: true });
    const nofile = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
    const pluginDirs = [this.binDir, options.cniDir ?? '/usr/lib/cni'];
    writeFileSync(join(dir, 'containers.conf'), containersConf({ dir, netConfDir: this.netConfDir, pluginDirs, nofile }));
    writeFileSync(join(dir, 'storage.conf'), storageConf(dir));
    this.env = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf') };
    lab.onDispose(() => this.dispose());
  }

  /** Starts the keeper; resolves once its mounts are in place. */
  async start(): Promise<void> {
    const script = 'mount -t tmpfs tulle-run /run && mkdir /run/netns && mount -t tmpfs tulle-var-lib /var/lib && echo ready && exec sleep 100000';
    // detached: Ctrl-C on a terminal reaches the whole foreground group, and the keeper must outlive it to remove the containers.
    const keeper = spawn('nsenter', [`--net=/run/netns/${this.ns}`, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.keeper = keeper;
    let err = '';
    keeper.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    await new Promise<void>((resolve, reject) => {
      keeper.stdout!.once('data', () => resolve());
      keeper.once('error', reject);
      keeper.once('exit', (code) => reject(new Error(`the podman namespace keeper for ${this.ns} exited with ${code}: ${err}`)));
    });
    const env = ['CONTAINERS_CONF', 'CONTAINERS_STORAGE_CONF'].map((k) => `${k}=${shellQuote(this.env[k]!)}`).join(' ');
    writeFileSync(this.wrapper, `#!/bin/sh\nexec nsenter -t ${this.pid} -m -n env ${env} podman "$@"\n`, { mode: 0o755 });
  }

  get pid(): number {
    if (this.keeper?.pid === undefined) throw new Error('start() first');
    return this.keeper.pid;
  }

  /** A path as the keeper's mount namespace sees it (its /run and /var/lib are its own). */
  path(p: string): string {
    return `/proc/${this.pid}/root${p}`;
  }

  private nsenter(command: string[]): string[] {
    return ['-t', String(this.pid), '-m', '-n', ...command];
  }

  /** Runs `command` in the keeper's namespaces with podman's private configuration. */
  exec(command: string[], options: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Run {
    const r = spawnSync('nsenter', this.nsenter(command), {
      input: options.input,
      encoding: 'utf8',
      timeout: options.timeoutMs ?? 60_000,
      env: { ...this.env, ...options.env },
    });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error?.message || '') };
  }

  /** `exec` without blocking, so several hosts' commands run at once; killed after `timeoutMs`. */
  execAsync(command: string[], timeoutMs = 60_000): Promise<Run> {
    return new Promise((resolve) => {
      const child = spawn('nsenter', this.nsenter(command), { env: this.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.once('error', (error) => resolve({ status: null, stdout, stderr: stderr + error.message }));
      child.once('close', (status) => resolve({ status, stdout, stderr }));
    });
  }

  podman(args: string[], options: { timeoutMs?: number } = {}): Run {
    return this.exec(['podman', ...args], options);
  }

  /** podman, failing with its output when it fails. */
  ok(args: string[], options: { timeoutMs?: number } = {}): string {
    const r = this.podman(args, options);
    if (r.status !== 0) throw new Error(`podman ${args.join(' ')} in ${this.ns} failed (exit ${r.status}): ${r.stderr.trim()} ${r.stdout.trim()}`);
    return r.stdout.trim();
  }

  /** `podman run` under the lab's cgroup parent; `args` follow `run`. */
  run(args: string[]): Run {
    return this.podman(['run', '--cgroup-parent', this.cgroupParent, ...args]);
  }

  /** `run`, failing with podman's output when it fails; returns the container's id. */
  runOk(args: string[]): string {
    return this.ok(['run', '--cgroup-parent', this.cgroupParent, ...args]);
  }

  /** podman without blocking (hosts work at once), failing with its output when it fails. */
  async okAsync(args: string[], timeoutMs = 60_000): Promise<string> {
    const r = await this.execAsync(['podman', ...args], timeoutMs);
    if (r.status !== 0) throw new Error(`podman ${args.join(' ')} in ${this.ns} failed (exit ${r.status}): ${r.stderr.trim()} ${r.stdout.trim()}`);
    return r.stdout.trim();
  }

  /** The image from a static busybox (no registry needed): a rootfs with applet links, imported. */
  importImage(busybox = '/bin/busybox'): void {
    const rootfs = join(this.dir, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    mkdirSync(join(rootfs, 'tmp'), { recursive: true });
    copyFileSync(busybox, join(rootfs, 'bin', 'busybox'));
    for (const applet of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', applet));
    const r = this.exec(['sh', '-c', `tar -C ${shellQuote(rootfs)} -c . | podman import - ${IMAGE}`]);
    if (r.status !== 0) throw new Error(`podman import failed in ${this.ns}: ${r.stderr}`);
    rmSync(rootfs, { recursive: true, force: true });
  }

  /** Leaves the keeper (and so the containers' state) running past this process: a kept lab. */
  release(): void {
    this.keeper?.stdout?.destroy();
    this.keeper?.stderr?.destroy();
    this.keeper?.unref();
    this.keeper = undefined;
  }

  /**
   * Removes every container (podman runs the CNI plugins' DEL), ends the keeper (its tmpfs mounts go with
   * it) and whatever still runs in this host's cgroup, removes the folder and the lab's cgroup parent once
   * empty. Safe to call twice.
   */
  dispose(): void {
    if (this.keeper === undefined) return;
    // Without its configuration podman would act on the machine's own containers: never run it then.
    if (this.keeper.exitCode === null && existsSync(this.env.CONTAINERS_CONF!) && existsSync(this.env.CONTAINERS_STORAGE_CONF!)) {
      const r = this.podman(['rm', '-a', '-f', '-t', '0'], { timeoutMs: 60_000 });
      if (r.status !== 0) process.stderr.write(`podman rm -a in ${this.ns} failed (exit ${r.status}): ${r.stderr}\n`);
    }
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    this.keeper = undefined;
    endCgroup(this.cgroupParent.slice(1));
    rmSync(this.dir, { recursive: true, force: true });
    // Still in use while another host of the lab has containers: the last host's dispose removes it.
    removeCgroupFolders(this.labCgroup);
  }
}
