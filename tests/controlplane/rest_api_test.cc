// Contract tests for controlplane/rest_api.h: every endpoint through a real HTTP client
// (httplib::Client) against RestApi on 127.0.0.1 with an ephemeral port, backed by FakeControlOps.
//
// Good requests are one test per endpoint; bad requests are one table ({request, expected status,
// expected message substring}) where every row also proves nothing changed: no applyConfig() call
// and the same config as before. A last group checks controlplane/openapi.yaml documents every route.
#include "controlplane/rest_api.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controlplane/config.h"
#include "controlplane/rest_json.h"
#include "tests/controlplane/fake_control_ops.h"

namespace lb::controlplane {
namespace {

#ifndef TETHER_OPENAPI_YAML
#error "TETHER_OPENAPI_YAML must name controlplane/openapi.yaml (set in tests/controlplane/meson.build)"
#endif

using nlohmann::json;
using testing::FakeControlOps;

// Two services covering both backend-port rules: web is full-NAT (backend ports free), dns is DSR
// (backend port == service port).
constexpr std::string_view kConfigYaml = R"(
ports:
  - name: lan
    address: 10.99.0.2/24
    gateway: 10.99.0.1
timeouts:
  tcp_syn_s: 10
services:
  - name: web
    vip: 10.99.0.100
    port: 80
    backends:
      - address: 10.99.0.11
        port: 8080
      - address: 10.99.0.12
        port: 8080
        weight: 2
  - name: dns
    vip: 10.99.0.100
    port: 53
    protocol: udp
    forwarding: dsr
    backends:
      - address: 10.99.0.13
        port: 53
)";

const std::string kToken = "s3cret-token";

Config baseConfig() {
  auto config = parseConfig(kConfigYaml);
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

struct HttpResult {
  int status = 0;
  json body;  // parsed when the response is JSON
  std::string raw;
  httplib::Headers headers;

  std::string error() const { return body.is_object() && body.contains("error") ? body["error"].get<std::string>() : ""; }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// A running RestApi over a FakeControlOps, and a client for it.
class Server {
 public:
  explicit Server(std::string token = "", Config config = baseConfig())
      : ops_(std::move(config)), api_(ops_, {.port = 0, .bearer_token = token}), token_(std::move(token)) {
    auto status = api_.start();
    EXPECT_TRUE(status.ok()) << status;
  }

  FakeControlOps& ops() { return ops_; }
  RestApi& api() { return api_; }

  // `authorization`: the Authorization header to send; by default "Bearer <token>" when one is set.
  HttpResult request(std::string_view method, const std::string& path, const std::string& body = "",
                     const std::string& content_type = "application/json",
                     std::optional<std::string> authorization = std::nullopt) {
    httplib::Client client("127.0.0.1", api_.port());
    client.set_read_timeout(10, 0);
    httplib::Headers headers;
    if (!authorization && !token_.empty()) authorization = absl::StrCat("Bearer ", token_);
    if (authorization && !authorization->empty()) headers.emplace("Authorization", *authorization);
    httplib::Result result = [&] {
      if (method == "HEAD") return client.Head(path, headers);
      if (method == "OPTIONS") return client.Options(path, headers);
      if (method == "DELETE") return client.Delete(path, headers);
      if (method == "POST") return client.Post(path, headers, body, content_type);
      if (method == "PUT") return client.Put(path, headers, body, content_type);
      if (method == "PATCH") return client.Patch(path, headers, body, content_type);
      return client.Get(path, headers);
    }();
    HttpResult out;
    if (!result) {
      ADD_FAILURE() << method << " " << path << ": " << httplib::to_string(result.error());
      return out;
    }
    out.status = result->status;
    out.raw = result->body;
    out.headers = result->headers;
    if (result->get_header_value("Content-Type") == "application/json" && !result->body.empty()) {
      out.body = json::parse(result->body, nullptr, /*allow_exceptions=*/false);
      EXPECT_FALSE(out.body.is_discarded()) << "invalid JSON response: " << result->body;
    }
    return out;
  }

  HttpResult get(const std::string& path) { return request("GET", path); }
  HttpResult send(std::string_view method, const std::string& path, const json& body) {
    return request(method, path, body.dump());
  }

 private:
  FakeControlOps ops_;
  RestApi api_;
  std::string token_;
};

json currentJson(FakeControlOps& ops) { return configToJson(ops.currentConfig()); }

// --- services ------------------------------------------------------------------------------------

// GET /services lists every service with the file's key names and defaults filled in.
TEST(RestApiServices, ListReturnsEveryServiceInFileOrder) {
  Server server;
  const HttpResult r = server.get("/api/v1/services");
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["services"].size(), 2u);
  const json& web = r.body["services"][0];
  EXPECT_EQ(web["name"], "web");
  EXPECT_EQ(web["vip"], "10.99.0.100");
  EXPECT_EQ(web["port"], 80);
  EXPECT_EQ(web["protocol"], "tcp");
  EXPECT_EQ(web["forwarding"], "fullnat");
  EXPECT_EQ(web["key"], "five_tuple");
  EXPECT_EQ(web["algorithm"], "maglev");
  EXPECT_EQ(web["maglev_size"], 65537);
  EXPECT_EQ(web["ring_vnodes"], 160);
  EXPECT_EQ(web["seed"], 0);
  EXPECT_EQ(web["health_check"]["type"], "none");
  EXPECT_EQ(web["backends"][1],
            json({{"address", "10.99.0.12"}, {"port", 8080}, {"weight", 2}, {"state", "enabled"}}));
  EXPECT_EQ(r.body["services"][1]["name"], "dns");
  EXPECT_EQ(server.ops().applies(), 0);
}

// GET /services/{name} returns the same object the list holds; trailing slashes are tolerated.
TEST(RestApiServices, GetReturnsOneService) {
  Server server;
  const HttpResult list = server.get("/api/v1/services");
  const HttpResult one = server.get("/api/v1/services/dns/");
  ASSERT_EQ(one.status, 200) << one.raw;
  EXPECT_EQ(one.body, list.body["services"][1]);
}

// POST /services creates a service with defaults for omitted fields: 201, Location, and one apply.
TEST(RestApiServices, CreateAppliesAndReturnsTheNewService) {
  Server server;
  const HttpResult r = server.send("POST", "/api/v1/services",
                                   {{"name", "api"},
                                    {"vip", "10.99.0.101"},
                                    {"port", 443},
                                    {"algorithm", "ring"},
                                    {"seed", 18446744073709551615ull},
                                    {"health_check", {{"type", "http"}, {"http_path", "/healthz"}}},
                                    {"backends", {{{"address", "10.99.0.21"}, {"port", 8443}, {"weight", 5}}}}});
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.header("Location"), "/api/v1/services/api");
  EXPECT_EQ(r.body["algorithm"], "ring");
  EXPECT_EQ(r.body["seed"], 18446744073709551615ull);  // exact 64-bit round trip
  EXPECT_EQ(r.body["maglev_size"], 65537);
  EXPECT_EQ(r.body["health_check"]["type"], "http");
  EXPECT_EQ(r.body["health_check"]["http_path"], "/healthz");
  EXPECT_EQ(r.body["health_check"]["interval_ms"], 2000);
  EXPECT_EQ(server.ops().applies(), 1);
  const Config config = server.ops().currentConfig();
  ASSERT_EQ(config.services.size(), 3u);
  EXPECT_EQ(config.services[2].name, "api");
  EXPECT_EQ(config.services[2].selector.algorithm, hashing::Algorithm::kRing);
  EXPECT_EQ(config.services[2].backends.at(0).weight, 5u);
  EXPECT_EQ(server.get("/api/v1/services/api").body, r.body);
}

// A DSR service's backends may omit the port: it must equal the service port anyway.
TEST(RestApiServices, CreateDsrServiceDefaultsBackendPorts) {
  Server server;
  const HttpResult r = server.send("POST", "/api/v1/services",
                                   {{"name", "ntp"},
                                    {"vip", "10.99.0.101"},
                                    {"port", 123},
                                    {"protocol", "udp"},
                                    {"forwarding", "ipip"},
                                    {"backends", {{{"address", "10.99.0.21"}}}}});
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["backends"][0]["port"], 123);
}

