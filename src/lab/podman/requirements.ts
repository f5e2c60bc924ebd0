/**
 * What `tulle demo --runtime podman` needs from the machine, looked up before
 * anything is built: podman (with its CNI backend), runc, a static busybox for
 * the image and the standard CNI plugins. Each missing piece is named with
 * the Debian package that brings it.
 */
import { accessSync, constants, closeSync, openSync, readSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where Debian puts the standard plugins, and where most other systems do. */
export const CNI_PLUGIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];
/** The plugins tulle's plugin hands containers to (bridge, host-local) and the one podman runs for lo. */
export const CNI_PLUGINS = ['bridge', 'host-local', 'loopback'];
const BUSYBOX_PATHS = ['/bin/busybox', '/usr/bin/busybox'];

export interface PodmanTools {
  podman: string;
  busybox: string;
  /** The folder with bridge, host-local and loopback. */
  cniDir: string;
}

export interface Missing {
  what: string;
  debianPackage: string;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A program on the PATH, or (`sbin`) in the sbin folders sudo may leave off it. */
function find(name: string, sbin = false): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  if (sbin) dirs.push('/usr/sbin', '/sbin', '/usr/bin', '/bin');
  return dirs.map((d) => join(d, name)).find(executable);
}

/**
 * Whether an ELF file has no program interpreter (PT_INTERP): a static program runs in an image without a
 * libc. Reads the 64-bit little-endian program headers; anything else counts as not static.
 */
export function isStaticElf(header: Buffer): boolean {
  if (header.length < 64 || header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) return false;
  const phoff = Number(header.readBigUInt64LE(32));
  const phentsize = header.readUInt16LE(54);
  const phnum = header.readUInt16LE(56);
  if (phoff + phentsize * phnum > header.length) return false;
  for (let i = 0; i < phnum; i++) if (header.readUInt32LE(phoff + i * phentsize) === 3) return false;
  return true;
}

function staticElf(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const header = Buffer.alloc(4096);
    return isStaticElf(header.subarray(0, readSync(fd, header, 0, header.length, 0)));
  } finally {
    closeSync(fd);
  }
}

/** The tools, or what is missing. */
export function findPodmanTools(): { tools: PodmanTools } | { missing: Missing[] } {
  const missing: Missing[] = [];
  const podman = find('podman');
  if (podman === undefined) missing.push({ what: 'podman', debianPackage: 'podman' });
  // podman looks for its runtime in the usual folders itself; crun fails on hybrid cgroup layouts, so the demo asks for runc.
  if (find('runc', true) === undefined) missing.push({ what: 'runc', debianPackage: 'runc' });
  for (const [tool, pkg] of [
    ['nsenter', 'util-linux'],
    ['unshare', 'util-linux'],
    ['tar', 'tar'],
  ]) {
    if (find(tool, true) === undefined) missing.push({ what: tool, debianPackage: pkg });
  }
  const busybox = BUSYBOX_PATHS.find((f) => executable(f) && staticElf(f));
  if (busybox === undefined) missing.push({ what: "a static busybox (the containers' image)", debianPackage: 'busybox-static' });
  const cniDir = CNI_PLUGIN_DIRS.find((d) => CNI_PLUGINS.every((p) => executable(join(d, p))));
  if (cniDir === undefined)
    missing.push({ what: `the CNI plugins ${CNI_PLUGINS.join(', ')} (in ${CNI_PLUGIN_DIRS.join(' or ')})`, debianPackage: 'containernetworking-plugins' });
  if (missing.length > 0 || podman === undefined || busybox === undefined || cniDir === undefined) return { missing };
  return { tools: { podman, busybox, cniDir } };
}

/** The message for what is missing (pure): one line each, then the install command. */
export function missingMessage(command: string, missing: Missing[]): string {
  const packages = [...new Set(missing.map((m) => m.debianPackage))];
  return [
    `${command}: podman containers need programs this machine lacks:`,
    ...missing.map((m) => `  ${m.what} (Debian package ${m.debianPackage})`),
    `Install them (Debian/Ubuntu): apt-get install --no-install-recommends ${packages.join(' ')}`,
    'or run the demo without podman: tulle demo (network namespaces only; needs iproute2)',
  ].join('\n');
}
