// Enum <-> name tables and the VIP helpers of the config contract. The YAML parser lives in
// config_parse.cc and the cross-field checks in config_validate.cc.
#include "controlplane/config.h"

#include <array>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "controlplane/value_text.h"

namespace lb::controlplane {

namespace {

// One table per enum so name() and parse() can never disagree.
constexpr std::array<std::pair<ForwardingMode, std::string_view>, 3> kForwardingNames{{
    {ForwardingMode::kFullNat, "fullnat"},
    {ForwardingMode::kDsrL2, "dsr"},
    {ForwardingMode::kDsrIpip, "ipip"},
}};
constexpr std::array<std::pair<Protocol, std::string_view>, 2> kProtocolNames{{
    {Protocol::kTcp, "tcp"},
    {Protocol::kUdp, "udp"},
}};
constexpr std::array<std::pair<BalanceKey, std::string_view>, 2> kBalanceKeyNames{{
    {BalanceKey::kFiveTuple, "five_tuple"},
    {BalanceKey::kSourceAddress, "source_address"},
}};
constexpr std::array<std::pair<BackendAdminState, std::string_view>, 3> kBackendStateNames{{
    {BackendAdminState::kEnabled, "enabled"},
    {BackendAdminState::kDraining, "draining"},
    {BackendAdminState::kDisabled, "disabled"},
}};
constexpr std::array<std::pair<HealthCheckType, std::string_view>, 3> kHealthCheckTypeNames{{
    {HealthCheckType::kNone, "none"},
    {HealthCheckType::kTcp, "tcp"},
    {HealthCheckType::kHttp, "http"},
}};
constexpr std::array<std::pair<DownBackendFlows, std::string_view>, 2> kDownBackendFlowsNames{{
    {DownBackendFlows::kKeep, "keep"},
    {DownBackendFlows::kReset, "reset"},
}};
constexpr std::array<std::pair<StickyMethod, std::string_view>, 4> kStickyMethodNames{{
    {StickyMethod::kLearnCookie, "learn_cookie"},
    {StickyMethod::kHashCookie, "hash_cookie"},
    {StickyMethod::kSourceAddress, "source_address"},
    {StickyMethod::kFiveTuple, "five_tuple"},
}};
constexpr std::array<std::pair<StickyTargetPolicy, std::string_view>, 2> kStickyTargetPolicyNames{{
    {StickyTargetPolicy::kSoft, "soft"},
    {StickyTargetPolicy::kStrict, "strict"},
}};
constexpr std::array<std::pair<hashing::Algorithm, std::string_view>, 3> kAlgorithmNames{{
    {hashing::Algorithm::kMaglev, "maglev"},
    {hashing::Algorithm::kRing, "ring"},
    {hashing::Algorithm::kModulo, "modulo"},
}};

template <class Table>
std::string_view nameOf(const Table& table, typename Table::value_type::first_type value) {
  for (const auto& [candidate, name] : table) {
    if (candidate == value) return name;
  }
  return "unknown";
}

template <class Table>
absl::StatusOr<typename Table::value_type::first_type> valueOf(const Table& table,
                                                               std::string_view name) {
  for (const auto& [value, candidate] : table) {
    if (candidate == name) return value;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      quoteValue(name), " is not one of ",
      absl::StrJoin(table, ", ",
                    [](std::string* out, const auto& entry) { out->append(entry.second); })));
}

}  // namespace

std::string_view forwardingModeName(ForwardingMode mode) { return nameOf(kForwardingNames, mode); }
absl::StatusOr<ForwardingMode> parseForwardingMode(std::string_view name) {
  return valueOf(kForwardingNames, name);
}

std::string_view protocolName(Protocol protocol) { return nameOf(kProtocolNames, protocol); }
absl::StatusOr<Protocol> parseProtocol(std::string_view name) { return valueOf(kProtocolNames, name); }

std::string_view balanceKeyName(BalanceKey key) { return nameOf(kBalanceKeyNames, key); }
std::string_view backendStateName(BackendAdminState state) { return nameOf(kBackendStateNames, state); }
absl::StatusOr<BackendAdminState> parseBackendState(std::string_view name) {
  return valueOf(kBackendStateNames, name);
}
std::string_view healthCheckTypeName(HealthCheckType type) { return nameOf(kHealthCheckTypeNames, type); }
absl::StatusOr<HealthCheckType> parseHealthCheckType(std::string_view name) {
  return valueOf(kHealthCheckTypeNames, name);
}
std::string_view downBackendFlowsName(DownBackendFlows policy) { return nameOf(kDownBackendFlowsNames, policy); }
absl::StatusOr<DownBackendFlows> parseDownBackendFlows(std::string_view name) {
  return valueOf(kDownBackendFlowsNames, name);
}
absl::StatusOr<BalanceKey> parseBalanceKey(std::string_view name) {
  return valueOf(kBalanceKeyNames, name);
}

std::string_view stickyMethodName(StickyMethod method) { return nameOf(kStickyMethodNames, method); }
absl::StatusOr<StickyMethod> parseStickyMethod(std::string_view name) {
  return valueOf(kStickyMethodNames, name);
}
std::string_view stickyTargetPolicyName(StickyTargetPolicy policy) {
  return nameOf(kStickyTargetPolicyNames, policy);
}
absl::StatusOr<StickyTargetPolicy> parseStickyTargetPolicy(std::string_view name) {
  return valueOf(kStickyTargetPolicyNames, name);
}

absl::StatusOr<hashing::Algorithm> parseAlgorithmName(std::string_view name) {
  return valueOf(kAlgorithmNames, name);
}

// An IPv4 address never holds a ':' and an IPv6 one always does, so the text picks the family; the
// error names both since a typo may have been meant as either.
absl::StatusOr<VipAddress> parseVip(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    if (auto address6 = parseIpv6(text); address6.ok()) return VipAddress{.vip6 = *address6};
  } else if (auto address = parseIpv4(text); address.ok()) {
    return VipAddress{.vip = *address};
  }
  return absl::InvalidArgumentError(quoteValue(text) + " is neither an IPv4 nor an IPv6 address");
}

std::string formatVip(const ServiceConfig& service) {
  return service.vip6.has_value() ? formatIpv6(*service.vip6) : formatIpv4(service.vip);
}

std::string formatListener(const ServiceConfig& service) {
  const std::string vip = service.vip6.has_value() ? absl::StrFormat("[%s]", formatIpv6(*service.vip6))
                                                   : formatIpv4(service.vip);
  return absl::StrFormat("%s:%d/%s", vip, service.port, protocolName(service.protocol));
}

bool sameListener(const ServiceConfig& a, const ServiceConfig& b) {
  return a.vip == b.vip && a.vip6 == b.vip6 && a.port == b.port && a.protocol == b.protocol;
}

}  // namespace lb::controlplane
