// An in-memory ControlOps for REST API tests (tests/controlplane/rest_api_test.cc) and the tetherctl
// test server (rest_test_server.cc): no DPDK, no daemon.
//
// It keeps a Config; applyConfig() runs validateConfig() and swaps it in, counting every successful
// apply, so a test can prove a rejected request changed nothing (applies() unchanged). Stats, health,
// metrics and the reload source are whatever the test sets; failNextApply() and throwFromStats() make
// the error paths (status mapping, exceptions inside handlers) reachable.
#pragma once

#include <functional>
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

  // Test knobs.
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
};

}  // namespace lb::controlplane::testing
