// RFC 1071 sum over 64-bit loads with end-around carry. Words are loaded in
// host order; on a little-endian host the folded sum comes out byte-swapped
// (RFC 1071 §2(B)) and is swapped back once at the end.
#include "checksum.h"

#include <cstring>

namespace tulle {

namespace {

inline uint64_t AddCarry(uint64_t a, uint64_t b) {
  uint64_t s = a + b;
  return s + (s < a);
}

inline uint32_t Swap16(uint32_t x) { return ((x & 0xff) << 8) | ((x >> 8) & 0xff); }

}  // namespace

uint32_t Sum16(const uint8_t* p, size_t n, uint32_t seed) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  while (n >= 32) {
    uint64_t w[4];
    std::memcpy(w, p, 32);
    a = AddCarry(a, w[0]);
    b = AddCarry(b, w[1]);
    c = AddCarry(c, w[2]);
    d = AddCarry(d, w[3]);
    p += 32;
    n -= 32;
  }
  a = AddCarry(AddCarry(a, b), AddCarry(c, d));
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    a = AddCarry(a, w);
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    a = AddCarry(a, w);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    a = AddCarry(a, w);
    p += 2;
    n -= 2;
  }
  uint32_t folded;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (n == 1) a = AddCarry(a, *p);  // the odd byte is a high byte: low in swapped form
  folded = Swap16(Fold((a & 0xffffffffu) + (a >> 32)));
#else
  if (n == 1) a = AddCarry(a, static_cast<uint64_t>(*p) << 8);
  folded = Fold((a & 0xffffffffu) + (a >> 32));
#endif
  return Fold(static_cast<uint64_t>(folded) + seed);
}

uint32_t CopyAndSum16(uint8_t* dst, const uint8_t* src, size_t n) {
  uint64_t a = 0, b = 0;
  while (n >= 16) {
    uint64_t w[2];
    std::memcpy(w, src, 16);
    std::memcpy(dst, w, 16);
    a = AddCarry(a, w[0]);
    b = AddCarry(b, w[1]);
    src += 16;
    dst += 16;
    n -= 16;
  }
  a = AddCarry(a, b);
  // The tail is short: copy it, then sum it with the byte-exact routine.
  std::memcpy(dst, src, n);
  uint32_t tail = Sum16(src, n, 0);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint32_t bulk = Swap16(Fold((a & 0xffffffffu) + (a >> 32)));
#else
  uint32_t bulk = Fold((a & 0xffffffffu) + (a >> 32));
#endif
  return Fold(static_cast<uint64_t>(bulk) + tail);
}

}  // namespace tulle
