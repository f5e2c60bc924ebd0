/**
 * Every number the addon shares with TypeScript, by the name the addon
 * exports it under (`layout`, from native/src/layout.h). The constants are
 * defined where their users live (packages/wire/src/batch.ts, src/engine/batch.ts,
 * src/engine/verdicts.ts, and the device flags below); this table only
 * gathers them, and test/native-parity.test.ts checks it against the addon
 * both ways: the same names, the same values.
 */
import * as wire from '@tulle/wire';
import * as batch from '../engine/batch.js';
import * as verdicts from '../engine/verdicts.js';

/** tunOpen flags: a virtio-net header leads every packet (IFF_VNET_HDR). */
export const TUN_VNET_HDR = 1;
/** tunOpen flags: O_NONBLOCK on the fd. */
export const TUN_NONBLOCK = 2;
/** tunOpen flags: a TAP (Ethernet frames) instead of a TUN. */
export const TUN_TAP = 4;
/** tunOpen flags: the 24-byte virtio-net header that carries UDP-tunnel offsets (implies a virtio-net header). */
export const TUN_VNET_TUNNEL = 8;
/** tunSetOffload bits (linux/if_tun.h). */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;
/** UDP-tunnel segmentation offload bits for a TAP (Linux 6.17+). */
export const TUN_F_UDP_TUNNEL_GSO = 0x80;
export const TUN_F_UDP_TUNNEL_GSO_CSUM = 0x100;

export const LAYOUT = {
  DESC_STRIDE: wire.DESC_STRIDE,
  DESC_OFFSET: wire.DESC_OFFSET,
  DESC_LENGTH: wire.DESC_LENGTH,
  DESC_VERDICT: wire.DESC_VERDICT,
  DESC_SRC_PORT: wire.DESC_SRC_PORT,
  DESC_OUT_OFFSET: wire.DESC_OUT_OFFSET,
  DESC_OUT_LENGTH: wire.DESC_OUT_LENGTH,
  DESC_GSO_SIZE: wire.DESC_GSO_SIZE,
  DESC_FLAGS: wire.DESC_FLAGS,
  DESC_SOCKET: wire.DESC_SOCKET,
  RX_VERIFY: wire.RX_VERIFY,
  FLAGS_GSO_TYPE_MASK: wire.FLAGS_GSO_TYPE_MASK,
  FLAGS_HEADER_LENGTH_SHIFT: wire.FLAGS_HEADER_LENGTH_SHIFT,
  FLAG_SEND_WHOLE: wire.FLAG_SEND_WHOLE,
  GSO_TCPV4: wire.GSO_TCPV4,
  GSO_TCPV6: wire.GSO_TCPV6,
  GSO_UDP_L4: wire.GSO_UDP_L4,
  VERDICT_ENCAP_FAILED: verdicts.VERDICT_ENCAP_FAILED,
  VERDICT_SEND_FAILED: verdicts.VERDICT_SEND_FAILED,
  VERDICT_WRITE_FAILED: verdicts.VERDICT_WRITE_FAILED,
  VERDICT_TRUNCATED: verdicts.VERDICT_TRUNCATED,
  VERDICT_BAD_VNET: verdicts.VERDICT_BAD_VNET,
  DROP_NO_ROUTE: verdicts.DROP_NO_ROUTE,
  DROP_MALFORMED: verdicts.DROP_MALFORMED,
  DROP_UNKNOWN_SENDER: verdicts.DROP_UNKNOWN_SENDER,
  DROP_OVERSIZE: verdicts.DROP_OVERSIZE,
  DROP_WRONG_VNI: verdicts.DROP_WRONG_VNI,
  DROP_NOT_OURS: verdicts.DROP_NOT_OURS,
  DROP_UNKNOWN_VTEP: verdicts.DROP_UNKNOWN_VTEP,
  TEMPLATE_STRIDE: wire.TEMPLATE_STRIDE,
  META_STRIDE: wire.META_STRIDE,
  META_HEADER_LENGTH: wire.META_HEADER_LENGTH,
  META_IP_VERSION: wire.META_IP_VERSION,
  META_FLAGS: wire.META_FLAGS,
  TPL_ETHERNET: wire.TPL_ETHERNET,
  TPL_UDP_CHECKSUM: wire.TPL_UDP_CHECKSUM,
  ADDR_STRIDE: batch.ADDR_STRIDE,
  ADDR_FAMILY: batch.ADDR_FAMILY,
  ADDR_FLAGS: batch.ADDR_FLAGS,
  ADDR_PORT: batch.ADDR_PORT,
  ADDR_ADDRESS: batch.ADDR_ADDRESS,
  ADDR_CHECKSUMMED: batch.ADDR_CHECKSUMMED,
  TX_UDP_GSO: batch.TX_UDP_GSO,
  TX_VNET: batch.TX_VNET,
  TX_WHOLE: batch.TX_WHOLE,
  TX_STATUS_SENT: batch.TX_STATUS_SENT,
  TX_STATUS_GSO_REFUSED: batch.TX_STATUS_GSO_REFUSED,
  TX_STATUS_WHOLE_REFUSED: batch.TX_STATUS_WHOLE_REFUSED,
  TX_STATUS_WHOLE_SENT: batch.TX_STATUS_WHOLE_SENT,
  TX_STATUS_COALESCED: batch.TX_STATUS_COALESCED,
  TX_STATUS_WORDS: batch.TX_STATUS_WORDS,
  COALESCE_STATUS_MERGED: batch.COALESCE_STATUS_MERGED,
  COALESCE_STATUS_MERGED_UDP: batch.COALESCE_STATUS_MERGED_UDP,
  COALESCE_STATUS_WORDS: batch.COALESCE_STATUS_WORDS,
  VNET_HDR_LEN: batch.VNET_HDR_LEN,
  MAX_SOCKETS: batch.MAX_SOCKETS,
  TUNNEL_PARAMS_BYTES: batch.TUNNEL_PARAMS_BYTES,
  TUN_VNET_HDR,
  TUN_NONBLOCK,
  TUN_TAP,
  TUN_VNET_TUNNEL,
  TUN_F_CSUM,
  TUN_F_TSO4,
  TUN_F_TSO6,
  TUN_F_USO4,
  TUN_F_USO6,
  TUN_F_UDP_TUNNEL_GSO,
  TUN_F_UDP_TUNNEL_GSO_CSUM,
} as const;

/** The addon's `layout` object: the same names as LAYOUT, each a number. */
export type NativeLayout = { readonly [K in keyof typeof LAYOUT]: number };
