/** What `--keep` prints after the podman demo: how to look around a kept lab and how to take it down (pure). */
export interface KeptPodmanLab {
  hosts: { name: string; ns: string; stateDir: string; log: string; podman: string }[];
  containers: { name: string; address: string }[];
}

/** Commands with their comments lined up. */
function commented(lines: [string, string][]): string[] {
  const width = Math.max(...lines.map(([command]) => command.length));
  return lines.map(([command, comment]) => (comment === '' ? `  ${command}` : `  ${command.padEnd(width)}  # ${comment}`));
}

export function podmanExploreText(kept: KeptPodmanLab): string {
  const [h1] = kept.hosts;
  const [c1] = kept.containers;
  const far = kept.containers[kept.containers.length - 1];
  return [
    "The lab is up. Look around (as root). Each host's podman runs through a script that enters the host's namespaces",
    'with its own configuration (`tulle` is `node dist/src/cli/main.js` in a checkout):',
    '',
    ...commented([
      ...kept.hosts.map((h): [string, string] => [`${h.podman} ps`, `the containers on ${h.name}`]),
      [`${h1.podman} exec ${c1.name} ip addr`, `a container (${c1.address})`],
      [`${h1.podman} exec ${c1.name} ping -c 3 ${far.address}`, `${far.name}, on another host`],
      [`ip netns exec ${h1.ns} ip route`, "host 1: the overlay via tulle0, its containers' bridge cni0"],
      [`tulle status --state-dir ${h1.stateDir}`, ''],
      [`less ${h1.log}`, "the daemon's log"],
    ]),
    '',
    'Take it down (ends the daemons and the containers; removes the namespaces, cgroups and state dirs):',
    '',
    '  tulle lab down',
  ].join('\n');
}
