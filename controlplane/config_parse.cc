// YAML text -> Config (schema: configs/README.md), then validateConfig().
//
// The parser is strict so that a typo never silently becomes a default:
//  - every map rejects unknown and repeated keys (yaml-cpp keeps both copies of a repeated key and
//    lookups see only the first, so the second would otherwise be ignored);
//  - numbers must be plain decimal integers: `port: "80"` (quoted) or `port: 80.0` is an error, not 0
//    or 80, and huge or negative values are reported as out of range with the text as written;
//  - a key given with no value (`vip:`) is an error for scalars; for a section or a list (`neighbors:`)
//    it means "empty", which is what people write before filling a section in.
// Single-field ranges are checked here, where the line number is still known, with the same limits and
// wording as validateConfig(); cross-field rules (uniqueness, DSR ports, prime table sizes, a health
// check's timeout_ms <= interval_ms) are left to validateConfig(), which also checks configs that never
// were YAML (REST). The one rule only the parser can apply is about keys, not values: `http_*` keys in a
// health_check need `type: http` (a Config cannot tell a written default from an omitted key).
#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "controlplane/config.h"
#include "controlplane/value_text.h"
#include "yaml-cpp/yaml.h"

namespace lb::controlplane {

namespace {

// Reading /dev/zero or a mistaken log file should fail fast, not exhaust memory.
constexpr size_t kMaxConfigFileBytes = 16u << 20;
// YAML aliases let a small file name the same list many times (`services: [*s, *s, ...]` where *s
// holds `backends: *many`), and walking it would multiply the work. A million values is ~300k
// backends, far beyond a hand-written file; REST-built configs never pass through here.
constexpr size_t kMaxValues = size_t{1} << 20;

constexpr std::string_view kCoreTagPrefix = "tag:yaml.org,2002:";
constexpr std::string_view kIntTag = "tag:yaml.org,2002:int";
constexpr std::string_view kPlainTag = "?";   // yaml-cpp's tag for an untagged plain scalar
constexpr std::string_view kQuotedTag = "!";  // ... and for a quoted or block scalar

// 1-based line of a node, or 0 when yaml-cpp has no position for it.
int lineOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

// How a node looks, for "expected X, got Y" messages.
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "null";
    case YAML::NodeType::Scalar: return quoteValue(node.Scalar());
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

// A value with its key path ("services[0].port") and the line it was written on.
struct Field {
  YAML::Node node;
  std::string path;
  int line = 0;
};

// A map after its keys were checked: known, scalar and unique.
struct MapView {
  std::string path;
  int line = 0;
  std::vector<Field> values;
  std::vector<std::string> keys;  // parallel to values

  const Field* find(std::string_view key) const {
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == key) return &values[i];
    }
    return nullptr;
  }
};

bool isPlainKey(std::string_view key) {
  if (key.empty() || key.size() > 64) return false;
  for (char c : key) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-';
    if (!word) return false;
  }
  return true;
}

std::string childPath(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrFormat("%s.%s", parent, key);
}

