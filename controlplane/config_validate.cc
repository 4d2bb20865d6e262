// validateConfig(): every rule a Config must satisfy before a snapshot is built from it, whether it came
// from YAML (parseConfig calls this last) or was assembled by the REST API. Single-field ranges are
// checked again here, with the parser's limits and wording, because a REST-built Config never went
// through the parser. Returns the first violation, named by key path and value.
// Rules that need the key as written rather than the value (`http_*` keys need `type: http`) are the
// parser's alone: here a default http_path is indistinguishable from an omitted one.
#include <algorithm>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "controlplane/config.h"
#include "controlplane/value_text.h"
#include "dataplane/lcore_counters.h"
#include "hashing/backend.h"
#include "hashing/maglev.h"

namespace lb::controlplane {

namespace {

constexpr uint32_t kMaxPort = 65535;

constexpr size_t kMaxHttpPathLength = 1024;

bool isPowerOfTwo(uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

// [a-z0-9_-]+, at most kMaxNameLength: names become metric labels and REST path segments.
absl::Status checkName(std::string_view path, std::string_view name) {
  if (name.empty()) return fieldError(path, "must not be empty");
  if (name.size() > kMaxNameLength) {
    return fieldError(
        path, absl::StrFormat("%s is longer than %d characters", quoteValue(name), kMaxNameLength));
  }
  for (char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!allowed) {
      return fieldError(path, absl::StrCat(quoteValue(name), " must match [a-z0-9_-]+"));
    }
  }
  return absl::OkStatus();
}

// The name functions return "unknown" for values outside the enum.
template <class Enum>
absl::Status checkEnum(std::string_view path, std::string_view name, Enum value) {
  if (name != "unknown") return absl::OkStatus();
  return fieldError(path, absl::StrCat(static_cast<int>(value), " is not a valid value"));
}

// For enums without a name table in config.h: valid values are 0..last.
template <class Enum>
absl::Status checkEnumUpTo(std::string_view path, Enum value, Enum last) {
  if (static_cast<int>(value) <= static_cast<int>(last)) return absl::OkStatus();
  return fieldError(path, absl::StrCat(static_cast<int>(value), " is not a valid value"));
}

// A port's full-NAT source addresses: hosts on its subnet (ARP answers them there), few enough to size
// the endpoint pools at start.
absl::Status checkLocalAddresses(const std::string& path, const PortConfig& port) {
  const Ipv4Range& range = *port.local_addresses;
  const std::string key = path + ".local_addresses";
  const std::string text = formatIpv4Range(range);
  if (range.last < range.first) return fieldError(key, absl::StrCat(text, ": the last address is below the first"));
  if (range.size() > kMaxLocalAddresses) {
    return fieldError(key, absl::StrCat(text, " holds ", range.size(), " addresses; at most ", kMaxLocalAddresses));
  }
  if (!isUnicastIpv4(range.first) || !isUnicastIpv4(range.last)) {
    return fieldError(key, absl::StrCat(text, " is not unicast (0/8, 127/8 and 224/3 are reserved)"));
  }
  if (!prefixContains(port.address, range.first) || !prefixContains(port.address, range.last)) {
    return fieldError(key, absl::StrCat(text, " is not on ", path, ".address ", formatIpv4Prefix(port.address)));
  }
  const uint32_t host_mask = ~prefixMask(port.address.prefix_length);
  if (port.address.prefix_length < 31 &&
      ((range.first & host_mask) == 0 || (range.last & host_mask) == host_mask)) {
    return fieldError(key, absl::StrCat(text, " includes the network or broadcast address of its subnet"));
  }
  if (port.gateway.has_value() && range.contains(*port.gateway)) {
    return fieldError(key, absl::StrCat(text, " includes ", path, ".gateway ", formatIpv4(*port.gateway)));
  }
  return absl::OkStatus();
}

absl::Status checkUnicast(std::string_view path, uint32_t address) {
  if (isUnicastIpv4(address)) return absl::OkStatus();
  return fieldError(path, absl::StrCat(formatIpv4(address),
                                       " is not a unicast address (0/8, 127/8 and 224/3 are reserved)"));
}

absl::Status checkUnicast6(std::string_view path, const std::string& text, const Ipv6Address& address) {
  if (isUnicastIpv6(address)) return absl::OkStatus();
  return fieldError(path, absl::StrCat(text, " is not a unicast address (::, ::1, ff00::/8 and "
                                             "::ffff:0:0/96 are reserved)"));
}

// A port's IPv6 address: neighbour discovery answers it on that port alone, so no two ports share one.
absl::Status checkAddress6(const std::vector<PortConfig>& ports, size_t i) {
  const Ipv6Prefix& address6 = *ports[i].address6;
  const std::string key = absl::StrCat("ports[", i, "].address6");
  if (address6.prefix_length > 128) {
    return fieldError(key, absl::StrCat("prefix length ", address6.prefix_length, " is out of range 0..128"));
  }
  if (auto s = checkUnicast6(key, formatIpv6Prefix(address6), address6.address); !s.ok()) return s;
  for (size_t j = 0; j < i; ++j) {
    if (ports[j].address6.has_value() && ports[j].address6->address == address6.address) {
      return fieldError(key, absl::StrCat(formatIpv6(address6.address), " is already the address6 of ports[",
                                          j, "]"));
    }
  }
  return absl::OkStatus();
}

// One single-field range rule; kept as data so the rules read like the README's table.
struct RangeRule {
  std::string_view path;
  uint64_t value;
  uint64_t min;
  uint64_t max;
};

absl::Status checkRanges(std::initializer_list<RangeRule> rules) {
  for (const RangeRule& rule : rules) {
    if (auto s = checkRange(rule.path, rule.value, rule.min, rule.max); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status checkDataplane(const DataplaneConfig& dataplane) {
  if (auto s = checkRanges({
          {"dataplane.burst_size", dataplane.burst_size, kMinBurstSize, kMaxBurstSize},
          {"dataplane.mbufs", dataplane.mbufs, kMinMbufs, kMaxMbufs},
          {"dataplane.mbuf_data_room", dataplane.mbuf_data_room, kDefaultMbufDataRoom, kMaxMbufDataRoom},
          {"dataplane.flow_entries_per_lcore", dataplane.flow_entries_per_lcore, kMinFlowEntriesPerLcore,
           kMaxFlowEntriesPerLcore},
          {"dataplane.local_port_min", dataplane.local_port_min, 1, kMaxPort},
          {"dataplane.local_port_max", dataplane.local_port_max, 1, kMaxPort},
          {"dataplane.fragment_datagrams_per_lcore", dataplane.fragment_datagrams_per_lcore, 0,
           kMaxFragmentDatagramsPerLcore},
          {"dataplane.fragment_timeout_ms", dataplane.fragment_timeout_ms, kMinFragmentTimeoutMs,
           kMaxFragmentTimeoutMs},
      });
      !s.ok()) {
    return s;
  }
  // The flow table indexes buckets with a mask.
  if (!isPowerOfTwo(dataplane.flow_entries_per_lcore)) {
    return fieldError("dataplane.flow_entries_per_lcore",
                      absl::StrCat(dataplane.flow_entries_per_lcore, " is not a power of two"));
  }
  if (dataplane.local_port_min > dataplane.local_port_max) {
    return fieldError("dataplane.local_port_min",
                      absl::StrFormat("%d is greater than local_port_max %d", dataplane.local_port_min,
                                      dataplane.local_port_max));
  }
  // Each worker gets a slice of the range; a handful of ports per worker would run out at once.
  const uint32_t local_ports =
      static_cast<uint32_t>(dataplane.local_port_max) - dataplane.local_port_min + 1;
  if (local_ports < kMinLocalPorts) {
    return fieldError(
        "dataplane.local_port_min",
        absl::StrFormat("range %d..%d has %d ports; at least %d are required", dataplane.local_port_min,
                        dataplane.local_port_max, local_ports, kMinLocalPorts));
  }
  return absl::OkStatus();
}

absl::Status checkTimeouts(const Timeouts& timeouts) {
  return checkRanges({
      {"timeouts.tcp_syn_s", timeouts.tcp_syn_s, kMinTimeoutS, kMaxTimeoutS},
      {"timeouts.tcp_established_s", timeouts.tcp_established_s, kMinTimeoutS, kMaxTimeoutS},
      {"timeouts.tcp_closing_s", timeouts.tcp_closing_s, kMinTimeoutS, kMaxTimeoutS},
      {"timeouts.udp_s", timeouts.udp_s, kMinTimeoutS, kMaxTimeoutS},
  });
}

absl::Status checkIcmpErrors(const IcmpErrorLimits& limits) {
  return checkRanges({
      {"icmp_errors.per_second", limits.per_second, 0, kMaxIcmpErrorsPerSecond},
      {"icmp_errors.burst", limits.burst, kMinIcmpErrorBurst, kMaxIcmpErrorBurst},
  });
}

absl::Status checkPorts(const std::vector<PortConfig>& ports) {
  if (ports.empty()) return fieldError("ports", "at least one port is required");
  for (size_t i = 0; i < ports.size(); ++i) {
    const PortConfig& port = ports[i];
    const std::string path = absl::StrCat("ports[", i, "]");
    if (auto s = checkName(path + ".name", port.name); !s.ok()) return s;
    if (port.address.prefix_length > 32) {
      return fieldError(path + ".address", absl::StrCat("prefix length ", port.address.prefix_length,
                                                        " is out of range 0..32"));
    }
    const std::string prefix_text = formatIpv4Prefix(port.address);
    if (!isUnicastIpv4(port.address.address)) {
      return fieldError(path + ".address",
                        absl::StrCat(prefix_text,
                                     " is not a unicast address (0/8, 127/8 and 224/3 "
                                     "are reserved)"));
    }
    // Below /31 the all-zeros and all-ones host parts are the subnet and broadcast addresses.
    const uint32_t host_mask = ~prefixMask(port.address.prefix_length);
    const uint32_t host_part = port.address.address & host_mask;
    if (port.address.prefix_length < 31 && (host_part == 0 || host_part == host_mask)) {
      return fieldError(path + ".address",
                        absl::StrCat(prefix_text, " is the ", host_part == 0 ? "network" : "broadcast",
                                     " address of its subnet"));
    }
    if (port.gateway.has_value()) {
      if (auto s = checkUnicast(path + ".gateway", *port.gateway); !s.ok()) return s;
      // The gateway is resolved by ARP on this port, so it must be on the port's subnet.
      if (!prefixContains(port.address, *port.gateway) || *port.gateway == port.address.address) {
        return fieldError(path + ".gateway",
                          absl::StrCat(formatIpv4(*port.gateway), " is not another host on ", path,
                                       ".address ", prefix_text));
      }
    }
    if (port.local_addresses.has_value()) {
      if (auto s = checkLocalAddresses(path, port); !s.ok()) return s;
    }
    if (port.address6.has_value()) {
      if (auto s = checkAddress6(ports, i); !s.ok()) return s;
    }
    if (auto s = checkRange(path + ".vlan", port.vlan, 0, kMaxVlan); !s.ok()) return s;
    for (size_t j = 0; j < i; ++j) {
      if (ports[j].name == port.name) {
        return fieldError(path + ".name",
                          absl::StrCat(quoteValue(port.name), " is already the name of ports[", j, "]"));
      }
      if (ports[j].address.address == port.address.address) {
        return fieldError(path + ".address", absl::StrCat(formatIpv4(port.address.address),
                                                          " is already the address of ports[", j, "]"));
      }
      // A reply to a local address must name one port's flow: no address is two ports' own.
      const PortConfig& other = ports[j];
      if (other.local_addresses.has_value() && other.local_addresses->contains(port.address.address)) {
        return fieldError(path + ".address", absl::StrCat(formatIpv4(port.address.address),
                                                          " is one of ports[", j, "].local_addresses"));
      }
      if (port.local_addresses.has_value()) {
        const Ipv4Range& range = *port.local_addresses;
        if (range.contains(other.address.address) ||
            (other.local_addresses.has_value() && range.overlaps(*other.local_addresses))) {
          return fieldError(path + ".local_addresses",
                            absl::StrCat(formatIpv4Range(range), " overlaps the address",
                                         other.local_addresses.has_value() ? "es" : "", " of ports[", j, "]"));
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status checkNeighbors(const std::vector<StaticNeighbor>& neighbors,
                            const std::vector<PortConfig>& ports) {
  std::map<uint32_t, size_t> seen;  // address -> index
  for (size_t i = 0; i < neighbors.size(); ++i) {
    const StaticNeighbor& neighbor = neighbors[i];
    const std::string path = absl::StrCat("neighbors[", i, "]");
    if (auto s = checkUnicast(path + ".address", neighbor.address); !s.ok()) return s;
    // A static ARP entry is only ever consulted for on-link next hops; one off every subnet is a typo.
    const bool on_link = std::any_of(ports.begin(), ports.end(), [&](const PortConfig& port) {
      return prefixContains(port.address, neighbor.address);
    });
    if (!on_link) {
      return fieldError(path + ".address",
                        absl::StrCat(formatIpv4(neighbor.address), " is not on any port's subnet"));
    }
    if (!isUnicastMac(neighbor.mac)) {
      return fieldError(path + ".mac",
                        absl::StrCat(formatMac(neighbor.mac), " is not a unicast MAC address"));
    }
    if (auto [it, inserted] = seen.emplace(neighbor.address, i); !inserted) {
      return fieldError(path + ".address", absl::StrCat(formatIpv4(neighbor.address),
                                                        " is already neighbors[", it->second, "]"));
    }
  }
  return absl::OkStatus();
}

absl::Status checkSelector(std::string_view path, const ServiceConfig& service) {
  const hashing::SelectorParams& selector = service.selector;
  const std::string size_path = absl::StrFormat("%s.maglev_size", path);
  if (auto s = checkRange(size_path, selector.maglev_size, 1, kMaxMaglevSize); !s.ok()) return s;
  // Maglev's permutation (offset + j * skip) mod M visits every slot only when M is prime.
  if (!hashing::isPrime(selector.maglev_size)) {
    return fieldError(size_path, absl::StrCat(selector.maglev_size, " is not prime"));
  }
  if (selector.maglev_size < service.backends.size()) {
    return fieldError(size_path, absl::StrFormat("%d is smaller than the number of backends (%d)",
                                                 selector.maglev_size, service.backends.size()));
  }
  const std::string vnodes_path = absl::StrFormat("%s.ring_vnodes", path);
  if (auto s = checkRange(vnodes_path, selector.ring_vnodes, 1, kMaxRingVnodes); !s.ok()) return s;
  const uint64_t ring_points = uint64_t{selector.ring_vnodes} * service.backends.size();
  if (selector.algorithm == hashing::Algorithm::kRing && ring_points > kMaxRingPoints) {
    return fieldError(vnodes_path, absl::StrFormat("%d x %d backends = %d ring points, more than %d",
                                                   selector.ring_vnodes, service.backends.size(),
                                                   ring_points, kMaxRingPoints));
  }
  return absl::OkStatus();
}

// The HTTP fields are checked whatever the type, so a check later switched to http (a REST PATCH of
// `type` alone) never carries a path that cannot be sent.
absl::Status checkHealthCheck(std::string_view service_path, const HealthCheckConfig& check) {
  const std::string path = absl::StrFormat("%s.health_check", service_path);
  if (auto s = checkEnumUpTo(path + ".type", check.type, HealthCheckType::kHttp); !s.ok()) return s;
  if (auto s = checkRanges({
          {path + ".interval_ms", check.interval_ms, kMinHealthIntervalMs, kMaxHealthIntervalMs},
          {path + ".rise", check.rise, kMinHealthRiseFall, kMaxHealthRiseFall},
          {path + ".fall", check.fall, kMinHealthRiseFall, kMaxHealthRiseFall},
          {path + ".http_expect_status", check.http_expect_status, kMinHttpStatus, kMaxHttpStatus},
      });
      !s.ok()) {
    return s;
  }
  // A check still running when the next one is due would overlap it.
  if (check.timeout_ms < kMinHealthTimeoutMs || check.timeout_ms > check.interval_ms) {
    return fieldError(path + ".timeout_ms",
                      absl::StrCat(rangeMessage(absl::StrCat(check.timeout_ms), kMinHealthTimeoutMs,
                                                check.interval_ms),
                                   " (at most interval_ms)"));
  }
  // The path goes verbatim into the request line `GET <path> HTTP/1.1`: a space or control byte would
  // split or corrupt it, and bytes above 0x7e would need percent-encoding.
  const std::string& http_path = check.http_path;
  if (http_path.empty() || http_path.front() != '/') {
    return fieldError(path + ".http_path",
                      absl::StrCat(quoteValue(http_path), " must start with \"/\""));
  }
  if (http_path.size() > kMaxHttpPathLength) {
    return fieldError(path + ".http_path",
                      absl::StrFormat("%s is longer than %d characters", quoteValue(http_path),
                                      kMaxHttpPathLength));
  }
  for (size_t i = 0; i < http_path.size(); ++i) {
    const auto c = static_cast<unsigned char>(http_path[i]);
    if (c < 0x21 || c > 0x7e) {
      return fieldError(
          path + ".http_path",
          absl::StrFormat("%s must be printable ASCII without spaces (0x%02x at offset %d)",
                          quoteValue(http_path), static_cast<unsigned>(c), i));
    }
  }
  return absl::OkStatus();
}

// RFC 6265 §4.1.1: cookie-name is an RFC 2616 token, i.e. visible ASCII except separators. The
// dataplane compares names byte for byte (case-sensitive), so anything else could never match.
absl::Status checkCookieName(std::string_view path, std::string_view name) {
  if (name.empty()) return fieldError(path, "must not be empty");
  if (name.size() > kMaxCookieNameLength) {
    return fieldError(path, absl::StrFormat("%s is longer than %d characters", quoteValue(name),
                                            kMaxCookieNameLength));
  }
  constexpr std::string_view kSeparators = "()<>@,;:\\\"/[]?={} \t";
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x21 || c > 0x7e || kSeparators.find(static_cast<char>(c)) != std::string_view::npos) {
      return fieldError(path, absl::StrFormat("%s is not a cookie name: 0x%02x at offset %d is not an "
                                              "RFC 6265 token character",
                                              quoteValue(name), static_cast<unsigned>(c), i));
    }
  }
  return absl::OkStatus();
}

// A cookie name is needed exactly when a method that reads it is listed: a name with no method
// using it is most likely a forgotten list entry, and would silently do nothing.
absl::Status checkCookieFor(std::string_view http_path, std::string_view key, std::string_view name,
                            bool listed, StickyMethod method) {
  const std::string path = absl::StrFormat("%s.%s", http_path, key);
  if (listed) {
    if (name.empty()) {
      return fieldError(path, absl::StrFormat("required when sticky lists %s", stickyMethodName(method)));
    }
    return checkCookieName(path, name);
  }
  if (!name.empty()) {
    return fieldError(path, absl::StrFormat("%s is set but sticky does not list %s", quoteValue(name),
                                             stickyMethodName(method)));
  }
  return absl::OkStatus();
}

absl::Status checkHttp(std::string_view service_path, const ServiceConfig& service) {
  if (!service.http.has_value()) return absl::OkStatus();
  const HttpConfig& http = *service.http;
  const std::string path = absl::StrFormat("%s.http", service_path);
  // Delayed binding answers the SYN itself and splices two TCP connections: it needs TCP, and
  // replies that come back through Tether.
  if (service.protocol != Protocol::kTcp) {
    return fieldError(path, absl::StrFormat("needs protocol tcp (protocol is %s)",
                                             protocolName(service.protocol)));
  }
  if (service.forwarding != ForwardingMode::kFullNat) {
    return fieldError(path, absl::StrFormat("needs forwarding fullnat (forwarding is %s)",
                                             forwardingModeName(service.forwarding)));
  }
  const std::string sticky_path = path + ".sticky";
  if (http.sticky.empty()) return fieldError(sticky_path, "must list at least one method");
  bool listed[dataplane::kStickyMethodCount] = {};
  for (size_t i = 0; i < http.sticky.size(); ++i) {
    const std::string item_path = absl::StrCat(sticky_path, "[", i, "]");
    const StickyMethod method = http.sticky[i];
    if (auto s = checkEnumUpTo(item_path, method, StickyMethod::kFiveTuple); !s.ok()) return s;
    bool& seen = listed[static_cast<size_t>(method)];
    if (seen) {
      return fieldError(item_path, absl::StrFormat("%s is listed twice",
                                                    quoteValue(stickyMethodName(method))));
    }
    seen = true;
  }
  // The last method must always pick a backend, so a request never runs out of choices.
  const StickyMethod last = http.sticky.back();
  if (last != StickyMethod::kSourceAddress && last != StickyMethod::kFiveTuple) {
    return fieldError(sticky_path,
                      absl::StrFormat("must end with source_address or five_tuple (they always pick a "
                                      "backend), ends with %s",
                                      stickyMethodName(last)));
  }
  if (auto s = checkCookieFor(path, "session_cookie", http.session_cookie,
                              listed[static_cast<size_t>(StickyMethod::kLearnCookie)],
                              StickyMethod::kLearnCookie);
      !s.ok()) {
    return s;
  }
  if (auto s = checkCookieFor(path, "hash_cookie", http.hash_cookie,
                              listed[static_cast<size_t>(StickyMethod::kHashCookie)],
                              StickyMethod::kHashCookie);
      !s.ok()) {
    return s;
  }
  if (auto s = checkEnumUpTo(path + ".unavailable_target", http.unavailable_target,
                             StickyTargetPolicy::kStrict);
      !s.ok()) {
    return s;
  }
  return checkRanges({
      {path + ".max_head_bytes", http.max_head_bytes, kMinMaxHeadBytes, kMaxMaxHeadBytes},
      {path + ".head_timeout_ms", http.head_timeout_ms, kMinHeadTimeoutMs, kMaxHeadTimeoutMs},
      {path + ".connect_timeout_ms", http.connect_timeout_ms, kMinConnectTimeoutMs,
       kMaxConnectTimeoutMs},
      {path + ".connect_attempts", http.connect_attempts, kMinConnectAttempts, kMaxConnectAttempts},
      {path + ".max_backends_tried", http.max_backends_tried, kMinBackendsTried, kMaxBackendsTried},
      {path + ".mss", http.mss, kMinMss, kMaxMss},
      {path + ".window_scale", http.window_scale, 0, kMaxWindowScale},
      {path + ".session_idle_s", http.session_idle_s, kMinSessionIdleS, kMaxSessionIdleS},
      {path + ".session_lifetime_s", http.session_lifetime_s, kMinSessionLifetimeS,
       kMaxSessionLifetimeS},
  });
}

// http.share_sessions_with names an HTTP service that owns its sessions and reads the same cookie: a
// chain would leave the namespace to whichever service happened to be read first, and two cookie
// names would learn one user's session twice under different keys.
absl::Status checkSharedSessions(const std::string& service_path, const ServiceConfig& service,
                                 const std::vector<ServiceConfig>& services) {
  if (!service.http.has_value() || service.http->share_sessions_with.empty()) return absl::OkStatus();
  const std::string path = service_path + ".http.share_sessions_with";
  const std::string& owner_name = service.http->share_sessions_with;
  if (owner_name == service.name) return fieldError(path, absl::StrFormat("%s is this service itself", quoteValue(owner_name)));
  const auto owner = std::find_if(services.begin(), services.end(),
                                  [&](const ServiceConfig& s) { return s.name == owner_name; });
  if (owner == services.end()) return fieldError(path, absl::StrFormat("no service is named %s", quoteValue(owner_name)));
  if (!owner->http.has_value()) {
    return fieldError(path, absl::StrFormat("%s has no http block, so no sessions to share", quoteValue(owner_name)));
  }
  if (!owner->http->share_sessions_with.empty()) {
    return fieldError(path, absl::StrFormat("%s shares the sessions of %s itself: name %s", quoteValue(owner_name),
                                            quoteValue(owner->http->share_sessions_with),
                                            quoteValue(owner->http->share_sessions_with)));
  }
  if (owner->http->session_cookie != service.http->session_cookie) {
    return fieldError(path, absl::StrFormat("%s learns session_cookie %s, this service %s: they must be the same",
                                            quoteValue(owner_name), quoteValue(owner->http->session_cookie),
                                            quoteValue(service.http->session_cookie)));
  }
  return absl::OkStatus();
}

absl::Status checkSessions(const SessionsConfig& sessions) {
  if (auto s = checkRange("sessions.capacity", sessions.capacity, kMinSessionCapacity,
                          kMaxSessionCapacity);
      !s.ok()) {
    return s;
  }
  if (auto s = checkRange("sessions.shards", sessions.shards, 0, kMaxSessionShards); !s.ok()) return s;
  // The shard is the top bits of a session key.
  if (sessions.shards != 0 && !isPowerOfTwo(sessions.shards)) {
    return fieldError("sessions.shards",
                      absl::StrCat(sessions.shards, " is not a power of two (or 0 for automatic)"));
  }
  return absl::OkStatus();
}

absl::Status checkBackends(std::string_view path, const ServiceConfig& service) {
  if (service.backends.size() > hashing::kMaxBackends) {
    return fieldError(absl::StrFormat("%s.backends", path),
                      absl::StrFormat("%d backends, at most %d are supported", service.backends.size(),
                                      hashing::kMaxBackends));
  }
  std::map<std::pair<uint32_t, uint16_t>, size_t> seen;  // (address, port) -> index
  for (size_t i = 0; i < service.backends.size(); ++i) {
    const BackendConfig& backend = service.backends[i];
    const std::string backend_path = absl::StrFormat("%s.backends[%d]", path, i);
    if (auto s = checkUnicast(backend_path + ".address", backend.address); !s.ok()) return s;
    if (auto s = checkRange(backend_path + ".port", backend.port, 1, kMaxPort); !s.ok()) return s;
    // DSR and IP-in-IP deliver the client's packet unchanged, so the backend sees the service port.
    if (service.forwarding != ForwardingMode::kFullNat && backend.port != service.port) {
      return fieldError(
          backend_path + ".port",
          absl::StrFormat("%d must equal the service port %d with forwarding %s", backend.port,
                          service.port, forwardingModeName(service.forwarding)));
    }
    if (auto s = checkRange(backend_path + ".weight", backend.weight, 0, kMaxWeight); !s.ok()) return s;
    if (auto s = checkEnumUpTo(backend_path + ".state", backend.state, BackendAdminState::kDisabled);
        !s.ok()) {
      return s;
    }
    if (auto [it, inserted] = seen.emplace(std::pair(backend.address, backend.port), i); !inserted) {
      return fieldError(backend_path,
                        absl::StrFormat("%s port %d is already %s.backends[%d]",
                                        formatIpv4(backend.address), backend.port, path, it->second));
    }
  }
  return absl::OkStatus();
}

// Traffic to a port's own address is Tether's (ARP, ping, full-NAT replies), never a service's.
absl::Status checkVip4(const std::string& path, const ServiceConfig& service,
                       const std::vector<PortConfig>& ports) {
  if (auto s = checkUnicast(path + ".vip", service.vip); !s.ok()) return s;
  for (size_t p = 0; p < ports.size(); ++p) {
    if (ports[p].address.address == service.vip) {
      return fieldError(path + ".vip", absl::StrFormat("%s is the address of ports[%d] (%s)",
                                                       formatIpv4(service.vip), p, ports[p].name));
    }
    const std::optional<Ipv4Range>& local = ports[p].local_addresses;
    if (local.has_value() && local->contains(service.vip)) {
      return fieldError(path + ".vip", absl::StrFormat("%s is one of ports[%d].local_addresses (%s)",
                                                       formatIpv4(service.vip), p, formatIpv4Range(*local)));
    }
  }
  return absl::OkStatus();
}

// An IPv6 VIP is answered by neighbour discovery only on ports with an IPv6 address of their own (IPv6
// frames on any other port are not Tether's), and traffic to that address is Tether's, not a service's.
absl::Status checkVip6(const std::string& path, const ServiceConfig& service,
                       const std::vector<PortConfig>& ports) {
  const std::string key = path + ".vip";
  const std::string text = formatIpv6(*service.vip6);
  // Only a Config built in code can hold both; the dataplane would index the service as IPv6 alone.
  if (service.vip != 0) {
    return fieldError(key, absl::StrFormat("%s is IPv6 but the IPv4 vip is also set (%s)", text,
                                           formatIpv4(service.vip)));
  }
  if (auto s = checkUnicast6(key, text, *service.vip6); !s.ok()) return s;
  bool any_address6 = false;
  for (size_t p = 0; p < ports.size(); ++p) {
    if (!ports[p].address6.has_value()) continue;
    any_address6 = true;
    if (ports[p].address6->address == *service.vip6) {
      return fieldError(key, absl::StrFormat("%s is the address6 of ports[%d] (%s)", text, p, ports[p].name));
    }
  }
  if (!any_address6) {
    return fieldError(key, absl::StrCat(text, " is an IPv6 VIP, which needs a port with an address6 "
                                              "(no port has one)"));
  }
  return absl::OkStatus();
}

absl::Status checkServices(const Config& config) {
  std::map<std::string_view, size_t> names;
  // (vip, vip6, port, protocol): an IPv6 service's vip is 0, so vip6 tells them apart.
  std::map<std::tuple<uint32_t, std::optional<Ipv6Address>, uint16_t, Protocol>, size_t> listeners;
  for (size_t i = 0; i < config.services.size(); ++i) {
    const ServiceConfig& service = config.services[i];
    const std::string path = absl::StrCat("services[", i, "]");
    if (auto s = checkName(path + ".name", service.name); !s.ok()) return s;
    if (auto [it, inserted] = names.emplace(service.name, i); !inserted) {
      return fieldError(
          path + ".name",
          absl::StrCat(quoteValue(service.name), " is already the name of services[", it->second, "]"));
    }
    if (auto s = service.vip6.has_value() ? checkVip6(path, service, config.ports)
                                          : checkVip4(path, service, config.ports);
        !s.ok()) {
      return s;
    }
    if (auto s = checkRange(path + ".port", service.port, 1, kMaxPort); !s.ok()) return s;
    // Enum fields of a REST-built Config may hold any integer; the tables know the valid ones.
    if (auto s = checkEnum(path + ".protocol", protocolName(service.protocol), service.protocol);
        !s.ok()) {
      return s;
    }
    if (auto s =
            checkEnum(path + ".forwarding", forwardingModeName(service.forwarding), service.forwarding);
        !s.ok()) {
      return s;
    }
    if (auto s = checkEnum(path + ".key", balanceKeyName(service.key), service.key); !s.ok()) return s;
    if (auto s = checkEnum(path + ".down_backend_flows", downBackendFlowsName(service.down_backend_flows),
                           service.down_backend_flows);
        !s.ok()) {
      return s;
    }
    if (auto s = checkRange(path + ".slow_start_s", service.slow_start_s, 0, kMaxSlowStartS); !s.ok()) return s;
    if (auto s = checkEnum(path + ".algorithm", hashing::algorithmName(service.selector.algorithm),
                           service.selector.algorithm);
        !s.ok()) {
      return s;
    }
    const auto listener = std::tuple(service.vip, service.vip6, service.port, service.protocol);
    if (auto [it, inserted] = listeners.emplace(listener, i); !inserted) {
      return fieldError(path, absl::StrFormat("%s is already served by services[%d] (%s)",
                                              formatListener(service), it->second,
                                              config.services[it->second].name));
    }
    if (auto s = checkSelector(path, service); !s.ok()) return s;
    if (auto s = checkHealthCheck(path, service.health_check); !s.ok()) return s;
    if (auto s = checkHttp(path, service); !s.ok()) return s;
    if (auto s = checkBackends(path, service); !s.ok()) return s;
  }
  for (size_t i = 0; i < config.services.size(); ++i) {
    if (auto s = checkSharedSessions(absl::StrFormat("services[%d]", i), config.services[i], config.services);
        !s.ok()) {
      return s;
    }
  }
  // Each HTTP service owns one of the session table's per-service timeout slots.
  const size_t http_services = static_cast<size_t>(std::count_if(
      config.services.begin(), config.services.end(),
      [](const ServiceConfig& service) { return service.http.has_value(); }));
  if (http_services > dataplane::kMaxServiceCounters) {
    return fieldError("services", absl::StrFormat("%d services have an http block, at most %d are supported",
                                                  http_services, dataplane::kMaxServiceCounters));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status validateConfig(const Config& config) {
  if (auto s = checkDataplane(config.dataplane); !s.ok()) return s;
  if (auto s = checkSessions(config.sessions); !s.ok()) return s;
  if (auto s = checkPorts(config.ports); !s.ok()) return s;
  if (auto s = checkTimeouts(config.timeouts); !s.ok()) return s;
  if (auto s = checkIcmpErrors(config.icmp_errors); !s.ok()) return s;
  if (auto s = checkNeighbors(config.neighbors, config.ports); !s.ok()) return s;
  return checkServices(config);
}

}  // namespace lb::controlplane
