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

// HTTP services (issue 5): how a request picks its backend, tried in the configured order.
enum class StickyMethod : uint8_t {
  kLearnCookie,    // session table: cookie value -> backend, learnt from the backend's Set-Cookie
  kHashCookie,     // Maglev on a cookie value the client keeps stable (a user id)
  kSourceAddress,  // Maglev on the client address (the seeds' "IP hash")
  kFiveTuple,      // Maglev on the connection's 5-tuple
};
inline constexpr uint32_t kStickyMethodCount = 4;

// What happens when the backend a cookie points at cannot take the request.
enum class StickyTargetPolicy : uint8_t {
  kSoft,    // choose again with the next method (the user gets a fresh session)
  kStrict,  // refuse the connection (RST): the session is never silently moved
};

// Why a request did not go where its sticky binding pointed (each counted, per lcore).
enum class RebindCause : uint8_t {
  kTargetDown,      // health checks or admin disabled it
  kTargetDraining,  // admin drain: takes no new connections
  kTargetGone,      // no longer in the service (removed, or the binding is for another service)
  kConnectFailed,   // it refused or did not answer the connection attempts
  kCount,
};
inline constexpr uint32_t kRebindCauseCount = static_cast<uint32_t>(RebindCause::kCount);

// A backend's availability as a sticky binding sees it (the Maglev table already excludes the
// unavailable ones; bindings learnt earlier can still point at them).
enum class BackendAvailability : uint8_t { kUp, kDraining, kDown };

}  // namespace lb::dataplane
