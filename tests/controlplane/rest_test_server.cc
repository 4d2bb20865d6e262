// RestApi over FakeControlOps on a TCP port, for tests that drive tetherctl (tetherctl_test.py) or curl
// against the real server code without DPDK.
//
//   rest_test_server [--port 0] [--token T] [--config FILE] [--with-sessions]
//
// --with-sessions adds "shop" (10.99.0.100:8000/tcp fullnat, http with session cookie SESSIONID,
// backends 10.99.0.11:8081 and 10.99.0.12:8081) holding three sessions: cookies alice (on .11, 90 s
// old, idle 30 s), bob (on .12, 7300 s old, idle 0 s) and carol (on a backend no longer in the
// service).
//
// Prints "listening on PORT" once the socket is bound, then serves until SIGTERM/SIGINT. The config is
// FILE (also what POST /api/v1/reload re-reads) or a built-in two-service config. Stats advance by a fixed
// step per GET /api/v1/stats and report uptime_s one second apart, so `tetherctl top` shows exact,
// predictable rates: backend i of a service gets 10*(i+1) new flows/s, 100*(i+1) packets/s and
// 10000*(i+1) bytes/s; lcore j receives 1000*(j+1) and sends 900*(j+1) packets/s and drops 5*(j+1)/s.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>

#include "controlplane/address.h"
#include "controlplane/config.h"
#include "controlplane/rest_api.h"
#include "tests/controlplane/fake_control_ops.h"

namespace {

using lb::controlplane::BackendHealth;
using lb::controlplane::Config;
using lb::controlplane::HealthState;
using nlohmann::json;

constexpr std::string_view kBuiltinConfig = R"(
ports:
  - name: lan
    address: 10.99.0.2/24
    address6: fd00:99::2/64
services:
  - name: web
    vip: 10.99.0.100
    port: 80
    backends:
      - address: 10.99.0.11
        port: 8080
      - address: 10.99.0.12
        port: 8080
        weight: 3
  - name: dns
    vip: 10.99.0.100
    port: 53
    protocol: udp
    forwarding: dsr
    backends:
      - address: 10.99.0.13
        port: 53
)";

absl::StatusOr<Config> loadConfig(const std::string& path) {
  return path.empty() ? lb::controlplane::parseConfig(kBuiltinConfig)
                      : lb::controlplane::loadConfigFile(path);
}

// Counters that grow by a fixed step per sample; see the file comment for the rates.
json statsSample(const Config& config, uint64_t sample) {
  json lcores = json::array();
  uint64_t rx_total = 0, tx_total = 0;
  for (uint64_t j = 0; j < 2; ++j) {
    const uint64_t rx = sample * 1000 * (j + 1), tx = sample * 900 * (j + 1);
    rx_total += rx;
    tx_total += tx;
    lcores.push_back({{"lcore", j + 1},
                      {"rx_packets", rx},
                      {"rx_bytes", rx * 100},
                      {"tx_packets", tx},
                      {"tx_bytes", tx * 100},
                      {"flows_active", 10 * (j + 1)},
                      {"drops", {{"no_backend", sample * 3 * (j + 1)}, {"malformed", sample * 2 * (j + 1)}}}});
  }
  json services = json::array();
  for (const auto& service : config.services) {
    json backends = json::array();
    for (uint64_t i = 0; i < service.backends.size(); ++i) {
      const auto& backend = service.backends[i];
      backends.push_back({{"address", lb::controlplane::formatIpv4(backend.address)},
                          {"port", backend.port},
                          {"weight", backend.weight},
                          {"new_flows", sample * 10 * (i + 1)},
                          {"packets", sample * 100 * (i + 1)},
                          {"bytes", sample * 10000 * (i + 1)}});
    }
    services.push_back({{"name", service.name}, {"backends", backends}});
  }
  return {{"generation", 1},
          {"uptime_s", static_cast<double>(sample)},
          {"lcores", lcores},
          {"totals", {{"rx_packets", rx_total}, {"tx_packets", tx_total}}},
          {"flows_active", 30},
          {"services", services}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"RestApi over an in-memory FakeControlOps, for tests"};
  uint16_t port = 0;
  std::string token;
  std::string config_path;
  app.add_option("--port", port, "TCP port on 127.0.0.1 (0 = any free port)");
  app.add_option("--token", token, "require this bearer token");
  app.add_option("--config", config_path, "YAML config (default: built in); reload re-reads it");
  bool with_sessions = false;
  app.add_flag("--with-sessions", with_sessions, "add the http service shop with three sessions");
  CLI11_PARSE(app, argc, argv);

  auto initial = loadConfig(config_path);
  if (!initial.ok()) {
    std::cerr << "rest_test_server: " << initial.status().message() << "\n";
    return 2;
  }
  if (with_sessions) {
    lb::controlplane::ServiceConfig shop{.name = "shop", .vip = 0x0a630064, .port = 8000};
    shop.backends.push_back({.address = 0x0a63000b, .port = 8081});
    shop.backends.push_back({.address = 0x0a63000c, .port = 8081});
    shop.http = lb::controlplane::HttpConfig{};
    shop.http->session_cookie = "SESSIONID";
    initial->services.push_back(shop);
  }
  lb::controlplane::testing::FakeControlOps ops(*initial);
  if (with_sessions) {
    using lb::controlplane::SessionView;
    ops.addSession("shop", "alice", SessionView{.backend_address = 0x0a63000b, .backend_port = 8081,
                                                .backend_id = 1, .created_age_s = 90, .idle_s = 30});
    ops.addSession("shop", "bob", SessionView{.backend_address = 0x0a63000c, .backend_port = 8081,
                                              .backend_id = 2, .created_age_s = 7300, .idle_s = 0});
    ops.addSession("shop", "carol", SessionView{.backend_id = 3, .created_age_s = 5, .idle_s = 5});
  }
  ops.setReloadSource([config_path] { return loadConfig(config_path); });
  std::atomic<uint64_t> samples{0};
  ops.setStatsSource([&ops, &samples] { return statsSample(ops.currentConfig(), ++samples); });
  std::vector<BackendHealth> health;
  for (const auto& service : initial->services) {
    for (size_t i = 0; i < service.backends.size(); ++i) {
      BackendHealth h{.service = service.name,
                      .address = service.backends[i].address,
                      .port = service.backends[i].port};
      h.state = i == 0 ? HealthState::kUp : i == 1 ? HealthState::kDown : HealthState::kUnknown;
      h.transitions = i + 1;
      if (h.state == HealthState::kDown) h.last_error = "connect: connection refused";
      health.push_back(h);
    }
  }
  ops.setHealth(health);
  ops.setMetrics("# TYPE tether_rx_packets_total counter\ntether_rx_packets_total 42\n");

  // Block the stop signals before any thread starts so only sigwait() below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  lb::controlplane::RestApi api(ops, {.port = port, .bearer_token = token});
  if (auto status = api.start(); !status.ok()) {
    std::cerr << "rest_test_server: " << status.message() << "\n";
    return 2;
  }
  std::printf("listening on %u\n", static_cast<unsigned>(api.port()));
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  api.stop();
  return 0;
}
