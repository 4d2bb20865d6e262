#include "controlplane/telemetry.h"

#include <rte_telemetry.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "controlplane/address.h"
#include "controlplane/lcore_counters_json.h"
#include "dataplane/lcore_counters.h"

namespace lb::controlplane {
namespace {

// rte_telemetry_register_cmd takes a plain function pointer and no user data (DPDK 22.11), so the
// callbacks find their sources here. The shared_mutex lets unregisterTelemetry() wait out callbacks
// still reading counters that the daemon is about to free.
std::shared_mutex g_sources_mutex;
std::unique_ptr<const TelemetrySources> g_sources;  // guarded by g_sources_mutex
std::once_flag g_register_once;
int g_register_result = 0;

std::string_view stateName(HealthState s) {
  switch (s) {
    case HealthState::kUp: return "up";
    case HealthState::kDown: return "down";
    case HealthState::kUnknown: break;
  }
  return "unknown";
}

absl::Status firstError(absl::Status a, const absl::Status& b) { return a.ok() ? b : a; }

absl::Status addResult(int rc, const std::string& what) {
  if (rc == 0) return absl::OkStatus();
  if (rc == E2BIG) return absl::ResourceExhaustedError(absl::StrCat(what, ": truncated to 127 bytes"));
  return absl::ResourceExhaustedError(absl::StrCat(what, ": not added (", std::strerror(rc < 0 ? -rc : rc), ")"));
}

std::string scalarText(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    char buf[32];
    const auto end = std::to_chars(buf, buf + sizeof(buf), v.get<double>()).ptr;
    return std::string(buf, end);
  }
  return v.dump();
}

bool fitsInt(const nlohmann::json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int>::max());
  if (v.is_number_integer()) {
    const int64_t x = v.get<int64_t>();
    return x >= std::numeric_limits<int>::min() && x <= std::numeric_limits<int>::max();
  }
  return false;
}

absl::Status fillDict(const nlohmann::json& object, rte_tel_data* d);

// DPDK telemetry refuses dict names with characters other than letters, digits and '_' (the whole
// entry is dropped), so the others become '_'.
std::string telemetryName(const std::string& key) {
  std::string out = key;
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) c = '_';
  }
  return out;
}

// A JSON value as a nested container, or nullptr (the value is a scalar). Allocation failures are
// reported through `status`.
rte_tel_data* containerFor(const nlohmann::json& v, absl::Status& status);

absl::Status fillArray(const nlohmann::json& array, rte_tel_data* d) {
  bool all_unsigned = true, all_int = true, all_scalar = true;
  for (const nlohmann::json& e : array) {
    all_unsigned &= e.is_number_unsigned();
    all_int &= fitsInt(e);
    all_scalar &= !e.is_structured();
  }
  absl::Status status;
  if (array.size() > RTE_TEL_MAX_ARRAY_ENTRIES) {
    status = absl::ResourceExhaustedError(absl::StrCat("array of ", array.size(), " entries: only the first ",
                                                       RTE_TEL_MAX_ARRAY_ENTRIES, " are sent"));
  }
  if (!all_scalar) {
    // DPDK arrays cannot hold dicts: key the elements by index instead.
    nlohmann::json keyed = nlohmann::json::object();
    for (size_t i = 0; i < array.size(); ++i) keyed[std::to_string(i)] = array[i];
    return firstError(status, fillDict(keyed, d));
  }
  if (all_unsigned && !array.empty()) {
    rte_tel_data_start_array(d, RTE_TEL_U64_VAL);
    for (const nlohmann::json& e : array) {
      status = firstError(status, addResult(rte_tel_data_add_array_u64(d, e.get<uint64_t>()), "array entry"));
    }
  } else if (all_int && !array.empty()) {
    rte_tel_data_start_array(d, RTE_TEL_INT_VAL);
    for (const nlohmann::json& e : array) {
      status = firstError(status, addResult(rte_tel_data_add_array_int(d, e.get<int>()), "array entry"));
    }
  } else {
    rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
    for (const nlohmann::json& e : array) {
      status = firstError(status, addResult(rte_tel_data_add_array_string(d, scalarText(e).c_str()), "array entry"));
    }
  }
  return status;
}

rte_tel_data* containerFor(const nlohmann::json& v, absl::Status& status) {
  rte_tel_data* c = rte_tel_data_alloc();
  if (c == nullptr) {
    status = firstError(status, absl::ResourceExhaustedError("rte_tel_data_alloc failed"));
    return nullptr;
  }
  status = firstError(status, v.is_object() ? fillDict(v, c) : fillArray(v, c));
  return c;
}

