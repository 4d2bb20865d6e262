// Sums the workers' per-lcore counters into one JSON document (the --stats-file format, described in
// configs/README.md). Reads counters with relaxed loads while workers run; totals are therefore a
// consistent-enough sample, never a torn value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "controlplane/config.h"
#include "controlplane/counter_slots.h"
#include "dataplane/lcore_counters.h"

namespace lb::controlplane {

struct WorkerCounters {
  unsigned lcore_id = 0;
  const dataplane::LcoreCounters* counters = nullptr;
};

struct ControlStats {
  uint64_t generation = 0;
  uint64_t publishes = 0;
  uint64_t last_publish_us = 0;
  double uptime_s = 0;
};

nlohmann::json statsJson(const std::vector<WorkerCounters>& workers, const Config& config,
                         const CounterSlots& slots, const ControlStats& control);

// Writes to PATH.tmp then renames, so readers never see a partial file.
bool writeFileAtomically(const std::string& path, const std::string& contents);

}  // namespace lb::controlplane