// Walks the tree keeping only the first error; once an error is recorded every read is a no-op that
// returns a default, so readConfig() below can follow the schema top to bottom without an early return
// after each key.
class Reader {
 public:
  const absl::Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }

  void fail(std::string_view path, int line, std::string_view message) {
    if (!ok()) return;
    status_ =
        absl::InvalidArgumentError(line > 0 ? absl::StrFormat("%s: %s (line %d)", path, message, line)
                                            : absl::StrFormat("%s: %s", path, message));
  }
  void fail(const Field& field, std::string_view message) { fail(field.path, field.line, message); }

  // `null_is_empty`: a section written as `timeouts:` with nothing under it reads as an empty map.
  MapView map(const Field& field, std::initializer_list<std::string_view> known, bool null_is_empty) {
    MapView view{.path = field.path, .line = field.line};
    if (!ok()) return view;
    if (field.node.IsNull() && null_is_empty) return view;
    if (!field.node.IsMap()) {
      fail(field, absl::StrCat("expected a map, got ", describe(field.node)));
      return view;
    }
    if (!countValues(field, field.node.size())) return view;
    for (const auto& entry : field.node) {
      const YAML::Node& key = entry.first;
      const int key_line = lineOf(key);
      if (!key.IsScalar()) {
        fail(field.path, key_line, absl::StrCat("keys must be strings, got ", describe(key)));
        return view;
      }
      const std::string& name = key.Scalar();
      const std::string path = childPath(field.path, name);
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        // A key that is not a plain word (spaces, control bytes, a whole stray line) reads better
        // quoted after its parent's path than glued into one.
        if (isPlainKey(name)) {
          fail(path, key_line, "unknown key");
        } else {
          fail(field.path.empty() ? "top level" : field.path, key_line,
               absl::StrCat("unknown key ", quoteValue(name)));
        }
        return view;
      }
      if (view.find(name) != nullptr) {
        fail(path, key_line, "key appears twice");
        return view;
      }
      view.keys.push_back(name);
      view.values.push_back(Field{.node = entry.second, .path = path, .line = key_line});
    }
    return view;
  }

  // Items of a list; a null value reads as an empty list.
  std::vector<Field> list(const Field& field) {
    std::vector<Field> items;
    if (!ok() || field.node.IsNull()) return items;
    if (!field.node.IsSequence()) {
      fail(field, absl::StrCat("expected a list, got ", describe(field.node)));
      return items;
    }
    if (!countValues(field, field.node.size())) return items;
    items.reserve(field.node.size());
    for (const auto& item : field.node) {
      const int line = lineOf(item);
      items.push_back(Field{.node = item,
                            .path = absl::StrCat(field.path, "[", items.size(), "]"),
                            .line = line > 0 ? line : field.line});
    }
    return items;
  }

  const Field* require(const MapView& view, std::string_view key) {
    const Field* field = view.find(key);
    if (field == nullptr && ok()) {
      fail(childPath(view.path, key), 0,
           view.line > 0 ? absl::StrFormat("required (in the map at line %d)", view.line)
                         : std::string("required"));
    }
    return field;
  }

  // A plain decimal integer in [min, max]. Quoted numbers, floats, hex and booleans are rejected:
  // YAML would happily read `"80"` as a string and yaml-cpp would then convert it, hiding the mistake.
  uint64_t integer(const Field& field, uint64_t min, uint64_t max) {
    if (!ok()) return 0;
    if (!field.node.IsScalar()) {
      fail(field, absl::StrCat("expected an integer, got ", describe(field.node)));
      return 0;
    }
    const std::string& text = field.node.Scalar();
    const std::string& tag = field.node.Tag();
    if (tag == kQuotedTag) {
      fail(field,
           absl::StrCat(quoteValue(text), " is a string, expected an integer (remove the quotes)"));
      return 0;
    }
    if (tag != kPlainTag && tag != kIntTag) {
      // Show YAML's shorthand: "tag:yaml.org,2002:str" was written as "!!str".
      std::string shown = tag;
      if (shown.starts_with(kCoreTagPrefix)) shown.replace(0, kCoreTagPrefix.size(), "!!");
      fail(field, absl::StrCat(quoteValue(text), " has tag ", shown, ", expected an integer"));
      return 0;
    }
    std::string_view digits = text;
    const bool negative = !digits.empty() && digits.front() == '-';
    if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) digits.remove_prefix(1);
    const bool all_digits = !digits.empty() && digits.find_first_not_of("0123456789") == digits.npos;
    if (!all_digits) {
      fail(field, absl::StrCat(quoteValue(text), " is not a decimal integer"));
      return 0;
    }
    uint64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    const bool representable = ec == std::errc() && end == digits.data() + digits.size();
    if (!representable || (negative && value != 0) || value < min || value > max) {
      fail(field, rangeMessage(text, min, max));
      return 0;
    }
    return value;
  }

  // Any scalar, quoted or not (`name: 123` is the name "123").
  std::string string(const Field& field) {
    if (!ok()) return {};
    if (!field.node.IsScalar()) {
      fail(field, absl::StrCat("expected a string, got ", describe(field.node)));
      return {};
    }
    return field.node.Scalar();
  }

  // A string run through one of the value parsers (parseIpv4, parseProtocol, ...), whose message is
  // about the value only; the path and line are added here.
  template <class T>
  T parsed(const Field& field, absl::StatusOr<T> (*parse)(std::string_view), std::string_view expected) {
    if (!ok()) return T{};
    if (!field.node.IsScalar()) {
      fail(field, absl::StrFormat("expected %s, got %s", expected, describe(field.node)));
      return T{};
    }
    const std::string& text = field.node.Scalar();
    absl::StatusOr<T> value = parse(text);
    if (!value.ok()) {
      fail(field, std::string(value.status().message()));
      return T{};
    }
    return *std::move(value);
  }

  // Optional integer key: leaves `out` (already holding the default) alone when the key is absent.
  template <class T>
  void optionalInteger(const MapView& view, std::string_view key, uint64_t min, uint64_t max, T& out) {
    static_assert(std::is_unsigned_v<T>);
    if (const Field* field = view.find(key)) {
      const uint64_t value =
          integer(*field, min, std::min<uint64_t>(max, std::numeric_limits<T>::max()));
      if (ok()) out = static_cast<T>(value);
    }
  }

  template <class T>
  void optionalParsed(const MapView& view, std::string_view key,
                      absl::StatusOr<T> (*parse)(std::string_view), std::string_view expected, T& out) {
    if (const Field* field = view.find(key)) {
      T value = parsed(*field, parse, expected);
      if (ok()) out = value;
    }
  }

 private:
  bool countValues(const Field& field, size_t count) {
    values_seen_ += count;
    if (values_seen_ <= kMaxValues) return true;
    fail(field,
         absl::StrFormat("the configuration holds more than %d values (aliases repeated too often?)",
                         kMaxValues));
    return false;
  }

  absl::Status status_;
  size_t values_seen_ = 0;
};

