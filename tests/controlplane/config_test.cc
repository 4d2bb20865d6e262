// Tests for controlplane/config.h: YAML -> typed Config, validateConfig() on hand-built configs (the
// REST path), the address and enum-name helpers, and the example files in configs/.
//
// Bad inputs are tables of {name, yaml, expected error substring}; each row's comment names the rule.
#include "controlplane/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controlplane/address.h"

namespace lb::controlplane {
namespace {

#ifndef TETHER_CONFIGS_DIR
#error "TETHER_CONFIGS_DIR must point at the configs/ directory (set in tests/controlplane/meson.build)"
#endif

::testing::AssertionResult failsWith(const absl::Status& status, std::string_view expected) {
  if (status.ok()) return ::testing::AssertionFailure() << "succeeded, expected: " << expected;
  if (status.code() != absl::StatusCode::kInvalidArgument) {
    return ::testing::AssertionFailure() << "wrong code: " << status;
  }
  if (std::string(status.message()).find(expected) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "message \"" << status.message() << "\" does not contain \"" << expected << "\"";
  }
  return ::testing::AssertionSuccess();
}

// Every key set to a non-default value, so a field that is read into the wrong place shows up.
constexpr std::string_view kFullYaml = R"(# every key, none at its default
dataplane:
  burst_size: 64
  mbufs: 32767
  mbuf_data_room: 9344
  flow_entries_per_lcore: 131072
  local_port_min: 20000
  local_port_max: 29999
  fragment_datagrams_per_lcore: 4096
  fragment_timeout_ms: 500
ports:
  - name: lan
    address: 10.99.0.2/24
    gateway: 10.99.0.1
    local_addresses: 10.99.0.20-10.99.0.51
    vlan: 100
  - name: wan-1
    address: 192.168.7.5/30
timeouts:
  tcp_syn_s: 5
  tcp_established_s: 600
  tcp_closing_s: 20
  udp_s: 45
neighbors:
  - address: 10.99.0.11
    mac: "02:00:0A:63:00:0b"
services:
  - name: web
    vip: 10.99.0.100
    port: 443
    protocol: tcp
    forwarding: fullnat
    key: source_address
    down_backend_flows: reset
    slow_start_s: 30
    algorithm: ring
    maglev_size: 251
    ring_vnodes: 40
    seed: 18446744073709551615
    backends:
      - address: 10.99.0.11
        port: 8443
        weight: 1000000
        state: draining
      - address: 10.99.0.12
        port: 8443
        weight: 0
        state: disabled
    health_check:
      type: http
      interval_ms: 5000
      timeout_ms: 4000
      rise: 5
      fall: 7
      port: 8080
      http_path: /healthz?full=1
      http_expect_status: 204
  - name: dns_v2-a
    vip: 10.99.0.101
    port: 53
    protocol: udp
    forwarding: dsr
    health_check: {type: tcp, port: 5353}
    backends:
      - address: 10.99.0.13
      - address: 10.99.0.14
        port: 53
        state: enabled
  - name: tunnel
    vip: 10.99.0.102
    port: 8000
    forwarding: ipip
    algorithm: modulo
    seed: 7
    health_check: {type: none, interval_ms: 100, timeout_ms: 100, rise: 100, fall: 1}
    backends: []
)";

constexpr uint32_t ip(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  return a << 24 | b << 16 | c << 8 | d;
}

// Every key lands in the right field, in host byte order, with the right enum.
TEST(ParseConfigTest, FullConfigRoundTripsIntoStruct) {
  absl::StatusOr<Config> parsed = parseConfig(kFullYaml);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const Config& c = *parsed;

  EXPECT_EQ(c.dataplane.burst_size, 64u);
  EXPECT_EQ(c.dataplane.mbufs, 32767u);
  EXPECT_EQ(c.dataplane.mbuf_data_room, 9344u);
  EXPECT_EQ(c.dataplane.flow_entries_per_lcore, 131072u);
  EXPECT_EQ(c.dataplane.local_port_min, 20000);
  EXPECT_EQ(c.dataplane.local_port_max, 29999);
  EXPECT_EQ(c.dataplane.fragment_datagrams_per_lcore, 4096u);
  EXPECT_EQ(c.dataplane.fragment_timeout_ms, 500u);

  ASSERT_EQ(c.ports.size(), 2u);
  EXPECT_EQ(c.ports[0].name, "lan");
  EXPECT_EQ(c.ports[0].address, (Ipv4Prefix{ip(10, 99, 0, 2), 24}));
  EXPECT_EQ(c.ports[0].gateway, ip(10, 99, 0, 1));
  EXPECT_EQ(c.ports[0].local_addresses, (Ipv4Range{ip(10, 99, 0, 20), ip(10, 99, 0, 51)}));
  EXPECT_FALSE(c.ports[1].local_addresses.has_value());
  EXPECT_EQ(c.ports[0].vlan, 100);
  EXPECT_EQ(c.ports[1].name, "wan-1");
  EXPECT_EQ(c.ports[1].address, (Ipv4Prefix{ip(192, 168, 7, 5), 30}));
  EXPECT_FALSE(c.ports[1].gateway.has_value());
  EXPECT_EQ(c.ports[1].vlan, 0);

  EXPECT_EQ(c.timeouts.tcp_syn_s, 5u);
  EXPECT_EQ(c.timeouts.tcp_established_s, 600u);
  EXPECT_EQ(c.timeouts.tcp_closing_s, 20u);
  EXPECT_EQ(c.timeouts.udp_s, 45u);

  ASSERT_EQ(c.neighbors.size(), 1u);
  EXPECT_EQ(c.neighbors[0].address, ip(10, 99, 0, 11));
  EXPECT_EQ(c.neighbors[0].mac, (MacAddress{0x02, 0x00, 0x0a, 0x63, 0x00, 0x0b}));

  ASSERT_EQ(c.services.size(), 3u);
  const ServiceConfig& web = c.services[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.vip, ip(10, 99, 0, 100));
  EXPECT_EQ(web.port, 443);
  EXPECT_EQ(web.protocol, Protocol::kTcp);
  EXPECT_EQ(web.forwarding, ForwardingMode::kFullNat);
  EXPECT_EQ(web.key, BalanceKey::kSourceAddress);
  EXPECT_EQ(web.down_backend_flows, DownBackendFlows::kReset);
  EXPECT_EQ(web.slow_start_s, 30u);
  EXPECT_EQ(web.selector.algorithm, hashing::Algorithm::kRing);
  EXPECT_EQ(web.selector.maglev_size, 251u);
  EXPECT_EQ(web.selector.ring_vnodes, 40u);
  EXPECT_EQ(web.selector.seed, 18446744073709551615ull);
  ASSERT_EQ(web.backends.size(), 2u);
  EXPECT_EQ(web.backends[0].address, ip(10, 99, 0, 11));
  EXPECT_EQ(web.backends[0].port, 8443);
  EXPECT_EQ(web.backends[0].weight, kMaxWeight);
  EXPECT_EQ(web.backends[0].state, BackendAdminState::kDraining);
  EXPECT_EQ(web.backends[1].weight, 0u);
  EXPECT_EQ(web.backends[1].state, BackendAdminState::kDisabled);
  EXPECT_EQ(web.health_check.type, HealthCheckType::kHttp);
  EXPECT_EQ(web.health_check.interval_ms, 5000u);
  EXPECT_EQ(web.health_check.timeout_ms, 4000u);
  EXPECT_EQ(web.health_check.rise, 5u);
  EXPECT_EQ(web.health_check.fall, 7u);
  EXPECT_EQ(web.health_check.port, 8080);
  EXPECT_EQ(web.health_check.http_path, "/healthz?full=1");
  EXPECT_EQ(web.health_check.http_expect_status, 204);

  const ServiceConfig& dns = c.services[1];
  EXPECT_EQ(dns.protocol, Protocol::kUdp);
  EXPECT_EQ(dns.forwarding, ForwardingMode::kDsrL2);
  ASSERT_EQ(dns.backends.size(), 2u);
  EXPECT_EQ(dns.backends[0].port, 53) << "DSR backend port defaults to the service port";
  EXPECT_EQ(dns.backends[0].weight, kDefaultWeight);
  EXPECT_EQ(dns.backends[0].state, BackendAdminState::kEnabled);
  EXPECT_EQ(dns.backends[1].state, BackendAdminState::kEnabled);
  EXPECT_EQ(dns.health_check.type, HealthCheckType::kTcp);
  EXPECT_EQ(dns.health_check.port, 5353);
  EXPECT_EQ(dns.health_check.interval_ms, 2000u) << "keys not written keep their defaults";

  const ServiceConfig& tunnel = c.services[2];
  EXPECT_EQ(tunnel.forwarding, ForwardingMode::kDsrIpip);
  EXPECT_EQ(tunnel.selector.algorithm, hashing::Algorithm::kModulo);
  EXPECT_EQ(tunnel.selector.seed, 7u);
  EXPECT_TRUE(tunnel.backends.empty());
  EXPECT_EQ(tunnel.health_check.type, HealthCheckType::kNone);
  EXPECT_EQ(tunnel.health_check.interval_ms, 100u);
  EXPECT_EQ(tunnel.health_check.timeout_ms, 100u);
  EXPECT_EQ(tunnel.health_check.rise, 100u);
  EXPECT_EQ(tunnel.health_check.fall, 1u);

  EXPECT_TRUE(validateConfig(c).ok()) << "a parsed config is already valid";
}

// Omitted keys take the named defaults from config.h.
TEST(ParseConfigTest, OmittedKeysTakeDefaults) {
  absl::StatusOr<Config> parsed = parseConfig(R"(
ports:
  - name: lan
    address: 10.99.0.2/24
services:
  - name: web
    vip: 10.99.0.100
    port: 80
    backends:
      - address: 10.99.0.11
        port: 8080
)");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const Config& c = *parsed;
  EXPECT_EQ(c.dataplane.burst_size, kDefaultBurstSize);
  EXPECT_EQ(c.dataplane.mbufs, kDefaultMbufs);
  EXPECT_EQ(c.dataplane.mbuf_data_room, kDefaultMbufDataRoom);
  EXPECT_EQ(c.dataplane.flow_entries_per_lcore, kDefaultFlowEntriesPerLcore);
  EXPECT_EQ(c.dataplane.local_port_min, kDefaultLocalPortMin);
  EXPECT_EQ(c.dataplane.local_port_max, kDefaultLocalPortMax);
  EXPECT_EQ(c.dataplane.fragment_datagrams_per_lcore, kDefaultFragmentDatagramsPerLcore);
  EXPECT_EQ(c.dataplane.fragment_timeout_ms, kDefaultFragmentTimeoutMs);
  EXPECT_EQ(c.timeouts.tcp_syn_s, kDefaultTcpSynTimeoutS);
  EXPECT_EQ(c.timeouts.tcp_established_s, kDefaultTcpEstablishedTimeoutS);
  EXPECT_EQ(c.timeouts.tcp_closing_s, kDefaultTcpClosingTimeoutS);
  EXPECT_EQ(c.timeouts.udp_s, kDefaultUdpTimeoutS);
  EXPECT_TRUE(c.neighbors.empty());
  EXPECT_EQ(c.ports[0].vlan, 0);
  EXPECT_FALSE(c.ports[0].gateway.has_value());
  ASSERT_EQ(c.services.size(), 1u);
  const ServiceConfig& s = c.services[0];
  EXPECT_EQ(s.protocol, Protocol::kTcp);
  EXPECT_EQ(s.forwarding, ForwardingMode::kFullNat);
  EXPECT_EQ(s.key, BalanceKey::kFiveTuple);
  EXPECT_EQ(s.down_backend_flows, DownBackendFlows::kKeep);
  EXPECT_EQ(s.selector.algorithm, hashing::Algorithm::kMaglev);
  EXPECT_EQ(s.selector.maglev_size, hashing::MaglevTable::kDefaultSize);
  EXPECT_EQ(s.selector.ring_vnodes, hashing::RingTable::kDefaultVnodes);
  EXPECT_EQ(s.selector.seed, 0u);
  EXPECT_EQ(s.backends[0].weight, kDefaultWeight);
  EXPECT_EQ(s.backends[0].state, BackendAdminState::kEnabled);
  EXPECT_EQ(s.health_check.type, HealthCheckType::kNone);
  EXPECT_EQ(s.health_check.interval_ms, 2000u);
  EXPECT_EQ(s.health_check.timeout_ms, 1000u);
  EXPECT_EQ(s.health_check.rise, 2u);
  EXPECT_EQ(s.health_check.fall, 3u);
  EXPECT_EQ(s.health_check.port, 0);
  EXPECT_EQ(s.health_check.http_path, "/");
  EXPECT_EQ(s.health_check.http_expect_status, 200);
}

// `health_check:` with nothing under it is the default check (type none), like an empty section.
TEST(ParseConfigTest, EmptyHealthCheckIsTheDefault) {
  absl::StatusOr<Config> parsed = parseConfig(R"(
ports: [{name: lan, address: 10.99.0.2/24}]
services:
  - name: web
    vip: 10.99.0.100
    port: 80
    health_check:
    backends: []
)");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->services[0].health_check.type, HealthCheckType::kNone);
  EXPECT_EQ(parsed->services[0].health_check.http_path, "/");
}

// Every health-check limit is inclusive, in the file and in validateConfig().
TEST(ParseConfigTest, HealthCheckLimitsAreInclusive) {
  const std::string longest_path = "/" + std::string(1023, 'a');
  absl::StatusOr<Config> parsed = parseConfig(
      "ports: [{name: lan, address: 10.99.0.2/24}]\n"
      "services:\n"
      "  - {name: a, vip: 10.99.0.100, port: 80, backends: [],\n"
      "     health_check: {type: http, interval_ms: 3600000, timeout_ms: 3600000, rise: 1, fall: 100,\n"
      "                    port: 65535, http_expect_status: 599, http_path: \"" + longest_path + "\"}}\n"
      "  - {name: b, vip: 10.99.0.100, port: 81, backends: [],\n"
      "     health_check: {type: http, interval_ms: 100, timeout_ms: 10, rise: 100, fall: 1,\n"
      "                    port: 0, http_expect_status: 100, http_path: \"/~!$&'()*+,;=:@%20\"}}\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->services[0].health_check.http_path.size(), 1024u);
  EXPECT_EQ(parsed->services[0].health_check.interval_ms, 3600000u);
  EXPECT_EQ(parsed->services[1].health_check.timeout_ms, 10u);
  EXPECT_EQ(parsed->services[1].health_check.http_path, "/~!$&'()*+,;=:@%20");
}

// A section key with nothing under it means "empty", the way people leave a section to fill in later.
TEST(ParseConfigTest, NullSectionsReadAsEmpty) {
  absl::StatusOr<Config> parsed = parseConfig(
      "dataplane:\ntimeouts:\nneighbors:\nservices:\nports:\n  - {name: lan, address: 10.99.0.2/24}\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->dataplane.burst_size, kDefaultBurstSize);
  EXPECT_TRUE(parsed->services.empty());
}

// The same VIP and port may serve TCP and UDP separately: the listener key includes the protocol.
TEST(ParseConfigTest, SameVipAndPortWithDifferentProtocolsIsAllowed) {
  absl::StatusOr<Config> parsed = parseConfig(R"(
ports: [{name: lan, address: 10.99.0.2/24}]
services:
  - {name: a, vip: 10.99.0.100, port: 53, protocol: tcp, backends: [{address: 10.99.0.11, port: 53}]}
  - {name: b, vip: 10.99.0.100, port: 53, protocol: udp, backends: [{address: 10.99.0.11, port: 53}]}
)");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
}

// An IPv6 VIP lands in vip6 (network order) with vip 0, and the port's address6 in its field. Block-style
// YAML takes IPv6 text unquoted.
TEST(ParseConfigTest, Ipv6VipAndPortAddress6Parse) {
  absl::StatusOr<Config> parsed = parseConfig(R"(
ports:
  - name: lan
    address: 10.99.0.2/24
    address6: fd00:99::2/64
services:
  - name: web6
    vip: fd00:99::100
    port: 80
    backends: [{address: 10.99.0.11, port: 8080}]
)");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_TRUE(parsed->ports[0].address6.has_value());
  EXPECT_EQ(*parsed->ports[0].address6,
            (Ipv6Prefix{{0xfd, 0x00, 0x00, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02}, 64}));
  const ServiceConfig& web6 = parsed->services[0];
  ASSERT_TRUE(web6.vip6.has_value());
  EXPECT_EQ(*web6.vip6, (Ipv6Address{0xfd, 0x00, 0x00, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00}));
  EXPECT_EQ(web6.vip, 0u);
  EXPECT_EQ(web6.forwarding, ForwardingMode::kFullNat);
  EXPECT_EQ(formatVip(web6), "fd00:99::100");
  EXPECT_EQ(formatListener(web6), "[fd00:99::100]:80/tcp");
}

// The ICMP error budget: Linux's defaults when absent, the file's values when given, 0 allowed.
TEST(ParseConfigTest, IcmpErrorsDefaultAndParse) {
  const std::string ports = "ports: [{name: lan, address: 10.99.0.2/24}]\n";
  absl::StatusOr<Config> absent = parseConfig(ports);
  ASSERT_TRUE(absent.ok()) << absent.status();
  EXPECT_EQ(absent->icmp_errors.per_second, 1000u);
  EXPECT_EQ(absent->icmp_errors.burst, 50u);
  absl::StatusOr<Config> set = parseConfig(ports + "icmp_errors: {per_second: 0, burst: 7}\n");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->icmp_errors.per_second, 0u);
  EXPECT_EQ(set->icmp_errors.burst, 7u);
}

// DSR and IPIP serve IPv6 VIPs from dual-stack backends, which are still named by their IPv4 address
// (ARP resolves them, health checks reach them) and hold the VIP themselves.
TEST(ParseConfigTest, Ipv6VipTakesDsrAndIpip) {
  for (const auto& [text, mode] : {std::pair{"dsr", ForwardingMode::kDsrL2}, std::pair{"ipip", ForwardingMode::kDsrIpip}}) {
    absl::StatusOr<Config> parsed = parseConfig(absl::StrCat(R"(
ports: [{name: lan, address: 10.99.0.2/24, address6: "fd00:99::2/64"}]
services:
  - {name: web6, vip: "fd00:99::100", port: 80, forwarding: )", text, R"(,
     backends: [{address: 10.99.0.11}, {address: 10.99.0.12, weight: 2}]}
)"));
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    const ServiceConfig& web6 = parsed->services[0];
    ASSERT_TRUE(web6.vip6.has_value());
    EXPECT_EQ(web6.forwarding, mode) << text;
    EXPECT_EQ(web6.backends[1].port, 80) << text;  // DSR's backend port defaults to the service's
  }
}

// Cookie stickiness serves IPv6 clients too: the SYN proxy answers them over IPv6 and binds them to
// the IPv4 backends through NAT64.
TEST(ParseConfigTest, Ipv6VipTakesAnHttpBlock) {
  absl::StatusOr<Config> parsed = parseConfig(R"(
ports: [{name: lan, address: 10.99.0.2/24, address6: "fd00:99::2/64"}]
services:
  - name: shop6
    vip: "fd00:99::100"
    port: 80
    http: {sticky: [learn_cookie, source_address], session_cookie: SESSIONID}
    backends: [{address: 10.99.0.11, port: 8081}, {address: 10.99.0.12, port: 8081}]
)");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const ServiceConfig& shop6 = parsed->services[0];
  ASSERT_TRUE(shop6.vip6.has_value());
  ASSERT_TRUE(shop6.http.has_value());
  EXPECT_EQ(shop6.http->session_cookie, "SESSIONID");
  EXPECT_TRUE(shop6.http->share_sessions_with.empty());

  absl::StatusOr<Config> shared = parseConfig(R"(
ports: [{name: lan, address: 10.99.0.2/24, address6: "fd00:99::2/64"}]
services:
  - {name: shop, vip: 10.99.0.100, port: 80, http: {session_cookie: SESSIONID}, backends: [{address: 10.99.0.11, port: 8081}]}
  - {name: shop6, vip: "fd00:99::100", port: 80, backends: [{address: 10.99.0.11, port: 8081}],
     http: {session_cookie: SESSIONID, share_sessions_with: shop}}
)");
  ASSERT_TRUE(shared.ok()) << shared.status();
  EXPECT_EQ(shared->services[1].http->share_sessions_with, "shop");
  EXPECT_EQ(sessionOwnerName(shared->services[1]), "shop");
  EXPECT_EQ(sessionOwnerName(shared->services[0]), "shop");
}

// Listeners compare by address family too: IPv6 services all have vip 0, and must not collide with
// each other (different vip6) nor with an IPv4 service on the same port.
TEST(ParseConfigTest, Ipv6ListenersAreDistinctFromEachOtherAndFromIpv4) {
  absl::StatusOr<Config> parsed = parseConfig(R"(
ports: [{name: lan, address: 10.99.0.2/24, address6: "fd00:99::2/64"}]
services:
  - {name: a, vip: 10.99.0.100, port: 80, backends: [{address: 10.99.0.11, port: 80}]}
  - {name: b, vip: "fd00:99::100", port: 80, backends: [{address: 10.99.0.11, port: 80}]}
  - {name: c, vip: "fd00:99::101", port: 80, backends: [{address: 10.99.0.11, port: 80}]}
  - {name: d, vip: "fd00:99::100", port: 80, protocol: udp, backends: [{address: 10.99.0.11, port: 80}]}
)");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const std::vector<ServiceConfig>& s = parsed->services;
  EXPECT_FALSE(sameListener(s[0], s[1]));
  EXPECT_FALSE(sameListener(s[1], s[2]));
  EXPECT_FALSE(sameListener(s[1], s[3]));
  ServiceConfig copy = s[2];
  copy.name = "e";
  EXPECT_TRUE(sameListener(s[2], copy));
}

// Errors point at the line where the offending key was written.
TEST(ParseConfigTest, ErrorsCarryLineNumbers) {
  std::string yaml(kFullYaml);
  yaml.replace(yaml.find("weight: 1000000"), 15, "weight: 2000000");
  absl::Status status = parseConfig(yaml).status();
  EXPECT_TRUE(failsWith(status,
                        "services[0].backends[0].weight: 2000000 is out of range 0..1000000 "
                        "(line 43)"));

  status = parseConfig("ports:\n  - name: lan\n    address: [\n").status();
  EXPECT_TRUE(failsWith(status, "YAML syntax error at line 4, column 1"));
}

// ----------------------------------------------------------------------------------------------------
// Table of bad YAML: each row must fail with InvalidArgument whose message contains `error`.

struct BadYamlCase {
  std::string name;  // test name suffix
  std::string yaml;
  std::string error;  // expected substring
};

void PrintTo(const BadYamlCase& c, std::ostream* os) { *os << c.name; }

const std::string kPorts = "ports:\n  - {name: lan, address: 10.99.0.2/24}\n";
const std::string kBackend = "backends: [{address: 10.99.0.11, port: 8080}]";
const std::string kWeb = "name: web, vip: 10.99.0.100, port: 80";

// The minimal valid file with `services` replaced by one service whose flow map is `body`.
std::string service(const std::string& body) { return kPorts + "services:\n  - {" + body + "}\n"; }
std::string webWith(const std::string& extra) { return service(kWeb + ", " + kBackend + ", " + extra); }
std::string backendWith(const std::string& backend) {
  return service(kWeb + ", backends: [{" + backend + "}]");
}
std::string dataplaneWith(const std::string& body) { return kPorts + "dataplane: {" + body + "}\n"; }
std::string timeoutsWith(const std::string& body) { return kPorts + "timeouts: {" + body + "}\n"; }
std::string portWith(const std::string& body) { return "ports:\n  - {" + body + "}\n"; }
std::string neighborWith(const std::string& body) { return kPorts + "neighbors: [{" + body + "}]\n"; }
std::string healthWith(const std::string& body) { return webWith("health_check: {" + body + "}"); }
// The same with an IPv6 address on the port, which every IPv6 VIP needs. IPv6 text needs no quotes,
// even in flow style; other rows quote it, which works as well.
const std::string kPorts6 = "ports:\n  - {name: lan, address: 10.99.0.2/24, address6: fd00:99::2/64}\n";
const std::string kWeb6 = "name: web6, vip: fd00:99::100, port: 80";
std::string service6(const std::string& body) { return kPorts6 + "services:\n  - {" + body + "}\n"; }
std::string web6With(const std::string& extra) { return service6(kWeb6 + ", " + kBackend + ", " + extra); }

const std::vector<BadYamlCase>& badYamlCases() {
  static const std::vector<BadYamlCase> cases = {
      // --- file shape -------------------------------------------------------------------------------
      // Malformed YAML reports yaml-cpp's message with a 1-based line and column.
      {"SyntaxError", "ports: [\n", "YAML syntax error at line 2, column 1"},
      // An empty file is not "all defaults": there would be no port.
      {"EmptyFile", "", "configuration is empty"},
      // Whitespace and comments only are as empty as an empty file.
      {"CommentsOnly", "# nothing here\n\n", "configuration is empty"},
      // The root must be a map, not a list...
      {"RootIsList", "- ports\n- services\n", "top level: expected a map, got a list"},
      // ...nor a scalar.
      {"RootIsScalar", "hello\n", "top level: expected a map, got \"hello\""},
      // A second document after --- would be silently ignored by YAML::Load; reject it.
      {"TwoDocuments", kPorts + "---\n" + kPorts, "2 YAML documents"},
      // Nesting bombs hit yaml-cpp's depth guard instead of the stack.
      {"DeepNesting", "ports: " + std::string(5000, '[') + std::string(5000, ']'), "YAML syntax error"},

      // --- unknown, repeated and malformed keys -----------------------------------------------------
      // Unknown top-level key.
      {"UnknownTopLevelKey", kPorts + "service: []\n", "service: unknown key"},
      // Unknown key in a service.
      {"UnknownServiceKey", webWith("bogus: 1"), "services[0].bogus: unknown key"},
      // Unknown key in a backend (a typo must not silently fall back to the default weight).
      {"UnknownBackendKey", backendWith("address: 10.99.0.11, port: 8080, wieght: 5"),
       "services[0].backends[0].wieght: unknown key"},
      // Unknown key in dataplane.
      {"UnknownDataplaneKey", dataplaneWith("burst: 32"), "dataplane.burst: unknown key"},
      // Unknown key in a port.
      {"UnknownPortKey", portWith("name: lan, address: 10.99.0.2/24, mtu: 9000"),
       "ports[0].mtu: unknown key"},
      // Unknown key in timeouts.
      {"UnknownTimeoutKey", timeoutsWith("tcp_fin_s: 5"), "timeouts.tcp_fin_s: unknown key"},
      {"UnknownIcmpErrorsKey", kPorts + "icmp_errors: {rate: 5}\n", "icmp_errors.rate: unknown key"},
      // Unknown key in a neighbor.
      {"UnknownNeighborKey", neighborWith("address: 10.99.0.11, mac: 02:00:00:00:00:01, port: 0"),
       "neighbors[0].port: unknown key"},
      // A key that is not a plain word is quoted after its parent's path.
      {"UnknownOddKey", kPorts + "\"a b: c\": 1\n", "top level: unknown key \"a b: c\""},
      // A key given twice is an error: yaml-cpp would keep only the first.
      {"RepeatedKey", webWith("port: 81"), "services[0].port: key appears twice"},
      // Keys must be scalars.
      {"NonScalarKey", kPorts + "? [a, b]\n: 1\n", "keys must be strings, got a list"},

      // --- required keys ----------------------------------------------------------------------------
      // ports is required.
      {"MissingPorts", "services: []\n", "ports: required"},
      // ... and must not be empty.
      {"EmptyPorts", "ports: []\n", "ports: at least one port is required"},
      // ... nor null.
      {"NullPorts", "ports:\n", "ports: at least one port is required"},
      // A port needs a name.
      {"MissingPortName", portWith("address: 10.99.0.2/24"), "ports[0].name: required"},
      // A port needs an address.
      {"MissingPortAddress", portWith("name: lan"), "ports[0].address: required"},
      // A service needs a name.
      {"MissingServiceName", service("vip: 10.99.0.100, port: 80, " + kBackend),
       "services[0].name: required"},
      // A service needs a VIP.
      {"MissingVip", service("name: web, port: 80, " + kBackend), "services[0].vip: required"},
      // A service needs a port.
      {"MissingServicePort", service("name: web, vip: 10.99.0.100, " + kBackend),
       "services[0].port: required"},
      // A service needs a backends list (it may be empty, but must be written).
      {"MissingBackends", service(kWeb), "services[0].backends: required"},
      // A backend needs an address.
      {"MissingBackendAddress", backendWith("port: 8080"), "services[0].backends[0].address: required"},
      // A full-NAT backend needs a port: there is no sensible default for the translated port.
      {"MissingFullNatBackendPort", backendWith("address: 10.99.0.11"),
       "services[0].backends[0].port: required for forwarding fullnat"},
      // A neighbor needs a MAC.
      {"MissingNeighborMac", neighborWith("address: 10.99.0.11"), "neighbors[0].mac: required"},

      // --- types ------------------------------------------------------------------------------------
      // A quoted number is a string, not a number.
      {"QuotedNumber", service("name: web, vip: 10.99.0.100, port: \"80\", " + kBackend),
       "services[0].port: \"80\" is a string, expected an integer"},
      // A word where a number is expected is an error, not 0.
      {"WordForNumber", dataplaneWith("burst_size: lots"),
       "dataplane.burst_size: \"lots\" is not a decimal integer"},
      // Floats are not integers.
      {"FloatForInteger", backendWith("address: 10.99.0.11, port: 8080, weight: 1.5"),
       "services[0].backends[0].weight: \"1.5\" is not a decimal integer"},
      // Booleans are not integers.
      {"BoolForInteger", dataplaneWith("mbufs: true"),
       "dataplane.mbufs: \"true\" is not a decimal integer"},
      // Hex is not accepted (YAML 1.1 vs 1.2 disagree on it and on leading zeros).
      {"HexInteger", dataplaneWith("mbufs: 0x3ff"),
       "dataplane.mbufs: \"0x3ff\" is not a decimal integer"},
      // A map where a number is expected.
      {"MapForInteger", service("name: web, vip: 10.99.0.100, port: {a: 1}, " + kBackend),
       "services[0].port: expected an integer, got a map"},
      // A list where a string is expected.
      {"ListForString", service("name: [web], vip: 10.99.0.100, port: 80, " + kBackend),
       "services[0].name: expected a string, got a list"},
      // A list where an address is expected.
      {"ListForAddress", service("name: web, vip: [10.99.0.100], port: 80, " + kBackend),
       "services[0].vip: expected an IPv4 or IPv6 address, got a list"},
      // A null where a value is required.
      {"NullVip", service("name: web, vip: , port: 80, " + kBackend),
       "services[0].vip: expected an IPv4 or IPv6 address, got null"},
      // A null number.
      {"NullWeight", backendWith("address: 10.99.0.11, port: 8080, weight: ~"),
       "services[0].backends[0].weight: expected an integer, got null"},
      // A null enum.
      {"NullForwarding", webWith("forwarding: null"),
       "services[0].forwarding: expected fullnat, dsr or ipip, got null"},
      // A null list item.
      {"NullListItem", "ports:\n  -\n", "ports[0]: expected a map, got null"},
      // A list item that is a scalar.
      {"ScalarListItem", kPorts + "services: [web]\n", "services[0]: expected a map, got \"web\""},
      // A map where a list is expected.
      {"MapForList", kPorts + "services: {web: 1}\n", "services: expected a list, got a map"},
      // A list where a map (section) is expected.
      {"ListForSection", kPorts + "dataplane: [1]\n", "dataplane: expected a map, got a list"},
      // A scalar where a section is expected.
      {"ScalarForSection", kPorts + "timeouts: 5\n", "timeouts: expected a map, got \"5\""},

      // --- numbers out of range -------------------------------------------------------------------
      // Weight above kMaxWeight.
      {"WeightTooLarge", backendWith("address: 10.99.0.11, port: 8080, weight: 2000000"),
       "services[0].backends[0].weight: 2000000 is out of range 0..1000000"},
      // Huge numbers are reported as written, not wrapped.
      {"HugeNumber", backendWith("address: 10.99.0.11, port: 8080, weight: 99999999999999999999999"),
       "weight: 99999999999999999999999 is out of range 0..1000000"},
      // Negative numbers are out of range, not wrapped to 2^64 - n.
      {"NegativeNumber", service("name: web, vip: 10.99.0.100, port: -80, " + kBackend),
       "services[0].port: -80 is out of range 1..65535"},
      // Negative weight.
      {"NegativeWeight", backendWith("address: 10.99.0.11, port: 8080, weight: -1"),
       "weight: -1 is out of range 0..1000000"},
      // A seed needs all 64 bits but no more.
      {"SeedTooLarge", webWith("seed: 18446744073709551616"),
       "services[0].seed: 18446744073709551616 is out of range 0..18446744073709551615"},
      // Negative seed.
      {"SeedNegative", webWith("seed: -1"), "services[0].seed: -1 is out of range"},
      // Service port 0.
      {"ServicePortZero", service("name: web, vip: 10.99.0.100, port: 0, " + kBackend),
       "services[0].port: 0 is out of range 1..65535"},
      // Service port above 65535.
      {"ServicePortTooLarge", service("name: web, vip: 10.99.0.100, port: 65536, " + kBackend),
       "services[0].port: 65536 is out of range 1..65535"},
      // Backend port above 65535.
      {"BackendPortTooLarge", backendWith("address: 10.99.0.11, port: 70000"),
       "services[0].backends[0].port: 70000 is out of range 1..65535"},
      // burst_size below 1.
      {"BurstSizeZero", dataplaneWith("burst_size: 0"),
       "dataplane.burst_size: 0 is out of range 1..256"},
      // burst_size above 256.
      {"BurstSizeTooLarge", dataplaneWith("burst_size: 257"),
       "dataplane.burst_size: 257 is out of range 1..256"},
      // mbufs below 1023.
      {"MbufsTooFew", dataplaneWith("mbufs: 1022"),
       "dataplane.mbufs: 1022 is out of range 1023..1048575"},
      // mbufs above 1048575.
      {"MbufsTooMany", dataplaneWith("mbufs: 1048576"),
       "dataplane.mbufs: 1048576 is out of range 1023..1048575"},
      // An mbuf too small for a standard frame, and one past rte_mbuf's 16-bit buffer length.
      {"MbufDataRoomTooSmall", dataplaneWith("mbuf_data_room: 2048"),
       "dataplane.mbuf_data_room: 2048 is out of range 2176..65535"},
      {"MbufDataRoomTooLarge", dataplaneWith("mbuf_data_room: 65536"),
       "dataplane.mbuf_data_room: 65536 is out of range 2176..65535"},
      // Flow table below 1024 entries.
      {"FlowEntriesTooFew", dataplaneWith("flow_entries_per_lcore: 512"),
       "dataplane.flow_entries_per_lcore: 512 is out of range 1024..16777216"},
      // Flow table above 2^24 entries.
      {"FlowEntriesTooMany", dataplaneWith("flow_entries_per_lcore: 33554432"),
       "dataplane.flow_entries_per_lcore: 33554432 is out of range 1024..16777216"},
      // Flow table size must be a power of two.
      {"FlowEntriesNotPowerOfTwo", dataplaneWith("flow_entries_per_lcore: 100000"),
       "dataplane.flow_entries_per_lcore: 100000 is not a power of two"},
      // Local port 0 is not a usable source port.
      {"LocalPortMinZero", dataplaneWith("local_port_min: 0"),
       "dataplane.local_port_min: 0 is out of range 1..65535"},
      // local_port_max above 65535.
      {"LocalPortMaxTooLarge", dataplaneWith("local_port_max: 65536"),
       "dataplane.local_port_max: 65536 is out of range 1..65535"},
      // min <= max.
      {"LocalPortsInverted", dataplaneWith("local_port_min: 50000, local_port_max: 40000"),
       "dataplane.local_port_min: 50000 is greater than local_port_max 40000"},
      // At least 1024 local ports.
      {"LocalPortRangeTooSmall", dataplaneWith("local_port_min: 10000, local_port_max: 11022"),
       "range 10000..11022 has 1023 ports; at least 1024 are required"},
      // Reassembly: 0 turns it off, above 65536 datagrams per lcore is refused; 10 ms..60 s.
      {"FragmentDatagramsTooMany", dataplaneWith("fragment_datagrams_per_lcore: 65537"),
       "dataplane.fragment_datagrams_per_lcore: 65537 is out of range 0..65536"},
      {"FragmentTimeoutTooShort", dataplaneWith("fragment_timeout_ms: 5"),
       "dataplane.fragment_timeout_ms: 5 is out of range 10..60000"},
      // Timeouts are at least 1 s...
      {"TimeoutZero", timeoutsWith("udp_s: 0"), "timeouts.udp_s: 0 is out of range 1..86400"},
      {"IcmpErrorBurstZero", kPorts + "icmp_errors: {burst: 0}\n", "icmp_errors.burst: 0 is out of range 1..100000"},
      {"IcmpErrorsTooFast", kPorts + "icmp_errors: {per_second: 1000001}\n",
       "icmp_errors.per_second: 1000001 is out of range 0..1000000"},
      // ... and at most a day.
      {"TimeoutTooLong", timeoutsWith("tcp_syn_s: 86401"),
       "timeouts.tcp_syn_s: 86401 is out of range 1..86400"},
      // Established timeout range.
      {"EstablishedTimeoutZero", timeoutsWith("tcp_established_s: 0"),
       "timeouts.tcp_established_s: 0 is out of range 1..86400"},
      // Closing timeout range.
      {"ClosingTimeoutTooLong", timeoutsWith("tcp_closing_s: 100000"),
       "timeouts.tcp_closing_s: 100000 is out of range 1..86400"},
      // VLAN 4095 is reserved.
      {"VlanTooLarge", portWith("name: lan, address: 10.99.0.2/24, vlan: 4095"),
       "ports[0].vlan: 4095 is out of range 0..4094"},
      // maglev_size 0.
      {"MaglevSizeZero", webWith("maglev_size: 0"),
       "services[0].maglev_size: 0 is out of range 1..16777216"},
      // maglev_size so large a table would not fit comfortably in memory.
      {"MaglevSizeTooLarge", webWith("maglev_size: 4294967291"),
       "services[0].maglev_size: 4294967291 is out of range 1..16777216"},
      // ring_vnodes 0 would give backends no points.
      {"RingVnodesZero", webWith("ring_vnodes: 0"),
       "services[0].ring_vnodes: 0 is out of range 1..65536"},

      // --- enums --------------------------------------------------------------------------------------
      // Unknown forwarding mode lists the choices.
      {"BadForwarding", webWith("forwarding: dsrr"),
       "services[0].forwarding: \"dsrr\" is not one of fullnat, dsr, ipip"},
      // Unknown protocol.
      {"BadProtocol", webWith("protocol: sctp"),
       "services[0].protocol: \"sctp\" is not one of tcp, udp"},
      // Names are case-sensitive.
      {"UpperCaseProtocol", webWith("protocol: TCP"),
       "services[0].protocol: \"TCP\" is not one of tcp, udp"},
      // Unknown balance key.
      {"BadKey", webWith("key: src_ip"),
       "services[0].key: \"src_ip\" is not one of five_tuple, source_address"},
      // The down-backend policy is one of two names.
      {"BadDownBackendFlows", webWith("down_backend_flows: drop"),
       "services[0].down_backend_flows: \"drop\" is not one of keep, reset"},
      // Slow start lasts at most an hour.
      {"SlowStartTooLong", webWith("slow_start_s: 3601"),
       "services[0].slow_start_s: 3601 is out of range 0..3600"},
      // Unknown algorithm.
      {"BadAlgorithm", webWith("algorithm: rendezvous"),
       "services[0].algorithm: \"rendezvous\" is not one of maglev, ring, modulo"},

      // --- addresses ----------------------------------------------------------------------------------
      // Octet above 255.
      {"PortAddressBadOctet", portWith("name: lan, address: 10.0.0.300/24"),
       "ports[0].address: \"10.0.0.300/24\" is not an IPv4 prefix"},
      // A port address needs its prefix length (it defines the on-link subnet).
      {"PortAddressWithoutLength", portWith("name: lan, address: 10.99.0.2"),
       "ports[0].address: \"10.99.0.2\" is not an IPv4 prefix"},
      // Prefix length above 32.
      {"PortPrefixTooLong", portWith("name: lan, address: 10.99.0.2/33"),
       "ports[0].address: \"10.99.0.2/33\" is not an IPv4 prefix"},
      // Three octets are not an address (inet_aton would accept it as 10.99.0.0).
      {"VipThreeOctets", service("name: web, vip: 10.99.100, port: 80, " + kBackend),
       "services[0].vip: \"10.99.100\" is neither an IPv4 nor an IPv6 address"},
      // Leading zeros are ambiguous (octal to inet_aton).
      {"VipLeadingZero", service("name: web, vip: 010.99.0.100, port: 80, " + kBackend),
       "services[0].vip: \"010.99.0.100\" is neither an IPv4 nor an IPv6 address"},
      // A prefix where an address is expected.
      {"VipWithPrefix", service("name: web, vip: 10.99.0.100/32, port: 80, " + kBackend),
       "services[0].vip: \"10.99.0.100/32\" is neither an IPv4 nor an IPv6 address"},
      // An IPv6 VIP is one address too, not a prefix.
      {"Vip6WithPrefix", service("name: web, vip: \"fd00:99::100/128\", port: 80, " + kBackend),
       "services[0].vip: \"fd00:99::100/128\" is neither an IPv4 nor an IPv6 address"},
      // A colon makes the text IPv6, and then it must be one.
      {"Vip6Junk", service("name: web, vip: \"fd00:99:::100\", port: 80, " + kBackend),
       "services[0].vip: \"fd00:99:::100\" is neither an IPv4 nor an IPv6 address"},
      // A zone id names an interface, which a VIP never does.
      {"Vip6ZoneId", service("name: web, vip: \"fe80::1%eth0\", port: 80, " + kBackend),
       "services[0].vip: \"fe80::1%eth0\" is neither an IPv4 nor an IPv6 address"},
      // Brackets are URL syntax, not part of the address.
      {"Vip6Brackets", service("name: web, vip: \"[fd00:99::100]\", port: 80, " + kBackend),
       "services[0].vip: \"[fd00:99::100]\" is neither an IPv4 nor an IPv6 address"},
      // A port's address6 needs its prefix length.
      {"PortAddress6WithoutLength",
       portWith("name: lan, address: 10.99.0.2/24, address6: \"fd00:99::2\""),
       "ports[0].address6: \"fd00:99::2\" is not an IPv6 prefix"},
      // Prefix length above 128.
      {"PortAddress6PrefixTooLong",
       portWith("name: lan, address: 10.99.0.2/24, address6: \"fd00:99::2/129\""),
       "ports[0].address6: \"fd00:99::2/129\" is not an IPv6 prefix"},
      // An IPv4 prefix is not an IPv6 one.
      {"PortAddress6IsIpv4", portWith("name: lan, address: 10.99.0.2/24, address6: 10.99.0.3/24"),
       "ports[0].address6: \"10.99.0.3/24\" is not an IPv6 prefix"},
      // Bad gateway text.
      {"GatewayNotAddress", portWith("name: lan, address: 10.99.0.2/24, gateway: router"),
       "ports[0].gateway: \"router\" is not an IPv4 address"},
      // Bad backend address text.
      {"BackendAddressHostname", backendWith("address: backend1, port: 8080"),
       "services[0].backends[0].address: \"backend1\" is not an IPv4 address"},
      // MAC with five octets.
      {"MacTooShort", neighborWith("address: 10.99.0.11, mac: \"02:00:0a:63:00\""),
       "neighbors[0].mac: \"02:00:0a:63:00\" is not a MAC address"},
      // MAC with a non-hex digit.
      {"MacBadDigit", neighborWith("address: 10.99.0.11, mac: \"02:00:0a:63:00:0g\""),
       "neighbors[0].mac: \"02:00:0a:63:00:0g\" is not a MAC address"},
      // A multicast MAC cannot be a neighbor.
      {"MacMulticast", neighborWith("address: 10.99.0.11, mac: \"01:00:5e:00:00:01\""),
       "neighbors[0].mac: 01:00:5e:00:00:01 is not a unicast MAC address"},
      // A multicast VIP.
      {"VipMulticast", service("name: web, vip: 224.0.0.1, port: 80, " + kBackend),
       "services[0].vip: 224.0.0.1 is not a unicast address"},
      // A port's address6 must be unicast: not multicast...
      {"PortAddress6Multicast",
       portWith("name: lan, address: 10.99.0.2/24, address6: \"ff02::1/64\""),
       "ports[0].address6: ff02::1/64 is not a unicast address (::, ::1, ff00::/8 and ::ffff:0:0/96 are "
       "reserved)"},
      // ... nor loopback...
      {"PortAddress6Loopback", portWith("name: lan, address: 10.99.0.2/24, address6: \"::1/128\""),
       "ports[0].address6: ::1/128 is not a unicast address"},
      // ... nor IPv4-mapped.
      {"PortAddress6Mapped",
       portWith("name: lan, address: 10.99.0.2/24, address6: \"::ffff:10.99.0.2/96\""),
       "ports[0].address6: ::ffff:10.99.0.2/96 is not a unicast address"},
      // 0.0.0.0 as a backend.
      {"BackendZeroAddress", backendWith("address: 0.0.0.0, port: 8080"),
       "services[0].backends[0].address: 0.0.0.0 is not a unicast address"},
      // Loopback as a neighbor.
      {"NeighborLoopback", neighborWith("address: 127.0.0.1, mac: \"02:00:00:00:00:01\""),
       "neighbors[0].address: 127.0.0.1 is not a unicast address"},
      // A port cannot own its subnet's network address...
      {"PortNetworkAddress", portWith("name: lan, address: 10.99.0.0/24"),
       "ports[0].address: 10.99.0.0/24 is the network address of its subnet"},
      // ... nor its broadcast address.
      {"PortBroadcastAddress", portWith("name: lan, address: 10.99.0.255/24"),
       "ports[0].address: 10.99.0.255/24 is the broadcast address of its subnet"},
      // The gateway is ARPed on the port, so it must be on the port's subnet.
      {"GatewayOffSubnet", portWith("name: lan, address: 10.99.0.2/24, gateway: 10.1.0.1"),
       "ports[0].gateway: 10.1.0.1 is not another host on ports[0].address 10.99.0.2/24"},
      // The gateway is not the port itself.
      {"GatewayIsPort", portWith("name: lan, address: 10.99.0.2/24, gateway: 10.99.0.2"),
       "ports[0].gateway: 10.99.0.2 is not another host"},

      // --- names --------------------------------------------------------------------------------------
      // Upper case is outside [a-z0-9_-].
      {"ServiceNameUpperCase", service("name: Web, vip: 10.99.0.100, port: 80, " + kBackend),
       "services[0].name: \"Web\" must match [a-z0-9_-]+"},
      // Spaces too.
      {"ServiceNameSpace", service("name: my web, vip: 10.99.0.100, port: 80, " + kBackend),
       "services[0].name: \"my web\" must match [a-z0-9_-]+"},
      // Empty name.
      {"ServiceNameEmpty", service("name: \"\", vip: 10.99.0.100, port: 80, " + kBackend),
       "services[0].name: must not be empty"},
      // Names become metric labels; cap their length.
      {"ServiceNameTooLong",
       service("name: " + std::string(64, 'a') + ", vip: 10.99.0.100, port: 80, " + kBackend),
       "is longer than 63 characters"},
      // Port names follow the same pattern.
      {"PortNameBad", portWith("name: eth0.1, address: 10.99.0.2/24"),
       "ports[0].name: \"eth0.1\" must match"},

      // --- backend state ------------------------------------------------------------------------------
      // Unknown state lists the choices.
      {"BadBackendState", backendWith("address: 10.99.0.11, port: 8080, state: drain"),
       "services[0].backends[0].state: \"drain\" is not one of enabled, draining, disabled"},
      // A null state is an error, not the default.
      {"NullBackendState", backendWith("address: 10.99.0.11, port: 8080, state: ~"),
       "services[0].backends[0].state: expected enabled, draining or disabled, got null"},

      // --- health checks ------------------------------------------------------------------------------
      // health_check is a map.
      {"HealthCheckNotMap", webWith("health_check: tcp"),
       "services[0].health_check: expected a map, got \"tcp\""},
      // Unknown key in a health check (here a unit-less spelling of interval_ms).
      {"UnknownHealthCheckKey", healthWith("type: tcp, interval: 5"),
       "services[0].health_check.interval: unknown key"},
      // Unknown check type lists the choices.
      {"BadHealthCheckType", healthWith("type: icmp"),
       "services[0].health_check.type: \"icmp\" is not one of none, tcp, http"},
      // interval_ms below 100.
      {"HealthIntervalTooShort", healthWith("type: tcp, interval_ms: 99"),
       "services[0].health_check.interval_ms: 99 is out of range 100..3600000"},
      // interval_ms above an hour.
      {"HealthIntervalTooLong", healthWith("type: tcp, interval_ms: 3600001"),
       "services[0].health_check.interval_ms: 3600001 is out of range 100..3600000"},
      // timeout_ms below 10.
      {"HealthTimeoutTooShort", healthWith("type: tcp, timeout_ms: 9"),
       "services[0].health_check.timeout_ms: 9 is out of range 10..3600000"},
      // timeout_ms above interval_ms (a check would still run when the next is due).
      {"HealthTimeoutAboveInterval", healthWith("type: tcp, interval_ms: 1000, timeout_ms: 1001"),
       "services[0].health_check.timeout_ms: 1001 is out of range 10..1000 (at most interval_ms)"},
      // ... also against the default interval_ms of 2000.
      {"HealthTimeoutAboveDefaultInterval", healthWith("type: tcp, timeout_ms: 3000"),
       "services[0].health_check.timeout_ms: 3000 is out of range 10..2000 (at most interval_ms)"},
      // rise 0 would mark a backend up without a single pass.
      {"HealthRiseZero", healthWith("type: tcp, rise: 0"),
       "services[0].health_check.rise: 0 is out of range 1..100"},
      // rise above 100.
      {"HealthRiseTooLarge", healthWith("type: tcp, rise: 101"),
       "services[0].health_check.rise: 101 is out of range 1..100"},
      // fall 0 would mark a backend down without a single failure.
      {"HealthFallZero", healthWith("type: tcp, fall: 0"),
       "services[0].health_check.fall: 0 is out of range 1..100"},
      // fall above 100.
      {"HealthFallTooLarge", healthWith("type: tcp, fall: 101"),
       "services[0].health_check.fall: 101 is out of range 1..100"},
      // Check port above 65535.
      {"HealthPortTooLarge", healthWith("type: tcp, port: 65536"),
       "services[0].health_check.port: 65536 is out of range 0..65535"},
      // A quoted number is a string here too.
      {"HealthIntervalQuoted", healthWith("type: tcp, interval_ms: \"1000\""),
       "services[0].health_check.interval_ms: \"1000\" is a string, expected an integer"},
      // Expected status below 100.
      {"HttpStatusTooLow", healthWith("type: http, http_expect_status: 99"),
       "services[0].health_check.http_expect_status: 99 is out of range 100..599"},
      // Expected status above 599.
      {"HttpStatusTooHigh", healthWith("type: http, http_expect_status: 600"),
       "services[0].health_check.http_expect_status: 600 is out of range 100..599"},
      // The path must be absolute: it is the request target of `GET <path> HTTP/1.1`.
      {"HttpPathRelative", healthWith("type: http, http_path: healthz"),
       "services[0].health_check.http_path: \"healthz\" must start with \"/\""},
      // An empty path is not absolute either.
      {"HttpPathEmpty", healthWith("type: http, http_path: \"\""),
       "services[0].health_check.http_path: \"\" must start with \"/\""},
      // A space would split the request line.
      {"HttpPathSpace", healthWith("type: http, http_path: \"/a b\""),
       "services[0].health_check.http_path: \"/a b\" must be printable ASCII without spaces "
       "(0x20 at offset 2)"},
      // Control bytes would corrupt it.
      {"HttpPathControl", healthWith("type: http, http_path: \"/a\\tb\""),
       "must be printable ASCII without spaces (0x09 at offset 2)"},
      // Non-ASCII must be percent-encoded by the operator.
      {"HttpPathNonAscii", healthWith("type: http, http_path: \"/caf\xc3\xa9\""),
       "must be printable ASCII without spaces (0xc3 at offset 4)"},
      // At most 1024 characters.
      {"HttpPathTooLong", healthWith("type: http, http_path: /" + std::string(1024, 'a')),
       "(1025 characters) is longer than 1024 characters"},
      // A list is not a path.
      {"HttpPathList", healthWith("type: http, http_path: [/]"),
       "services[0].health_check.http_path: expected a string, got a list"},
      // http_* keys need type http: on a tcp check they would be silently ignored.
      {"HttpPathOnTcpCheck", healthWith("type: tcp, http_path: /healthz"),
       "services[0].health_check.http_path: needs type: http (type is tcp) (line 4)"},
      // ... and the default type is none, which says so.
      {"HttpStatusWithoutType", healthWith("http_expect_status: 204"),
       "services[0].health_check.http_expect_status: needs type: http (type defaults to none)"},

      // --- cross-field rules --------------------------------------------------------------------------
      // Service names are unique.
      {"DuplicateServiceName",
       kPorts + "services:\n  - {" + kWeb + ", " + kBackend + "}\n" +
           "  - {name: web, vip: 10.99.0.101, port: 80, " + kBackend + "}\n",
       "services[1].name: \"web\" is already the name of services[0]"},
      // (vip, port, protocol) is unique: one listener, one service.
      {"DuplicateListener",
       kPorts + "services:\n  - {" + kWeb + ", " + kBackend + "}\n" +
           "  - {name: web2, vip: 10.99.0.100, port: 80, protocol: tcp, " + kBackend + "}\n",
       "services[1]: 10.99.0.100:80/tcp is already served by services[0] (web)"},
      // The same for IPv6 listeners, written with the brackets of a URL.
      {"DuplicateListener6",
       kPorts6 + "services:\n  - {" + kWeb6 + ", " + kBackend + "}\n" +
           "  - {name: web7, vip: \"fd00:99:0::100\", port: 80, " + kBackend + "}\n",
       "services[1]: [fd00:99::100]:80/tcp is already served by services[0] (web6)"},
      // An IPv6 VIP in DSR or IPIP hands the client's packet to the backend unchanged, as an IPv4 one.
      {"Vip6DsrBackendPort", service6(kWeb6 + ", forwarding: dsr, " + kBackend),
       "services[0].backends[0].port: 8080 must equal the service port 80 with forwarding dsr"},
      {"Vip6IpipHttp", service6(kWeb6 + ", forwarding: ipip, http: {sticky: [five_tuple]}, "
                                        "backends: [{address: 10.99.0.11}]"),
       "services[0].http: needs forwarding fullnat (forwarding is ipip)"},
      // share_sessions_with names another HTTP service that owns its sessions and reads the same cookie.
      {"ShareSessionsWithItself", webWith("http: {session_cookie: SID, share_sessions_with: web}"),
       "services[0].http.share_sessions_with: \"web\" is this service itself"},
      {"ShareSessionsWithNobody", webWith("http: {session_cookie: SID, share_sessions_with: shop}"),
       "services[0].http.share_sessions_with: no service is named \"shop\""},
      {"ShareSessionsWithPlainService",
       kPorts + "services:\n  - {" + kWeb + ", " + kBackend + "}\n" +
           "  - {name: web2, vip: 10.99.0.101, port: 80, " + kBackend +
           ", http: {session_cookie: SID, share_sessions_with: web}}\n",
       "services[1].http.share_sessions_with: \"web\" has no http block, so no sessions to share"},
      {"ShareSessionsChain",
       kPorts + "services:\n  - {" + kWeb + ", " + kBackend + ", http: {session_cookie: SID}}\n" +
           "  - {name: web2, vip: 10.99.0.101, port: 80, " + kBackend +
           ", http: {session_cookie: SID, share_sessions_with: web}}\n" +
           "  - {name: web3, vip: 10.99.0.102, port: 80, " + kBackend +
           ", http: {session_cookie: SID, share_sessions_with: web2}}\n",
       "services[2].http.share_sessions_with: \"web2\" shares the sessions of \"web\" itself: name \"web\""},
      {"ShareSessionsOtherCookie",
       kPorts + "services:\n  - {" + kWeb + ", " + kBackend + ", http: {session_cookie: SID}}\n" +
           "  - {name: web2, vip: 10.99.0.101, port: 80, " + kBackend +
           ", http: {session_cookie: JSESSIONID, share_sessions_with: web}}\n",
       "services[1].http.share_sessions_with: \"web\" learns session_cookie \"SID\", this service "
       "\"JSESSIONID\": they must be the same"},
      // An HTTP block on an IPv6 VIP is checked like any other.
      {"Vip6HttpUdp", web6With("protocol: udp, http: {sticky: [five_tuple]}"),
       "services[0].http: needs protocol tcp (protocol is udp)"},
      // Neighbour discovery for the VIP needs a port with an IPv6 address.
      {"Vip6WithoutPortAddress6", service(kWeb6 + ", " + kBackend),
       "services[0].vip: fd00:99::100 is an IPv6 VIP, which needs a port with an address6 (no port has "
       "one)"},
      // The port's own IPv6 address is Tether's (neighbour discovery, ping), never a service's.
      {"Vip6IsPortAddress6", service6("name: web6, vip: \"fd00:99::2\", port: 80, " + kBackend),
       "services[0].vip: fd00:99::2 is the address6 of ports[0] (lan)"},
      // IPv6 VIPs must be unicast: not multicast, ...
      {"Vip6Multicast", service6("name: web6, vip: \"ff02::1\", port: 80, " + kBackend),
       "services[0].vip: ff02::1 is not a unicast address (::, ::1, ff00::/8 and ::ffff:0:0/96 are "
       "reserved)"},
      // ... not the unspecified address, ...
      {"Vip6Unspecified", service6("name: web6, vip: \"::\", port: 80, " + kBackend),
       "services[0].vip: :: is not a unicast address"},
      // ... not loopback, ...
      {"Vip6Loopback", service6("name: web6, vip: \"::1\", port: 80, " + kBackend),
       "services[0].vip: ::1 is not a unicast address"},
      // ... and not an IPv4 address in disguise.
      {"Vip6Mapped", service6("name: web6, vip: \"::ffff:10.99.0.100\", port: 80, " + kBackend),
       "services[0].vip: ::ffff:10.99.0.100 is not a unicast address"},
      // Two ports cannot share an IPv6 address (prefix lengths aside).
      {"DuplicatePortAddress6",
       "ports:\n  - {name: lan, address: 10.99.0.2/24, address6: \"fd00:99::2/64\"}\n"
       "  - {name: wan, address: 10.98.0.2/24, address6: \"fd00:99::2/120\"}\n",
       "ports[1].address6: fd00:99::2 is already the address6 of ports[0]"},
      // Backends are unique by (address, port) within a service.
      {"DuplicateBackend",
       service(kWeb +
               ", backends: [{address: 10.99.0.11, port: 8080}, {address: 10.99.0.11, port: 8080}]"),
       "services[0].backends[1]: 10.99.0.11 port 8080 is already services[0].backends[0]"},
      // DSR leaves the transport header alone, so the backend port must equal the service port.
      {"DsrBackendPortMismatch", service(kWeb + ", forwarding: dsr, " + kBackend),
       "services[0].backends[0].port: 8080 must equal the service port 80 with forwarding dsr"},
      // Same for IP-in-IP.
      {"IpipBackendPortMismatch", service(kWeb + ", forwarding: ipip, " + kBackend),
       "services[0].backends[0].port: 8080 must equal the service port 80 with forwarding ipip"},
      // Maglev needs a prime table size.
      {"MaglevSizeNotPrime", webWith("maglev_size: 65536"),
       "services[0].maglev_size: 65536 is not prime"},
      // ... at least as large as the backend set.
      {"MaglevSizeBelowBackends",
       service(kWeb + ", maglev_size: 2, backends: [{address: 10.99.0.11, port: 1}, "
                      "{address: 10.99.0.12, port: 1}, {address: 10.99.0.13, port: 1}]"),
       "services[0].maglev_size: 2 is smaller than the number of backends (3)"},
      // A VIP must not be one of Tether's own port addresses.
      {"VipIsPortAddress", service("name: web, vip: 10.99.0.2, port: 80, " + kBackend),
       "services[0].vip: 10.99.0.2 is the address of ports[0] (lan)"},
      // Port names are unique.
      {"DuplicatePortName",
       "ports:\n  - {name: lan, address: 10.99.0.2/24}\n  - {name: lan, address: 10.98.0.2/24}\n",
       "ports[1].name: \"lan\" is already the name of ports[0]"},
      // --- full-NAT source addresses (ports[].local_addresses) ---------------------------------------
      {"LocalAddressesNotRange", portWith("name: lan, address: 10.99.0.2/24, local_addresses: 10.99.0.20..10.99.0.30"),
       "ports[0].local_addresses: \"10.99.0.20..10.99.0.30\" is not an IPv4 range"},
      {"LocalAddressesReversed", portWith("name: lan, address: 10.99.0.2/24, local_addresses: 10.99.0.30-10.99.0.20"),
       "ports[0].local_addresses: \"10.99.0.30-10.99.0.20\" is not an IPv4 range (the last address is below the first)"},
      // Backends ARP for them on the port's subnet.
      {"LocalAddressesOffSubnet", portWith("name: lan, address: 10.99.0.2/24, local_addresses: 10.98.0.20-10.98.0.21"),
       "ports[0].local_addresses: 10.98.0.20-10.98.0.21 is not on ports[0].address 10.99.0.2/24"},
      // Endpoint pools are sized at start: the range is bounded.
      {"LocalAddressesTooMany", portWith("name: lan, address: 10.99.0.2/24, local_addresses: 10.99.0.20-10.99.0.120"),
       "ports[0].local_addresses: 10.99.0.20-10.99.0.120 holds 101 addresses; at most 64"},
      {"LocalAddressesBroadcast", portWith("name: lan, address: 10.99.0.2/24, local_addresses: 10.99.0.250-10.99.0.255"),
       "ports[0].local_addresses: 10.99.0.250-10.99.0.255 includes the network or broadcast address of its subnet"},
      {"LocalAddressesHoldGateway",
       portWith("name: lan, address: 10.99.0.2/24, gateway: 10.99.0.1, local_addresses: 10.99.0.1-10.99.0.8"),
       "ports[0].local_addresses: 10.99.0.1-10.99.0.8 includes ports[0].gateway 10.99.0.1"},
      // Traffic to a local address is Tether's, never a service's.
      {"LocalAddressesHoldVip",
       "ports:\n  - {name: lan, address: 10.99.0.2/24, local_addresses: 10.99.0.90-10.99.0.110}\n"
       "services:\n  - {" + kWeb + ", " + kBackend + "}\n",
       "services[0].vip: 10.99.0.100 is one of ports[0].local_addresses (10.99.0.90-10.99.0.110)"},
      // A reply to a local address must name one port.
      {"LocalAddressesOverlapOtherPort",
       "ports:\n  - {name: a, address: 10.99.0.2/24, local_addresses: 10.99.0.20-10.99.0.29}\n"
       "  - {name: b, address: 10.99.0.3/24, local_addresses: 10.99.0.29-10.99.0.40}\n",
       "ports[1].local_addresses: 10.99.0.29-10.99.0.40 overlaps the addresses of ports[0]"},
      {"LocalAddressesHoldOtherPortAddress",
       "ports:\n  - {name: a, address: 10.99.0.2/24, local_addresses: 10.99.0.2-10.99.0.9}\n"
       "  - {name: b, address: 10.99.0.3/24}\n",
       "ports[1].address: 10.99.0.3 is one of ports[0].local_addresses"},
      // Port addresses are unique.
      {"DuplicatePortAddress",
       "ports:\n  - {name: a, address: 10.99.0.2/24}\n  - {name: b, address: 10.99.0.2/16}\n",
       "ports[1].address: 10.99.0.2 is already the address of ports[0]"},
      // A static neighbor off every port's subnet would never be used.
      {"NeighborOffLink", neighborWith("address: 10.1.0.11, mac: \"02:00:00:00:00:01\""),
       "neighbors[0].address: 10.1.0.11 is not on any port's subnet"},
      // Static neighbors are unique by address.
      {"DuplicateNeighbor",
       kPorts + "neighbors:\n  - {address: 10.99.0.11, mac: \"02:00:00:00:00:01\"}\n"
                "  - {address: 10.99.0.11, mac: \"02:00:00:00:00:02\"}\n",
       "neighbors[1].address: 10.99.0.11 is already neighbors[0]"},
      // --- http (sticky sessions) --------------------------------------------------------------------
      // Delayed binding splices TCP: a UDP service cannot have it.
      {"HttpOnUdp", webWith("protocol: udp, http: {sticky: [source_address]}"),
       "services[0].http: needs protocol tcp (protocol is udp)"},
      // ... and replies must come back through Tether.
      {"HttpOnDsr", service(kWeb + ", forwarding: dsr, backends: [{address: 10.99.0.11}], "
                            "http: {sticky: [source_address]}"),
       "services[0].http: needs forwarding fullnat (forwarding is dsr)"},
      {"HttpOnIpip", service(kWeb + ", forwarding: ipip, backends: [{address: 10.99.0.11}], "
                             "http: {sticky: [five_tuple]}"),
       "services[0].http: needs forwarding fullnat (forwarding is ipip)"},
      // Unknown keys inside http are typos, not defaults.
      {"HttpUnknownKey", webWith("http: {sticky: [source_address], stiky: x}"),
       "services[0].http.stiky: unknown key"},
      // Method names come from a fixed list.
      {"HttpUnknownMethod", webWith("http: {sticky: [cookie, source_address]}"),
       "services[0].http.sticky[0]: \"cookie\" is not one of learn_cookie, hash_cookie, source_address, "
       "five_tuple"},
      // sticky is a list, not one name.
      {"HttpStickyNotList", webWith("http: {sticky: source_address}"),
       "services[0].http.sticky: expected a list, got \"source_address\""},
      // At least one method.
      {"HttpStickyEmpty", webWith("http: {sticky: []}"),
       "services[0].http.sticky: must list at least one method"},
      // A method listed twice is a mistake (the second could never run).
      {"HttpStickyDuplicate",
       webWith("http: {sticky: [source_address, hash_cookie, source_address], hash_cookie: uid}"),
       "services[0].http.sticky[2]: \"source_address\" is listed twice"},
      // The last method must always succeed.
      {"HttpStickyEndsWithCookie", webWith("http: {sticky: [source_address, learn_cookie], "
                                           "session_cookie: SID}"),
       "services[0].http.sticky: must end with source_address or five_tuple (they always pick a "
       "backend), ends with learn_cookie"},
      // learn_cookie needs the cookie's name; `http:` alone lists learn_cookie by default.
      {"HttpLearnWithoutCookie", webWith("http: {sticky: [learn_cookie, five_tuple]}"),
       "services[0].http.session_cookie: required when sticky lists learn_cookie"},
      {"HttpEmptyBlockNeedsCookie", webWith("http:"),
       "services[0].http.session_cookie: required when sticky lists learn_cookie"},
      // hash_cookie needs its cookie's name.
      {"HttpHashWithoutCookie", webWith("http: {sticky: [hash_cookie, five_tuple]}"),
       "services[0].http.hash_cookie: required when sticky lists hash_cookie"},
      // A cookie name no method reads would silently do nothing.
      {"HttpSessionCookieUnused", webWith("http: {sticky: [source_address], session_cookie: SID}"),
       "services[0].http.session_cookie: \"SID\" is set but sticky does not list learn_cookie"},
      {"HttpHashCookieUnused", webWith("http: {sticky: [five_tuple], hash_cookie: uid}"),
       "services[0].http.hash_cookie: \"uid\" is set but sticky does not list hash_cookie"},
      // Cookie names are RFC 6265 tokens: no separators, spaces or control bytes.
      {"HttpCookieNameSeparator", webWith("http: {session_cookie: \"a=b\"}"),
       "services[0].http.session_cookie: \"a=b\" is not a cookie name: 0x3d at offset 1 is not an "
       "RFC 6265 token character"},
      {"HttpCookieNameSpace", webWith("http: {session_cookie: \"my id\"}"),
       "0x20 at offset 2 is not an RFC 6265 token character"},
      {"HttpCookieNameEmpty", webWith("http: {session_cookie: \"\"}"),
       "services[0].http.session_cookie: required when sticky lists learn_cookie"},
      {"HttpCookieNameTooLong", webWith("http: {session_cookie: " + std::string(129, 'a') + "}"),
       "services[0].http.session_cookie: \"aaaa"},
      {"HttpUnavailableTarget", webWith("http: {sticky: [five_tuple], unavailable_target: hard}"),
       "services[0].http.unavailable_target: \"hard\" is not one of soft, strict"},
      // Every numeric key's range, on both sides.
      {"HttpMaxHeadBytesLow", webWith("http: {sticky: [five_tuple], max_head_bytes: 511}"),
       "services[0].http.max_head_bytes: 511 is out of range 512..65536"},
      {"HttpMaxHeadBytesHigh", webWith("http: {sticky: [five_tuple], max_head_bytes: 65537}"),
       "services[0].http.max_head_bytes: 65537 is out of range 512..65536"},
      {"HttpHeadTimeoutLow", webWith("http: {sticky: [five_tuple], head_timeout_ms: 99}"),
       "services[0].http.head_timeout_ms: 99 is out of range 100..60000"},
      {"HttpHeadTimeoutHigh", webWith("http: {sticky: [five_tuple], head_timeout_ms: 60001}"),
       "services[0].http.head_timeout_ms: 60001 is out of range 100..60000"},
      {"HttpConnectTimeoutLow", webWith("http: {sticky: [five_tuple], connect_timeout_ms: 9}"),
       "services[0].http.connect_timeout_ms: 9 is out of range 10..10000"},
      {"HttpConnectTimeoutHigh", webWith("http: {sticky: [five_tuple], connect_timeout_ms: 10001}"),
       "services[0].http.connect_timeout_ms: 10001 is out of range 10..10000"},
      {"HttpConnectAttemptsZero", webWith("http: {sticky: [five_tuple], connect_attempts: 0}"),
       "services[0].http.connect_attempts: 0 is out of range 1..10"},
      {"HttpConnectAttemptsHigh", webWith("http: {sticky: [five_tuple], connect_attempts: 11}"),
       "services[0].http.connect_attempts: 11 is out of range 1..10"},
      {"HttpBackendsTriedZero", webWith("http: {sticky: [five_tuple], max_backends_tried: 0}"),
       "services[0].http.max_backends_tried: 0 is out of range 1..16"},
      {"HttpBackendsTriedHigh", webWith("http: {sticky: [five_tuple], max_backends_tried: 17}"),
       "services[0].http.max_backends_tried: 17 is out of range 1..16"},
      {"HttpMssLow", webWith("http: {sticky: [five_tuple], mss: 535}"),
       "services[0].http.mss: 535 is out of range 536..9000"},
      {"HttpMssHigh", webWith("http: {sticky: [five_tuple], mss: 9001}"),
       "services[0].http.mss: 9001 is out of range 536..9000"},
      {"HttpWindowScaleHigh", webWith("http: {sticky: [five_tuple], window_scale: 15}"),
       "services[0].http.window_scale: 15 is out of range 0..14"},
      {"HttpSessionIdleZero", webWith("http: {sticky: [five_tuple], session_idle_s: 0}"),
       "services[0].http.session_idle_s: 0 is out of range 1..2592000"},
      {"HttpSessionIdleHigh", webWith("http: {sticky: [five_tuple], session_idle_s: 2592001}"),
       "services[0].http.session_idle_s: 2592001 is out of range 1..2592000"},
      {"HttpSessionLifetimeZero", webWith("http: {sticky: [five_tuple], session_lifetime_s: 0}"),
       "services[0].http.session_lifetime_s: 0 is out of range 1..31536000"},
      {"HttpSessionLifetimeHigh",
       webWith("http: {sticky: [five_tuple], session_lifetime_s: 31536001}"),
       "services[0].http.session_lifetime_s: 31536001 is out of range 1..31536000"},
      // Quoted numbers are strings here too.
      {"HttpQuotedNumber", webWith("http: {sticky: [five_tuple], mss: \"1460\"}"),
       "services[0].http.mss: \"1460\" is a string, expected an integer (remove the quotes)"},
      // --- sessions (boot-only table size) ------------------------------------------------------------
      {"SessionsCapacityLow", kPorts + "sessions: {capacity: 1023}\n",
       "sessions.capacity: 1023 is out of range 1024..67108864"},
      {"SessionsCapacityHigh", kPorts + "sessions: {capacity: 67108865}\n",
       "sessions.capacity: 67108865 is out of range 1024..67108864"},
      {"SessionsShardsNotPowerOfTwo", kPorts + "sessions: {shards: 6}\n",
       "sessions.shards: 6 is not a power of two (or 0 for automatic)"},
      {"SessionsShardsHigh", kPorts + "sessions: {shards: 131072}\n",
       "sessions.shards: 131072 is out of range 0..65536"},
      {"SessionsUnknownKey", kPorts + "sessions: {size: 4096}\n", "sessions.size: unknown key"},
  };
  return cases;
}

class BadYamlTest : public ::testing::TestWithParam<BadYamlCase> {};

// Each bad file is rejected with InvalidArgument naming the key path and the offending value.
TEST_P(BadYamlTest, IsRejectedWithClearError) {
  const BadYamlCase& c = GetParam();
  EXPECT_TRUE(failsWith(parseConfig(c.yaml).status(), c.error)) << "yaml:\n" << c.yaml;
}

INSTANTIATE_TEST_SUITE_P(Config, BadYamlTest, ::testing::ValuesIn(badYamlCases()),
                         [](const ::testing::TestParamInfo<BadYamlCase>& info) {
                           return info.param.name;
                         });

// Every http and sessions key lands in its field; none is at its default.
TEST(ParseConfigTest, HttpAndSessionsKeysRoundTrip) {
  const std::string yaml = R"(ports:
  - {name: lan, address: 10.99.0.2/24}
sessions:
  capacity: 4194304
  shards: 64
services:
  - name: shop
    vip: 10.99.0.100
    port: 80
    http:
      sticky: [learn_cookie, hash_cookie, five_tuple]
      session_cookie: JSESSIONID
      hash_cookie: user_id
      unavailable_target: strict
      max_head_bytes: 8192
      head_timeout_ms: 2500
      connect_timeout_ms: 150
      connect_attempts: 5
      max_backends_tried: 2
      mss: 1400
      window_scale: 9
      session_idle_s: 600
      session_lifetime_s: 300
    backends: [{address: 10.99.0.11, port: 8081}]
  - name: plain
    vip: 10.99.0.100
    port: 81
    backends: [{address: 10.99.0.11, port: 8081}]
)";
  absl::StatusOr<Config> parsed = parseConfig(yaml);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->sessions.capacity, 4194304u);
  EXPECT_EQ(parsed->sessions.shards, 64u);
  ASSERT_TRUE(parsed->services[0].http.has_value());
  const HttpConfig& http = *parsed->services[0].http;
  EXPECT_EQ(http.sticky, (std::vector<StickyMethod>{StickyMethod::kLearnCookie,
                                                    StickyMethod::kHashCookie, StickyMethod::kFiveTuple}));
  EXPECT_EQ(http.session_cookie, "JSESSIONID");
  EXPECT_EQ(http.hash_cookie, "user_id");
  EXPECT_EQ(http.unavailable_target, StickyTargetPolicy::kStrict);
  EXPECT_EQ(http.max_head_bytes, 8192u);
  EXPECT_EQ(http.head_timeout_ms, 2500u);
  EXPECT_EQ(http.connect_timeout_ms, 150u);
  EXPECT_EQ(http.connect_attempts, 5u);
  EXPECT_EQ(http.max_backends_tried, 2u);
  EXPECT_EQ(http.mss, 1400u);
  EXPECT_EQ(http.window_scale, 9u);
  EXPECT_EQ(http.session_idle_s, 600u);
  // A lifetime below the idle time is allowed (it caps every session).
  EXPECT_EQ(http.session_lifetime_s, 300u);
  // No http block: an ordinary L4 service.
  EXPECT_FALSE(parsed->services[1].http.has_value());
}

// An http block that names only its cookie takes every other default; with no sessions block the
// table has the default size.
TEST(ParseConfigTest, HttpDefaults) {
  absl::StatusOr<Config> parsed = parseConfig(webWith("http: {session_cookie: SESSIONID}"));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->sessions.capacity, kDefaultSessionCapacity);
  EXPECT_EQ(parsed->sessions.shards, 0u);
  ASSERT_TRUE(parsed->services[0].http.has_value());
  const HttpConfig& http = *parsed->services[0].http;
  EXPECT_EQ(http.sticky,
            (std::vector<StickyMethod>{StickyMethod::kLearnCookie, StickyMethod::kSourceAddress}));
  EXPECT_EQ(http.session_cookie, "SESSIONID");
  EXPECT_EQ(http.hash_cookie, "");
  EXPECT_EQ(http.unavailable_target, StickyTargetPolicy::kSoft);
  EXPECT_EQ(http.max_head_bytes, 16384u);
  EXPECT_EQ(http.head_timeout_ms, 5000u);
  EXPECT_EQ(http.connect_timeout_ms, 300u);
  EXPECT_EQ(http.connect_attempts, 3u);
  EXPECT_EQ(http.max_backends_tried, 3u);
  EXPECT_EQ(http.mss, 1460u);
  EXPECT_EQ(http.window_scale, 7u);
  EXPECT_EQ(http.session_idle_s, 1800u);
  EXPECT_EQ(http.session_lifetime_s, 86400u);
}

