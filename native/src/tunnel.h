// Whole super-packets: a TCP super-packet read from the TUN leaves as one
// UDP-tunnel GSO frame (the way the kernel's own vxlan device sends it),
// written into a TAP whose frames the kernel forwards to the underlay. The
// underlay device, or the kernel in software, cuts it into VXLAN datagrams,
// or udp-backend ones (the inner packet right after the outer UDP header: an
// empty tunnel header); a veth hands it over whole.
#pragma once
#include <cstddef>
#include <cstdint>

#include "encap.h"
#include "gso.h"
#include "layout.h"

namespace tulle {

// The TAP's side of every frame, built once by the engine: kTunnelParamsBytes (layout.h).
// virtio_net_hdr_v1_hash_tunnel: the 12-byte v1 header, 8 bytes of hash report, then
// the outer transport and inner network header offsets.
constexpr int kTunnelVnetLen = 24;
// Bytes a whole frame needs in front of the inner packet: the virtio-net header,
// Ethernet, outer IPv4 and UDP; the peer's template (vxlan: VXLAN, inner Ethernet; udp: none) comes on top.
constexpr int kTunnelFrontBytes = kTunnelVnetLen + 14 + 20 + 8;

// Whether SendWhole can take this packet: TCP (inner IPv4 or IPv6) to a vxlan or udp-backend
// peer on an IPv4 underlay, small enough for one IPv4 datagram, with room in front of it. Whether
// it may is not asked here: the engine flags such packets kFlagSendWhole (layout.h).
bool Whole(int64_t off, int len, const GsoInfo& info, const TemplateTable& table, int peer, const uint8_t* addrs);

// Writes the super-packet at slab[off, off+len) (inspected as `info`, read with
// virtio-net header `vnet`) as one frame to the TAP `fd`, to peer `peer`, from
// source port `srcPort`. Returns the frame's length, 0 when the packet does not
// qualify (not TCP, an IPv6 peer, too long for one IPv4 datagram, no headroom),
// or -errno when the write failed.
int SendWhole(int fd, const uint8_t* params, uint8_t* slab, size_t slabLength, int64_t off, int len, const GsoInfo& info, const VnetHdr& vnet,
              const TemplateTable& table, int peer, const uint8_t* addrs, int srcPort);

}  // namespace tulle
