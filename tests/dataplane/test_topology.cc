#include "tests/dataplane/test_topology.h"

#include <gtest/gtest.h>
#include <rte_byteorder.h>

#include <string>
#include <tuple>

#include "controlplane/snapshot_builder.h"

namespace lb::dataplane::test {
namespace {

controlplane::ServiceConfig service(std::string name, uint16_t port, controlplane::Protocol protocol,
                                    controlplane::ForwardingMode mode, uint16_t backend_port,
                                    const std::vector<uint8_t>& hosts, uint32_t weight) {
  controlplane::ServiceConfig s;
  s.name = std::move(name);
  s.vip = kVip;
  s.port = port;
  s.protocol = protocol;
  s.forwarding = mode;
  for (uint8_t h : hosts) s.backends.push_back({backendIp(h), backend_port, weight});
  return s;
}

}  // namespace

controlplane::Config makeConfig(const std::vector<uint8_t>& backend_hosts, uint16_t port_vlan) {
  using controlplane::ForwardingMode;
  using controlplane::Protocol;
  controlplane::Config c;
  c.dataplane.local_port_min = kLocalPortMin;
  c.dataplane.local_port_max = kLocalPortMax;
  c.ports.push_back({.name = "eth0", .address = {kPortIp, 24}, .gateway = std::nullopt, .vlan = port_vlan});
  c.ports[0].address6 = controlplane::Ipv6Prefix{kPortIp6, 64};
  c.services.push_back(
      service("web", kWebPort, Protocol::kTcp, ForwardingMode::kFullNat, kWebBackendPort, backend_hosts, 1));
  c.services.push_back(
      service("udp", kUdpPort, Protocol::kUdp, ForwardingMode::kFullNat, kUdpBackendPort, backend_hosts, 1));
  c.services.push_back(service("dsr", kDsrPort, Protocol::kTcp, ForwardingMode::kDsrL2, kDsrPort, backend_hosts, 1));
  c.services.push_back(
      service("ipip", kIpipPort, Protocol::kTcp, ForwardingMode::kDsrIpip, kIpipPort, backend_hosts, 1));
  c.services.push_back(service("drained", kDrainedPort, Protocol::kTcp, ForwardingMode::kFullNat,
                               kWebBackendPort, {11, 12, 13}, 0));
  controlplane::ServiceConfig unresolved = service("unresolved", kUnresolvedPort, Protocol::kTcp,
                                                   ForwardingMode::kFullNat, kWebBackendPort, {}, 1);
  unresolved.backends.push_back({kUnresolvedBackendIp, kWebBackendPort, 1});
  c.services.push_back(unresolved);
  for (auto [name, port, protocol, backend_port] :
       {std::tuple("web6", kWebPort, Protocol::kTcp, kWebBackendPort),
        std::tuple("udp6", kUdpPort, Protocol::kUdp, kUdpBackendPort)}) {
    controlplane::ServiceConfig v6 = service(name, port, protocol, ForwardingMode::kFullNat, backend_port, backend_hosts, 1);
    v6.vip = 0;
    v6.vip6 = kVip6;
    c.services.push_back(v6);
  }
  for (uint8_t h = 11; h <= 15; ++h) {
    const rte_ether_addr mac = backendMac(h);
    controlplane::MacAddress m{};
    std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), m.begin());
    c.neighbors.push_back({backendIp(h), m});
  }
  return c;
}

controlplane::NeighborTable makeNeighbors() {
  controlplane::NeighborTable t;
  for (uint8_t h = 11; h <= 15; ++h) t.addStatic(backendIp(h), backendMac(h));
  return t;
}

std::unique_ptr<Snapshot> SnapshotSource::build() {
  controlplane::BuildInputs in;
  in.config = &config;
  in.port_macs.assign(config.ports.size(), portMac());
  in.neighbors = &neighbors;
  in.counter_slots = &slots;
  in.tsc_hz = 1000;  // 1 tick per millisecond keeps timeouts readable in tests
  in.generation = ++generation;
  auto built = controlplane::buildSnapshot(in);
  EXPECT_TRUE(built.ok()) << built.status();
  if (!built.ok()) return nullptr;
  return *std::move(built);
}

const Service& serviceOn(const Snapshot& snap, uint16_t port, Protocol protocol) {
  for (const Service& s : snap.services) {
    if (s.port_be == rte_cpu_to_be_16(port) && s.protocol == protocol) return s;
  }
  ADD_FAILURE() << "no service on port " << port;
  return snap.services.front();
}

int backendPosition(const Service& svc, uint32_t address) {
  for (size_t i = 0; i < svc.backends.size(); ++i) {
    if (svc.backends[i].address_be == rte_cpu_to_be_32(address)) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace lb::dataplane::test
