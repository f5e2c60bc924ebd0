/**
 * The data-plane warm-up: before a thread reports ready, it runs its own
 * pipeline code over a loop that never leaves the host, so V8 has compiled
 * the per-batch path before the first real packet.
 *
 * Why: a daemon's first packets otherwise run in V8's interpreter, and a
 * path with little traffic (pings, a probe now and then) stays there for
 * minutes. See docs/benchmarks.md for the round trips before and after.
 *
 * The loop runs on the thread's real objects (its TUN, bind, route reader
 * and counters), pointed for the while at stand-ins: an AF_UNIX datagram
 * pair for the TUN (each read is one whole packet, as from a TUN) and
 * sockets on 127.0.0.1 whose only route points at themselves. Compiled code
 * is specialised to the shapes of the objects it ran on, so objects of its
 * own would have it thrown away at the first real packet. The packets cover
 * the branches real traffic takes early on: delivered ICMP and UDP, IPv6
 * without a route (the kernel's own IPv6 packets at start), a packet over
 * the MTU, and each kind of datagram decideRx refuses. What the warm-up
 * counted is taken out of the counters again.
 */
import { closeSync } from 'node:fs';
import * as wire from '@tulle/wire';
import type { NativeAddon } from '../native/load.js';
import { Batch } from './batch.js';
import type { Clock } from './clock.js';
import type { Control } from './control.js';
import { C } from './counters.js';
import type { NativeBind } from './native-bind.js';
import { NativeTun } from './native-tun.js';
import { nativeWaitEither } from './native-wait.js';
import { RouteSnapshot, type RouteReader } from './routes.js';
import { buildLoop, type ThreadConfig } from './thread-loop.js';
import { TokenBucket } from './token-bucket.js';

/** The thread's own objects the warm-up borrows. */
export interface WarmUpParts {
  tun: NativeTun;
  bind: NativeBind;
  routes: RouteReader;
  counters: Float64Array;
  clock: Clock;
  /** Its TUN reader lock is held throughout, so the threads of one engine warm up one after the other. */
  control: Control;
}

export interface WarmUpBudget {
  /** Round trips at most. */
  rounds: number;
  /** Milliseconds at most. */
  ms: number;
}

/** A few thousand round trips make V8 optimise the per-batch functions; the time cap bounds a slow machine's start. */
export const DEFAULT_WARM_UP: WarmUpBudget = { rounds: 4000, ms: 400 };

export type WarmUpResult = { rounds: number; delivered: number; ms: number } | { skipped: string };

/** A warm-up's own VTEP MAC (locally administered): its only peer is itself. */
const WARM_MAC = '02:00:00:00:00:01';
const SLOT = 2048;
/** What the host routes into the stand-in TUN each round; the first three come back. */
const TX_PACKETS = 5;
const DELIVERED_PER_ROUND = 3;
/** Steps per round at most: with a batch of 1, each packet takes a step of its own each way. */
const MAX_STEPS = 64;

