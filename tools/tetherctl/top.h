// `tetherctl top`: per-backend and per-lcore rates from two /api/v1/stats samples, redrawn in place.
//
// A rate is (counter now - counter before) / (uptime_s now - uptime_s before); the daemon's own clock
// is used when both samples carry uptime_s, so HTTP latency does not skew the rates. A counter that
// went backwards (daemon restarted, backend removed and re-added) reads as 0 for that interval.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/tetherctl/api_client.h"

namespace tetherctl {

struct TopSample {
  nlohmann::json stats;   // GET /api/v1/stats
  nlohmann::json health;  // GET /api/v1/health
  std::chrono::steady_clock::time_point taken;
};

struct BackendRates {
  std::string service;
  std::string address;
  uint64_t port = 0;
  std::string health = "unknown";
  uint64_t weight = 0;
  double new_flows_per_s = 0;
  double packets_per_s = 0;
  double bytes_per_s = 0;
};

struct LcoreRates {
  uint64_t lcore = 0;
  double rx_packets_per_s = 0;
  double tx_packets_per_s = 0;
  double drops_per_s = 0;
  uint64_t flows_active = 0;
};

struct TopView {
  double interval_s = 0;
  double uptime_s = 0;
  uint64_t flows_active = 0;
  std::vector<BackendRates> backends;
  std::vector<LcoreRates> lcores;
};

TopView computeTop(const TopSample& before, const TopSample& after);
nlohmann::json topJson(const TopView& view);
void renderTop(const TopView& view, const std::string& server, std::ostream& out);

// Samples every `interval_ms` and prints a view after each sample but the first; stops after
// `iterations` views (0 = until interrupted). Clears the screen between views when stdout is a
// terminal; with `json`, prints one JSON object per line instead of tables.
void runTop(const ApiClient& client, int interval_ms, int iterations, bool json);

}  // namespace tetherctl
