#include "controlplane/neighbor_table.h"

namespace lb::controlplane {

void NeighborTable::addStatic(uint32_t address, const rte_ether_addr& mac) {
  Entry& e = entries_[address];
  e.mac = mac;
  e.resolved = true;
  e.is_static = true;
}

bool NeighborTable::learn(uint32_t address, const rte_ether_addr& mac, uint64_t now_ms) {
  Entry& e = entries_[address];
  if (e.is_static) return false;
  const bool changed = !e.resolved || !rte_is_same_ether_addr(&e.mac, &mac);
  e.mac = mac;
  e.resolved = true;
  e.resolved_ms = now_ms;
  return changed;
}

std::optional<rte_ether_addr> NeighborTable::lookup(uint32_t address) const {
  auto it = entries_.find(address);
  if (it == entries_.end() || !it->second.resolved) return std::nullopt;
  return it->second.mac;
}

std::vector<NeighborTable::Wanted> NeighborTable::due(uint64_t now_ms) {
  std::vector<Wanted> out;
  for (const Wanted& w : wanted_) {
    Entry& e = entries_[w.address];
    if (e.is_static) continue;
    const uint64_t period = e.resolved ? kNeighborRefreshMs : kNeighborRetryMs;
    const uint64_t since = e.resolved ? std::max(e.resolved_ms, e.requested_ms) : e.requested_ms;
    if (e.requested_ms != 0 && now_ms - since < period) continue;
    e.requested_ms = now_ms;
    out.push_back(w);
  }
  return out;
}

}  // namespace lb::controlplane
