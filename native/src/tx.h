#pragma once
#include <cstddef>
#include <cstdint>

#include "encap.h"

namespace tulle {

constexpr int kTxUdpGso = 1;     // send GSO super-packets' segments with one UDP_SEGMENT send each
constexpr int kTxVnet = 2;       // the slab was read from a TUN with a virtio-net header
constexpr int kTxWhole = 4;      // TCP super-packets to tulle hosts' vxlan leave whole through the tunnel TAP (tunnel.h)


// Per-call results: [0] datagrams sent, [1] UDP_SEGMENT sends the kernel refused (EIO/EINVAL),
// [2] whole frames the TAP refused (those packets were split and sent as usual),
// [3] super-packets sent whole.
constexpr int kTxStatusWords = 4;

// Encapsulates and sends a TUN batch whose verdicts the engine has decided:
// single packets in place, GSO super-packets split into `arena` (the vnet
// header sits right before each packet in the slab). Each packet leaves on
// socket fds[SRC_PORT] (with more than one socket; the pool's ports are the
// per-flow source ports). With kTxWhole, TCP super-packets to vxlan peers are
// written whole to the TAP `tunnelFd` instead (tunnel.h; `tunnelParams` holds
// kTunnelParamsBytes). Returns datagrams sent.
int TxBatch(const int32_t* fds, int fdCount, uint8_t* slab, size_t slabLength, int32_t* desc, int count, const TemplateTable& table, const uint8_t* addrs,
            int addrCount, uint8_t* arena, size_t arenaLength, int options, int32_t* status, int tunnelFd, const uint8_t* tunnelParams);

}  // namespace tulle
