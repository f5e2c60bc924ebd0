/** Which external tools are installed (impure: looks at the PATH). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The tool's path on the PATH (or in the usual sbin folders, which sudo may leave off), or undefined. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The Debian package that ships each tool the bench may use. */
export const DEBIAN_PACKAGE: Record<string, string> = {
  ip: 'iproute2',
  bridge: 'iproute2',
  iperf3: 'iperf3',
  ping: 'iputils-ping',
  socat: 'socat',
  'wireguard-go': 'wireguard-go',
  wg: 'wireguard-tools',
  nebula: 'nebula',
  'nebula-cert': 'nebula',
  tincd: 'tinc',
  'rsvg-convert': 'librsvg2-bin',
  perf: 'linux-perf',
};

export function installHint(tool: string): string {
  return `apt-get install -y ${DEBIAN_PACKAGE[tool] ?? tool}`;
}