absl::Status fillDict(const nlohmann::json& object, rte_tel_data* d) {
  rte_tel_data_start_dict(d);
  absl::Status status;
  size_t entries = 0;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (entries++ == RTE_TEL_MAX_DICT_ENTRIES) {
      // Checked up front so a nested container is never refused (and leaked with its children).
      return firstError(status, absl::ResourceExhaustedError(absl::StrCat(
                                    "dict of ", object.size(), " entries: only the first ",
                                    RTE_TEL_MAX_DICT_ENTRIES, " are sent")));
    }
    const std::string name = telemetryName(it.key());
    const nlohmann::json& v = it.value();
    int rc = 0;
    if (v.is_structured()) {
      rte_tel_data* c = containerFor(v, status);
      if (c == nullptr) continue;
      rc = rte_tel_data_add_dict_container(d, name.c_str(), c, /*keep=*/0);
      if (rc < 0) rte_tel_data_free(c);
    } else if (v.is_number_unsigned()) {
      rc = rte_tel_data_add_dict_u64(d, name.c_str(), v.get<uint64_t>());
    } else if (v.is_number_integer() && fitsInt(v)) {
      rc = rte_tel_data_add_dict_int(d, name.c_str(), v.get<int>());
    } else if (v.is_boolean()) {
      rc = rte_tel_data_add_dict_int(d, name.c_str(), v.get<bool>() ? 1 : 0);
    } else {
      rc = rte_tel_data_add_dict_string(d, name.c_str(), scalarText(v).c_str());
    }
    status = firstError(status, addResult(rc, absl::StrCat("\"", name, "\"")));
  }
  return status;
}

// The callbacks: -1 (the client sees null) when no sources are registered, the parameter names
// nothing, or building the answer threw (an accessor or a JSON type error). Nothing may escape into
// DPDK's C thread: an exception there would terminate tetherd.
template <class Build>
int answer(rte_tel_data* d, Build build) noexcept {
  try {
    std::shared_lock lock(g_sources_mutex);
    if (!g_sources) return -1;
    const nlohmann::json doc = build(*g_sources);
    if (doc.is_null()) return -1;
    jsonToTelData(doc, d).IgnoreError();  // a truncated reply is still the best answer there is
    return 0;
  } catch (...) {
    return -1;
  }
}

int statsCommand(const char*, const char*, rte_tel_data* d) {
  return answer(d, [](const TelemetrySources& s) { return telemetryStatsJson(s); });
}

int lcoresCommand(const char*, const char* params, rte_tel_data* d) {
  return answer(d, [params](const TelemetrySources& s) { return telemetryLcoresJson(s, params); });
}

int backendsCommand(const char*, const char* params, rte_tel_data* d) {
  return answer(d, [params](const TelemetrySources& s) { return telemetryBackendsJson(s, params); });
}

}  // namespace

absl::Status jsonToTelData(const nlohmann::json& value, rte_tel_data* out) {
  if (value.is_object()) return fillDict(value, out);
  if (value.is_array()) return fillArray(value, out);
  const int rc = rte_tel_data_string(out, scalarText(value).c_str());
  return rc == 0 ? absl::OkStatus() : absl::ResourceExhaustedError("string truncated");
}

nlohmann::json telemetryStatsJson(const TelemetrySources& s) {
  nlohmann::json lcores = nlohmann::json::array();
  for (const WorkerCounters& w : s.workers) lcores.push_back(lcoreCountersJson(*w.counters));
  nlohmann::json doc = sumLcoreCounters(lcores);
  doc["workers"] = s.workers.size();
  doc["flow_table_capacity"] = uint64_t{s.flow_entries_per_lcore} * s.workers.size();
  if (s.stats) {
    const nlohmann::json stats = s.stats();
    // "proxy": HTTP proxy totals over every worker; "sessions": the session table (when it exists).
    for (const char* key : {"generation", "publishes", "last_publish_us", "uptime_s", "proxy", "sessions"}) {
      if (stats.contains(key)) doc[key] = stats[key];
    }
  }
  return doc;
}

