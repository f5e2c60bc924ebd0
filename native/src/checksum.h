#pragma once
#include <cstddef>
#include <cstdint>

namespace tulle {

// Folded ones' complement sum (RFC 1071) of big-endian 16-bit words, not
// complemented, plus `seed` (a partial sum in the same form).
uint32_t Sum16(const uint8_t* data, size_t length, uint32_t seed);

// Copies n bytes from src to dst and returns the folded sum of what was
// copied (as Sum16 with seed 0): one pass over the data instead of two.
uint32_t CopyAndSum16(uint8_t* dst, const uint8_t* src, size_t n);

// The value written into a checksum field.
inline uint16_t Checksum(const uint8_t* data, size_t length, uint32_t seed) { return static_cast<uint16_t>(~Sum16(data, length, seed)); }

// The folded sum of the pseudo-header of an IPv4 or IPv6 packet (by its version nibble) for
// transport protocol `proto` and `l4Len` bytes of transport header and payload: what a
// CHECKSUM_PARTIAL field holds, and the seed of a full checksum.
inline uint32_t PseudoHeaderSum(const uint8_t* ip, int proto, uint32_t l4Len) {
  if ((ip[0] >> 4) == 6) return Sum16(ip + 8, 32, static_cast<uint32_t>(proto) + (l4Len >> 16) + (l4Len & 0xffff));
  return Sum16(ip + 12, 8, static_cast<uint32_t>(proto) + l4Len);
}

inline uint32_t Fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint32_t>(sum);
}

}  // namespace tulle
