// podman with its CNI backend inside a lab host: a keeper process holds the host's network namespace and a
// private mount namespace with tmpfs over /run and /var/lib, so nothing podman or the CNI plugins write
// outside the test's temp folder (netns mounts, /var/lib/cni, image caches) reaches the machine's own
// folders. Every podman command runs in the keeper's namespaces (`ip netns exec` would remount /sys and
// lose the cgroup mounts podman needs). Settings this machine needs: runc, not crun (hybrid cgroups), and
// ulimits root may set (no CAP_SYS_RESOURCE).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../../src/lab/netns.js';

export const IMAGE = 'localhost/tulle-busybox';
const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'ip', 'ping', 'nc', 'sleep', 'sha256sum', 'dd', 'cat', 'stat', 'ls', 'timeout'];

const CGROUPS = '/sys/fs/cgroup';
/** podman's cgroupfs parent, in every hierarchy; it stays after the last container unless removed. */
const CGROUP_PARENT = 'libpod_parent';

function cgroupParents(): string[] {
  return readdirSync(CGROUPS)
    .map((h) => join(CGROUPS, h, CGROUP_PARENT))
    .filter((d) => existsSync(d));
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export class PodmanHost {
  readonly dir: string;
  readonly netConfDir: string;
  readonly binDir: string;
  private keeper: ChildProcess | undefined;
  private readonly env: NodeJS.ProcessEnv;
  /** podman's cgroup parents that were there before: left alone at the end. */
  private readonly cgroupsBefore = new Set(cgroupParents());

  /** `ns`: the lab host's namespace; `dir`: this host's own temp folder. */
  constructor(
    lab: Lab,
    readonly ns: string,
    dir: string,
  ) {
    this.dir = dir;
    this.netConfDir = join(dir, 'net.d');
    this.binDir = join(dir, 'bin');
    for (const d of [this.netConfDir, this.binDir, join(dir, 'tmp')]) mkdirSync(d, { recursive: true });
    const nofile = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(
      join(dir, 'containers.conf'),
      [
        '[containers]',
        `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=4096:4096"]`,
        '[engine]',
        'runtime = "runc"',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `tmp_dir = "${join(dir, 'tmp')}"`,
        '[network]',
        'network_backend = "cni"',
        `cni_plugin_dirs = ["${this.binDir}", "/usr/lib/cni"]`,
        `network_config_dir = "${this.netConfDir}"`,
        // Never used (every run names its network), but podman's default is in 10.88/16.
        'default_subnet = "198.19.254.0/24"',
        '',
      ].join('\n'),
    );
    // vfs: plain copies of a 2 MB image, no overlay mounts to undo.
    writeFileSync(
      join(dir, 'storage.conf'),
      ['[storage]', 'driver = "vfs"', `graphroot = "${join(dir, 'storage')}"`, `runroot = "${join(dir, 'runroot')}"`, ''].join('\n'),
    );
    this.env = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf') };
    lab.onDispose(() => this.dispose());
  }

  /** Starts the keeper; resolves once its mounts are in place. */
  async start(): Promise<void> {
    const script = 'mount -t tmpfs tulle-run /run && mkdir /run/netns && mount -t tmpfs tulle-var-lib /var/lib && echo ready && exec sleep 100000';
    const keeper = spawn('nsenter', [`--net=/run/netns/${this.ns}`, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.keeper = keeper;
    let err = '';
    keeper.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    await new Promise<void>((resolve, reject) => {
      keeper.stdout!.once('data', () => resolve());
      keeper.once('exit', (code) => reject(new Error(`the podman namespace keeper for ${this.ns} exited with ${code}: ${err}`)));
    });
  }

  get pid(): number {
    if (this.keeper?.pid === undefined) throw new Error('start() first');
    return this.keeper.pid;
  }

  /** A path as the keeper's mount namespace sees it (its /run and /var/lib are its own). */
  path(p: string): string {
    return `/proc/${this.pid}/root${p}`;
  }

  /** Runs `command` in the keeper's namespaces with podman's private configuration. */
  exec(command: string[], options: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Run {
    const r = spawnSync('nsenter', ['-t', String(this.pid), '-m', '-n', ...command], {
      input: options.input,
      encoding: 'utf8',
      timeout: options.timeoutMs ?? 60_000,
      env: { ...this.env, ...options.env },
    });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error?.message || '') };
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

  /** The image: Debian's static busybox and a few applet links, imported (no registry is reachable). */
  importImage(): void {
    const rootfs = join(this.dir, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    mkdirSync(join(rootfs, 'tmp'), { recursive: true });
    copyFileSync(BUSYBOX, join(rootfs, 'bin', 'busybox'));
    for (const applet of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', applet));
    const r = this.exec(['sh', '-c', `tar -C '${rootfs}' -c . | podman import - ${IMAGE}`]);
    if (r.status !== 0) throw new Error(`podman import failed in ${this.ns}: ${r.stderr}`);
  }

  /**
   * Removes every container (which runs the plugin's DEL), ends the keeper, removes the temp folder and the
   * cgroup parents podman made. Runs before the temp folder (podman's configuration) goes: the test registers
   * its folder's removal after making its PodmanHosts.
   */
  dispose(): void {
    if (this.keeper === undefined) return;
    if (this.keeper.exitCode === null) {
      const r = this.podman(['rm', '-a', '-f', '-t', '0'], { timeoutMs: 60_000 });
      if (r.status !== 0) process.stderr.write(`podman rm -a in ${this.ns} failed (exit ${r.status}): ${r.stderr}\n`);
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.keeper = undefined;
    rmSync(this.dir, { recursive: true, force: true });
    for (const parent of cgroupParents().filter((d) => !this.cgroupsBefore.has(d))) {
      for (const dir of [join(parent, 'conmon'), parent]) {
        try {
          rmdirSync(dir);
        } catch {
          // still in use (another host's containers) or gone: the last host's dispose removes it
        }
      }
    }
  }
}
