/**
 * The routing state the data plane reads: peers (underlay address, port,
 * outer template) and the overlay subnets they own. The control plane
 * publishes a new snapshot into shared memory; each worker checks the
 * version once per batch and copies the snapshot into its own lookup
 * structures when it changed (a seqlock: odd version = being written).
 *
 * A batch's verdicts are peer indices, and publish re-indexes peers by
 * position: so everything a verdict refers to (lookups, and the addresses
 * and templates the addon sends with) is taken from one private copy of one
 * version. Nothing at send time reads the shared buffers.
 */
import * as wire from '@tulle/wire';
import { parseCidr, wordMask } from '../util/cidr.js';
import { ADDR_CHECKSUMMED, ADDR_STRIDE } from './batch.js';
import { Table4, type Route4 } from './table4.js';
import { Table6 } from './table6.js';

export { ADDR_STRIDE };

/**
 * The most peers a route table holds: the /24 subnets of a /8 network, so a cluster whose network is cut
 * in /24s always fits, with room above the 10,000 hosts the gossip layer is measured at. A host past it is
 * refused with an error naming the limit (publish below; the daemon reports it per lease, engine-sink.ts).
 *
 * The shared buffers are allocated once, for this many, when the engine starts: the workers get them then
 * and could not be handed larger ones later. That costs address space, not memory: Linux commits a page
 * of a SharedArrayBuffer when it is first written, so a table holding N peers keeps about N entries
 * resident (measured: the 65,536-entry buffers add 1 MB of RSS, the empty template metadata, until
 * peers are published). A growable SharedArrayBuffer would buy nothing over that and add a length
 * every view has to follow.
 */
export const MAX_PEERS = 65_536;
const HEADER_WORDS = 4; // version, peer count, route count, reserved
/** Each peer may own one IPv4 and one IPv6 subnet. */
const ROUTES_PER_PEER = 2;
const ROUTE_WORDS = 6; // family << 8 | prefix length, peer index, network address in 4 words (IPv4: the first)

export interface Peer {
  /** Underlay address and UDP port of the peer's tulle. */
  address: string;
  port: number;
  /** The outer template for this peer (payload-only for socket sends). */
  template: wire.OuterTemplate;
  /**
   * The peer's datagrams always carry an outer UDP checksum (tulle's do, and any over IPv6), which the
   * kernel verified on receipt: its inner segments need no second check. Default false: a Linux vxlan
   * device sends none over IPv4.
   */
  checksummed?: boolean;
}

export interface Route {
  /** Overlay subnet of either family, e.g. "198.18.2.0/24" or "2001:db8:18:2::/64". */
  subnet: string;
  peer: number;
}

/** The shared-memory snapshot: layout and the writer side (main thread). */
export class RouteSnapshot {
  readonly header: Int32Array;
  readonly routes: Int32Array;
  readonly addrs: Uint8Array;
  readonly templates: wire.TemplateTable;
  /** How many peers this snapshot holds: MAX_PEERS unless allocated smaller. */
  readonly capacity: number;

  constructor(readonly buffers = RouteSnapshot.allocate()) {
    this.header = new Int32Array(buffers.header);
    this.routes = new Int32Array(buffers.routes);
    this.addrs = new Uint8Array(buffers.addrs);
    this.capacity = this.addrs.length / ADDR_STRIDE;
    this.templates = new wire.TemplateTable(this.capacity, new Uint8Array(buffers.templateBytes), new Int32Array(buffers.templateMeta));
  }

