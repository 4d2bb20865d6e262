#include "dataplane/snapshot.h"

#include <bit>

namespace lb::dataplane {

void ServiceIndex::build(const std::vector<Service>& services) {
  const uint32_t capacity = std::bit_ceil(static_cast<uint32_t>(services.size() * 2 + 2));
  entries_.assign(capacity, Entry{});
  mask_ = capacity - 1;
  vips_.clear();
  for (uint32_t i = 0; i < services.size(); ++i) {
    const Service& s = services[i];
    const uint8_t protocol = static_cast<uint8_t>(s.protocol);
    uint32_t slot = mix(s.vip_be, s.port_be, protocol) & mask_;
    while (entries_[slot].service != kEmpty) slot = (slot + 1) & mask_;
    entries_[slot] = Entry{s.vip_be, s.port_be, protocol, i};
    bool known = false;
    for (uint32_t vip : vips_) known = known || vip == s.vip_be;
    if (!known) vips_.push_back(s.vip_be);
  }
}

}  // namespace lb::dataplane
