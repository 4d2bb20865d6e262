// Config <-> JSON for the REST API. See rest_json.h for the rules; the wording helpers come from
// value_text.h so a REST error reads like the same mistake in the config file.
#include "controlplane/rest_json.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <set>
#include <span>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "controlplane/address.h"
#include "controlplane/value_text.h"

namespace lb::controlplane {

namespace {

using nlohmann::json;

constexpr uint32_t kMaxPort = 65535;
// Deeper documents are never a valid request; refusing them early keeps error paths short.
constexpr int kMaxJsonDepth = 32;
// nlohmann's parse messages quote the last token read, which can be most of a 1 MiB body.
constexpr size_t kMaxParseMessage = 200;

// Debian's abseil has its own absl::string_view, which std::string_view does not convert to; hence
// StrFormat (which takes std::string_view for %s) and these helpers instead of StrCat/StrJoin.
std::string childPath(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrFormat("%s.%s", parent, key);
}

std::string join(std::span<const std::string_view> items) {
  std::string out;
  for (std::string_view item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// How a JSON value looks, for "expected X, got Y" messages.
const char* describe(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number with a fraction";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "a list";
    case json::value_t::object: return "an object";
    default: return "nothing";
  }
}

using FieldList = std::span<const std::string_view>;

// Reads fields out of a request body, keeping the first error (later reads become no-ops), in the
// manner of config_parse.cc's Reader. Paths are relative to the body: "backends[1].weight".
class BodyReader {
 public:
  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }

  void fail(std::string_view path, std::string_view message) {
    if (status_.ok()) status_ = fieldError(path.empty() ? "request body" : path, message);
  }

  // `value` must be an object whose keys are all in `allowed`.
  bool object(const json& value, std::string_view path, FieldList allowed) {
    if (!ok()) return false;
    if (!value.is_object()) {
      fail(path, absl::StrCat("expected an object, got ", describe(value)));
      return false;
    }
    for (const auto& [key, unused] : value.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        fail(childPath(path, key),
             absl::StrFormat("unknown field (expected one of %s)", join(allowed)));
        return false;
      }
    }
    return true;
  }

  static const json* find(const json& object, std::string_view key) {
    auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
  }

  const json* require(const json& object, std::string_view path, std::string_view key) {
    const json* value = find(object, key);
    if (value == nullptr) fail(childPath(path, key), "required");
    return ok() ? value : nullptr;
  }

  // Optional integer field: left unchanged when absent.
  template <class Int>
  void integer(const json& object, std::string_view path, std::string_view key, uint64_t min,
               uint64_t max, Int& out) {
    const json* value = find(object, key);
    if (value == nullptr || !ok()) return;
    if (auto parsed = readInteger(*value, childPath(path, key), min, max)) out = static_cast<Int>(*parsed);
  }

  std::optional<uint64_t> readInteger(const json& value, std::string_view path, uint64_t min,
                                      uint64_t max) {
    if (value.is_number_unsigned()) {
      const uint64_t number = value.get<uint64_t>();
      if (number < min || number > max) {
        fail(path, rangeMessage(absl::StrCat(number), min, max));
        return std::nullopt;
      }
      return number;
    }
    if (value.is_number_integer()) {  // negative: nlohmann stores non-negative integers as unsigned
      fail(path, rangeMessage(absl::StrCat(value.get<int64_t>()), min, max));
      return std::nullopt;
    }
    if (value.is_number_float()) {
      const double number = value.get<double>();
      // 1e30 is a whole number too large for any field; 1.5 and 80.0 are not integers as written.
      if (std::isfinite(number) && std::trunc(number) == number && std::fabs(number) >= 0x1p64) {
        fail(path, rangeMessage(value.dump(), min, max));
      } else {
        fail(path, absl::StrCat(value.dump(), " is not an integer"));
      }
      return std::nullopt;
    }
    if (value.is_string()) {
      fail(path, absl::StrCat(quoteValue(value.get_ref<const std::string&>()),
                              " is a string, expected an integer (remove the quotes)"));
      return std::nullopt;
    }
    fail(path, absl::StrCat("expected an integer, got ", describe(value)));
    return std::nullopt;
  }