// Every http and sessions limit is inclusive.
TEST(ParseConfigTest, HttpAndSessionsLimitsAreInclusive) {
  for (const std::string body :
       {"sticky: [five_tuple], max_head_bytes: 512, head_timeout_ms: 100, connect_timeout_ms: 10, "
        "connect_attempts: 1, max_backends_tried: 1, mss: 536, window_scale: 0, session_idle_s: 1, "
        "session_lifetime_s: 1",
        "sticky: [five_tuple], max_head_bytes: 65536, head_timeout_ms: 60000, "
        "connect_timeout_ms: 10000, connect_attempts: 10, max_backends_tried: 16, mss: 9000, "
        "window_scale: 14, session_idle_s: 2592000, session_lifetime_s: 31536000"}) {
    absl::StatusOr<Config> parsed = parseConfig(webWith("http: {" + body + "}"));
    EXPECT_TRUE(parsed.ok()) << body << ": " << parsed.status();
  }
  for (const std::string sessions :
       {"{capacity: 1024, shards: 1}", "{capacity: 67108864, shards: 65536}", "{shards: 0}"}) {
    absl::StatusOr<Config> parsed = parseConfig(kPorts + "sessions: " + sessions + "\n");
    EXPECT_TRUE(parsed.ok()) << sessions << ": " << parsed.status();
  }
}

