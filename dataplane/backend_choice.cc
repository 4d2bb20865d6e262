#include "dataplane/backend_choice.h"

#include <algorithm>
#include <variant>

namespace lb::dataplane {
namespace {

template <class Table>
hashing::BackendIndex selectIn(const Table& table, uint64_t key_hash) {
  return table.lookup(key_hash);
}

hashing::BackendIndex select(const Service& svc, uint64_t key_hash) {
  return std::visit([&](const auto& table) { return selectIn(table, key_hash); }, svc.selector);
}

uint64_t hashSource(const hashing::FlowKeyV4& key, uint64_t seed) {
  return hashing::hashAddressV4(key.src_addr_be, seed);
}
uint64_t hashSource(const hashing::FlowKeyV6& key, uint64_t seed) { return hashing::hashAddressV6(key.src_addr, seed); }

bool startsWithNoCase(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i) {
    const char c = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] + 32) : s[i];
    if (c != lower_prefix[i]) return false;
  }
  return true;
}

}  // namespace

uint16_t findBackendById(const Service& svc, uint64_t id) {
  const auto it = std::lower_bound(svc.backends.begin(), svc.backends.end(), id,
                                   [](const BackendTarget& b, uint64_t v) { return b.id < v; });
  if (it == svc.backends.end() || it->id != id) return hashing::kNoBackend;
  return static_cast<uint16_t>(it - svc.backends.begin());
}

namespace {

template <class Key>
BackendChoice chooseFor(const Service& svc, const HttpRequestHead& head, const Key& key, const StickyInputs& in,
                        ProxyCounters& counters) {
  const HttpStickyPolicy& policy = svc.http;
  for (uint8_t i = 0; i < policy.method_count && i < kStickyMethodCount; ++i) {
    const StickyMethod method = policy.methods[i];
    switch (method) {
      case StickyMethod::kLearnCookie: {
        if (in.sessions == nullptr || in.secret == nullptr || policy.learn_cookie.empty()) break;
        const std::optional<std::string_view> value = findCookie(head, policy.learn_cookie);
        if (!value || value->empty()) break;
        // kBusy (a writer held the entry) is treated as a miss: route without stickiness.
        const SessionLookup found =
            in.sessions->lookup(sessionKey(*value, *in.secret), in.now_s, *in.session_counters);
        if (!found.hit() || found.service != policy.session_service) break;
        const uint16_t idx = findBackendById(svc, found.backend_id);
        RebindCause cause = RebindCause::kTargetGone;
        if (idx != hashing::kNoBackend) {
          const BackendTarget& b = svc.backends[idx];
          if (backendUsable(b)) return BackendChoice{idx, false, true, method};
          cause = b.availability == BackendAvailability::kDraining ? RebindCause::kTargetDraining
                                                                    : RebindCause::kTargetDown;
        }
        if (policy.unavailable_target == StickyTargetPolicy::kStrict) {
          return BackendChoice{hashing::kNoBackend, true, true, method};
        }
        counters.rebinds[static_cast<size_t>(cause)].inc();
        break;
      }
      case StickyMethod::kHashCookie: {
        if (policy.hash_cookie.empty()) break;
        const std::optional<std::string_view> value = findCookie(head, policy.hash_cookie);
        if (!value) break;
        const uint16_t idx = select(svc, hashing::hashBytes(*value, svc.hash_seed));
        if (idx != hashing::kNoBackend) return BackendChoice{idx, false, true, method};
        break;
      }
      case StickyMethod::kSourceAddress: {
        const uint16_t idx = select(svc, hashSource(key, svc.hash_seed));
        if (idx != hashing::kNoBackend) return BackendChoice{idx, false, false, method};
        break;
      }
      case StickyMethod::kFiveTuple: {
        const uint16_t idx = select(svc, hashing::hashFlow(key, svc.hash_seed));
        if (idx != hashing::kNoBackend) return BackendChoice{idx, false, false, method};
        break;
      }
    }
  }
  const bool by_source = svc.key == BalanceKey::kSourceAddress;
  const uint64_t hash = by_source ? hashSource(key, svc.hash_seed)
                                  : hashing::hashFlow(key, svc.hash_seed);
  return BackendChoice{select(svc, hash), false, false,
                       by_source ? StickyMethod::kSourceAddress : StickyMethod::kFiveTuple};
}

template <class Key>
uint16_t nextUntriedFor(const Service& svc, const Key& client_key, std::span<const uint64_t> tried) {
  const size_t n = svc.backends.size();
  if (n == 0) return hashing::kNoBackend;
  const uint64_t start = hashing::hashFlow(client_key, svc.hash_seed + tried.size()) % n;
  for (size_t k = 0; k < n; ++k) {
    const size_t idx = (start + k) % n;
    const BackendTarget& b = svc.backends[idx];
    if (!backendUsable(b)) continue;
    if (std::find(tried.begin(), tried.end(), b.id) == tried.end()) return static_cast<uint16_t>(idx);
  }
  return hashing::kNoBackend;
}

}  // namespace

BackendChoice chooseBackend(const Service& svc, const HttpRequestHead& head, const hashing::FlowKeyV4& client_key,
                            const StickyInputs& in, ProxyCounters& counters) {
  return chooseFor(svc, head, client_key, in, counters);
}
BackendChoice chooseBackend(const Service& svc, const HttpRequestHead& head, const hashing::FlowKeyV6& client_key,
                            const StickyInputs& in, ProxyCounters& counters) {
  return chooseFor(svc, head, client_key, in, counters);
}

uint16_t nextUntriedBackend(const Service& svc, const hashing::FlowKeyV4& client_key,
                            std::span<const uint64_t> tried) {
  return nextUntriedFor(svc, client_key, tried);
}
uint16_t nextUntriedBackend(const Service& svc, const hashing::FlowKeyV6& client_key,
                            std::span<const uint64_t> tried) {
  return nextUntriedFor(svc, client_key, tried);
}

bool setCookieExpires(std::string_view value, std::string_view attributes) {
  if (value.empty()) return true;
  size_t pos = 0;
  while (pos < attributes.size()) {
    size_t next = attributes.find(';', pos);
    if (next == std::string_view::npos) next = attributes.size();
    std::string_view attr = attributes.substr(pos, next - pos);
    while (!attr.empty() && (attr.front() == ' ' || attr.front() == '\t')) attr.remove_prefix(1);
    while (!attr.empty() && (attr.back() == ' ' || attr.back() == '\t')) attr.remove_suffix(1);
    if (startsWithNoCase(attr, "max-age=")) {
      const std::string_view n = attr.substr(8);
      // RFC 6265 5.2.2: zero or a negative number means "expire now".
      if (!n.empty() && (n.front() == '-' || n.find_first_not_of('0') == std::string_view::npos)) return true;
    } else if (startsWithNoCase(attr, "expires=") && attr.find("1970") != std::string_view::npos) {
      return true;
    }
    pos = next + 1;
  }
  return false;
}

}  // namespace lb::dataplane
