#include "gro.h"

#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bytes.h"
#include "checksum.h"
#include "gso.h"
#include "io.h"
#include "layout.h"

namespace tulle {

namespace {

constexpr int kMaxSegments = 64;
constexpr int kTcp = 6, kUdp = 17;
// A UDP super-packet's IP packet stays below the 16-bit length fields, with room to spare.
constexpr int kMaxUdpBytes = 65000;
constexpr uint8_t kAck = 0x10, kPsh = 0x08;

struct Segment {
  uint8_t* pkt;
  int len;
  int ipLen;
  int l4HdrLen;  // TCP header with options, or the 8-byte UDP header
  int proto;     // kTcp or kUdp
  int payload;
  uint32_t seq;  // TCP only
  int desc;
  bool trusted;  // a verified outer checksum covers it: its own TCP checksum may be left partial
};

// A TCP segment that may take part in coalescing: plain IPv4 (no options, not
// a fragment) or IPv6 without extension headers, only ACK (and PSH), some
// payload, and (when asked) a checksum that verifies.
bool Parse(uint8_t* pkt, int len, bool verify, Segment* s) {
  if (len < 1) return false;
  const int version = pkt[0] >> 4;
  int ipLen;
  if (version == 4) {
    if (len < 40 || pkt[0] != 0x45 || pkt[9] != kTcp) return false;
    if ((Get16(pkt + 6) & 0x3fff) != 0) return false;  // MF or a fragment offset
    if (static_cast<int>(Get16(pkt + 2)) != len) return false;
    ipLen = 20;
  } else if (version == 6) {
    if (len < 60 || pkt[6] != kTcp || static_cast<int>(Get16(pkt + 4)) + 40 != len) return false;
    ipLen = 40;
  } else {
    return false;
  }
  const uint8_t* tcp = pkt + ipLen;
  const int tcpLen = (tcp[12] >> 4) * 4;
  if (tcpLen < 20 || ipLen + tcpLen >= len) return false;
  if ((tcp[13] & ~(kAck | kPsh)) != 0 || !(tcp[13] & kAck)) return false;
  const uint32_t l4Len = static_cast<uint32_t>(len - ipLen);
  if (verify && Sum16(tcp, l4Len, PseudoHeaderSum(pkt, kTcp, l4Len)) != 0xffff) return false;
  s->pkt = pkt;
  s->len = len;
  s->ipLen = ipLen;
  s->l4HdrLen = tcpLen;
  s->proto = kTcp;
  s->payload = len - ipLen - tcpLen;
  s->seq = Get32(tcp + 4);
  return true;
}

// A UDP datagram that may take part in coalescing (USO, when the TUN accepted it for its IP
// version, `uso`): plain IPv4 (no options, not a fragment) or IPv6 without extension headers,
// some payload, and a checksum that is present and verifies. It is checked whatever covered
// it on the way: the merged packet's checksum is made anew, so merging must never turn a
// datagram the kernel would drop into one it delivers. IPv4's "no checksum" (0) stays alone.
bool ParseUdp(uint8_t* pkt, int len, int uso, Segment* s) {
  if (len < 1) return false;
  const int version = pkt[0] >> 4;
  int ipLen;
  if (version == 4) {
    if (!(uso & kTunFUso4) || len < 29 || pkt[0] != 0x45 || pkt[9] != kUdp) return false;
    if ((Get16(pkt + 6) & 0x3fff) != 0) return false;  // MF or a fragment offset
    if (static_cast<int>(Get16(pkt + 2)) != len) return false;
    ipLen = 20;
  } else if (version == 6) {
    if (!(uso & kTunFUso6) || len < 49 || pkt[6] != kUdp || static_cast<int>(Get16(pkt + 4)) + 40 != len) return false;
    ipLen = 40;
  } else {
    return false;
  }
  const uint8_t* udp = pkt + ipLen;
  const uint32_t l4Len = static_cast<uint32_t>(len - ipLen);
  if (Get16(udp + 4) != l4Len || Get16(udp + 6) == 0) return false;
  if (Sum16(udp, l4Len, PseudoHeaderSum(pkt, kUdp, l4Len)) != 0xffff) return false;
  s->pkt = pkt;
  s->len = len;
  s->ipLen = ipLen;
  s->l4HdrLen = 8;
  s->proto = kUdp;
  s->payload = len - ipLen - 8;
  s->seq = 0;
  return true;
}

// The IP header fields a merged packet keeps from its first one, equal in `a` and `b` (both of
// `ipLen`, 20 or 40; the protocol matched already): IPv4's TOS, DF, TTL and addresses, or IPv6's
// version, traffic class, flow label, hop limit and addresses.
bool SameIpFields(const uint8_t* a, const uint8_t* b, int ipLen) {
  if (ipLen == 20) return a[1] == b[1] && (a[6] & 0x40) == (b[6] & 0x40) && a[8] == b[8] && std::memcmp(a + 12, b + 12, 8) == 0;
  return std::memcmp(a, b, 4) == 0 && a[7] == b[7] && std::memcmp(a + 8, b + 8, 32) == 0;
}

// Whether the datagram `next` continues the UDP run that `first` opened and `prev` ends:
// the same flow and IP header fields, datagrams of one size (the last may be shorter).
bool FollowsUdp(const Segment& first, const Segment& prev, const Segment& next, int total, int segments) {
  if (segments >= kMaxSegments || prev.payload != first.payload || next.payload > first.payload) return false;
  if (next.ipLen != first.ipLen || total + next.payload > kMaxUdpBytes) return false;
  if (!SameIpFields(first.pkt, next.pkt, first.ipLen)) return false;
  return std::memcmp(first.pkt + first.ipLen, next.pkt + next.ipLen, 4) == 0;  // ports
}

// Whether `next` continues the run that `first` opened and `prev` ends.
bool Follows(const Segment& first, const Segment& prev, const Segment& next, int total, int segments) {
  if (next.proto != first.proto) return false;
  if (first.proto == kUdp) return FollowsUdp(first, prev, next, total, segments);
  if (segments >= kMaxSegments || prev.payload != first.payload || next.payload > first.payload) return false;
  if (prev.pkt[prev.ipLen + 13] & kPsh) return false;  // PSH ends a run
  if (next.ipLen != first.ipLen || next.l4HdrLen != first.l4HdrLen) return false;
  if (next.seq != prev.seq + static_cast<uint32_t>(prev.payload)) return false;
  const int limit = first.ipLen == 20 ? 0xffff : 0xffff + 40;
  if (total + next.payload > limit) return false;
  if (!SameIpFields(first.pkt, next.pkt, first.ipLen)) return false;
  const uint8_t* ta = first.pkt + first.ipLen;
  const uint8_t* tb = next.pkt + next.ipLen;
  // Ports, ack number, and data offset / flags (but PSH) / window / urgent pointer / options.
  if (std::memcmp(ta, tb, 4) != 0 || std::memcmp(ta + 8, tb + 8, 4) != 0) return false;
  if (ta[12] != tb[12] || (ta[13] & ~kPsh) != (tb[13] & ~kPsh)) return false;
  if (std::memcmp(ta + 14, tb + 14, 2) != 0 || std::memcmp(ta + 18, tb + 18, first.l4HdrLen - 18) != 0) return false;
  return true;
}

// A TCP packet written alone as CHECKSUM_PARTIAL: its checksum field gets the pseudo-header
// sum, and one longer than `mtu` (a super-packet that crossed whole) gets GSO, cut at the
// largest segment the MTU allows.
VnetHdr PartialTcp(uint8_t* ip, int len, int ipLen, int hdrLen, int mtu) {
  Put16(ip + ipLen + 16, PseudoHeaderSum(ip, kTcp, static_cast<uint32_t>(len - ipLen)));
  VnetHdr vnet;
  std::memset(&vnet, 0, sizeof vnet);
  vnet.flags = kVnetNeedsCsum;
  vnet.csumStart = static_cast<uint16_t>(ipLen);
  vnet.csumOffset = 16;
  if (len > mtu && mtu > hdrLen) {
    vnet.gsoType = (ip[0] >> 4) == 4 ? kGsoTcpV4 : kGsoTcpV6;
    vnet.hdrLen = static_cast<uint16_t>(hdrLen);
    vnet.gsoSize = static_cast<uint16_t>(mtu - hdrLen);
  }
  return vnet;
}

// Any other TCP packet (a SYN, a FIN, a pure ACK, a super-packet that carries a FIN) the outer
// checksum covers goes as CHECKSUM_PARTIAL too, for the same reason as a lone segment (see FlushRun).
bool WritePartialTcp(int fd, uint8_t* pkt, int len, int mtu) {
  int ipLen, hdrLen;
  if (!TcpHeaders(pkt, len, &ipLen, &hdrLen)) return false;
  VnetHdr vnet = PartialTcp(pkt, len, ipLen, hdrLen, mtu);
  iovec parts[2] = {{&vnet, kVnetHdrLen}, {pkt, static_cast<size_t>(len)}};
  return WriteVec(fd, parts, 2);
}

thread_local Segment run[kMaxSegments];
thread_local iovec iovs[kMaxSegments + 1];

// The run's first IP header, and its UDP header, made to describe the whole run.
void HeadUdpRun(uint8_t* ip, int ipLen, int total) {
  const uint32_t l4Len = static_cast<uint32_t>(total - ipLen);
  Put16(ip + ipLen + 4, l4Len);
  // CHECKSUM_PARTIAL: the field holds the pseudo-header sum; the kernel finishes each datagram's if it must.
  Put16(ip + ipLen + 6, PseudoHeaderSum(ip, kUdp, l4Len));
}

// Writes the run as one super-packet (or, for one segment, as itself). A lone TCP segment
// the outer checksum covers goes as CHECKSUM_PARTIAL too: its checksum may still be the
// sender's partial one (a veth hands segments over unfinished), and the kernel need not
// check it again. A segment longer than the MTU allows is a super-packet that crossed
// whole: it goes with GSO, cut at the largest segment the MTU allows. A lone UDP datagram
// goes as it is; a run of them as one USO super-packet, which the kernel cuts back into
// the same datagrams for a socket without UDP_GRO and on forwarding.
int FlushRun(int fd, int32_t* desc, int n, CoalesceCounts* counts, int mtu) {
  if (n == 0) return 0;
  Segment& first = run[0];
  VnetHdr vnet;
  std::memset(&vnet, 0, sizeof vnet);
  int total = first.len;
  for (int k = 1; k < n; k++) total += run[k].payload;
  const bool udp = first.proto == kUdp;
  if (n == 1 && !udp && (first.trusted || first.len > mtu)) vnet = PartialTcp(first.pkt, first.len, first.ipLen, first.ipLen + first.l4HdrLen, mtu);
  if (n > 1) {
    uint8_t* ip = first.pkt;
    if (first.ipLen == 20) {
      Put16(ip + 2, static_cast<uint32_t>(total));
      Put16(ip + 10, 0);
      Put16(ip + 10, Checksum(ip, 20, 0));
    } else {
      Put16(ip + 4, static_cast<uint32_t>(total - 40));
    }
    if (udp) {
      HeadUdpRun(ip, first.ipLen, total);
    } else {
      uint8_t* tcp = ip + first.ipLen;
      tcp[13] |= run[n - 1].pkt[run[n - 1].ipLen + 13] & kPsh;
      // CHECKSUM_PARTIAL: the field holds the pseudo-header sum; the kernel finishes it if it must.
      Put16(tcp + 16, PseudoHeaderSum(ip, kTcp, static_cast<uint32_t>(total - first.ipLen)));
    }
    vnet.flags = kVnetNeedsCsum;
    vnet.gsoType = udp ? kGsoUdpL4 : first.ipLen == 20 ? kGsoTcpV4 : kGsoTcpV6;
    vnet.hdrLen = static_cast<uint16_t>(first.ipLen + first.l4HdrLen);
    vnet.gsoSize = static_cast<uint16_t>(first.payload);
    vnet.csumStart = static_cast<uint16_t>(first.ipLen);
    vnet.csumOffset = udp ? 6 : 16;
    counts->merged++;
    if (udp) counts->mergedUdp++;
  }
  iovs[0].iov_base = &vnet;
  iovs[0].iov_len = kVnetHdrLen;
  iovs[1].iov_base = first.pkt;
  iovs[1].iov_len = static_cast<size_t>(first.len);
  for (int k = 1; k < n; k++) {
    iovs[k + 1].iov_base = run[k].pkt + run[k].ipLen + run[k].l4HdrLen;
    iovs[k + 1].iov_len = static_cast<size_t>(run[k].payload);
  }
  if (WriteVec(fd, iovs, n + 1)) return n;
  for (int k = 0; k < n; k++) desc[static_cast<ptrdiff_t>(run[k].desc) * kDescStride + kDescVerdict] = kVerdictWriteFailed;
  return 0;
}

}  // namespace

int TunWriteCoalesced(int fd, uint8_t* slab, size_t slabLength, int32_t* desc, int count, bool verify, int mtu, int uso, CoalesceCounts* counts) {
  int written = 0;
  int n = 0;
  int total = 0;
  counts->merged = 0;
  counts->mergedUdp = 0;
  for (int i = 0; i < count; i++) {
    int32_t* d = desc + static_cast<ptrdiff_t>(i) * kDescStride;
    if (d[kDescVerdict] < 0) continue;
    const int64_t off = d[kDescOffset], len = d[kDescLength];
    if (off < kVnetHdrLen || len <= 0 || off + len > static_cast<int64_t>(slabLength)) {
      d[kDescVerdict] = kVerdictWriteFailed;
      continue;
    }
    Segment s;
    const bool check = verify || (d[kDescFlags] & kRxVerify) != 0;
    const bool tcp = Parse(slab + off, static_cast<int>(len), check, &s);
    if (tcp || (uso != 0 && ParseUdp(slab + off, static_cast<int>(len), uso, &s))) {
      s.desc = i;
      s.trusted = !check;
      if (tcp && s.len > mtu) {  // a whole super-packet: on its own, never merged with segments
        written += FlushRun(fd, desc, n, counts, mtu);
        run[0] = s;
        written += FlushRun(fd, desc, 1, counts, mtu);
        n = 0;
        continue;
      }
      if (n > 0 && Follows(run[0], run[n - 1], s, total, n)) {
        run[n++] = s;
        total += s.payload;
        continue;
      }
      written += FlushRun(fd, desc, n, counts, mtu);
      run[0] = s;
      n = 1;
      total = s.len;
      continue;
    }
    // Not coalescable: flush what is pending (order matters within a flow), then write it alone.
    written += FlushRun(fd, desc, n, counts, mtu);
    n = 0;
    if (!check && WritePartialTcp(fd, slab + off, static_cast<int>(len), mtu))
      written++;
    else if (TunWriteOne(fd, slab + off, static_cast<size_t>(len), true))
      written++;
    else
      d[kDescVerdict] = kVerdictWriteFailed;
  }
  written += FlushRun(fd, desc, n, counts, mtu);
  return written;
}

}  // namespace tulle
