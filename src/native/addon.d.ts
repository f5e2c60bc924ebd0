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
  /** tunOpen flags. */
  readonly TUN_VNET_HDR: number;
  readonly TUN_NONBLOCK: number;
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
  readonly layout: NativeLayout;
}
