#pragma once
#include <cstddef>
#include <cstdint>

namespace tulle {

struct TemplateTable {
  const uint8_t* bytes;
  const int32_t* meta;
  int capacity;
};

// Encapsulates `count` packets described by `desc` in place (see layout.h).
// Mirrors encapsulateBatch in src/wire/batch.ts byte for byte. Returns the
// number of packets encapsulated.
int EncapBatch(uint8_t* slab, size_t slabLength, int32_t* desc, int count, const TemplateTable& table);

}  // namespace tulle