  const std::string* string(const json& value, std::string_view path) {
    if (!ok()) return nullptr;
    if (!value.is_string()) {
      fail(path, absl::StrCat("expected a string, got ", describe(value)));
      return nullptr;
    }
    return &value.get_ref<const std::string&>();
  }

  void text(const json& object, std::string_view path, std::string_view key, std::string& out) {
    const json* value = find(object, key);
    if (value == nullptr) return;
    if (const std::string* s = string(*value, childPath(path, key))) out = *s;
  }

  // A string field turned into a value by one of the shared parsers (parseIpv4, parseProtocol, ...),
  // whose message names the value; the reader adds the path.
  template <class T, class Parser>
  void parsed(const json& object, std::string_view path, std::string_view key, Parser parse, T& out) {
    const json* value = find(object, key);
    if (value == nullptr) return;
    const std::string field_path = childPath(path, key);
    const std::string* s = string(*value, field_path);
    if (s == nullptr) return;
    auto result = parse(*s);
    if (!result.ok()) {
      if (ok()) status_ = withPath(field_path, result.status());
      return;
    }
    out = *result;
  }

 private:
  absl::Status status_;
};

constexpr std::string_view kBackendFields[] = {"address", "port", "weight", "state"};
constexpr std::string_view kBackendPatchFields[] = {"weight", "state"};
constexpr std::string_view kHealthCheckFields[] = {"type",   "interval_ms", "timeout_ms", "rise",
                                                   "fall",   "port",        "http_path",
                                                   "http_expect_status"};
constexpr std::string_view kServiceFields[] = {
    "name", "vip",         "port", "protocol",     "forwarding", "key",
    "algorithm", "maglev_size", "ring_vnodes", "seed", "health_check", "down_backend_flows", "slow_start_s", "http", "backends"};
constexpr std::string_view kServicePatchFields[] = {"algorithm",   "key",  "maglev_size",
                                                    "ring_vnodes", "seed", "forwarding",
                                                    "health_check", "down_backend_flows", "slow_start_s",
                                                    "http"};
constexpr std::string_view kHttpFields[] = {
    "sticky",          "session_cookie",     "hash_cookie",      "unavailable_target",
    "max_head_bytes",  "head_timeout_ms",    "connect_timeout_ms", "connect_attempts",
    "max_backends_tried", "mss",             "window_scale",     "session_idle_s",
    "session_lifetime_s", "share_sessions_with"};
constexpr std::string_view kTimeoutFields[] = {"tcp_syn_s", "tcp_established_s", "tcp_closing_s",
                                               "udp_s"};
constexpr std::string_view kIcmpErrorFields[] = {"per_second", "burst"};

// PATCH names these explicitly rather than calling them unknown: they exist, but identify the resource.
bool rejectImmutable(BodyReader& reader, const json& body, FieldList immutable,
                     std::string_view advice) {
  for (std::string_view key : immutable) {
    if (body.contains(key)) {
      reader.fail(key, absl::StrFormat("cannot be changed by PATCH; %s", advice));
      return false;
    }
  }
  return true;
}

bool requireSomeField(BodyReader& reader, const json& body, FieldList allowed) {
  if (!reader.ok()) return false;
  if (body.empty()) {
    reader.fail("", absl::StrFormat("has no fields to change (expected one or more of %s)",
                                    join(allowed)));
    return false;
  }
  return true;
}

// Cross-field health-check rules (single-field ranges are checked while reading).
void checkHealthCheck(BodyReader& reader, std::string_view path, const HealthCheckConfig& check) {
  if (!reader.ok()) return;
  if (check.timeout_ms < kMinHealthTimeoutMs || check.timeout_ms > check.interval_ms) {
    reader.fail(childPath(path, "timeout_ms"),
                absl::StrCat(rangeMessage(absl::StrCat(check.timeout_ms), kMinHealthTimeoutMs,
                                          check.interval_ms),
                             " (at most interval_ms)"));
    return;
  }
  // The path goes into an HTTP request line verbatim.
  const bool printable = std::all_of(check.http_path.begin(), check.http_path.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
  });
  if (check.http_path.empty() || check.http_path.front() != '/' || !printable) {
    reader.fail(childPath(path, "http_path"),
                absl::StrCat(quoteValue(check.http_path),
                             " must start with \"/\" and contain no spaces or control characters"));
  }
}

