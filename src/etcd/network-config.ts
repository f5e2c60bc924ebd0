/**
 * One-shot access to `<prefix>/config` for tools and tests (`tulle config`,
 * set-up scripts): read and check it, or write it in flannel's form. Unlike
 * the store these do not wait for etcd: an unreachable etcd is an error.
 */
import { connectEtcd } from './etcd-client.js';
import { formatNetworkConfig, NetworkConfigError, parseNetworkConfig, type FlannelNetworkConfig, type NetworkConfigInput } from './flannel-config.js';
import { EtcdRegistry } from './etcd-registry.js';
import { DEFAULT_PREFIX } from './registry.js';

export interface EtcdTarget {
  endpoints: string[];
  /** Default /coreos.com/network. */
  prefix?: string;
  /** Deadline of each call, ms (default 5000). */
  callTimeoutMs?: number;
}

/** Reads and checks the network config; throws NetworkConfigError when it is missing or invalid. */
export async function readNetworkConfig(target: EtcdTarget): Promise<FlannelNetworkConfig> {
  return withRegistry(target, async (registry) => {
    const text = await registry.getConfig();
    if (text === undefined)
      throw new NetworkConfigError(registry.keys.configKey, [
        'the key is missing; allowed: a flannel network config like {"Network":"198.18.0.0/16","Backend":{"Type":"vxlan"}}',
      ]);
    return parseNetworkConfig(text, registry.keys.configKey);
  });
}

/**
 * Writes the network config as flannel reads it, with flannel's defaults
 * written out (SubnetLen, SubnetMin, SubnetMax, VNI). Returns the JSON written.
 * Throws NetworkConfigError, before touching etcd, for an invalid config.
 */
export async function writeNetworkConfig(target: EtcdTarget, config: NetworkConfigInput): Promise<string> {
  const text = formatNetworkConfig(config);
  await withRegistry(target, (registry) => registry.putConfig(text));
  return text;
}

async function withRegistry<T>(target: EtcdTarget, fn: (registry: EtcdRegistry) => Promise<T>): Promise<T> {
  const client = connectEtcd({ endpoints: target.endpoints, callTimeoutMs: target.callTimeoutMs });
  try {
    return await fn(new EtcdRegistry(client, target.prefix ?? DEFAULT_PREFIX));
  } finally {
    client.close();
  }
}
