// controlplane::buildSnapshot: Config -> immutable dataplane::Snapshot. Backend targets must sit at
// the positions the selector returns, next hops must resolve through the neighbour table (directly or
// via the gateway), and per-backend counter slots must survive rebuilds.
#include "controlplane/snapshot_builder.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <rte_byteorder.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "tests/dataplane/test_topology.h"

namespace lb::dataplane::test {
namespace {

const std::vector<hashing::WeightedBackend>& selectorBackends(const Service& svc) {
  return std::visit([](const auto& t) -> const std::vector<hashing::WeightedBackend>& { return t.backends(); },
                    svc.selector);
}

hashing::BackendIndex selectorLookup(const Service& svc, uint64_t hash) {
  return std::visit([&](const auto& t) { return t.lookup(hash); }, svc.selector);
}

// A config whose web service has five backends with distinct weights, listed in `order`.
controlplane::Config weightedConfig(const std::vector<uint8_t>& order) {
  controlplane::Config c = makeConfig();
  c.services.resize(1);
  c.services[0].backends.clear();
  for (uint8_t h : order) c.services[0].backends.push_back({backendIp(h), kWebBackendPort, uint32_t{h} - 10u});
  return c;
}

// backends[i] is the backend the selector means by index i: the selector's i-th (id-sorted) entry has
// the weight configured for backends[i] (weights are distinct), whatever order the config lists them in.
TEST(SnapshotBuilderTest, BackendOrderMatchesSelectorOrder) {
  for (const auto& order : std::vector<std::vector<uint8_t>>{{11, 12, 13, 14, 15}, {15, 13, 11, 14, 12}}) {
    SnapshotSource source;
    source.config = weightedConfig(order);
    const auto snap = source.build();
    ASSERT_NE(snap, nullptr);
    const Service& svc = snap->services[0];
    const auto& sorted = selectorBackends(svc);
    ASSERT_EQ(svc.backends.size(), sorted.size());
    ASSERT_EQ(svc.backends.size(), 5u);
    for (size_t i = 0; i < sorted.size(); ++i) {
      const uint8_t host = static_cast<uint8_t>(rte_be_to_cpu_32(svc.backends[i].address_be) & 0xff);
      EXPECT_EQ(sorted[i].weight, uint32_t{host} - 10u) << "position " << i << " holds backend " << int{host};
      EXPECT_EQ(svc.backends[i].port_be, rte_cpu_to_be_16(kWebBackendPort));
    }
    // Every slot's index points at a real target.
    std::mt19937_64 rng(9);
    for (int k = 0; k < 1000; ++k) {
      const hashing::BackendIndex idx = selectorLookup(svc, rng());
      ASSERT_LT(idx, svc.backends.size());
      EXPECT_NE(svc.backends[idx].address_be, 0u);
    }
  }
}

// The config's listing order does not change the snapshot's backend order (deterministic build).
TEST(SnapshotBuilderTest, BackendOrderIndependentOfConfigOrder) {
  SnapshotSource a;
  a.config = weightedConfig({11, 12, 13, 14, 15});
  SnapshotSource b;
  b.config = weightedConfig({14, 15, 12, 11, 13});
  const auto sa = a.build();
  const auto sb = b.build();
  ASSERT_TRUE(sa && sb);
  ASSERT_EQ(sa->services[0].backends.size(), sb->services[0].backends.size());
  for (size_t i = 0; i < sa->services[0].backends.size(); ++i) {
    EXPECT_EQ(sa->services[0].backends[i].address_be, sb->services[0].backends[i].address_be);
  }
}

// Ports, services, the service index and timeouts carry the config's values in network byte order /
// TSC cycles.
TEST(SnapshotBuilderTest, CopiesPortsServicesAndTimeouts) {
  SnapshotSource source;
  source.config.timeouts = {.tcp_syn_s = 2, .tcp_established_s = 300, .tcp_closing_s = 7, .udp_s = 30};
  const auto snap = source.build();
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->generation, 1u);
  EXPECT_EQ(snap->port_count, 1);
  EXPECT_EQ(snap->ports[0].address_be, rte_cpu_to_be_32(kPortIp));
  EXPECT_EQ(snap->ports[0].netmask_be, rte_cpu_to_be_32(0xffffff00u));
  EXPECT_TRUE(sameMac(snap->ports[0].mac, portMac()));
  EXPECT_EQ(snap->ports[0].vlan, 0);
  // Without local_addresses the port's own address is its one full-NAT source.
  EXPECT_EQ(snap->ports[0].local_count, 1u);
  EXPECT_EQ(snap->ports[0].localSourceBe(0), rte_cpu_to_be_32(kPortIp));
  source.config.ports[0].local_addresses = controlplane::Ipv4Range{ipv4(10, 99, 0, 20), ipv4(10, 99, 0, 27)};
  const auto ranged = source.build();
  ASSERT_NE(ranged, nullptr);
  EXPECT_EQ(ranged->ports[0].local_count, 8u);
  EXPECT_EQ(ranged->ports[0].localSourceBe(7), rte_cpu_to_be_32(ipv4(10, 99, 0, 27)));
  EXPECT_TRUE(ranged->ports[0].isOwnAddress(rte_cpu_to_be_32(ipv4(10, 99, 0, 20))));
  EXPECT_TRUE(ranged->ports[0].isOwnAddress(rte_cpu_to_be_32(kPortIp)));
  EXPECT_FALSE(ranged->ports[0].isOwnAddress(rte_cpu_to_be_32(ipv4(10, 99, 0, 28))));
  EXPECT_FALSE(ranged->ports[0].isOwnAddress(rte_cpu_to_be_32(ipv4(10, 99, 0, 19))));
  EXPECT_EQ(snap->timeouts.tcp_syn_tsc, 2000u);  // tsc_hz = 1000
  EXPECT_EQ(snap->timeouts.tcp_established_tsc, 300000u);
  EXPECT_EQ(snap->timeouts.tcp_closing_tsc, 7000u);
  EXPECT_EQ(snap->timeouts.udp_tsc, 30000u);
  // The ICMP error budget: Linux's defaults, in TSC ticks per error; 0 per second sends none.
  EXPECT_TRUE(snap->icmp_errors.enabled);
  EXPECT_EQ(snap->icmp_errors.interval_tsc, 1u);  // 1000 a second at 1000 ticks a second
  EXPECT_EQ(snap->icmp_errors.burst, 50u);
  source.config.icmp_errors = {.per_second = 10, .burst = 3};
  const auto slower = source.build();
  ASSERT_NE(slower, nullptr);
  EXPECT_TRUE(slower->icmp_errors.enabled);
  EXPECT_EQ(slower->icmp_errors.interval_tsc, 100u);
  EXPECT_EQ(slower->icmp_errors.burst, 3u);
  source.config.icmp_errors.per_second = 0;
  const auto silent = source.build();
  ASSERT_NE(silent, nullptr);
  EXPECT_FALSE(silent->icmp_errors.enabled);

