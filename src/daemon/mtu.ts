/**
 * The overlay MTU: the underlay device's MTU less what the backend adds
 * (RFC 7348 §4.3: VTEPs do not fragment, so inner packets must fit).
 */
import * as wire from '@tulle/wire';

/** Bytes the backend adds in front of an inner packet on the wire, outer IP and UDP included. */
export function overhead(backend: 'udp' | 'vxlan', ipv6Underlay: boolean): number {
  if (backend === 'vxlan') return ipv6Underlay ? wire.vxlan.OVERHEAD_IPV6 : wire.vxlan.OVERHEAD_IPV4;
  return ipv6Underlay ? wire.udpBackend.OVERHEAD_IPV6 : wire.udpBackend.OVERHEAD_IPV4;
}
