// The backend of an HTTP request (issue 5): the service's sticky methods tried in order (learnt
// session cookie, hashed cookie, source address, 5-tuple), what to do when a session's backend cannot
// take it (soft: count the rebind and go on; strict: refuse), and the fallback after a backend failed
// to connect. Also the one Set-Cookie question the SYN proxy asks: does this line end the session?
//
// Pure functions of the snapshot's Service, the parsed request head and the session table; no state of
// their own. Called once per bound connection, never per packet.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "dataplane/http_head.h"
#include "dataplane/lcore_counters.h"
#include "dataplane/session_table.h"
#include "dataplane/snapshot.h"
#include "hashing/key_hash.h"

namespace lb::dataplane {

struct BackendChoice {
  uint16_t backend = hashing::kNoBackend;  // index in svc.backends; kNoBackend when none
  bool refused = false;                    // strict policy: the session's backend cannot take it
  bool sticky = false;                     // chosen by a cookie (a failed connect counts a rebind)
  StickyMethod method = StickyMethod::kFiveTuple;
};

// What the learn-cookie method needs; `sessions` may be null (then it always misses).
struct StickyInputs {
  SessionTable* sessions = nullptr;
  const SessionSecret* secret = nullptr;
  SessionCounters* session_counters = nullptr;
  uint32_t now_s = 0;
};

// Up, and reachable (next hop resolved).
inline bool backendUsable(const BackendTarget& b) {
  return b.availability == BackendAvailability::kUp && b.next_hop_resolved;
}

// svc.backends is sorted by id (snapshot builder), so a learnt binding is found by binary search.
uint16_t findBackendById(const Service& svc, uint64_t id);

// Tries svc.http.methods in order; counts soft rebinds in `counters.rebinds`. With no method
// configured (or none answering) falls back to the service's balance key, as plain flows do. An
// IPv6 client's source address and 5-tuple hash its IPv6 key.
BackendChoice chooseBackend(const Service& svc, const HttpRequestHead& head,
                            const hashing::FlowKeyV4& client_key, const StickyInputs& in,
                            ProxyCounters& counters);
BackendChoice chooseBackend(const Service& svc, const HttpRequestHead& head,
                            const hashing::FlowKeyV6& client_key, const StickyInputs& in,
                            ProxyCounters& counters);

// After a backend failed to connect: the next usable backend whose id is not in `tried`, scanning
// from a point derived from the connection so that retries of different clients spread out.
uint16_t nextUntriedBackend(const Service& svc, const hashing::FlowKeyV4& client_key,
                            std::span<const uint64_t> tried);
uint16_t nextUntriedBackend(const Service& svc, const hashing::FlowKeyV6& client_key,
                            std::span<const uint64_t> tried);

// Whether a Set-Cookie (its value, and the attributes after it on the line) expires the cookie: an
// empty value, Max-Age=0 or negative, or an Expires date in 1970 (what logouts send). Other Expires
// dates are not compared: workers keep no wall clock; the session table's own TTL ends those.
bool setCookieExpires(std::string_view value, std::string_view attributes);

}  // namespace lb::dataplane
