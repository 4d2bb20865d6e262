// What the REST API (and anything else that changes Tether at run time) may ask of the control plane.
//
// Every method is safe to call from any thread (the HTTP server's); the daemon serialises them onto
// the control thread. A change is a whole new Config: the caller copies current(), edits it, and
// submits it; the control plane validates it as a whole and either applies it atomically (one
// snapshot publish) or returns an error and changes nothing.
#pragma once

#include <cstdint>
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
};

}  // namespace lb::controlplane
