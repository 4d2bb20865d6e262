#include "controlplane/snapshot_builder.h"

#include <rte_byteorder.h>

#include <algorithm>
#include <optional>
#include <type_traits>

#include "absl/strings/str_format.h"
#include "controlplane/address.h"
#include "hashing/key_hash.h"

namespace lb::controlplane {

// IPv6 addresses are copied into the snapshot as they are: both sides hold them in network order.
static_assert(std::is_same_v<Ipv6Address, dataplane::Ipv6Bytes>);

// Stable across restarts and independent of its position in the file, so balancers configured alike
// agree on every slot, and session bindings survive reloads that reorder backends.
uint64_t backendStableId(const BackendConfig& b) {
  const uint64_t image[2] = {b.address, b.port};
  return hashing::hashBytes({reinterpret_cast<const char*>(image), sizeof(image)}, 0);
}

dataplane::BackendAvailability backendAvailability(const BackendConfig& backend, bool health_down) {
  if (health_down || backend.state == BackendAdminState::kDisabled) {
    return dataplane::BackendAvailability::kDown;
  }
  if (backend.state == BackendAdminState::kDraining) return dataplane::BackendAvailability::kDraining;
  return dataplane::BackendAvailability::kUp;
}

dataplane::HttpStickyPolicy stickyPolicy(const HttpConfig& http, uint16_t session_service,
                                         uint64_t tsc_hz) {
  dataplane::HttpStickyPolicy policy;
  policy.enabled = true;
  // validateConfig() caps the list at one entry per method, so it always fits.
  const size_t count = std::min<size_t>(http.sticky.size(), policy.methods.size());
  std::copy_n(http.sticky.begin(), count, policy.methods.begin());
  policy.method_count = static_cast<uint8_t>(count);
  policy.learn_cookie = http.session_cookie;
  policy.hash_cookie = http.hash_cookie;
  policy.unavailable_target = http.unavailable_target;
  policy.session_service = session_service;
  policy.max_head_bytes = http.max_head_bytes;
  policy.head_timeout_tsc = uint64_t{http.head_timeout_ms} * tsc_hz / 1000;
  policy.connect_timeout_tsc = uint64_t{http.connect_timeout_ms} * tsc_hz / 1000;
  policy.connect_attempts = static_cast<uint8_t>(http.connect_attempts);
  policy.max_backends_tried = static_cast<uint8_t>(http.max_backends_tried);
  policy.mss = static_cast<uint16_t>(http.mss);
  policy.window_scale = static_cast<uint8_t>(http.window_scale);
  return policy;
}

uint32_t effectiveWeight(const BackendConfig& backend, bool down) {
  return backend.state == BackendAdminState::kEnabled && !down ? backend.weight : 0;
}

uint32_t slowStartWeight(uint32_t weight, double share) {
  if (weight == 0 || share >= 1.0) return weight;
  const double scaled = static_cast<double>(weight) * std::max(share, 0.0);
  return std::max<uint32_t>(1, static_cast<uint32_t>(scaled));
}

std::optional<NeighborTable::Wanted> nextHopFor(const Config& config, uint32_t address) {
  for (uint16_t p = 0; p < config.ports.size(); ++p) {
    if (prefixContains(config.ports[p].address, address)) return NeighborTable::Wanted{address, p};
  }
  for (uint16_t p = 0; p < config.ports.size(); ++p) {
    if (config.ports[p].gateway) return NeighborTable::Wanted{*config.ports[p].gateway, p};
  }
  return std::nullopt;
}

std::vector<NeighborTable::Wanted> wantedNextHops(const Config& config) {
  std::vector<NeighborTable::Wanted> out;
  for (const ServiceConfig& s : config.services) {
    for (const BackendConfig& b : s.backends) {
      auto hop = nextHopFor(config, b.address);
      if (!hop) continue;
      const bool known = std::any_of(out.begin(), out.end(), [&](const auto& w) {
        return w.address == hop->address && w.port == hop->port;
      });
      if (!known) out.push_back(*hop);
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<dataplane::Snapshot>> buildSnapshot(const BuildInputs& in) {
  const Config& config = *in.config;
  if (config.ports.size() > dataplane::kMaxPorts || config.ports.size() != in.port_macs.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "config has %d ports, DPDK has %d (max %d)", config.ports.size(), in.port_macs.size(),
        dataplane::kMaxPorts));
  }
  auto snap = std::make_unique<dataplane::Snapshot>();
  snap->generation = in.generation;
  snap->port_count = static_cast<uint16_t>(config.ports.size());
  snap->exception_port = in.exception_port;
  snap->exception_uplink = 0;
  for (size_t p = 0; p < config.ports.size(); ++p) {
    dataplane::LocalPort& lp = snap->ports[p];
    lp.address_be = rte_cpu_to_be_32(config.ports[p].address.address);
    lp.netmask_be = rte_cpu_to_be_32(prefixMask(config.ports[p].address.prefix_length));
    lp.mac = in.port_macs[p];
    lp.vlan = config.ports[p].vlan;
    lp.mtu = p < in.port_mtus.size() ? in.port_mtus[p] : RTE_ETHER_MTU;
    const std::optional<Ipv4Range>& local = config.ports[p].local_addresses;
    lp.local_first = local.has_value() ? local->first : config.ports[p].address.address;
    lp.local_count = local.has_value() ? static_cast<uint32_t>(local->size()) : 1;
    const std::optional<Ipv6Prefix>& address6 = config.ports[p].address6;
    lp.has_address6 = address6.has_value();
    if (address6.has_value()) lp.address6 = address6->address;  // both network order
  }
  snap->timeouts.tcp_syn_tsc = config.timeouts.tcp_syn_s * in.tsc_hz;
  snap->timeouts.tcp_established_tsc = config.timeouts.tcp_established_s * in.tsc_hz;
  snap->timeouts.tcp_closing_tsc = config.timeouts.tcp_closing_s * in.tsc_hz;
  snap->timeouts.udp_tsc = config.timeouts.udp_s * in.tsc_hz;
  snap->icmp_errors.enabled = config.icmp_errors.per_second != 0;
  snap->icmp_errors.interval_tsc = config.icmp_errors.per_second == 0 ? 0 : in.tsc_hz / config.icmp_errors.per_second;
  snap->icmp_errors.burst = config.icmp_errors.burst;

  std::vector<BackendKey> live_keys;
  std::vector<std::string> live_http_services;
  snap->services.reserve(config.services.size());
  for (const ServiceConfig& sc : config.services) {
    std::vector<hashing::WeightedBackend> weighted;
    weighted.reserve(sc.backends.size());
    for (const BackendConfig& b : sc.backends) {
      const BackendKey key{sc.name, b.address, b.port};
      const bool down = in.down != nullptr && in.down->count(key) != 0;
      uint32_t weight = effectiveWeight(b, down);
      if (in.slow_start_share != nullptr) {
        if (auto it = in.slow_start_share->find(key); it != in.slow_start_share->end()) {
          weight = slowStartWeight(weight, it->second);
        }
      }
      weighted.push_back({backendStableId(b), weight});
    }
    auto selector = hashing::buildSelector(weighted, sc.selector);
    if (!selector.ok()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("service %s: %s", sc.name, selector.status().message()));
    }
    dataplane::Service svc{
        .v6 = sc.vip6.has_value(),
        .vip6 = sc.vip6.value_or(Ipv6Address{}),
        .vip_be = rte_cpu_to_be_32(sc.vip),
        .port_be = rte_cpu_to_be_16(sc.port),
        .protocol = sc.protocol,
        .forwarding = sc.forwarding,
        .key = sc.key,
        .hash_seed = sc.selector.seed,
        .selector = *std::move(selector),
        .backends = {},
    };
    // Targets follow the selector's id-sorted order, so a BackendIndex indexes them directly.
    const auto& sorted = std::visit([](const auto& t) -> const std::vector<hashing::WeightedBackend>& {
      return t.backends();
    }, svc.selector);
    svc.backends.resize(sorted.size());
    for (const BackendConfig& b : sc.backends) {
      const uint64_t id = backendStableId(b);
      const auto pos = std::lower_bound(sorted.begin(), sorted.end(), id,
                                        [](const hashing::WeightedBackend& w, uint64_t v) { return w.id < v; });
      dataplane::BackendTarget& target = svc.backends[static_cast<size_t>(pos - sorted.begin())];
      target.address_be = rte_cpu_to_be_32(b.address);
      target.port_be = rte_cpu_to_be_16(b.port);
      BackendKey key{sc.name, b.address, b.port};
      auto slot = in.counter_slots->slotFor(key);
      if (!slot.ok()) return slot.status();
      target.counter_slot = *slot;
      target.id = id;
      const bool health_down = in.down != nullptr && in.down->count(key) != 0;
      target.availability = backendAvailability(b, health_down);
      const bool out_of_service = b.state == BackendAdminState::kDisabled || health_down;
      snap->reset_flows_of_slot[*slot] = out_of_service && sc.down_backend_flows == DownBackendFlows::kReset;
      live_keys.push_back(std::move(key));
      if (auto hop = nextHopFor(config, b.address)) {
        target.egress_port = hop->port;
        if (auto mac = in.neighbors->lookup(hop->address)) {
          target.next_hop_mac = *mac;
          target.next_hop_resolved = true;
        }
      }
    }
    if (sc.http.has_value()) {
      uint16_t session_service = 0;
      if (in.session_services != nullptr) {
        auto index = in.session_services->slotFor(sessionOwnerName(sc));
        if (!index.ok()) return index.status();
        session_service = *index;
        live_http_services.push_back(sessionOwnerName(sc));
      } else {
        session_service = static_cast<uint16_t>(snap->services.size());
      }
      svc.http = stickyPolicy(*sc.http, session_service, in.tsc_hz);
    }
    snap->services.push_back(std::move(svc));
  }
  snap->service_index.build(snap->services);
  in.counter_slots->retainOnly(live_keys);
  if (in.session_services != nullptr) in.session_services->retainOnly(live_http_services);
  return snap;
}

}  // namespace lb::controlplane
