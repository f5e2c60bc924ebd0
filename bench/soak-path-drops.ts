/**
 * Every counter that a datagram of the soak's UDP stream (host 2 → host 3)
 * lost on its way would show up in: the sending daemon's TX drops, the
 * devices on the underlay, the receiving namespace's UDP errors and the
 * receiving daemon's RX drops. The counters belong to the namespaces and
 * daemons, not to the stream: the TCP stream's ACKs leave host 2 by the same
 * path, so a drop counted here explains a missing datagram at most.
 */
import type { Lab } from '../src/lab/netns.js';
import type { CounterName } from '../src/engine/counters.js';
import { udpSnmp } from '../src/bench/counters.js';
import type { StatusView } from '../src/daemon/status-view.js';

/** The engine's drops of packets going out (TUN → underlay) and coming in (underlay → TUN). */
export const TX_DROPS: CounterName[] = ['dropNoRoute', 'dropOversize', 'dropMalformed', 'sendErrors', 'encapErrors'];
export const RX_DROPS: CounterName[] = ['dropMalformed', 'dropUnknownSender', 'dropWrongVni', 'dropUnknownVtep', 'dropNotOurs', 'writeErrors'];

/** rx and tx dropped of a device, from `ip -s -j link`. */
export function linkDrops(lab: Lab, ns: string, dev: string): { rx: number; tx: number } {
  const j = JSON.parse(lab.exec(ns, ['ip', '-s', '-j', 'link', 'show', dev], { timeoutMs: 10_000 })) as {
    stats64?: { rx?: { dropped?: number }; tx?: { dropped?: number } };
  }[];
  return { rx: j[0]?.stats64?.rx?.dropped ?? 0, tx: j[0]?.stats64?.tx?.dropped ?? 0 };
}

export interface PathEnds {
  sender: { name: string; ns: string; tun: string; dev: string; status: StatusView };
  receiver: { name: string; ns: string; tun: string; dev: string; status: StatusView };
  /** The switch namespace and the bridge ports of the two hosts. */
  sw: { ns: string; senderPort: string; receiverPort: string };
}

export function pathDrops(lab: Lab, p: PathEnds): Record<string, number> {
  const out: Record<string, number> = {};
  const { sender: s, receiver: r, sw } = p;
  for (const c of TX_DROPS) out[`${s.name} engine ${c}`] = s.status.counters?.[c] ?? 0;
  out[`${s.name} ${s.tun} tx dropped (TUN queue full)`] = linkDrops(lab, s.ns, s.tun).tx;
  out[`${s.name} ${s.dev} tx dropped`] = linkDrops(lab, s.ns, s.dev).tx;
  out[`${s.name} Udp SndbufErrors`] = udpSnmp(lab, s.ns).SndbufErrors ?? 0;
  out[`switch ${sw.senderPort} rx dropped`] = linkDrops(lab, sw.ns, sw.senderPort).rx;
  out[`switch ${sw.receiverPort} tx dropped`] = linkDrops(lab, sw.ns, sw.receiverPort).tx;
  out[`${r.name} ${r.dev} rx dropped`] = linkDrops(lab, r.ns, r.dev).rx;
  // InErrors holds the receive-buffer overflows (RcvbufErrors) and bad checksums (InCsumErrors) of every UDP socket in the namespace.
  out[`${r.name} Udp InErrors`] = udpSnmp(lab, r.ns).InErrors ?? 0;
  for (const c of RX_DROPS) out[`${r.name} engine ${c}`] = r.status.counters?.[c] ?? 0;
  out[`${r.name} ${r.tun} rx dropped`] = linkDrops(lab, r.ns, r.tun).rx;
  return out;
}