  /** Shared buffers for `capacity` peers and their routes (a smaller table is for tests). */
  static allocate(capacity = MAX_PEERS) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_PEERS) {
      throw new Error(`RouteSnapshot capacity: ${capacity} is not a whole number of peers in 1..${MAX_PEERS} (MAX_PEERS)`);
    }
    return {
      header: new SharedArrayBuffer(HEADER_WORDS * 4),
      routes: new SharedArrayBuffer(capacity * ROUTES_PER_PEER * ROUTE_WORDS * 4),
      addrs: new SharedArrayBuffer(capacity * ADDR_STRIDE),
      templateBytes: new SharedArrayBuffer(capacity * wire.TEMPLATE_STRIDE),
      templateMeta: emptyMeta(capacity),
    };
  }

  get version(): number {
    return Atomics.load(this.header, 0);
  }

  /** Publishes a whole new routing state. Peers are indexed by their position. */
  publish(peers: Peer[], routes: Route[]): void {
    if (peers.length > this.capacity) throw new Error(`${peers.length} peers: ${tableLimit(this.capacity)}`);
    const maxRoutes = this.routes.length / ROUTE_WORDS;
    if (routes.length > maxRoutes) throw new Error(`${routes.length} routes: the route table holds at most ${maxRoutes} (${ROUTES_PER_PEER} per peer)`);
    const parsed = routes.map((r) => {
      if (!Number.isInteger(r.peer) || r.peer < 0 || r.peer >= peers.length) throw new Error(`route ${r.subnet} names peer ${r.peer}, which does not exist`);
      return { ...parseCidr(r.subnet), peer: r.peer };
    });
    const start = Atomics.add(this.header, 0, 1) + 1; // odd: writing
    if ((start & 1) === 0) throw new Error('RouteSnapshot.publish: concurrent writers');
    peers.forEach((peer, i) => {
      writeAddr(this.addrs, i * ADDR_STRIDE, peer.address, peer.port, peer.checksummed ? ADDR_CHECKSUMMED : 0);
      this.templates.set(i, peer.template);
    });
    parsed.forEach((r, i) => {
      const at = i * ROUTE_WORDS;
      this.routes[at] = (r.family << 8) | r.prefix;
      this.routes[at + 1] = r.peer;
      for (let w = 0; w < 4; w++) this.routes[at + 2 + w] = r.words[w] | 0;
    });
    this.header[1] = peers.length;
    this.header[2] = parsed.length;
    Atomics.add(this.header, 0, 1); // even: stable
  }
}

/** Why a table of `capacity` peers takes no more: the words every refusal of a peer past it uses. */
export function tableLimit(capacity: number): string {
  return `the route table holds at most ${capacity} peers${capacity === MAX_PEERS ? ' (MAX_PEERS)' : ''}`;
}

function emptyMeta(capacity: number): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(capacity * wire.META_STRIDE * 4);
  wire.TemplateTable.emptyMeta(capacity, new Int32Array(buffer));
  return buffer;
}

export function writeAddr(table: Uint8Array, offset: number, address: string, port: number, flags = 0): void {
  const bytes = wire.parseIP(address);
  table.fill(0, offset, offset + ADDR_STRIDE);
  table[offset] = bytes.length === 4 ? 4 : 6;
  table[offset + 1] = flags;
  table[offset + 2] = port >>> 8;
  table[offset + 3] = port & 0xff;
  table.set(bytes, offset + 4);
}

/** What txBatch needs per peer, indexed as the verdicts of the version it was copied from. */
export interface SendTable {
  addrs: Uint8Array;
  templateBytes: Uint8Array;
  templateMeta: Int32Array;
}

/**
 * A worker's private copy of the snapshot, with the per-packet lookups:
 * longest-prefix match on the destination, and sender address → peer.
 *
 * It also copies each peer's address and template (`send`), under the same
 * version check as the lookups. Why a copy rather than double-buffering the
 * shared snapshot per version: a copy costs one pass over a few hundred bytes
 * per peer per route change, in the worker, and publish stays a lock-free
 * single writer that never waits for a worker to let go of a version. With
 * the addon reading the shared table instead, a publish landing between
 * decideTx and txBatch paired a verdict with whichever peer then sat at that
 * index: packets left for the wrong host (test/engine-route-churn.test.ts).
 */
