// An in-memory ControlOps for REST API tests (tests/controlplane/rest_api_test.cc) and the tetherctl
// test server (rest_test_server.cc): no DPDK, no daemon.
//
// It keeps a Config; applyConfig() runs validateConfig() and swaps it in, counting every successful
// apply, so a test can prove a rejected request changed nothing (applies() unchanged). Stats, health,
// metrics and the reload source are whatever the test sets; failNextApply() and throwFromStats() make
// the error paths (status mapping, exceptions inside handlers) reachable.
//
// Sticky sessions live in a map per service, keyed like the daemon's table (a keyed hash of the cookie
// value; here FNV-1a, standing in for the daemon's secret-keyed XXH3) and listed in key order. Only
// services with an http block have sessions, with the daemon's NotFound messages otherwise.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controlplane/config.h"
#include "controlplane/control_ops.h"

namespace lb::controlplane::testing {

class FakeControlOps : public ControlOps {
 public:
  explicit FakeControlOps(Config initial) : config_(std::move(initial)) {}

  // ControlOps
  Config currentConfig() const override {
    std::lock_guard lock(mutex_);
    return config_;
  }

  absl::Status applyConfig(const Config& next) override {
    std::lock_guard lock(mutex_);
    return applyLocked(next);
  }

  absl::Status reloadFromFile() override {
    std::function<absl::StatusOr<Config>()> source;
    {
      std::lock_guard lock(mutex_);
      ++reloads_;
      source = reload_source_;
    }
    if (!source) return absl::UnimplementedError("no reload source set");
    absl::StatusOr<Config> next = source();
    if (!next.ok()) return next.status();
    std::lock_guard lock(mutex_);
    return applyLocked(*next);
  }

  nlohmann::json stats() const override {
    std::function<nlohmann::json()> source;
    {
      std::lock_guard lock(mutex_);
      if (throw_from_stats_) throw std::runtime_error("stats exploded");
      source = stats_source_;
    }
    return source ? source() : nlohmann::json{{"lcores", nlohmann::json::array()},
                                              {"flows_active", 0},
                                              {"services", nlohmann::json::array()}};
  }

  std::vector<BackendHealth> health() const override {
    std::lock_guard lock(mutex_);
    return health_;
  }

  std::string metricsText() const override {
    std::lock_guard lock(mutex_);
    return metrics_;
  }

  absl::StatusOr<SessionListPage> listSessions(const std::string& service, uint64_t cursor,
                                               size_t limit) const override {
    if (limit == 0 || limit > kMaxSessionListLimit) {
      return absl::InvalidArgumentError("limit: out of range");
    }
    std::lock_guard lock(mutex_);
    if (auto status = checkHttpService(service); !status.ok()) return status;
    SessionListPage page;
    const auto it = sessions_.find(service);
    if (it == sessions_.end()) return page;
    for (auto s = it->second.upper_bound(cursor); s != it->second.end(); ++s) {
      if (page.sessions.size() == limit) {
        page.more = true;
        break;
      }
      page.sessions.push_back(s->second);
      page.next_cursor = s->first;
    }
    if (page.sessions.empty()) page.next_cursor = cursor;
    return page;
  }

  absl::StatusOr<SessionView> findSession(const std::string& service,
                                          const SessionSelector& which) const override {
    std::lock_guard lock(mutex_);
    if (auto status = checkHttpService(service); !status.ok()) return status;
    const auto it = sessions_.find(service);
    const uint64_t key = keyOf(which);
    if (it == sessions_.end() || it->second.count(key) == 0) {
      return absl::NotFoundError("service \"" + service + "\" has no such session");
    }
    return it->second.at(key);
  }

  absl::Status deleteSession(const std::string& service, const SessionSelector& which) override {
    std::lock_guard lock(mutex_);
    if (auto status = checkHttpService(service); !status.ok()) return status;
    const auto it = sessions_.find(service);
    if (it == sessions_.end() || it->second.erase(keyOf(which)) == 0) {
      return absl::NotFoundError("service \"" + service + "\" has no such session");
    }
    return absl::OkStatus();
  }

  // Test knobs.
  // The key the fake gives a cookie value (what ?cookie= is hashed to).
  static uint64_t cookieKey(std::string_view cookie) {
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (char c : cookie) hash = (hash ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
    return hash == 0 ? 1 : hash;
  }
  // Binds `cookie` in `service` to the backend; returns the session's key.
  uint64_t addSession(const std::string& service, std::string_view cookie, SessionView view) {
    std::lock_guard lock(mutex_);
    view.key = cookieKey(cookie);
    sessions_[service][view.key] = view;
    return view.key;
  }
  size_t sessionCount() const {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const auto& [service, map] : sessions_) n += map.size();
    return n;
  }
  int applies() const {
    std::lock_guard lock(mutex_);
    return applies_;
  }
  int reloads() const {
    std::lock_guard lock(mutex_);
    return reloads_;
  }
  void setReloadSource(std::function<absl::StatusOr<Config>()> source) {
    std::lock_guard lock(mutex_);
    reload_source_ = std::move(source);
  }
  void setStatsSource(std::function<nlohmann::json()> source) {
    std::lock_guard lock(mutex_);
    stats_source_ = std::move(source);
  }
  void setHealth(std::vector<BackendHealth> health) {
    std::lock_guard lock(mutex_);
    health_ = std::move(health);
  }
  void setMetrics(std::string text) {
    std::lock_guard lock(mutex_);
    metrics_ = std::move(text);
  }
  // The next applyConfig() fails with `status` (after validation passed), as the daemon's might.
  void failNextApply(absl::Status status) {
    std::lock_guard lock(mutex_);
    fail_next_apply_ = std::move(status);
  }
  void throwFromStats(bool enable) {
    std::lock_guard lock(mutex_);
    throw_from_stats_ = enable;
  }

 private:
  absl::Status checkHttpService(const std::string& service) const {
    const auto it = std::find_if(config_.services.begin(), config_.services.end(),
                                 [&](const ServiceConfig& s) { return s.name == service; });
    if (it == config_.services.end()) return absl::NotFoundError("service \"" + service + "\" not found");
    if (!it->http.has_value()) {
      return absl::NotFoundError("service \"" + service + "\" has no sticky sessions (no http block)");
    }
    return absl::OkStatus();
  }
  static uint64_t keyOf(const SessionSelector& which) {
    return which.cookie.has_value() ? cookieKey(*which.cookie) : which.key;
  }

  absl::Status applyLocked(const Config& next) {
    if (auto status = validateConfig(next); !status.ok()) return status;
    if (fail_next_apply_.has_value()) {
      absl::Status status = *std::move(fail_next_apply_);
      fail_next_apply_.reset();
      return status;
    }
    config_ = next;
    ++applies_;
    return absl::OkStatus();
  }

  mutable std::mutex mutex_;
  Config config_;
  int applies_ = 0;
  int reloads_ = 0;
  std::function<absl::StatusOr<Config>()> reload_source_;
  std::function<nlohmann::json()> stats_source_;
  std::vector<BackendHealth> health_;
  std::string metrics_;
  std::optional<absl::Status> fail_next_apply_;
  bool throw_from_stats_ = false;
  std::map<std::string, std::map<uint64_t, SessionView>> sessions_;  // service -> key -> session
};

}  // namespace lb::controlplane::testing
