#include "dataplane/snapshot.h"

#include <algorithm>
#include <bit>

namespace lb::dataplane {

void ServiceIndex::build(const std::vector<Service>& services) {
  const uint32_t capacity = std::bit_ceil(static_cast<uint32_t>(services.size() * 2 + 2));
  entries_.assign(capacity, Entry{});
  mask_ = capacity - 1;
  vips_.clear();
  vips6_.clear();
  uint32_t v6_count = 0;
  for (const Service& s : services) v6_count += s.v6 ? 1 : 0;
  if (v6_count == 0) {
    entries6_.clear();
  } else {
    const uint32_t capacity6 = std::bit_ceil(v6_count * 2 + 2);
    entries6_.assign(capacity6, Entry6{});
    mask6_ = capacity6 - 1;
  }
  for (uint32_t i = 0; i < services.size(); ++i) {
    const Service& s = services[i];
    const uint8_t protocol = static_cast<uint8_t>(s.protocol);
    if (s.v6) {
      uint32_t slot = mix(fold(s.vip6), s.port_be, protocol) & mask6_;
      while (entries6_[slot].service != kEmpty) slot = (slot + 1) & mask6_;
      entries6_[slot] = Entry6{s.vip6, s.port_be, protocol, i};
      if (std::find(vips6_.begin(), vips6_.end(), s.vip6) == vips6_.end()) vips6_.push_back(s.vip6);
      continue;
    }
    uint32_t slot = mix(s.vip_be, s.port_be, protocol) & mask_;
    while (entries_[slot].service != kEmpty) slot = (slot + 1) & mask_;
    entries_[slot] = Entry{s.vip_be, s.port_be, protocol, i};
    bool known = false;
    for (uint32_t vip : vips_) known = known || vip == s.vip_be;
    if (!known) vips_.push_back(s.vip_be);
  }
}

}  // namespace lb::dataplane
