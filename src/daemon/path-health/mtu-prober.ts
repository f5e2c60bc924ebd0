/**
 * Path MTU per peer, measured: probes with DF set from a socket of the addon's
 * udpOpen (Node's dgram cannot set DF), sized as PmtuSearch asks, answered by
 * the peer's probe socket to ours. A size does not fit when the kernel refuses
 * it (EMSGSIZE: an ICMP "fragmentation needed" already told it the path's MTU)
 * or when `tries` probes of it go unanswered (a path that drops ICMP too) while
 * a probe of the floor's size is answered: silence alone may be a peer that is
 * down or not listening yet, and then the round is abandoned and tried again
 * soon. One probe per peer in flight; a round per peer every intervalMs.
 */
import { closeSync } from 'node:fs';
import type { NativeAddon } from '../../native/load.js';
import type { PeerTable } from './peer-table.js';
import { PmtuSearch } from './pmtu-search.js';
import { PROBE, writeProbe } from './probe-message.js';

const EMSGSIZE = 90;
/** IP and UDP header bytes in front of the probe's payload. */
const HEADERS = { 4: 28, 6: 48 } as const;
/** The smallest path MTU searched: IPv4's 576 (every host reassembles it), IPv6's 1280. */
export const MTU_FLOOR = { 4: 576, 6: 1280 } as const;
/** How often in-flight probes are checked for their timeout, ms. */
const TICK_MS = 100;
/** A round abandoned because the peer answered nothing is tried again after this long at most, ms. */
const RETRY_MS = 5_000;

export interface MtuOptions {
  family: 4 | 6;
  /** The address the DF socket binds (the underlay address). */
  localAddress: string;
  /** The peers' probe port. */
  port: number;
  /** Our probe socket's port: where the answers go. */
  replyPort: number;
  /** The underlay device's MTU: the largest size tried. */
  ceiling: number;
  intervalMs: number;
  timeoutMs: number;
  tries: number;
}

interface PeerMtu {
  search: PmtuSearch;
  nextRoundAt: number;
  /** The probe in flight: its sequence number and size, when it runs out, tries left. */
  seq: number;
  size: number;
  deadline: number;
  triesLeft: number;
  /** While a floor-sized probe checks that the peer answers at all: the size whose tries went unanswered. */
  unanswered: number | undefined;
  /** The peer answered the floor just before this size's tries: their silence is a verdict. */
  peerAnswers: boolean;
}

export class MtuProber {
  readonly #native: NativeAddon;
  readonly #fd: number;
  readonly #table: PeerTable;
  readonly #o: MtuOptions;
  readonly #peers = new Map<string, PeerMtu>();
  readonly #buffer: Uint8Array;
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(native: NativeAddon, table: PeerTable, o: MtuOptions) {
    if (o.ceiling < MTU_FLOOR[o.family]) throw new Error(`path MTU: the underlay MTU ${o.ceiling} is below IPv${o.family}'s floor ${MTU_FLOOR[o.family]}`);
    this.#native = native;
    this.#table = table;
    this.#o = o;
    this.#fd = native.udpOpen(o.family, o.localAddress, 0, 0);
    this.#buffer = new Uint8Array(o.ceiling - HEADERS[o.family]);
  }

  start(): void {
    this.#timer ??= setInterval(() => this.tick(Date.now()), TICK_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    closeSync(this.#fd);
  }

  tick(now: number): void {
    for (const address of this.#peers.keys()) if (this.#table.get(address) === undefined) this.#peers.delete(address);
    for (const path of this.#table.paths()) {
      let p = this.#peers.get(path.address);
      if (p === undefined) {
        // The first round soon, spread over a second so that many peers do not start at once.
        p = {
          search: new PmtuSearch(MTU_FLOOR[this.#o.family], this.#o.ceiling),
          nextRoundAt: now + Math.random() * 1000,
          seq: 0,
          size: 0,
          deadline: 0,
          triesLeft: 0,
          unanswered: undefined,
          peerAnswers: false,
        };
        this.#peers.set(path.address, p);
      }
      if (p.search.busy) {
        if (now < p.deadline) continue;
        if (p.triesLeft > 0) this.#send(path.address, p, p.size, now);
        else this.#silence(path.address, p, now);
      } else if (now >= p.nextRoundAt) {
        p.nextRoundAt = now + this.#o.intervalMs;
        this.#try(path.address, p, p.search.startRound(), now);
      }
    }
  }

  /** An MTU answer from `address`: the size fits when it is the probe in flight, whole. */
  answered(address: string, seq: number, received: number, now = Date.now()): void {
    const p = this.#peers.get(address);
    if (p === undefined || !p.search.busy || seq !== p.seq || received !== p.size - HEADERS[this.#o.family]) return;
    if (p.unanswered === undefined) return this.#verdict(address, p, true, now);
    // The peer answers the floor: it is up. Its silence may have been a start, so the size gets its tries again,
    // and this time silence means it does not fit.
    const size = p.unanswered;
    p.unanswered = undefined;
    this.#try(address, p, size, now);
    p.peerAnswers = true;
  }

  /** Every try went unanswered: check with the floor's size that the peer answers at all; if not even that, give up the round. */
  #silence(address: string, p: PeerMtu, now: number): void {
    const floor = MTU_FLOOR[this.#o.family];
    if (p.peerAnswers || (p.unanswered === undefined && p.size <= floor)) return this.#verdict(address, p, false, now);
    if (p.unanswered === undefined) {
      p.unanswered = p.size;
      return this.#try(address, p, floor, now);
    }
    p.unanswered = undefined;
    p.search.abandon();
    p.nextRoundAt = now + Math.min(this.#o.intervalMs, RETRY_MS);
  }

  #verdict(address: string, p: PeerMtu, fits: boolean, now: number): void {
    const next = p.search.verdict(fits);
    if (next !== undefined) return this.#try(address, p, next, now);
    const path = this.#table.get(address);
    if (path) path.estimate.pathMtu = p.search.value;
  }

  #try(address: string, p: PeerMtu, size: number, now: number): void {
    p.size = size;
    p.peerAnswers = false;
    p.triesLeft = this.#o.tries;
    this.#send(address, p, size, now);
  }

  #send(address: string, p: PeerMtu, size: number, now: number): void {
    p.triesLeft--;
    this.#seq = (this.#seq + 1) >>> 0;
    p.seq = this.#seq;
    p.deadline = now + this.#o.timeoutMs;
    const length = size - HEADERS[this.#o.family];
    writeProbe(this.#buffer, { type: PROBE.mtu, replyPort: this.#o.replyPort, seq: p.seq, received: 0 });
    const errno = this.#native.udpSendTo(this.#fd, address, this.#o.port, this.#buffer, length);
    // The kernel knows the path is narrower: no need to wait for the tries.
    if (errno !== EMSGSIZE) return;
    p.unanswered = undefined;
    this.#verdict(address, p, false, now);
  }
}