// Merges the fields present in `value` into `check`.
void readHealthCheck(BodyReader& reader, const json& value, std::string_view path,
                     HealthCheckConfig& check) {
  if (!reader.object(value, path, kHealthCheckFields)) return;
  reader.parsed(value, path, "type", parseHealthCheckType, check.type);
  reader.integer(value, path, "interval_ms", kMinHealthIntervalMs, kMaxHealthIntervalMs,
                 check.interval_ms);
  reader.integer(value, path, "timeout_ms", kMinHealthTimeoutMs, kMaxHealthIntervalMs,
                 check.timeout_ms);
  reader.integer(value, path, "rise", kMinHealthRiseFall, kMaxHealthRiseFall, check.rise);
  reader.integer(value, path, "fall", kMinHealthRiseFall, kMaxHealthRiseFall, check.fall);
  reader.integer(value, path, "port", 0, kMaxPort, check.port);
  reader.text(value, path, "http_path", check.http_path);
  reader.integer(value, path, "http_expect_status", kMinHttpStatus, kMaxHttpStatus,
                 check.http_expect_status);
  checkHealthCheck(reader, path, check);
}

void readBackend(BodyReader& reader, const json& value, std::string_view path,
                 const ServiceConfig& service, BackendConfig& backend) {
  if (!reader.object(value, path, kBackendFields)) return;
  if (reader.require(value, path, "address") != nullptr) {
    reader.parsed(value, path, "address", parseIpv4, backend.address);
  }
  if (BodyReader::find(value, "port") != nullptr) {
    reader.integer(value, path, "port", 1, kMaxPort, backend.port);
  } else if (service.forwarding == ForwardingMode::kFullNat) {
    reader.fail(childPath(path, "port"), "required for forwarding fullnat");
  } else {
    backend.port = service.port;  // DSR and IP-in-IP deliver to the service port
  }
  reader.integer(value, path, "weight", 0, kMaxWeight, backend.weight);
  reader.parsed(value, path, "state", parseBackendState, backend.state);
}

// Merges the fields present in `value` into `http` (the config file's keys and spellings). Cross-field
// rules (sticky list shape, which cookie names are needed) are validateConfig()'s.
void readHttp(BodyReader& reader, const json& value, std::string_view path, HttpConfig& http) {
  if (!reader.object(value, path, kHttpFields)) return;
  if (const json* sticky = BodyReader::find(value, "sticky")) {
    const std::string sticky_path = childPath(path, "sticky");
    if (!sticky->is_array()) {
      reader.fail(sticky_path, absl::StrCat("expected a list, got ", describe(*sticky)));
      return;
    }
    std::vector<StickyMethod> methods;
    for (size_t i = 0; i < sticky->size() && reader.ok(); ++i) {
      const std::string item_path = absl::StrFormat("%s[%d]", sticky_path, i);
      const std::string* name = reader.string((*sticky)[i], item_path);
      if (name == nullptr) return;
      auto method = parseStickyMethod(*name);
      if (!method.ok()) {
        reader.fail(item_path, std::string(method.status().message()));
        return;
      }
      methods.push_back(*method);
    }
    http.sticky = std::move(methods);
  }
  reader.text(value, path, "session_cookie", http.session_cookie);
  reader.text(value, path, "hash_cookie", http.hash_cookie);
  reader.text(value, path, "share_sessions_with", http.share_sessions_with);
  reader.parsed(value, path, "unavailable_target", parseStickyTargetPolicy, http.unavailable_target);
  reader.integer(value, path, "max_head_bytes", kMinMaxHeadBytes, kMaxMaxHeadBytes, http.max_head_bytes);
  reader.integer(value, path, "head_timeout_ms", kMinHeadTimeoutMs, kMaxHeadTimeoutMs,
                 http.head_timeout_ms);
  reader.integer(value, path, "connect_timeout_ms", kMinConnectTimeoutMs, kMaxConnectTimeoutMs,
                 http.connect_timeout_ms);
  reader.integer(value, path, "connect_attempts", kMinConnectAttempts, kMaxConnectAttempts,
                 http.connect_attempts);
  reader.integer(value, path, "max_backends_tried", kMinBackendsTried, kMaxBackendsTried,
                 http.max_backends_tried);
  reader.integer(value, path, "mss", kMinMss, kMaxMss, http.mss);
  reader.integer(value, path, "window_scale", 0, kMaxWindowScale, http.window_scale);
  reader.integer(value, path, "session_idle_s", kMinSessionIdleS, kMaxSessionIdleS, http.session_idle_s);
  reader.integer(value, path, "session_lifetime_s", kMinSessionLifetimeS, kMaxSessionLifetimeS,
                 http.session_lifetime_s);
}

