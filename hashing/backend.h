// Backend identity and weight as the hashing tables see them.
//
// A table depends only on the *set* of (id, weight) pairs and a seed: callers pass backends in any
// order and the builders sort by id first, because an order-dependent table would remap users when two
// balancers (or one balancer across a restart) learn the same backends in a different order
// (Envoy's maglev_lb.cc makes the same point). `id` must therefore be stable for the life of a backend:
// the control plane derives it from the backend's address and port, never from a position.
#pragma once

#include <cstdint>
#include <limits>

namespace lb::hashing {

struct WeightedBackend {
  uint64_t id = 0;
  uint32_t weight = 1;  // 0 = present but receives no new keys (drained or disabled)
};

// Tables return positions into their sorted backend list; this marks "no backend can take the key"
// (empty set or every weight 0). Positions fit in 16 bits so a 65537-slot Maglev table is 128 KiB.
using BackendIndex = uint16_t;
inline constexpr BackendIndex kNoBackend = std::numeric_limits<BackendIndex>::max();
inline constexpr uint32_t kMaxBackends = kNoBackend;  // positions 0 .. kMaxBackends-1

}  // namespace lb::hashing