nlohmann::json telemetryLcoresJson(const TelemetrySources& s, const char* lcore_param) {
  nlohmann::json doc = nlohmann::json::object();
  for (const WorkerCounters& w : s.workers) {
    const std::string id = std::to_string(w.lcore_id);
    if (lcore_param != nullptr && *lcore_param != '\0') {
      if (id == lcore_param) return lcoreCountersJson(*w.counters);
      continue;
    }
    doc[id] = lcoreCountersJson(*w.counters);
  }
  if (lcore_param != nullptr && *lcore_param != '\0') return nullptr;
  return doc;
}

nlohmann::json telemetryBackendsJson(const TelemetrySources& s, const char* service_param) {
  // Rows in config order (the stats document's), then health-only ones; one per (service, backend).
  struct Row {
    std::string service;
    nlohmann::json fields;
  };
  std::vector<Row> rows;
  std::map<std::tuple<std::string, std::string, uint64_t>, size_t> index;  // service, address, port
  std::vector<std::string> services;
  auto rowFor = [&](const std::string& service, const std::string& address, uint64_t port) -> nlohmann::json& {
    if (std::find(services.begin(), services.end(), service) == services.end()) services.push_back(service);
    auto [it, added] = index.emplace(std::tuple{service, address, port}, rows.size());
    if (added) rows.push_back({service, {{"address", address}, {"port", port}, {"state", "unknown"}}});
    return rows[it->second].fields;
  };
  if (s.stats) {
    const nlohmann::json stats = s.stats();
    for (const nlohmann::json& svc : stats.value("services", nlohmann::json::array())) {
      const std::string name = svc.value("name", "");
      if (std::find(services.begin(), services.end(), name) == services.end()) services.push_back(name);
      for (const nlohmann::json& b : svc.value("backends", nlohmann::json::array())) {
        nlohmann::json& row = rowFor(name, b.value("address", ""), b.value("port", uint64_t{0}));
        for (const char* key : {"weight", "new_flows", "packets", "bytes"}) {
          if (b.contains(key)) row[key] = b[key];
        }
      }
    }
  }
  if (s.health) {
    for (const BackendHealth& h : s.health()) {
      nlohmann::json& row = rowFor(h.service, formatIpv4(h.address), h.port);
      row["state"] = stateName(h.state);
      row["transitions"] = h.transitions;
      row["last_error"] = h.last_error;
    }
  }

  // Telemetry dict names allow only [A-Za-z0-9_], so neither "a.b.c.d:port" nor service names (which
  // may hold '-') can be keys: entries are keyed by position and carry their names as values.
  nlohmann::json doc = nlohmann::json::object();
  if (service_param != nullptr && *service_param != '\0') {
    if (std::find(services.begin(), services.end(), service_param) == services.end()) return nullptr;
    size_t i = 0;
    for (const Row& r : rows) {
      if (r.service == service_param) doc[std::to_string(i++)] = r.fields;
    }
    return doc;
  }
  for (size_t i = 0; i < services.size(); ++i) {
    uint64_t backends = 0, up = 0, down = 0;
    for (const Row& r : rows) {
      if (r.service != services[i]) continue;
      backends++;
      up += r.fields["state"] == "up";
      down += r.fields["state"] == "down";
    }
    doc[std::to_string(i)] = {{"service", services[i]}, {"backends", backends}, {"up", up}, {"down", down},
                              {"unknown", backends - up - down}};
  }
  return doc;
}

absl::Status registerTelemetry(TelemetrySources sources) {
  {
    std::unique_lock lock(g_sources_mutex);
    g_sources = std::make_unique<const TelemetrySources>(std::move(sources));
  }
  std::call_once(g_register_once, [] {
    const struct {
      const char* name;
      telemetry_cb fn;
      const char* help;
    } commands[] = {
        {"/tether/stats", statsCommand, "Tether totals over all workers and control-plane state. No parameters"},
        {"/tether/lcores", lcoresCommand, "Tether per-worker counters. Parameter: lcore id (optional)"},
        {"/tether/backends", backendsCommand,
         "Tether backends: per-service summary, or one service's backends. Parameter: service (optional)"},
    };
    for (const auto& c : commands) {
      const int rc = rte_telemetry_register_cmd(c.name, c.fn, c.help);
      if (rc != 0 && g_register_result == 0) g_register_result = rc;
    }
  });
  if (g_register_result != 0) {
    return absl::InternalError(
        absl::StrCat("rte_telemetry_register_cmd: ", std::strerror(-g_register_result)));
  }
  return absl::OkStatus();
}

void unregisterTelemetry() {
  std::unique_lock lock(g_sources_mutex);
  g_sources.reset();
}

}  // namespace lb::controlplane