// The selector and forwarding fields shared by a whole service and a service PATCH.
void readServiceSettings(BodyReader& reader, const json& body, ServiceConfig& service) {
  reader.parsed(body, "", "forwarding", parseForwardingMode, service.forwarding);
  reader.parsed(body, "", "key", parseBalanceKey, service.key);
  reader.parsed(body, "", "down_backend_flows", parseDownBackendFlows, service.down_backend_flows);
  reader.integer(body, "", "slow_start_s", 0, kMaxSlowStartS, service.slow_start_s);
  reader.parsed(body, "", "algorithm", parseAlgorithmName, service.selector.algorithm);
  reader.integer(body, "", "maglev_size", 1, kMaxMaglevSize, service.selector.maglev_size);
  reader.integer(body, "", "ring_vnodes", 1, kMaxRingVnodes, service.selector.ring_vnodes);
  reader.integer(body, "", "seed", 0, std::numeric_limits<uint64_t>::max(), service.selector.seed);
  if (const json* check = BodyReader::find(body, "health_check")) {
    readHealthCheck(reader, *check, "health_check", service.health_check);
  }
  // An object adds or edits the http block (field by field over the current one); null removes it.
  if (const json* http = BodyReader::find(body, "http")) {
    if (http->is_null()) {
      service.http.reset();
    } else {
      HttpConfig edited = service.http.value_or(HttpConfig{});
      readHttp(reader, *http, "http", edited);
      if (reader.ok()) service.http = std::move(edited);
    }
  }
}

}  // namespace


std::string backendId(uint32_t address, uint16_t port) {
  return absl::StrCat(formatIpv4(address), ":", port);
}

absl::StatusOr<std::pair<uint32_t, uint16_t>> parseBackendId(std::string_view text) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat(quoteValue(text), " is not ADDRESS:PORT (e.g. 10.99.0.11:8080)"));
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad();
  auto address = parseIpv4(text.substr(0, colon));
  if (!address.ok()) return bad();
  const std::string_view port_text = text.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string_view::npos ||
      (port_text.size() > 1 && port_text.front() == '0')) {
    return bad();
  }
  uint32_t port = 0;
  for (char c : port_text) port = port * 10 + static_cast<uint32_t>(c - '0');
  if (port < 1 || port > kMaxPort) return bad();
  return std::pair(*address, static_cast<uint16_t>(port));
}

// --- Config -> JSON ------------------------------------------------------------------------------

nlohmann::json backendToJson(const BackendConfig& backend) {
  return {{"address", formatIpv4(backend.address)},
          {"port", backend.port},
          {"weight", backend.weight},
          {"state", backendStateName(backend.state)}};
}

nlohmann::json healthCheckToJson(const HealthCheckConfig& check) {
  return {{"type", healthCheckTypeName(check.type)},
          {"interval_ms", check.interval_ms},
          {"timeout_ms", check.timeout_ms},
          {"rise", check.rise},
          {"fall", check.fall},
          {"port", check.port},
          {"http_path", check.http_path},
          {"http_expect_status", check.http_expect_status}};
}

