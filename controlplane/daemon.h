// tetherd's control plane: owns the config, the ports, the worker contexts and every change of state.
// Runs on the main lcore; workers run dataplane::runWorker on the others and only read what this
// publishes (see ARCHITECTURE.md, "A config change").
#pragma once

#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controlplane/config.h"
#include "controlplane/control_ops.h"
#include "controlplane/counter_slots.h"
#include "controlplane/health_checker.h"
#include "controlplane/neighbor_table.h"
#include "controlplane/snapshot_publisher.h"
#include "controlplane/rest_api.h"
#include "controlplane/stats_report.h"
#include "dataplane/worker.h"

namespace lb::controlplane {

struct DaemonOptions {
  std::string config_path;
  std::string stats_file;
  uint32_t stats_interval_ms = 1000;
  uint32_t duration_s = 0;  // 0 = until SIGINT/SIGTERM
  bool api_enabled = true;
  RestApiOptions api;
  std::string health_bind_device;  // SO_BINDTODEVICE for health checks (empty = kernel routing)
  // Kernel interface name of the exception path (empty = none). Health checks then go through it.
  std::string exception_iface;
};

// Also the ControlOps the REST API calls: every change, from the API, SIGHUP, the health checker or
// the neighbour resolver, is applied under one control-plane mutex (workers never take it).
class Daemon final : public ControlOps {
 public:
  // Call after rte_eal_init. Sets up ports, rings and worker state; starts nothing yet.
  static absl::StatusOr<std::unique_ptr<Daemon>> create(Config config, DaemonOptions options);
  ~Daemon();

  // Launches the workers and runs the control loop until stopped. Returns the process exit code.
  int run();

  // Async-signal-safe.
  static void requestStop();
  static void requestReload();

  // ControlOps (thread-safe)
  Config currentConfig() const override;
  absl::Status applyConfig(const Config& next) override;
  absl::Status reloadFromFile() override;
  nlohmann::json stats() const override;
  std::vector<BackendHealth> health() const override;
  std::string metricsText() const override;
  absl::StatusOr<SessionListPage> listSessions(const std::string& service, uint64_t cursor,
                                               size_t limit) const override;
  absl::StatusOr<SessionView> findSession(const std::string& service,
                                          const SessionSelector& which) const override;
  absl::Status deleteSession(const std::string& service, const SessionSelector& which) override;

 private:
  Daemon() = default;
  absl::Status setUpFragments(const DataplaneConfig& dataplane, uint16_t workers);
  // The *Locked methods expect mutex_ held.
  absl::Status rebuildAndPublishLocked();
  absl::Status applyConfigLocked(Config next);
  void pollArpLocked(uint64_t now_ms);
  void pollHealthLocked(uint64_t now_ms);
  void setHealthTargetsLocked();
  void stepSlowStartLocked(uint64_t now_ms);
  std::vector<WorkerCounters> workerCounters() const;
  SessionTableStats sessionStatsLocked() const;
  // One bounded slice of session expiry; never waits for a worker (the table only try-locks).
  void expireSessionsLocked();
  // The session-table index of an HTTP service, or NotFound naming what is missing.
  absl::StatusOr<uint16_t> sessionServiceLocked(const std::string& service) const;
  dataplane::SessionKey sessionKeyOf(const SessionSelector& which) const;
  SessionView sessionViewLocked(const dataplane::SessionEntry& entry, const std::string& service,
                                uint32_t now_s) const;
  nlohmann::json statsLocked() const;
  void writeStats();

  mutable std::mutex mutex_;
  Config config_;
  DaemonOptions options_;
  std::unique_ptr<HealthChecker> health_checker_;
  std::set<BackendKey> down_;
  bool health_changed_ = false;
  // Slow start: when each recovering backend came up, and the weight share the snapshot gives it now.
  std::map<BackendKey, uint64_t> slow_start_since_ms_;
  std::map<BackendKey, double> slow_start_share_;
  uint64_t poll_now_ms_ = 0;
  uint64_t last_slow_start_step_ms_ = 0;
  std::unique_ptr<RestApi> rest_api_;
  rte_mempool* pool_ = nullptr;
  rte_mempool* indirect_pool_ = nullptr;  // data-less mbufs for splitting packets over the MTU
  rte_rcu_qsbr* qsbr_ = nullptr;
  std::vector<rte_ether_addr> port_macs_;  // config ports only, by DPDK port id
  std::vector<uint16_t> port_mtus_;        // the same ports' IP MTUs
  uint16_t exception_port_ = dataplane::kNoPort;
  std::unique_ptr<SnapshotPublisher> publisher_;
  NeighborTable neighbors_;
  CounterSlots counter_slots_{dataplane::kMaxBackendCounters};
  std::vector<std::unique_ptr<dataplane::WorkerContext>> contexts_;
  std::vector<dataplane::LcoreCounters*> counters_;
  std::vector<dataplane::WorkerConfig> worker_configs_;
  std::vector<unsigned> worker_lcores_;
  std::vector<rte_ring*> rings_;
  rte_ring* to_control_ = nullptr;
  std::atomic<bool> stop_workers_{false};
  // Sticky sessions (issue 5): one table for every lcore, sized by the boot-only `sessions` block.
  // Created before the workers start and freed after they stop. The control plane's own calls
  // (expiry, REST look-ups and deletes) run under mutex_ and count into control_session_counters_.
  std::unique_ptr<dataplane::SessionTable> sessions_;
  std::unique_ptr<dataplane::SessionSecret> session_secret_;
  dataplane::SessionCounters control_session_counters_;
  ServiceSlots session_services_{dataplane::kMaxServiceCounters};
  uint32_t expire_buckets_per_tick_ = 0;
  ControlStats control_stats_;
  uint64_t start_tsc_ = 0;
};

}  // namespace lb::controlplane
