/**
 * Checks across fields for what path health adds to the configuration: its
 * probe port must not be one the daemon already listens on, and the gossip
 * store's probe timeout must stay below its protocol period.
 */
import { PRESETS } from '../../gossip/config.js';
import { valueAt, type Problem } from '../config/problems.js';
import { port } from '../config/schema.js';
import { defaultPort } from '../ports.js';

const DEFAULT_PROBE_PORT = 7947;
const DEFAULT_GOSSIP_PORT = 7946;

function valid(input: unknown, path: string[]): number | undefined {
  const r = port.safeParse(valueAt(input, path));
  return r.success ? r.data : undefined;
}

export function pathHealthChecks(input: unknown): Problem[] {
  const problems: Problem[] = [];
  const given = valueAt(input, ['pathHealth', 'port']);
  const probePort = given === undefined ? DEFAULT_PROBE_PORT : valid(input, ['pathHealth', 'port']);
  const storeType = valueAt(input, ['store', 'type']) ?? 'static';
  const backendType = valueAt(input, ['backend', 'type']);
  if (probePort !== undefined) {
    const taken: [string, number | undefined][] = [];
    if (storeType === 'gossip')
      taken.push(['store.port (gossip)', valueAt(input, ['store', 'port']) === undefined ? DEFAULT_GOSSIP_PORT : valid(input, ['store', 'port'])]);
    if (backendType === 'udp' || backendType === 'vxlan')
      taken.push([`the ${backendType} backend's port`, valid(input, ['underlay', 'port']) ?? valid(input, ['backend', 'port']) ?? defaultPort(backendType)]);
    for (const [what, p] of taken)
      if (p === probePort)
        problems.push({ path: ['pathHealth', 'port'], message: `is ${what} too: the path probe needs a UDP port of its own`, value: probePort });
  }
  if (storeType === 'gossip') {
    const preset = valueAt(input, ['store', 'preset']) === 'local' ? PRESETS.local : PRESETS.lan;
    const interval = valueAt(input, ['store', 'probeIntervalMs']);
    const timeout = valueAt(input, ['store', 'probeTimeoutMs']);
    const i = typeof interval === 'number' ? interval : preset.probeIntervalMs;
    const t = typeof timeout === 'number' ? timeout : preset.probeTimeoutMs;
    if (t >= i)
      problems.push({
        path: timeout !== undefined ? ['store', 'probeTimeoutMs'] : ['store', 'probeIntervalMs'],
        message: `gives a probe timeout of ${t} ms and a protocol period of ${i} ms: the timeout must be shorter`,
        value: timeout !== undefined ? t : i,
      });
  }
  return problems;
}