// Cookie names are case-sensitive tokens: RFC 6265 allows !#$%&'*+-.^_`|~ and alphanumerics.
TEST(ParseConfigTest, CookieNamesAcceptEveryTokenCharacter) {
  absl::StatusOr<Config> parsed =
      parseConfig(webWith("http: {session_cookie: \"Ab9!#$%&'*+-.^_`|~\"}"));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->services[0].http->session_cookie, "Ab9!#$%&'*+-.^_`|~");
}

// ----------------------------------------------------------------------------------------------------
// validateConfig() on Configs built in code, as the REST API will: same rules, same wording.

Config validConfig() {
  Config config;
  config.ports.push_back(PortConfig{.name = "lan", .address = {ip(10, 99, 0, 2), 24}});
  ServiceConfig web{.name = "web", .vip = ip(10, 99, 0, 100), .port = 80};
  web.backends.push_back(BackendConfig{.address = ip(10, 99, 0, 11), .port = 8080});
  web.backends.push_back(BackendConfig{.address = ip(10, 99, 0, 12), .port = 8080});
  config.services.push_back(web);
  return config;
}

struct BadStructCase {
  std::string name;
  std::function<void(Config&)> mutate;
  std::string error;
};

void PrintTo(const BadStructCase& c, std::ostream* os) { *os << c.name; }

