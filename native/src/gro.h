// Receive-side coalescing: consecutive segments of one TCP flow in a batch
// become one super-packet written to the TUN with a virtio-net GSO header (the
// kernel segments or delivers it whole), like the kernel's own GRO; so do
// consecutive equal-size datagrams of one UDP flow (USO, GSO_UDP_L4) where the
// TUN accepted it. Segments are checked before they are merged: a merged packet
// carries a partial checksum the kernel will not verify again.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tulle {

struct CoalesceCounts {
  int merged;     // super-packets written, TCP and UDP
  int mergedUdp;  // of which UDP (USO)
};

// Writes every packet with VERDICT >= 0 to a TUN that has a virtio-net header,
// coalescing runs of TCP segments, and runs of UDP datagrams for the IP versions
// whose USO bit (TUN_F_USO4, TUN_F_USO6) is in `uso`. Returns the number of
// packets (not writes) delivered; failures get VERDICT_WRITE_FAILED. `counts`
// receives how many super-packets were written. `verify`: check each segment's TCP checksum
// before merging it; callers may skip it when the outer UDP checksum, which
// the kernel verified, covers the segment. A TCP packet longer than `mtu` (a
// super-packet that crossed whole) is written alone, with GSO at the largest
// segment `mtu` allows.
// UDP datagrams are always verified before they merge.
int TunWriteCoalesced(int fd, uint8_t* slab, size_t slabLength, int32_t* desc, int count, bool verify, int mtu, int uso, CoalesceCounts* counts);

}  // namespace tulle