// PUT replaces the whole service (listener, settings, backends); the name may be left out of the body.
TEST(RestApiServices, PutReplacesTheService) {
  Server server;
  const HttpResult r = server.send("PUT", "/api/v1/services/web",
                                   {{"vip", "10.99.0.101"},
                                    {"port", 8000},
                                    {"key", "source_address"},
                                    {"backends", {{{"address", "10.99.0.31"}, {"port", 9000}}}}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["name"], "web");
  EXPECT_EQ(r.body["port"], 8000);
  EXPECT_EQ(r.body["key"], "source_address");
  ASSERT_EQ(r.body["backends"].size(), 1u);
  const Config config = server.ops().currentConfig();
  EXPECT_EQ(config.services[0].name, "web");  // replaced in place: order kept
  EXPECT_EQ(config.services[0].backends.size(), 1u);
  EXPECT_EQ(server.ops().applies(), 1);
}

// PATCH changes only the named settings; health_check merges field by field.
TEST(RestApiServices, PatchChangesOnlyTheGivenFields) {
  Server server;
  ASSERT_EQ(server.send("PATCH", "/api/v1/services/web",
                        {{"health_check", {{"type", "tcp"}, {"interval_ms", 5000}}}})
                .status,
            200);
  const HttpResult r = server.send("PATCH", "/api/v1/services/web",
                                   {{"algorithm", "modulo"},
                                    {"key", "source_address"},
                                    {"maglev_size", 251},
                                    {"ring_vnodes", 40},
                                    {"seed", 7},
                                    {"health_check", {{"rise", 5}}}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["algorithm"], "modulo");
  EXPECT_EQ(r.body["key"], "source_address");
  EXPECT_EQ(r.body["maglev_size"], 251);
  EXPECT_EQ(r.body["ring_vnodes"], 40);
  EXPECT_EQ(r.body["seed"], 7);
  EXPECT_EQ(r.body["health_check"]["type"], "tcp");        // from the first PATCH
  EXPECT_EQ(r.body["health_check"]["interval_ms"], 5000);  // from the first PATCH
  EXPECT_EQ(r.body["health_check"]["rise"], 5);
  EXPECT_EQ(r.body["backends"].size(), 2u);
  EXPECT_EQ(server.ops().applies(), 2);
  const Config config = server.ops().currentConfig();
  const ServiceConfig& web = config.services[0];
  EXPECT_EQ(web.selector.algorithm, hashing::Algorithm::kModulo);
  EXPECT_EQ(web.health_check.type, HealthCheckType::kTcp);
}

// PATCH forwarding to dsr works once the backend ports equal the service port.
TEST(RestApiServices, PatchForwarding) {
  Server server;
  const HttpResult r = server.send("PATCH", "/api/v1/services/dns", {{"forwarding", "ipip"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(server.ops().currentConfig().services[1].forwarding, ForwardingMode::kDsrIpip);
}

// DELETE removes the service and returns what was removed.
TEST(RestApiServices, DeleteRemovesTheService) {
  Server server;
  const HttpResult before = server.get("/api/v1/services/web");
  const HttpResult r = server.request("DELETE", "/api/v1/services/web");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body, before.body);
  EXPECT_EQ(server.get("/api/v1/services/web").status, 404);
  EXPECT_EQ(server.ops().currentConfig().services.size(), 1u);
  EXPECT_EQ(server.ops().applies(), 1);
}

// The base config with an IPv6 address on the port, so IPv6 VIPs validate.
Config configWithAddress6() {
  Config config = baseConfig();
  config.ports[0].address6 = Ipv6Prefix{*parseIpv6("fd00:99::2"), 64};
  EXPECT_TRUE(validateConfig(config).ok());
  return config;
}

json web6Body(std::string_view vip) {
  return {{"name", "web6"},
          {"vip", vip},
          {"port", 80},
          {"backends", {{{"address", "10.99.0.11"}, {"port", 8080}}}}};
}

// POST accepts an IPv6 vip: the Config gets vip6 (vip 0), and every read renders it canonically.
TEST(RestApiServices, CreateIpv6ServiceAndReadItBack) {
  Server server{"", configWithAddress6()};
  const HttpResult r = server.send("POST", "/api/v1/services", web6Body("FD00:99:0::100"));
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["vip"], "fd00:99::100");
  EXPECT_EQ(r.body["forwarding"], "fullnat");
  EXPECT_EQ(server.get("/api/v1/services/web6").body, r.body);
  const Config config = server.ops().currentConfig();
  ASSERT_EQ(config.services.size(), 3u);
  EXPECT_EQ(config.services[2].vip6, parseIpv6("fd00:99::100").value());
  EXPECT_EQ(config.services[2].vip, 0u);
  const HttpResult whole = server.get("/api/v1/config");
  EXPECT_EQ(whole.body["ports"][0]["address6"], "fd00:99::2/64");
  EXPECT_EQ(whole.body["services"][2]["vip"], "fd00:99::100");
  // PUT of what GET returned round-trips unchanged.
  const HttpResult put = server.send("PUT", "/api/v1/services/web6", r.body);
  ASSERT_EQ(put.status, 200) << put.raw;
  EXPECT_EQ(put.body, r.body);
}

// IPv6 services all have vip 0: they conflict only on the same vip6, never with each other or with an
// IPv4 service by vip alone, and a real duplicate is a 409 naming the bracketed listener.
TEST(RestApiServices, Ipv6ListenersConflictOnlyOnTheSameVip6) {
  Server server{"", configWithAddress6()};
  ASSERT_EQ(server.send("POST", "/api/v1/services", web6Body("fd00:99::100")).status, 201);
  json other = web6Body("fd00:99::101");
  other["name"] = "web7";
  ASSERT_EQ(server.send("POST", "/api/v1/services", other).status, 201);
  json v4 = web6Body("10.99.0.101");
  v4["name"] = "web4";
  ASSERT_EQ(server.send("POST", "/api/v1/services", v4).status, 201);
  const json before = currentJson(server.ops());

  json duplicate = web6Body("fd00:99:0:0::100");
  duplicate["name"] = "web8";
  HttpResult r = server.send("POST", "/api/v1/services", duplicate);
  EXPECT_EQ(r.status, 409) << r.raw;
  EXPECT_EQ(r.error(), "[fd00:99::100]:80/tcp is already served by service \"web6\"");
  json moved = web6Body("fd00:99::100");
  moved.erase("name");
  r = server.send("PUT", "/api/v1/services/web7", moved);
  EXPECT_EQ(r.status, 409) << r.raw;
  EXPECT_EQ(r.error(), "[fd00:99::100]:80/tcp is already served by service \"web6\"");
  EXPECT_EQ(currentJson(server.ops()), before);
  EXPECT_EQ(server.ops().applies(), 3);
}

// An IPv6 HTTP service sharing the IPv4 one's sessions: created, read back with the field, and refused
// with the key's path when the named service has no http block.
TEST(RestApiServices, Ipv6HttpServiceSharesSessions) {
  Config config = configWithAddress6();
  config.services[0].http = HttpConfig{};
  config.services[0].http->session_cookie = "SID";
  ASSERT_TRUE(validateConfig(config).ok());
  Server server{"", config};
  const std::string owner = config.services[0].name;
  const std::string plain = config.services[1].name;
  json shop6 = web6Body("fd00:99::100");
  shop6["http"] = {{"session_cookie", "SID"}, {"share_sessions_with", plain}};
  HttpResult r = server.send("POST", "/api/v1/services", shop6);
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_EQ(r.error(), "http.share_sessions_with: \"" + plain + "\" has no http block, so no sessions to share");
  shop6["http"]["share_sessions_with"] = owner;
  r = server.send("POST", "/api/v1/services", shop6);
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["http"]["share_sessions_with"], owner);
  EXPECT_EQ(server.get("/api/v1/services/web6").body, r.body);
  EXPECT_EQ(server.ops().currentConfig().services[2].http->share_sessions_with, owner);
}

// validateConfig's IPv6 rules reach REST clients with paths relative to the request body; DSR and
// IPIP services on an IPv6 VIP are accepted like IPv4 ones.
TEST(RestApiServices, Ipv6ServiceRulesAreEnforced) {
  Server server{"", configWithAddress6()};
  json http = web6Body("fd00:99::100");
  http["forwarding"] = "dsr";
  http["backends"] = json::parse(R"([{"address": "10.99.0.11"}])");
  http["http"] = json::parse(R"({"sticky": ["five_tuple"]})");
  HttpResult r = server.send("POST", "/api/v1/services", http);
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_EQ(r.error(), "http: needs forwarding fullnat (forwarding is dsr)");
  r = server.send("POST", "/api/v1/services", web6Body("fd00:99::2"));
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_EQ(r.error(), "vip: fd00:99::2 is the address6 of ports[0] (lan)");
  EXPECT_EQ(server.ops().applies(), 0);

  json dsr = web6Body("fd00:99::100");
  dsr["forwarding"] = "dsr";
  dsr["backends"] = json::parse(R"([{"address": "10.99.0.11"}])");
  r = server.send("POST", "/api/v1/services", dsr);
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["forwarding"], "dsr");
  EXPECT_EQ(server.ops().currentConfig().services[2].forwarding, ForwardingMode::kDsrL2);
  r = server.send("PATCH", "/api/v1/services/web6", {{"forwarding", "ipip"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(server.ops().currentConfig().services[2].forwarding, ForwardingMode::kDsrIpip);
}

// --- backends ------------------------------------------------------------------------------------

// GET .../backends lists the backends in configuration order, named by their service.
TEST(RestApiBackends, ListReturnsTheServicesBackends) {
  Server server;
  const HttpResult r = server.get("/api/v1/services/web/backends");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["service"], "web");
  ASSERT_EQ(r.body["backends"].size(), 2u);
  EXPECT_EQ(r.body["backends"][0]["address"], "10.99.0.11");
}

// POST adds a backend: 201, Location naming ADDRESS:PORT, defaults weight 1 and enabled.
TEST(RestApiBackends, AddAppendsABackend) {
  Server server;
  const HttpResult r =
      server.send("POST", "/api/v1/services/web/backends", {{"address", "10.99.0.14"}, {"port", 8081}});
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.header("Location"), "/api/v1/services/web/backends/10.99.0.14:8081");
  EXPECT_EQ(r.body, json({{"address", "10.99.0.14"}, {"port", 8081}, {"weight", 1}, {"state", "enabled"}}));
  const Config config = server.ops().currentConfig();
  const ServiceConfig& web = config.services[0];
  ASSERT_EQ(web.backends.size(), 3u);
  EXPECT_EQ(web.backends[2].address, 0x0a63000eu);
  EXPECT_EQ(server.ops().applies(), 1);
}

// On a DSR service the port may be omitted.
TEST(RestApiBackends, AddToDsrServiceDefaultsThePort) {
  Server server;
  const HttpResult r = server.send("POST", "/api/v1/services/dns/backends",
                                   {{"address", "10.99.0.14"}, {"weight", 0}, {"state", "draining"}});
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["port"], 53);
  EXPECT_EQ(r.body["state"], "draining");
}

// A backend is addressed as ADDRESS:PORT in the path.
TEST(RestApiBackends, GetReturnsOneBackend) {
  Server server;
  const HttpResult r = server.get("/api/v1/services/web/backends/10.99.0.12:8080");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["weight"], 2);
}

