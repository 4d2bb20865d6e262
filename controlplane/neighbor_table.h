// IPv4 neighbours (ARP) as the control plane keeps them: static entries from the config, entries
// learned from ARP replies the workers pass up, and request/retry bookkeeping for the next hops the
// snapshot needs. Only the control thread touches it; workers see MACs through the snapshot.
#pragma once

#include <rte_ether.h>

#include <cstdint>
#include <algorithm>
#include <map>
#include <optional>
#include <vector>

namespace lb::controlplane {

inline constexpr uint64_t kNeighborRetryMs = 1000;
inline constexpr uint64_t kNeighborRefreshMs = 60000;

class NeighborTable {
 public:
  struct Wanted {
    uint32_t address = 0;  // host order
    uint16_t port = 0;
  };

  void addStatic(uint32_t address, const rte_ether_addr& mac);
  // Returns true when the MAC is new or changed (the snapshot must be rebuilt).
  bool learn(uint32_t address, const rte_ether_addr& mac, uint64_t now_ms);
  std::optional<rte_ether_addr> lookup(uint32_t address) const;

  // Next hops the current config needs; requests are sent only for these.
  void setWanted(std::vector<Wanted> wanted) { wanted_ = std::move(wanted); }
  // Next hops to (re)request now: unresolved ones every kNeighborRetryMs, resolved ones every
  // kNeighborRefreshMs. Marks them as requested.
  std::vector<Wanted> due(uint64_t now_ms);

 private:
  struct Entry {
    rte_ether_addr mac{};
    bool resolved = false;
    bool is_static = false;
    uint64_t resolved_ms = 0;
    uint64_t requested_ms = 0;
  };
  std::map<uint32_t, Entry> entries_;
  std::vector<Wanted> wanted_;
};

}  // namespace lb::controlplane
