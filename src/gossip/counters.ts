/** Why an inbound datagram was dropped; every drop is counted under one of these. */
export const DROP_REASONS = [
  'oversize', // longer than maxDatagramBytes
  'malformed', // truncated, bad field, trailing garbage
  'badVersion', // not a tulle gossip datagram, or another protocol version
  'wrongLabel', // another cluster's label
  'badMac', // forged, or signed with a key not in the ring
  'replay', // a sequence number seen before, or older than the window
  'wrongTarget', // a ping meant for another node id at this address
  'unknownType',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export type DropCounters = Record<DropReason, number>;

export function newDropCounters(): DropCounters {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as DropCounters;
}

/** Traffic and protocol counters of one node. */
export interface GossipCounters {
  sentDatagrams: number;
  sentBytes: number;
  receivedDatagrams: number;
  receivedBytes: number;
  dropped: DropCounters;
  probes: number;
  probesFailed: number;
  suspicionsRaised: number;
  refutations: number;
  syncsStarted: number;
  /** Pings to a seed while the node knew fewer live members than seeds (reconnect with backoff). */
  seedPings: number;
}

export function newCounters(): GossipCounters {
  return {
    sentDatagrams: 0,
    sentBytes: 0,
    receivedDatagrams: 0,
    receivedBytes: 0,
    dropped: newDropCounters(),
    probes: 0,
    probesFailed: 0,
    suspicionsRaised: 0,
    refutations: 0,
    syncsStarted: 0,
    seedPings: 0,
  };
}
