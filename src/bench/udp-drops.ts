/**
 * Where an unpaced UDP test's datagrams were lost (pure): counted by the
 * kernel and by tulle during the test, from the sender's overlay device to
 * the receiving application's socket. What none of these counts was lost
 * somewhere else (the generator's own sends, a queue nobody counts).
 */
export interface UdpDrops {
  /** The sender's overlay device (tulle's TUN, kernel vxlan's vx0, the underlay's eth0). */
  sender_dev: string;
  /** Datagrams the generator sent and the receiver got (rate × duration; null when the generator does not say). */
  sent: number | null;
  received: number;
  /** Dropped on the way into the sender's overlay device: for tulle, its TUN ring was full. */
  sender_dev_tx_dropped: number | null;
  /** Dropped at the receiver's other UDP sockets: the overlay's, which the outer datagrams arrive on. */
  receiver_overlay_socket_drops: number;
  /** Dropped at the receiving application's socket (its buffer was full). */
  receiver_app_socket_drops: number;
  /** tulle's writes into the receiver's TUN that failed (null for rows without a tulle daemon). */
  receiver_tun_write_errors: number | null;
  /** The receiver's namespace-wide UDP counters, for reference. */
  receiver_udp_rcvbuf_errors: number | null;
  receiver_udp_in_errors: number | null;
}

/** The places, in path order, with what each dropped and what none of them explains. */
export function dropPlaces(d: UdpDrops): { place: string; dropped: number | null }[] {
  const places = [
    { place: `sender's ${d.sender_dev}`, dropped: d.sender_dev_tx_dropped },
    { place: "receiver's overlay sockets", dropped: d.receiver_overlay_socket_drops },
    { place: "receiver's TUN writes", dropped: d.receiver_tun_write_errors },
    { place: "application's socket", dropped: d.receiver_app_socket_drops },
  ];
  const lost = d.sent === null ? null : Math.max(0, d.sent - d.received);
  const counted = places.reduce((n, p) => n + (p.dropped ?? 0), 0);
  return [...places, { place: 'elsewhere (not counted)', dropped: lost === null ? null : Math.max(0, lost - counted) }];
}

/** One line for the run's log, e.g. "sender's tulle0 120, receiver's overlay sockets 0, …". */
export function describeDrops(d: UdpDrops): string {
  return dropPlaces(d)
    .filter((p) => p.dropped !== null)
    .map((p) => `${p.place} ${p.dropped}`)
    .join(', ');
}
