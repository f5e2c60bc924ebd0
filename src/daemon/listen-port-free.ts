/**
 * The backend's UDP port, checked once the store has settled it and before
 * the lease is asked for. The configuration checks probe the port the file
 * names, or the backend's default; with etcd the network's config may settle
 * another (flannel's vxlan without Backend.Port means 8472). Asking for the
 * lease first would rewrite it (a new VTEP MAC) and then fail to bind: the
 * other hosts would follow the new lease to a host that does not answer on
 * it, while whatever holds the port (flannel.1 on a host moving from flannel)
 * no longer gets their traffic.
 */
import { udpPortBusy } from './config/host-checks.js';

export async function ensureListenPortFree(address: string, port: number | undefined, store: string): Promise<void> {
  if (port === undefined || !(await udpPortBusy(address, port))) return;
  throw new Error(
    `UDP port ${port} on ${address} is in use by another program (a kernel vxlan device, such as flannel's flannel.1, ` +
      `holds its port on every address: ip -d link show type vxlan); free it and start again. ` +
      `The ${store} store was not asked for a lease, so this host's lease is as it was`,
  );
}
