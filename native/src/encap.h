#pragma once
#include <cstddef>
#include <cstdint>

namespace tulle {

struct TemplateTable {
  const uint8_t* bytes;
  const int32_t* meta;
  int capacity;
};

// Applies template `index` to the inner packet at buf[innerOffset, +innerLength):
// writes the header image into the headroom and patches lengths, source port,
// ethertype and checksums. Returns the outer offset, or -1 if it cannot.
int64_t ApplyTemplate(uint8_t* buf, size_t bufLength, int64_t innerOffset, int64_t innerLength, const TemplateTable& table, int index, int srcPort);

// Encapsulates `count` packets described by `desc` in place (see layout.h).
// Mirrors encapsulateBatch in packages/wire/src/batch.ts byte for byte. Returns the
// number of packets encapsulated.
int EncapBatch(uint8_t* slab, size_t slabLength, int32_t* desc, int count, const TemplateTable& table);

}  // namespace tulle