const std::vector<BadStructCase>& badStructCases() {
  static const std::vector<BadStructCase> cases = {
      // Weight range holds without the parser.
      {"WeightTooLarge", [](Config& c) { c.services[0].backends[1].weight = 2000000; },
       "services[0].backends[1].weight: 2000000 is out of range 0..1000000"},
      // An mbuf too small for a standard frame holds without the parser too.
      {"MbufDataRoomTooSmall", [](Config& c) { c.dataplane.mbuf_data_room = 1000; },
       "dataplane.mbuf_data_room: 1000 is out of range 2176..65535"},
      // No ports.
      {"NoPorts", [](Config& c) { c.ports.clear(); }, "ports: at least one port is required"},
      // Prefix length beyond 32.
      {"PrefixTooLong", [](Config& c) { c.ports[0].address.prefix_length = 33; },
       "ports[0].address: prefix length 33 is out of range 0..32"},
      // VLAN above 4094.
      {"VlanTooLarge", [](Config& c) { c.ports[0].vlan = 5000; },
       "ports[0].vlan: 5000 is out of range 0..4094"},
      // An enum value outside the enum.
      {"ForwardingOutOfEnum",
       [](Config& c) { c.services[0].forwarding = static_cast<ForwardingMode>(9); },
       "services[0].forwarding: 9 is not a valid value"},
      // Protocol outside the enum.
      {"ProtocolOutOfEnum", [](Config& c) { c.services[0].protocol = static_cast<Protocol>(1); },
       "services[0].protocol: 1 is not a valid value"},
      // Backend port 0 (a REST client may leave it unset).
      {"BackendPortZero", [](Config& c) { c.services[0].backends[0].port = 0; },
       "services[0].backends[0].port: 0 is out of range 1..65535"},
      // Service port 0.
      {"ServicePortZero", [](Config& c) { c.services[0].port = 0; },
       "services[0].port: 0 is out of range 1..65535"},
      // DSR port rule without the parser's defaulting.
      {"DsrPortMismatch", [](Config& c) { c.services[0].forwarding = ForwardingMode::kDsrL2; },
       "services[0].backends[0].port: 8080 must equal the service port 80 with forwarding dsr"},
      // Timeouts without the parser.
      {"TimeoutZero", [](Config& c) { c.timeouts.tcp_closing_s = 0; },
       "timeouts.tcp_closing_s: 0 is out of range 1..86400"},
      // Dataplane sizes without the parser.
      {"BurstTooLarge", [](Config& c) { c.dataplane.burst_size = 1000; },
       "dataplane.burst_size: 1000 is out of range 1..256"},
      // Local port 0 without the parser.
      {"LocalPortZero", [](Config& c) { c.dataplane.local_port_min = 0; },
       "dataplane.local_port_min: 0 is out of range 1..65535"},
      // Non-prime Maglev size.
      {"MaglevNotPrime", [](Config& c) { c.services[0].selector.maglev_size = 1000; },
       "services[0].maglev_size: 1000 is not prime"},
      // More backends than a table can index.
      {"TooManyBackends",
       [](Config& c) {
         auto& backends = c.services[0].backends;
         backends.clear();
         for (uint32_t i = 0; i <= hashing::kMaxBackends; ++i) {
           backends.push_back(BackendConfig{.address = ip(10, 1, 0, 0) + i, .port = 80});
         }
       },
       "services[0].backends: 65536 backends, at most 65535 are supported"},
      // A ring larger than RingTable accepts.
      {"RingTooManyPoints",
       [](Config& c) {
         ServiceConfig& s = c.services[0];
         s.selector.algorithm = hashing::Algorithm::kRing;
         s.selector.ring_vnodes = kMaxRingVnodes;
         s.backends.clear();
         for (uint32_t i = 0; i < 1025; ++i) {
           s.backends.push_back(BackendConfig{.address = ip(10, 1, 0, 0) + i, .port = 80});
         }
       },
       "services[0].ring_vnodes: 65536 x 1025 backends = 67174400 ring points, more than 67108864"},
      // Unnamed service.
      {"EmptyServiceName", [](Config& c) { c.services[0].name.clear(); },
       "services[0].name: must not be empty"},
      // Backend admin state outside the enum.
      {"BackendStateOutOfEnum",
       [](Config& c) { c.services[0].backends[1].state = static_cast<BackendAdminState>(3); },
       "services[0].backends[1].state: 3 is not a valid value"},
      // Health-check type outside the enum.
      {"HealthTypeOutOfEnum",
       [](Config& c) { c.services[0].health_check.type = static_cast<HealthCheckType>(7); },
       "services[0].health_check.type: 7 is not a valid value"},
      // interval_ms range without the parser.
      {"HealthIntervalZero", [](Config& c) { c.services[0].health_check.interval_ms = 0; },
       "services[0].health_check.interval_ms: 0 is out of range 100..3600000"},
      // interval_ms upper bound without the parser.
      {"HealthIntervalTooLong", [](Config& c) { c.services[0].health_check.interval_ms = 3600001; },
       "services[0].health_check.interval_ms: 3600001 is out of range 100..3600000"},
      // timeout_ms lower bound without the parser.
      {"HealthTimeoutTooShort", [](Config& c) { c.services[0].health_check.timeout_ms = 9; },
       "services[0].health_check.timeout_ms: 9 is out of range 10..2000 (at most interval_ms)"},
      // timeout_ms <= interval_ms.
      {"HealthTimeoutAboveInterval", [](Config& c) { c.services[0].health_check.timeout_ms = 2001; },
       "services[0].health_check.timeout_ms: 2001 is out of range 10..2000 (at most interval_ms)"},
      // rise range.
      {"HealthRiseZero", [](Config& c) { c.services[0].health_check.rise = 0; },
       "services[0].health_check.rise: 0 is out of range 1..100"},
      // fall range.
      {"HealthFallTooLarge", [](Config& c) { c.services[0].health_check.fall = 101; },
       "services[0].health_check.fall: 101 is out of range 1..100"},
      // Expected status range.
      {"HttpStatusTooHigh", [](Config& c) { c.services[0].health_check.http_expect_status = 600; },
       "services[0].health_check.http_expect_status: 600 is out of range 100..599"},
      // Expected status lower bound (0 is what an unset field of a hand-built struct would hold).
      {"HttpStatusZero", [](Config& c) { c.services[0].health_check.http_expect_status = 0; },
       "services[0].health_check.http_expect_status: 0 is out of range 100..599"},
      // A relative path, checked even while the type is none (a later switch to http must be valid).
      {"HttpPathRelative", [](Config& c) { c.services[0].health_check.http_path = "healthz"; },
       "services[0].health_check.http_path: \"healthz\" must start with \"/\""},
      // An empty path.
      {"HttpPathEmpty", [](Config& c) { c.services[0].health_check.http_path.clear(); },
       "services[0].health_check.http_path: \"\" must start with \"/\""},
      // DEL is not printable.
      {"HttpPathDel",
       [](Config& c) {
         c.services[0].health_check.type = HealthCheckType::kHttp;
         c.services[0].health_check.http_path = "/x\x7f";
       },
       "must be printable ASCII without spaces (0x7f at offset 2)"},
      // A NUL byte (possible from REST, never from YAML text) is not printable either.
      {"HttpPathNul",
       [](Config& c) { c.services[0].health_check.http_path = std::string("/a\0b", 4); },
       "must be printable ASCII without spaces (0x00 at offset 2)"},
      // Path length cap.
      {"HttpPathTooLong",
       [](Config& c) { c.services[0].health_check.http_path = "/" + std::string(1024, 'a'); },
       "(1025 characters) is longer than 1024 characters"},
      // The http rules hold for REST-built configs too.
      {"HttpOnUdpStruct",
       [](Config& c) {
         c.services[0].protocol = Protocol::kUdp;
         c.services[0].http = HttpConfig{.sticky = {StickyMethod::kFiveTuple}};
       },
       "services[0].http: needs protocol tcp (protocol is udp)"},
      {"HttpStickyMethodOutOfEnum",
       [](Config& c) {
         c.services[0].http = HttpConfig{.sticky = {static_cast<StickyMethod>(9)}};
       },
       "services[0].http.sticky[0]: 9 is not a valid value"},
      {"HttpPolicyOutOfEnum",
       [](Config& c) {
         c.services[0].http = HttpConfig{.sticky = {StickyMethod::kSourceAddress},
                                         .unavailable_target = static_cast<StickyTargetPolicy>(7)};
       },
       "services[0].http.unavailable_target: 7 is not a valid value"},
      {"HttpIdleZeroStruct",
       [](Config& c) {
         c.services[0].http = HttpConfig{.sticky = {StickyMethod::kFiveTuple}, .session_idle_s = 0};
       },
       "services[0].http.session_idle_s: 0 is out of range 1..2592000"},
      // A Config built in code may set both VIPs; the service would be indexed as IPv6 alone.
      {"VipAndVip6",
       [](Config& c) {
         c.ports[0].address6 = Ipv6Prefix{*parseIpv6("fd00:99::2"), 64};
         c.services[0].vip6 = *parseIpv6("fd00:99::100");
       },
       "services[0].vip: fd00:99::100 is IPv6 but the IPv4 vip is also set (10.99.0.100)"},
      // address6's prefix length without the parser.
      {"Address6PrefixTooLong",
       [](Config& c) { c.ports[0].address6 = Ipv6Prefix{*parseIpv6("fd00:99::2"), 129}; },
       "ports[0].address6: prefix length 129 is out of range 0..128"},
      // The IPv6 rules hold without the parser too.
      {"Vip6WithoutAddress6Struct",
       [](Config& c) {
         c.services[0].vip = 0;
         c.services[0].vip6 = *parseIpv6("fd00:99::100");
       },
       "services[0].vip: fd00:99::100 is an IPv6 VIP, which needs a port with an address6"},
      {"SessionsShardsStruct", [](Config& c) { c.sessions.shards = 3; },
       "sessions.shards: 3 is not a power of two (or 0 for automatic)"},
      // One session-table timeout slot per HTTP service.
      {"TooManyHttpServices",
       [](Config& c) {
         for (uint32_t i = 0; i < 257; ++i) {
           ServiceConfig s{.name = absl::StrCat("s", i), .vip = ip(10, 99, 1, 1),
                           .port = static_cast<uint16_t>(1000 + i)};
           s.http = HttpConfig{.sticky = {StickyMethod::kFiveTuple}};
           c.services.push_back(s);
         }
       },
       "services: 257 services have an http block, at most 256 are supported"},
  };
  return cases;
}