nlohmann::json serviceToJson(const ServiceConfig& service) {
  json backends = json::array();
  for (const BackendConfig& backend : service.backends) backends.push_back(backendToJson(backend));
  json out = {{"name", service.name},
          {"vip", formatVip(service)},
          {"port", service.port},
          {"protocol", protocolName(service.protocol)},
          {"forwarding", forwardingModeName(service.forwarding)},
          {"key", balanceKeyName(service.key)},
          {"algorithm", hashing::algorithmName(service.selector.algorithm)},
          {"maglev_size", service.selector.maglev_size},
          {"ring_vnodes", service.selector.ring_vnodes},
          {"seed", service.selector.seed},
          {"health_check", healthCheckToJson(service.health_check)},
          {"down_backend_flows", downBackendFlowsName(service.down_backend_flows)},
          {"slow_start_s", service.slow_start_s},
          {"backends", backends}};
  if (service.http.has_value()) out["http"] = httpToJson(*service.http);
  return out;
}

nlohmann::json httpToJson(const HttpConfig& http) {
  json sticky = json::array();
  for (StickyMethod method : http.sticky) sticky.push_back(stickyMethodName(method));
  json out = {{"sticky", sticky},
              {"unavailable_target", stickyTargetPolicyName(http.unavailable_target)},
              {"max_head_bytes", http.max_head_bytes},
              {"head_timeout_ms", http.head_timeout_ms},
              {"connect_timeout_ms", http.connect_timeout_ms},
              {"connect_attempts", http.connect_attempts},
              {"max_backends_tried", http.max_backends_tried},
              {"mss", http.mss},
              {"window_scale", http.window_scale},
              {"session_idle_s", http.session_idle_s},
              {"session_lifetime_s", http.session_lifetime_s}};
  // Only the names in use, as in the file: a name without its method is an error there.
  if (!http.session_cookie.empty()) out["session_cookie"] = http.session_cookie;
  if (!http.hash_cookie.empty()) out["hash_cookie"] = http.hash_cookie;
  if (!http.share_sessions_with.empty()) out["share_sessions_with"] = http.share_sessions_with;
  return out;
}

std::string formatSessionKey(uint64_t key) { return absl::StrFormat("%016x", key); }

absl::StatusOr<uint64_t> parseSessionKey(std::string_view text) {
  if (text.empty() || text.size() > 16 || text.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(quoteValue(text), " is not a session key (1 to 16 hexadecimal digits)"));
  }
  uint64_t key = 0;
  std::from_chars(text.data(), text.data() + text.size(), key, 16);
  return key;
}

nlohmann::json sessionToJson(const SessionView& session) {
  json out = {{"key", formatSessionKey(session.key)},
              {"backend", nullptr},
              {"backend_id", formatSessionKey(session.backend_id)},
              {"created_age_s", session.created_age_s},
              {"last_used_age_s", session.idle_s}};
  if (session.backend_address.has_value()) {
    out["backend"] = backendId(*session.backend_address, session.backend_port);
  }
  return out;
}

nlohmann::json icmpErrorsToJson(const IcmpErrorLimits& limits) {
  return {{"per_second", limits.per_second}, {"burst", limits.burst}};
}

nlohmann::json timeoutsToJson(const Timeouts& timeouts) {
  return {{"tcp_syn_s", timeouts.tcp_syn_s},
          {"tcp_established_s", timeouts.tcp_established_s},
          {"tcp_closing_s", timeouts.tcp_closing_s},
          {"udp_s", timeouts.udp_s}};
}

nlohmann::json configToJson(const Config& config) {
  json ports = json::array();
  for (const PortConfig& port : config.ports) {
    json entry = {{"name", port.name},
                  {"address", formatIpv4Prefix(port.address)},
                  {"vlan", port.vlan}};
    if (port.address6.has_value()) entry["address6"] = formatIpv6Prefix(*port.address6);
    if (port.gateway.has_value()) entry["gateway"] = formatIpv4(*port.gateway);
    if (port.local_addresses.has_value()) entry["local_addresses"] = formatIpv4Range(*port.local_addresses);
    ports.push_back(std::move(entry));
  }
  json neighbors = json::array();
  for (const StaticNeighbor& neighbor : config.neighbors) {
    neighbors.push_back({{"address", formatIpv4(neighbor.address)}, {"mac", formatMac(neighbor.mac)}});
  }
  json services = json::array();
  for (const ServiceConfig& service : config.services) services.push_back(serviceToJson(service));
  const DataplaneConfig& dataplane = config.dataplane;
  return {{"dataplane",
           {{"burst_size", dataplane.burst_size},
            {"mbufs", dataplane.mbufs},
            {"mbuf_data_room", dataplane.mbuf_data_room},
            {"flow_entries_per_lcore", dataplane.flow_entries_per_lcore},
            {"local_port_min", dataplane.local_port_min},
            {"local_port_max", dataplane.local_port_max},
            {"fragment_datagrams_per_lcore", dataplane.fragment_datagrams_per_lcore},
            {"fragment_timeout_ms", dataplane.fragment_timeout_ms}}},
          {"sessions", {{"capacity", config.sessions.capacity}, {"shards", config.sessions.shards}}},
          {"ports", ports},
          {"timeouts", timeoutsToJson(config.timeouts)},
          {"icmp_errors", icmpErrorsToJson(config.icmp_errors)},
          {"neighbors", neighbors},
          {"services", services}};
}