export class RouteReader {
  private seen = -1;
  /** IPv4 longest-prefix match: a stride table, one to three reads per packet at any table size. */
  private table4 = new Table4([]);
  /** IPv6: one exact-match table per prefix length, longest first, with the prefix's mask words. */
  private byPrefix6: { m0: number; m1: number; m2: number; m3: number; table: Table6 }[] = [];
  private bySender = new Map<number, number>();
  private bySender6 = new Table6([]);
  /** Per peer, its VTEP MAC (6 bytes) when its template carries an inner Ethernet header. */
  private macs = new Uint8Array(0);
  private hasMac = new Uint8Array(0);
  /** Per peer, 1 when its datagrams always carry a UDP checksum (see Peer.checksummed). */
  private checksummedPeers = new Uint8Array(0);
  /**
   * The last answer of lookup() and sender(): a batch is mostly one flow, so mostly one
   * destination and one sender. -1 is no address (they are read unsigned) and clears them.
   */
  private lastDst = -1;
  private lastDstPeer = -1;
  private lastSender = -1;
  private lastSenderPeer = -1;
  /** Peer addresses and templates for txBatch, of the same version as the lookups; replaced whole, never written into. */
  send: SendTable = emptySendTable(0);

  constructor(private snapshot: RouteSnapshot) {}

  /** Reads `snapshot` from the next refresh() on; the warm-up (warm-up.ts) lends the reader its own for a moment. */
  use(snapshot: RouteSnapshot): RouteSnapshot {
    const previous = this.snapshot;
    this.snapshot = snapshot;
    this.seen = -1;
    return previous;
  }

  /** Call once per batch; cheap when nothing changed. Returns true if the routes changed. */
  refresh(): boolean {
    const version = Atomics.load(this.snapshot.header, 0);
    if (version === this.seen || (version & 1) === 1) return false;
    const header = this.snapshot.header;
    const peers = header[1];
    const count = header[2];
    // Everything is copied first and checked against the version; all below is derived from the copy.
    const routeWords = this.snapshot.routes.slice(0, count * ROUTE_WORDS);
    const send = emptySendTable(peers);
    send.addrs.set(this.snapshot.addrs.subarray(0, peers * ADDR_STRIDE));
    send.templateBytes.set(this.snapshot.templates.bytes.subarray(0, peers * wire.TEMPLATE_STRIDE));
    send.templateMeta.set(this.snapshot.templates.meta.subarray(0, peers * wire.META_STRIDE));
    if (Atomics.load(this.snapshot.header, 0) !== version) return false; // torn: retry next batch
    const routes4: Route4[] = [];
    const groups6 = new Map<number, { words: number[]; value: number }[]>();
    for (let i = 0; i < count; i++) {
      const at = i * ROUTE_WORDS;
      const family = routeWords[at] >>> 8;
      const prefix = routeWords[at] & 0xff;
      const peer = routeWords[at + 1];
      if (family === 6) {
        let list = groups6.get(prefix);
        if (list === undefined) groups6.set(prefix, (list = []));
        list.push({ words: [0, 1, 2, 3].map((w) => routeWords[at + 2 + w] >>> 0), value: peer });
      } else {
        routes4.push({ network: routeWords[at + 2] >>> 0, prefix, value: peer });
      }
    }
    const { addrs, templateBytes, templateMeta } = send;
    const bySender = new Map<number, number>();
    const senders6: { words: number[]; value: number }[] = [];
    for (let i = 0; i < peers; i++) {
      const at = i * ADDR_STRIDE;
      if (addrs[at] === 4) bySender.set(wire.readU32(addrs, at + 4) | 0, i);
      else if (addrs[at] === 6) senders6.push({ words: [0, 1, 2, 3].map((w) => wire.readU32(addrs, at + 4 + w * 4)), value: i });
    }
    const checksummedPeers = new Uint8Array(peers);
    for (let i = 0; i < peers; i++) {
      const at = i * ADDR_STRIDE;
      // Over IPv6 a UDP checksum is mandatory: the kernel drops datagrams without one.
      checksummedPeers[i] = (addrs[at + 1] & ADDR_CHECKSUMMED) !== 0 || addrs[at] === 6 ? 1 : 0;
    }
    const macs = new Uint8Array(peers * 6);
    const hasMac = new Uint8Array(peers);
    for (let i = 0; i < peers; i++) {
      const m = i * wire.META_STRIDE;
      const headerLength = templateMeta[m + wire.META_HEADER_LENGTH];
      if ((templateMeta[m + wire.META_FLAGS] & wire.TPL_ETHERNET) === 0 || headerLength < wire.ethernet.HEADER) continue;
      // The template ends with the inner Ethernet header, whose destination is the peer's VTEP.
      const at = i * wire.TEMPLATE_STRIDE + headerLength - wire.ethernet.HEADER;
      macs.set(templateBytes.subarray(at, at + 6), i * 6);
      hasMac[i] = 1;
    }
    this.table4 = new Table4(routes4, this.table4);
    this.byPrefix6 = [...groups6.entries()]
      .sort((a, b) => b[0] - a[0])
      .map(([prefix, list]) => ({
        m0: wordMask(prefix, 0),
        m1: wordMask(prefix, 32),
        m2: wordMask(prefix, 64),
        m3: wordMask(prefix, 96),
        table: new Table6(list),
      }));
    this.bySender = bySender;
    this.bySender6 = new Table6(senders6);
    this.macs = macs;
    this.checksummedPeers = checksummedPeers;
    this.hasMac = hasMac;
    this.send = send;
    this.lastDst = -1;
    this.lastSender = -1;
    this.seen = version;
    return true;
  }

