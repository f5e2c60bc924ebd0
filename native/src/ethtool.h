#pragma once
#include <string>

namespace tulle {

// Offload features reachable through the legacy SIOCETHTOOL get/set commands,
// which the kernel maps onto its feature bits (as `ethtool -K` does).
enum class EthtoolFeature { kGro, kTxChecksum, kRxChecksum, kTso, kGso, kSg };

// Parses "gro", "tx-checksum", "rx-checksum", "tso", "gso", "sg"; false when unknown.
bool ParseEthtoolFeature(const std::string& name, EthtoolFeature* out);

// Reads / sets a feature of device `ifname` in the calling thread's network
// namespace. Throw std::system_error naming the ioctl on failure.
bool EthtoolGet(const std::string& ifname, EthtoolFeature feature);
void EthtoolSet(const std::string& ifname, EthtoolFeature feature, bool on);

// Whether feature `name` (as `ethtool -k` lists it, e.g. "tx-udp_tnl-csum-segmentation")
// is active on `ifname`: 1 or 0, or -1 when this kernel has no feature of that name.
int EthtoolFeatureActive(const std::string& ifname, const std::string& name);

}  // namespace tulle
