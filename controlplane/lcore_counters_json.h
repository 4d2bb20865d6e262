// One worker's LcoreCounters as JSON, the same object in the stats document (`lcores[]`, with the
// lcore id and proxy counters added there) and the /tether/lcores telemetry command, so a counter
// added to the workers is reported by both from one list.
#pragma once

#include <nlohmann/json.hpp>

#include "dataplane/drop_reason.h"
#include "dataplane/lcore_counters.h"

namespace lb::controlplane {

// Traffic, flow and event counters, and drops by reason ({"<reason>": count}). Relaxed loads while
// the worker runs: each value is whole, the set is a sample.
nlohmann::json lcoreCountersJson(const dataplane::LcoreCounters& c);

// Traffic and flow counters summed over workers, and drops by reason: objects from
// lcoreCountersJson in, the same keys (these and "drops") out.
inline constexpr const char* kSummedCounters[] = {"rx_packets",    "rx_bytes",      "tx_packets",  "tx_bytes",
                                                  "flows_created", "flows_expired", "flows_active"};
nlohmann::json sumLcoreCounters(const nlohmann::json& lcores);

}  // namespace lb::controlplane