export function warmUp(native: NativeAddon, parts: WarmUpParts, config: ThreadConfig, budget: WarmUpBudget = DEFAULT_WARM_UP): WarmUpResult {
  const { tun, bind, routes, counters, clock, control } = parts;
  const fds: number[] = [];
  const open = (address: string) => {
    fds.push(native.udpOpen(4, address, 0, 1 << 20));
    return fds[fds.length - 1];
  };
  let snapshot: RouteSnapshot | undefined;
  control.lock();
  // Saved under the lock: the other thread's warm-up has put its counts back by then.
  const saved = { tunFd: tun.fd, bindFd: bind.fd, sendFds: bind.sendFds.slice(), counters: counters.slice() };
  try {
    const [tunFd, hostFd] = native.datagramPair();
    fds.push(tunFd, hostFd);
    const udpFd = open('127.0.0.1');
    if (bind.segmentsPerDatagram > 1) native.udpEnableGro(udpFd);
    const port = native.udpLocalPort(udpFd);
    // The same number of send sockets as the real bind: decideTx spreads flows over them when there are several.
    const sendFds = [udpFd];
    while (sendFds.length < bind.sendFds.length) sendFds.push(open('127.0.0.1'));
    // 127.0.0.2 is on loopback too, but no route names it: what it sends comes from an unknown sender.
    const strangerFd = open('127.0.0.2');
    const { rx } = config;
    const template = rx.backend === 'vxlan' ? wire.vxlan.template({ vni: rx.vni, srcMac: WARM_MAC, dstMac: WARM_MAC }) : wire.udpBackend.template();
    const own = new RouteSnapshot(RouteSnapshot.allocate(1));
    own.publish(
      [{ address: '127.0.0.1', port, checksummed: true, template }],
      [{ subnet: `${wire.formatIPv4(rx.subnet >>> 0)}/${prefixLength(rx.subnetMask)}`, peer: 0 }],
    );
    tun.fd = tunFd;
    bind.fd = udpFd;
    bind.sendFds.set(sendFds);
    snapshot = routes.use(own);
    const loop = buildLoop(
      'duplex',
      { ...parts, waitEither: nativeWaitEither(native, tun, bind), yieldCore: () => {} },
      { ...config, batch: Math.min(config.batch, 8), replyInline: false, busyPoll: false, backlogYieldUs: 0, tooBigBucket: TokenBucket.allocate() },
    );
    // The host's side of the stand-in TUN: what it routes in, and what it reads back.
    const host = new NativeTun(native, hostFd, tun.vnet);
    const inject = new Batch(TX_PACKETS, TX_PACKETS, config.headroom, SLOT + config.headroom);
    const back = new Batch(TX_PACKETS * 4, TX_PACKETS * 4, config.headroom, SLOT + config.headroom);
    writeTxPackets(inject, rx.subnet >>> 0, config.mtu);
    const refused = refusedDatagrams(template, rx.subnet >>> 0, rx.subnetMask >>> 0, rx.backend === 'vxlan' ? rx.vni : -1);
    const rxBefore = counters[C.rxPackets];
    const started = clock.now();
    let rounds = 0;
    let delivered = 0;
    while (rounds < budget.rounds && clock.now() - started < budget.ms) {
      host.write(inject, TX_PACKETS, 0);
      // Datagrams decideRx refuses, so its drop branches have run too: from a stranger, then from the peer.
      native.udpSendTo(strangerFd, '127.0.0.1', port, refused[0], refused[0].length);
      for (let i = 1; i < refused.length; i++) native.udpSendTo(sendFds[0], '127.0.0.1', port, refused[i], refused[i].length);
      // TX (TUN → socket), then RX (socket → TUN), a batch per step, until nothing is left (bounded).
      for (let s = 0; s < MAX_STEPS && loop.step(0) > 0; s++);
      // The packets that came back (the ICMP "too big" answer to the oversize one is read too).
      delivered += Math.min(host.read(back, 0), DELIVERED_PER_ROUND);
      rounds++;
    }
    const ms = clock.now() - started;
    if (counters[C.rxPackets] === rxBefore) return { skipped: 'no packet made the round trip through the loopback stand-ins' };
    return { rounds, delivered, ms: Math.round(ms) };
  } catch (error) {
    return { skipped: (error as Error).message };
  } finally {
    tun.fd = saved.tunFd;
    bind.fd = saved.bindFd;
    bind.sendFds.set(saved.sendFds);
    if (snapshot !== undefined) routes.use(snapshot);
    counters.set(saved.counters);
    control.unlock();
    for (const fd of fds) closeSync(fd);
  }
}

function prefixLength(mask: number): number {
  return Math.clz32(~mask);
}

/**
 * What the host routes into the stand-in TUN each round, from .2 of `subnet` (its route leads to the
 * warm-up's socket): an ICMP echo request to .1 and two UDP datagrams to .3, which come back (the route
 * lookup's one-entry cache misses, then hits); an IPv6 packet, which has no route; and a packet over the
 * MTU, which is answered with ICMP "too big".
 */
