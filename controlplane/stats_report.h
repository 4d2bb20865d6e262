// Sums the workers' per-lcore counters into one JSON document (the --stats-file format, described in
// configs/README.md). Reads counters with relaxed loads while workers run; totals are therefore a
// consistent-enough sample, never a torn value.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "controlplane/config.h"
#include "controlplane/counter_slots.h"
#include "dataplane/lcore_counters.h"
#include "dataplane/session_table.h"

namespace lb::controlplane {

struct WorkerCounters {
  unsigned lcore_id = 0;
  const dataplane::LcoreCounters* counters = nullptr;
};

struct ControlStats {
  uint64_t tsc_hz = 0;  // converts ProxyCounters::busy_tsc to seconds; 0 = unknown (reported as 0)
  uint64_t generation = 0;
  uint64_t publishes = 0;
  uint64_t last_publish_us = 0;
  double uptime_s = 0;
};

// The sticky-session table (dataplane/session_table.h) as the control plane sums it: every worker's
// SessionCounters plus the control plane's own (expiry, REST deletes).
struct SessionTableStats {
  bool present = false;  // false: no table (nothing reported)
  uint64_t occupied = 0;
  uint64_t capacity = 0;
  uint64_t slots = 0;
  uint32_t shards = 0;
  dataplane::SessionStats ops;
};

// The HTTP proxy counters (dataplane::ProxyCounters) other than the per-method, per-cause arrays and
// busy_tsc: one table for the stats document (key `name`) and the metrics (tether_proxy_<name>_total).
struct ProxyCounterField {
  std::string_view name;
  dataplane::Counter dataplane::ProxyCounters::*field;
  std::string_view help;
};
// Header-only (with rebindCauseName below), so metrics_lib, which does not link stats_report.cc, can
// use them.
inline constexpr std::array<ProxyCounterField, 19> kProxyCounterFields = {{
    {"syn_cookies_sent", &dataplane::ProxyCounters::syn_cookies_sent,
     "SYN-ACKs sent with a SYN cookie (retransmitted SYNs included)."},
    {"cookie_acks", &dataplane::ProxyCounters::cookie_acks, "Pure ACKs that validated a SYN cookie (no state created)."},
    {"connections_bound", &dataplane::ProxyCounters::connections_bound,
     "Data segments that validated a SYN cookie and created connection state."},
    {"heads_complete", &dataplane::ProxyCounters::heads_complete, "HTTP request heads read to the blank line."},
    {"heads_split", &dataplane::ProxyCounters::heads_split, "Complete request heads that spanned more than one segment."},
    {"head_too_large", &dataplane::ProxyCounters::head_too_large, "Request heads over max_head_bytes (client reset)."},
    {"head_malformed", &dataplane::ProxyCounters::head_malformed, "Request heads that were not HTTP/1.x (client reset)."},
    {"head_timeouts", &dataplane::ProxyCounters::head_timeouts, "Clients that went quiet before their head ended."},
    {"client_closed_early", &dataplane::ProxyCounters::client_closed_early,
     "Clients that sent RST or FIN before a backend was bound."},
    {"segments_held", &dataplane::ProxyCounters::segments_held, "Client segments held until the backend connected."},
    {"segments_duplicate", &dataplane::ProxyCounters::segments_duplicate, "Retransmissions of held bytes, dropped."},
    {"backend_syns", &dataplane::ProxyCounters::backend_syns, "SYNs sent to backends, retransmissions included."},
    {"backend_refused", &dataplane::ProxyCounters::backend_refused, "Backends that answered our SYN with RST."},
    {"backend_timeouts", &dataplane::ProxyCounters::backend_timeouts,
     "Backends that sent no SYN-ACK after every retransmission."},
    {"backend_retries_other", &dataplane::ProxyCounters::backend_retries_other,
     "Connection attempts moved to another backend before any byte was delivered."},
    {"connections_spliced", &dataplane::ProxyCounters::connections_spliced,
     "Connections whose backend answered; both directions translated from then on."},
    {"sessions_learned", &dataplane::ProxyCounters::sessions_learned, "Session cookies learnt from a backend's Set-Cookie."},
    {"sessions_forgotten", &dataplane::ProxyCounters::sessions_forgotten,
     "Set-Cookie headers that expired the session cookie (logout)."},
    {"strict_refusals", &dataplane::ProxyCounters::strict_refusals,
     "Connections refused because the strict policy's sticky backend was unavailable."},
}};

// Label values of RebindCause (metrics `cause`, stats keys).
inline std::string_view rebindCauseName(dataplane::RebindCause cause) {
  switch (cause) {
    case dataplane::RebindCause::kTargetDown: return "target_down";
    case dataplane::RebindCause::kTargetDraining: return "target_draining";
    case dataplane::RebindCause::kTargetGone: return "target_gone";
    case dataplane::RebindCause::kConnectFailed: return "connect_failed";
    case dataplane::RebindCause::kCount: break;
  }
  return "unknown";
}

nlohmann::json statsJson(const std::vector<WorkerCounters>& workers, const Config& config,
                         const CounterSlots& slots, const ControlStats& control,
                         const SessionTableStats& sessions = {});

// Writes to PATH.tmp then renames, so readers never see a partial file.
bool writeFileAtomically(const std::string& path, const std::string& contents);

}  // namespace lb::controlplane