constexpr uint64_t kMaxPort = std::numeric_limits<uint16_t>::max();
constexpr std::string_view kAddressText = "an IPv4 address";
constexpr std::string_view kPrefixText = "an IPv4 prefix";
constexpr std::string_view kRangeText = "an IPv4 range";
constexpr std::string_view kPrefix6Text = "an IPv6 prefix";
constexpr std::string_view kVipText = "an IPv4 or IPv6 address";

DataplaneConfig readDataplane(Reader& r, const Field& field) {
  DataplaneConfig dataplane;
  const MapView view =
      r.map(field,
            {"burst_size", "mbufs", "mbuf_data_room", "flow_entries_per_lcore", "local_port_min", "local_port_max",
             "fragment_datagrams_per_lcore", "fragment_timeout_ms"},
            /*null_is_empty=*/true);
  r.optionalInteger(view, "burst_size", kMinBurstSize, kMaxBurstSize, dataplane.burst_size);
  r.optionalInteger(view, "mbufs", kMinMbufs, kMaxMbufs, dataplane.mbufs);
  r.optionalInteger(view, "mbuf_data_room", kDefaultMbufDataRoom, kMaxMbufDataRoom, dataplane.mbuf_data_room);
  r.optionalInteger(view, "flow_entries_per_lcore", kMinFlowEntriesPerLcore, kMaxFlowEntriesPerLcore,
                    dataplane.flow_entries_per_lcore);
  r.optionalInteger(view, "local_port_min", 1, kMaxPort, dataplane.local_port_min);
  r.optionalInteger(view, "local_port_max", 1, kMaxPort, dataplane.local_port_max);
  r.optionalInteger(view, "fragment_datagrams_per_lcore", 0, kMaxFragmentDatagramsPerLcore,
                    dataplane.fragment_datagrams_per_lcore);
  r.optionalInteger(view, "fragment_timeout_ms", kMinFragmentTimeoutMs, kMaxFragmentTimeoutMs,
                    dataplane.fragment_timeout_ms);
  return dataplane;
}

