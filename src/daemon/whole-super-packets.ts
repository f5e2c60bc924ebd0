/**
 * Whether TCP super-packets may leave whole here (offloads.udpTunnelGso,
 * through the tunnel TAP of tunnel-tap.ts), decided from what the host says
 * before the TAP is opened. Asked for outright, only what would break it is
 * checked; 'auto' also wants an underlay that segments UDP tunnels itself
 * (else the kernel's software segmentation is slower than tulle's split) and
 * no firewall that drops forwarded packets by default.
 */
import type { OffloadNote } from '../engine/engine.js';

/** What the decision reads from the host; the daemon's come from ethtool and the firewalls, a test's from a table. */
export interface WholeSuperPacketsProbes {
  /** Whether `device` has the ethtool feature `name` on (undefined: the kernel has none of that name); throws when it cannot read it. */
  featureActive(device: string, name: string): boolean | undefined;
  /** The chains on the forward hook whose policy is drop, described for a log line (forward-filter.ts). */
  forwardDropPolicies(): string[];
}

export interface WholeSuperPacketsAsk {
  /** offloads.udpTunnelGso as configured. */
  want: boolean | 'auto';
  /** Whether the TUN's offloads are in force (super-packets come from them). */
  tunOffloads: boolean;
  /** The underlay device 'auto' checks. */
  underlayDevice?: string;
}

/**
 * Not asked (off: nothing to say in the log), or asked, with the reason it is refused, or none when
 * the TAP may be opened. Both backends have whole super-packets (vxlan's frames carry the VXLAN
 * header and inner Ethernet, the udp backend's the inner packet alone), so the backend is not asked.
 */
export type WholeSuperPacketsDecision = { asked: false } | { asked: true; auto: boolean; refused?: string };

export function decideWholeSuperPackets(ask: WholeSuperPacketsAsk, probes: WholeSuperPacketsProbes): WholeSuperPacketsDecision {
  if (ask.want === false) return { asked: false };
  const auto = ask.want === 'auto';
  return { asked: true, auto, refused: refusal(ask, auto, probes) };
}

/** The log line for udpTunnelGso off: a warning when it was asked for outright, what 'auto' chose otherwise. */
export function wholeSuperPacketsOffNote(auto: boolean, reason: string): OffloadNote {
  return { level: auto ? 'info' : 'warn', text: `udpTunnelGso off${auto ? ' (auto)' : ''}: ${reason}` };
}

function refusal(ask: WholeSuperPacketsAsk, auto: boolean, probes: WholeSuperPacketsProbes): string | undefined {
  if (!ask.tunOffloads) return 'the TUN has no offloads';
  if (!auto) return undefined;
  const device = ask.underlayDevice;
  if (device === undefined) return 'no underlay device to check';
  let segments: boolean | undefined;
  try {
    segments = probes.featureActive(device, 'tx-udp_tnl-csum-segmentation');
  } catch (error) {
    return `reading ${device}'s features: ${(error as Error).message}`;
  }
  if (segments !== true) return `${device} does not segment UDP tunnels itself (tx-udp_tnl-csum-segmentation off)`;
  const drops = probes.forwardDropPolicies();
  if (drops.length > 0) {
    return `the firewall drops forwarded packets by default (${drops.join('; ')}); accept those from the tunnel TAP and set offloads.udpTunnelGso: true`;
  }
  return undefined;
}