class BadStructTest : public ::testing::TestWithParam<BadStructCase> {};

// validateConfig() rejects each broken Config with the same message the YAML path would give.
TEST_P(BadStructTest, IsRejected) {
  Config config = validConfig();
  ASSERT_TRUE(validateConfig(config).ok());
  GetParam().mutate(config);
  EXPECT_TRUE(failsWith(validateConfig(config), GetParam().error));
}

INSTANTIATE_TEST_SUITE_P(Config, BadStructTest, ::testing::ValuesIn(badStructCases()),
                         [](const ::testing::TestParamInfo<BadStructCase>& info) {
                           return info.param.name;
                         });

// ----------------------------------------------------------------------------------------------------
// Robustness: arbitrary damage to a valid file gives an error or a valid Config, never a crash.

// Every prefix of a valid file (what a half-written or truncated file looks like) parses or errors.
TEST(ParseConfigRobustnessTest, EveryTruncationIsHandled) {
  const std::string full(kFullYaml);
  for (size_t length = 0; length <= full.size(); ++length) {
    absl::StatusOr<Config> parsed = parseConfig(std::string_view(full).substr(0, length));
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << parsed.status();
      EXPECT_FALSE(parsed.status().message().empty());
    }
  }
}

// Deleting any single line (a lost key, a lost list item) parses or errors.
TEST(ParseConfigRobustnessTest, EveryLineDeletionIsHandled) {
  const std::string full(kFullYaml);
  size_t start = 0;
  while (start < full.size()) {
    const size_t end = full.find('\n', start);
    const size_t next = end == std::string::npos ? full.size() : end + 1;
    const std::string damaged = full.substr(0, start) + full.substr(next);
    absl::StatusOr<Config> parsed = parseConfig(damaged);
    if (parsed.ok()) {
      EXPECT_TRUE(validateConfig(*parsed).ok());
    } else {
      EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << parsed.status();
    }
    start = next;
  }
}