PortConfig readPort(Reader& r, const Field& field) {
  PortConfig port;
  const MapView view =
      r.map(field, {"name", "address", "address6", "gateway", "local_addresses", "vlan"},
            /*null_is_empty=*/false);
  if (const Field* name = r.require(view, "name")) port.name = r.string(*name);
  if (const Field* address = r.require(view, "address")) {
    port.address = r.parsed(*address, parseIpv4Prefix, kPrefixText);
  }
  if (const Field* address6 = view.find("address6")) {
    port.address6 = r.parsed(*address6, parseIpv6Prefix, kPrefix6Text);
  }
  if (const Field* gateway = view.find("gateway")) {
    port.gateway = r.parsed(*gateway, parseIpv4, kAddressText);
  }
  if (const Field* local = view.find("local_addresses")) {
    port.local_addresses = r.parsed(*local, parseIpv4Range, kRangeText);
  }
  r.optionalInteger(view, "vlan", 0, kMaxVlan, port.vlan);
  return port;
}

Timeouts readTimeouts(Reader& r, const Field& field) {
  Timeouts timeouts;
  const MapView view = r.map(field, {"tcp_syn_s", "tcp_established_s", "tcp_closing_s", "udp_s"},
                             /*null_is_empty=*/true);
  r.optionalInteger(view, "tcp_syn_s", kMinTimeoutS, kMaxTimeoutS, timeouts.tcp_syn_s);
  r.optionalInteger(view, "tcp_established_s", kMinTimeoutS, kMaxTimeoutS, timeouts.tcp_established_s);
  r.optionalInteger(view, "tcp_closing_s", kMinTimeoutS, kMaxTimeoutS, timeouts.tcp_closing_s);
  r.optionalInteger(view, "udp_s", kMinTimeoutS, kMaxTimeoutS, timeouts.udp_s);
  return timeouts;
}

IcmpErrorLimits readIcmpErrors(Reader& r, const Field& field) {
  IcmpErrorLimits limits;
  const MapView view = r.map(field, {"per_second", "burst"}, /*null_is_empty=*/true);
  r.optionalInteger(view, "per_second", 0, kMaxIcmpErrorsPerSecond, limits.per_second);
  r.optionalInteger(view, "burst", kMinIcmpErrorBurst, kMaxIcmpErrorBurst, limits.burst);
  return limits;
}

StaticNeighbor readNeighbor(Reader& r, const Field& field) {
  StaticNeighbor neighbor;
  const MapView view = r.map(field, {"address", "mac"}, /*null_is_empty=*/false);
  if (const Field* address = r.require(view, "address")) {
    neighbor.address = r.parsed(*address, parseIpv4, kAddressText);
  }
  if (const Field* mac = r.require(view, "mac")) {
    neighbor.mac = r.parsed(*mac, parseMac, "a MAC address");
  }
  return neighbor;
}

// `service` already holds its port and forwarding mode: DSR backends default to the service port.
BackendConfig readBackend(Reader& r, const Field& field, const ServiceConfig& service) {
  BackendConfig backend;
  const MapView view = r.map(field, {"address", "port", "weight", "state"}, /*null_is_empty=*/false);
  if (const Field* address = r.require(view, "address")) {
    backend.address = r.parsed(*address, parseIpv4, kAddressText);
  }
  if (const Field* port = view.find("port")) {
    backend.port = static_cast<uint16_t>(r.integer(*port, 1, kMaxPort));
  } else if (service.forwarding == ForwardingMode::kFullNat) {
    // Full-NAT rewrites the destination port, so there is no sensible default.
    r.fail(childPath(view.path, "port"), 0,
           absl::StrFormat("required for forwarding fullnat (in the map at line %d)", view.line));
  } else {
    // DSR and IP-in-IP leave the transport header alone: the backend listens on the service port.
    backend.port = service.port;
  }
  r.optionalInteger(view, "weight", 0, kMaxWeight, backend.weight);
  r.optionalParsed(view, "state", parseBackendState, "enabled, draining or disabled", backend.state);
  return backend;
}

