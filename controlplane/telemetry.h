// Tether's counters over DPDK telemetry (the /var/run/dpdk/<prefix>/dpdk_telemetry.v2 socket, read
// with usertools/dpdk-telemetry.py), next to DPDK's own /ethdev/... commands:
//
//   /tether/stats               totals over all workers (packets, bytes, flows, flow table capacity,
//                               drops by reason) and the control plane's generation/publishes
//   /tether/lcores[,<lcore>]    per-worker counters keyed by lcore id (or just one lcore)
//   /tether/backends            per service: name, backend count and how many are up / down /
//                               unknown, keyed "0", "1", ... in config order
//   /tether/backends,<service>  that service's backends, keyed "0", "1", ...: address, port, health
//                               state, transitions, last error, weight, new flows, packets, bytes
//
// Callbacks run on DPDK's telemetry threads (one per connected client), not on the control thread.
// They read the workers' counters directly with relaxed loads, like statsJson(), and take everything
// else through the thread-safe accessors the daemon puts in TelemetrySources.
//
// Limits of DPDK 22.11's telemetry that shape the replies: a dict holds at most 256 entries, a string
// at most 127 bytes, a reply at most 16 KiB (larger replies lose their last entries), dict names may
// hold only letters, digits and '_' (jsonToTelData turns any other character into '_'; that is why
// services and backends are keyed by position), there are no floating-point values (doubles are sent
// as decimal strings) and arrays cannot hold dicts (an array of JSON objects becomes a dict keyed
// "0", "1", ...). Backends are listed one service at a time to stay within the reply size.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "controlplane/control_ops.h"
#include "controlplane/stats_report.h"

struct rte_tel_data;

namespace lb::controlplane {

struct TelemetrySources {
  // Read directly by the telemetry threads (relaxed loads). Must stay valid until
  // unregisterTelemetry() returns.
  std::vector<WorkerCounters> workers;
  uint32_t flow_entries_per_lcore = 0;  // [boot] flow table capacity per worker
  // Thread-safe accessors (called on telemetry threads). Either may be empty.
  // stats: the statsJson() document; its "generation", "publishes", "last_publish_us", "uptime_s",
  // "proxy" (HTTP proxy totals), "sessions" (session table) and "services" (per-backend counters) are
  // used. A copy of the document the control loop last built is the simplest thread-safe answer.
  std::function<nlohmann::json()> stats;
  std::function<std::vector<BackendHealth>()> health;
};

// Registers the /tether/* commands (once per process; EAL must be initialised with telemetry on) and
// makes `sources` their data. Calling it again replaces the sources.
absl::Status registerTelemetry(TelemetrySources sources);

// Detaches the sources: waits for callbacks in progress to finish, after which the commands answer
// with an error. Call before freeing the counters. Do not hold a lock the accessors take.
void unregisterTelemetry();

// Converts a JSON value to telemetry data (objects -> dicts, scalar arrays -> arrays, see the limits
// above). Fills `out` as far as the limits allow; returns ResourceExhausted naming the first thing
// left out or truncated, OK otherwise. Nested containers are handed over with keep = 0: the telemetry
// library frees them after writing the reply.
absl::Status jsonToTelData(const nlohmann::json& value, rte_tel_data* out);

// The documents the commands convert, exposed so they can be tested without EAL.
nlohmann::json telemetryStatsJson(const TelemetrySources& sources);
nlohmann::json telemetryLcoresJson(const TelemetrySources& sources, const char* lcore_param);
// Returns null for an unknown service.
nlohmann::json telemetryBackendsJson(const TelemetrySources& sources, const char* service_param);

}  // namespace lb::controlplane