function writeTxPackets(batch: Batch, subnet: number, mtu: number): void {
  const src = (subnet + 2) >>> 0;
  const dst = (subnet + 1) >>> 0;
  const other = (subnet + 3) >>> 0;
  const { slab, desc, stride, headroom } = batch;
  const place = (i: number, length: number) => {
    desc[i * wire.DESC_STRIDE + wire.DESC_OFFSET] = i * stride + headroom;
    desc[i * wire.DESC_STRIDE + wire.DESC_LENGTH] = length;
    return i * stride + headroom;
  };
  let at = place(0, 84);
  ipv4Packet(slab, at, 84, 1, src, dst);
  slab[at + 20] = 8; // echo request; identifier, sequence and payload zero
  const sum = wire.checksum(slab, at + 20, 64);
  slab[at + 22] = sum >>> 8;
  slab[at + 23] = sum & 0xff;
  const udpLength = Math.min(1428, mtu);
  at = place(1, udpLength);
  udpPacket(slab, at, udpLength, src, other);
  at = place(2, 100);
  udpPacket(slab, at, 100, src, other, 40001); // another flow: the receiver does not merge the two (uso)
  at = place(3, 48);
  slab[at] = 0x60; // IPv6, UDP, 2001:db8::1 → 2001:db8::2 (documentation addresses; no route)
  wire.writeU16(slab, at + wire.ipv6.OFF_PAYLOAD_LENGTH, 8);
  slab[at + wire.ipv6.OFF_NEXT_HEADER] = 17;
  slab[at + wire.ipv6.OFF_HOP_LIMIT] = 64;
  for (const [offset, last] of [
    [wire.ipv6.OFF_SRC, 1],
    [wire.ipv6.OFF_DST, 2],
  ]) {
    wire.writeU32(slab, at + offset, 0x20010db8);
    slab[at + offset + 15] = last;
  }
  wire.udp.write(slab, at + 40, 40000, 9, 8);
  const oversize = Math.min(mtu + 20, SLOT);
  at = place(4, oversize);
  udpPacket(slab, at, oversize, src, dst);
}

function ipv4Packet(slab: Uint8Array, at: number, length: number, protocol: number, src: number, dst: number): void {
  wire.ipv4.write(slab, at, { totalLength: length, protocol, src, dst, dontFragment: true, ttl: 64 });
}

function udpPacket(slab: Uint8Array, at: number, length: number, src: number, dst: number, srcPort = 40000): void {
  ipv4Packet(slab, at, length, 17, src, dst);
  wire.udp.write(slab, at + 20, srcPort, 9, length - 20);
  wire.udp.fillChecksum(slab, at, at + 20, length - 20);
}

/**
 * Datagrams decideRx refuses, each as the encapsulated payload: a well-formed one (sent from an unknown
 * sender), one addressed outside the subnet, a truncated one, and (vxlan, vni >= 0) one with another VNI.
 */
function refusedDatagrams(template: wire.OuterTemplate, subnet: number, mask: number, vni: number): Uint8Array[] {
  const datagram = (dst: number, templateBytes: Uint8Array) => {
    const bytes = new Uint8Array(templateBytes.length + 84);
    bytes.set(templateBytes);
    udpPacket(bytes, templateBytes.length, 84, (subnet + 2) >>> 0, dst);
    return bytes;
  };
  const head = template.bytes.subarray(0, template.headerLength);
  const outside = (subnet ^ ~mask ^ 0x80000000) >>> 0;
  const list = [datagram((subnet + 1) >>> 0, head), datagram(outside, head), new Uint8Array(4)];
  if (vni >= 0) {
    const other = head.slice();
    wire.vxlan.writeHeader(other, 0, vni === wire.vxlan.MAX_VNI ? 1 : vni + 1);
    list.push(datagram((subnet + 1) >>> 0, other));
  }
  return list;
}