// PATCH sets weight and admin state; each change is one apply.
TEST(RestApiBackends, PatchSetsWeightAndState) {
  Server server;
  HttpResult r = server.send("PATCH", "/api/v1/services/web/backends/10.99.0.11:8080", {{"weight", 1000000}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["weight"], 1000000);
  for (std::string_view state : {"draining", "disabled", "enabled"}) {
    r = server.send("PATCH", "/api/v1/services/web/backends/10.99.0.11:8080", {{"state", state}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["state"], state);
  }
  r = server.send("PATCH", "/api/v1/services/web/backends/10.99.0.12:8080",
                  {{"weight", 0}, {"state", "draining"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  const Config config = server.ops().currentConfig();
  const ServiceConfig& web = config.services[0];
  EXPECT_EQ(web.backends[0].weight, 1000000u);
  EXPECT_EQ(web.backends[0].state, BackendAdminState::kEnabled);
  EXPECT_EQ(web.backends[1].weight, 0u);
  EXPECT_EQ(web.backends[1].state, BackendAdminState::kDraining);
  EXPECT_EQ(server.ops().applies(), 5);
}

// DELETE removes only that backend, returns it, and the others keep their order.
TEST(RestApiBackends, DeleteRemovesTheBackend) {
  Server server;
  const HttpResult r = server.request("DELETE", "/api/v1/services/web/backends/10.99.0.11:8080");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["address"], "10.99.0.11");
  const Config config = server.ops().currentConfig();
  const ServiceConfig& web = config.services[0];
  ASSERT_EQ(web.backends.size(), 1u);
  EXPECT_EQ(web.backends[0].address, 0x0a63000cu);
  EXPECT_EQ(server.get("/api/v1/services/web/backends/10.99.0.11:8080").status, 404);
}

// Writes are serialised: concurrent adds from many clients all land (no lost read-modify-write).
TEST(RestApiBackends, ConcurrentAddsAreAllApplied) {
  Server server;
  constexpr int kClients = 8;
  std::vector<std::thread> clients;
  std::vector<int> statuses(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      statuses[i] = server
                        .send("POST", "/api/v1/services/web/backends",
                              {{"address", absl::StrCat("10.99.0.", 50 + i)}, {"port", 80}})
                        .status;
    });
  }
  for (std::thread& t : clients) t.join();
  for (int status : statuses) EXPECT_EQ(status, 201);
  EXPECT_EQ(server.ops().currentConfig().services[0].backends.size(), 2u + kClients);
  EXPECT_EQ(server.ops().applies(), kClients);
}

// --- config, timeouts, reload --------------------------------------------------------------------

// GET /config is the whole Config with the file's key names.
TEST(RestApiConfig, GetReturnsTheWholeConfig) {
  Server server;
  const HttpResult r = server.get("/api/v1/config");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["ports"][0],
            json({{"name", "lan"}, {"address", "10.99.0.2/24"}, {"gateway", "10.99.0.1"}, {"vlan", 0}}));
  EXPECT_EQ(r.body["dataplane"]["flow_entries_per_lcore"], 65536);
  EXPECT_EQ(r.body["dataplane"]["fragment_datagrams_per_lcore"], 256);
  EXPECT_EQ(r.body["dataplane"]["fragment_timeout_ms"], 2000);
  EXPECT_EQ(r.body["dataplane"]["mbuf_data_room"], 2176);
  EXPECT_EQ(r.body["timeouts"]["tcp_established_s"], 300);
  EXPECT_EQ(r.body["services"].size(), 2u);
  EXPECT_EQ(r.body, currentJson(server.ops()));
}

// A port's full-NAT source addresses read back in the file's own notation.
TEST(RestApiConfig, LocalAddressesReadBackAsWritten) {
  Config config = baseConfig();
  config.ports[0].local_addresses = Ipv4Range{0x0a630014, 0x0a630033};
  EXPECT_EQ(configToJson(config)["ports"][0]["local_addresses"], "10.99.0.20-10.99.0.51");
  config.ports[0].local_addresses.reset();
  EXPECT_FALSE(configToJson(config)["ports"][0].contains("local_addresses"));
}

// A port's IPv6 address reads back in the file's notation, and only when it has one.
TEST(RestApiConfig, Address6ReadsBackAsWritten) {
  Config config = baseConfig();
  EXPECT_FALSE(configToJson(config)["ports"][0].contains("address6"));
  config.ports[0].address6 = Ipv6Prefix{*parseIpv6("fd00:0099::0002"), 64};
  EXPECT_EQ(configToJson(config)["ports"][0]["address6"], "fd00:99::2/64");
}

// Timeouts read back as set; a PATCH changes only the fields it names.
TEST(RestApiConfig, TimeoutsGetAndPatch) {
  Server server;
  HttpResult r = server.get("/api/v1/config/timeouts");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body, json({{"tcp_syn_s", 10}, {"tcp_established_s", 300}, {"tcp_closing_s", 10}, {"udp_s", 30}}));
  r = server.send("PATCH", "/api/v1/config/timeouts", {{"udp_s", 60}, {"tcp_established_s", 86400}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body, json({{"tcp_syn_s", 10}, {"tcp_established_s", 86400}, {"tcp_closing_s", 10}, {"udp_s", 60}}));
  EXPECT_EQ(server.ops().currentConfig().timeouts.udp_s, 60u);
  EXPECT_EQ(server.ops().applies(), 1);
}

// The ICMP error budget reads back as set; a PATCH changes the fields it names, a value out of range
// is refused with its name and nothing applied.
TEST(RestApiConfig, IcmpErrorsGetAndPatch) {
  Server server;
  HttpResult r = server.get("/api/v1/config/icmp_errors");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body, json({{"per_second", 1000}, {"burst", 50}}));
  r = server.send("PATCH", "/api/v1/config/icmp_errors", {{"per_second", 0}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body, json({{"per_second", 0}, {"burst", 50}}));
  EXPECT_EQ(server.ops().currentConfig().icmp_errors.per_second, 0u);
  EXPECT_EQ(server.get("/api/v1/config").body["icmp_errors"], r.body);
  r = server.send("PATCH", "/api/v1/config/icmp_errors", {{"burst", 0}});
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_EQ(r.error(), "burst: 0 is out of range 1..100000");
  r = server.send("PATCH", "/api/v1/config/icmp_errors", {{"per_sec", 5}});
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_EQ(server.ops().currentConfig().icmp_errors.burst, 50u);
  EXPECT_EQ(server.ops().applies(), 1);
}

// POST /reload applies what the file now says and returns the new config.
TEST(RestApiConfig, ReloadAppliesTheFile) {
  Server server;
  server.ops().setReloadSource([] {
    Config next = baseConfig();
    next.services.pop_back();
    return absl::StatusOr<Config>(next);
  });
  const HttpResult r = server.request("POST", "/api/v1/reload", "", "");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["services"].size(), 1u);
  EXPECT_EQ(server.ops().reloads(), 1);
  EXPECT_EQ(server.ops().applies(), 1);
}

