// Builds the immutable dataplane Snapshot from a validated Config: selection tables per service,
// backend targets with their egress port and next-hop MAC, local addresses, timeouts in TSC cycles.
// Pure function of its inputs (plus counter-slot assignment), so it is unit-tested without ports.
#pragma once

#include <rte_ether.h>

#include <cstdint>
#include <memory>
#include <map>
#include <set>
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
  // Backends the health checker has marked down (may be null): like draining or disabled ones, they
  // keep their established flows but get weight 0 in the selection table, so no new ones.
  const std::set<BackendKey>* down = nullptr;
  uint16_t exception_port = dataplane::kNoPort;  // the kernel's tap, mirroring port 0
  // Backends in slow start and the share (0..1] of their weight they take now (may be null).
  const std::map<BackendKey, double>* slow_start_share = nullptr;
  // Stable session-table index per HTTP service name (Service::http.session_service). May be null
  // (tests): then an HTTP service's index is its position in config.services.
  ServiceSlots* session_services = nullptr;
  // Each port's IP MTU, by DPDK port id (rte_eth_dev_get_mtu); a port without an entry has 1500.
  std::vector<uint16_t> port_mtus;
};

// A backend's identity for the hashing tables and the session table (BackendTarget::id): a hash of
// its address and port, stable across restarts and independent of its position in the file.
uint64_t backendStableId(const BackendConfig& backend);

// What a sticky binding sees of a backend: down if health checks failed it or it is disabled,
// draining if draining, else up (weight 0 alone does not make it unavailable).
dataplane::BackendAvailability backendAvailability(const BackendConfig& backend, bool health_down);

// Service::http from the config: times converted to TSC cycles at tsc_hz.
dataplane::HttpStickyPolicy stickyPolicy(const HttpConfig& http, uint16_t session_service,
                                         uint64_t tsc_hz);

// The weight a backend takes in the selection table: its configured weight only while it is enabled
// and not known to be down.
uint32_t effectiveWeight(const BackendConfig& backend, bool down);

// A backend's weight while it ramps up: share of its weight, at least 1 so it is never left out.
uint32_t slowStartWeight(uint32_t weight, double share);

absl::StatusOr<std::unique_ptr<dataplane::Snapshot>> buildSnapshot(const BuildInputs& in);

// The next hop (host-order address and port) that reaches `address`: itself if on a port's subnet,
// else the first configured gateway. nullopt when neither exists.
std::optional<NeighborTable::Wanted> nextHopFor(const Config& config, uint32_t address);

// Every next hop the config's backends need, deduplicated.
std::vector<NeighborTable::Wanted> wantedNextHops(const Config& config);

}  // namespace lb::controlplane