  /** The peer index owning IPv4 `address`, or -1. */
  lookup(address: number): number {
    const dst = address >>> 0;
    if (dst === this.lastDst) return this.lastDstPeer;
    const found = this.table4.get(dst);
    this.lastDst = dst;
    this.lastDstPeer = found;
    return found;
  }

  /** The peer index owning the IPv6 address at `bytes[offset..offset+16)`, or -1. */
  lookup6(bytes: Uint8Array, offset: number): number {
    const w0 = wire.readU32(bytes, offset);
    const w1 = wire.readU32(bytes, offset + 4);
    const w2 = wire.readU32(bytes, offset + 8);
    const w3 = wire.readU32(bytes, offset + 12);
    for (let i = 0; i < this.byPrefix6.length; i++) {
      const g = this.byPrefix6[i];
      const peer = g.table.get(w0 & g.m0, w1 & g.m1, w2 & g.m2, w3 & g.m3);
      if (peer >= 0) return peer;
    }
    return -1;
  }

  /** True when the 6 bytes at `offset` are peer `peer`'s VTEP MAC (or the peer has none to check). */
  vtepMatches(peer: number, bytes: Uint8Array, offset: number): boolean {
    if (this.hasMac[peer] === 0) return true;
    const at = peer * 6;
    for (let i = 0; i < 6; i++) if (bytes[offset + i] !== this.macs[at + i]) return false;
    return true;
  }

  /** True when peer `peer`'s datagrams always carry a UDP checksum. */
  checksummed(peer: number): boolean {
    return this.checksummedPeers[peer] === 1;
  }

  /**
   * The peer index whose underlay IPv4 address is `address`, or -1. Keyed by the address as a signed 32-bit
   * integer, which V8 always holds the same way: 127.0.0.1 (the warm-up's) and 192.0.2.1 (a real peer's)
   * read unsigned would be a small integer and a heap number, and code compiled for one is dropped for the other.
   */
  sender(address: number): number {
    const key = address | 0;
    if (key === this.lastSender) return this.lastSenderPeer;
    this.lastSender = key;
    this.lastSenderPeer = this.bySender.get(key) ?? -1;
    return this.lastSenderPeer;
  }

  /** The peer index whose underlay IPv6 address is at `bytes[offset..offset+16)`, or -1. */
  sender6(bytes: Uint8Array, offset: number): number {
    return this.bySender6.get(wire.readU32(bytes, offset), wire.readU32(bytes, offset + 4), wire.readU32(bytes, offset + 8), wire.readU32(bytes, offset + 12));
  }
}

/**
 * Send tables for `peers` peers, zeroed. At least one entry, so the addon never gets an empty array;
 * an entry no route names has address family 0 and header length -1, which the addon refuses.
 */
function emptySendTable(peers: number): SendTable {
  const capacity = Math.max(1, peers);
  return {
    addrs: new Uint8Array(capacity * ADDR_STRIDE),
    templateBytes: new Uint8Array(capacity * wire.TEMPLATE_STRIDE),
    templateMeta: wire.TemplateTable.emptyMeta(capacity) as Int32Array,
  };
}
