/**
 * The tunnel TAP: where whole super-packets leave (native/src/tunnel.h).
 * tulle writes each TCP super-packet, with its outer Ethernet, IPv4 and UDP
 * headers (and, for vxlan, the VXLAN header and inner Ethernet), as one
 * UDP-tunnel GSO frame; the kernel takes the frame as received on the TAP,
 * forwards it to the underlay and cuts it into VXLAN or udp-backend datagrams
 * there (in a NIC that segments UDP tunnels, or in software), as it does for
 * its own vxlan devices. No segment is built in userspace.
 *
 * What the kernel needs for that, set here on the TAP alone: forwarding, and
 * accept_local (the frames carry our own underlay address as their source).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, readFileSync, writeFileSync } from 'node:fs';
import type { NativeAddon } from '../native/load.js';

export interface TunnelTap {
  fd: number;
  name: string;
  /** txBatch's tunnelParams (NativeLayout.TUNNEL_PARAMS_BYTES). */
  params: Uint8Array;
}

export interface TunnelTapOptions {
  /** The overlay TUN's name; the TAP is named after it. */
  tunName: string;
  /** Our underlay IPv4 address: the frames' source. */
  listenAddress: string;
  listenPort: number;
  /** The source-port pool's ports, in socket order (empty, as on the udp backend: the listening port only). */
  poolPorts: number[];
}

/** The TAP's name: the TUN's, shortened to leave room, with "-tx". */
export function tunnelTapName(tunName: string): string {
  return `${tunName.slice(0, 12)}-tx`;
}

/** Opens and sets up the TAP, or says why this host cannot have it. */
export function openTunnelTap(native: NativeAddon, o: TunnelTapOptions): { tap: TunnelTap } | { refused: string } {
  const L = native.layout;
  const octets = o.listenAddress.split('.').map(Number);
  if (octets.length !== 4 || octets.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) {
    return { refused: `the underlay address ${o.listenAddress} is not IPv4 (whole super-packets go over IPv4 only)` };
  }
  if (o.poolPorts.length * 2 + 12 > L.TUNNEL_PARAMS_BYTES) return { refused: `${o.poolPorts.length} source ports are more than the TAP's 64` };
  // The reverse-path filter in force on the TAP is the larger of `all` and the TAP's own; strict and
  // loose alike drop frames that carry our own address as their source (measured).
  const rpFilter = readSysctl('all/rp_filter');
  if (rpFilter !== undefined && rpFilter !== '0') {
    return {
      refused:
        `net.ipv4.conf.all.rp_filter is ${rpFilter}: the kernel would drop the TAP's frames, whose source is our own address ` +
        "(set it to 0; each interface's own rp_filter still applies to it)",
    };
  }
  const name = tunnelTapName(o.tunName);
  let fd: number;
  try {
    fd = native.tunOpen(name, L.TUN_TAP | L.TUN_VNET_TUNNEL | L.TUN_NONBLOCK).fd;
  } catch (error) {
    return { refused: `opening TAP ${name}: ${(error as Error).message}` };
  }
  try {
    const want = L.TUN_F_CSUM | L.TUN_F_TSO4 | L.TUN_F_TSO6 | L.TUN_F_UDP_TUNNEL_GSO | L.TUN_F_UDP_TUNNEL_GSO_CSUM;
    const accepted = native.tunSetOffload(fd, want);
    if ((accepted & want) !== want) {
      closeSync(fd);
      return { refused: "this kernel's TAP does not take UDP-tunnel GSO frames (TUN_F_UDP_TUNNEL_GSO, Linux 6.17 or later)" };
    }
    for (const [key, value] of [
      ['forwarding', '1'],
      ['accept_local', '1'],
      ['rp_filter', '0'],
    ] as const) {
      writeFileSync(`/proc/sys/net/ipv4/conf/${name}/${key}`, value);
    }
    execFileSync('ip', ['link', 'set', name, 'up'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const mac = readFileSync(`/sys/class/net/${name}/address`, 'utf8')
      .trim()
      .split(':')
      .map((h) => parseInt(h, 16));
    const params = new Uint8Array(L.TUNNEL_PARAMS_BYTES);
    params.set(mac, 0);
    params.set(octets, 6);
    const view = new DataView(params.buffer);
    view.setUint16(10, o.listenPort);
    o.poolPorts.forEach((port, i) => view.setUint16(12 + 2 * i, port));
    return { tap: { fd, name, params } };
  } catch (error) {
    closeSync(fd);
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return { refused: `setting up TAP ${name}: ${stderr || (error as Error).message}` };
  }
}

function readSysctl(path: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/net/ipv4/conf/${path}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
