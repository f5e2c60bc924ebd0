// The batch layout shared with TypeScript (src/wire/batch.ts and
// src/wire/outer.ts). The addon exports these numbers and a test compares
// them with the TypeScript constants, so the two cannot drift apart.
#pragma once
#include <cstdint>

namespace tulle {

constexpr int kDescStride = 8;
constexpr int kDescOffset = 0;     // inner packet offset in the slab
constexpr int kDescLength = 1;     // inner packet length
constexpr int kDescVerdict = 2;    // >= 0 template index, < 0 drop reason
constexpr int kDescSrcPort = 3;    // outer UDP source port, 0 = template's
constexpr int kDescOutOffset = 4;  // written: outer packet offset
constexpr int kDescOutLength = 5;  // written: outer packet length, 0 = not sent
constexpr int kDescGsoSize = 6;
constexpr int kDescFlags = 7;
// RX flag: the datagram's outer UDP checksum may have been zero (a kernel VXLAN
// peer's default), so inner TCP checksums are verified before segments merge.
constexpr int kRxVerify = 1;

constexpr int32_t kVerdictEncapFailed = -1;

constexpr int kTemplateStride = 96;  // MAX_HEADER
constexpr int kMetaStride = 4;
constexpr int kMetaHeaderLength = 0;
constexpr int kMetaIpVersion = 1;
constexpr int kMetaFlags = 2;

constexpr int kTplEthernet = 1;
constexpr int kTplUdpChecksum = 2;

}  // namespace tulle
