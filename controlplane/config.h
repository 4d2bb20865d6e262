// Tether's typed, validated configuration: file -> parse -> validate -> Config (immutable) -> snapshot.
//
// A Config only exists if the whole file validated, so the daemon never half-starts on a bad file.
// Keys marked [boot] need a restart (they size memory or ports); the rest can be reloaded. Defaults are
// the named constants below (Katran's KatranConfig shape). The YAML schema is documented in
// configs/README.md and exercised by configs/*.yaml.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "hashing/selector.h"

namespace lb::controlplane {

inline constexpr uint32_t kDefaultBurstSize = 32;
inline constexpr uint32_t kDefaultMbufs = 16383;
inline constexpr uint32_t kDefaultFlowEntriesPerLcore = 1u << 16;
inline constexpr uint16_t kDefaultLocalPortMin = 10000;
inline constexpr uint16_t kDefaultLocalPortMax = 59999;
inline constexpr uint32_t kDefaultTcpSynTimeoutS = 10;
inline constexpr uint32_t kDefaultTcpEstablishedTimeoutS = 300;
inline constexpr uint32_t kDefaultTcpClosingTimeoutS = 10;
inline constexpr uint32_t kDefaultUdpTimeoutS = 30;
inline constexpr uint32_t kDefaultWeight = 1;
inline constexpr uint32_t kMaxWeight = 1000000;

// Addresses are host byte order here; the snapshot builder converts to network order once.
struct Ipv4Prefix {
  uint32_t address = 0;
  uint8_t prefix_length = 32;
};

struct PortConfig {          // [boot] one entry per DPDK port, in EAL port-id order
  std::string name;          // for logs and metrics only
  Ipv4Prefix address;        // Tether's own address on this port: ARP, ping, full-NAT source
  std::optional<uint32_t> gateway;  // next hop for destinations off the port's subnet
  uint16_t vlan = 0;         // 0 = untagged; otherwise 802.1Q tag pushed on egress, expected on ingress
};

enum class Protocol : uint8_t { kTcp = 6, kUdp = 17 };
enum class ForwardingMode : uint8_t { kFullNat, kDsrL2, kDsrIpip };
enum class BalanceKey : uint8_t { kFiveTuple, kSourceAddress };

struct BackendConfig {
  uint32_t address = 0;
  uint16_t port = 0;  // full-NAT: backend port; DSR modes: must equal the service port
  uint32_t weight = kDefaultWeight;  // 0..kMaxWeight; 0 = no new flows (drain)
};

struct ServiceConfig {
  std::string name;  // unique, [a-z0-9_-]+
  uint32_t vip = 0;
  uint16_t port = 0;  // 1..65535
  Protocol protocol = Protocol::kTcp;
  ForwardingMode forwarding = ForwardingMode::kFullNat;
  BalanceKey key = BalanceKey::kFiveTuple;
  hashing::SelectorParams selector;  // algorithm, maglev_size (prime), ring_vnodes, seed
  std::vector<BackendConfig> backends;  // unique (address, port)
};

struct StaticNeighbor {
  uint32_t address = 0;
  std::array<uint8_t, 6> mac{};
};

struct Timeouts {
  uint32_t tcp_syn_s = kDefaultTcpSynTimeoutS;
  uint32_t tcp_established_s = kDefaultTcpEstablishedTimeoutS;
  uint32_t tcp_closing_s = kDefaultTcpClosingTimeoutS;
  uint32_t udp_s = kDefaultUdpTimeoutS;
};

struct DataplaneConfig {  // [boot]
  uint32_t burst_size = kDefaultBurstSize;                 // 1..256
  uint32_t mbufs = kDefaultMbufs;                          // 1023..1048575
  uint32_t flow_entries_per_lcore = kDefaultFlowEntriesPerLcore;  // power of two, 1024..1<<24
  uint16_t local_port_min = kDefaultLocalPortMin;          // full-NAT source ports, split per lcore
  uint16_t local_port_max = kDefaultLocalPortMax;
};

struct Config {
  DataplaneConfig dataplane;
  std::vector<PortConfig> ports;  // at least one
  Timeouts timeouts;
  std::vector<StaticNeighbor> neighbors;
  std::vector<ServiceConfig> services;  // unique (vip, port, protocol)
};

// Parses and validates YAML text. Errors are InvalidArgument with the offending key path and value,
// e.g. "services[1].backends[0].weight: 2000000 is out of range 0..1000000".
absl::StatusOr<Config> parseConfig(std::string_view yaml_text);
absl::StatusOr<Config> loadConfigFile(const std::string& path);

// Checks that hold across the whole Config (also used for configs built by the REST API).
absl::Status validateConfig(const Config& config);

std::string_view forwardingModeName(ForwardingMode mode);
std::string formatIpv4(uint32_t address_host_order);

}  // namespace lb::controlplane
