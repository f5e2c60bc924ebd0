/**
 * flannel's net-conf.json form (`Network`, `SubnetLen`, `Backend.Type` …)
 * read as tulle's camelCase keys. Problems and origins keep flannel's names,
 * so an error says `Backend.Type`, as the operator wrote it.
 */
import type { Origins, Problem } from './problems.js';

const TOP: Record<string, string> = {
  Network: 'network',
  SubnetLen: 'subnetLen',
  SubnetMin: 'subnetMin',
  SubnetMax: 'subnetMax',
  IPv6Network: 'ipv6Network',
};
const BACKEND: Record<string, string> = { Type: 'type', VNI: 'vni', Port: 'port', DirectRouting: 'directRouting' };
/** flannel keys that only matter when they ask for something tulle does not do. */
const ACCEPTED_WHEN: Record<string, { value: boolean; why: string }> = {
  EnableIPv4: { value: true, why: "tulle's overlay is IPv4: EnableIPv4 must be true" },
  EnableNFTables: { value: true, why: 'tulle always uses nftables' },
};

/** flannel reads IPv6Network only with EnableIPv6 true (dual stack): the two come together or not at all. */
function checkDualStack(input: Record<string, unknown>, problems: Problem[]): void {
  const enable = input.EnableIPv6;
  if (enable !== undefined && typeof enable !== 'boolean') problems.push({ path: ['EnableIPv6'], message: 'must be true or false', value: enable });
  else if (enable === true && !('IPv6Network' in input))
    problems.push({ path: ['EnableIPv6'], message: 'needs IPv6Network, the dual-stack network\'s IPv6 range, like "2001:db8:18::/48"', value: enable });
  else if (enable !== true && 'IPv6Network' in input)
    problems.push({
      path: ['IPv6Network'],
      message: 'is read only with EnableIPv6: true (flannel ignores it otherwise): add EnableIPv6: true or remove it',
      value: input.IPv6Network,
    });
}

/** True when the object uses flannel's capitalised keys. */
export function isFlannelForm(value: Record<string, unknown>): boolean {
  return Object.keys(value).some((k) => /^[A-Z]/.test(k));
}

export function fromFlannel(input: Record<string, unknown>): { value: Record<string, unknown>; origins: Origins; problems: Problem[] } {
  const value: Record<string, unknown> = {};
  const origins: Origins = new Map();
  const problems: Problem[] = [];
  checkDualStack(input, problems);
  for (const [key, v] of Object.entries(input)) {
    if (!/^[A-Z]/.test(key)) {
      value[key] = v; // tulle's own keys may sit beside flannel's
      continue;
    }
    const camel = TOP[key];
    if (camel !== undefined) {
      if (camel in input) problems.push({ path: [key], message: `given twice, as ${key} and as ${camel}: keep one` });
      value[camel] = v;
      origins.set(camel, { kind: 'key', name: key });
    } else if (key === 'Backend') {
      if ('backend' in input) problems.push({ path: [key], message: 'given twice, as Backend and as backend: keep one' });
      value.backend = backendFrom(v, origins, problems);
      origins.set('backend', { kind: 'key', name: 'Backend' });
    } else if (key === 'EnableIPv6') {
      continue; // checkDualStack
    } else if (key in ACCEPTED_WHEN) {
      if (typeof v === 'boolean' && key === 'EnableNFTables') continue;
      if (v !== ACCEPTED_WHEN[key].value) problems.push({ path: [key], message: ACCEPTED_WHEN[key].why, value: v });
    } else {
      problems.push({
        path: [key],
        message: `not a flannel key tulle knows; known: ${[...Object.keys(TOP), 'Backend', 'EnableIPv6', ...Object.keys(ACCEPTED_WHEN)].join(', ')}`,
        value: v,
      });
    }
  }
  return { value, origins, problems };
}

function backendFrom(v: unknown, origins: Origins, problems: Problem[]): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v; // the schema reports it
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(v as Record<string, unknown>)) {
    const camel = BACKEND[key];
    if (camel === undefined) {
      problems.push({ path: ['Backend', key], message: `not supported by tulle; supported: ${Object.keys(BACKEND).join(', ')}`, value: inner });
      continue;
    }
    out[camel] = inner;
    origins.set(`backend.${camel}`, { kind: 'key', name: `Backend.${key}` });
  }
  return out;
}
