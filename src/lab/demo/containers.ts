/**
 * Step 3: two "containers" behind each host: namespaces on a bridge in the
 * host that holds the subnet's .1; they get .2 and .3. Forwarding is switched
 * on by writing /proc from inside the host namespace, so only iproute2 and sh
 * are needed (no sysctl binary).
 */
import type { Lab } from '../netns.js';
import type { Host } from '../topology.js';

export interface Container {
  /** e.g. "h1c1". */
  name: string;
  ns: string;
  address: string;
}

/** "198.18.5.0/24" → "198.18.5.<n>" (pure). */
export function hostAddress(subnet: string, n: number): string {
  const [base, len] = subnet.split('/');
  if (len !== '24') throw new Error(`subnet ${subnet}: the demo expects /24 subnets`);
  return `${base.split('.').slice(0, 3).join('.')}.${n}`;
}

export function addContainers(lab: Lab, host: Host, index: number, subnet: string): Container[] {
  const bridge = 'cbr0';
  const gateway = hostAddress(subnet, 1);
  lab.ip(host.ns, 'link', 'add', bridge, 'type', 'bridge');
  lab.ip(host.ns, 'addr', 'add', `${gateway}/24`, 'dev', bridge);
  lab.ip(host.ns, 'link', 'set', bridge, 'up');
  lab.exec(host.ns, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
  return [1, 2].map((c) => {
    const name = `h${index + 1}c${c}`;
    const ns = lab.namespace(name);
    const port = `v-${name}`;
    lab.veth(host.ns, port, ns, 'eth0');
    lab.ip(host.ns, 'link', 'set', port, 'master', bridge, 'up');
    const address = hostAddress(subnet, c + 1);
    lab.ip(ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    lab.ip(ns, 'link', 'set', 'eth0', 'up');
    lab.ip(ns, 'route', 'add', 'default', 'via', gateway);
    return { name, ns, address };
  });
}