// A file that does not validate is a conflict (409); one that cannot be read is a server error (500).
// Either way the running config stays.
TEST(RestApiConfig, ReloadFailuresKeepTheRunningConfig) {
  Server server;
  const json before = currentJson(server.ops());
  server.ops().setReloadSource([] {
    return absl::StatusOr<Config>(
        absl::InvalidArgumentError("demo.yaml: services[0].port: 0 is out of range 1..65535 (line 9)"));
  });
  HttpResult r = server.request("POST", "/api/v1/reload", "", "");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.error(),
            "reload failed, running configuration unchanged: demo.yaml: services[0].port: 0 is out of "
            "range 1..65535 (line 9)");
  server.ops().setReloadSource(
      [] { return absl::StatusOr<Config>(absl::NotFoundError("cannot open config file x.yaml")); });
  r = server.request("POST", "/api/v1/reload", "", "");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.error().find("cannot open config file x.yaml"), std::string::npos);
  EXPECT_EQ(currentJson(server.ops()), before);
  EXPECT_EQ(server.ops().applies(), 0);
}

// The daemon may refuse a config validateConfig() accepts (a boot-only key): 409, message kept.
TEST(RestApiConfig, ApplyFailureIsReportedAndNothingChanges) {
  Server server;
  const json before = currentJson(server.ops());
  server.ops().failNextApply(absl::FailedPreconditionError("dataplane.mbufs changed; restart needed"));
  const HttpResult r = server.send("PATCH", "/api/v1/config/timeouts", {{"udp_s", 60}});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.error(), "dataplane.mbufs changed; restart needed");
  EXPECT_EQ(currentJson(server.ops()), before);
  EXPECT_EQ(server.ops().applies(), 0);
}

// --- observability -------------------------------------------------------------------------------

// /health reports ControlOps::health() per backend plus up/down/unknown counts.
TEST(RestApiObservability, HealthListsEveryBackendWithASummary) {
  Server server;
  server.ops().setHealth({
      {.service = "web", .address = 0x0a63000b, .port = 8080, .state = HealthState::kUp, .transitions = 1},
      {.service = "web",
       .address = 0x0a63000c,
       .port = 8080,
       .state = HealthState::kDown,
       .transitions = 4,
       .last_error = "connect: connection refused"},
      {.service = "dns", .address = 0x0a63000d, .port = 53},
  });
  const HttpResult r = server.get("/api/v1/health");
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["backends"].size(), 3u);
  EXPECT_EQ(r.body["backends"][1], json({{"service", "web"},
                                         {"address", "10.99.0.12"},
                                         {"port", 8080},
                                         {"state", "down"},
                                         {"transitions", 4},
                                         {"last_error", "connect: connection refused"}}));
  EXPECT_EQ(r.body["backends"][2]["state"], "unknown");
  EXPECT_EQ(r.body["summary"], json({{"up", 1}, {"down", 1}, {"unknown", 1}}));
}

// /stats is ControlOps::stats() unchanged, 64-bit counters exact.
TEST(RestApiObservability, StatsPassesTheCountersDocumentThrough) {
  Server server;
  const json doc = {{"flows_active", 3},
                    {"lcores", {{{"lcore", 1}, {"rx_packets", 18446744073709551615ull}}}},
                    {"services", json::array()}};
  server.ops().setStatsSource([doc] { return doc; });
  const HttpResult r = server.get("/api/v1/stats");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body, doc);
}

// /metrics is Prometheus text with its versioned content type.
TEST(RestApiObservability, MetricsIsPrometheusText) {
  Server server;
  server.ops().setMetrics("# TYPE tether_up gauge\ntether_up 1\n");
  const HttpResult r = server.get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_EQ(r.raw, "# TYPE tether_up gauge\ntether_up 1\n");
}

// An exception inside ControlOps becomes a 500 with a message, and the server keeps serving.
TEST(RestApiObservability, ExceptionsBecome500) {
  Server server;
  server.ops().throwFromStats(true);
  const HttpResult r = server.get("/api/v1/stats");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.error(), "internal error: stats exploded");
  EXPECT_EQ(server.get("/api/v1/services").status, 200);
}

// --- protocol ------------------------------------------------------------------------------------

// With a token configured, the right token is accepted on every kind of endpoint.
TEST(RestApiProtocol, TokenIsAccepted) {
  Server server{kToken};
  EXPECT_EQ(server.get("/api/v1/services").status, 200);
  EXPECT_EQ(server.get("/metrics").status, 200);
  EXPECT_EQ(server.request("GET", "/api/v1/config", "", "", "bearer " + kToken).status, 200);
  EXPECT_EQ(server.send("PATCH", "/api/v1/config/timeouts", {{"udp_s", 31}}).status, 200);
}

// A 401 carries a WWW-Authenticate challenge (RFC 6750).
TEST(RestApiProtocol, MissingTokenGetsAChallenge) {
  Server server{kToken};
  const HttpResult r = server.request("GET", "/api/v1/services", "", "", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("WWW-Authenticate"), "Bearer realm=\"tether\"");
}

// 405 names the allowed methods in an Allow header; OPTIONS answers with the same list.
TEST(RestApiProtocol, WrongMethodGets405WithAllow) {
  Server server;
  HttpResult r = server.request("DELETE", "/api/v1/config/timeouts");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow"), "GET, PATCH, HEAD, OPTIONS");
  r = server.request("OPTIONS", "/api/v1/services/web");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("Allow"), "GET, PUT, PATCH, DELETE, HEAD, OPTIONS");
}

// HEAD gets GET's status without a body.
TEST(RestApiProtocol, HeadIsAnsweredLikeGet) {
  Server server;
  const HttpResult r = server.request("HEAD", "/api/v1/services");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.raw.empty());
}

// Sends `request` as raw bytes (so no client adds headers of its own) and returns the whole answer.
std::string rawExchange(uint16_t port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    ADD_FAILURE() << "connect failed";
    return "";
  }
  EXPECT_EQ(send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string answer;
  char buffer[4096];
  for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) answer.append(buffer, static_cast<size_t>(n));
  close(fd);
  return answer;
}

