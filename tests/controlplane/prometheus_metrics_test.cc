// Tests for controlplane/prometheus_metrics.h: renders synthetic counters and checks the text both
// here (format details: HELP/TYPE once per family, escaping, grouping) and with the reference parser,
// prometheus_client.parser (prometheus_metrics_check.py), against expected values computed here from
// the inputs, not from the output.
#include "controlplane/prometheus_metrics.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "controlplane/address.h"

#ifndef TETHER_PYTHON
#error "TETHER_PYTHON must name the python3 interpreter (set in tests/controlplane/meson.build)"
#endif
#ifndef TETHER_PROMETHEUS_CHECK
#error "TETHER_PROMETHEUS_CHECK must name prometheus_metrics_check.py (set in tests/controlplane/meson.build)"
#endif

namespace lb::controlplane {
namespace {

using dataplane::kDropReasonCount;
using dataplane::kDropReasonNames;
using dataplane::LcoreCounters;

// A service name no validated config allows, to exercise label escaping: quote, backslash, newline.
const std::string kOddService = "we\"ird\\name\nx";

// Synthetic inputs: two workers, three backends over two services, health for two of them.
struct Fixture {
  std::vector<std::unique_ptr<LcoreCounters>> counters;
  std::vector<WorkerCounters> workers;
  Config config;
  CounterSlots slots{dataplane::kMaxBackendCounters};
  ControlStats control{.tsc_hz = 2'000'000'000, .generation = 7, .publishes = 9, .last_publish_us = 1500,
                       .uptime_s = 12.5};
  std::vector<BackendHealth> health;
  SessionTableStats sessions{.present = true, .occupied = 5, .capacity = 1024, .slots = 1280, .shards = 1,
                             .ops = {.lookups = 10, .hits = 6, .misses = 4, .busy = 1, .inserts = 7,
                                     .updates = 2, .evictions = 3, .expirations = 8, .deletes = 9,
                                     .relocations = 11}};

