// What the REST API (and anything else that changes Tether at run time) may ask of the control plane.
//
// Every method is safe to call from any thread (the HTTP server's); the daemon serialises them onto
// the control thread. A change is a whole new Config: the caller copies current(), edits it, and
// submits it; the control plane validates it as a whole and either applies it atomically (one
// snapshot publish) or returns an error and changes nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controlplane/config.h"

namespace lb::controlplane {

enum class HealthState : uint8_t { kUnknown, kUp, kDown };

// "unknown" | "up" | "down": the label value in metrics, the REST API and logs.
inline std::string_view healthStateName(HealthState state) {
  switch (state) {
    case HealthState::kUp: return "up";
    case HealthState::kDown: return "down";
    case HealthState::kUnknown: break;
  }
  return "unknown";
}

struct BackendHealth {
  std::string service;
  uint32_t address = 0;  // host order
  uint16_t port = 0;
  HealthState state = HealthState::kUnknown;
  uint64_t transitions = 0;
  std::string last_error;  // empty when the last check passed
};

// A sticky session as the control plane reports it (dataplane/session_table.h). The cookie value
// itself is never kept, only its keyed hash.
struct SessionView {
  uint64_t key = 0;                   // keyed hash of the session cookie's value
  std::optional<uint32_t> backend_address;  // host order; unset when the backend left the service
  uint16_t backend_port = 0;
  uint64_t backend_id = 0;            // the stable id the session holds (snapshot BackendTarget::id)
  uint32_t created_age_s = 0;         // seconds since the binding was learnt (or last replaced)
  uint32_t idle_s = 0;                // seconds since a request last used it
};

struct SessionListPage {
  std::vector<SessionView> sessions;  // ascending key order
  uint64_t next_cursor = 0;           // pass back to continue while `more`
  bool more = false;
};

// Names one session: by the cookie value a client sends (hashed with the daemon's secret) or by key.
struct SessionSelector {
  std::optional<std::string> cookie;
  uint64_t key = 0;  // used when cookie is unset
};

inline constexpr size_t kMaxSessionListLimit = 1000;

class ControlOps {
 public:
  virtual ~ControlOps() = default;

  virtual Config currentConfig() const = 0;
  // InvalidArgument (message names the problem) or FailedPrecondition (boot-only key changed); on any
  // error nothing changes. On success the new snapshot is live on every worker when this returns.
  virtual absl::Status applyConfig(const Config& next) = 0;
  // Re-reads the config file (same checks as applyConfig).
  virtual absl::Status reloadFromFile() = 0;

  // The counters document (configs/README.md, --stats-file format).
  virtual nlohmann::json stats() const = 0;
  virtual std::vector<BackendHealth> health() const = 0;
  // Prometheus text exposition format (version 0.0.4).
  virtual std::string metricsText() const = 0;

  // Sticky sessions of an HTTP service. NotFound names what is missing (service, http block,
  // session); InvalidArgument for a limit outside 1..kMaxSessionListLimit. A page may hold fewer
  // than `limit` sessions (even none) while `more` is set: the scan behind it is bounded.
  virtual absl::StatusOr<SessionListPage> listSessions(const std::string& service, uint64_t cursor,
                                                       size_t limit) const = 0;
  virtual absl::StatusOr<SessionView> findSession(const std::string& service,
                                                  const SessionSelector& which) const = 0;
  // Removes the binding: the client's next request picks a backend afresh.
  virtual absl::Status deleteSession(const std::string& service, const SessionSelector& which) = 0;
};

}  // namespace lb::controlplane