// A request without Content-Length or Transfer-Encoding has no body (RFC 9112 section 6.3), so
// `curl -X DELETE URL` and `curl -X POST .../reload` work; httplib alone would answer 400.
TEST(RestApiProtocol, WritesWithoutContentLengthHaveAnEmptyBody) {
  Server server;
  server.ops().setReloadSource([] { return absl::StatusOr<Config>(baseConfig()); });
  std::string answer = rawExchange(server.api().port(),
                                   "DELETE /api/v1/services/dns HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
  EXPECT_EQ(server.ops().currentConfig().services.size(), 1u);
  answer = rawExchange(server.api().port(),
                       "POST /api/v1/reload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
  EXPECT_EQ(server.ops().currentConfig().services.size(), 2u);
  answer = rawExchange(server.api().port(),
                       "PATCH /api/v1/config/timeouts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Connection: close\r\n\r\n");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 400") << answer;
  EXPECT_NE(answer.find("request body is empty"), std::string::npos) << answer;
}

// start() reports a busy port itself; stop() is idempotent; a second start() is refused.
TEST(RestApiProtocol, LifecycleErrors) {
  Server first;
  FakeControlOps ops(baseConfig());
  RestApi second(ops, {.port = first.api().port()});
  const absl::Status status = second.start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(status.message()).find(absl::StrCat("127.0.0.1:", first.api().port())),
            std::string::npos)
      << status;
  EXPECT_EQ(first.api().start().code(), absl::StatusCode::kFailedPrecondition);
  first.api().stop();
  first.api().stop();
}

// --- sticky sessions -----------------------------------------------------------------------------

// baseConfig() plus "shop", an HTTP service with sticky sessions on 10.99.0.100:8000.
Config configWithShop() {
  Config config = baseConfig();
  ServiceConfig shop{.name = "shop", .vip = config.services[0].vip, .port = 8000};
  shop.backends.push_back(BackendConfig{.address = 0x0a63000b, .port = 8081});
  shop.http = HttpConfig{};
  shop.http->session_cookie = "SESSIONID";
  config.services.push_back(shop);
  EXPECT_TRUE(validateConfig(config).ok());
  return config;
}

SessionView sessionOn(uint32_t address, uint16_t port, uint32_t age_s) {
  return SessionView{.backend_address = address, .backend_port = port, .backend_id = 0x1234,
                     .created_age_s = age_s, .idle_s = age_s / 2};
}

// A service's http block appears in its JSON with the file's key names, and PATCH edits or removes it.
TEST(RestApiSessions, HttpBlockRoundTripsThroughServiceJson) {
  Server server{"", configWithShop()};
  HttpResult r = server.get("/api/v1/services/shop");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["http"]["sticky"], json::parse(R"(["learn_cookie", "source_address"])"));
  EXPECT_EQ(r.body["http"]["session_cookie"], "SESSIONID");
  EXPECT_FALSE(r.body["http"].contains("hash_cookie"));
  EXPECT_EQ(r.body["http"]["unavailable_target"], "soft");
  EXPECT_EQ(r.body["http"]["session_idle_s"], 1800);
  EXPECT_FALSE(server.get("/api/v1/services/web").body.contains("http"));

  r = server.send("PATCH", "/api/v1/services/shop",
                  json::parse(R"({"http": {"sticky": ["hash_cookie", "five_tuple"], "hash_cookie": "uid",
                                           "session_cookie": "", "session_idle_s": 60}})"));
  ASSERT_EQ(r.status, 200) << r.raw;
  const Config current = server.ops().currentConfig();
  const HttpConfig& http = *current.services[2].http;
  EXPECT_EQ(http.sticky, (std::vector<StickyMethod>{StickyMethod::kHashCookie, StickyMethod::kFiveTuple}));
  EXPECT_EQ(http.hash_cookie, "uid");
  EXPECT_EQ(http.session_idle_s, 60u);
  EXPECT_EQ(http.max_head_bytes, 16384u);  // untouched fields keep their values

  r = server.send("PATCH", "/api/v1/services/shop", json::parse(R"({"http": null})"));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_FALSE(server.ops().currentConfig().services[2].http.has_value());
  // PUT of a whole service keeps the block it is given.
  json body = serviceToJson(configWithShop().services[2]);
  r = server.send("PUT", "/api/v1/services/shop", body);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_TRUE(server.ops().currentConfig().services[2].http.has_value());
}

// Listing pages through a service's sessions in key order with a hex cursor until `more` is false.
TEST(RestApiSessions, ListPagesThroughEverySession) {
  Server server{"", configWithShop()};
  std::set<std::string> expected;
  for (int i = 0; i < 5; ++i) {
    const uint64_t key = server.ops().addSession("shop", "user-" + std::to_string(i),
                                                 sessionOn(0x0a63000b, 8081, 100 + i));
    expected.insert(formatSessionKey(key));
  }
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  while (true) {
    const HttpResult r = server.get("/api/v1/services/shop/sessions?limit=2" +
                                    (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << r.raw;
    ++pages;
    EXPECT_EQ(r.body["service"], "shop");
    EXPECT_LE(r.body["sessions"].size(), 2u);
    for (const json& session : r.body["sessions"]) {
      EXPECT_EQ(session["backend"], "10.99.0.11:8081");
      EXPECT_EQ(session["key"].get<std::string>().size(), 16u);
      EXPECT_GE(session["created_age_s"].get<int>(), 100);
      EXPECT_TRUE(seen.insert(session["key"].get<std::string>()).second) << "listed twice";
    }
    cursor = r.body["next_cursor"].get<std::string>();
    if (!r.body["more"].get<bool>()) break;
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(pages, 3);
  // Default limit: everything in one page.
  const HttpResult all = server.get("/api/v1/services/shop/sessions");
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(all.body["sessions"].size(), 5u);
  EXPECT_FALSE(all.body["more"].get<bool>());
}

// Look-up by cookie value or key finds the session; an unknown cookie is 404. A session whose backend
// left the service shows backend null.
TEST(RestApiSessions, LookupByCookieOrKey) {
  Server server{"", configWithShop()};
  const uint64_t key = server.ops().addSession("shop", "abc123", sessionOn(0x0a63000b, 8081, 42));
  SessionView gone = sessionOn(0, 0, 7);
  gone.backend_address.reset();
  server.ops().addSession("shop", "orphan", gone);

  HttpResult r = server.get("/api/v1/services/shop/sessions/lookup?cookie=abc123");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["key"], formatSessionKey(key));
  EXPECT_EQ(r.body["backend"], "10.99.0.11:8081");
  EXPECT_EQ(r.body["service"], "shop");
  EXPECT_EQ(r.body["created_age_s"], 42);
  EXPECT_EQ(r.body["last_used_age_s"], 21);
  r = server.get("/api/v1/services/shop/sessions/lookup?key=" + formatSessionKey(key));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["key"], formatSessionKey(key));
  // Cookie values are percent-decoded from the query: "a b" is sent as a%20b.
  server.ops().addSession("shop", "a b;c", sessionOn(0x0a63000b, 8081, 1));
  EXPECT_EQ(server.get("/api/v1/services/shop/sessions/lookup?cookie=a%20b%3Bc").status, 200);
  r = server.get("/api/v1/services/shop/sessions/lookup?cookie=orphan");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_TRUE(r.body["backend"].is_null());
  r = server.get("/api/v1/services/shop/sessions/lookup?cookie=nobody");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.error(), "service \"shop\" has no such session");
}

// DELETE removes exactly the named session, by cookie or by key; a second delete is 404.
TEST(RestApiSessions, DeleteByCookieOrKey) {
  Server server{"", configWithShop()};
  server.ops().addSession("shop", "abc123", sessionOn(0x0a63000b, 8081, 42));
  const uint64_t other = server.ops().addSession("shop", "def456", sessionOn(0x0a63000b, 8081, 42));
  server.ops().addSession("shop", "keep", sessionOn(0x0a63000b, 8081, 42));
  HttpResult r = server.request("DELETE", "/api/v1/services/shop/sessions?cookie=abc123");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body, json::parse(R"({"deleted": true})"));
  EXPECT_EQ(server.ops().sessionCount(), 2u);
  r = server.request("DELETE", "/api/v1/services/shop/sessions?cookie=abc123");
  EXPECT_EQ(r.status, 404);
  r = server.request("DELETE", "/api/v1/services/shop/sessions?key=" + formatSessionKey(other));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(server.ops().sessionCount(), 1u);
  EXPECT_EQ(server.get("/api/v1/services/shop/sessions/lookup?cookie=keep").status, 200);
}

// --- bad requests: status, message, and nothing changed ------------------------------------------

struct BadRequest {
  std::string name;
  std::string method;
  std::string path;
  std::string body;
  int status;
  std::string message;  // substring of the "error" field
  std::string content_type = "application/json";
  std::optional<std::string> authorization = std::nullopt;  // default: the valid token
};

