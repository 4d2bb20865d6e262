#include "tools/tetherctl/top.h"

#include <unistd.h>

#include <iostream>
#include <map>
#include <thread>
#include <tuple>

#include "tools/tetherctl/table.h"

namespace tetherctl {

namespace {

using nlohmann::json;

uint64_t counter(const json& object, const char* key) {
  if (!object.is_object()) return 0;
  auto it = object.find(key);
  return it != object.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

double rate(uint64_t before, uint64_t after, double seconds) {
  return after >= before && seconds > 0 ? static_cast<double>(after - before) / seconds : 0;
}

uint64_t dropTotal(const json& lcore) {
  uint64_t total = 0;
  if (auto it = lcore.find("drops"); it != lcore.end() && it->is_object()) {
    for (const auto& [reason, count] : it->items()) {
      if (count.is_number_unsigned()) total += count.get<uint64_t>();
    }
  }
  return total;
}

using BackendKey = std::tuple<std::string, std::string, uint64_t>;  // service, address, port

std::map<BackendKey, json> backendsOf(const json& stats) {
  std::map<BackendKey, json> out;
  if (!stats.contains("services") || !stats["services"].is_array()) return out;
  for (const json& service : stats["services"]) {
    const std::string name = service.value("name", "");
    if (!service.contains("backends") || !service["backends"].is_array()) continue;
    for (const json& backend : service["backends"]) {
      out[{name, backend.value("address", ""), counter(backend, "port")}] = backend;
    }
  }
  return out;
}

}  // namespace

TopView computeTop(const TopSample& before, const TopSample& after) {
  TopView view;
  const double wall_s = std::chrono::duration<double>(after.taken - before.taken).count();
  const double uptime_before = before.stats.value("uptime_s", 0.0);
  const double uptime_after = after.stats.value("uptime_s", 0.0);
  view.interval_s = uptime_after > uptime_before ? uptime_after - uptime_before : wall_s;
  view.uptime_s = uptime_after;
  view.flows_active = counter(after.stats, "flows_active");

  std::map<BackendKey, std::string> health;
  if (after.health.contains("backends") && after.health["backends"].is_array()) {
    for (const json& h : after.health["backends"]) {
      health[{h.value("service", ""), h.value("address", ""), counter(h, "port")}] = h.value("state", "unknown");
    }
  }
  const std::map<BackendKey, json> previous = backendsOf(before.stats);
  // Walk the current document in its own order (config order), not the map's.
  if (after.stats.contains("services") && after.stats["services"].is_array()) {
    for (const json& service : after.stats["services"]) {
      if (!service.contains("backends") || !service["backends"].is_array()) continue;
      for (const json& backend : service["backends"]) {
        BackendRates rates;
        rates.service = service.value("name", "");
        rates.address = backend.value("address", "");
        rates.port = counter(backend, "port");
        rates.weight = counter(backend, "weight");
        const BackendKey key{rates.service, rates.address, rates.port};
        if (auto it = health.find(key); it != health.end()) rates.health = it->second;
        const json old = previous.contains(key) ? previous.at(key) : json::object();
        rates.new_flows_per_s =
            rate(counter(old, "new_flows"), counter(backend, "new_flows"), view.interval_s);
        rates.packets_per_s = rate(counter(old, "packets"), counter(backend, "packets"), view.interval_s);
        rates.bytes_per_s = rate(counter(old, "bytes"), counter(backend, "bytes"), view.interval_s);
        view.backends.push_back(std::move(rates));
      }
    }
  }

  std::map<uint64_t, json> previous_lcores;
  if (before.stats.contains("lcores") && before.stats["lcores"].is_array()) {
    for (const json& lcore : before.stats["lcores"]) previous_lcores[counter(lcore, "lcore")] = lcore;
  }
  if (after.stats.contains("lcores") && after.stats["lcores"].is_array()) {
    for (const json& lcore : after.stats["lcores"]) {
      LcoreRates rates;
      rates.lcore = counter(lcore, "lcore");
      const json old = previous_lcores.contains(rates.lcore) ? previous_lcores[rates.lcore] : json::object();
      rates.rx_packets_per_s = rate(counter(old, "rx_packets"), counter(lcore, "rx_packets"), view.interval_s);
      rates.tx_packets_per_s = rate(counter(old, "tx_packets"), counter(lcore, "tx_packets"), view.interval_s);
      rates.drops_per_s = rate(dropTotal(old), dropTotal(lcore), view.interval_s);
      rates.flows_active = counter(lcore, "flows_active");
      view.lcores.push_back(rates);
    }
  }
  return view;
}

json topJson(const TopView& view) {
  json backends = json::array();
  for (const BackendRates& b : view.backends) {
    backends.push_back({{"service", b.service},
                        {"address", b.address},
                        {"port", b.port},
                        {"health", b.health},
                        {"weight", b.weight},
                        {"new_flows_per_s", b.new_flows_per_s},
                        {"packets_per_s", b.packets_per_s},
                        {"bytes_per_s", b.bytes_per_s}});
  }
  json lcores = json::array();
  for (const LcoreRates& l : view.lcores) {
    lcores.push_back({{"lcore", l.lcore},
                      {"rx_packets_per_s", l.rx_packets_per_s},
                      {"tx_packets_per_s", l.tx_packets_per_s},
                      {"drops_per_s", l.drops_per_s},
                      {"flows_active", l.flows_active}});
  }
  return {{"interval_s", view.interval_s},
          {"uptime_s", view.uptime_s},
          {"flows_active", view.flows_active},
          {"backends", backends},
          {"lcores", lcores}};
}

void renderTop(const TopView& view, const std::string& server, std::ostream& out) {
  double rx = 0, tx = 0, drops = 0;
  for (const LcoreRates& l : view.lcores) {
    rx += l.rx_packets_per_s;
    tx += l.tx_packets_per_s;
    drops += l.drops_per_s;
  }
  char header[256];
  std::snprintf(header, sizeof(header),
                "tether top  %s  interval %.1f s  uptime %.0f s  flows active %s\n"
                "rx %s pkt/s  tx %s pkt/s  drops %s/s\n\n",
                server.c_str(), view.interval_s, view.uptime_s,
                humanNumber(static_cast<double>(view.flows_active)).c_str(), humanNumber(rx).c_str(),
                humanNumber(tx).c_str(), humanNumber(drops).c_str());
  out << header;

  Table backends({{"SERVICE"}, {"BACKEND"}, {"HEALTH"}, {"WEIGHT", Align::kRight}, {"NEW/S", Align::kRight},
                  {"PKT/S", Align::kRight}, {"BYTES/S", Align::kRight}});
  for (const BackendRates& b : view.backends) {
    backends.add({b.service, b.address + ":" + std::to_string(b.port), b.health, std::to_string(b.weight),
                  humanNumber(b.new_flows_per_s), humanNumber(b.packets_per_s), humanNumber(b.bytes_per_s)});
  }
  backends.print(out);
  out << '\n';
  Table lcores({{"LCORE", Align::kRight}, {"RX PKT/S", Align::kRight}, {"TX PKT/S", Align::kRight},
                {"DROPS/S", Align::kRight}, {"FLOWS", Align::kRight}});
  for (const LcoreRates& l : view.lcores) {
    lcores.add({std::to_string(l.lcore), humanNumber(l.rx_packets_per_s), humanNumber(l.tx_packets_per_s),
                humanNumber(l.drops_per_s), humanNumber(static_cast<double>(l.flows_active))});
  }
  lcores.print(out);
}

void runTop(const ApiClient& client, int interval_ms, int iterations, bool json) {
  const auto sample = [&] {
    TopSample s;
    s.stats = client.get("/api/v1/stats");
    s.health = client.get("/api/v1/health");
    s.taken = std::chrono::steady_clock::now();
    return s;
  };
  const bool terminal = isatty(STDOUT_FILENO) == 1;
  TopSample previous = sample();
  for (int shown = 0; iterations == 0 || shown < iterations; ++shown) {
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    TopSample current = sample();
    const TopView view = computeTop(previous, current);
    if (json) {
      std::cout << topJson(view).dump() << std::endl;
    } else {
      if (terminal) {
        std::cout << "\x1b[H\x1b[2J";  // home + clear screen
      } else if (shown > 0) {
        std::cout << '\n';
      }
      renderTop(view, client.server(), std::cout);
      std::cout.flush();
    }
    previous = std::move(current);
  }
}

}  // namespace tetherctl
