/**
 * What other programs read about this host's lease: flannel's subnet.env
 * (Docker's unit and CNI's flannel plugin source it) and, on request, the
 * Docker options flannel's mk-docker-opts.sh derives from it. Pure text.
 */
import { firstAddress, parseCidr4 } from '../util/cidr.js';

export interface HostLease {
  network: string;
  subnet: string;
  mtu: number;
  ipMasq: boolean;
}

/** The subnet's first host address with its prefix: the bridge's address (Docker's --bip), as flannel writes it. */
export function bridgeAddress(subnet: string): string {
  const c = parseCidr4(subnet);
  return `${firstAddress(c, c.prefix >= 31 ? 0 : 1)}/${c.prefix}`;
}

export function subnetEnv(lease: HostLease): string {
  return [
    `FLANNEL_NETWORK=${lease.network}`,
    `FLANNEL_SUBNET=${bridgeAddress(lease.subnet)}`,
    `FLANNEL_MTU=${lease.mtu}`,
    `FLANNEL_IPMASQ=${lease.ipMasq}`,
    '',
  ].join('\n');
}

/**
 * mk-docker-opts.sh's output: Docker masquerades only when tulle does not
 * (FLANNEL_IPMASQ=true → --ip-masq=false), so traffic is not translated twice.
 */
export function dockerOpts(lease: HostLease): string {
  const bip = `--bip=${bridgeAddress(lease.subnet)}`;
  const masq = `--ip-masq=${!lease.ipMasq}`;
  const mtu = `--mtu=${lease.mtu}`;
  return [`DOCKER_OPT_BIP="${bip}"`, `DOCKER_OPT_IPMASQ="${masq}"`, `DOCKER_OPT_MTU="${mtu}"`, `DOCKER_OPTS=" ${bip} ${masq} ${mtu}"`, ''].join('\n');
}