std::string backendPath(const std::string& service, const std::string& backend) {
  return "/api/v1/services/" + service + "/backends/" + backend;
}

const std::string kWebBackend = backendPath("web", "10.99.0.11:8080");

std::vector<BadRequest> badRequests() {
  const std::string services = "/api/v1/services";
  const std::string web_backends = "/api/v1/services/web/backends";
  const std::string timeouts = "/api/v1/config/timeouts";
  const std::string shop_sessions = "/api/v1/services/shop/sessions";
  // A complete new service; rows replace one field to break it.
  const auto service = [](std::string_view field, std::string_view value) {
    json body = json::parse(R"({"name": "api", "vip": "10.99.0.101", "port": 443,
                                "backends": [{"address": "10.99.0.21", "port": 8443}]})");
    if (value.empty()) {
      body.erase(std::string(field));
    } else {
      body[std::string(field)] = json::parse(value);
    }
    return body.dump();
  };
  return {
      // Body syntax.
      {"MalformedJson", "POST", services, R"({"name": "api",)", 400, "malformed JSON: parse error at line 1"},
      {"BodyNotAnObject", "POST", web_backends, "[1, 2]", 400, "expected a JSON object, got a list"},
      {"EmptyBody", "PATCH", kWebBackend, "", 400, "request body is empty"},
      {"DuplicateKey", "PATCH", kWebBackend, R"({"weight": 1, "weight": 2})", 400,
       "key \"weight\" appears twice"},
      {"TooDeep", "PATCH", kWebBackend, std::string(40, '[') + std::string(40, ']'), 400,
       "nested deeper than 32"},
      {"NotJsonContentType", "PATCH", kWebBackend, R"({"weight": 3})", 415, "must be JSON", "text/plain"},
      {"FormContentType", "POST", services, "name=api", 415,
       "got Content-Type \"application/x-www-form-urlencoded\"", "application/x-www-form-urlencoded"},
      {"TooLarge", "PATCH", kWebBackend, std::string(kMaxRestBodyBytes + 1, ' '), 413,
       "larger than 1048576 bytes"},
      // Unknown and immutable fields.
      {"UnknownBackendField", "POST", web_backends,
       R"({"address": "10.99.0.14", "port": 80, "wieght": 3})", 400,
       "wieght: unknown field (expected one of address, port, weight, state)"},
      {"UnknownServiceField", "POST", services, service("vips", R"(["10.0.0.1"])"), 400, "vips: unknown field"},
      {"UnknownHealthCheckField", "PATCH", "/api/v1/services/web",
       R"({"health_check": {"intervall_ms": 500}})", 400, "health_check.intervall_ms: unknown field"},
      {"UnknownBackendInService", "POST", services,
       service("backends", R"([{"address": "10.99.0.21", "port": 1, "prio": 1}])"), 400,
       "backends[0].prio: unknown field"},
      {"UnknownTimeout", "PATCH", timeouts, R"({"tcp_s": 5})", 400, "tcp_s: unknown field"},
      {"PatchBackendAddress", "PATCH", kWebBackend, R"({"address": "10.99.0.14"})", 400,
       "address: cannot be changed by PATCH"},
      {"PatchServiceVip", "PATCH", "/api/v1/services/web", R"({"vip": "10.99.0.101"})", 400,
       "vip: cannot be changed by PATCH; replace the service with PUT"},
      {"PatchServiceBackends", "PATCH", "/api/v1/services/web", R"({"backends": []})", 400,
       "backends: cannot be changed by PATCH"},
      {"EmptyPatch", "PATCH", kWebBackend, "{}", 400,
       "request body: has no fields to change (expected one or more of weight, state)"},
      {"EmptyTimeoutsPatch", "PATCH", timeouts, "{}", 400, "has no fields to change"},
      // Ranges.
      {"WeightTooLarge", "PATCH", kWebBackend, R"({"weight": 2000000})", 400,
       "weight: 2000000 is out of range 0..1000000"},
      {"WeightNegative", "PATCH", kWebBackend, R"({"weight": -1})", 400, "weight: -1 is out of range 0..1000000"},
      {"WeightHuge", "PATCH", kWebBackend, R"({"weight": 1e30})", 400, "weight: 1e+30 is out of range 0..1000000"},
      {"WeightBeyondUint64", "PATCH", kWebBackend, R"({"weight": 18446744073709551616})", 400,
       "is out of range 0..1000000"},
      {"NewBackendWeightTooLarge", "POST", web_backends,
       R"({"address": "10.99.0.14", "port": 80, "weight": 1000001})", 400,
       "weight: 1000001 is out of range 0..1000000"},
      {"ServiceBackendWeight", "POST", services,
       service("backends", R"([{"address": "10.99.0.21", "port": 1, "weight": 2000000}])"), 400,
       "backends[0].weight: 2000000 is out of range 0..1000000"},
      {"PortZero", "POST", services, service("port", "0"), 400, "port: 0 is out of range 1..65535"},
      {"PortTooLarge", "POST", web_backends, R"({"address": "10.99.0.14", "port": 65536})", 400,
       "port: 65536 is out of range 1..65535"},
      {"MaglevSizeZero", "PATCH", "/api/v1/services/web", R"({"maglev_size": 0})", 400,
       "maglev_size: 0 is out of range 1..16777216"},
      {"RingVnodesTooLarge", "PATCH", "/api/v1/services/web", R"({"ring_vnodes": 65537})", 400,
       "ring_vnodes: 65537 is out of range 1..65536"},
      {"TimeoutZero", "PATCH", timeouts, R"({"udp_s": 0})", 400, "udp_s: 0 is out of range 1..86400"},
      {"HealthIntervalTooSmall", "PATCH", "/api/v1/services/web", R"({"health_check": {"interval_ms": 99}})",
       400, "health_check.interval_ms: 99 is out of range 100..3600000"},
      {"HealthTimeoutAboveInterval", "PATCH", "/api/v1/services/web",
       R"({"health_check": {"interval_ms": 2000, "timeout_ms": 5000}})", 400,
       "health_check.timeout_ms: 5000 is out of range 10..2000"},
      {"HealthRiseZero", "PATCH", "/api/v1/services/web", R"({"health_check": {"rise": 0}})", 400,
       "health_check.rise: 0 is out of range 1..100"},
      {"HealthHttpPath", "PATCH", "/api/v1/services/web", R"({"health_check": {"http_path": "health"}})",
       400, "health_check.http_path: \"health\" must start with \"/\""},
      {"HealthExpectStatus", "PATCH", "/api/v1/services/web",
       R"({"health_check": {"http_expect_status": 600}})", 400,
       "health_check.http_expect_status: 600 is out of range 100..599"},
      // Wrong types.
      {"WeightAsString", "PATCH", kWebBackend, R"({"weight": "3"})", 400,
       "weight: \"3\" is a string, expected an integer (remove the quotes)"},
      {"WeightFraction", "PATCH", kWebBackend, R"({"weight": 1.5})", 400, "weight: 1.5 is not an integer"},
      {"WeightNull", "PATCH", kWebBackend, R"({"weight": null})", 400, "weight: expected an integer, got null"},
      {"WeightBool", "PATCH", kWebBackend, R"({"weight": true})", 400, "weight: expected an integer, got a boolean"},
      {"NameNotString", "POST", services, service("name", "5"), 400, "name: expected a string, got an integer"},
      {"VipNotString", "POST", services, service("vip", "167772161"), 400, "vip: expected a string, got an integer"},
      {"BackendsNotList", "POST", services, service("backends", "{}"), 400, "backends: expected a list, got an object"},
      {"HealthCheckNotObject", "PATCH", "/api/v1/services/web", R"({"health_check": "tcp"})", 400,
       "health_check: expected an object, got a string"},
      {"StateNotString", "PATCH", kWebBackend, R"({"state": 1})", 400, "state: expected a string, got an integer"},
      // Bad values.
      {"BadVip", "POST", services, service("vip", R"("10.0.0.300")"), 400,
       "vip: \"10.0.0.300\" is neither an IPv4 nor an IPv6 address"},
      {"BadVip6", "POST", services, service("vip", R"("fd00::1::2")"), 400,
       "vip: \"fd00::1::2\" is neither an IPv4 nor an IPv6 address"},
      // The table's port has no address6, which an IPv6 VIP needs.
      {"Vip6WithoutPortAddress6", "POST", services, service("vip", R"("fd00:99::100")"), 400,
       "vip: fd00:99::100 is an IPv6 VIP, which needs a port with an address6 (no port has one)"},
      {"BadBackendAddress", "POST", web_backends, R"({"address": "10.99.0", "port": 80})", 400,
       "address: \"10.99.0\" is not an IPv4 address"},
      {"ReservedBackendAddress", "POST", web_backends, R"({"address": "127.0.0.1", "port": 80})", 400,
       "address: 127.0.0.1 is not a unicast address"},
      {"BadForwarding", "PATCH", "/api/v1/services/web", R"({"forwarding": "dsrr"})", 400,
       "forwarding: \"dsrr\" is not one of fullnat, dsr, ipip"},
      {"BadAlgorithm", "PATCH", "/api/v1/services/web", R"({"algorithm": "random"})", 400,
       "algorithm: \"random\" is not one of maglev, ring, modulo"},
      {"BadState", "PATCH", kWebBackend, R"({"state": "drain"})", 400,
       "state: \"drain\" is not one of enabled, draining, disabled"},
      {"BadHealthType", "PATCH", "/api/v1/services/web", R"({"health_check": {"type": "icmp"}})", 400,
       "health_check.type: \"icmp\" is not one of none, tcp, http"},
      {"BadServiceName", "POST", services, service("name", R"("Web")"), 400, "name: \"Web\" must match [a-z0-9_-]+"},
      {"MissingVip", "POST", services, service("vip", ""), 400, "vip: required"},
      {"FullNatBackendWithoutPort", "POST", web_backends, R"({"address": "10.99.0.14"})", 400,
       "port: required for forwarding fullnat"},
      {"PutWithoutBackends", "PUT", "/api/v1/services/web", R"({"vip": "10.99.0.100", "port": 80})", 400,
       "backends: required"},
      {"PutRenames", "PUT", "/api/v1/services/web", service("name", R"("www")"), 400,
       "name: \"www\" does not match the service in the path \"web\""},
      // Rules that span fields (validateConfig(), messages made relative to the request).
      {"NonPrimeTableSize", "PATCH", "/api/v1/services/web", R"({"maglev_size": 65536})", 400,
       "maglev_size: 65536 is not prime"},
      {"TableSmallerThanBackends", "POST", services,
       R"({"name": "api", "vip": "10.99.0.101", "port": 443, "maglev_size": 2, "backends": [
           {"address": "10.99.0.21", "port": 1}, {"address": "10.99.0.22", "port": 1},
           {"address": "10.99.0.23", "port": 1}]})",
       400, "maglev_size: 2 is smaller than the number of backends (3)"},
      {"DsrBackendPort", "POST", "/api/v1/services/dns/backends", R"({"address": "10.99.0.14", "port": 54})",
       400, "port: 54 must equal the service port 53 with forwarding dsr"},
      {"DsrWithFullNatPorts", "PATCH", "/api/v1/services/web", R"({"forwarding": "dsr"})", 400,
       "backends[0].port: 8080 must equal the service port 80 with forwarding dsr"},
      {"DuplicateBackendInNewService", "POST", services,
       service("backends", R"([{"address": "10.99.0.21", "port": 1}, {"address": "10.99.0.21", "port": 1}])"),
       400, "backends[1]: 10.99.0.21 port 1 is already"},
      {"VipIsPortAddress", "POST", services, service("vip", R"("10.99.0.2")"), 400,
       "vip: 10.99.0.2 is the address of ports[0] (lan)"},
      // Conflicts with existing resources.
      {"DuplicateBackend", "POST", web_backends, R"({"address": "10.99.0.11", "port": 8080})", 409,
       "service \"web\" already has backend 10.99.0.11:8080"},
      {"DuplicateServiceName", "POST", services, service("name", R"("web")"), 409,
       "service \"web\" already exists"},
      {"DuplicateListener", "POST", services,
       R"({"name": "api", "vip": "10.99.0.100", "port": 80, "protocol": "tcp"})", 409,
       "10.99.0.100:80/tcp is already served by service \"web\""},
      {"PutOntoAnotherListener", "PUT", "/api/v1/services/dns",
       R"({"vip": "10.99.0.100", "port": 80, "backends": []})", 409,
       "10.99.0.100:80/tcp is already served by service \"web\""},
      // Unknown resources and endpoints.
      {"UnknownService", "GET", "/api/v1/services/nope", "", 404, "service \"nope\" not found"},
      {"PatchUnknownService", "PATCH", "/api/v1/services/nope", R"({"seed": 1})", 404,
       "service \"nope\" not found"},
      {"DeleteUnknownService", "DELETE", "/api/v1/services/nope", "", 404, "service \"nope\" not found"},
      {"AddToUnknownService", "POST", "/api/v1/services/nope/backends", R"({"address": "10.99.0.14"})", 404,
       "service \"nope\" not found"},
      {"UnknownBackend", "GET", backendPath("web", "10.99.0.99:8080"), "", 404,
       "service \"web\" has no backend 10.99.0.99:8080"},
      {"DeleteUnknownBackend", "DELETE", backendPath("web", "10.99.0.11:9999"), "", 404, "has no backend"},
      {"BackendWithoutPort", "GET", backendPath("web", "10.99.0.11"), "", 400,
       "backend \"10.99.0.11\" is not ADDRESS:PORT"},
      {"BackendBadPort", "PATCH", backendPath("web", "10.99.0.11:http"), R"({"weight": 1})", 400,
       "is not ADDRESS:PORT"},
      {"UnknownEndpoint", "GET", "/api/v1/servics", "", 404, "no such endpoint: GET \"/api/v1/servics\""},
      {"UnversionedPath", "GET", "/services", "", 404, "no such endpoint"},
      // Wrong methods.
      {"DeleteTimeouts", "DELETE", timeouts, "", 405,
       "method DELETE is not allowed on /api/v1/config/timeouts (allowed: GET, PATCH, HEAD, OPTIONS)"},
      {"PutServiceList", "PUT", services, "{}", 405, "method PUT is not allowed on /api/v1/services"},
      {"GetReload", "GET", "/api/v1/reload", "", 405, "allowed: POST, OPTIONS"},
      {"PostMetrics", "POST", "/metrics", "{}", 405, "method POST is not allowed on /metrics"},
      // Authentication (the server in this table requires kToken).
      {"MissingToken", "GET", "/api/v1/services", "", 401, "missing bearer token", "application/json", ""},
      {"WrongToken", "PATCH", kWebBackend, R"({"weight": 3})", 401, "invalid bearer token", "application/json",
       "Bearer wrong"},
      {"TokenPrefixOnly", "PATCH", kWebBackend, R"({"weight": 3})", 401, "invalid bearer token",
       "application/json", "Bearer " + kToken.substr(0, 5)},
      {"BasicAuth", "GET", "/api/v1/config", "", 401, "Authorization header is not \"Bearer <token>\"",
       "application/json", "Basic dXNlcjpwYXNz"},
      {"MetricsNeedToken", "GET", "/metrics", "", 401, "missing bearer token", "application/json", ""},
      {"UnknownEndpointNeedsToken", "GET", "/nope", "", 401, "missing bearer token", "application/json", ""},
      // Sticky sessions (the table's server adds "shop", an http service, with one session).
      {"SessionsUnknownService", "GET", "/api/v1/services/nope/sessions", "", 404,
       "service \"nope\" not found"},
      {"SessionsOfNonHttpService", "GET", "/api/v1/services/web/sessions", "", 404,
       "service \"web\" has no sticky sessions (no http block)"},
      {"SessionsLimitZero", "GET", shop_sessions + "?limit=0", "", 400, "limit: 0 is out of range 1..1000"},
      {"SessionsLimitTooLarge", "GET", shop_sessions + "?limit=1001", "", 400,
       "limit: 1001 is out of range 1..1000"},
      {"SessionsLimitNotNumber", "GET", shop_sessions + "?limit=ten", "", 400,
       "limit: \"ten\" is not a decimal integer"},
      {"SessionsBadCursor", "GET", shop_sessions + "?cursor=xyz", "", 400,
       "cursor: \"xyz\" is not a session key (1 to 16 hexadecimal digits)"},
      {"SessionsCursorTooLong", "GET", shop_sessions + "?cursor=00000000000000001", "", 400,
       "is not a session key"},
      {"SessionsUnknownQuery", "GET", shop_sessions + "?limt=5", "", 400,
       "unknown query parameter \"limt\" (expected cursor, limit)"},
      {"SessionsRepeatedQuery", "GET", shop_sessions + "?limit=5&limit=6", "", 400,
       "query parameter \"limit\" is given more than once"},
      {"LookupWithoutSelector", "GET", shop_sessions + "/lookup", "", 400,
       "give exactly one of the query parameters cookie"},
      {"LookupCookieAndKey", "GET", shop_sessions + "/lookup?cookie=a&key=1", "", 400,
       "give exactly one of the query parameters cookie"},
      {"LookupEmptyCookie", "GET", shop_sessions + "/lookup?cookie=", "", 400, "cookie: must not be empty"},
      {"LookupBadKey", "GET", shop_sessions + "/lookup?key=-1", "", 400, "key: \"-1\" is not a session key"},
      {"LookupUnknownCookie", "GET", shop_sessions + "/lookup?cookie=nobody", "", 404,
       "service \"shop\" has no such session"},
      {"DeleteSessionWithoutSelector", "DELETE", shop_sessions, "", 400,
       "give exactly one of the query parameters cookie"},
      {"DeleteUnknownSession", "DELETE", shop_sessions + "?key=1", "", 404,
       "service \"shop\" has no such session"},
      {"DeleteSessionOfNonHttpService", "DELETE", "/api/v1/services/web/sessions?cookie=abc", "", 404,
       "has no sticky sessions"},
      {"PostSessions", "POST", shop_sessions, "{}", 405, "allowed: GET, DELETE, HEAD, OPTIONS"},
      {"PatchHttpBadMethod", "PATCH", "/api/v1/services/shop", R"({"http": {"sticky": ["cookie"]}})", 400,
       "http.sticky[0]: \"cookie\" is not one of learn_cookie, hash_cookie, source_address, five_tuple"},
      {"PatchHttpUnknownField", "PATCH", "/api/v1/services/shop", R"({"http": {"stiky": []}})", 400,
       "http.stiky: unknown field"},
      {"PatchHttpRange", "PATCH", "/api/v1/services/shop", R"({"http": {"mss": 100}})", 400,
       "http.mss: 100 is out of range 536..9000"},
      {"PatchHttpOnUdp", "PATCH", "/api/v1/services/dns", R"({"http": {"sticky": ["five_tuple"]}})", 400,
       "http: needs protocol tcp (protocol is udp)"},
      {"PatchHttpNeedsCookie", "PATCH", "/api/v1/services/web", R"({"http": {}})", 400,
       "http.session_cookie: required when sticky lists learn_cookie"},
  };
}

