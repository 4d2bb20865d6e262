// The contract between control plane and workers: one immutable snapshot of everything a worker needs
// to forward a packet (services, their selection tables and backends, local addresses, next hops).
//
// The control plane builds a Snapshot, publishes it with one atomic pointer store, and frees the old
// one only after every worker has passed a quiescent state (rte_rcu_qsbr). Workers never write to it.
// Addresses and ports are in network byte order (`_be`), exactly as they sit in packets, so the hot
// path compares and copies without swapping.
#pragma once

#include <rte_ether.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/icmp_error_budget.h"
#include "dataplane/lcore_counters.h"
#include "dataplane/service_types.h"
#include "hashing/selector.h"

namespace lb::dataplane {

inline constexpr uint16_t kMaxPorts = 8;

struct BackendTarget {
  uint32_t address_be = 0;
  uint16_t port_be = 0;
  uint16_t egress_port = 0;          // DPDK port that reaches the backend (or its gateway)
  rte_ether_addr next_hop_mac{};     // backend's MAC if on-link, else the gateway's
  bool next_hop_resolved = false;
  uint32_t counter_slot = 0;         // index into LcoreCounters::backends
  uint64_t id = 0;                   // stable id (hashing::WeightedBackend::id): session table values
  BackendAvailability availability = BackendAvailability::kUp;
};

// Delayed binding for an HTTP service (full-NAT, TCP only; issue 5). When `enabled`, a SYN to the
// service is answered with a SYN cookie, the request head is read, and `methods` pick the backend.
struct HttpStickyPolicy {
  bool enabled = false;
  std::array<StickyMethod, kStickyMethodCount> methods{};  // tried in order; the last never fails
  uint8_t method_count = 0;
  std::string learn_cookie;  // kLearnCookie: the application's session cookie (case-sensitive)
  std::string hash_cookie;   // kHashCookie: a cookie whose value is stable per user
  StickyTargetPolicy unavailable_target = StickyTargetPolicy::kSoft;
  uint16_t session_service = 0;      // this service's index in the session table (stable by name)
  uint32_t max_head_bytes = 16384;   // request head bound, start line to blank line
  uint64_t head_timeout_tsc = 0;     // client must finish the head within this
  uint64_t connect_timeout_tsc = 0;  // per SYN to a backend before it is retransmitted
  uint8_t connect_attempts = 3;      // SYNs per backend before trying another one
  uint8_t max_backends_tried = 3;    // backends tried before the client is reset
  uint16_t mss = 1460;               // MSS announced to clients (clamped to the cookie's table)
  uint8_t window_scale = 7;          // our window-scale shift announced to clients
};

using Ipv6Bytes = std::array<uint8_t, 16>;  // an IPv6 address as it sits in the header

// Two 64-bit compares: std::array's operator== calls memcmp, which costs a call and ~25 instructions
// on every lookup of an IPv6 packet (callgrind: 55 of its ~640 per packet).
inline bool sameAddress6(const Ipv6Bytes& a, const Ipv6Bytes& b) {
  uint64_t x[2], y[2];
  std::memcpy(x, a.data(), sizeof(x));
  std::memcpy(y, b.data(), sizeof(y));
  return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

struct Service {
  // An IPv6 service (`v6`) has `vip6` and vip_be 0: IPv6 clients, full-NAT to IPv4 backends (NAT64,
  // dataplane/ipv6_path.h). Every other field means the same for both families.
  bool v6 = false;
  Ipv6Bytes vip6{};
  uint32_t vip_be = 0;
  uint16_t port_be = 0;
  Protocol protocol = Protocol::kTcp;
  ForwardingMode forwarding = ForwardingMode::kFullNat;
  BalanceKey key = BalanceKey::kFiveTuple;
  uint64_t hash_seed = 0;
  hashing::AnySelector selector;
  std::vector<BackendTarget> backends;  // indexed by the selector's BackendIndex (id-sorted)
  HttpStickyPolicy http;                // only for TCP full-NAT services; disabled otherwise
};

struct LocalPort {
  uint32_t address_be = 0;
  uint32_t netmask_be = 0;
  rte_ether_addr mac{};
  uint16_t vlan = 0;  // 0 = untagged
  uint16_t mtu = RTE_ETHER_MTU;  // largest IP packet the port sends: IPIP must fit its outer header in it
  // Full-NAT source addresses: local_count consecutive addresses from local_first (host order); the
  // port's own address alone unless the config gives a range (the builder sets both; a port left at
  // count 0 sources from its own address too).
  uint32_t local_first = 0;
  uint32_t local_count = 0;
  // The port's IPv6 address, when it has one: neighbour discovery and ping are answered for it and
  // for the IPv6 VIPs on this port; IPv6 frames on a port without one are not ours.
  bool has_address6 = false;
  Ipv6Bytes address6{};

  bool isLocalSource(uint32_t address_be) const {
    return rte_be_to_cpu_32(address_be) - local_first < local_count;
  }
  uint32_t localSourceBe(uint32_t index) const {
    return local_count == 0 ? address_be : rte_cpu_to_be_32(local_first + index);
  }
  // Tether's own: ARP and ping are answered, TCP/UDP on a local port is a full-NAT reply.
  bool isOwnAddress(uint32_t address) const { return address == address_be || isLocalSource(address); }
};

// Open-addressed map (vip, port, protocol) -> service index. Sized at build time to a power of two at
// least twice the service count, so a probe sequence is short and always ends at an empty slot.
class ServiceIndex {
 public:
  static constexpr uint32_t kEmpty = UINT32_MAX;

  void build(const std::vector<Service>& services);
  uint32_t find(uint32_t vip_be, uint16_t port_be, uint8_t protocol) const {
    uint32_t slot = mix(vip_be, port_be, protocol) & mask_;
    while (true) {
      const Entry& e = entries_[slot];
      if (e.service == kEmpty) return kEmpty;
      if (e.vip_be == vip_be && e.port_be == port_be && e.protocol == protocol) return e.service;
      slot = (slot + 1) & mask_;
    }
  }
  // True when the address is any service's VIP (answers ARP and ping).
  bool isVip(uint32_t address_be) const {
    for (uint32_t vip : vips_) {
      if (vip == address_be) return true;
    }
    return false;
  }
  // The same for IPv6 services: (vip6, port, protocol) -> service index, and whether an address is an
  // IPv6 VIP (answers neighbour solicitations and ping).
  uint32_t findV6(const Ipv6Bytes& vip6, uint16_t port_be, uint8_t protocol) const {
    if (entries6_.empty()) return kEmpty;
    uint32_t slot = mix(fold(vip6), port_be, protocol) & mask6_;
    while (true) {
      const Entry6& e = entries6_[slot];
      if (e.service == kEmpty) return kEmpty;
      if (sameAddress6(e.vip6, vip6) && e.port_be == port_be && e.protocol == protocol) return e.service;
      slot = (slot + 1) & mask6_;
    }
  }
  bool isVip6(const Ipv6Bytes& address) const {
    for (const Ipv6Bytes& vip : vips6_) {
      if (sameAddress6(vip, address)) return true;
    }
    return false;
  }

 private:
  struct Entry {
    uint32_t vip_be = 0;
    uint16_t port_be = 0;
    uint8_t protocol = 0;
    uint32_t service = kEmpty;
  };
  static uint32_t mix(uint32_t vip_be, uint16_t port_be, uint8_t protocol) {
    uint64_t x = (uint64_t{vip_be} << 24) ^ (uint64_t{port_be} << 8) ^ protocol;
    x *= 0x9e3779b97f4a7c15ULL;
    return static_cast<uint32_t>(x >> 32);
  }
  struct Entry6 {
    Ipv6Bytes vip6{};
    uint16_t port_be = 0;
    uint8_t protocol = 0;
    uint32_t service = kEmpty;
  };
  static uint32_t fold(const Ipv6Bytes& a) {
    uint32_t words[4];
    std::memcpy(words, a.data(), sizeof(words));
    return words[0] ^ words[1] ^ words[2] ^ words[3];
  }
  std::vector<Entry> entries_{Entry{}};
  uint32_t mask_ = 0;
  std::vector<uint32_t> vips_;
  std::vector<Entry6> entries6_;  // empty when no service is IPv6
  uint32_t mask6_ = 0;
  std::vector<Ipv6Bytes> vips6_;
};

struct FlowTimeouts {
  uint64_t tcp_syn_tsc = 0;
  uint64_t tcp_established_tsc = 0;
  uint64_t tcp_closing_tsc = 0;
  uint64_t udp_tsc = 0;
};

inline constexpr uint16_t kNoPort = UINT16_MAX;

struct Snapshot {
  uint64_t generation = 0;
  // The kernel's exception path (a net_tap port, see ARCHITECTURE.md): frames the kernel sends on it
  // leave through `exception_uplink` unchanged; traffic for the uplink's own address that the dataplane
  // does not handle itself (health-check replies, ARP replies) is copied or passed to it.
  uint16_t exception_port = kNoPort;
  uint16_t exception_uplink = 0;
  std::vector<Service> services;
  ServiceIndex service_index;
  std::array<LocalPort, kMaxPorts> ports{};
  uint16_t port_count = 0;
  FlowTimeouts timeouts;
  IcmpErrorRate icmp_errors;  // each lcore's budget for the ICMP errors it originates
  // Indexed by backend counter slot: 1 when that backend is down or disabled in a service whose
  // policy resets established flows. Checked on every established packet, hence inline, not a vector.
  std::array<uint8_t, kMaxBackendCounters> reset_flows_of_slot{};
};

}  // namespace lb::dataplane
