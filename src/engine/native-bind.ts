/**
 * The kernel's UDP sockets through the native addon (bind.ts has the
 * contract): one receiving socket, the sockets outer packets leave on (the
 * receiving one, or a pool of source ports), and the tunnel TAP whole
 * super-packets leave through (src/daemon/tunnel-tap.ts). It borrows every fd.
 *
 * The offloads it sends with are its own business: the kernel refusing
 * UDP_SEGMENT (EIO: a device on the path cannot segment) or the TAP refusing
 * a whole frame turns that offload off for good, with a log line, and the
 * packets concerned are split and sent instead.
 */
import type { NativeAddon } from '../native/load.js';
import {
  TX_STATUS_COALESCED,
  TX_STATUS_GSO_REFUSED,
  TX_STATUS_WHOLE_REFUSED,
  TX_STATUS_WHOLE_SENT,
  TX_STATUS_WORDS,
  TX_UDP_GSO,
  TX_VNET,
  TX_WHOLE,
  type Batch,
} from './batch.js';
import { SENT_COALESCED, SENT_DATAGRAMS, SENT_WHOLE, type Bind } from './bind.js';
import type { Log } from './log.js';
import type { SendTable } from './routes.js';

/** UDP GRO: a received datagram holds up to this many segments (native/src/io.h kMaxGroSegments). */
const MAX_GRO_SEGMENTS = 64;

export interface NativeBindOptions {
  /** The socket datagrams arrive on. */
  fd: number;
  /** The sockets outer packets leave on: [fd], or the source-port pool. */
  sendFds: number[];
  /** UDP_GRO is on for `fd`. */
  gro: boolean;
  /** The kernel takes UDP_SEGMENT sends on the send sockets. */
  udpGso: boolean;
  /** The tunnel TAP (src/daemon/tunnel-tap.ts) or -1, and its txBatch params. */
  tunnelFd: number;
  tunnelParams: number[];
  /** Where super-packets are split before sending; reused once sent. */
  arenaBytes: number;
  /** Low-latency mode: microseconds waitReadable() busy-polls before it sleeps (0 or absent: off). */
  spinUs?: number;
}

export class NativeBind implements Bind {
  readonly sockets: number;
  readonly segmentsPerDatagram: number;
  /** Mutable only for the warm-up, which points the bind at its loopback sockets for a moment (warm-up.ts). */
  fd: number;
  /** The send sockets; the warm-up swaps its own in and back the same way. */
  readonly sendFds: Int32Array;
  private readonly arena: Uint8Array;
  private readonly tunnelFd: number;
  private readonly tunnelParams: Uint8Array;
  private readonly txStatus = new Int32Array(TX_STATUS_WORDS);
  private readonly spinUs: number;
  private options: number;

  constructor(
    private readonly native: NativeAddon,
    o: NativeBindOptions,
    private readonly log: Log,
  ) {
    if (o.sendFds.length < 1) throw new Error('NativeBind: sendFds is empty (at least the receiving socket)');
    this.fd = o.fd;
    this.sendFds = Int32Array.from(o.sendFds);
    this.sockets = o.sendFds.length;
    this.segmentsPerDatagram = o.gro ? MAX_GRO_SEGMENTS : 1;
    this.arena = new Uint8Array(o.arenaBytes);
    this.tunnelFd = o.tunnelFd;
    this.tunnelParams = Uint8Array.from(o.tunnelParams);
    this.spinUs = o.spinUs ?? 0;
    this.options = (o.udpGso ? TX_UDP_GSO : 0) | (o.tunnelFd >= 0 ? TX_WHOLE : 0);
  }

  get wholeFrames(): boolean {
    return (this.options & TX_WHOLE) !== 0;
  }

  receive(batch: Batch, srcAddrs: Uint8Array, timeoutMs: number): number {
    return this.native.udpRecvBatch(
      this.fd,
      batch.slab,
      batch.desc,
      batch.descriptors,
      batch.headroom,
      batch.stride,
      timeoutMs,
      srcAddrs,
      this.segmentsPerDatagram > 1,
    );
  }

  send(batch: Batch, count: number, table: SendTable, superPackets: boolean, status: Int32Array): number {
    const s = this.txStatus;
    const datagrams = this.native.txBatch(
      this.sendFds,
      batch.slab,
      batch.desc,
      count,
      table.templateBytes,
      table.templateMeta,
      table.addrs,
      this.arena,
      this.options | (superPackets ? TX_VNET : 0),
      s,
      this.tunnelFd,
      this.tunnelParams,
    );
    if (s[TX_STATUS_GSO_REFUSED] > 0 && (this.options & TX_UDP_GSO) !== 0) {
      this.options &= ~TX_UDP_GSO;
      this.log(
        'warn',
        'udpGso off: the kernel refused a UDP_SEGMENT send (a device on the path cannot segment); super-packets are split and datagrams sent one by one from now on',
      );
    }
    if (s[TX_STATUS_WHOLE_REFUSED] > 0 && (this.options & TX_WHOLE) !== 0) {
      this.options &= ~TX_WHOLE;
      this.log('warn', 'udpTunnelGso off: the tunnel TAP refused a whole frame; super-packets are split from now on');
    }
    status[SENT_DATAGRAMS] = datagrams;
    status[SENT_WHOLE] = s[TX_STATUS_WHOLE_SENT];
    status[SENT_COALESCED] = s[TX_STATUS_COALESCED];
    return datagrams;
  }

  waitReadable(timeoutMs: number): boolean {
    return this.native.waitReadable(this.fd, timeoutMs, this.spinUs);
  }
}
