#pragma once
#include <string>

#include "layout.h"

namespace tulle {

// tunOpen's flags (kTunVnetHdr, kTunNonBlock, kTunTap, kTunVnetTunnel) are in layout.h.

struct TunHandle {
  int fd;
  std::string name;
};

// TUNSETOFFLOAD with TUN_F_* bits; when the kernel refuses, retries without
// USO, then with checksum only. Returns the bits that were accepted (0: none).
int TunSetOffload(int fd, int flags);

// Opens (or attaches to) TUN device `name` with IFF_TUN | IFF_NO_PI (IFF_TAP with kTunTap). Throws a
// std::system_error naming the syscall on failure.
TunHandle TunOpen(const std::string& name, int flags);

}  // namespace tulle