// A megabyte-long value is named in the error but cut short, so the message stays readable.
TEST(ParseConfigRobustnessTest, LongValuesAreShortenedInErrors) {
  const std::string yaml = webWith("forwarding: " + std::string(1 << 20, 'x'));
  const absl::Status status = parseConfig(yaml).status();
  EXPECT_TRUE(failsWith(status, "services[0].forwarding: \"xxxx"));
  EXPECT_TRUE(failsWith(status, "(1048576 characters)"));
  EXPECT_LT(status.message().size(), 300u);
}

// Binary junk and control characters are errors, not crashes, and are escaped in the message.
TEST(ParseConfigRobustnessTest, ControlCharactersAreEscaped) {
  const absl::Status status = parseConfig(webWith("protocol: \"t\\x01cp\"")).status();
  EXPECT_TRUE(failsWith(status, "services[0].protocol: \"t\\x01\\x63p\" is not one of tcp, udp"));
  EXPECT_FALSE(parseConfig(std::string("\0\xff\xfe", 3)).ok());
}

// Aliases that repeat a large list many times hit a value budget instead of multiplying the work.
TEST(ParseConfigRobustnessTest, AliasBombIsRejected) {
  std::string yaml = kPorts +
                     "services:\n  - &s {name: web, vip: 10.99.0.100, port: 80, backends: "
                     "[&e {address: 10.99.0.11, port: 8080}";
  for (int i = 0; i < 2000; ++i) yaml += ", *e";
  yaml += "]}\n";
  for (int i = 0; i < 3000; ++i) yaml += "  - *s\n";
  EXPECT_TRUE(failsWith(parseConfig(yaml).status(), "the configuration holds more than"));
}

