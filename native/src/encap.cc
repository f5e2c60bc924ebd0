// Batched encapsulation: copy a peer's header image in front of each packet,
// then patch lengths, source port, inner ethertype and checksums. The rules
// are those of applyTemplate() in packages/wire/src/outer.ts.
#include "encap.h"

#include <cstring>

#include "bytes.h"
#include "checksum.h"
#include "layout.h"

namespace tulle {

namespace {

constexpr int kIPv4Header = 20;
constexpr int kIPv6Header = 40;
constexpr int kUdpProto = 17;

// Returns the outer offset, or -1 when the packet cannot be encapsulated.
int64_t Apply(uint8_t* slab, int64_t innerOffset, int64_t innerLength, const uint8_t* image, int headerLength, int ipVersion, int flags,
              int srcPort) {
  const int64_t start = innerOffset - headerLength;
  if (headerLength < 0 || headerLength > kTemplateStride || start < 0) return -1;
  const int version = innerLength > 0 ? slab[innerOffset] >> 4 : 0;
  if (version != 4 && version != 6) return -1;
  const int64_t total = headerLength + innerLength;
  // The 16-bit length field is the IPv4 total length, but only the payload length in IPv6.
  if ((ipVersion == 4 && total > 0xffff) || (ipVersion == 6 && total - kIPv6Header > 0xffff)) return -1;
  uint8_t* out = slab + start;
  std::memcpy(out, image, headerLength);
  if (flags & kTplEthernet) Put16(slab + innerOffset - 2, version == 4 ? 0x0800 : 0x86dd);
  if (ipVersion == 0) return start;
  const int ipHeader = ipVersion == 4 ? kIPv4Header : kIPv6Header;
  uint8_t* udp = out + ipHeader;
  const uint32_t udpLength = static_cast<uint32_t>(total - ipHeader);
  if (ipVersion == 4) {
    Put16(out + 2, static_cast<uint32_t>(total));
    Put16(out + 10, 0);
    Put16(out + 10, Checksum(out, kIPv4Header, 0));
  } else {
    Put16(out + 4, udpLength);
  }
  if (srcPort != 0) Put16(udp, static_cast<uint32_t>(srcPort));
  Put16(udp + 4, udpLength);
  if (flags & kTplUdpChecksum) {
    Put16(udp + 6, 0);
    uint16_t sum = Checksum(udp, udpLength, PseudoHeaderSum(out, kUdpProto, udpLength));
    Put16(udp + 6, sum == 0 ? 0xffff : sum);
  }
  return start;
}

}  // namespace

int64_t ApplyTemplate(uint8_t* buf, size_t bufLength, int64_t innerOffset, int64_t innerLength, const TemplateTable& table, int index, int srcPort) {
  if (index < 0 || index >= table.capacity) return -1;
  if (innerOffset < 0 || innerLength < 0 || innerOffset + innerLength > static_cast<int64_t>(bufLength)) return -1;
  const int32_t* m = table.meta + static_cast<ptrdiff_t>(index) * kMetaStride;
  return Apply(buf, innerOffset, innerLength, table.bytes + static_cast<ptrdiff_t>(index) * kTemplateStride, m[kMetaHeaderLength], m[kMetaIpVersion],
               m[kMetaFlags], srcPort);
}

int EncapBatch(uint8_t* slab, size_t slabLength, int32_t* desc, int count, const TemplateTable& table) {
  int done = 0;
  for (int i = 0; i < count; i++) {
    int32_t* d = desc + static_cast<ptrdiff_t>(i) * kDescStride;
    const int32_t verdict = d[kDescVerdict];
    d[kDescOutOffset] = 0;
    d[kDescOutLength] = 0;
    if (verdict < 0) continue;
    const int64_t start = ApplyTemplate(slab, slabLength, d[kDescOffset], d[kDescLength], table, verdict, d[kDescSrcPort]);
    if (start < 0) {
      d[kDescVerdict] = kVerdictEncapFailed;
      continue;
    }
    d[kDescOutOffset] = static_cast<int32_t>(start);
    d[kDescOutLength] = static_cast<int32_t>(d[kDescOffset] - start + d[kDescLength]);
    done++;
  }
  return done;
}

}  // namespace tulle
