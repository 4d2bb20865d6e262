#include "controlplane/stats_report.h"

#include <cstdio>
#include <fstream>
#include <tuple>

#include "controlplane/lcore_counters_json.h"

namespace lb::controlplane {
namespace {

using dataplane::kRebindCauseCount;
using dataplane::kStickyMethodCount;
using dataplane::ProxyCounters;

// Sums of one lcore's (or every lcore's) proxy counters.
struct ProxyTotals {
  std::array<uint64_t, std::tuple_size_v<decltype(kProxyCounterFields)>> fields{};
  uint64_t chosen_by[kStickyMethodCount] = {};
  uint64_t rebinds[kRebindCauseCount] = {};
  uint64_t busy_tsc = 0;
  uint64_t process_tsc = 0;

  void add(const ProxyCounters& p) {
    for (size_t i = 0; i < fields.size(); ++i) fields[i] += (p.*kProxyCounterFields[i].field).read();
    for (size_t m = 0; m < kStickyMethodCount; ++m) chosen_by[m] += p.chosen_by[m].read();
    for (size_t c = 0; c < kRebindCauseCount; ++c) rebinds[c] += p.rebinds[c].read();
    busy_tsc += p.busy_tsc.read();
    process_tsc += p.process_tsc.read();
  }
};

nlohmann::json proxyJson(const ProxyTotals& t, uint64_t tsc_hz) {
  nlohmann::json out = nlohmann::json::object();
  for (size_t i = 0; i < t.fields.size(); ++i) out[std::string(kProxyCounterFields[i].name)] = t.fields[i];
  nlohmann::json chosen = nlohmann::json::object();
  for (size_t m = 0; m < kStickyMethodCount; ++m) {
    chosen[std::string(stickyMethodName(static_cast<dataplane::StickyMethod>(m)))] = t.chosen_by[m];
  }
  out["chosen_by"] = chosen;
  nlohmann::json rebinds = nlohmann::json::object();
  for (size_t c = 0; c < kRebindCauseCount; ++c) {
    rebinds[std::string(rebindCauseName(static_cast<dataplane::RebindCause>(c)))] = t.rebinds[c];
  }
  out["rebinds"] = rebinds;
  out["busy_tsc"] = t.busy_tsc;
  out["busy_s"] = tsc_hz == 0 ? 0.0 : static_cast<double>(t.busy_tsc) / static_cast<double>(tsc_hz);
  out["process_tsc"] = t.process_tsc;
  out["process_s"] = tsc_hz == 0 ? 0.0 : static_cast<double>(t.process_tsc) / static_cast<double>(tsc_hz);
  return out;
}

nlohmann::json sessionsJson(const SessionTableStats& s) {
  const dataplane::SessionStats& o = s.ops;
  return {{"occupied", s.occupied},       {"capacity", s.capacity},     {"slots", s.slots},
          {"shards", s.shards},           {"lookups", o.lookups},       {"hits", o.hits},
          {"misses", o.misses},           {"busy", o.busy},             {"inserts", o.inserts},
          {"updates", o.updates},         {"evictions", o.evictions},   {"expirations", o.expirations},
          {"deletes", o.deletes},         {"relocations", o.relocations}};
}

}  // namespace

nlohmann::json statsJson(const std::vector<WorkerCounters>& workers, const Config& config,
                         const CounterSlots& slots, const ControlStats& control,
                         const SessionTableStats& sessions) {
  nlohmann::json doc;
  doc["generation"] = control.generation;
  doc["publishes"] = control.publishes;
  doc["last_publish_us"] = control.last_publish_us;
  doc["uptime_s"] = control.uptime_s;

  nlohmann::json lcores = nlohmann::json::array();
  ProxyTotals proxy_totals;
  for (const WorkerCounters& w : workers) {
    const dataplane::LcoreCounters& c = *w.counters;
    ProxyTotals proxy;
    proxy.add(c.proxy);
    proxy_totals.add(c.proxy);
    nlohmann::json lcore = lcoreCountersJson(c);
    lcore["lcore"] = w.lcore_id;
    lcore["proxy"] = proxyJson(proxy, control.tsc_hz);
    lcores.push_back(std::move(lcore));
  }
  doc["lcores"] = lcores;
  // The totals sum the very values the lcore objects report; flows_active stands at the top.
  nlohmann::json totals = sumLcoreCounters(lcores);
  doc["flows_active"] = totals["flows_active"];
  totals.erase("flows_active");
  doc["totals"] = std::move(totals);
  doc["proxy"] = proxyJson(proxy_totals, control.tsc_hz);
  if (sessions.present) doc["sessions"] = sessionsJson(sessions);

  nlohmann::json services = nlohmann::json::array();
  for (const ServiceConfig& s : config.services) {
    nlohmann::json backends = nlohmann::json::array();
    for (const BackendConfig& b : s.backends) {
      auto it = slots.slots().find(BackendKey{s.name, b.address, b.port});
      uint64_t new_flows = 0, packets = 0, bytes = 0, reply_packets = 0, reply_bytes = 0;
      if (it != slots.slots().end()) {
        for (const WorkerCounters& w : workers) {
          const dataplane::BackendCounters& bc = w.counters->backends[it->second];
          new_flows += bc.new_flows.read();
          packets += bc.to_backend.packets.read();
          bytes += bc.to_backend.bytes.read();
          const dataplane::TrafficCounters& replies = w.counters->backend_replies[it->second];
          reply_packets += replies.packets.read();
          reply_bytes += replies.bytes.read();
        }
      }
      backends.push_back({{"address", formatIpv4(b.address)},
                          {"port", b.port},
                          {"weight", b.weight},
                          {"new_flows", new_flows},
                          {"packets", packets},
                          {"bytes", bytes},
                          {"reply_packets", reply_packets},
                          {"reply_bytes", reply_bytes}});
    }
    services.push_back({{"name", s.name}, {"backends", backends}});
  }
  doc["services"] = services;
  return doc;
}

bool writeFileAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return false;
    out << contents << '\n';
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace lb::controlplane
