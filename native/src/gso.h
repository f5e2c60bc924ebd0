// virtio-net headers on a TUN with IFF_VNET_HDR, checksum completion and GSO
// segmentation. The rules follow the kernel's tcp/udp GSO: per segment the IP
// length and (IPv4) ID and checksum, the TCP sequence number and flags, and the
// L4 checksum are rewritten; the TUN's header length is recomputed, not trusted.
#pragma once
#include <cstddef>
#include <cstdint>

#include "layout.h"

namespace tulle {

constexpr uint8_t kVnetNeedsCsum = 1;
// The GSO types TypeScript reads (TCP, UDP L4) are in layout.h.
constexpr uint8_t kGsoNone = 0, kGsoUdp = 3, kGsoEcn = 0x80;

struct VnetHdr {
  uint8_t flags;
  uint8_t gsoType;
  uint16_t hdrLen;  // host order in memory (virtio is little-endian on x86)
  uint16_t gsoSize;
  uint16_t csumStart;
  uint16_t csumOffset;
};
static_assert(sizeof(VnetHdr) == kVnetHdrLen, "virtio_net_hdr is 10 bytes");

// What a TUN read handed over, after inspection.
struct GsoInfo {
  int gsoSize;   // 0: a single packet
  int hdrLen;    // IP + L4 header bytes copied into every segment
  int l4Offset;  // where the TCP/UDP header starts
  int gsoType;   // kGsoTcpV4, kGsoTcpV6, kGsoUdpL4
};

// Completes a CHECKSUM_PARTIAL packet in place. Returns false if the offsets lie outside it.
bool CompleteChecksum(uint8_t* pkt, int len, int csumStart, int csumOffset);

// Validates a packet read with a virtio-net header; completes its checksum when it
// is a single packet. Returns false for a header the packet contradicts.
bool InspectVnet(const VnetHdr& vnet, uint8_t* pkt, int len, GsoInfo* info);

// Number of segments `info` splits a `len`-byte packet into.
inline int SegmentCount(int len, const GsoInfo& info) {
  int payload = len - info.hdrLen;
  return payload <= 0 ? 1 : (payload + info.gsoSize - 1) / info.gsoSize;
}

// Writes segment `index` of the super-packet `pkt` (len bytes) to `out`; returns its length.
int WriteSegment(const uint8_t* pkt, int len, const GsoInfo& info, int index, uint8_t* out);

// A whole TCP packet: IPv4 (not a fragment, total length = len) or IPv6 without extension
// headers. Sets the IP and IP+TCP header lengths; false for anything else.
bool TcpHeaders(const uint8_t* pkt, int len, int* ipLen, int* hdrLen);

// A TCP packet longer than `mtu` (a super-packet that crossed whole) cut into segments that
// fit, each with its own headers and full checksums, written one by one to a TUN without a
// virtio-net header. Returns 1 when written, 0 when the packet is not such a TCP packet
// (the caller writes it as it is), -1 when a write failed.
int TunWriteCut(int fd, const uint8_t* pkt, int len, int mtu);

}  // namespace tulle