nlohmann::json healthToJson(const std::vector<BackendHealth>& health) {
  json backends = json::array();
  uint64_t counts[3] = {};  // unknown, up, down
  for (const BackendHealth& h : health) {
    backends.push_back({{"service", h.service},
                        {"address", formatIpv4(h.address)},
                        {"port", h.port},
                        {"state", healthStateName(h.state)},
                        {"transitions", h.transitions},
                        {"last_error", h.last_error}});
    switch (h.state) {
      case HealthState::kUp: ++counts[1]; break;
      case HealthState::kDown: ++counts[2]; break;
      case HealthState::kUnknown: ++counts[0]; break;
    }
  }
  return {{"backends", backends},
          {"summary", {{"unknown", counts[0]}, {"up", counts[1]}, {"down", counts[2]}}}};
}

// --- request body -> Config pieces ----------------------------------------------------------------

absl::StatusOr<nlohmann::json> parseJsonObject(std::string_view body) {
  // nlohmann keeps the last of two equal keys silently; `{"weight": 1, "weight": 2}` is a mistake.
  std::vector<std::set<std::string>> open_objects;
  std::string structure_error;
  int depth_seen = 0;
  const json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) {
    depth_seen = std::max(depth_seen, depth);
    switch (event) {
      case json::parse_event_t::object_start: open_objects.emplace_back(); break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second &&
            structure_error.empty()) {
          structure_error = absl::StrCat("key ", quoteValue(parsed.get<std::string>()),
                                         " appears twice in one object");
        }
        break;
      default: break;
    }
    if (depth > kMaxJsonDepth && structure_error.empty()) {
      structure_error = absl::StrCat("JSON nested deeper than ", kMaxJsonDepth, " levels");
    }
    return true;
  };
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return absl::InvalidArgumentError("request body is empty; expected a JSON object");
  }
  json value;
  try {
    value = json::parse(body.begin(), body.end(), check, /*allow_exceptions=*/true,
                        /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    std::string_view what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 9: ..." -> drop the tag.
    if (const size_t tag_end = what.find("] "); tag_end != std::string_view::npos) {
      what.remove_prefix(tag_end + 2);
    }
    std::string message = absl::StrFormat("malformed JSON: %s", what);
    if (message.size() > kMaxParseMessage) message = message.substr(0, kMaxParseMessage) + "...";
    return absl::InvalidArgumentError(message);
  }
  if (!structure_error.empty()) return absl::InvalidArgumentError(structure_error);
  if (!value.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("request body: expected a JSON object, got ", describe(value)));
  }
  return value;
}

