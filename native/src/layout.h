// Every number the addon shares with TypeScript: the batch (slab, descriptors,
// address table, status words), the verdicts, the call options and flags.
// The other headers include this one and define none of these themselves.
// The addon exports kLayout as `layout`, and test/native-parity.test.ts
// compares it, name by name and both ways, with src/native/layout.ts.
#pragma once
#include <cstdint>

namespace tulle {

// Descriptors: kDescStride int32 words per packet.
constexpr int kDescStride = 9;
constexpr int kDescOffset = 0;     // inner packet offset in the slab
constexpr int kDescLength = 1;     // inner packet length
constexpr int kDescVerdict = 2;    // >= 0 template (peer) index, < 0 drop reason
constexpr int kDescSrcPort = 3;    // outer UDP source port of a built header, 0 = the template's (or the socket's)
constexpr int kDescOutOffset = 4;  // written: outer packet offset
constexpr int kDescOutLength = 5;  // written: outer packet length, 0 = not sent
constexpr int kDescGsoSize = 6;    // TX: segment size of a GSO super-packet, 0 = a single packet
constexpr int kDescFlags = 7;
constexpr int kDescSocket = 8;  // TX: index into txBatch's socket pool (the flow's socket)

// DESC_FLAGS on RX: the datagram's outer UDP checksum may have been zero (a kernel VXLAN
// peer's default), so inner TCP checksums are verified before segments merge.
constexpr int kRxVerify = 1;
// DESC_FLAGS on TX, written by a TUN read: the virtio-net GSO type in the low byte,
// the IP + L4 header length from bit 16.
constexpr int kFlagsGsoTypeMask = 0xff;
constexpr int kFlagsHeaderLengthShift = 16;
// DESC_FLAGS on TX, written by the engine's decision: this super-packet may leave whole
// through the tunnel TAP (tunnel.h). txBatch honours it; it never decides it.
constexpr int kFlagSendWhole = 0x100;
// virtio-net GSO types (linux/virtio_net.h) as they appear in the flags' low byte (ECN bit cleared).
constexpr uint8_t kGsoTcpV4 = 1, kGsoTcpV6 = 4, kGsoUdpL4 = 5;

// Verdicts: >= 0 is a peer; every negative value is a drop reason with its own counter.
// -1..-5 are written by the addon, the rest by the engine's decisions.
constexpr int32_t kVerdictEncapFailed = -1;
constexpr int32_t kVerdictSendFailed = -2;
constexpr int32_t kVerdictWriteFailed = -3;
constexpr int32_t kVerdictTruncated = -4;
constexpr int32_t kVerdictBadVnet = -5;  // a virtio-net header the packet contradicts
constexpr int32_t kDropNoRoute = -10;
constexpr int32_t kDropMalformed = -11;
constexpr int32_t kDropUnknownSender = -12;
constexpr int32_t kDropOversize = -13;
constexpr int32_t kDropWrongVni = -14;
constexpr int32_t kDropNotOurs = -15;
constexpr int32_t kDropUnknownVtep = -16;

// Template table: kTemplateStride bytes of header image and kMetaStride words per peer.
constexpr int kTemplateStride = 96;  // MAX_HEADER
constexpr int kMetaStride = 4;
constexpr int kMetaHeaderLength = 0;
constexpr int kMetaIpVersion = 1;
constexpr int kMetaFlags = 2;
constexpr int kTplEthernet = 1;
constexpr int kTplUdpChecksum = 2;

// Address table entries (kAddrStride bytes each): byte 0 = 4 or 6, byte 1 = flags,
// bytes 2-3 = port (big-endian), bytes 4-19 = address (IPv4 in 4-7).
constexpr int kAddrStride = 20;
constexpr int kAddrFamily = 0;
constexpr int kAddrFlags = 1;
constexpr int kAddrPort = 2;
constexpr int kAddrAddress = 4;
// Address flag: the peer is a tulle host (its datagrams always carry a UDP checksum, and it trusts ours).
constexpr uint8_t kAddrChecksummed = 1;

// txBatch options.
constexpr int kTxUdpGso = 1;  // UDP_SEGMENT sends: a super-packet's segments, and runs of equal single datagrams to one peer
constexpr int kTxVnet = 2;    // the slab was read from a TUN with a virtio-net header
constexpr int kTxWhole = 4;   // a tunnel TAP and its params are passed: packets flagged kFlagSendWhole may use it

// txBatch status words, rewritten by every call.
constexpr int kTxStatusSent = 0;          // datagrams sent
constexpr int kTxStatusGsoRefused = 1;    // UDP_SEGMENT sends the kernel refused (EIO/EINVAL)
constexpr int kTxStatusWholeRefused = 2;  // whole frames the TAP refused (those packets were split and sent as usual)
constexpr int kTxStatusWholeSent = 3;     // super-packets sent whole
constexpr int kTxStatusCoalesced = 4;     // single datagrams that left inside a UDP_SEGMENT send of several
constexpr int kTxStatusWords = 5;
// tunWriteCoalesced status words.
constexpr int kCoalesceStatusMerged = 0;     // super-packets written (TCP and UDP)
constexpr int kCoalesceStatusMergedUdp = 1;  // of which UDP (USO)
constexpr int kCoalesceStatusWords = 2;

// Bytes of the virtio-net header before each packet of a TUN opened with kTunVnetHdr.
constexpr int kVnetHdrLen = 10;

// txBatch's tunnelParams, built once by the engine: [0..5] the TAP's MAC, [6..9] our
// underlay IPv4 address, [10..11] the listening port (big-endian), then one big-endian
// port per socket of the source-port pool (at most kMaxSockets).
constexpr int kMaxSockets = 64;
constexpr int kTunnelParamsBytes = 12 + 2 * kMaxSockets;

// tunOpen flags.
constexpr int kTunVnetHdr = 1;     // IFF_VNET_HDR: a virtio-net header leads every packet
constexpr int kTunNonBlock = 2;    // O_NONBLOCK on the fd
constexpr int kTunTap = 4;         // IFF_TAP: Ethernet frames instead of IP packets
constexpr int kTunVnetTunnel = 8;  // the 24-byte virtio-net header with UDP-tunnel offsets (TUNSETVNETHDRSZ)

// tunSetOffload bits (linux/if_tun.h; USO and UDP-tunnel GSO are newer than some headers).
constexpr int kTunFCsum = 0x01;
constexpr int kTunFTso4 = 0x02;
constexpr int kTunFTso6 = 0x04;
constexpr int kTunFUso4 = 0x20;
constexpr int kTunFUso6 = 0x40;
constexpr int kTunFUdpTunnelGso = 0x80;
constexpr int kTunFUdpTunnelGsoCsum = 0x100;

// The table the addon exports: TypeScript's names for all of the above.
struct LayoutEntry {
  const char* name;
  int32_t value;
};
constexpr LayoutEntry kLayout[] = {
    {"DESC_STRIDE", kDescStride},
    {"DESC_OFFSET", kDescOffset},
    {"DESC_LENGTH", kDescLength},
    {"DESC_VERDICT", kDescVerdict},
    {"DESC_SRC_PORT", kDescSrcPort},
    {"DESC_OUT_OFFSET", kDescOutOffset},
    {"DESC_OUT_LENGTH", kDescOutLength},
    {"DESC_GSO_SIZE", kDescGsoSize},
    {"DESC_FLAGS", kDescFlags},
    {"DESC_SOCKET", kDescSocket},
    {"RX_VERIFY", kRxVerify},
    {"FLAGS_GSO_TYPE_MASK", kFlagsGsoTypeMask},
    {"FLAGS_HEADER_LENGTH_SHIFT", kFlagsHeaderLengthShift},
    {"FLAG_SEND_WHOLE", kFlagSendWhole},
    {"GSO_TCPV4", kGsoTcpV4},
    {"GSO_TCPV6", kGsoTcpV6},
    {"GSO_UDP_L4", kGsoUdpL4},
    {"VERDICT_ENCAP_FAILED", kVerdictEncapFailed},
    {"VERDICT_SEND_FAILED", kVerdictSendFailed},
    {"VERDICT_WRITE_FAILED", kVerdictWriteFailed},
    {"VERDICT_TRUNCATED", kVerdictTruncated},
    {"VERDICT_BAD_VNET", kVerdictBadVnet},
    {"DROP_NO_ROUTE", kDropNoRoute},
    {"DROP_MALFORMED", kDropMalformed},
    {"DROP_UNKNOWN_SENDER", kDropUnknownSender},
    {"DROP_OVERSIZE", kDropOversize},
    {"DROP_WRONG_VNI", kDropWrongVni},
    {"DROP_NOT_OURS", kDropNotOurs},
    {"DROP_UNKNOWN_VTEP", kDropUnknownVtep},
    {"TEMPLATE_STRIDE", kTemplateStride},
    {"META_STRIDE", kMetaStride},
    {"META_HEADER_LENGTH", kMetaHeaderLength},
    {"META_IP_VERSION", kMetaIpVersion},
    {"META_FLAGS", kMetaFlags},
    {"TPL_ETHERNET", kTplEthernet},
    {"TPL_UDP_CHECKSUM", kTplUdpChecksum},
    {"ADDR_STRIDE", kAddrStride},
    {"ADDR_FAMILY", kAddrFamily},
    {"ADDR_FLAGS", kAddrFlags},
    {"ADDR_PORT", kAddrPort},
    {"ADDR_ADDRESS", kAddrAddress},
    {"ADDR_CHECKSUMMED", kAddrChecksummed},
    {"TX_UDP_GSO", kTxUdpGso},
    {"TX_VNET", kTxVnet},
    {"TX_WHOLE", kTxWhole},
    {"TX_STATUS_SENT", kTxStatusSent},
    {"TX_STATUS_GSO_REFUSED", kTxStatusGsoRefused},
    {"TX_STATUS_WHOLE_REFUSED", kTxStatusWholeRefused},
    {"TX_STATUS_WHOLE_SENT", kTxStatusWholeSent},
    {"TX_STATUS_COALESCED", kTxStatusCoalesced},
    {"TX_STATUS_WORDS", kTxStatusWords},
    {"COALESCE_STATUS_MERGED", kCoalesceStatusMerged},
    {"COALESCE_STATUS_MERGED_UDP", kCoalesceStatusMergedUdp},
    {"COALESCE_STATUS_WORDS", kCoalesceStatusWords},
    {"VNET_HDR_LEN", kVnetHdrLen},
    {"MAX_SOCKETS", kMaxSockets},
    {"TUNNEL_PARAMS_BYTES", kTunnelParamsBytes},
    {"TUN_VNET_HDR", kTunVnetHdr},
    {"TUN_NONBLOCK", kTunNonBlock},
    {"TUN_TAP", kTunTap},
    {"TUN_VNET_TUNNEL", kTunVnetTunnel},
    {"TUN_F_CSUM", kTunFCsum},
    {"TUN_F_TSO4", kTunFTso4},
    {"TUN_F_TSO6", kTunFTso6},
    {"TUN_F_USO4", kTunFUso4},
    {"TUN_F_USO6", kTunFUso6},
    {"TUN_F_UDP_TUNNEL_GSO", kTunFUdpTunnelGso},
    {"TUN_F_UDP_TUNNEL_GSO_CSUM", kTunFUdpTunnelGsoCsum},
};

}  // namespace tulle
