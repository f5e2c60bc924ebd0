/**
 * podman's configuration for a lab host, private to one run (pure: paths in,
 * file text out). Without CONTAINERS_CONF and CONTAINERS_STORAGE_CONF pointing
 * at these, any podman command (even `podman version`) writes state under
 * /var/lib/containers, /run/containers and /etc/cni/net.d.
 */
import { join } from 'node:path';

export interface PodmanConfPaths {
  /** The host's own folder: storage, run root and temp files go under it. */
  dir: string;
  netConfDir: string;
  /** Plugin folders, searched in order: tulle's own first, then the system's bridge and host-local. */
  pluginDirs: string[];
  /** `ulimit -Hn`: the most open files root may ask for here. */
  nofile: string;
}

/**
 * runc, not crun (crun refuses hybrid cgroup layouts); ulimits root may set (podman's default nofile of
 * 1048576 fails without CAP_SYS_RESOURCE); the CNI backend; a default subnet inside the overlay's test
 * range, never used (every run names its network) but podman's own default is 10.88.0.0/16.
 */
export function containersConf(p: PodmanConfPaths): string {
  return [
    '[containers]',
    `default_ulimits = ["nofile=${p.nofile}:${p.nofile}", "nproc=4096:4096"]`,
    '[engine]',
    'runtime = "runc"',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `tmp_dir = ${JSON.stringify(join(p.dir, 'tmp'))}`,
    '[network]',
    'network_backend = "cni"',
    `cni_plugin_dirs = [${p.pluginDirs.map((d) => JSON.stringify(d)).join(', ')}]`,
    `network_config_dir = ${JSON.stringify(p.netConfDir)}`,
    'default_subnet = "198.19.254.0/24"',
    '',
  ].join('\n');
}

/** vfs: plain copies of a 2 MB image, no overlay mounts to undo. */
export function storageConf(dir: string): string {
  return ['[storage]', 'driver = "vfs"', `graphroot = ${JSON.stringify(join(dir, 'storage'))}`, `runroot = ${JSON.stringify(join(dir, 'runroot'))}`, ''].join(
    '\n',
  );
}
