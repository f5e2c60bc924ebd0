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
#include <vector>

namespace tulle {

namespace {

struct Commands {
  uint32_t get;
  uint32_t set;
  const char* name;
};

Commands CommandsOf(EthtoolFeature feature) {
  switch (feature) {
    case EthtoolFeature::kGro:
      return {ETHTOOL_GGRO, ETHTOOL_SGRO, "GRO"};
    case EthtoolFeature::kTxChecksum:
      return {ETHTOOL_GTXCSUM, ETHTOOL_STXCSUM, "TXCSUM"};
    case EthtoolFeature::kRxChecksum:
      return {ETHTOOL_GRXCSUM, ETHTOOL_SRXCSUM, "RXCSUM"};
    case EthtoolFeature::kTso:
      return {ETHTOOL_GTSO, ETHTOOL_STSO, "TSO"};
    case EthtoolFeature::kGso:
      return {ETHTOOL_GGSO, ETHTOOL_SGSO, "GSO"};
    case EthtoolFeature::kSg:
      return {ETHTOOL_GSG, ETHTOOL_SSG, "SG"};
  }
  return {0, 0, "?"};
}

// One SIOCETHTOOL call on a throwaway socket: the socket's namespace (the
// calling thread's) decides which device `ifname` names.
void Call(const std::string& ifname, void* value, const std::string& what) {
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
  static const struct {
    const char* name;
    EthtoolFeature feature;
  } kNames[] = {
      {"gro", EthtoolFeature::kGro},
      {"tx-checksum", EthtoolFeature::kTxChecksum},
      {"rx-checksum", EthtoolFeature::kRxChecksum},
      {"tso", EthtoolFeature::kTso},
      {"gso", EthtoolFeature::kGso},
      {"sg", EthtoolFeature::kSg},
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

int EthtoolFeatureActive(const std::string& ifname, const std::string& name) {
  // How many feature names the kernel has, then the names, then the feature words (as `ethtool -k`).
  alignas(ethtool_sset_info) uint8_t sset[sizeof(ethtool_sset_info) + sizeof(uint32_t)] = {};
  auto* info = reinterpret_cast<ethtool_sset_info*>(sset);
  info->cmd = ETHTOOL_GSSET_INFO;
  info->sset_mask = 1ULL << ETH_SS_FEATURES;
  Call(ifname, info, "ethtoolFeatureActive: ioctl(SIOCETHTOOL, ETHTOOL_GSSET_INFO)");
  if (info->sset_mask == 0) return -1;
  uint32_t count;
  std::memcpy(&count, sset + sizeof(ethtool_sset_info), sizeof count);
  std::vector<uint8_t> names(sizeof(ethtool_gstrings) + static_cast<size_t>(count) * ETH_GSTRING_LEN);
  auto* strings = reinterpret_cast<ethtool_gstrings*>(names.data());
  strings->cmd = ETHTOOL_GSTRINGS;
  strings->string_set = ETH_SS_FEATURES;
  strings->len = count;
  Call(ifname, strings, "ethtoolFeatureActive: ioctl(SIOCETHTOOL, ETHTOOL_GSTRINGS)");
  uint32_t index = count;
  for (uint32_t i = 0; i < count; i++) {
    const char* s = reinterpret_cast<const char*>(strings->data) + static_cast<size_t>(i) * ETH_GSTRING_LEN;
    if (strnlen(s, ETH_GSTRING_LEN) == name.size() && std::memcmp(s, name.data(), name.size()) == 0) index = i;
  }
  if (index == count) return -1;
  const uint32_t blocks = (count + 31) / 32;
  std::vector<uint8_t> words(sizeof(ethtool_gfeatures) + blocks * sizeof(ethtool_get_features_block));
  auto* features = reinterpret_cast<ethtool_gfeatures*>(words.data());
  features->cmd = ETHTOOL_GFEATURES;
  features->size = blocks;
  Call(ifname, features, "ethtoolFeatureActive: ioctl(SIOCETHTOOL, ETHTOOL_GFEATURES)");
  return (features->features[index / 32].active >> (index % 32)) & 1;
}

}  // namespace tulle
