/**
 * The overlay network as the configuration describes it, with flannel's
 * defaults for what it leaves out. The static and gossip stores serve it;
 * with etcd, the store's own is compared with it (start-plan.ts).
 */
import * as wire from '@tulle/wire';
import type { NetworkConfig } from '../../lease/lease.js';
import { defaultSubnetRange, parseCidr4 } from '../../util/cidr.js';
import type { DaemonConfig } from './schema.js';

/** The network as the configuration describes it, flannel's defaults filled in; undefined when it names none (etcd holds it). */
export function networkFromConfig(config: DaemonConfig): NetworkConfig | undefined {
  if (config.network === undefined) return undefined;
  const network = parseCidr4(config.network);
  const subnetLen = config.subnetLen ?? (config.subnet !== undefined ? parseCidr4(config.subnet).prefix : 24);
  const range = defaultSubnetRange(network, subnetLen);
  return {
    network: config.network,
    subnetLen,
    subnetMin: config.subnetMin ?? wire.formatIPv4(range.min),
    subnetMax: config.subnetMax ?? wire.formatIPv4(range.max),
    backendType: config.backend.type,
  };
}
