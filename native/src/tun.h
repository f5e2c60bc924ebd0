#pragma once
#include <string>

namespace tulle {

constexpr int kTunVnetHdr = 1;    // IFF_VNET_HDR: a virtio-net header leads every packet
constexpr int kTunNonBlock = 2;   // O_NONBLOCK on the fd
constexpr int kTunTap = 4;        // IFF_TAP: Ethernet frames instead of IP packets
constexpr int kTunVnetTunnel = 8; // the 24-byte virtio-net header with UDP-tunnel offsets (TUNSETVNETHDRSZ)

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
