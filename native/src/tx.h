#pragma once
#include <cstddef>
#include <cstdint>

#include "encap.h"
#include "layout.h"

namespace tulle {

// Encapsulates and sends a TUN batch whose verdicts the engine has decided:
// single packets in place, GSO super-packets split into `arena` (the vnet
// header sits right before each packet in the slab). Each packet leaves on
// socket fds[SOCKET] (the pool's ports are the per-flow source ports). With
// kTxWhole, super-packets the engine flagged kFlagSendWhole are written whole
// to the TAP `tunnelFd` instead when they can be (tunnel.h; `tunnelParams`
// holds kTunnelParamsBytes), and split as usual when they cannot or the TAP
// refuses. Writes the kTxStatus* words; returns datagrams sent.
int TxBatch(const int32_t* fds, int fdCount, uint8_t* slab, size_t slabLength, int32_t* desc, int count, const TemplateTable& table,
            const uint8_t* addrs, int addrCount, uint8_t* arena, size_t arenaLength, int options, int32_t* status, int tunnelFd,
            const uint8_t* tunnelParams);

}  // namespace tulle