  ASSERT_EQ(snap->services.size(), source.config.services.size());
  EXPECT_EQ(serviceOn(*snap, kDsrPort).forwarding, ForwardingMode::kDsrL2);
  EXPECT_EQ(serviceOn(*snap, kIpipPort).forwarding, ForwardingMode::kDsrIpip);
  EXPECT_EQ(serviceOn(*snap, kWebPort).forwarding, ForwardingMode::kFullNat);
  EXPECT_EQ(serviceOn(*snap, kUdpPort, Protocol::kUdp).protocol, Protocol::kUdp);
  for (uint32_t i = 0; i < snap->services.size(); ++i) {
    const Service& s = snap->services[i];
    if (s.v6) {  // web6, udp6: indexed by vip6 (snapshot_builder_ipv6_test)
      EXPECT_EQ(s.vip_be, 0u);
      EXPECT_EQ(s.vip6, kVip6);
      EXPECT_EQ(snap->service_index.findV6(s.vip6, s.port_be, static_cast<uint8_t>(s.protocol)), i);
      continue;
    }
    EXPECT_EQ(s.vip_be, rte_cpu_to_be_32(kVip));
    // Every configured backend has exactly one target, weight-0 ones included.
    std::multiset<uint32_t> targets;
    for (const BackendTarget& b : s.backends) targets.insert(rte_be_to_cpu_32(b.address_be));
    std::multiset<uint32_t> configured;
    for (const auto& b : source.config.services[i].backends) configured.insert(b.address);
    EXPECT_EQ(targets, configured) << source.config.services[i].name;
    EXPECT_EQ(snap->service_index.find(s.vip_be, s.port_be, static_cast<uint8_t>(s.protocol)), i);
  }
  EXPECT_EQ(snap->service_index.find(rte_cpu_to_be_32(kVip), rte_cpu_to_be_16(443), IPPROTO_TCP),
            ServiceIndex::kEmpty);
  EXPECT_TRUE(snap->service_index.isVip(rte_cpu_to_be_32(kVip)));
  EXPECT_FALSE(snap->service_index.isVip(rte_cpu_to_be_32(kPortIp)));
}

// A backend whose MAC the neighbour table does not know is present but marked unresolved; known
// ones carry their MAC and the port of their subnet.
TEST(SnapshotBuilderTest, UnresolvedNeighbourIsMarked) {
  SnapshotSource source;
  const auto snap = source.build();
  ASSERT_NE(snap, nullptr);
  const Service& unresolved = serviceOn(*snap, kUnresolvedPort);
  ASSERT_EQ(unresolved.backends.size(), 1u);
  EXPECT_EQ(unresolved.backends[0].address_be, rte_cpu_to_be_32(kUnresolvedBackendIp));
  EXPECT_FALSE(unresolved.backends[0].next_hop_resolved);

  const Service& web = serviceOn(*snap, kWebPort);
  for (const BackendTarget& b : web.backends) {
    const auto host = static_cast<uint8_t>(rte_be_to_cpu_32(b.address_be) & 0xff);
    EXPECT_TRUE(b.next_hop_resolved);
    EXPECT_TRUE(sameMac(b.next_hop_mac, backendMac(host)));
    EXPECT_EQ(b.egress_port, 0);
  }

  // Learning the MAC and rebuilding resolves it.
  source.neighbors.learn(kUnresolvedBackendIp, testMac(0x50), 1);
  const auto rebuilt = source.build();
  ASSERT_NE(rebuilt, nullptr);
  const BackendTarget& now = serviceOn(*rebuilt, kUnresolvedPort).backends[0];
  EXPECT_TRUE(now.next_hop_resolved);
  EXPECT_TRUE(sameMac(now.next_hop_mac, testMac(0x50)));
}

// A backend off every port's subnet goes through the gateway: the gateway's MAC on the gateway's port.
// Backends on the second port's subnet use that port and their own MAC.
TEST(SnapshotBuilderTest, OffSubnetBackendUsesGatewayMacAndPort) {
  constexpr uint32_t kPort1Ip = ipv4(192, 168, 7, 2);
  constexpr uint32_t kGateway = ipv4(192, 168, 7, 1);
  constexpr uint32_t kRemote = ipv4(172, 16, 0, 5);
  constexpr uint32_t kOnPort1 = ipv4(192, 168, 7, 20);
  SnapshotSource source;
  source.config.ports.push_back({.name = "eth1", .address = {kPort1Ip, 24}, .gateway = kGateway, .vlan = 0});
  source.config.services.resize(1);
  source.config.services[0].backends = {{kRemote, 8080, 1}, {kOnPort1, 8080, 1}, {backendIp(11), 8080, 1}};
  source.neighbors.addStatic(kGateway, testMac(0x0701));
  source.neighbors.addStatic(kOnPort1, testMac(0x0720));

  controlplane::BuildInputs in;
  in.config = &source.config;
  in.port_macs = {portMac(), testMac(0x0702)};
  in.neighbors = &source.neighbors;
  in.counter_slots = &source.slots;
  in.tsc_hz = 1000;
  auto built = controlplane::buildSnapshot(in);
  ASSERT_TRUE(built.ok()) << built.status();
  const dataplane::Snapshot& snap = **built;
  ASSERT_EQ(snap.port_count, 2);
  EXPECT_EQ(snap.ports[1].address_be, rte_cpu_to_be_32(kPort1Ip));
  const Service& svc = snap.services[0];

  const int remote = backendPosition(svc, kRemote);
  ASSERT_GE(remote, 0);
  EXPECT_TRUE(svc.backends[static_cast<size_t>(remote)].next_hop_resolved);
  EXPECT_TRUE(sameMac(svc.backends[static_cast<size_t>(remote)].next_hop_mac, testMac(0x0701)));
  EXPECT_EQ(svc.backends[static_cast<size_t>(remote)].egress_port, 1);

  const int on_port1 = backendPosition(svc, kOnPort1);
  ASSERT_GE(on_port1, 0);
  EXPECT_TRUE(sameMac(svc.backends[static_cast<size_t>(on_port1)].next_hop_mac, testMac(0x0720)));
  EXPECT_EQ(svc.backends[static_cast<size_t>(on_port1)].egress_port, 1);

  const int local = backendPosition(svc, backendIp(11));
  ASSERT_GE(local, 0);
  EXPECT_EQ(svc.backends[static_cast<size_t>(local)].egress_port, 0);
  EXPECT_TRUE(sameMac(svc.backends[static_cast<size_t>(local)].next_hop_mac, backendMac(11)));
}

// With no gateway configured, an off-subnet backend has no next hop and stays unresolved.
TEST(SnapshotBuilderTest, OffSubnetBackendWithoutGatewayIsUnresolved) {
  SnapshotSource source;
  source.config.services.resize(1);
  source.config.services[0].backends = {{ipv4(172, 16, 0, 5), 8080, 1}};
  source.neighbors.addStatic(ipv4(172, 16, 0, 5), testMac(0x1605));  // known MAC, but not on-link
  const auto snap = source.build();
  ASSERT_NE(snap, nullptr);
  EXPECT_FALSE(snap->services[0].backends[0].next_hop_resolved);
  EXPECT_FALSE(controlplane::nextHopFor(source.config, ipv4(172, 16, 0, 5)).has_value());
}

std::map<std::pair<std::string, uint32_t>, uint32_t> slotsByBackend(const controlplane::Config& config,
                                                                     const Snapshot& snap) {
  std::map<std::pair<std::string, uint32_t>, uint32_t> out;
  for (size_t s = 0; s < snap.services.size(); ++s) {
    for (const BackendTarget& b : snap.services[s].backends) {
      out[{config.services[s].name, rte_be_to_cpu_32(b.address_be)}] = b.counter_slot;
    }
  }
  return out;
}

// Adding (or removing) a backend keeps every surviving backend's counter slot, and the new backend
// gets a slot no live backend uses.
TEST(SnapshotBuilderTest, CounterSlotsStableAcrossRebuilds) {
  SnapshotSource source;
  const auto first = source.build();
  ASSERT_NE(first, nullptr);
  const auto before = slotsByBackend(source.config, *first);
  std::set<uint32_t> distinct;
  for (const auto& [key, slot] : before) distinct.insert(slot);
  EXPECT_EQ(distinct.size(), before.size()) << "two backends share a counter slot";

  source.config = makeConfig({11, 12, 13, 14});
  const auto second = source.build();
  ASSERT_NE(second, nullptr);
  const auto after = slotsByBackend(source.config, *second);
  for (const auto& [key, slot] : before) {
    ASSERT_TRUE(after.count(key));
    EXPECT_EQ(after.at(key), slot) << key.first << " backend " << key.second << " moved slot";
  }
  for (const std::string name : {"web", "udp", "dsr", "ipip"}) {
    const uint32_t added = after.at({name, backendIp(14)});
    for (const auto& [key, slot] : after) {
      if (key != std::pair<std::string, uint32_t>{name, backendIp(14)}) {
        EXPECT_NE(slot, added) << name;
      }
    }
  }

  source.config = makeConfig({11, 13, 14});
  const auto third = source.build();
  ASSERT_NE(third, nullptr);
  const auto removed = slotsByBackend(source.config, *third);
  for (const auto& [key, slot] : removed) EXPECT_EQ(slot, after.at(key));
}

// A config with a different number of ports than DPDK reports is refused.
TEST(SnapshotBuilderTest, PortCountMismatchIsRefused) {
  SnapshotSource source;
  controlplane::BuildInputs in;
  in.config = &source.config;
  in.port_macs = {portMac(), portMac()};
  in.neighbors = &source.neighbors;
  in.counter_slots = &source.slots;
  auto built = controlplane::buildSnapshot(in);
  EXPECT_EQ(built.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lb::dataplane::test

namespace lb::dataplane::test {
namespace {

// Slow start: a backend's weight is scaled by its share (never below 1 while it has weight), and the
// Maglev table gives it entries in proportion to that scaled weight (10 of 210 instead of 100 of 300).
TEST(SnapshotBuilderTest, SlowStartShareScalesBackendWeight) {
  EXPECT_EQ(controlplane::slowStartWeight(100, 0.25), 25u);
  EXPECT_EQ(controlplane::slowStartWeight(100, 0.0), 1u);
  EXPECT_EQ(controlplane::slowStartWeight(100, 1.5), 100u);
  EXPECT_EQ(controlplane::slowStartWeight(0, 0.5), 0u);

  SnapshotSource source;
  source.config.services.resize(1);
  for (auto& b : source.config.services[0].backends) b.weight = 100;
  const uint32_t recovering = backendIp(12);
  const std::map<controlplane::BackendKey, double> shares = {
      {{source.config.services[0].name, recovering, source.config.services[0].backends[0].port}, 0.1}};

  auto entriesOf = [&](const std::map<controlplane::BackendKey, double>* share) {
    controlplane::BuildInputs in;
    in.config = &source.config;
    in.port_macs = {portMac()};
    in.neighbors = &source.neighbors;
    in.counter_slots = &source.slots;
    in.tsc_hz = 1000;
    in.slow_start_share = share;
    auto built = controlplane::buildSnapshot(in);
    EXPECT_TRUE(built.ok()) << built.status();
    const Service& svc = (*built)->services[0];
    const auto& table = std::get<hashing::MaglevTable>(svc.selector);
    return table.entriesPerBackend()[backendPosition(svc, recovering)];
  };
  const uint32_t full = entriesOf(nullptr);
  const uint32_t ramping = entriesOf(&shares);
  const double expected = (10.0 / 210.0) / (100.0 / 300.0);
  EXPECT_NEAR(static_cast<double>(ramping) / full, expected, 0.01) << ramping << " of " << full;
}

}  // namespace
}  // namespace lb::dataplane::test

// --- HTTP services (issue 5): sticky policy, backend ids and availability, session service index ---
namespace lb::dataplane::test {
namespace {

controlplane::HttpConfig stickyHttp() {
  controlplane::HttpConfig http;
  http.sticky = {StickyMethod::kLearnCookie, StickyMethod::kHashCookie, StickyMethod::kFiveTuple};
  http.session_cookie = "SESSIONID";
  http.hash_cookie = "user";
  http.unavailable_target = StickyTargetPolicy::kStrict;
  http.max_head_bytes = 8192;
  http.head_timeout_ms = 2500;
  http.connect_timeout_ms = 150;
  http.connect_attempts = 4;
  http.max_backends_tried = 2;
  http.mss = 1400;
  http.window_scale = 9;
  return http;
}

std::unique_ptr<Snapshot> buildWith(SnapshotSource& source, uint64_t tsc_hz,
                                    controlplane::ServiceSlots* session_services,
                                    const std::set<controlplane::BackendKey>* down = nullptr) {
  controlplane::BuildInputs in;
  in.config = &source.config;
  in.port_macs.assign(source.config.ports.size(), portMac());
  in.neighbors = &source.neighbors;
  in.counter_slots = &source.slots;
  in.tsc_hz = tsc_hz;
  in.down = down;
  in.session_services = session_services;
  auto built = controlplane::buildSnapshot(in);
  EXPECT_TRUE(built.ok()) << built.status();
  return built.ok() ? *std::move(built) : nullptr;
}

// Every http key reaches Service::http, times in TSC cycles at the given rate; services without an
// http block stay disabled.
TEST(SnapshotBuilderHttpTest, CopiesStickyPolicyWithTscTimes) {
  SnapshotSource source;
  source.config.services[0].http = stickyHttp();  // web
  controlplane::ServiceSlots session_services{kMaxServiceCounters};
  const auto snap = buildWith(source, 2'000'000'000, &session_services);
  ASSERT_NE(snap, nullptr);
  const HttpStickyPolicy& http = serviceOn(*snap, kWebPort).http;
  EXPECT_TRUE(http.enabled);
  ASSERT_EQ(http.method_count, 3);
  EXPECT_EQ(http.methods[0], StickyMethod::kLearnCookie);
  EXPECT_EQ(http.methods[1], StickyMethod::kHashCookie);
  EXPECT_EQ(http.methods[2], StickyMethod::kFiveTuple);
  EXPECT_EQ(http.learn_cookie, "SESSIONID");
  EXPECT_EQ(http.hash_cookie, "user");
  EXPECT_EQ(http.unavailable_target, StickyTargetPolicy::kStrict);
  EXPECT_EQ(http.max_head_bytes, 8192u);
  EXPECT_EQ(http.head_timeout_tsc, 5'000'000'000u);  // 2.5 s at 2 GHz
  EXPECT_EQ(http.connect_timeout_tsc, 300'000'000u);  // 150 ms at 2 GHz
  EXPECT_EQ(http.connect_attempts, 4);
  EXPECT_EQ(http.max_backends_tried, 2);
  EXPECT_EQ(http.mss, 1400);
  EXPECT_EQ(http.window_scale, 9);
  EXPECT_EQ(http.session_service, session_services.slots().at("web"));
  for (uint16_t port : {kDsrPort, kIpipPort, kDrainedPort}) {
    EXPECT_FALSE(serviceOn(*snap, port).http.enabled) << port;
  }
  EXPECT_FALSE(serviceOn(*snap, kUdpPort, Protocol::kUdp).http.enabled);
  // Only HTTP services take a session-table index.
  EXPECT_EQ(session_services.slots().size(), 1u);
}

// A target's id is the selector's id for the same index (what the session table stores), and its
// availability follows admin state and health: disabled or down -> down, draining -> draining.
TEST(SnapshotBuilderHttpTest, BackendIdsAndAvailability) {
  SnapshotSource source;
  source.config = makeConfig({11, 12, 13, 14});
  auto& backends = source.config.services[0].backends;  // web: .11 .12 .13 .14
  backends[0].state = controlplane::BackendAdminState::kDraining;
  backends[1].state = controlplane::BackendAdminState::kDisabled;
  backends[3].weight = 0;  // weight 0 alone takes no new flows but is still available to a binding
  const std::set<controlplane::BackendKey> down = {{"web", backendIp(13), kWebBackendPort}};
  const auto snap = buildWith(source, 1000, nullptr, &down);
  ASSERT_NE(snap, nullptr);
  const Service& web = serviceOn(*snap, kWebPort);
  const auto& sorted = selectorBackends(web);
  ASSERT_EQ(sorted.size(), web.backends.size());
  std::set<uint64_t> ids;
  for (size_t i = 0; i < web.backends.size(); ++i) {
    EXPECT_EQ(web.backends[i].id, sorted[i].id) << i;
    ids.insert(web.backends[i].id);
  }
  EXPECT_EQ(ids.size(), 4u) << "two backends share an id";
  for (const controlplane::BackendConfig& b : backends) {
    const int position = backendPosition(web, b.address);
    ASSERT_GE(position, 0);
    EXPECT_EQ(web.backends[static_cast<size_t>(position)].id, controlplane::backendStableId(b));
  }
  auto availabilityOf = [&](uint8_t host) {
    return web.backends[static_cast<size_t>(backendPosition(web, backendIp(host)))].availability;
  };
  EXPECT_EQ(availabilityOf(11), BackendAvailability::kDraining);
  EXPECT_EQ(availabilityOf(12), BackendAvailability::kDown);
  EXPECT_EQ(availabilityOf(13), BackendAvailability::kDown);
  EXPECT_EQ(availabilityOf(14), BackendAvailability::kUp);
  // The id depends only on address and port: the same backend in another service has the same id.
  const Service& udp = serviceOn(*snap, kUdpPort, Protocol::kUdp);
  const controlplane::BackendConfig udp_11{backendIp(11), kUdpBackendPort, 1};
  EXPECT_EQ(udp.backends[static_cast<size_t>(backendPosition(udp, backendIp(11)))].id,
            controlplane::backendStableId(udp_11));
}

// A service keeps its session-table index across rebuilds while others come and go, and a new
// service never takes an index a live one holds (nor, while unused ones remain, a freed one).
TEST(SnapshotBuilderHttpTest, SessionServiceIndexIsStableAcrossReloads) {
  SnapshotSource source;
  controlplane::ServiceSlots session_services{kMaxServiceCounters};
  source.config.services[0].http = stickyHttp();                  // web :80
  source.config.services[4].http = controlplane::HttpConfig{};    // drained :83
  source.config.services[4].http->session_cookie = "SID";
  const auto first = buildWith(source, 1000, &session_services);
  ASSERT_NE(first, nullptr);
  const uint16_t web = serviceOn(*first, kWebPort).http.session_service;
  const uint16_t drained = serviceOn(*first, kDrainedPort).http.session_service;
  EXPECT_NE(web, drained);

  // Remove the web service's http block and the udp service; add http to unresolved (:84).
  source.config.services[0].http.reset();
  source.config.services.erase(source.config.services.begin() + 1);
  auto& unresolved = *std::find_if(source.config.services.begin(), source.config.services.end(),
                                   [](const controlplane::ServiceConfig& s) { return s.name == "unresolved"; });
  ASSERT_EQ(unresolved.name, "unresolved");
  unresolved.http = controlplane::HttpConfig{};
  unresolved.http->session_cookie = "SID";
  const auto second = buildWith(source, 1000, &session_services);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(serviceOn(*second, kDrainedPort).http.session_service, drained);
  const uint16_t fresh = serviceOn(*second, kUnresolvedPort).http.session_service;
  EXPECT_NE(fresh, drained);
  EXPECT_NE(fresh, web) << "a freed index was reused while never-used ones remain";
  EXPECT_EQ(session_services.slots().count("web"), 0u);

  // web comes back: a fresh index, and drained still keeps its own.
  source.config.services[0].http = stickyHttp();
  const auto third = buildWith(source, 1000, &session_services);
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(serviceOn(*third, kDrainedPort).http.session_service, drained);
  EXPECT_EQ(serviceOn(*third, kUnresolvedPort).http.session_service, fresh);
  const uint16_t web_again = serviceOn(*third, kWebPort).http.session_service;
  EXPECT_NE(web_again, drained);
  EXPECT_NE(web_again, fresh);
  for (const auto& [name, index] : session_services.slots()) EXPECT_LT(index, kMaxServiceCounters);
}

// Freed indices are reused oldest first once every index has been handed out, and running out is an
// error, not a shared index.
TEST(SnapshotBuilderHttpTest, ServiceSlotsReuseAndExhaustion) {
  controlplane::ServiceSlots slots{3};
  ASSERT_EQ(*slots.slotFor("a"), 0);
  ASSERT_EQ(*slots.slotFor("b"), 1);
  ASSERT_EQ(*slots.slotFor("c"), 2);
  EXPECT_EQ(*slots.slotFor("a"), 0);
  EXPECT_EQ(slots.slotFor("d").status().code(), absl::StatusCode::kResourceExhausted);
  slots.retainOnly({"c"});  // frees 0 then 1
  EXPECT_EQ(*slots.slotFor("e"), 0);
  EXPECT_EQ(*slots.slotFor("f"), 1);
  EXPECT_EQ(*slots.slotFor("c"), 2);
}

}  // namespace
}  // namespace lb::dataplane::test
