/**
 * The podman demo's step 3: podman on each lab host with a configuration of
 * its own (../podman/podman-host.ts), tulle's CNI plugin placed by the code
 * behind `tulle cni install` into the host's private plugin and conflist
 * folders, reading the host daemon's subnet.env, and a busybox image.
 */
import { join } from 'node:path';
import { installCni, INSTALL_DEFAULTS } from '../../cni/install.js';
import type { Lab } from '../netns.js';
import { PodmanHost } from '../podman/podman-host.js';
import type { PodmanTools } from '../podman/requirements.js';
import type { DemoDaemon } from './daemons.js';

/** The network's name (`podman run --network`). */
export const DEMO_NETWORK_NAME = 'tulle';

/** Makes the hosts (their clean-up registered with the lab); `start` brings them up. */
export function podmanHosts(lab: Lab, daemons: DemoDaemon[], dir: string, tools: PodmanTools): PodmanHost[] {
  return daemons.map((d, i) => new PodmanHost(lab, d.host.ns, join(dir, `host${i + 1}`), { cniDir: tools.cniDir }));
}

export async function startPodmanHosts(hosts: PodmanHost[], daemons: DemoDaemon[], tools: PodmanTools): Promise<void> {
  await Promise.all(hosts.map((h) => h.start()));
  for (const [i, h] of hosts.entries()) {
    h.importImage(tools.busybox);
    installCni({
      confDir: h.netConfDir,
      binDir: h.binDir,
      name: DEMO_NETWORK_NAME,
      subnetFile: join(daemons[i].stateDir, 'subnet.env'),
      // In the host's private /var/lib (a tmpfs that goes with it).
      dataDir: INSTALL_DEFAULTS.dataDir,
      force: false,
    });
  }
}

/**
 * After every container is removed: what CNI DEL must have released on each host (pure over the listings).
 * Returns one line per leftover, empty when clean.
 */
export function leftovers(host: string, listing: { leases: string[]; records: string[]; results: string[]; veths: number }): string[] {
  const out: string[] = [];
  if (listing.leases.length > 0) out.push(`${host}: host-local still holds ${listing.leases.join(', ')}`);
  if (listing.records.length > 0) out.push(`${host}: ${listing.records.length} attachment record(s) left in the plugin's dataDir`);
  if (listing.results.length > 0) out.push(`${host}: ${listing.results.length} cached CNI result(s) left`);
  if (listing.veths > 0) out.push(`${host}: ${listing.veths} veth(s) still on the bridge`);
  return out;
}