// `health_check:` written with nothing under it is the default: type none, backends are never checked.
HealthCheckConfig readHealthCheck(Reader& r, const Field& field) {
  HealthCheckConfig check;
  const MapView view = r.map(field,
                             {"type", "interval_ms", "timeout_ms", "rise", "fall", "port", "http_path",
                              "http_expect_status"},
                             /*null_is_empty=*/true);
  r.optionalParsed(view, "type", parseHealthCheckType, "none, tcp or http", check.type);
  // An http_* key on a tcp (or untyped) check is most likely a forgotten `type: http`; accepting it
  // would leave the operator believing the path is being probed.
  if (r.ok() && check.type != HealthCheckType::kHttp) {
    for (size_t i = 0; i < view.keys.size(); ++i) {
      if (!view.keys[i].starts_with("http_")) continue;
      r.fail(view.values[i],
             view.find("type") != nullptr
                 ? absl::StrFormat("needs type: http (type is %s)",
                                   healthCheckTypeName(check.type))
                 : std::string("needs type: http (type defaults to none)"));
      break;
    }
  }
  r.optionalInteger(view, "interval_ms", kMinHealthIntervalMs, kMaxHealthIntervalMs,
                    check.interval_ms);
  // timeout_ms <= interval_ms spans two keys: validateConfig() checks it.
  r.optionalInteger(view, "timeout_ms", kMinHealthTimeoutMs, kMaxHealthIntervalMs, check.timeout_ms);
  r.optionalInteger(view, "rise", kMinHealthRiseFall, kMaxHealthRiseFall, check.rise);
  r.optionalInteger(view, "fall", kMinHealthRiseFall, kMaxHealthRiseFall, check.fall);
  r.optionalInteger(view, "port", 0, kMaxPort, check.port);  // 0 = the backend's port
  // The path's characters are checked by validateConfig(), which REST-built configs also pass through.
  if (const Field* path = view.find("http_path")) {
    std::string text = r.string(*path);
    if (r.ok()) check.http_path = std::move(text);
  }
  r.optionalInteger(view, "http_expect_status", kMinHttpStatus, kMaxHttpStatus,
                    check.http_expect_status);
  return check;
}

