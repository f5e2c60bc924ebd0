/**
 * Step 1: three hosts on one underlay bridge (192.0.2.1-3), veth GRO on
 * without the ethtool binary (the addon's SIOCETHTOOL, see ../features.ts).
 */
import type { Lab } from '../netns.js';
import { featureSummary, setFeatures } from '../features.js';
import { switchedHosts, type Host } from '../topology.js';

export const HOST_NAMES = ['host1', 'host2', 'host3'];

export interface DemoHosts {
  hosts: Host[];
  /** "on", or "off (why)". */
  gro: string;
}

export function buildHosts(lab: Lab): DemoHosts {
  const hosts = switchedHosts(lab, HOST_NAMES);
  const states = hosts.flatMap((h) => setFeatures(lab, h.ns, ['eth0:gro=on']));
  const summaries = [...new Set(states.map(featureSummary))];
  return { hosts, gro: summaries.length === 1 ? summaries[0] : `mixed (${summaries.join('; ')})` };
}
