/**
 * The host side of the engine: opens the TUN and the UDP socket, binds the
 * vxlan source-port pool, opens the tunnel TAP where whole super-packets may
 * leave (either backend), and probes the kernel for each offload on the way.
 * The engine gets the result (src/engine/engine.ts) and runs no commands and
 * opens nothing.
 *
 * Ownership: what setUpHost() returns belongs to the caller, who hands it to
 * Engine.start(), which from then on closes it (after its workers exit, or
 * when it fails to start). When setUpHost() itself fails part-way it closes
 * what it had opened.
 */
import { closeSync } from 'node:fs';
import type { EngineHost, Offloads, OffloadNote } from '../engine/engine.js';
import { loadNative } from '../native/load.js';
import { forwardDropPolicies } from './forward-filter.js';
import { openSourcePorts, type SourcePort } from './source-ports.js';
import { openTunnelTap, type TunnelTap } from './tunnel-tap.js';
import { decideWholeSuperPackets, wholeSuperPacketsOffNote, type WholeSuperPacketsProbes } from './whole-super-packets.js';

export interface HostOptions {
  /** TUN device name; created here, removed when the engine closes its fd. */
  tunName: string;
  /** Own underlay address and UDP port to listen on. */
  listenAddress: string;
  listenPort: number;
  backend: 'udp' | 'vxlan';
  /** Socket send/receive buffer size (default 8 MiB). */
  socketBufferBytes?: number;
  /**
   * vxlan: how many sockets, bound to distinct ports in 49152–65535, send the outer packets; a flow's
   * hash picks one, so its source port follows the flow (RFC 7348 §5) and a receiving NIC can spread
   * flows over queues. 1 sends everything from the listening port. Default 8. The udp backend always
   * sends from its listening port, as flannel's and socat's TUN-over-UDP peers expect.
   */
  sourcePorts?: number;
  /**
   * Offloads to use when the kernel has them (each defaults to true; udpTunnelGso to 'auto': on where
   * the checks in whole-super-packets.ts pass); every path works with none.
   */
  offloads?: Partial<OffloadChoices>;
  /** The underlay device (udpTunnelGso 'auto' checks that it segments UDP tunnels itself). */
  underlayDevice?: string;
}

export type OffloadChoices = Omit<Offloads, 'udpTunnelGso'> & { udpTunnelGso: boolean | 'auto' };

/** The host's own answers: ethtool through the addon, the firewalls through their tools. */
const hostProbes: WholeSuperPacketsProbes = {
  featureActive: (device, name) => loadNative().ethtoolFeatureActive(device, name),
  forwardDropPolicies,
};

/** Opens what the engine runs on and finds the offloads in force; see the ownership rule above. */
export function setUpHost(options: HostOptions): EngineHost {
  const native = loadNative();
  const family = options.listenAddress.includes(':') ? 6 : 4;
  const want: OffloadChoices = { tun: true, udpGso: true, udpGro: true, udpTunnelGso: 'auto', uso: true, ...options.offloads };
  const bufferBytes = options.socketBufferBytes ?? 8 << 20;
  const L = native.layout;
  const tun = native.tunOpen(options.tunName, L.TUN_NONBLOCK | (want.tun ? L.TUN_VNET_HDR : 0));
  let udpFd = -1;
  let pool: SourcePort[] = [];
  const offloads: Offloads = { tun: false, udpGso: false, udpGro: false, udpTunnelGso: false, uso: false };
  const notes: OffloadNote[] = [];
  let tap: TunnelTap | undefined;
  try {
    if (want.tun) {
      // TSO needs CSUM; USO is newer (6.2): tunSetOffload falls back when refused.
      const accepted = native.tunSetOffload(tun.fd, L.TUN_F_CSUM | L.TUN_F_TSO4 | L.TUN_F_TSO6 | L.TUN_F_USO4 | L.TUN_F_USO6);
      offloads.tun = accepted !== 0;
      const uso = L.TUN_F_USO4 | L.TUN_F_USO6;
      offloads.uso = want.uso && (accepted & uso) === uso;
    }
    udpFd = native.udpOpen(family, options.listenAddress, options.listenPort, bufferBytes);
    offloads.udpGso = want.udpGso && offloads.tun && native.udpProbeGso(udpFd);
    offloads.udpGro = want.udpGro && native.udpEnableGro(udpFd);
    if (options.backend === 'vxlan' && (options.sourcePorts ?? 8) > 1) {
      pool = openSourcePorts(native, family, options.listenAddress, options.sourcePorts ?? 8, bufferBytes);
    }
    const whole = decideWholeSuperPackets({ want: want.udpTunnelGso, tunOffloads: offloads.tun, underlayDevice: options.underlayDevice }, hostProbes);
    if (whole.asked) {
      const opened =
        whole.refused === undefined
          ? openTunnelTap(native, {
              tunName: tun.name,
              listenAddress: options.listenAddress,
              listenPort: options.listenPort,
              // None on the udp backend: its whole frames leave from the listening port, as its datagrams do.
              poolPorts: pool.map((p) => p.port),
            })
          : { refused: whole.refused };
      if ('tap' in opened) tap = opened.tap;
      else notes.push(wholeSuperPacketsOffNote(whole.auto, opened.refused));
      offloads.udpTunnelGso = tap !== undefined;
    }
  } catch (error) {
    for (const fd of [tun.fd, udpFd, ...pool.map((p) => p.fd)]) if (fd >= 0) closeSync(fd);
    throw error;
  }
  return {
    devices: { tun: { fd: tun.fd, name: tun.name, vnet: want.tun }, udpFd, sourcePorts: pool, tunnel: tap },
    offloads,
    notes,
  };
}