// ----------------------------------------------------------------------------------------------------
// Files.

std::string writeTempFile(const std::string& name, const std::string& contents) {
  const std::filesystem::path path = std::filesystem::path(::testing::TempDir()) / name;
  std::ofstream(path) << contents;
  return path.string();
}

// loadConfigFile() parses a file and prefixes errors with its path.
TEST(LoadConfigFileTest, ReadsFileAndNamesItInErrors) {
  const std::string good = writeTempFile("tether_good.yaml", std::string(kFullYaml));
  absl::StatusOr<Config> loaded = loadConfigFile(good);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->services.size(), 3u);

  const std::string bad = writeTempFile("tether_bad.yaml", webWith("bogus: 1"));
  EXPECT_TRUE(failsWith(loadConfigFile(bad).status(), bad + ": services[0].bogus: unknown key"));
}

// A missing file is NotFound and names the path.
TEST(LoadConfigFileTest, MissingFileIsNotFound) {
  const absl::Status status = loadConfigFile("/nonexistent/tether.yaml").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_NE(std::string(status.message()).find("/nonexistent/tether.yaml"), std::string::npos);
}

// A directory or an oversized file is an error, not a hang or a huge allocation.
TEST(LoadConfigFileTest, DirectoryAndHugeFileAreErrors) {
  EXPECT_FALSE(loadConfigFile(::testing::TempDir()).ok());
  const std::string huge = writeTempFile("tether_huge.yaml", std::string((16u << 20) + 1, '#'));
  EXPECT_TRUE(failsWith(loadConfigFile(huge).status(), "config file is larger than 16777216 bytes"));
  std::filesystem::remove(huge);
}

// Every example shipped in configs/ parses and validates (they are documentation; keep them true).
TEST(ExampleConfigsTest, EveryShippedConfigIsValid) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(TETHER_CONFIGS_DIR)) {
    if (entry.path().extension() != ".yaml") continue;
    names.push_back(entry.path().filename().string());
    absl::StatusOr<Config> config = loadConfigFile(entry.path().string());
    EXPECT_TRUE(config.ok()) << config.status();
  }
  for (const char* expected : {"demo.yaml", "dsr.yaml", "ipip.yaml"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
}

// The demo topology the integration tests rely on, with an HTTP check on web (backends serve GET /).
TEST(ExampleConfigsTest, DemoConfigHasExpectedTopology) {
  absl::StatusOr<Config> demo = loadConfigFile(std::string(TETHER_CONFIGS_DIR) + "/demo.yaml");
  ASSERT_TRUE(demo.ok()) << demo.status();
  ASSERT_EQ(demo->ports.size(), 1u);
  EXPECT_EQ(demo->ports[0].address, (Ipv4Prefix{ip(10, 99, 0, 2), 24}));
  ASSERT_EQ(demo->services.size(), 2u);
  const ServiceConfig& web = demo->services[0];
  const ServiceConfig& echo = demo->services[1];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.vip, ip(10, 99, 0, 100));
  EXPECT_EQ(web.port, 80);
  EXPECT_EQ(web.protocol, Protocol::kTcp);
  EXPECT_EQ(web.forwarding, ForwardingMode::kFullNat);
  EXPECT_EQ(web.health_check.type, HealthCheckType::kHttp);
  EXPECT_EQ(web.health_check.http_path, "/");
  EXPECT_EQ(web.health_check.interval_ms, 1000u);
  EXPECT_EQ(web.health_check.timeout_ms, 500u);
  EXPECT_EQ(web.health_check.rise, 2u);
  EXPECT_EQ(web.health_check.fall, 2u);
  EXPECT_EQ(echo.name, "echo");
  EXPECT_EQ(echo.port, 9000);
  EXPECT_EQ(echo.protocol, Protocol::kUdp);
  EXPECT_EQ(echo.health_check.type, HealthCheckType::kNone);
  for (const ServiceConfig* s : {&web, &echo}) {
    ASSERT_EQ(s->backends.size(), 3u);
    for (uint32_t i = 0; i < 3; ++i) {
      EXPECT_EQ(s->backends[i].address, ip(10, 99, 0, 11 + i));
      EXPECT_EQ(s->backends[i].port, s == &web ? 8080 : 9000);
      EXPECT_EQ(s->backends[i].weight, 1u);
      EXPECT_EQ(s->backends[i].state, BackendAdminState::kEnabled);
    }
  }
}

// dsr.yaml and ipip.yaml differ from the demo only in forwarding mode and backend port.
TEST(ExampleConfigsTest, DsrAndIpipConfigsUseTheirModes) {
  for (const auto& [file, mode] : {std::pair{"dsr.yaml", ForwardingMode::kDsrL2},
                                   std::pair{"ipip.yaml", ForwardingMode::kDsrIpip}}) {
    absl::StatusOr<Config> config = loadConfigFile(std::string(TETHER_CONFIGS_DIR) + "/" + file);
    ASSERT_TRUE(config.ok()) << config.status();
    ASSERT_FALSE(config->services.empty());
    EXPECT_EQ(config->services[0].forwarding, mode) << file;
    EXPECT_EQ(config->services[0].port, 80) << file;
    for (const BackendConfig& b : config->services[0].backends) EXPECT_EQ(b.port, 80) << file;
  }
}