// `http:` written with nothing under it is an HTTP service with every default (which then needs a
// session_cookie, since learn_cookie is in the default sticky list: validateConfig() says so).
HttpConfig readHttp(Reader& r, const Field& field) {
  HttpConfig http;
  const MapView view = r.map(field,
                             {"sticky", "session_cookie", "hash_cookie", "unavailable_target",
                              "max_head_bytes", "head_timeout_ms", "connect_timeout_ms",
                              "connect_attempts", "max_backends_tried", "mss", "window_scale",
                              "session_idle_s", "session_lifetime_s", "share_sessions_with"},
                             /*null_is_empty=*/true);
  // Duplicates and the last method are cross-item rules: validateConfig() checks them.
  if (const Field* sticky = view.find("sticky")) {
    std::vector<StickyMethod> methods;
    for (const Field& item : r.list(*sticky)) {
      methods.push_back(
          r.parsed(item, parseStickyMethod, "learn_cookie, hash_cookie, source_address or five_tuple"));
      if (!r.ok()) break;
    }
    if (r.ok()) http.sticky = std::move(methods);
  }
  if (const Field* cookie = view.find("session_cookie")) http.session_cookie = r.string(*cookie);
  if (const Field* cookie = view.find("hash_cookie")) http.hash_cookie = r.string(*cookie);
  if (const Field* owner = view.find("share_sessions_with")) http.share_sessions_with = r.string(*owner);
  r.optionalParsed(view, "unavailable_target", parseStickyTargetPolicy, "soft or strict",
                   http.unavailable_target);
  r.optionalInteger(view, "max_head_bytes", kMinMaxHeadBytes, kMaxMaxHeadBytes, http.max_head_bytes);
  r.optionalInteger(view, "head_timeout_ms", kMinHeadTimeoutMs, kMaxHeadTimeoutMs, http.head_timeout_ms);
  r.optionalInteger(view, "connect_timeout_ms", kMinConnectTimeoutMs, kMaxConnectTimeoutMs,
                    http.connect_timeout_ms);
  r.optionalInteger(view, "connect_attempts", kMinConnectAttempts, kMaxConnectAttempts,
                    http.connect_attempts);
  r.optionalInteger(view, "max_backends_tried", kMinBackendsTried, kMaxBackendsTried,
                    http.max_backends_tried);
  r.optionalInteger(view, "mss", kMinMss, kMaxMss, http.mss);
  r.optionalInteger(view, "window_scale", 0, kMaxWindowScale, http.window_scale);
  r.optionalInteger(view, "session_idle_s", kMinSessionIdleS, kMaxSessionIdleS, http.session_idle_s);
  r.optionalInteger(view, "session_lifetime_s", kMinSessionLifetimeS, kMaxSessionLifetimeS,
                    http.session_lifetime_s);
  return http;
}

SessionsConfig readSessions(Reader& r, const Field& field) {
  SessionsConfig sessions;
  const MapView view = r.map(field, {"capacity", "shards"}, /*null_is_empty=*/true);
  r.optionalInteger(view, "capacity", kMinSessionCapacity, kMaxSessionCapacity, sessions.capacity);
  // Power of two: validateConfig() (0 = auto).
  r.optionalInteger(view, "shards", 0, kMaxSessionShards, sessions.shards);
  return sessions;
}

ServiceConfig readService(Reader& r, const Field& field) {
  ServiceConfig service;
  const MapView view = r.map(field,
                             {"name", "vip", "port", "protocol", "forwarding", "key", "algorithm",
                              "maglev_size", "ring_vnodes", "seed", "health_check", "down_backend_flows", "slow_start_s",
                              "http", "backends"},
                             /*null_is_empty=*/false);
  if (const Field* name = r.require(view, "name")) service.name = r.string(*name);
  if (const Field* vip = r.require(view, "vip")) {
    const VipAddress address = r.parsed(*vip, parseVip, kVipText);
    service.vip = address.vip;
    service.vip6 = address.vip6;
  }
  if (const Field* port = r.require(view, "port")) {
    service.port = static_cast<uint16_t>(r.integer(*port, 1, kMaxPort));
  }
  r.optionalParsed(view, "protocol", parseProtocol, "tcp or udp", service.protocol);
  r.optionalParsed(view, "forwarding", parseForwardingMode, "fullnat, dsr or ipip", service.forwarding);
  r.optionalParsed(view, "key", parseBalanceKey, "five_tuple or source_address", service.key);
  r.optionalParsed(view, "down_backend_flows", parseDownBackendFlows, "keep or reset",
                   service.down_backend_flows);
  r.optionalInteger(view, "slow_start_s", 0, kMaxSlowStartS, service.slow_start_s);
  r.optionalParsed(view, "algorithm", parseAlgorithmName, "maglev, ring or modulo",
                   service.selector.algorithm);
  r.optionalInteger(view, "maglev_size", 1, kMaxMaglevSize, service.selector.maglev_size);
  r.optionalInteger(view, "ring_vnodes", 1, kMaxRingVnodes, service.selector.ring_vnodes);
  r.optionalInteger(view, "seed", 0, std::numeric_limits<uint64_t>::max(), service.selector.seed);
  if (const Field* health_check = view.find("health_check")) {
    service.health_check = readHealthCheck(r, *health_check);
  }
  // Whether http suits the protocol and forwarding mode is validateConfig()'s to say.
  if (const Field* http = view.find("http")) service.http = readHttp(r, *http);
  if (const Field* backends = r.require(view, "backends")) {
    for (const Field& item : r.list(*backends)) {
      service.backends.push_back(readBackend(r, item, service));
      if (!r.ok()) break;
    }
  }
  return service;
}

