#include "tunnel.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bytes.h"
#include "checksum.h"
#include "io.h"
#include "layout.h"

namespace tulle {

namespace {

constexpr uint8_t kVnetUdpTunnelCsum = 8;
constexpr uint8_t kGsoUdpTunnelIpv4 = 0x20;
constexpr int kUdpProto = 17;

void PutLe16(uint8_t* p, int v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

}  // namespace

bool Whole(int64_t off, int len, const GsoInfo& info, const TemplateTable& table, int peer, const uint8_t* addrs) {
  // Whether the peer may get whole frames is the engine's decision (kFlagSendWhole, src/engine/decide.ts);
  // these are what the frame built here needs. TCP only: a UDP super-packet's datagram boundaries
  // would not survive a receiver that takes it whole. An IPv4 peer: the outer header is IPv4.
  if (info.gsoType != kGsoTcpV4 && info.gsoType != kGsoTcpV6) return false;
  const uint8_t* entry = addrs + static_cast<ptrdiff_t>(peer) * kAddrStride;
  if (entry[kAddrFamily] != 4) return false;
  const int32_t* meta = table.meta + static_cast<ptrdiff_t>(peer) * kMetaStride;
  if (meta[kMetaIpVersion] != 0) return false;  // payload templates only: the outer headers are built here
  const int tpl = meta[kMetaHeaderLength];
  // vxlan's payload template is its VXLAN header and inner Ethernet; the udp backend's is empty. The
  // kernel copies what lies between the outer UDP and inner IP headers, if anything, into each segment
  // as the tunnel header, and takes the inner protocol from the GSO type (TCPV4/TCPV6), not from it.
  if (!(meta[kMetaFlags] & kTplEthernet) && tpl != 0) return false;
  return 20 + 8 + tpl + len <= 0xffff && off - tpl - kTunnelFrontBytes >= 0;
}

int SendWhole(int fd, const uint8_t* params, uint8_t* slab, size_t slabLength, int64_t off, int len, const GsoInfo& info, const VnetHdr& vnet,
              const TemplateTable& table, int peer, const uint8_t* addrs, int srcPort) {
  if (!Whole(off, len, info, table, peer, addrs)) return 0;
  const uint8_t* entry = addrs + static_cast<ptrdiff_t>(peer) * kAddrStride;
  const int tpl = table.meta[static_cast<ptrdiff_t>(peer) * kMetaStride + kMetaHeaderLength];
  const int udpLength = 8 + tpl + len;
  const int64_t start = ApplyTemplate(slab, slabLength, off, len, table, peer, 0);
  if (start != off - tpl) return 0;
  uint8_t* udp = slab + start - 8;
  uint8_t* ip = udp - 20;
  uint8_t* eth = ip - 14;
  uint8_t* vh = eth - kTunnelVnetLen;
  // Ethernet: to the TAP's own address, so the kernel takes the frame as its own to route.
  std::memcpy(eth, params, 6);
  std::memcpy(eth + 6, params, 6);
  Put16(eth + 12, 0x0800);
  ip[0] = 0x45;
  ip[1] = 0;
  Put16(ip + 2, static_cast<uint32_t>(20 + udpLength));
  Put16(ip + 4, 0);
  Put16(ip + 6, 0x4000);  // DF: VTEPs do not fragment (RFC 7348)
  ip[8] = 65;             // forwarding the frame takes one off
  ip[9] = kUdpProto;
  Put16(ip + 10, 0);
  std::memcpy(ip + 12, params + 6, 4);
  std::memcpy(ip + 16, entry + kAddrAddress, 4);
  Put16(ip + 10, Checksum(ip, 20, 0));
  Put16(udp, static_cast<uint32_t>(srcPort));
  std::memcpy(udp + 2, entry + kAddrPort, 2);
  Put16(udp + 4, static_cast<uint32_t>(udpLength));
  // The outer checksum is the kernel's to finish per segment (UDP_TUNNEL_CSUM): the pseudo-header sum.
  Put16(udp + 6, PseudoHeaderSum(ip, kUdpProto, static_cast<uint32_t>(udpLength)));
  const int innerNetwork = 14 + 20 + 8 + tpl;
  std::memset(vh, 0, kTunnelVnetLen);
  vh[0] = kVnetNeedsCsum | kVnetUdpTunnelCsum;
  vh[1] = static_cast<uint8_t>(kGsoUdpTunnelIpv4 | vnet.gsoType);  // keeps the inner type and its ECN bit
  PutLe16(vh + 2, innerNetwork + info.hdrLen);
  PutLe16(vh + 4, info.gsoSize);
  PutLe16(vh + 6, innerNetwork + info.l4Offset);  // the inner TCP checksum, already holding its pseudo-header sum
  PutLe16(vh + 8, 16);
  PutLe16(vh + 20, 14 + 20);
  PutLe16(vh + 22, innerNetwork);
  const size_t frame = static_cast<size_t>(kTunnelVnetLen + innerNetwork + len);
  for (;;) {
    ssize_t r = write(fd, vh, frame);
    if (r >= 0) return static_cast<int>(frame - kTunnelVnetLen);
    if (errno != EINTR) return -errno;
  }
}

}  // namespace tulle
