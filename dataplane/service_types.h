// Service-level enums shared by the config (controlplane) and the published snapshot (dataplane).
// Kept free of DPDK so the config library and its tests build without it.
#pragma once

#include <cstdint>

namespace lb::dataplane {

enum class Protocol : uint8_t { kTcp = 6, kUdp = 17 };

// How a packet for a VIP reaches its backend (see ARCHITECTURE.md for the path of each).
enum class ForwardingMode : uint8_t {
  kFullNat,  // client->VIP becomes local address:port->backend; replies come back through Tether
  kDsrL2,    // destination MAC rewritten to the backend; backend owns the VIP and replies directly
  kDsrIpip,  // IPv4-in-IPv4 to the backend; backend decapsulates and replies directly
};

enum class BalanceKey : uint8_t { kFiveTuple, kSourceAddress };

}  // namespace lb::dataplane
