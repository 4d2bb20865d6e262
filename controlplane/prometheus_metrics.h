// Renders Tether's counters in the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), for GET /metrics.
//
// Same inputs as statsJson() (stats_report.h) plus backend health, so the JSON stats file and the
// metrics can never disagree on a value. Names follow Prometheus conventions: `tether_` prefix, base
// units (bytes, seconds), `_total` on counters, one HELP and one TYPE line per family, all samples of a
// family together. Labels: `lcore` (EAL lcore id), `reason` (dataplane/drop_reason.h names),
// `service` (config name) and `backend` ("a.b.c.d:port"), plus `state`/`direction` on state sets.
//
// Families (c = counter, g = gauge):
//   per lcore   tether_rx_packets_total c, tether_rx_bytes_total c, tether_tx_packets_total c,
//               tether_tx_bytes_total c, tether_dropped_packets_total{reason} c (every reason, zeros
//               included, so rate() works from the first scrape), tether_arp_replies_total c,
//               tether_icmp_replies_total c, tether_nd_replies_total c, tether_icmp_too_big_total c, tether_icmp_relayed_total c,
//               tether_handoff_packets_total{direction="out"|"in"} c,
//               tether_flows_created_total c, tether_flows_expired_total c, tether_flows_active g,
//               tether_flow_table_capacity g (entries)
//   per backend tether_backend_new_flows_total c, tether_backend_packets_total c,
//               tether_backend_bytes_total c, tether_backend_weight g,
//               tether_backend_admin_state{state="enabled"|"draining"|"disabled"} g (1 on one state),
//               tether_backend_health_state{state="unknown"|"up"|"down"} g (1 on one state),
//               tether_backend_health_transitions_total c
//   per lcore, HTTP services (issue 5)
//               tether_proxy_<name>_total c (one family per stats_report.h kProxyCounterFields entry),
//               tether_sticky_chosen_total{method} c, tether_sticky_rebinds_total{cause} c,
//               tether_worker_busy_seconds_total c (time on bursts that had packets; not idle polls)
//   sessions    tether_sessions_active g (occupied entries, expired ones not yet reclaimed included),
//               tether_sessions_capacity g, tether_session_<op>_total c for lookups, hits, misses,
//               busy, inserts, updates, evictions, expirations, deletes, relocations (every thread
//               summed); only when the table exists
//   process     tether_table_publishes_total c, tether_table_generation g,
//               tether_table_last_publish_duration_seconds g, tether_uptime_seconds g
//
// Reads the workers' counters with relaxed loads (safe while they run). Config, CounterSlots and the
// health list belong to the control thread: call this there, or on copies.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controlplane/config.h"
#include "controlplane/control_ops.h"
#include "controlplane/counter_slots.h"
#include "controlplane/stats_report.h"

namespace lb::controlplane {

// Content-Type for the HTTP response carrying renderMetrics() output.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string renderMetrics(const std::vector<WorkerCounters>& workers, const Config& config,
                          const CounterSlots& slots, const ControlStats& control,
                          const std::vector<BackendHealth>& health,
                          const SessionTableStats& sessions = {});

// Label value escaping of the text format: backslash, double quote and line feed become \\, \" and \n.
std::string escapeLabelValue(std::string_view value);

}  // namespace lb::controlplane
