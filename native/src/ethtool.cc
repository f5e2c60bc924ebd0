// SIOCETHTOOL without the ethtool binary: a lab on a bare machine still turns
// veth GRO on (without it receive-side numbers understate every row).
#include "ethtool.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace tulle {

namespace {

struct Commands {
  uint32_t get;
  uint32_t set;
  const char* name;
};

Commands CommandsOf(EthtoolFeature feature) {
  switch (feature) {
    case EthtoolFeature::kGro: return {ETHTOOL_GGRO, ETHTOOL_SGRO, "GRO"};
    case EthtoolFeature::kTxChecksum: return {ETHTOOL_GTXCSUM, ETHTOOL_STXCSUM, "TXCSUM"};
    case EthtoolFeature::kRxChecksum: return {ETHTOOL_GRXCSUM, ETHTOOL_SRXCSUM, "RXCSUM"};
    case EthtoolFeature::kTso: return {ETHTOOL_GTSO, ETHTOOL_STSO, "TSO"};
    case EthtoolFeature::kGso: return {ETHTOOL_GGSO, ETHTOOL_SGSO, "GSO"};
    case EthtoolFeature::kSg: return {ETHTOOL_GSG, ETHTOOL_SSG, "SG"};
  }
  return {0, 0, "?"};
}

// One SIOCETHTOOL call on a throwaway socket: the socket's namespace (the
// calling thread's) decides which device `ifname` names.
void Call(const std::string& ifname, ethtool_value* value, const std::string& what) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
    throw std::system_error(EINVAL, std::generic_category(), what + ": device name must be 1-15 bytes");
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), what + ": socket");
  ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
  ifr.ifr_data = reinterpret_cast<char*>(value);
  int rc = ioctl(fd, SIOCETHTOOL, &ifr);
  int err = errno;
  close(fd);
  if (rc < 0) throw std::system_error(err, std::generic_category(), what + " on " + ifname);
}

}  // namespace

bool ParseEthtoolFeature(const std::string& name, EthtoolFeature* out) {
  static const struct { const char* name; EthtoolFeature feature; } kNames[] = {
      {"gro", EthtoolFeature::kGro}, {"tx-checksum", EthtoolFeature::kTxChecksum},
      {"rx-checksum", EthtoolFeature::kRxChecksum}, {"tso", EthtoolFeature::kTso},
      {"gso", EthtoolFeature::kGso}, {"sg", EthtoolFeature::kSg},
  };
  for (const auto& entry : kNames) {
    if (name == entry.name) {
      *out = entry.feature;
      return true;
    }
  }
  return false;
}

bool EthtoolGet(const std::string& ifname, EthtoolFeature feature) {
  Commands c = CommandsOf(feature);
  ethtool_value value{};
  value.cmd = c.get;
  Call(ifname, &value, std::string("ethtoolGet: ioctl(SIOCETHTOOL, ETHTOOL_G") + c.name + ")");
  return value.data != 0;
}

void EthtoolSet(const std::string& ifname, EthtoolFeature feature, bool on) {
  Commands c = CommandsOf(feature);
  ethtool_value value{};
  value.cmd = c.set;
  value.data = on ? 1 : 0;
  Call(ifname, &value, std::string("ethtoolSet: ioctl(SIOCETHTOOL, ETHTOOL_S") + c.name + ")");
}

}  // namespace tulle
