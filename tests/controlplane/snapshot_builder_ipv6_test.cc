// controlplane::buildSnapshot for IPv6 (NAT64 full-NAT): an IPv6 VIP reaches the snapshot as v6 with
// its 16 bytes in network order and vip_be 0, a port's address6 as has_address6/address6, and the
// service index finds IPv6 services by (vip6, port, protocol) only. The rest of the builder is tested
// in tests/dataplane/snapshot_builder_test.cc.
#include <gtest/gtest.h>
#include <rte_byteorder.h>

#include "controlplane/config.h"
#include "controlplane/snapshot_builder.h"

namespace lb::controlplane {
namespace {

constexpr std::string_view kYaml = R"(
ports:
  - name: lan
    address: 10.99.0.2/24
    address6: fd00:99::2/64
  - name: wan
    address: 192.168.7.2/24
services:
  - name: web
    vip: 10.99.0.100
    port: 80
    backends: [{address: 10.99.0.11, port: 8080}]
  - name: web6
    vip: fd00:99::100
    port: 80
    backends: [{address: 10.99.0.11, port: 8080}, {address: 10.99.0.12, port: 8080}]
  - name: echo6
    vip: fd00:99::100
    port: 9000
    protocol: udp
    backends: [{address: 10.99.0.13, port: 9000}]
)";

constexpr dataplane::Ipv6Bytes kVip6 = {0xfd, 0x00, 0x00, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00};
constexpr dataplane::Ipv6Bytes kPortAddress6 = {0xfd, 0x00, 0x00, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};

std::unique_ptr<dataplane::Snapshot> build(const Config& config, NeighborTable& neighbors,
                                           CounterSlots& slots) {
  BuildInputs in;
  in.config = &config;
  in.port_macs.assign(config.ports.size(), rte_ether_addr{{0x02, 0, 0, 0, 0, 0x01}});
  in.neighbors = &neighbors;
  in.counter_slots = &slots;
  in.tsc_hz = 1000;
  auto built = buildSnapshot(in);
  EXPECT_TRUE(built.ok()) << built.status();
  return built.ok() ? *std::move(built) : nullptr;
}

// kYaml parsed and built; nullptr (with the test failed) when either step refuses it.
std::unique_ptr<dataplane::Snapshot> buildFromYaml() {
  absl::StatusOr<Config> config = parseConfig(kYaml);
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return nullptr;
  NeighborTable neighbors;
  CounterSlots slots(64);
  return build(*config, neighbors, slots);
}

uint8_t protocolByte(Protocol protocol) { return static_cast<uint8_t>(protocol); }

// The port's IPv6 address is copied byte for byte; a port without one says so.
TEST(SnapshotBuilderIpv6Test, PortAddress6ReachesTheSnapshot) {
  const auto snap = buildFromYaml();
  ASSERT_NE(snap, nullptr);
  EXPECT_TRUE(snap->ports[0].has_address6);
  EXPECT_EQ(snap->ports[0].address6, kPortAddress6);
  EXPECT_FALSE(snap->ports[1].has_address6);
  EXPECT_EQ(snap->ports[1].address6, dataplane::Ipv6Bytes{});
}

// IPv6 services are v6 with vip6 in wire order and vip_be 0; IPv4 services are untouched; the index
// finds each IPv6 service by its own listener and never through the IPv4 table.
TEST(SnapshotBuilderIpv6Test, Ipv6ServicesAreV6WithTheirBytes) {
  const auto snap = buildFromYaml();
  ASSERT_NE(snap, nullptr);
  ASSERT_EQ(snap->services.size(), 3u);

  const dataplane::Service& web = snap->services[0];
  EXPECT_FALSE(web.v6);
  EXPECT_EQ(web.vip_be, rte_cpu_to_be_32(0x0a630064));
  EXPECT_EQ(web.vip6, dataplane::Ipv6Bytes{});

  for (size_t i : {1u, 2u}) {
    const dataplane::Service& s = snap->services[i];
    EXPECT_TRUE(s.v6) << i;
    EXPECT_EQ(s.vip6, kVip6) << i;
    EXPECT_EQ(s.vip_be, 0u) << i;
    EXPECT_EQ(s.forwarding, ForwardingMode::kFullNat) << i;
    for (const dataplane::BackendTarget& b : s.backends) EXPECT_NE(b.address_be, 0u) << i;
  }
  EXPECT_EQ(snap->services[1].port_be, rte_cpu_to_be_16(80));
  EXPECT_EQ(snap->services[1].backends.size(), 2u);
  EXPECT_EQ(snap->services[2].port_be, rte_cpu_to_be_16(9000));

  const dataplane::ServiceIndex& index = snap->service_index;
  EXPECT_EQ(index.findV6(kVip6, rte_cpu_to_be_16(80), protocolByte(Protocol::kTcp)), 1u);
  EXPECT_EQ(index.findV6(kVip6, rte_cpu_to_be_16(9000), protocolByte(Protocol::kUdp)), 2u);
  EXPECT_EQ(index.findV6(kVip6, rte_cpu_to_be_16(9000), protocolByte(Protocol::kTcp)),
            dataplane::ServiceIndex::kEmpty);
  EXPECT_EQ(index.find(0, rte_cpu_to_be_16(80), protocolByte(Protocol::kTcp)),
            dataplane::ServiceIndex::kEmpty);
  EXPECT_EQ(index.find(rte_cpu_to_be_32(0x0a630064), rte_cpu_to_be_16(80), protocolByte(Protocol::kTcp)), 0u);
  EXPECT_TRUE(index.isVip6(kVip6));
  EXPECT_FALSE(index.isVip6(kPortAddress6));
  EXPECT_FALSE(index.isVip(0));
}

// A service with http.share_sessions_with takes its owner's session namespace, so a cookie learnt on
// either VIP is found on both; a third HTTP service keeps its own.
TEST(SnapshotBuilderIpv6Test, SharedSessionsUseTheOwnersNamespace) {
  absl::StatusOr<Config> config = parseConfig(R"(
ports: [{name: lan, address: 10.99.0.2/24, address6: "fd00:99::2/64"}]
services:
  - name: shop
    vip: 10.99.0.100
    port: 80
    http: {session_cookie: SID}
    backends: [{address: 10.99.0.11, port: 8081}]
  - name: other
    vip: 10.99.0.101
    port: 80
    http: {session_cookie: SID}
    backends: [{address: 10.99.0.11, port: 8081}]
  - name: shop6
    vip: "fd00:99::100"
    port: 80
    http: {session_cookie: SID, share_sessions_with: shop}
    backends: [{address: 10.99.0.11, port: 8081}]
)");
  ASSERT_TRUE(config.ok()) << config.status();
  NeighborTable neighbors;
  CounterSlots slots(64);
  ServiceSlots sessions(16);
  BuildInputs in;
  in.config = &*config;
  in.port_macs.assign(config->ports.size(), rte_ether_addr{{0x02, 0, 0, 0, 0, 0x01}});
  in.neighbors = &neighbors;
  in.counter_slots = &slots;
  in.session_services = &sessions;
  in.tsc_hz = 1000;
  auto snap = buildSnapshot(in);
  ASSERT_TRUE(snap.ok()) << snap.status();
  const auto& services = (*snap)->services;
  EXPECT_EQ(services[2].http.session_service, services[0].http.session_service);
  EXPECT_NE(services[1].http.session_service, services[0].http.session_service);
  EXPECT_EQ(sessions.slots().size(), 2u) << "shop6 owns no namespace of its own";
}

}  // namespace
}  // namespace lb::controlplane
