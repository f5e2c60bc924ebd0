/** What `--keep` prints: how to look around a kept lab and how to take it down (pure). */
import type { Container } from './containers.js';

export interface KeptLab {
  hosts: { name: string; ns: string; stateDir: string; log: string }[];
  containers: Container[];
}

export function exploreText(kept: KeptLab): string {
  const [h1] = kept.hosts;
  const [c1] = kept.containers;
  const far = kept.containers[kept.containers.length - 1];
  return [
    'The lab is up. Look around (as root; `tulle` is `node dist/src/cli/main.js` in a checkout):',
    '',
    `  ip netns exec ${c1.ns} ip addr                 # a container (${c1.address})`,
    `  ip netns exec ${h1.ns} ip route                # host 1: the overlay routes via tulle0`,
    `  ip netns exec ${h1.ns} ip -s link show tulle0  # tulle's TUN device`,
    `  tulle status --state-dir ${h1.stateDir}`,
    `  tulle leases --state-dir ${h1.stateDir}`,
    `  ip netns exec ${c1.ns} ping ${far.address}     # if ping is installed`,
    `  less ${h1.log}                                 # the daemon's log`,
    '',
    'Namespaces: ' + [...kept.hosts.map((h) => h.ns), ...kept.containers.map((c) => c.ns)].join(' '),
    '',
    'Take it down (ends the daemons, removes the namespaces and the state dirs):',
    '',
    '  tulle lab down',
  ].join('\n');
}