// ipv6.yaml is the demo plus IPv6: the port's address6 and the same two services on an IPv6 VIP,
// full-NAT to the same IPv4 backends.
TEST(ExampleConfigsTest, Ipv6ConfigAddsIpv6Services) {
  absl::StatusOr<Config> config = loadConfigFile(std::string(TETHER_CONFIGS_DIR) + "/ipv6.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->ports.size(), 1u);
  ASSERT_TRUE(config->ports[0].address6.has_value());
  EXPECT_EQ(formatIpv6Prefix(*config->ports[0].address6), "fd00:99::2/64");
  ASSERT_EQ(config->services.size(), 4u);
  int v6_services = 0;
  for (const ServiceConfig& s : config->services) {
    EXPECT_EQ(s.forwarding, ForwardingMode::kFullNat) << s.name;
    ASSERT_EQ(s.backends.size(), 3u) << s.name;
    const uint16_t backend_port = s.protocol == Protocol::kTcp ? 8080 : 9000;
    for (uint32_t i = 0; i < 3; ++i) {
      EXPECT_EQ(s.backends[i].address, ip(10, 99, 0, 11 + i)) << s.name;
      EXPECT_EQ(s.backends[i].port, backend_port) << s.name;
      EXPECT_EQ(s.backends[i].weight, 1u) << s.name;
    }
    if (!s.vip6.has_value()) continue;
    ++v6_services;
    EXPECT_EQ(formatVip(s), "fd00:99::100") << s.name;
    EXPECT_EQ(s.port, s.protocol == Protocol::kTcp ? 80 : 9000) << s.name;
  }
  EXPECT_EQ(v6_services, 2);
}

// sticky.yaml is the seeds' lab on the topology: VIP :80 -> session_app on 10.99.0.11-13:8081, cookie
// first (SESSIONID), client address as the fallback, checked on a path session_app answers with 200;
// and the same on the IPv6 VIP, sharing the sessions.
TEST(ExampleConfigsTest, StickyConfigIsTheSessionLab) {
  absl::StatusOr<Config> config = loadConfigFile(std::string(TETHER_CONFIGS_DIR) + "/sticky.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->services.size(), 2u);
  const ServiceConfig& shop = config->services[0];
  EXPECT_EQ(formatIpv4(shop.vip), "10.99.0.100");
  EXPECT_EQ(shop.port, 80);
  EXPECT_EQ(shop.forwarding, ForwardingMode::kFullNat);
  ASSERT_EQ(shop.backends.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(formatIpv4(shop.backends[i].address), absl::StrCat("10.99.0.", 11 + i));
    EXPECT_EQ(shop.backends[i].port, 8081);
  }
  ASSERT_TRUE(shop.http.has_value());
  EXPECT_EQ(shop.http->sticky,
            (std::vector<StickyMethod>{StickyMethod::kLearnCookie, StickyMethod::kSourceAddress}));
  EXPECT_EQ(shop.http->session_cookie, "SESSIONID");
  EXPECT_EQ(shop.health_check.type, HealthCheckType::kHttp);
  EXPECT_EQ(shop.health_check.http_path, "/api/users/status");
  // shop6: the same shop for IPv6 clients, on shop's sessions.
  const ServiceConfig& shop6 = config->services[1];
  ASSERT_TRUE(shop6.vip6.has_value());
  EXPECT_EQ(formatVip(shop6), "fd00:99::100");
  ASSERT_TRUE(shop6.http.has_value());
  EXPECT_EQ(shop6.http->share_sessions_with, "shop");
  EXPECT_EQ(shop6.http->session_cookie, shop.http->session_cookie);
  EXPECT_EQ(sessionOwnerName(shop6), "shop");
}

// ----------------------------------------------------------------------------------------------------
// Address and name helpers.

// Text -> host order -> text is the identity for canonical addresses, including the extremes.
TEST(AddressTest, Ipv4RoundTrips) {
  for (const char* text : {"0.0.0.0", "10.99.0.2", "192.168.255.1", "255.255.255.255", "1.2.3.4"}) {
    absl::StatusOr<uint32_t> address = parseIpv4(text);
    ASSERT_TRUE(address.ok()) << text;
    EXPECT_EQ(formatIpv4(*address), text);
  }
  EXPECT_EQ(*parseIpv4("10.99.0.2"), 0x0a630002u) << "host byte order";
  EXPECT_EQ(formatIpv4Prefix(*parseIpv4Prefix("10.99.0.2/24")), "10.99.0.2/24");
  EXPECT_EQ(parseIpv4Prefix("0.0.0.0/0")->prefix_length, 0);
}

// Anything but four plain decimal octets is rejected.
TEST(AddressTest, Ipv4RejectsNonCanonicalText) {
  for (const char* text : {"", "1.2.3", "1.2.3.4.5", "1.2.3.256", "01.2.3.4", "1.2.3.-4", "1.2.3.4 ",
                           " 1.2.3.4", "1..3.4", "a.b.c.d", "1.2.3.4/24", "0x1.2.3.4", "1.2.3.1000"}) {
    EXPECT_FALSE(parseIpv4(text).ok()) << text;
  }
  for (const char* text : {"1.2.3.4", "1.2.3.4/", "1.2.3.4/33", "1.2.3.4/024", "1.2.3.4/-1", "/24"}) {
    EXPECT_FALSE(parseIpv4Prefix(text).ok()) << text;
  }
}

// Ranges: first-last or one address, round-tripped by formatIpv4Range; anything else is rejected.
TEST(AddressTest, Ipv4RangeParsesAndFormats) {
  EXPECT_EQ(*parseIpv4Range("10.0.0.100-10.0.0.131"), (Ipv4Range{0x0a000064, 0x0a000083}));
  EXPECT_EQ(parseIpv4Range("10.0.0.100-10.0.0.131")->size(), 32u);
  EXPECT_EQ(formatIpv4Range(*parseIpv4Range("10.0.0.100-10.0.0.131")), "10.0.0.100-10.0.0.131");
  EXPECT_EQ(*parseIpv4Range("10.0.0.7"), (Ipv4Range{0x0a000007, 0x0a000007}));
  EXPECT_EQ(formatIpv4Range(*parseIpv4Range("10.0.0.7")), "10.0.0.7");
  for (const char* text : {"", "-", "10.0.0.1-", "-10.0.0.1", "10.0.0.2-10.0.0.1", "10.0.0.1-10.0.0.2-10.0.0.3",
                           "10.0.0.1 - 10.0.0.2", "10.0.0.0/24"}) {
    EXPECT_FALSE(parseIpv4Range(text).ok()) << text;
  }
}

// IPv6 text -> network-order bytes -> RFC 5952 text: lower case, the longest zero run (the first of
// equals) as "::", a lone zero field kept, IPv4-mapped in dotted form.
TEST(AddressTest, Ipv6ParsesAndFormatsCanonically) {
  EXPECT_EQ(*parseIpv6("fd00:99::2"),
            (Ipv6Address{0xfd, 0x00, 0x00, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02}));
  for (const auto& [text, canonical] : std::vector<std::pair<std::string, std::string>>{
           {"fd00:99::2", "fd00:99::2"},
           {"FD00:0099:0000:0000:0000:0000:0000:0002", "fd00:99::2"},
           {"::", "::"},
           {"::1", "::1"},
           {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
           {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
           {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},
           {"::ffff:10.0.0.1", "::ffff:10.0.0.1"},
           {"fe80::1", "fe80::1"},
       }) {
    absl::StatusOr<Ipv6Address> address = parseIpv6(text);
    ASSERT_TRUE(address.ok()) << text;
    EXPECT_EQ(formatIpv6(*address), canonical) << text;
  }
}

// Anything inet_pton refuses, zone ids, brackets, prefixes, and text that only starts as an address.
TEST(AddressTest, Ipv6RejectsNonAddresses) {
  for (const std::string& text : {std::string(""), std::string("1.2.3.4"), std::string("fd00::1::2"),
                                  std::string("fe80::1%eth0"), std::string("[::1]"),
                                  std::string("fd00:99::2/64"), std::string("12345::"), std::string("g::1"),
                                  std::string(" ::1"), std::string("::1 "), std::string("::1\0junk", 8),
                                  std::string(":::"), std::string(100, ':')}) {
    const absl::Status status = parseIpv6(text).status();
    EXPECT_TRUE(failsWith(status, "is not an IPv6 address")) << text;
  }
  EXPECT_TRUE(failsWith(parseIpv6("xyz").status(), "\"xyz\" is not an IPv6 address"));
}

// Prefixes: address/0..128, formatted with the canonical address.
TEST(AddressTest, Ipv6PrefixParsesAndFormats) {
  absl::StatusOr<Ipv6Prefix> prefix = parseIpv6Prefix("FD00:99:0::2/64");
  ASSERT_TRUE(prefix.ok());
  EXPECT_EQ(prefix->address, *parseIpv6("fd00:99::2"));
  EXPECT_EQ(prefix->prefix_length, 64);
  EXPECT_EQ(formatIpv6Prefix(*prefix), "fd00:99::2/64");
  EXPECT_EQ(parseIpv6Prefix("::/0")->prefix_length, 0);
  EXPECT_EQ(parseIpv6Prefix("fd00::1/128")->prefix_length, 128);
  for (const char* text : {"fd00::2", "fd00::2/", "fd00::2/129", "fd00::2/064", "fd00::2/-1", "/64",
                           "10.0.0.1/24", "fe80::1%eth0/64"}) {
    EXPECT_TRUE(failsWith(parseIpv6Prefix(text).status(), "is not an IPv6 prefix")) << text;
  }
}

// Unicast IPv6: everything but ::, ::1, ff00::/8 and ::ffff:0:0/96.
TEST(AddressTest, Ipv6UnicastClassification) {
  for (const char* text : {"fd00:99::100", "2001:db8::1", "fe80::1", "::2", "64:ff9b::10.0.0.1",
                           "::fffe:10.0.0.1", "feff::1", "1::"}) {
    EXPECT_TRUE(isUnicastIpv6(*parseIpv6(text))) << text;
  }
  for (const char* text : {"::", "::1", "ff02::1", "ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                           "::ffff:10.0.0.1", "::ffff:0:0"}) {
    EXPECT_FALSE(isUnicastIpv6(*parseIpv6(text))) << text;
  }
}

// parseVip picks the family by the text; junk names neither.
TEST(AddressTest, VipTextPicksTheFamily) {
  absl::StatusOr<VipAddress> v4 = parseVip("10.99.0.100");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->vip, ip(10, 99, 0, 100));
  EXPECT_FALSE(v4->vip6.has_value());
  absl::StatusOr<VipAddress> v6 = parseVip("fd00:99::100");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->vip, 0u);
  EXPECT_EQ(v6->vip6, parseIpv6("fd00:99::100").value());
  for (const char* text : {"", "web", "10.99.0.300", "fd00:::1", "10.99.0.100:80"}) {
    EXPECT_TRUE(failsWith(parseVip(text).status(),
                          absl::StrCat("\"", text, "\" is neither an IPv4 nor an IPv6 address")))
        << text;
  }
}

// MACs parse in either case and format in lower case.
TEST(AddressTest, MacRoundTrips) {
  absl::StatusOr<MacAddress> mac = parseMac("02:00:0A:63:00:FF");
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(*mac, (MacAddress{0x02, 0x00, 0x0a, 0x63, 0x00, 0xff}));
  EXPECT_EQ(formatMac(*mac), "02:00:0a:63:00:ff");
  for (const char* text : {"", "02:00:0a:63:00", "02:00:0a:63:00:ff:11", "02-00-0a-63-00-ff",
                           "2:00:0a:63:00:ff0", "02:00:0a:63:00:fg"}) {
    EXPECT_FALSE(parseMac(text).ok()) << text;
  }
}

// Prefix helpers: mask, containment, unicast classification.
TEST(AddressTest, PrefixHelpers) {
  EXPECT_EQ(prefixMask(0), 0u);
  EXPECT_EQ(prefixMask(24), 0xffffff00u);
  EXPECT_EQ(prefixMask(32), 0xffffffffu);
  EXPECT_TRUE(prefixContains({ip(10, 99, 0, 2), 24}, ip(10, 99, 0, 200)));
  EXPECT_FALSE(prefixContains({ip(10, 99, 0, 2), 24}, ip(10, 99, 1, 2)));
  EXPECT_TRUE(isUnicastIpv4(ip(10, 0, 0, 1)));
  EXPECT_FALSE(isUnicastIpv4(ip(0, 1, 2, 3)));
  EXPECT_FALSE(isUnicastIpv4(ip(127, 0, 0, 1)));
  EXPECT_FALSE(isUnicastIpv4(ip(224, 0, 0, 1)));
  EXPECT_FALSE(isUnicastIpv4(ip(255, 255, 255, 255)));
}

// Every enum value's name parses back to the value, so YAML, REST and logs agree.
TEST(NamesTest, EnumNamesRoundTrip) {
  for (ForwardingMode m : {ForwardingMode::kFullNat, ForwardingMode::kDsrL2, ForwardingMode::kDsrIpip}) {
    EXPECT_EQ(*parseForwardingMode(forwardingModeName(m)), m);
  }
  for (Protocol p : {Protocol::kTcp, Protocol::kUdp}) EXPECT_EQ(*parseProtocol(protocolName(p)), p);
  for (BalanceKey k : {BalanceKey::kFiveTuple, BalanceKey::kSourceAddress}) {
    EXPECT_EQ(*parseBalanceKey(balanceKeyName(k)), k);
  }
  for (auto a : {hashing::Algorithm::kMaglev, hashing::Algorithm::kRing, hashing::Algorithm::kModulo}) {
    EXPECT_EQ(*parseAlgorithmName(hashing::algorithmName(a)), a);
  }
  EXPECT_EQ(forwardingModeName(ForwardingMode::kDsrL2), "dsr");
  EXPECT_EQ(forwardingModeName(ForwardingMode::kDsrIpip), "ipip");
  for (uint32_t m = 0; m < dataplane::kStickyMethodCount; ++m) {
    const auto method = static_cast<StickyMethod>(m);
    EXPECT_EQ(*parseStickyMethod(stickyMethodName(method)), method);
  }
  EXPECT_EQ(stickyMethodName(StickyMethod::kLearnCookie), "learn_cookie");
  for (StickyTargetPolicy p : {StickyTargetPolicy::kSoft, StickyTargetPolicy::kStrict}) {
    EXPECT_EQ(*parseStickyTargetPolicy(stickyTargetPolicyName(p)), p);
  }
}

}  // namespace
}  // namespace lb::controlplane
