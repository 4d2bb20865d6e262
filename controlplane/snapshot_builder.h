// Builds the immutable dataplane Snapshot from a validated Config: selection tables per service,
// backend targets with their egress port and next-hop MAC, local addresses, timeouts in TSC cycles.
// Pure function of its inputs (plus counter-slot assignment), so it is unit-tested without ports.
#pragma once

#include <rte_ether.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "controlplane/config.h"
#include "controlplane/counter_slots.h"
#include "controlplane/neighbor_table.h"
#include "dataplane/snapshot.h"

namespace lb::controlplane {

struct BuildInputs {
  const Config* config = nullptr;
  std::vector<rte_ether_addr> port_macs;  // by DPDK port id
  const NeighborTable* neighbors = nullptr;
  CounterSlots* counter_slots = nullptr;
  uint64_t tsc_hz = 0;
  uint64_t generation = 0;
};

absl::StatusOr<std::unique_ptr<dataplane::Snapshot>> buildSnapshot(const BuildInputs& in);

// The next hop (host-order address and port) that reaches `address`: itself if on a port's subnet,
// else the first configured gateway. nullopt when neither exists.
std::optional<NeighborTable::Wanted> nextHopFor(const Config& config, uint32_t address);

// Every next hop the config's backends need, deduplicated.
std::vector<NeighborTable::Wanted> wantedNextHops(const Config& config);

}  // namespace lb::controlplane
