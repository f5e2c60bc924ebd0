/**
 * The native addon's whole surface (native/src/addon.cc). Flat functions over
 * caller-owned memory; nothing here allocates per packet or calls back into JS.
 * Syscall failures throw an Error whose message names the syscall, with `errno`.
 */
export interface NativeLayout {
  readonly DESC_STRIDE: number;
  readonly DESC_OFFSET: number;
  readonly DESC_LENGTH: number;
  readonly DESC_VERDICT: number;
  readonly DESC_SRC_PORT: number;
  readonly DESC_OUT_OFFSET: number;
  readonly DESC_OUT_LENGTH: number;
  readonly DESC_GSO_SIZE: number;
  readonly DESC_FLAGS: number;
  readonly VERDICT_ENCAP_FAILED: number;
  readonly TEMPLATE_STRIDE: number;
  readonly META_STRIDE: number;
  readonly META_HEADER_LENGTH: number;
  readonly META_IP_VERSION: number;
  readonly META_FLAGS: number;
  readonly TPL_ETHERNET: number;
  readonly TPL_UDP_CHECKSUM: number;
  /** Bytes per entry of a peer/source address table: [0] = 4|6, [2..3] port (big-endian), [4..19] address. */
  readonly ADDR_STRIDE: number;
  /** Verdicts the I/O calls write into descriptors. */
  readonly VERDICT_SEND_FAILED: number;
  readonly VERDICT_WRITE_FAILED: number;
  readonly VERDICT_TRUNCATED: number;
  /** A virtio-net header the packet contradicts (bad GSO type, offsets outside the packet). */
  readonly VERDICT_BAD_VNET: number;
  /** Bytes of the virtio-net header before each TUN packet when the TUN has one. */
  readonly VNET_HDR_LEN: number;
  /** tunSetOffload bits (linux/if_tun.h). */
  readonly TUN_F_CSUM: number;
  readonly TUN_F_TSO4: number;
  readonly TUN_F_TSO6: number;
  readonly TUN_F_USO4: number;
  readonly TUN_F_USO6: number;
  /** DESC_FLAGS bit for tunWriteCoalesced: verify this packet's inner TCP checksum before merging. */
  readonly RX_VERIFY: number;
  /** UDP-tunnel segmentation offload bits for a TAP (Linux 6.17+). */
  readonly TUN_F_UDP_TUNNEL_GSO: number;
  readonly TUN_F_UDP_TUNNEL_GSO_CSUM: number;
  /** txBatch options. */
  readonly TX_UDP_GSO: number;
  readonly TX_VNET: number;
  /** TCP super-packets to vxlan peers that are tulle hosts (ADDR flag checksummed), over IPv4, leave whole, as UDP-tunnel GSO frames written to `tunnelFd`. */
  readonly TX_WHOLE: number;
  /**
   * Bytes of txBatch's `tunnelParams`: [0..5] the TAP's MAC, [6..9] our underlay IPv4 address, [10..11] the
   * listening port, then the source-port pool's ports (all big-endian), one per socket of `fds`.
   */
  readonly TUNNEL_PARAMS_BYTES: number;
  /** tunOpen flags. */
  readonly TUN_VNET_HDR: number;
  readonly TUN_NONBLOCK: number;
  /** A TAP (Ethernet frames) instead of a TUN. */
  readonly TUN_TAP: number;
  /** The 24-byte virtio-net header that carries UDP-tunnel offsets (implies a virtio-net header). */
  readonly TUN_VNET_TUNNEL: number;
}

export interface NativeAddon {
  /** RFC 1071 checksum of bytes[offset, offset+length) plus a partial sum `seed`; same result as wire's checksum(). */
  checksum(bytes: Uint8Array, offset: number, length: number, seed?: number): number;
  /**
   * Encapsulates `count` packets in place, as wire's encapsulateBatch() does:
   * reads OFFSET/LENGTH/VERDICT/SRC_PORT of each descriptor, writes OUT_OFFSET/OUT_LENGTH.
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
  /** Waits up to `timeoutMs` for `fd` to become readable (poll). */
  waitReadable(fd: number, timeoutMs: number): boolean;
  /** Which of two fds became readable within `timeoutMs` (poll): bit 0 for `fdA`, bit 1 for `fdB`; 0 on timeout. */
  waitEither(fdA: number, fdB: number, timeoutMs: number): number;
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
   * sends. Writes OUT_LENGTH (bytes sent for the packet); failures get a negative VERDICT.
   * status[0] = datagrams sent, status[1] = UDP_SEGMENT sends the kernel refused, status[2] = whole
   * frames the TAP refused (those packets were split and sent instead), status[3] = super-packets sent
   * whole. Returns status[0].
   * `fds` is one socket, or a pool of sockets bound to distinct ports: then each packet leaves on
   * fds[SRC_PORT], so its outer source port follows its flow (templates must be payload-only).
   * With TX_WHOLE, `tunnelFd` and `tunnelParams` are the TAP of src/daemon/tunnel-tap.ts.
   */
  txBatch(fds: number | Int32Array, slab: Uint8Array, desc: Int32Array, count: number, templateBytes: Uint8Array, templateMeta: Int32Array,
    addrs: Uint8Array, arena: Uint8Array, options: number, status: Int32Array, tunnelFd?: number, tunnelParams?: Uint8Array): number;
  /** A non-blocking UDP socket bound to address:port, with send and receive buffers of `bufferBytes`. */
  udpOpen(family: 4 | 6, address: string, port: number, bufferBytes: number): number;
  /**
   * Receives datagrams (recvmmsg) into slots as tunReadBatch does and describes them in at most
   * `maxCount` descriptors; with `gro` (UDP_GRO on the socket) a coalesced datagram becomes one
   * descriptor per segment. The sender of descriptor i goes to entry i of `srcAddrs`. Truncated
   * datagrams get VERDICT_TRUNCATED. Returns the number of descriptors written.
   */
  udpRecvBatch(fd: number, slab: Uint8Array, desc: Int32Array, maxCount: number, headroom: number, stride: number, timeoutMs: number, srcAddrs: Uint8Array, gro?: boolean): number;
  /**
   * Writes every packet with VERDICT >= 0 to a TUN that has a virtio-net header, merging runs of
   * segments of one TCP flow into GSO super-packets. With `verify` (default true) each segment's TCP
   * checksum is checked before it is merged: the kernel does not check a merged packet again. Skip it
   * only when a verified outer checksum covers the segments; such segments also go as CHECKSUM_PARTIAL
   * when alone. A TCP packet longer than `mtu` (a super-packet that crossed whole) is written alone with
   * GSO, cut at the largest segment `mtu` allows. status[0] = super-packets written.
   * Returns the packets delivered; failures get VERDICT_WRITE_FAILED.
   */
  tunWriteCoalesced(fd: number, slab: Uint8Array, desc: Int32Array, count: number, status: Int32Array, verify?: boolean, mtu?: number): number;
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
  readonly layout: NativeLayout;
}

/** Features the legacy SIOCETHTOOL get/set commands reach. */
export type EthtoolFeature = 'gro' | 'tx-checksum' | 'rx-checksum' | 'tso' | 'gso' | 'sg';
