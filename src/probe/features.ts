/**
 * Device offload features (GRO, checksum, TSO …) read and set through the
 * addon's SIOCETHTOOL calls, in this process's network namespace. Requests
 * look like `eth0:gro=on`, `eth0:gro=off` or `eth0:gro?` (read only).
 */
import type { EthtoolFeature } from '../native/addon.js';
import { loadNative } from '../native/load.js';

const FEATURES: readonly EthtoolFeature[] = ['gro', 'tx-checksum', 'rx-checksum', 'tso', 'gso', 'sg'];

export interface FeatureRequest {
  device: string;
  feature: EthtoolFeature;
  /** undefined: only read it. */
  on?: boolean;
}

/** Parses `dev:feature=on|off` or `dev:feature?`; throws naming the request and what is allowed. */
export function parseFeatureRequest(text: string): FeatureRequest {
  const m = /^([^:\s/]{1,15}):([a-z-]+)(?:=(on|off)|\?)$/.exec(text);
  if (!m) throw new RangeError(`feature request "${text}" must look like DEVICE:FEATURE=on, DEVICE:FEATURE=off or DEVICE:FEATURE?`);
  const feature = m[2] as EthtoolFeature;
  if (!FEATURES.includes(feature)) throw new RangeError(`feature request "${text}": feature "${m[2]}" is not one of ${FEATURES.join(', ')}`);
  return { device: m[1], feature, on: m[3] === undefined ? undefined : m[3] === 'on' };
}

/** What a request found: the state after it ran, or why it failed. */
export type FeatureState = { device: string; feature: EthtoolFeature; on: boolean } | { device: string; feature: EthtoolFeature; error: string };

/** Applies each request here (this namespace); never throws per device. */
export function applyFeatures(requests: FeatureRequest[]): FeatureState[] {
  let addon: ReturnType<typeof loadNative>;
  try {
    addon = loadNative();
  } catch (error) {
    return requests.map((r) => ({ device: r.device, feature: r.feature, error: (error as Error).message }));
  }
  return requests.map((r) => {
    try {
      if (r.on !== undefined) addon.ethtoolSet(r.device, r.feature, r.on);
      return { device: r.device, feature: r.feature, on: addon.ethtoolGet(r.device, r.feature) };
    } catch (error) {
      return { device: r.device, feature: r.feature, error: (error as Error).message };
    }
  });
}
