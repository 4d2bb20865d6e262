// The one network every dataplane test talks about, so expectations read as names, not numbers:
//
//   client 10.99.0.200 (kClientMac) --- port 0: 10.99.0.2/24 (kPortMac) --- backends 10.99.0.11-13
//
// VIP 10.99.0.100 carries one service per forwarding mode plus two that cannot forward:
//   :80   TCP full-NAT -> backends :8080         :9000 UDP full-NAT -> backends :9001
//   :81   TCP DSR (L2) -> backends :81           :82   TCP IPIP     -> backends :82
//   :83   TCP full-NAT, every backend weight 0   :84   TCP full-NAT -> 10.99.0.50:8080 (no MAC known)
// Static neighbours give 10.99.0.11-15 the MACs kBackendMac(11..15); 10.99.0.50 stays unresolved.
// IPv6 (NAT64 full-NAT): port 0 also has fd00:99::2/64, and the VIP fd00:99::100 carries web6
// (TCP :80) and udp6 (UDP :9000) with the same backends as web and udp; the client is fd00:99::c11e:4701.
#pragma once

#include <rte_ether.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "controlplane/config.h"
#include "controlplane/counter_slots.h"
#include "controlplane/neighbor_table.h"
#include "dataplane/lcore_counters.h"
#include "dataplane/snapshot.h"
#include "tests/dataplane/packet_builder.h"

namespace lb::dataplane::test {

inline constexpr uint32_t kPortIp = ipv4(10, 99, 0, 2);
inline constexpr uint32_t kVip = ipv4(10, 99, 0, 100);
inline constexpr uint32_t kClientIp = ipv4(10, 99, 0, 200);
inline constexpr uint32_t kUnresolvedBackendIp = ipv4(10, 99, 0, 50);
inline constexpr uint32_t kOtherIp = ipv4(10, 99, 0, 77);  // neither local, VIP nor backend
inline constexpr Ipv6Bytes kPortIp6 = {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
inline constexpr Ipv6Bytes kVip6 = {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
inline constexpr Ipv6Bytes kClientIp6 = {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0xc1, 0x1e, 0x47, 0x01};
inline constexpr Ipv6Bytes kOtherIp6 = {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x77};

inline constexpr uint16_t kWebPort = 80;
inline constexpr uint16_t kWebBackendPort = 8080;
inline constexpr uint16_t kDsrPort = 81;
inline constexpr uint16_t kIpipPort = 82;
inline constexpr uint16_t kDrainedPort = 83;
inline constexpr uint16_t kUnresolvedPort = 84;
inline constexpr uint16_t kUdpPort = 9000;
inline constexpr uint16_t kUdpBackendPort = 9001;

inline constexpr uint16_t kLocalPortMin = 10000;
inline constexpr uint16_t kLocalPortMax = 59999;

// Backend n (11..15) is 10.99.0.n with MAC 02:00:00:00:00:n.
constexpr uint32_t backendIp(uint8_t n) { return ipv4(10, 99, 0, n); }
inline rte_ether_addr backendMac(uint8_t n) { return testMac(n); }
inline rte_ether_addr portMac() { return testMac(0x0101); }
inline rte_ether_addr clientMac() { return testMac(0xc1c1); }

// The services above with web/udp/dsr/ipip backends `backend_hosts` (last octets).
controlplane::Config makeConfig(const std::vector<uint8_t>& backend_hosts = {11, 12, 13},
                                uint16_t port_vlan = 0);

// Static neighbours for 10.99.0.11-15.
controlplane::NeighborTable makeNeighbors();

// Owns what buildSnapshot reads, so a test can rebuild after changing the config while keeping
// counter slots (as the control plane does on reload).
struct SnapshotSource {
  controlplane::Config config = makeConfig();
  controlplane::NeighborTable neighbors = makeNeighbors();
  controlplane::CounterSlots slots{kMaxBackendCounters};
  uint64_t generation = 0;

  // Fails the calling test (and returns nullptr) if the builder refuses the config.
  std::unique_ptr<Snapshot> build();
};

// Index of the service with this VIP port in a snapshot built from makeConfig().
const Service& serviceOn(const Snapshot& snap, uint16_t port, Protocol protocol = Protocol::kTcp);
// Position of the backend with this host-order address, or -1.
int backendPosition(const Service& svc, uint32_t address);

}  // namespace lb::dataplane::test
