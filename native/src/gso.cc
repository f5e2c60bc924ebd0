#include "gso.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bytes.h"
#include "checksum.h"

namespace tulle {

namespace {

constexpr int kTcp = 6, kUdp = 17;

}  // namespace

bool CompleteChecksum(uint8_t* pkt, int len, int csumStart, int csumOffset) {
  if (csumStart < 0 || csumOffset < 0 || csumStart + csumOffset + 2 > len) return false;
  // The field holds the pseudo-header sum already (CHECKSUM_PARTIAL): sum the rest over it.
  uint16_t sum = Checksum(pkt + csumStart, static_cast<size_t>(len - csumStart), 0);
  Put16(pkt + csumStart + csumOffset, sum);
  return true;
}

bool InspectVnet(const VnetHdr& vnet, uint8_t* pkt, int len, GsoInfo* info) {
  info->gsoSize = 0;
  info->hdrLen = 0;
  info->l4Offset = 0;
  info->gsoType = kGsoNone;
  const int type = vnet.gsoType & ~kGsoEcn;
  if (type == kGsoNone) {
    if (vnet.flags & kVnetNeedsCsum) return CompleteChecksum(pkt, len, vnet.csumStart, vnet.csumOffset);
    return true;
  }
  if (len < 1 || vnet.gsoSize == 0) return false;
  const int version = pkt[0] >> 4;
  int ipLen;
  int proto;
  if (version == 4) {
    if (len < 20) return false;
    ipLen = (pkt[0] & 0x0f) * 4;
    proto = pkt[9];
  } else if (version == 6) {
    // Extension headers: trust csum_start for where L4 begins (the kernel set it).
    if (len < 40) return false;
    ipLen = vnet.csumStart;
    proto = type == kGsoUdpL4 ? kUdp : kTcp;
  } else {
    return false;
  }
  if (type == kGsoTcpV4 && (version != 4 || proto != kTcp)) return false;
  if (type == kGsoTcpV6 && version != 6) return false;
  if (type == kGsoUdpL4 && version == 4 && proto != kUdp) return false;
  if (type != kGsoTcpV4 && type != kGsoTcpV6 && type != kGsoUdpL4) return false;
  if (ipLen < 20 || ipLen != vnet.csumStart) return false;
  int hdrLen;
  if (type == kGsoUdpL4) {
    hdrLen = ipLen + 8;
  } else {
    if (ipLen + 20 > len) return false;
    hdrLen = ipLen + (pkt[ipLen + 12] >> 4) * 4;
  }
  if (hdrLen > len) return false;
  info->gsoSize = vnet.gsoSize;
  info->hdrLen = hdrLen;
  info->l4Offset = ipLen;
  info->gsoType = type;
  return true;
}

int WriteSegment(const uint8_t* pkt, int len, const GsoInfo& info, int index, uint8_t* out) {
  const int payloadStart = info.hdrLen + index * info.gsoSize;
  int chunk = len - payloadStart;
  if (chunk > info.gsoSize) chunk = info.gsoSize;
  if (chunk < 0) chunk = 0;
  const int segLen = info.hdrLen + chunk;
  const bool last = payloadStart + chunk >= len;
  std::memcpy(out, pkt, info.hdrLen);
  // The payload starts at an even offset of the L4 header (IP and TCP/UDP headers are
  // multiples of 4), so its sum adds straight into the L4 checksum.
  const uint32_t payloadSum = CopyAndSum16(out + info.hdrLen, pkt + payloadStart, static_cast<size_t>(chunk));
  const bool v4 = (out[0] >> 4) == 4;
  const int l4 = info.l4Offset;
  if (v4) {
    Put16(out + 2, static_cast<uint32_t>(segLen));
    Put16(out + 4, (Get16(pkt + 4) + index) & 0xffff);
    Put16(out + 10, 0);
    Put16(out + 10, Checksum(out, static_cast<size_t>((out[0] & 0x0f) * 4), 0));
  } else {
    Put16(out + 4, static_cast<uint32_t>(segLen - 40));
  }
  const uint32_t l4Len = static_cast<uint32_t>(segLen - l4);
  uint8_t* h = out + l4;
  if (info.gsoType == kGsoUdpL4) {
    Put16(h + 4, l4Len);
    Put16(h + 6, 0);
    uint16_t sum = Checksum(h, 8, Fold(static_cast<uint64_t>(PseudoHeaderSum(out, kUdp, l4Len)) + payloadSum));
    Put16(h + 6, sum == 0 ? 0xffff : sum);
  } else {
    Put32(h + 4, Get32(pkt + l4 + 4) + static_cast<uint32_t>(index) * static_cast<uint32_t>(info.gsoSize));
    uint8_t flags = pkt[l4 + 13];
    if (!last) flags &= static_cast<uint8_t>(~(0x01 | 0x08));  // FIN, PSH only on the last segment
    if (index > 0) flags &= static_cast<uint8_t>(~0x80);       // CWR only on the first
    h[13] = flags;
    Put16(h + 16, 0);
    const int tcpLen = info.hdrLen - l4;
    Put16(h + 16, Checksum(h, static_cast<size_t>(tcpLen), Fold(static_cast<uint64_t>(PseudoHeaderSum(out, kTcp, l4Len)) + payloadSum)));
  }
  return segLen;
}

bool TcpHeaders(const uint8_t* pkt, int len, int* ipLen, int* hdrLen) {
  if (len >= 40 && (pkt[0] >> 4) == 4) {
    *ipLen = (pkt[0] & 0x0f) * 4;
    if (*ipLen < 20 || pkt[9] != kTcp || (Get16(pkt + 6) & 0x3fff) != 0 || static_cast<int>(Get16(pkt + 2)) != len) return false;
  } else if (len >= 60 && (pkt[0] >> 4) == 6) {
    *ipLen = 40;
    if (pkt[6] != kTcp || static_cast<int>(Get16(pkt + 4)) + 40 != len) return false;
  } else {
    return false;
  }
  if (*ipLen + 20 > len) return false;
  *hdrLen = *ipLen + (pkt[*ipLen + 12] >> 4) * 4;
  return *hdrLen <= len;
}

int TunWriteCut(int fd, const uint8_t* pkt, int len, int mtu) {
  GsoInfo info;
  if (len <= mtu || !TcpHeaders(pkt, len, &info.l4Offset, &info.hdrLen)) return 0;
  info.gsoType = (pkt[0] >> 4) == 4 ? kGsoTcpV4 : kGsoTcpV6;
  info.gsoSize = mtu - info.hdrLen;
  if (info.gsoSize <= 0) return 0;
  thread_local uint8_t out[65536];
  const int segments = SegmentCount(len, info);
  for (int s = 0; s < segments; s++) {
    const int segLen = WriteSegment(pkt, len, info, s, out);
    ssize_t r;
    do r = write(fd, out, static_cast<size_t>(segLen));
    while (r < 0 && errno == EINTR);
    if (r < 0) return -1;
  }
  return 1;
}

}  // namespace tulle
