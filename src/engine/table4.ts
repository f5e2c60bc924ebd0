/**
 * Longest-prefix match over IPv4 routes, for per-packet lookups without
 * allocation: a multibit trie with strides of 16, 8 and 8 bits (the layout
 * of DIR-24-8 routers), over typed arrays, built once per route snapshot and
 * then only read. A lookup is one array read, two under a route longer than
 * /16, three under one longer than /24, however many routes there are; the
 * entries of neighbouring subnets sit side by side, so a cluster's table is
 * a few cache lines per 16 peers. Why not a hash table per prefix length:
 * its probes land anywhere in a table that, at 10,000 peers, no longer fits
 * the first-level cache, and the per-packet cost grew with the peer count
 * (docs/benchmarks.md).
 *
 * Memory: 256 KB for the first level, and 1 KB per /16 holding a route
 * longer than /16 and per /24 holding one longer than /24. A network cut in
 * /24s needs one second-level block per /16 it spans (10,000 /24s: 40 KB).
 *
 * The first level is taken over from the table this one replaces, cleared where that one wrote: a
 * fresh 256 KB array per route change cost more than the rest of a small table's refresh.
 *
 * An entry: 0 no route, v > 0 the value v - 1, v < 0 block -v - 1 of the next level.
 */
const BLOCK = 256;

export interface Route4 {
  /** The network address, unsigned, host bits clear. */
  network: number;
  prefix: number;
  value: number;
}

export class Table4 {
  private readonly top: Int32Array;
  private readonly mid: Int32Array;
  private readonly low: Int32Array;
  /** The first-level ranges written, [from, to) pairs: what to clear when the array is taken over. */
  private readonly written: number[] = [];

  /**
   * Among routes with the same prefix, the first one listed wins. `previous`, the table this one
   * replaces, gives up its first level: it answers nothing afterwards and must not be asked.
   */
  constructor(routes: readonly Route4[], previous?: Table4) {
    if (previous === undefined) {
      this.top = new Int32Array(1 << 16);
    } else {
      this.top = previous.top;
      for (let i = 0; i < previous.written.length; i += 2) this.top.fill(0, previous.written[i], previous.written[i + 1]);
    }
    const mids = new Set<number>();
    const lows = new Set<number>();
    for (const r of routes) {
      if (r.prefix > 16) mids.add(r.network >>> 16);
      if (r.prefix > 24) lows.add(r.network >>> 8);
    }
    this.mid = new Int32Array(mids.size * BLOCK);
    this.low = new Int32Array(lows.size * BLOCK);
    // Shortest prefixes first, so a longer one always writes over (or splits) a shorter one's entries and a
    // block, once made, is never overwritten by a shorter prefix; among equal ones the first listed last.
    const order = routes.map((_, i) => i).sort((a, b) => routes[a].prefix - routes[b].prefix || b - a);
    let midBlocks = 0;
    let lowBlocks = 0;
    for (const i of order) {
      const { network, prefix, value } = routes[i];
      const entry = value + 1;
      if (prefix <= 16) {
        this.top.fill(entry, network >>> 16, (network >>> 16) + (1 << (16 - prefix)));
        this.written.push(network >>> 16, (network >>> 16) + (1 << (16 - prefix)));
        continue;
      }
      let e = this.top[network >>> 16];
      if (e >= 0) {
        // A block for this /16, starting out as the shorter route (or none) that covered it whole.
        this.mid.fill(e, midBlocks * BLOCK, (midBlocks + 1) * BLOCK);
        e = this.top[network >>> 16] = -++midBlocks;
        this.written.push(network >>> 16, (network >>> 16) + 1);
      }
      const m = (-e - 1) * BLOCK + ((network >>> 8) & 0xff);
      if (prefix <= 24) {
        this.mid.fill(entry, m, m + (1 << (24 - prefix)));
        continue;
      }
      e = this.mid[m];
      if (e >= 0) {
        this.low.fill(e, lowBlocks * BLOCK, (lowBlocks + 1) * BLOCK);
        e = this.mid[m] = -++lowBlocks;
      }
      const l = (-e - 1) * BLOCK + (network & 0xff);
      this.low.fill(entry, l, l + (1 << (32 - prefix)));
    }
  }

  /** The value of the longest prefix holding `address` (unsigned), or -1. */
  get(address: number): number {
    let e = this.top[address >>> 16];
    if (e < 0) {
      e = this.mid[(-e - 1) * BLOCK + ((address >>> 8) & 0xff)];
      if (e < 0) e = this.low[(-e - 1) * BLOCK + (address & 0xff)];
    }
    return e - 1;
  }
}
