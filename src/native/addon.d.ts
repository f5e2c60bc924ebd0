/**
 * The native addon's whole surface (native/src/addon.cc). Flat functions over
 * caller-owned memory; nothing here allocates per packet or calls back into JS.
 * Syscall failures throw an Error whose message names the syscall, with `errno`.
 */
import type { NativeLayout } from './layout.js';

export type { NativeLayout };

export interface NativeAddon {
  /** RFC 1071 checksum of bytes[offset, offset+length) plus a partial sum `seed`; same result as wire's checksum(). */
  checksum(bytes: Uint8Array, offset: number, length: number, seed?: number): number;
  /**
   * Encapsulates `count` packets in place, as wire's encapsulateBatch() does:
   * reads OFFSET/LENGTH/VERDICT/SRC_PORT of each descriptor, writes OUT_OFFSET/OUT_LENGTH (packages/wire/src/batch.ts).
   * Returns how many packets were encapsulated.
   */
  encapBatch(slab: Uint8Array, desc: Int32Array, count: number, templateBytes: Uint8Array, templateMeta: Int32Array): number;
  /** Opens TUN device `name` (IFF_TUN | IFF_NO_PI, plus TUN_* flags); the caller owns and closes the fd. */
  tunOpen(name: string, flags?: number): { fd: number; name: string };
  /**
   * Reads up to `maxCount` packets from a non-blocking TUN fd into slots of the slab
   * (slot i at i * stride, packet at + headroom), waiting up to `timeoutMs` for the first.
   * Fills OFFSET/LENGTH and sets VERDICT 0. Returns the count (0 on timeout).
   */
  tunReadBatch(fd: number, slab: Uint8Array, desc: Int32Array, maxCount: number, headroom: number, stride: number, timeoutMs: number, vnet?: boolean): number;
  /**
   * Waits up to `timeoutMs` for `fd` to become readable (poll). With `spinUs` > 0 it first busy-polls that many
   * microseconds, yielding the core between polls, and only then sleeps (the low-latency mode).
   */
  waitReadable(fd: number, timeoutMs: number, spinUs?: number): boolean;
  /** Which of two fds became readable within `timeoutMs` (poll): bit 0 for `fdA`, bit 1 for `fdB`; 0 on timeout. `spinUs` as in waitReadable. */
  waitEither(fdA: number, fdB: number, timeoutMs: number, spinUs?: number): number;
  /**
   * Writes every packet with VERDICT >= 0 (OFFSET/LENGTH) to the TUN; failures get VERDICT_WRITE_FAILED.
   * With `vnet`, a zeroed virtio-net header goes into the VNET_HDR_LEN bytes before each packet. Without it and
   * with `mtu`, a TCP packet longer than `mtu` (a super-packet that crossed whole) and not marked RX_VERIFY is
   * cut into segments that fit, with full checksums. Returns the count written.
   */
  tunWriteBatch(fd: number, slab: Uint8Array, desc: Int32Array, count: number, vnet?: boolean, mtu?: number): number;
  /** TUNSETOFFLOAD; retries with fewer bits when refused. Returns the TUN_F_* bits in force. */
  tunSetOffload(fd: number, flags: number): number;
  /** Turns on UDP_GRO (coalesced receives); false when the kernel refuses. */
  udpEnableGro(fd: number): boolean;
  /** Whether the kernel accepts UDP_SEGMENT on this socket. */
  udpProbeGso(fd: number): boolean;
  /**
   * The TX half of the data plane after the verdicts are decided: encapsulates every packet with
   * VERDICT >= 0 using template VERDICT and sends it to address VERDICT. With TX_VNET the slab came
   * from a TUN with a virtio-net header, and GSO super-packets (GSO_SIZE > 0) are split into `arena`
   * with per-segment headers and checksums; with TX_UDP_GSO each super-packet leaves in UDP_SEGMENT
   * sends, and so does each run of single datagrams to one peer from one socket with one source port and
   * one length (the last may be shorter; at most 64 and 65,000 bytes), each sent from its place in the slab. Writes OUT_LENGTH (bytes sent for the packet); failures get a negative VERDICT.
   * Fills the TX_STATUS_* words of `status` (src/engine/batch.ts) and returns TX_STATUS_SENT.
   * `fds` is one socket, or a pool of up to MAX_SOCKETS sockets bound to distinct ports: each packet
   * leaves on fds[SOCKET], so its outer source port follows its flow (templates must be payload-only).
   * With TX_WHOLE, `tunnelFd` and `tunnelParams` are the TAP of src/daemon/tunnel-tap.ts, and super-packets
   * flagged FLAG_SEND_WHOLE leave whole through it when they can (TCP, an IPv4 vxlan peer, small enough
   * for one IPv4 datagram); otherwise, or when the TAP refuses, they are split as usual. Which packets
   * may is decided by the caller (decideTx), never here.
   */
  txBatch(
    fds: number | Int32Array,
    slab: Uint8Array,
    desc: Int32Array,
    count: number,
    templateBytes: Uint8Array,
    templateMeta: Int32Array,
    addrs: Uint8Array,
    arena: Uint8Array,
    options: number,
    status: Int32Array,
    tunnelFd?: number,
    tunnelParams?: Uint8Array,
  ): number;
  /** A non-blocking UDP socket bound to address:port, with send and receive buffers of `bufferBytes`. */
  udpOpen(family: 4 | 6, address: string, port: number, bufferBytes: number): number;
  /**
   * Sends bytes[0, length) as one datagram to address:port from a socket of udpOpen (DF set). Returns 0, or the
   * errno of a refused send: EMSGSIZE when the datagram exceeds the path MTU the kernel knows. The path-MTU
   * probe's only send (src/daemon/path-health); never on the data path.
   */
  udpSendTo(fd: number, address: string, port: number, bytes: Uint8Array, length: number): number;
  /** The port a socket of udpOpen is bound to (getsockname). */
  udpLocalPort(fd: number): number;
  /**
   * A connected pair of non-blocking AF_UNIX datagram sockets. One read returns one whole message, as a TUN
   * read returns one packet: the data-plane warm-up (src/engine/warm-up.ts) uses one as a TUN that no host
   * routes into.
   */
  datagramPair(): [number, number];
  /**
   * Receives datagrams (recvmmsg) into slots as tunReadBatch does and describes them in at most
   * `maxCount` descriptors; with `gro` (UDP_GRO on the socket) a coalesced datagram becomes one
   * descriptor per segment. The sender of descriptor i goes to entry i of `srcAddrs`. Truncated
   * datagrams get VERDICT_TRUNCATED. Returns the number of descriptors written.
   */
  udpRecvBatch(
    fd: number,
    slab: Uint8Array,
    desc: Int32Array,
    maxCount: number,
    headroom: number,
    stride: number,
    timeoutMs: number,
    srcAddrs: Uint8Array,
    gro?: boolean,
  ): number;
  /**
   * Writes every packet with VERDICT >= 0 to a TUN that has a virtio-net header, merging runs of
   * segments of one TCP flow into GSO super-packets. With `verify` (default true) each segment's TCP
   * checksum is checked before it is merged: the kernel does not check a merged packet again. Skip it
   * only when a verified outer checksum covers the segments; such segments also go as CHECKSUM_PARTIAL
   * when alone. A TCP packet longer than `mtu` (a super-packet that crossed whole) is written alone with
   * GSO, cut at the largest segment `mtu` allows. `uso` (TUN_F_USO4 / TUN_F_USO6 bits, default 0): for those IP
   * versions, runs of equal-size datagrams of one UDP flow (the last may be shorter) become one GSO_UDP_L4
   * super-packet; each datagram's UDP checksum is checked first, whatever `verify` says.
   * status[COALESCE_STATUS_MERGED] = super-packets written, status[COALESCE_STATUS_MERGED_UDP] = the UDP ones.
   * Returns the packets delivered; failures get VERDICT_WRITE_FAILED.
   */
  tunWriteCoalesced(fd: number, slab: Uint8Array, desc: Int32Array, count: number, status: Int32Array, verify?: boolean, mtu?: number, uso?: number): number;
  /**
   * An offload feature of device `ifname` (SIOCETHTOOL, as `ethtool -k` shows it), in the calling
   * thread's network namespace: run it in a process started inside the namespace.
   */
  ethtoolGet(ifname: string, feature: EthtoolFeature): boolean;
  /**
   * Whether the feature named as `ethtool -k` lists it (e.g. "tx-udp_tnl-csum-segmentation") is active on
   * `ifname` (ETHTOOL_GFEATURES); undefined when this kernel has no feature of that name.
   */
  ethtoolFeatureActive(ifname: string, name: string): boolean | undefined;
  /** Turns an offload feature on or off (SIOCETHTOOL, as `ethtool -K`); throws naming the ioctl and errno. */
  ethtoolSet(ifname: string, feature: EthtoolFeature, on: boolean): void;
  /**
   * Sends `message` as one datagram to the unix socket `path` (systemd's NOTIFY_SOCKET; a leading '@' names an
   * abstract socket). Throws naming the syscall, with `errno`.
   */
  notifySend(path: string, message: string): void;
  /**
   * Names the calling thread (prctl PR_SET_NAME; the kernel keeps 15 bytes), so `top -H`, `ps -L` and profiles
   * tell the data-plane workers (tulle-duplex, tulle-tx, tulle-rx) from Node's own threads.
   */
  setThreadName(name: string): void;
  /**
   * Offers the calling thread's core to any other runnable thread (sched_yield). A data-plane thread calls it
   * now and then while the TUN holds a backlog (src/engine/backlog-yield.ts).
   */
  yieldCore(): void;
  readonly layout: NativeLayout;
}

/** Features the legacy SIOCETHTOOL get/set commands reach. */
export type EthtoolFeature = 'gro' | 'tx-checksum' | 'rx-checksum' | 'tso' | 'gso' | 'sg';
