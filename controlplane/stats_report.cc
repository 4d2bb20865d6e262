#include "controlplane/stats_report.h"

#include <cstdio>
#include <fstream>

namespace lb::controlplane {
namespace {

using dataplane::kDropReasonCount;
using dataplane::kDropReasonNames;

nlohmann::json dropsJson(const uint64_t (&drops)[kDropReasonCount]) {
  nlohmann::json out = nlohmann::json::object();
  for (size_t r = 0; r < kDropReasonCount; ++r) out[std::string(kDropReasonNames[r])] = drops[r];
  return out;
}

}  // namespace

nlohmann::json statsJson(const std::vector<WorkerCounters>& workers, const Config& config,
                         const CounterSlots& slots, const ControlStats& control) {
  nlohmann::json doc;
  doc["generation"] = control.generation;
  doc["publishes"] = control.publishes;
  doc["last_publish_us"] = control.last_publish_us;
  doc["uptime_s"] = control.uptime_s;

  uint64_t total_drops[kDropReasonCount] = {};
  uint64_t totals[6] = {};
  uint64_t flows_active = 0;
  nlohmann::json lcores = nlohmann::json::array();
  for (const WorkerCounters& w : workers) {
    const dataplane::LcoreCounters& c = *w.counters;
    uint64_t drops[kDropReasonCount];
    for (size_t r = 0; r < kDropReasonCount; ++r) {
      drops[r] = c.drops[r].read();
      total_drops[r] += drops[r];
    }
    const uint64_t values[6] = {c.rx_packets.read(), c.rx_bytes.read(), c.tx_packets.read(),
                                c.tx_bytes.read(), c.flows_created.read(), c.flows_expired.read()};
    for (int i = 0; i < 6; ++i) totals[i] += values[i];
    const uint64_t active = c.flows_active.load(std::memory_order_relaxed);
    flows_active += active;
    lcores.push_back({{"lcore", w.lcore_id},
                      {"rx_packets", values[0]},
                      {"rx_bytes", values[1]},
                      {"tx_packets", values[2]},
                      {"tx_bytes", values[3]},
                      {"flows_created", values[4]},
                      {"flows_expired", values[5]},
                      {"flows_reset", c.flows_reset.read()},
                      {"flows_active", active},
                      {"arp_replies", c.arp_replies.read()},
                      {"icmp_replies", c.icmp_replies.read()},
                      {"handoff_out", c.handoff_out.read()},
                      {"handoff_in", c.handoff_in.read()},
                      {"drops", dropsJson(drops)}});
  }
  doc["lcores"] = lcores;
  doc["totals"] = {{"rx_packets", totals[0]}, {"rx_bytes", totals[1]},     {"tx_packets", totals[2]},
                   {"tx_bytes", totals[3]},   {"flows_created", totals[4]}, {"flows_expired", totals[5]},
                   {"drops", dropsJson(total_drops)}};
  doc["flows_active"] = flows_active;

  nlohmann::json services = nlohmann::json::array();
  for (const ServiceConfig& s : config.services) {
    nlohmann::json backends = nlohmann::json::array();
    for (const BackendConfig& b : s.backends) {
      auto it = slots.slots().find(BackendKey{s.name, b.address, b.port});
      uint64_t new_flows = 0, packets = 0, bytes = 0;
      if (it != slots.slots().end()) {
        for (const WorkerCounters& w : workers) {
          const dataplane::BackendCounters& bc = w.counters->backends[it->second];
          new_flows += bc.new_flows.read();
          packets += bc.packets.read();
          bytes += bc.bytes.read();
        }
      }
      backends.push_back({{"address", formatIpv4(b.address)},
                          {"port", b.port},
                          {"weight", b.weight},
                          {"new_flows", new_flows},
                          {"packets", packets},
                          {"bytes", bytes}});
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
