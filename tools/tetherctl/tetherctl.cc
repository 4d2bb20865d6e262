// tetherctl: command-line client for tetherd's REST API (controlplane/openapi.yaml).
//
//   tetherctl [--server http://127.0.0.1:9180] [--token T] [--json] <command> ...
//
// Commands: services list|show|add|delete|set, backends list|show|add|remove|weight|drain|enable|disable,
// timeouts show|set, icmp-errors show|set, config, health, stats, metrics, reload, top,
// sessions list|lookup|delete. Output is aligned tables by default; --json prints the server's JSON
// (for `top`, one JSON object per refresh). --server and --token may also come from TETHER_SERVER
// and TETHER_TOKEN.
//
// Exit status: 0 success; 1 the server refused (its message is printed) or the command line is wrong;
// 2 the server could not be reached.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/tetherctl/api_client.h"
#include "tools/tetherctl/table.h"
#include "tools/tetherctl/top.h"

namespace tetherctl {
namespace {

using nlohmann::json;

constexpr std::string_view kApi = "/api/v1";

struct Globals {
  std::string server = "http://127.0.0.1:9180";
  std::string token;
  bool json = false;
};

std::string servicePath(const std::string& service) {
  return std::string(kApi) + "/services/" + pathSegment(service);
}

std::string backendPath(const std::string& service, const std::string& backend) {
  return servicePath(service) + "/backends/" + pathSegment(backend);
}

std::string str(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

std::string backendName(const json& backend) {
  return str(backend.value("address", json())) + ":" + str(backend.value("port", json()));
}

// "ADDR:PORT" -> {"address", "port"}; a bare "ADDR" leaves the port to the server (DSR services).
json backendBody(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) return {{"address", text}};
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    throw CommandError(kExitError, "backend \"" + text + "\" is not ADDRESS:PORT (e.g. 10.99.0.11:8080)");
  }
  return {{"address", text.substr(0, colon)}, {"port", std::stoul(port)}};
}

void printJson(const json& value) { std::cout << value.dump(2) << '\n'; }

std::string healthCheckText(const json& check) {
  const std::string type = str(check.value("type", json("none")));
  if (type == "none") return "none";
  std::string text = type;
  if (type == "http") {
    text += " GET " + str(check.value("http_path", json("/"))) + " expect " +
            str(check.value("http_expect_status", json(200)));
  }
  text += ", every " + str(check.value("interval_ms", json())) + " ms, timeout " +
          str(check.value("timeout_ms", json())) + " ms, rise " + str(check.value("rise", json())) +
          ", fall " + str(check.value("fall", json()));
  if (check.value("port", 0) != 0) text += ", port " + str(check["port"]);
  return text;
}

// "10.99.0.100:80/tcp", or "[fd00:99::100]:80/tcp" for an IPv6 VIP (RFC 3986's brackets keep the
// port apart from the address's colons).
std::string listener(const json& service) {
  const std::string vip = str(service["vip"]);
  const std::string address = vip.find(':') == std::string::npos ? vip : "[" + vip + "]";
  return address + ":" + str(service["port"]) + "/" + str(service["protocol"]);
}

void printService(const json& service) {
  Table fields({{"field"}, {"value"}});
  fields.add({"name", str(service["name"])});
  fields.add({"listener", listener(service)});
  fields.add({"forwarding", str(service["forwarding"])});
  fields.add({"key", str(service["key"])});
  fields.add({"algorithm", str(service["algorithm"])});
  fields.add({"maglev_size", str(service["maglev_size"])});
  fields.add({"ring_vnodes", str(service["ring_vnodes"])});
  fields.add({"seed", str(service["seed"])});
  fields.add({"health_check", healthCheckText(service.value("health_check", json::object()))});
  fields.print(std::cout, /*header=*/false);
  std::cout << '\n';
  Table backends({{"BACKEND"}, {"WEIGHT", Align::kRight}, {"STATE"}});
  for (const json& backend : service.value("backends", json::array())) {
    backends.add({backendName(backend), str(backend["weight"]), str(backend["state"])});
  }
  backends.print(std::cout);
}

// --- services ------------------------------------------------------------------------------------

struct ServiceOptions {
  std::string name;
  std::string vip;
  int64_t port = 0;
  std::string protocol, forwarding, key, algorithm;
  int64_t maglev_size = 0, ring_vnodes = 0;
  uint64_t seed = 0;
  std::vector<std::string> backends;
  std::string health_check, hc_path;
  int64_t hc_interval_ms = 0, hc_timeout_ms = 0, hc_rise = 0, hc_fall = 0, hc_port = 0, hc_expect_status = 0;
};

// Adds the balancing/forwarding/health-check options shared by `services add` and `services set`.
void addSettingOptions(CLI::App* command, ServiceOptions& o) {
  command->add_option("--forwarding", o.forwarding, "fullnat | dsr | ipip");
  command->add_option("--key", o.key, "five_tuple | source_address");
  command->add_option("--algorithm", o.algorithm, "maglev | ring | modulo");
  command->add_option("--maglev-size", o.maglev_size, "Maglev table size (prime)");
  command->add_option("--ring-vnodes", o.ring_vnodes, "ring points per backend");
  command->add_option("--seed", o.seed, "hash seed");
  command->add_option("--health-check", o.health_check, "none | tcp | http");
  command->add_option("--hc-interval-ms", o.hc_interval_ms, "health-check interval");
  command->add_option("--hc-timeout-ms", o.hc_timeout_ms, "health-check timeout");
  command->add_option("--hc-rise", o.hc_rise, "successes to mark a backend up");
  command->add_option("--hc-fall", o.hc_fall, "failures to mark a backend down");
  command->add_option("--hc-port", o.hc_port, "port to check (0 = the backend's)");
  command->add_option("--hc-path", o.hc_path, "HTTP check path");
  command->add_option("--hc-expect-status", o.hc_expect_status, "HTTP status that means healthy");
}

// The JSON fields for every setting option given on the command line.
json settingFields(const CLI::App* command, const ServiceOptions& o) {
  json body = json::object();
  const auto given = [&](const char* option) { return command->count(option) > 0; };
  if (given("--forwarding")) body["forwarding"] = o.forwarding;
  if (given("--key")) body["key"] = o.key;
  if (given("--algorithm")) body["algorithm"] = o.algorithm;
  if (given("--maglev-size")) body["maglev_size"] = o.maglev_size;
  if (given("--ring-vnodes")) body["ring_vnodes"] = o.ring_vnodes;
  if (given("--seed")) body["seed"] = o.seed;
  json check = json::object();
  if (given("--health-check")) check["type"] = o.health_check;
  if (given("--hc-interval-ms")) check["interval_ms"] = o.hc_interval_ms;
  if (given("--hc-timeout-ms")) check["timeout_ms"] = o.hc_timeout_ms;
  if (given("--hc-rise")) check["rise"] = o.hc_rise;
  if (given("--hc-fall")) check["fall"] = o.hc_fall;
  if (given("--hc-port")) check["port"] = o.hc_port;
  if (given("--hc-path")) check["http_path"] = o.hc_path;
  if (given("--hc-expect-status")) check["http_expect_status"] = o.hc_expect_status;
  if (!check.empty()) body["health_check"] = check;
  return body;
}

using Action = std::function<void(const ApiClient&)>;

// Storage for every command's arguments; CLI11 writes into it while parsing, the chosen Action reads it.
struct Args {
  std::string service_name;  // services show | delete
  ServiceOptions service_add, service_set;
  std::string service, backend, state;  // backends ...
  int64_t weight = 0;
  std::map<std::string, int64_t> section_values;  // timeouts | icmp-errors set: "<command><option>"
  int interval_ms = 1000, iterations = 0;
  // sessions ...
  std::string session_cookie;  // the cookie's value, or a session key with --key
  bool session_by_key = false;
  std::string session_cursor;
  int session_limit = 100;
};

void addServiceCommands(CLI::App& app, const Globals& g, Args& a, Action& action) {
  CLI::App* services = app.add_subcommand("services", "list, show, add, delete and change services");
  services->require_subcommand(1);

  CLI::App* list = services->add_subcommand("list", "list every service");
  list->callback([&] {
    action = [&](const ApiClient& client) {
      const json reply = client.get(std::string(kApi) + "/services");
      if (g.json) return printJson(reply);
      Table table({{"NAME"}, {"LISTENER"}, {"FORWARDING"}, {"ALGORITHM"}, {"KEY"}, {"BACKENDS", Align::kRight},
                   {"HEALTH CHECK"}});
      for (const json& s : reply["services"]) {
        table.add({str(s["name"]), listener(s),
                   str(s["forwarding"]), str(s["algorithm"]), str(s["key"]),
                   std::to_string(s["backends"].size()), str(s["health_check"]["type"])});
      }
      table.print(std::cout);
    };
  });

  CLI::App* show = services->add_subcommand("show", "one service and its backends");
  show->add_option("NAME", a.service_name, "service name")->required();
  show->callback([&] {
    action = [&](const ApiClient& client) {
      const json reply = client.get(servicePath(a.service_name));
      g.json ? printJson(reply) : printService(reply);
    };
  });

  ServiceOptions& add_options = a.service_add;
  CLI::App* add = services->add_subcommand("add", "create a service");
  add->add_option("NAME", add_options.name, "service name ([a-z0-9_-]+)")->required();
  add->add_option("--vip", add_options.vip, "virtual IP address: IPv4, or IPv6 for a fullnat service")->required();
  add->add_option("--port", add_options.port, "service port")->required();
  add->add_option("--protocol", add_options.protocol, "tcp | udp");
  add->add_option("--backend", add_options.backends, "ADDRESS:PORT (repeatable; weight 1)");
  addSettingOptions(add, add_options);
  add->callback([&, add] {
    action = [&, add](const ApiClient& client) {
      json body = settingFields(add, add_options);
      body["name"] = add_options.name;
      body["vip"] = add_options.vip;
      body["port"] = add_options.port;
      if (add->count("--protocol") > 0) body["protocol"] = add_options.protocol;
      body["backends"] = json::array();
      for (const std::string& backend : add_options.backends) body["backends"].push_back(backendBody(backend));
      const json reply = client.post(std::string(kApi) + "/services", body);
      g.json ? printJson(reply) : printService(reply);
    };
  });

  CLI::App* remove = services->add_subcommand("delete", "remove a service");
  remove->add_option("NAME", a.service_name, "service name")->required();
  remove->callback([&] {
    action = [&](const ApiClient& client) {
      const json reply = client.del(servicePath(a.service_name));
      if (g.json) return printJson(reply);
      std::cout << "deleted service " << a.service_name << '\n';
    };
  });

  ServiceOptions& set_options = a.service_set;
  CLI::App* set = services->add_subcommand("set", "change a service's balancing, forwarding or health check");
  set->add_option("NAME", set_options.name, "service name")->required();
  addSettingOptions(set, set_options);
  set->callback([&, set] {
    action = [&, set](const ApiClient& client) {
      const json reply = client.patch(servicePath(set_options.name), settingFields(set, set_options));
      g.json ? printJson(reply) : printService(reply);
    };
  });
}

// --- backends ------------------------------------------------------------------------------------

void addBackendCommands(CLI::App& app, const Globals& g, Args& a, Action& action) {
  CLI::App* backends = app.add_subcommand("backends", "list, add, remove, weight, drain, enable, disable");
  backends->require_subcommand(1);
  std::string& service = a.service;
  std::string& backend = a.backend;
  std::string& state = a.state;
  int64_t& weight = a.weight;

  CLI::App* list = backends->add_subcommand("list", "a service's backends with their health");
  list->add_option("SERVICE", service, "service name")->required();
  list->callback([&] {
    action = [&](const ApiClient& client) {
      const json reply = client.get(servicePath(service) + "/backends");
      if (g.json) return printJson(reply);
      const json health = client.get(std::string(kApi) + "/health");
      Table table({{"BACKEND"}, {"WEIGHT", Align::kRight}, {"STATE"}, {"HEALTH"}, {"LAST ERROR"}});
      for (const json& b : reply["backends"]) {
        std::string state_text = "unknown", last_error;
        for (const json& h : health.value("backends", json::array())) {
          if (h.value("service", "") == service && h.value("address", "") == b.value("address", "") &&
              h.value("port", 0) == b.value("port", 0)) {
            state_text = str(h["state"]);
            last_error = str(h.value("last_error", json("")));
          }
        }
        table.add({backendName(b), str(b["weight"]), str(b["state"]), state_text, last_error});
      }
      table.print(std::cout);
    };
  });

  CLI::App* show = backends->add_subcommand("show", "one backend");
  show->add_option("SERVICE", service, "service name")->required();
  show->add_option("BACKEND", backend, "ADDRESS:PORT")->required();
  show->callback([&] {
    action = [&](const ApiClient& client) {
      const json reply = client.get(backendPath(service, backend));
      if (g.json) return printJson(reply);
      std::cout << backendName(reply) << "  weight " << str(reply["weight"]) << "  " << str(reply["state"]) << '\n';
    };
  });

  CLI::App* add = backends->add_subcommand("add", "add a backend to a service");
  add->add_option("SERVICE", service, "service name")->required();
  add->add_option("BACKEND", backend, "ADDRESS:PORT (the port may be omitted for dsr/ipip)")->required();
  add->add_option("--weight", weight, "relative weight, 0..1000000 (default 1)");
  add->add_option("--state", state, "enabled | draining | disabled (default enabled)");
  add->callback([&, add] {
    action = [&, add](const ApiClient& client) {
      json body = backendBody(backend);
      if (add->count("--weight") > 0) body["weight"] = weight;
      if (add->count("--state") > 0) body["state"] = state;
      const json reply = client.post(servicePath(service) + "/backends", body);
      if (g.json) return printJson(reply);
      std::cout << "added backend " << backendName(reply) << " to " << service << " (weight "
                << str(reply["weight"]) << ", " << str(reply["state"]) << ")\n";
    };
  });

  CLI::App* remove = backends->add_subcommand("remove", "remove a backend (its established flows finish)");
  remove->add_option("SERVICE", service, "service name")->required();
  remove->add_option("BACKEND", backend, "ADDRESS:PORT")->required();
  remove->callback([&] {
    action = [&](const ApiClient& client) {
      const json reply = client.del(backendPath(service, backend));
      if (g.json) return printJson(reply);
      std::cout << "removed backend " << backendName(reply) << " from " << service << '\n';
    };
  });

  CLI::App* set_weight = backends->add_subcommand("weight", "set a backend's weight");
  set_weight->add_option("SERVICE", service, "service name")->required();
  set_weight->add_option("BACKEND", backend, "ADDRESS:PORT")->required();
  set_weight->add_option("WEIGHT", weight, "0..1000000; 0 takes no new flows")->required();
  set_weight->callback([&] {
    action = [&](const ApiClient& client) {
      const json reply = client.patch(backendPath(service, backend), {{"weight", weight}});
      if (g.json) return printJson(reply);
      std::cout << service << " " << backendName(reply) << ": weight " << str(reply["weight"]) << '\n';
    };
  });

  // drain | enable | disable: one PATCH of the admin state each.
  for (const auto& [command, target, help] :
       {std::tuple{"drain", "draining", "stop new flows; established ones finish"},
        std::tuple{"enable", "enabled", "take new flows again"},
        std::tuple{"disable", "disabled", "take no new flows"}}) {
    CLI::App* sub = backends->add_subcommand(command, help);
    sub->add_option("SERVICE", service, "service name")->required();
    sub->add_option("BACKEND", backend, "ADDRESS:PORT")->required();
    const std::string wanted = target;
    sub->callback([&, wanted] {
      action = [&, wanted](const ApiClient& client) {
        const json reply = client.patch(backendPath(service, backend), {{"state", wanted}});
        if (g.json) return printJson(reply);
        std::cout << service << " " << backendName(reply) << ": " << str(reply["state"]) << '\n';
      };
    });
  }
}

// --- timeouts, config, health, stats, metrics, reload, top ---------------------------------------

// A config section that `tetherctl SECTION show` GETs and `tetherctl SECTION set --OPTION N ...`
// PATCHes (/config/<path>), with only the fields given on the command line.
struct SectionField {
  const char* option;  // on the command line
  const char* key;     // in the JSON body and reply
  const char* help;
};
struct ConfigSection {
  const char* command;
  const char* help;
  const char* path;
  const char* show_help;
  const char* set_help;
  const char* name_header;
  const char* value_header;
  std::vector<SectionField> fields;  // in the order `show` prints them
};

const ConfigSection kConfigSections[] = {
    {"timeouts", "show or set flow idle timeouts", "/config/timeouts", "flow idle timeouts in seconds",
     "change one or more timeouts (seconds, 1..86400)", "TIMEOUT", "SECONDS",
     {{"--tcp-syn", "tcp_syn_s", "half-open TCP flows"},
      {"--tcp-established", "tcp_established_s", "established TCP flows"},
      {"--tcp-closing", "tcp_closing_s", "TCP flows after FIN or RST"},
      {"--udp", "udp_s", "idle UDP flows"}}},
    {"icmp-errors", "show or set the budget of ICMP errors each worker originates", "/config/icmp_errors",
     "errors per second and burst, per worker", "change the rate, the burst or both", "ICMP ERRORS", "VALUE",
     {{"--per-second", "per_second", "errors per second per worker (0..1000000; 0 = none)"},
      {"--burst", "burst", "errors sent back to back after a quiet spell (1..100000)"}}},
};

void printSection(const ConfigSection& section, const json& reply) {
  Table table({{section.name_header}, {section.value_header, Align::kRight}});
  for (const SectionField& field : section.fields) table.add({field.key, str(reply.value(field.key, json()))});
  table.print(std::cout);
}

// `values` holds every option's parsed value (std::map: its elements stay where they are while CLI11
// writes into them).
void addSectionCommands(CLI::App& app, const Globals& g, const ConfigSection& section,
                        std::map<std::string, int64_t>& values, Action& action) {
  CLI::App* command = app.add_subcommand(section.command, section.help);
  command->require_subcommand(1);
  const std::string path = std::string(kApi) + section.path;
  command->add_subcommand("show", section.show_help)->callback([&, path] {
    action = [&, path](const ApiClient& client) {
      const json reply = client.get(path);
      g.json ? printJson(reply) : printSection(section, reply);
    };
  });
  CLI::App* set = command->add_subcommand("set", section.set_help);
  for (const SectionField& field : section.fields) {
    set->add_option(field.option, values[std::string(section.command) + field.option], field.help);
  }
  set->callback([&, set, path] {
    action = [&, set, path](const ApiClient& client) {
      json body = json::object();
      for (const SectionField& field : section.fields) {
        if (set->count(field.option) > 0) body[field.key] = values[std::string(section.command) + field.option];
      }
      const json reply = client.patch(path, body);
      g.json ? printJson(reply) : printSection(section, reply);
    };
  });
}

void printStats(const json& stats) {
  std::cout << "uptime " << str(stats.value("uptime_s", json(0))) << " s  generation "
            << str(stats.value("generation", json(0))) << "  flows active "
            << str(stats.value("flows_active", json(0))) << "\n";
  const json totals = stats.value("totals", json::object());
  std::string drops;
  // By reason, summed over lcores when the document has no totals.drops.
  std::map<std::string, uint64_t> by_reason;
  const auto addDrops = [&](const json& drops_object) {
    for (const auto& [reason, count] : drops_object.items()) {
      if (count.is_number_unsigned()) by_reason[reason] += count.get<uint64_t>();
    }
  };
  if (totals.contains("drops") && totals["drops"].is_object()) {
    addDrops(totals["drops"]);
  } else {
    for (const json& l : stats.value("lcores", json::array())) {
      if (l.contains("drops") && l["drops"].is_object()) addDrops(l["drops"]);
    }
  }
  for (const auto& [reason, count] : by_reason) {
    if (count != 0) drops += (drops.empty() ? "" : ", ") + reason + " " + std::to_string(count);
  }
  std::cout << "drops: " << (drops.empty() ? "none" : drops) << "\n\n";
  Table lcores({{"LCORE", Align::kRight}, {"RX PACKETS", Align::kRight}, {"RX BYTES", Align::kRight},
                {"TX PACKETS", Align::kRight}, {"TX BYTES", Align::kRight}, {"FLOWS", Align::kRight},
                {"DROPS", Align::kRight}});
  for (const json& l : stats.value("lcores", json::array())) {
    uint64_t dropped = 0;
    const json lcore_drops = l.value("drops", json::object());
    for (const auto& [reason, count] : lcore_drops.items()) {
      if (count.is_number_unsigned()) dropped += count.get<uint64_t>();
    }
    lcores.add({str(l.value("lcore", json())), str(l.value("rx_packets", json(0))),
                str(l.value("rx_bytes", json(0))), str(l.value("tx_packets", json(0))),
                str(l.value("tx_bytes", json(0))), str(l.value("flows_active", json(0))), std::to_string(dropped)});
  }
  lcores.print(std::cout);
  std::cout << '\n';
  Table backends({{"SERVICE"}, {"BACKEND"}, {"WEIGHT", Align::kRight}, {"NEW FLOWS", Align::kRight},
                  {"PACKETS", Align::kRight}, {"BYTES", Align::kRight}});
  for (const json& s : stats.value("services", json::array())) {
    for (const json& b : s.value("backends", json::array())) {
      backends.add({str(s["name"]), backendName(b), str(b.value("weight", json())),
                    str(b.value("new_flows", json(0))), str(b.value("packets", json(0))),
                    str(b.value("bytes", json(0)))});
    }
  }
  backends.print(std::cout);
}

void addOtherCommands(CLI::App& app, const Globals& g, Args& a, Action& action) {
  for (const ConfigSection& section : kConfigSections) addSectionCommands(app, g, section, a.section_values, action);

  app.add_subcommand("config", "the whole running configuration (JSON)")->callback([&] {
    action = [&](const ApiClient& client) { printJson(client.get(std::string(kApi) + "/config")); };
  });

  app.add_subcommand("health", "health-check state of every backend")->callback([&] {
    action = [&](const ApiClient& client) {
      const json reply = client.get(std::string(kApi) + "/health");
      if (g.json) return printJson(reply);
      Table table({{"SERVICE"}, {"BACKEND"}, {"STATE"}, {"TRANSITIONS", Align::kRight}, {"LAST ERROR"}});
      for (const json& h : reply.value("backends", json::array())) {
        table.add({str(h["service"]), backendName(h), str(h["state"]), str(h["transitions"]),
                   str(h.value("last_error", json("")))});
      }
      table.print(std::cout);
      const json summary = reply.value("summary", json::object());
      std::cout << "\n" << str(summary.value("up", json(0))) << " up, " << str(summary.value("down", json(0)))
                << " down, " << str(summary.value("unknown", json(0))) << " unknown\n";
    };
  });

  app.add_subcommand("stats", "counters: totals, per lcore, per backend")->callback([&] {
    action = [&](const ApiClient& client) {
      const json reply = client.get(std::string(kApi) + "/stats");
      g.json ? printJson(reply) : printStats(reply);
    };
  });

  app.add_subcommand("metrics", "Prometheus metrics text")->callback([&] {
    action = [&](const ApiClient& client) { std::cout << client.getText("/metrics"); };
  });

  app.add_subcommand("reload", "re-read tetherd's config file and apply it")->callback([&] {
    action = [&](const ApiClient& client) {
      const json reply = client.postEmpty(std::string(kApi) + "/reload");
      if (g.json) return printJson(reply);
      size_t backends = 0;
      for (const json& s : reply.value("services", json::array())) backends += s.value("backends", json::array()).size();
      std::cout << "reloaded: " << reply.value("services", json::array()).size() << " services, " << backends
                << " backends\n";
    };
  });

  int& interval_ms = a.interval_ms;
  int& iterations = a.iterations;
  CLI::App* top = app.add_subcommand("top", "live per-backend and per-lcore rates");
  top->add_option("--interval-ms", interval_ms, "time between samples")->check(CLI::Range(10, 3600000));
  top->add_option("--iterations", iterations, "stop after N refreshes (0 = until Ctrl-C)")->check(CLI::NonNegativeNumber);
  top->callback([&] {
    action = [&](const ApiClient& client) { runTop(client, interval_ms, iterations, g.json); };
  });
}


// ?cookie=VALUE or ?key=HEX: the value is percent-encoded, so any cookie value reaches the server
// byte for byte.
std::string sessionQuery(const Args& a) {
  return (a.session_by_key ? "?key=" : "?cookie=") + pathSegment(a.session_cookie);
}

std::string ageText(const json& seconds) {
  if (!seconds.is_number_unsigned()) return str(seconds);
  const uint64_t s = seconds.get<uint64_t>();
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  if (s < 172800) return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
  return std::to_string(s / 86400) + "d" + std::to_string(s % 86400 / 3600) + "h";
}

std::string sessionBackend(const json& session) {
  return session["backend"].is_null() ? "(gone)" : str(session["backend"]);
}

void addSessionCommands(CLI::App& app, const Globals& g, Args& a, Action& action) {
  CLI::App* sessions = app.add_subcommand("sessions", "sticky sessions of an HTTP service: list, lookup, delete");
  sessions->require_subcommand(1);

  CLI::App* list = sessions->add_subcommand("list", "one page of a service's sessions, in key order");
  list->add_option("SERVICE", a.service, "service name")->required();
  list->add_option("--limit", a.session_limit, "sessions per page (1..1000)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  list->add_option("--cursor", a.session_cursor, "continue after this key (the previous page's next cursor)");
  list->callback([&] {
    action = [&](const ApiClient& client) {
      std::string path = servicePath(a.service) + "/sessions?limit=" + std::to_string(a.session_limit);
      if (!a.session_cursor.empty()) path += "&cursor=" + pathSegment(a.session_cursor);
      const json reply = client.get(path);
      if (g.json) return printJson(reply);
      Table table({{"KEY"}, {"BACKEND"}, {"AGE", Align::kRight}, {"IDLE", Align::kRight}});
      for (const json& s : reply["sessions"]) {
        table.add({str(s["key"]), sessionBackend(s), ageText(s["created_age_s"]), ageText(s["last_used_age_s"])});
      }
      if (table.empty()) {
        std::cout << "no sessions" << (reply.value("more", false) ? " on this page" : "") << '\n';
      } else {
        table.print(std::cout);
      }
      if (reply.value("more", false)) {
        std::cout << "more: tetherctl sessions list " << a.service << " --limit " << a.session_limit
                  << " --cursor " << str(reply["next_cursor"]) << '\n';
      }
    };
  });

  const auto addSelector = [&](CLI::App* command) {
    command->add_option("SERVICE", a.service, "service name")->required();
    command->add_option("COOKIE", a.session_cookie, "the session cookie's value (or a key with --key)")
        ->required();
    command->add_flag("--key", a.session_by_key, "COOKIE is a session key (hex) as listed, not a cookie value");
  };

  CLI::App* lookup = sessions->add_subcommand("lookup", "the backend a session cookie is bound to");
  addSelector(lookup);
  lookup->callback([&] {
    action = [&](const ApiClient& client) {
      const json reply = client.get(servicePath(a.service) + "/sessions/lookup" + sessionQuery(a));
      if (g.json) return printJson(reply);
      Table table({{""}, {""}});
      table.add({"key", str(reply["key"])});
      table.add({"backend", sessionBackend(reply)});
      table.add({"age", ageText(reply["created_age_s"])});
      table.add({"idle", ageText(reply["last_used_age_s"])});
      table.print(std::cout, /*header=*/false);
    };
  });

  CLI::App* remove = sessions->add_subcommand("delete", "forget a session (its next request picks a backend afresh)");
  addSelector(remove);
  remove->callback([&] {
    action = [&](const ApiClient& client) {
      const json reply = client.del(servicePath(a.service) + "/sessions" + sessionQuery(a));
      if (g.json) return printJson(reply);
      std::cout << "deleted session " << (a.session_by_key ? "key " : "") << a.session_cookie << " of "
                << a.service << '\n';
    };
  });
}

}  // namespace
}  // namespace tetherctl

int main(int argc, char** argv) {
  using namespace tetherctl;
  CLI::App app{"tetherctl: control a running tetherd through its REST API"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the command: `tetherctl services list --json`
  Globals globals;
  app.add_option("--server", globals.server, "tetherd REST API base URL")
      ->envname("TETHER_SERVER")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
      ->capture_default_str();
  app.add_option("--token", globals.token, "bearer token, if tetherd requires one")
      ->envname("TETHER_TOKEN")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_flag("--json", globals.json, "print the server's JSON instead of tables");
  Args args;
  Action action;
  addServiceCommands(app, globals, args, action);
  addBackendCommands(app, globals, args, action);
  addOtherCommands(app, globals, args, action);
  addSessionCommands(app, globals, args, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitError;
  }
  try {
    if (!action) throw CommandError(kExitError, "no command given (see --help)");
    action(ApiClient(globals.server, globals.token));
    return 0;
  } catch (const CommandError& e) {
    std::cerr << "tetherctl: " << e.what() << '\n';
    return e.exitCode();
  } catch (const std::exception& e) {
    std::cerr << "tetherctl: " << e.what() << '\n';
    return kExitError;
  }
}
