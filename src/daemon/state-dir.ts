/**
 * The state dir: this host's own lease and host id (src/lease/state-file.ts,
 * so a restart asks for the same subnet and keeps its VTEP MAC), the control
 * socket and, by default, subnet.env. One per daemon.
 *
 * Default: /run/tulle, like flannel's /run/flannel. A daemon in another
 * network namespace than the host's (PID 1's, or the kernel's initial one
 * when PID 1 cannot be looked at) gets /run/tulle/netns-<inode>, so daemons
 * in lab namespaces do not share a socket, and `ip netns exec NS tulle
 * status` finds the daemon of NS without being told where.
 */
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_STATE_DIR = '/run/tulle';
export const SOCKET_NAME = 'tulle.sock';
export const SUBNET_FILE = 'subnet.env';

/** The inode of the initial network namespace (the kernel's PROC_NET_INIT_INO): the host's own. */
const INIT_NETNS_INODE = '4026531833';

export function defaultStateDir(): string {
  let own: string;
  try {
    own = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))?.[1] ?? INIT_NETNS_INODE;
  } catch {
    return DEFAULT_STATE_DIR;
  }
  // PID 1's namespace when we may look at it (a container's own), else the kernel's initial one.
  let host = INIT_NETNS_INODE;
  try {
    host = /\[(\d+)\]/.exec(readlinkSync('/proc/1/ns/net'))?.[1] ?? host;
  } catch {
    // not allowed to look at PID 1 (no CAP_SYS_PTRACE in some containers)
  }
  return own === host ? DEFAULT_STATE_DIR : join(DEFAULT_STATE_DIR, `netns-${own}`);
}

export function socketPath(stateDir: string): string {
  return join(stateDir, SOCKET_NAME);
}