class RestApiBadRequest : public ::testing::TestWithParam<BadRequest> {};

// Each bad request gets its status and a message naming the problem, and the config is untouched.
TEST_P(RestApiBadRequest, IsRejectedAndChangesNothing) {
  const BadRequest& row = GetParam();
  Server server{kToken, configWithShop()};
  server.ops().addSession("shop", "abc123", sessionOn(0x0a63000b, 8081, 42));
  const json before = currentJson(server.ops());
  const HttpResult r =
      server.request(row.method, row.path, row.body, row.content_type, row.authorization);
  EXPECT_EQ(r.status, row.status) << r.raw;
  EXPECT_NE(r.error().find(row.message), std::string::npos)
      << "error \"" << r.error() << "\" does not contain \"" << row.message << "\"";
  EXPECT_EQ(server.ops().applies(), 0);
  EXPECT_EQ(currentJson(server.ops()), before);
  EXPECT_EQ(server.ops().sessionCount(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Table, RestApiBadRequest, ::testing::ValuesIn(badRequests()),
                         [](const ::testing::TestParamInfo<BadRequest>& info) { return info.param.name; });

// The table's names are unique (gtest would silently run only one of two equal names).
TEST(RestApiBadRequestTable, NamesAreUnique) {
  std::set<std::string> names;
  for (const BadRequest& row : badRequests()) EXPECT_TRUE(names.insert(row.name).second) << row.name;
}

// --- openapi.yaml --------------------------------------------------------------------------------

YAML::Node loadOpenApi() {
  try {
    return YAML::LoadFile(TETHER_OPENAPI_YAML);
  } catch (const YAML::Exception& e) {
    ADD_FAILURE() << TETHER_OPENAPI_YAML << ": " << e.what();
    return YAML::Node();
  }
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(absl::ascii_tolower(static_cast<unsigned char>(c)));
  return out;
}

// Every route RestApi registers is documented, with the error responses its kind of request can get.
TEST(RestApiOpenApi, EveryRouteIsDocumented) {
  const YAML::Node spec = loadOpenApi();
  ASSERT_TRUE(spec["paths"].IsMap());
  EXPECT_EQ(spec["openapi"].as<std::string>().substr(0, 2), "3.");
  for (const RestRoute& route : RestApi::routes()) {
    const std::string where = std::string(route.method) + " " + std::string(route.path);
    const YAML::Node path = spec["paths"][std::string(route.path)];
    ASSERT_TRUE(path.IsMap()) << where << " is not in openapi.yaml";
    const YAML::Node operation = path[lower(route.method)];
    ASSERT_TRUE(operation.IsMap()) << where << " is not in openapi.yaml";
    EXPECT_TRUE(operation["operationId"].IsScalar()) << where;
    const YAML::Node responses = operation["responses"];
    ASSERT_TRUE(responses.IsMap()) << where;
    EXPECT_TRUE(responses["401"]) << where << " does not document 401";
    EXPECT_TRUE(responses["500"]) << where << " does not document 500";
    // Config writes can conflict with the running daemon (409); deleting a session edits no config.
    const bool writes = route.method != "GET" && !route.path.ends_with("/sessions");
    const bool has_body = route.method == "POST" || route.method == "PUT" || route.method == "PATCH";
    if (has_body && route.path != "/api/v1/reload") {
      EXPECT_TRUE(operation["requestBody"].IsMap()) << where;
      for (const char* code : {"400", "413", "415"}) {
        EXPECT_TRUE(responses[code]) << where << " does not document " << code;
      }
    }
    if (writes) {
      EXPECT_TRUE(responses["409"]) << where << " does not document 409";
    }
    if (route.path.find('{') != std::string_view::npos) {
      EXPECT_TRUE(responses["404"]) << where << " does not document 404";
    }
  }
}

// ... and nothing is documented that the server does not answer.
TEST(RestApiOpenApi, EveryDocumentedOperationIsARoute) {
  const YAML::Node spec = loadOpenApi();
  ASSERT_TRUE(spec["paths"].IsMap());
  std::set<std::pair<std::string, std::string>> routes;
  for (const RestRoute& route : RestApi::routes()) routes.emplace(lower(route.method), route.path);
  for (const auto& path : spec["paths"]) {
    for (const auto& operation : path.second) {
      const std::string key = operation.first.as<std::string>();
      if (key == "parameters" || key == "summary" || key == "description") continue;
      EXPECT_TRUE(routes.contains({key, path.first.as<std::string>()}))
          << key << " " << path.first.as<std::string>() << " is documented but not served";
    }
  }
}

// Every $ref points at a component that exists.
TEST(RestApiOpenApi, ReferencesResolve) {
  const YAML::Node spec = loadOpenApi();
  std::vector<YAML::Node> pending = {spec};
  int refs = 0;
  while (!pending.empty()) {
    YAML::Node node = pending.back();
    pending.pop_back();
    if (node.IsMap()) {
      for (const auto& entry : node) {
        if (entry.first.as<std::string>() == "$ref") {
          ++refs;
          const std::string ref = entry.second.as<std::string>();
          ASSERT_EQ(ref.rfind("#/components/", 0), 0u) << ref;
          const std::vector<std::string> parts = absl::StrSplit(ref.substr(2), '/');
          YAML::Node target = spec;  // Node::operator= would write through; reset() re-points
          for (const std::string& part : parts) target.reset(target[part]);
          EXPECT_TRUE(target.IsDefined() && target.IsMap()) << "unresolved " << ref;
        } else {
          pending.push_back(entry.second);
        }
      }
    } else if (node.IsSequence()) {
      for (const auto& item : node) pending.push_back(item);
    }
  }
  EXPECT_GT(refs, 10);
}

}  // namespace
}  // namespace lb::controlplane
