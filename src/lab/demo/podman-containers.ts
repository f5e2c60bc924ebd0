/**
 * The podman demo's containers: two per host on the network tulle's CNI
 * plugin serves, each checked to have an address in its host's lease.
 */
import { containsAddress, parseCidr4 } from '../../util/cidr.js';
import { IMAGE, type PodmanHost } from '../podman/podman-host.js';

export interface PodmanContainer {
  /** e.g. "h1c1". */
  name: string;
  host: PodmanHost;
  address: string;
}

/** Starts `perHost` containers on host `index` (named h<index+1>c<n>), one after the other, and reads their addresses. */
export async function startContainers(host: PodmanHost, index: number, network: string, subnet: string, perHost = 2): Promise<PodmanContainer[]> {
  const lease = parseCidr4(subnet);
  const containers: PodmanContainer[] = [];
  for (let c = 1; c <= perHost; c++) {
    const name = `h${index + 1}c${c}`;
    await host.okAsync(['run', '--cgroup-parent', host.cgroupParent, '-d', '--name', name, '--network', network, IMAGE, 'sleep', '100000']);
    const address = await host.okAsync(['inspect', '--format', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, name]);
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(address) || !containsAddress(lease, parseCidr4(`${address}/32`).network)) {
      throw new Error(`${name} got address "${address}", not one in its host's lease ${subnet}`);
    }
    containers.push({ name, host, address });
  }
  return containers;
}
