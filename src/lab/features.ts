/**
 * Device offload features (veth GRO above all) set from inside a namespace
 * without the ethtool binary: the probe entry's `features` command calls the
 * addon's SIOCETHTOOL functions, which act on the namespace they run in.
 */
import { probeCommand } from '../probe/entry.js';
import type { FeatureState } from '../probe/features.js';
import type { Lab } from './netns.js';

export type { FeatureState } from '../probe/features.js';

/**
 * Applies `requests` ("eth0:gro=on", "eth0:gro?") in `ns`, one process for all
 * of them. Never throws: a device or a process that fails gives an `error` entry.
 */
export function setFeatures(lab: Lab, ns: string, requests: string[]): FeatureState[] {
  try {
    return JSON.parse(lab.exec(ns, probeCommand(['features', ...requests]), { timeoutMs: 20_000 })) as FeatureState[];
  } catch (error) {
    const message = (error as Error).message;
    return requests.map((r) => ({ device: r.split(':')[0], feature: (r.split(':')[1] ?? '').split(/[=?]/)[0] as FeatureState['feature'], error: message }));
  }
}

/** "on", "off" or "off (why)" for one state: a failure reads as off, with its reason. */
export function featureSummary(state: FeatureState): string {
  return 'error' in state ? `off (${state.error})` : state.on ? 'on' : 'off';
}