Config readConfig(Reader& r, const YAML::Node& root) {
  Config config;
  if (!root.IsMap()) {
    r.fail("top level", lineOf(root), absl::StrCat("expected a map, got ", describe(root)));
    return config;
  }
  // The root's path is empty so its children read "ports[0]", not "top level.ports[0]".
  const MapView view = r.map(Field{.node = root, .path = "", .line = lineOf(root)},
                             {"dataplane", "sessions", "ports", "timeouts", "icmp_errors", "neighbors", "services"},
                             /*null_is_empty=*/false);
  if (const Field* dataplane = view.find("dataplane")) config.dataplane = readDataplane(r, *dataplane);
  if (const Field* sessions = view.find("sessions")) config.sessions = readSessions(r, *sessions);
  if (const Field* ports = r.require(view, "ports")) {
    for (const Field& item : r.list(*ports)) config.ports.push_back(readPort(r, item));
  }
  if (const Field* timeouts = view.find("timeouts")) config.timeouts = readTimeouts(r, *timeouts);
  if (const Field* icmp_errors = view.find("icmp_errors")) config.icmp_errors = readIcmpErrors(r, *icmp_errors);
  if (const Field* neighbors = view.find("neighbors")) {
    for (const Field& item : r.list(*neighbors)) config.neighbors.push_back(readNeighbor(r, item));
  }
  if (const Field* services = view.find("services")) {
    for (const Field& item : r.list(*services)) config.services.push_back(readService(r, item));
  }
  return config;
}

}  // namespace

absl::StatusOr<Config> parseConfig(std::string_view yaml_text) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return absl::InvalidArgumentError(absl::StrCat("YAML syntax error: ", e.msg));
    return absl::InvalidArgumentError(absl::StrFormat("YAML syntax error at line %d, column %d: %s",
                                                      e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  if (documents.size() > 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "the file holds %d YAML documents (separated by ---); expected one", documents.size()));
  }
  if (documents.empty() || documents.front().IsNull()) {
    return absl::InvalidArgumentError(
        "the configuration is empty; expected a map with at least \"ports\" and \"services\"");
  }
  Reader reader;
  Config config;
  try {
    config = readConfig(reader, documents.front());
  } catch (const YAML::Exception& e) {
    // The reader only uses non-throwing node accessors; this is a guard, not a code path.
    return absl::InvalidArgumentError(absl::StrCat("YAML error: ", e.what()));
  }
  if (!reader.ok()) return reader.status();
  if (absl::Status status = validateConfig(config); !status.ok()) return status;
  return config;
}

absl::StatusOr<Config> loadConfigFile(const std::string& path) {
  errno = 0;
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open config file ", path));
  std::string text;
  std::array<char, 64 * 1024> chunk;
  while (file.read(chunk.data(), chunk.size()) || file.gcount() > 0) {
    text.append(chunk.data(), static_cast<size_t>(file.gcount()));
    if (text.size() > kMaxConfigFileBytes) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: config file is larger than %d bytes", path, kMaxConfigFileBytes));
    }
  }
  // Reading a directory opens fine and then fails with EISDIR.
  if (file.bad()) return absl::ErrnoToStatus(errno, absl::StrCat("cannot read config file ", path));
  absl::StatusOr<Config> config = parseConfig(text);
  if (!config.ok()) {
    return absl::Status(config.status().code(), absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace lb::controlplane
