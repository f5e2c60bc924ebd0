#include "tun.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace tulle {

TunHandle TunOpen(const std::string& name, int flags) {
  if (name.size() >= IFNAMSIZ) throw std::system_error(EINVAL, std::generic_category(), "tunOpen: name longer than 15 bytes");
  int openFlags = O_RDWR | O_CLOEXEC;
  if (flags & kTunNonBlock) openFlags |= O_NONBLOCK;
  int fd = open("/dev/net/tun", openFlags);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "tunOpen: open(/dev/net/tun)");
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = ((flags & kTunTap) ? IFF_TAP : IFF_TUN) | IFF_NO_PI;
  if (flags & (kTunVnetHdr | kTunVnetTunnel)) ifr.ifr_flags |= IFF_VNET_HDR;
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    throw std::system_error(err, std::generic_category(), "tunOpen: ioctl(TUNSETIFF)");
  }
  int size = 24;  // sizeof(struct virtio_net_hdr_v1_hash_tunnel)
  if ((flags & kTunVnetTunnel) && ioctl(fd, TUNSETVNETHDRSZ, &size) < 0) {
    int err = errno;
    close(fd);
    throw std::system_error(err, std::generic_category(), "tunOpen: ioctl(TUNSETVNETHDRSZ)");
  }
  return TunHandle{fd, std::string(ifr.ifr_name)};
}

// layout.h spells the bits out (older headers lack the newer ones); they must be the kernel's.
static_assert(kTunFCsum == TUN_F_CSUM && kTunFTso4 == TUN_F_TSO4 && kTunFTso6 == TUN_F_TSO6, "TUN_F_* bits differ from linux/if_tun.h");
#ifdef TUN_F_USO4
static_assert(kTunFUso4 == TUN_F_USO4 && kTunFUso6 == TUN_F_USO6, "TUN_F_USO* bits differ from linux/if_tun.h");
#endif
#ifdef TUN_F_UDP_TUNNEL_GSO
static_assert(kTunFUdpTunnelGso == TUN_F_UDP_TUNNEL_GSO && kTunFUdpTunnelGsoCsum == TUN_F_UDP_TUNNEL_GSO_CSUM,
              "TUN_F_UDP_TUNNEL_GSO* bits differ from linux/if_tun.h");
#endif

int TunSetOffload(int fd, int flags) {
  const int attempts[] = {flags, flags & ~(kTunFUso4 | kTunFUso6), flags & kTunFCsum, 0};
  for (int attempt : attempts) {
    if (ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(attempt)) == 0) return attempt;
    if (errno != EINVAL) throw std::system_error(errno, std::generic_category(), "tunSetOffload: ioctl(TUNSETOFFLOAD)");
  }
  return 0;
}

}  // namespace tulle