absl::StatusOr<ServiceConfig> serviceFromJson(const nlohmann::json& body, bool require_backends) {
  BodyReader reader;
  ServiceConfig service;
  if (!reader.object(body, "", kServiceFields)) return reader.status();
  if (const json* name = reader.require(body, "", "name")) {
    if (const std::string* s = reader.string(*name, "name")) service.name = *s;
  }
  if (reader.require(body, "", "vip") != nullptr) {
    VipAddress vip;
    reader.parsed(body, "", "vip", parseVip, vip);
    service.vip = vip.vip;
    service.vip6 = vip.vip6;
  }
  if (reader.require(body, "", "port") != nullptr) reader.integer(body, "", "port", 1, kMaxPort, service.port);
  reader.parsed(body, "", "protocol", parseProtocol, service.protocol);
  readServiceSettings(reader, body, service);
  const json* backends = require_backends ? reader.require(body, "", "backends")
                                          : BodyReader::find(body, "backends");
  if (backends != nullptr && reader.ok()) {
    if (!backends->is_array()) {
      reader.fail("backends", absl::StrCat("expected a list, got ", describe(*backends)));
    } else {
      service.backends.resize(backends->size());
      for (size_t i = 0; i < backends->size() && reader.ok(); ++i) {
        readBackend(reader, (*backends)[i], absl::StrCat("backends[", i, "]"), service,
                    service.backends[i]);
      }
    }
  }
  if (!reader.ok()) return reader.status();
  return service;
}

absl::StatusOr<BackendConfig> backendFromJson(const nlohmann::json& body, const ServiceConfig& service) {
  BodyReader reader;
  BackendConfig backend;
  readBackend(reader, body, "", service, backend);
  if (!reader.ok()) return reader.status();
  return backend;
}

absl::Status patchBackend(const nlohmann::json& body, BackendConfig& backend) {
  BodyReader reader;
  static constexpr std::string_view kImmutable[] = {"address", "port"};
  if (!rejectImmutable(reader, body, kImmutable, "remove the backend and add the new one")) {
    return reader.status();
  }
  if (!reader.object(body, "", kBackendPatchFields) ||
      !requireSomeField(reader, body, kBackendPatchFields)) {
    return reader.status();
  }
  BackendConfig next = backend;
  reader.integer(body, "", "weight", 0, kMaxWeight, next.weight);
  reader.parsed(body, "", "state", parseBackendState, next.state);
  if (!reader.ok()) return reader.status();
  backend = next;
  return absl::OkStatus();
}

absl::Status patchService(const nlohmann::json& body, ServiceConfig& service) {
  BodyReader reader;
  static constexpr std::string_view kIdentity[] = {"name", "vip", "port", "protocol"};
  static constexpr std::string_view kBackends[] = {"backends"};
  if (!rejectImmutable(reader, body, kIdentity, "replace the service with PUT") ||
      !rejectImmutable(reader, body, kBackends,
                       "use the service's /backends endpoints or replace the service with PUT")) {
    return reader.status();
  }
  if (!reader.object(body, "", kServicePatchFields) ||
      !requireSomeField(reader, body, kServicePatchFields)) {
    return reader.status();
  }
  ServiceConfig next = service;
  readServiceSettings(reader, body, next);
  if (!reader.ok()) return reader.status();
  service = std::move(next);
  return absl::OkStatus();
}

absl::Status patchTimeouts(const nlohmann::json& body, Timeouts& timeouts) {
  BodyReader reader;
  if (!reader.object(body, "", kTimeoutFields) || !requireSomeField(reader, body, kTimeoutFields)) {
    return reader.status();
  }
  Timeouts next = timeouts;
  for (auto [key, field] : {std::pair{"tcp_syn_s", &next.tcp_syn_s},
                            std::pair{"tcp_established_s", &next.tcp_established_s},
                            std::pair{"tcp_closing_s", &next.tcp_closing_s},
                            std::pair{"udp_s", &next.udp_s}}) {
    reader.integer(body, "", key, kMinTimeoutS, kMaxTimeoutS, *field);
  }
  if (!reader.ok()) return reader.status();
  timeouts = next;
  return absl::OkStatus();
}

absl::Status patchIcmpErrors(const nlohmann::json& body, IcmpErrorLimits& limits) {
  BodyReader reader;
  if (!reader.object(body, "", kIcmpErrorFields) || !requireSomeField(reader, body, kIcmpErrorFields)) {
    return reader.status();
  }
  IcmpErrorLimits next = limits;
  reader.integer(body, "", "per_second", 0, kMaxIcmpErrorsPerSecond, next.per_second);
  reader.integer(body, "", "burst", kMinIcmpErrorBurst, kMaxIcmpErrorBurst, next.burst);
  if (!reader.ok()) return reader.status();
  limits = next;
  return absl::OkStatus();
}

}  // namespace lb::controlplane
