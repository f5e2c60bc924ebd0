/**
 * UDP ports: the backend's defaults and the one this host listens on.
 */
import * as wire from '@tulle/wire';

/** flannel's udp port, and RFC 7348's for vxlan (flannel's vxlan uses 8472: set backend.port to talk to it). */
export function defaultPort(backend: 'udp' | 'vxlan'): number {
  return backend === 'vxlan' ? wire.vxlan.PORT : wire.udpBackend.PORT;
}

/** The network-wide port: a peer whose lease names none listens here. */
export function networkPort(backend: { type: 'udp' | 'vxlan'; port?: number }): number {
  return backend.port ?? defaultPort(backend.type);
}

/** The port this host listens on: its own setting, else the network's. */
export function listenPort(backend: { type: 'udp' | 'vxlan'; port?: number }, underlayPort: number | undefined): number {
  return underlayPort ?? networkPort(backend);
}