  Fixture() {
    config.dataplane.flow_entries_per_lcore = 1u << 16;
    ServiceConfig web;
    web.name = "web";
    web.backends = {BackendConfig{0x0a000001, 8080, 10, BackendAdminState::kEnabled},
                    BackendConfig{0x0a000002, 8080, 0, BackendAdminState::kDraining}};
    ServiceConfig odd;
    odd.name = kOddService;
    odd.backends = {BackendConfig{0xc0a80101, 53, 1, BackendAdminState::kDisabled}};
    config.services = {web, odd};

    const unsigned lcores[] = {1, 3};
    for (int w = 0; w < 2; ++w) {
      counters.push_back(std::make_unique<LcoreCounters>());
      LcoreCounters& c = *counters.back();
      const uint64_t base = 1000 * (w + 1);
      c.rx_packets.add(base + 1);
      c.rx_bytes.add(base * 64 + 2);
      c.tx_packets.add(base + 3);
      c.tx_bytes.add(base * 64 + 4);
      c.arp_replies.add(w + 5);
      c.icmp_replies.add(w + 6);
      c.nd_replies.add(w + 17);
      c.icmp_too_big.add(w + 14);
      c.icmp_relayed.add(w + 15);
      c.icmp_to_backend.add(w + 16);
      c.handoff_out.add(w + 7);
      c.handoff_in.add(w + 8);
      c.flows_created.add(base + 9);
      c.established_path.add(base + 13);
      c.fragments_in.add(w + 18);
      c.datagrams_reassembled.add(w + 19);
      c.fragments_out.add(w + 20);
      c.flows_expired.add(base + 10);
      c.flows_active.store(base / 10);
      for (size_t r = 0; r < kDropReasonCount; ++r) c.drops[r].add(r * (w + 1));
      for (size_t i = 0; i < kProxyCounterFields.size(); ++i) (c.proxy.*kProxyCounterFields[i].field).add(i + 20 * w);
      for (uint32_t m = 0; m < dataplane::kStickyMethodCount; ++m) c.proxy.chosen_by[m].add(m + 1 + w);
      for (uint32_t k = 0; k < dataplane::kRebindCauseCount; ++k) c.proxy.rebinds[k].add(k + 2 + w);
      c.proxy.busy_tsc.add(3'000'000'000ULL * (w + 1));  // 1.5 s per worker index at 2 GHz
      c.proxy.process_tsc.add(1'000'000'000ULL * (w + 1));  // 0.5 s per worker index
      workers.push_back({lcores[w], &c});
    }
    for (const ServiceConfig& s : config.services) {
      for (const BackendConfig& b : s.backends) {
        const uint32_t slot = *slots.slotFor(BackendKey{s.name, b.address, b.port});
        for (int w = 0; w < 2; ++w) {
          counters[w]->backends[slot].new_flows.add(slot + 11 + w);
          counters[w]->backends[slot].to_backend.packets.add(slot + 100 + w);
          counters[w]->backends[slot].to_backend.bytes.add(slot * 1500 + w);
          counters[w]->backend_replies[slot].packets.add(slot + 300 + w);
          counters[w]->backend_replies[slot].bytes.add(slot * 9000 + w);
        }
      }
    }
    health = {BackendHealth{"web", 0x0a000001, 8080, HealthState::kUp, 3, ""},
              BackendHealth{"web", 0x0a000002, 8080, HealthState::kDown, 1, "connect: Connection refused"},
              BackendHealth{"gone", 0x0a000009, 1, HealthState::kUp, 1, ""}};  // not in config: ignored
  }

  std::string render() const { return renderMetrics(workers, config, slots, control, health, sessions); }

  // Every sample the output must contain, computed from the inputs: [name, {labels}, value].
  nlohmann::json expectedSamples() const {
    nlohmann::json out = nlohmann::json::array();
    auto add = [&](const std::string& name, nlohmann::json labels, double value) {
      out.push_back({name, std::move(labels), value});
    };
    for (const WorkerCounters& w : workers) {
      const LcoreCounters& c = *w.counters;
      const std::string l = std::to_string(w.lcore_id);
      add("tether_rx_packets_total", {{"lcore", l}}, c.rx_packets.read());
      add("tether_rx_bytes_total", {{"lcore", l}}, c.rx_bytes.read());
      add("tether_tx_packets_total", {{"lcore", l}}, c.tx_packets.read());
      add("tether_tx_bytes_total", {{"lcore", l}}, c.tx_bytes.read());
      for (size_t r = 0; r < kDropReasonCount; ++r) {
        add("tether_dropped_packets_total", {{"lcore", l}, {"reason", std::string(kDropReasonNames[r])}},
            c.drops[r].read());
      }
      add("tether_arp_replies_total", {{"lcore", l}}, c.arp_replies.read());
      add("tether_icmp_replies_total", {{"lcore", l}}, c.icmp_replies.read());
      add("tether_nd_replies_total", {{"lcore", l}}, c.nd_replies.read());
      add("tether_icmp_too_big_total", {{"lcore", l}}, c.icmp_too_big.read());
      add("tether_icmp_relayed_total", {{"lcore", l}}, c.icmp_relayed.read());
      add("tether_icmp_to_backend_total", {{"lcore", l}}, c.icmp_to_backend.read());
      add("tether_handoff_packets_total", {{"lcore", l}, {"direction", "out"}}, c.handoff_out.read());
      add("tether_handoff_packets_total", {{"lcore", l}, {"direction", "in"}}, c.handoff_in.read());
      add("tether_fragments_received_total", {{"lcore", l}}, c.fragments_in.read());
      add("tether_datagrams_reassembled_total", {{"lcore", l}}, c.datagrams_reassembled.read());
      add("tether_fragments_sent_total", {{"lcore", l}}, c.fragments_out.read());
      add("tether_established_path_packets_total", {{"lcore", l}}, c.established_path.read());
      add("tether_flows_created_total", {{"lcore", l}}, c.flows_created.read());
      add("tether_flows_expired_total", {{"lcore", l}}, c.flows_expired.read());
      add("tether_flows_active", {{"lcore", l}}, c.flows_active.load());
      add("tether_flow_table_capacity", {{"lcore", l}}, config.dataplane.flow_entries_per_lcore);
      const double w_index = w.lcore_id == 1 ? 0 : 1;
      for (size_t i = 0; i < kProxyCounterFields.size(); ++i) {
        add("tether_proxy_" + std::string(kProxyCounterFields[i].name) + "_total", {{"lcore", l}},
            static_cast<double>(i) + 20 * w_index);
      }
      const char* methods[] = {"learn_cookie", "hash_cookie", "source_address", "five_tuple"};
      for (int m = 0; m < 4; ++m) add("tether_sticky_chosen_total", {{"lcore", l}, {"method", methods[m]}}, m + 1 + w_index);
      const char* causes[] = {"target_down", "target_draining", "target_gone", "connect_failed"};
      for (int k = 0; k < 4; ++k) add("tether_sticky_rebinds_total", {{"lcore", l}, {"cause", causes[k]}}, k + 2 + w_index);
      add("tether_worker_busy_seconds_total", {{"lcore", l}}, 1.5 * (w_index + 1));
      add("tether_worker_process_seconds_total", {{"lcore", l}}, 0.5 * (w_index + 1));
    }
    add("tether_sessions_active", nlohmann::json::object(), 5);
    add("tether_sessions_capacity", nlohmann::json::object(), 1024);
    const std::pair<const char*, double> ops[] = {
        {"lookups", 10}, {"hits", 6},        {"misses", 4},      {"busy", 1},     {"inserts", 7},
        {"updates", 2},  {"evictions", 3},   {"expirations", 8}, {"deletes", 9},  {"relocations", 11}};
    for (const auto& [op, value] : ops) {
      add(std::string("tether_session_") + op + "_total", nlohmann::json::object(), value);
    }
    const std::map<std::string, HealthState> health_of = {{"web/10.0.0.1:8080", HealthState::kUp},
                                                          {"web/10.0.0.2:8080", HealthState::kDown}};
    const std::map<std::string, uint64_t> transitions_of = {{"web/10.0.0.1:8080", 3}, {"web/10.0.0.2:8080", 1}};
    for (const ServiceConfig& s : config.services) {
      for (const BackendConfig& b : s.backends) {
        const uint32_t slot = slots.slots().at(BackendKey{s.name, b.address, b.port});
        const std::string backend = formatIpv4(b.address) + ":" + std::to_string(b.port);
        const nlohmann::json labels = {{"service", s.name}, {"backend", backend}};
        add("tether_backend_new_flows_total", labels, 2.0 * slot + 23);
        add("tether_backend_packets_total", labels, 2.0 * slot + 201);
        add("tether_backend_bytes_total", labels, 3000.0 * slot + 1);
        add("tether_backend_reply_packets_total", labels, 2.0 * slot + 601);
        add("tether_backend_reply_bytes_total", labels, 18000.0 * slot + 1);
        add("tether_backend_weight", labels, b.weight);
        const std::pair<BackendAdminState, const char*> admin[] = {
            {BackendAdminState::kEnabled, "enabled"}, {BackendAdminState::kDraining, "draining"},
            {BackendAdminState::kDisabled, "disabled"}};
        for (const auto& [state, name] : admin) {
          nlohmann::json l = labels;
          l["state"] = name;
          add("tether_backend_admin_state", l, b.state == state ? 1 : 0);
        }
        const std::string key = s.name + "/" + backend;
        const HealthState hs = health_of.contains(key) ? health_of.at(key) : HealthState::kUnknown;
        const std::pair<HealthState, const char*> states[] = {
            {HealthState::kUnknown, "unknown"}, {HealthState::kUp, "up"}, {HealthState::kDown, "down"}};
        for (const auto& [state, name] : states) {
          nlohmann::json l = labels;
          l["state"] = name;
          add("tether_backend_health_state", l, hs == state ? 1 : 0);
        }
        add("tether_backend_health_transitions_total", labels,
            transitions_of.contains(key) ? transitions_of.at(key) : 0);
      }
    }
    add("tether_table_publishes_total", nlohmann::json::object(), 9);
    add("tether_table_generation", nlohmann::json::object(), 7);
    add("tether_table_last_publish_duration_seconds", nlohmann::json::object(), 0.0015);
    add("tether_uptime_seconds", nlohmann::json::object(), 12.5);
    return out;
  }
};

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Label values are escaped as the text format requires.
TEST(PrometheusMetricsTest, EscapesLabelValues) {
  EXPECT_EQ(escapeLabelValue("plain-name_1"), "plain-name_1");
  EXPECT_EQ(escapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

// Spot values, in the exact text a scraper reads.
TEST(PrometheusMetricsTest, RendersCountersAsSamples) {
  const Fixture f;
  const std::string text = f.render();
  EXPECT_NE(text.find("tether_rx_packets_total{lcore=\"1\"} 1001\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tether_rx_packets_total{lcore=\"3\"} 2001\n"), std::string::npos);
  EXPECT_NE(text.find("tether_dropped_packets_total{lcore=\"3\",reason=\"no_backend\"} 6\n"), std::string::npos);
  EXPECT_NE(text.find("tether_backend_health_state{service=\"web\",backend=\"10.0.0.2:8080\",state=\"down\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("tether_backend_weight{service=\"we\\\"ird\\\\name\\nx\",backend=\"192.168.1.1:53\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("tether_table_last_publish_duration_seconds 0.0015\n"), std::string::npos);
  EXPECT_NE(text.find("tether_uptime_seconds 12.5\n"), std::string::npos);
  EXPECT_EQ(text.find("service=\"gone\""), std::string::npos)
      << "health of a backend not in the config is not shown";
  EXPECT_NE(text.find("tether_sticky_rebinds_total{lcore=\"3\",cause=\"target_gone\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("tether_worker_busy_seconds_total{lcore=\"3\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("tether_sessions_active 5\n"), std::string::npos);
}

// Every family has exactly one HELP and one TYPE line, before its samples, and its samples are
// contiguous; counters end in _total; every sample line has a name and a value.
TEST(PrometheusMetricsTest, FamiliesAreWellFormed) {
  const Fixture f;
  std::map<std::string, int> help, type;
  std::set<std::string> finished;
  std::string current;
  for (const std::string& line : lines(f.render())) {
    ASSERT_FALSE(line.empty());
    if (line.starts_with("# HELP ")) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      help[name]++;
      if (!current.empty()) finished.insert(current);
      current = name;
      EXPECT_FALSE(finished.contains(name)) << "family " << name << " is split";
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      const std::string rest = line.substr(7);
      const std::string name = rest.substr(0, rest.find(' '));
      const std::string kind = rest.substr(rest.find(' ') + 1);
      type[name]++;
      EXPECT_EQ(name, current);
      EXPECT_TRUE(kind == "counter" || kind == "gauge") << line;
      EXPECT_EQ(kind == "counter", name.ends_with("_total")) << line;
      continue;
    }
    const std::string name = line.substr(0, line.find_first_of("{ "));
    EXPECT_EQ(name, current) << "sample outside its family: " << line;
    EXPECT_NE(line.find(' '), std::string::npos) << line;
  }
  for (const auto& [name, n] : help) {
    EXPECT_EQ(n, 1) << name;
    EXPECT_EQ(type[name], 1) << name;
  }
  // 17 per lcore (3 of them IPv4 fragments), 9 per backend (2 of them full-NAT replies), 4 for the
  // control plane, 19 + 3 for HTTP proxying per lcore, 1 for the worker's processing time, and 12 for
  // the session table.
  EXPECT_EQ(help.size(), 33u + kProxyCounterFields.size() + 3 + 1 + 12);
}

// No workers, no services: still valid exposition (HELP/TYPE only, control samples present).
TEST(PrometheusMetricsTest, EmptyInputsRender) {
  const std::string text = renderMetrics({}, Config{}, CounterSlots(16), ControlStats{}, {});
  EXPECT_NE(text.find("# TYPE tether_rx_packets_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("tether_table_publishes_total 0\n"), std::string::npos);
  // Without a session table there are no session families.
  EXPECT_EQ(text.find("tether_sessions_"), std::string::npos);
}

// The reference parser (prometheus_client) reads the output and finds exactly the expected samples.
TEST(PrometheusMetricsTest, PrometheusClientParsesExpectedValues) {
  const Fixture f;
  char dir_template[] = "/tmp/tether-metrics-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::filesystem::path dir(dir_template);
  std::ofstream(dir / "metrics.prom") << f.render();
  std::ofstream(dir / "expected.json") << f.expectedSamples().dump(1);
  const std::string command = std::string(TETHER_PYTHON) + " " + TETHER_PROMETHEUS_CHECK + " " +
                              (dir / "metrics.prom").string() + " " + (dir / "expected.json").string();
  const int rc = std::system(command.c_str());
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WIFEXITED(rc)) << command;
  EXPECT_EQ(WEXITSTATUS(rc), 0) << command << " failed (its output is above)";
}

}  // namespace
}  // namespace lb::controlplane
