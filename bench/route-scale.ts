/**
 * The route table at cluster scale, timed by micro.ts: a table of N peers, each owning a /29, with
 *   - publish: the control plane writing the whole table into the shared snapshot;
 *   - publish + refresh: that, and a worker's reader copying it into its own lookups and send table;
 *   - decide: the TX decision (decideTx, whose per-packet work is the longest-prefix lookup) over a
 *     batch of 64 packets to random peers.
 *
 * The destinations are 65,536 addresses drawn once (xorshift32: the same every run), each inside a
 * random peer's /29. Before each decideTx the batch's 64 packets get the next 64 of them, as a TUN
 * read would write them: the lookups range over the whole table instead of over 64 entries that stay
 * in cache. Those 64 writes are timed with the batch, the same work at every table size.
 *
 * Addresses, never sent anywhere: the subnets are /29s of the lab overlay 198.18.0.0/15 (16,384 of
 * them; it holds only 512 /24s), so every lookup walks all three levels of the stride table, at every
 * size alike; the peers' underlay addresses are IPv6 documentation addresses (2001:db8::/32).
 */
import { decideTx } from '../src/engine/decide.js';
import { newCounterBuffer } from '../src/engine/counters.js';
import { RouteReader, RouteSnapshot, type Peer, type Route } from '../src/engine/routes.js';
import * as wire from '@tulle/wire';

export const ROUTE_SCALE_PEERS = [10, 1_000, 10_000];
export const ROUTE_BATCH = 64;
const DESTINATIONS = 65_536; // a power of two: the batches wrap around it with a mask
const OVERLAY = wire.parseIPv4('198.18.0.0');
const SUBNET_BITS = 3; // /29s
const STRIDE = 2048;
const HEADROOM = 128;
const PACKET = 1400;

export interface RouteScale {
  peers: number;
  /** `n` publishes of the whole table. */
  publish(n: number): void;
  /** `n` publishes, each taken by the reader. */
  publishRefresh(n: number): void;
  /** `n` batches of ROUTE_BATCH packets through decideTx, as the worker runs them (refresh, then decide). */
  decide(n: number): void;
  /** Every destination's verdict against its owner, once: the first one wrong, or undefined. */
  check(): string | undefined;
}

function u32(value: number): string {
  const bytes = new Uint8Array(4);
  wire.writeU32(bytes, 0, value);
  return wire.formatIP(bytes);
}

/** `count` peers, peer i at 2001:db8::i+1 and owning the i-th /29. */
export function clusterTable(count: number): { peers: Peer[]; routes: Route[] } {
  const mac = (i: number) =>
    `02:00:00:${((i >>> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >>> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
  const peers = Array.from({ length: count }, (_, i): Peer => ({
    address: `2001:db8::${((i + 1) >>> 16).toString(16)}:${((i + 1) & 0xffff).toString(16)}`,
    port: 4789,
    checksummed: true,
    template: wire.vxlan.template({ vni: 1, srcMac: '02:00:00:ff:ff:ff', dstMac: mac(i) }),
  }));
  const routes = peers.map((_, i): Route => ({ subnet: `${u32(OVERLAY + (i << SUBNET_BITS))}/${32 - SUBNET_BITS}`, peer: i }));
  return { peers, routes };
}

export function routeScale(count: number): RouteScale {
  if (count << SUBNET_BITS > 1 << 17) throw new Error(`route-scale: ${count} peers do not fit 198.18.0.0/15 in /29s (at most ${(1 << 17) >> SUBNET_BITS})`);
  const { peers, routes } = clusterTable(count);
  const snapshot = new RouteSnapshot();
  const reader = new RouteReader(snapshot);
  snapshot.publish(peers, routes);
  reader.refresh();

  const destinations = new Uint32Array(DESTINATIONS);
  const owners = new Int32Array(DESTINATIONS);
  let x = 0x2545f491;
  const random = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (let i = 0; i < DESTINATIONS; i++) {
    owners[i] = random() % count;
    destinations[i] = (OVERLAY + (owners[i] << SUBNET_BITS) + 1 + (random() % 6)) >>> 0;
  }

  const slab = new Uint8Array(ROUTE_BATCH * STRIDE);
  const desc = new Int32Array(ROUTE_BATCH * wire.DESC_STRIDE);
  for (let i = 0; i < ROUTE_BATCH; i++) {
    slab[i * STRIDE + HEADROOM] = 0x45; // IPv4, 20-byte header; decideTx reads nothing else but the destination
    desc[i * wire.DESC_STRIDE + wire.DESC_OFFSET] = i * STRIDE + HEADROOM;
    desc[i * wire.DESC_STRIDE + wire.DESC_LENGTH] = PACKET;
  }
  const policy = { mtu: PACKET, sockets: 1, whole: false };
  const counters = new Float64Array(newCounterBuffer());
  let next = 0;
  const batch = (): void => {
    for (let i = 0; i < ROUTE_BATCH; i++) {
      wire.writeU32(slab, i * STRIDE + HEADROOM + wire.ipv4.OFF_DST, destinations[next + i]);
      desc[i * wire.DESC_STRIDE + wire.DESC_VERDICT] = 0;
    }
    reader.refresh();
    decideTx(slab, desc, ROUTE_BATCH, reader, policy, counters);
  };

  return {
    peers: count,
    publish(n) {
      for (let r = 0; r < n; r++) snapshot.publish(peers, routes);
    },
    publishRefresh(n) {
      for (let r = 0; r < n; r++) {
        snapshot.publish(peers, routes);
        if (!reader.refresh()) throw new Error('route-scale: a published table was not taken');
      }
    },
    decide(n) {
      for (let r = 0; r < n; r++) {
        batch();
        next = (next + ROUTE_BATCH) & (DESTINATIONS - 1);
      }
    },
    check() {
      for (next = 0; next < DESTINATIONS; next += ROUTE_BATCH) {
        batch();
        for (let i = 0; i < ROUTE_BATCH; i++) {
          const got = desc[i * wire.DESC_STRIDE + wire.DESC_VERDICT];
          if (got !== owners[next + i]) return `${count} peers: ${u32(destinations[next + i])} went to peer ${got}, its owner is ${owners[next + i]}`;
        }
      }
      next = 0;
      return undefined;
    },
  };
}
