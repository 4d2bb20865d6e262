#include "controlplane/daemon.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include <sys/random.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

#include "absl/strings/str_format.h"
#include "controlplane/arp_frames.h"
#include "controlplane/exception_path.h"
#include "controlplane/prometheus_metrics.h"
#include "controlplane/snapshot_builder.h"
#include "controlplane/telemetry.h"
#include "dataplane/port_setup.h"
#include "dataplane/reply_steering.h"
#include "dataplane/syn_proxy.h"

namespace lb::controlplane {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};

constexpr unsigned kHandoffRingSize = 4096;
constexpr unsigned kControlRingSize = 1024;
constexpr unsigned kInjectRingSize = 256;
constexpr unsigned kMbufCache = 256;
constexpr auto kControlTick = std::chrono::milliseconds(5);

uint64_t nowMs() { return rte_get_tsc_cycles() * 1000 / rte_get_tsc_hz(); }

// The session table's clock: whole seconds of the TSC, the one clock every lcore shares (workers
// convert their burst's TSC the same way), truncated to 32 bits as the table expects.
uint32_t sessionNowS() { return static_cast<uint32_t>(rte_get_tsc_cycles() / rte_get_tsc_hz()); }

// Expiry visits every bucket about once per this period, in one slice per control tick.
constexpr uint64_t kSessionSweepPeriodMs = 10000;
constexpr uint32_t kMaxExpireBucketsPerTick = 8192;
// Session listing scans at most this many table pages per REST call when filtering by service.
constexpr size_t kMaxSessionScanPages = 16;

// The SYN-cookie master key from the kernel's random source (getrandom(2), blocking only until the
// pool is initialised at boot).
absl::StatusOr<dataplane::SipKey> randomSipKey() {
  uint64_t words[2];
  size_t filled = 0;
  auto* bytes = reinterpret_cast<uint8_t*>(words);
  while (filled < sizeof(words)) {
    const ssize_t n = getrandom(bytes + filled, sizeof(words) - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "getrandom for the SYN-cookie key");
    }
    filled += static_cast<size_t>(n);
  }
  return dataplane::SipKey{words[0], words[1]};
}

rte_ring* makeRing(const std::string& name, unsigned size, unsigned flags) {
  return rte_ring_create(name.c_str(), size, static_cast<int>(rte_socket_id()), flags);
}

static_assert(kDefaultMbufDataRoom == RTE_MBUF_DEFAULT_BUF_SIZE, "the default mbuf is DPDK's");

// Keys that size memory or ports cannot change without a restart.
absl::Status checkBootKeysUnchanged(const Config& running, const Config& next) {
  const auto& a = running.dataplane;
  const auto& b = next.dataplane;
  if (a.burst_size != b.burst_size || a.mbufs != b.mbufs || a.mbuf_data_room != b.mbuf_data_room ||
      a.flow_entries_per_lcore != b.flow_entries_per_lcore || a.local_port_min != b.local_port_min ||
      a.local_port_max != b.local_port_max || a.fragment_datagrams_per_lcore != b.fragment_datagrams_per_lcore ||
      a.fragment_timeout_ms != b.fragment_timeout_ms) {
    return absl::FailedPreconditionError("dataplane: boot-only keys changed; restart tetherd to apply");
  }
  if (running.sessions.capacity != next.sessions.capacity ||
      running.sessions.shards != next.sessions.shards) {
    return absl::FailedPreconditionError(
        "sessions: boot-only keys changed (the session table is sized at start); restart tetherd to apply");
  }
  if (running.ports.size() != next.ports.size()) {
    return absl::FailedPreconditionError("ports: boot-only; restart tetherd to apply");
  }
  for (size_t p = 0; p < running.ports.size(); ++p) {
    const auto& x = running.ports[p];
    const auto& y = next.ports[p];
    if (x.address.address != y.address.address || x.address.prefix_length != y.address.prefix_length ||
        x.vlan != y.vlan || x.gateway != y.gateway || x.local_addresses != y.local_addresses ||
        x.address6 != y.address6) {
      return absl::FailedPreconditionError(absl::StrFormat("ports[%d]: boot-only; restart tetherd to apply", p));
    }
  }
  return absl::OkStatus();
}

// Full-NAT source addresses per port, which size each worker's endpoint pools.
dataplane::LocalAddressCounts localAddressCounts(const Config& cfg) {
  dataplane::LocalAddressCounts counts{};
  for (size_t p = 0; p < cfg.ports.size(); ++p) {
    const std::optional<Ipv4Range>& local = cfg.ports[p].local_addresses;
    counts[p] = local.has_value() ? static_cast<uint16_t>(local->size()) : 1;
  }
  return counts;
}

}  // namespace

void Daemon::requestStop() { g_stop.store(true); }
void Daemon::requestReload() { g_reload.store(true); }

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::create(Config config, DaemonOptions options) {
  std::unique_ptr<Daemon> d(new Daemon());
  d->config_ = std::move(config);
  d->options_ = std::move(options);
  const Config& cfg = d->config_;

  const uint16_t port_count = rte_eth_dev_count_avail();
  if (port_count != cfg.ports.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "the config lists %d ports but EAL found %d (check --vdev / PCI arguments)", cfg.ports.size(), port_count));
  }
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) d->worker_lcores_.push_back(lcore);
  const uint16_t workers = static_cast<uint16_t>(d->worker_lcores_.size());
  uint16_t total_ports = port_count;
  if (workers == 0 || workers > dataplane::kMaxWorkers) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "tetherd needs 1..%d worker lcores besides the main one (got %d; e.g. -l 0-1)", dataplane::kMaxWorkers, workers));
  }
  const uint32_t local_ports = uint32_t{cfg.dataplane.local_port_max} - cfg.dataplane.local_port_min + 1;
  if (local_ports / workers == 0) return absl::InvalidArgumentError("fewer local ports than workers");

  d->pool_ = rte_pktmbuf_pool_create("tether_mbufs", cfg.dataplane.mbufs, kMbufCache, 0,
                                     static_cast<uint16_t>(cfg.dataplane.mbuf_data_room),
                                     static_cast<int>(rte_socket_id()));
  if (d->pool_ == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("cannot allocate %d mbufs of %d bytes (%s); reserve hugepages or raise -m",
                        cfg.dataplane.mbufs, cfg.dataplane.mbuf_data_room, rte_strerror(rte_errno)));
  }
  for (uint16_t p = 0; p < port_count; ++p) {
    if (auto st = dataplane::setupPort(p, workers, d->pool_); !st.ok()) return st;
    rte_ether_addr mac;
    rte_eth_macaddr_get(p, &mac);
    d->port_macs_.push_back(mac);
    uint16_t mtu = RTE_ETHER_MTU;
    if (rte_eth_dev_get_mtu(p, &mtu) != 0) mtu = RTE_ETHER_MTU;
    d->port_mtus_.push_back(mtu);
    if (workers > 1) {
      // Best effort: without rules, replies reach their owner over the hand-off ring.
      const dataplane::LocalPortPartition steering_partition{cfg.dataplane.local_port_min,
                                                             cfg.dataplane.local_port_max, workers};
      const std::optional<Ipv4Range>& local = cfg.ports[p].local_addresses;
      auto rules = dataplane::installReplySteering(
          p, local.has_value() ? local->first : cfg.ports[p].address.address,
          local.has_value() ? static_cast<uint32_t>(local->size()) : 1, steering_partition, workers);
      if (rules.ok()) {
        std::fprintf(stderr, "tetherd: port %d: %u rte_flow rules steer full-NAT replies to their lcore\n", p, *rules);
      } else {
        std::fprintf(stderr, "tetherd: %s\n", std::string(rules.status().message()).c_str());
      }
    }
  }
  if (!d->options_.exception_iface.empty()) {
    auto tap = createExceptionTap(d->options_.exception_iface, d->port_macs_[0]);
    if (!tap.ok()) return tap.status();
    if (auto st = dataplane::setupPort(*tap, workers, d->pool_); !st.ok()) return st;
    if (auto st = configureKernelInterface(d->options_.exception_iface, cfg.ports[0].address); !st.ok()) return st;
    if (auto st = separateEphemeralPorts(cfg.dataplane.local_port_min, cfg.dataplane.local_port_max); !st.ok()) {
      return st;
    }
    d->exception_port_ = *tap;
    total_ports = static_cast<uint16_t>(*tap + 1);
    if (d->options_.health_bind_device.empty()) d->options_.health_bind_device = d->options_.exception_iface;
  }

  const size_t qsbr_size = rte_rcu_qsbr_get_memsize(workers);
  d->qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("tether_qsbr", qsbr_size, RTE_CACHE_LINE_SIZE));
  if (d->qsbr_ == nullptr || rte_rcu_qsbr_init(d->qsbr_, workers) != 0) {
    return absl::ResourceExhaustedError("cannot set up RCU state");
  }
  d->publisher_ = std::make_unique<SnapshotPublisher>(d->qsbr_);

  d->to_control_ = makeRing("tether_to_control", kControlRingSize, RING_F_SC_DEQ);
  if (d->to_control_ == nullptr) return absl::ResourceExhaustedError("cannot create the control ring");
  d->rings_.push_back(d->to_control_);

  const dataplane::LocalPortPartition partition{cfg.dataplane.local_port_min, cfg.dataplane.local_port_max, workers};
  for (uint16_t w = 0; w < workers; ++w) {
    auto* counters = static_cast<dataplane::LcoreCounters*>(
        rte_zmalloc("tether_counters", sizeof(dataplane::LcoreCounters), RTE_CACHE_LINE_SIZE));
    if (counters == nullptr) return absl::ResourceExhaustedError("cannot allocate counters");
    d->counters_.push_back(counters);
    auto ctx = std::make_unique<dataplane::WorkerContext>(w, partition, cfg.dataplane.flow_entries_per_lcore,
                                                          localAddressCounts(cfg));
    ctx->counters = counters;
    ctx->to_control = d->to_control_;
    ctx->handoff_in = makeRing(absl::StrFormat("tether_handoff_%d", w), kHandoffRingSize, RING_F_SC_DEQ);
    if (ctx->handoff_in == nullptr) return absl::ResourceExhaustedError("cannot create hand-off rings");
    d->rings_.push_back(ctx->handoff_in);
    d->contexts_.push_back(std::move(ctx));
  }
  if (auto st = d->setUpFragments(cfg.dataplane, workers); !st.ok()) return st;
  // The session table exists whatever the services are, so a reload may add an http block. Its size
  // is boot-only; the default (1M sessions) takes about 40 MB.
  dataplane::SessionTableConfig table_config;
  table_config.capacity = cfg.sessions.capacity;
  table_config.shards = cfg.sessions.shards;
  auto table = dataplane::SessionTable::create(table_config);
  if (!table.ok()) {
    return absl::Status(table.status().code(),
                        absl::StrFormat("sessions: %s (lower sessions.capacity or raise -m)",
                                        table.status().message()));
  }
  d->sessions_ = *std::move(table);
  d->session_secret_ = std::make_unique<dataplane::SessionSecret>(dataplane::SessionSecret::random());
  auto master = randomSipKey();
  if (!master.ok()) return master.status();
  const uint64_t buckets = d->sessions_->slotCount() / dataplane::SessionTable::kSlotsPerBucket;
  const uint64_t ticks_per_sweep = kSessionSweepPeriodMs / static_cast<uint64_t>(kControlTick.count());
  d->expire_buckets_per_tick_ = static_cast<uint32_t>(std::clamp<uint64_t>(
      (buckets + ticks_per_sweep - 1) / ticks_per_sweep, 1, kMaxExpireBucketsPerTick));
  for (auto& ctx : d->contexts_) {
    ctx->sessions = d->sessions_.get();
    ctx->session_secret = d->session_secret_.get();
    ctx->syn_cookie_master = *master;
    // Every lcore gets a SYN proxy even when no service has an http block yet: a reload may add one.
    dataplane::SynProxyConfig proxy_config;
    proxy_config.clock = {rte_get_tsc_hz(), dataplane::SynCookieClock{}.epoch_seconds};
    proxy_config.cookie_master = *master;
    auto proxy = dataplane::SynProxy::create(proxy_config);
    if (!proxy.ok()) return proxy.status();
    ctx->proxy = *std::move(proxy);
  }
  d->worker_configs_.resize(workers);
  for (uint16_t w = 0; w < workers; ++w) {
    for (uint16_t o = 0; o < workers; ++o) d->contexts_[w]->handoff_to[o] = d->contexts_[o]->handoff_in;
    dataplane::WorkerConfig& wc = d->worker_configs_[w];
    wc.ctx = d->contexts_[w].get();
    wc.published = &d->publisher_->published();
    wc.stop = &d->stop_workers_;
    wc.qsbr = d->qsbr_;
    wc.port_count = total_ports;
    wc.tx_queue = w;
    wc.burst_size = static_cast<uint16_t>(cfg.dataplane.burst_size);
    for (uint16_t p = 0; p < total_ports; ++p) wc.rx[wc.rx_count++] = {p, w};
    wc.inject = makeRing(absl::StrFormat("tether_inject_%d", w), kInjectRingSize, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (wc.inject == nullptr) return absl::ResourceExhaustedError("cannot create inject rings");
    d->rings_.push_back(wc.inject);
  }

  for (const StaticNeighbor& n : cfg.neighbors) {
    rte_ether_addr mac;
    std::copy(n.mac.begin(), n.mac.end(), mac.addr_bytes);
    d->neighbors_.addStatic(n.address, mac);
  }
  d->neighbors_.setWanted(wantedNextHops(cfg));

  HealthCheckerOptions health_options;
  health_options.bind_device = d->options_.health_bind_device;
  auto checker = HealthChecker::create(health_options);
  if (checker.ok()) {
    d->health_checker_ = *std::move(checker);
    Daemon* self = d.get();
    d->health_checker_->setTransitionCallback([self](const BackendHealth& h) {
      const BackendKey key{h.service, h.address, h.port};
      if (h.state == HealthState::kDown) {
        self->down_.insert(key);
        self->slow_start_since_ms_.erase(key);
      } else if (self->down_.erase(key) != 0) {
        for (const ServiceConfig& s : self->config_.services) {
          if (s.name == h.service && s.slow_start_s > 0) self->slow_start_since_ms_[key] = self->poll_now_ms_;
        }
      }
      self->health_changed_ = true;
      std::fprintf(stderr, "tetherd: backend %s:%u of %s is %s%s%s\n", formatIpv4(h.address).c_str(), h.port,
                   h.service.c_str(), h.state == HealthState::kDown ? "down" : "up",
                   h.last_error.empty() ? "" : ": ", h.last_error.c_str());
    });
  } else {
    std::fprintf(stderr, "tetherd: health checks disabled: %s\n", std::string(checker.status().message()).c_str());
  }

  std::lock_guard lock(d->mutex_);
  d->setHealthTargetsLocked();
  if (auto st = d->rebuildAndPublishLocked(); !st.ok()) return st;

  TelemetrySources telemetry;
  telemetry.workers = d->workerCounters();
  telemetry.flow_entries_per_lcore = cfg.dataplane.flow_entries_per_lcore;
  telemetry.stats = [self = d.get()] { return self->stats(); };
  telemetry.health = [self = d.get()] { return self->health(); };
  if (auto st = registerTelemetry(std::move(telemetry)); !st.ok()) {
    std::fprintf(stderr, "tetherd: telemetry commands unavailable: %s\n", std::string(st.message()).c_str());
  }
  return d;
}

// Per-lcore reassembly tables, and the pool of data-less mbufs Ipv4Fragments::split attaches to a
// datagram's payload; they live only until the fragment is linearized, so a few per fragment in flight.
absl::Status Daemon::setUpFragments(const DataplaneConfig& dataplane, uint16_t workers) {
  uint32_t datagrams = dataplane.fragment_datagrams_per_lcore;
  if (datagrams == 0) return absl::OkStatus();
  // Incomplete datagrams hold their fragments' mbufs: a flood of first fragments must not be able to
  // take the pool that receives traffic. The default shrinks to fit; a value written in the file is
  // kept or refused.
  const uint32_t fitting = dataplane.mbufs / 2 / (RTE_LIBRTE_IP_FRAG_MAX_FRAG * uint32_t{workers});
  if (datagrams > fitting) {
    if (datagrams != kDefaultFragmentDatagramsPerLcore || fitting == 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "dataplane.fragment_datagrams_per_lcore: %u datagrams x %d fragments x %u workers could hold more "
          "than half of dataplane.mbufs (%u); at most %u fit: lower it or raise mbufs",
          datagrams, RTE_LIBRTE_IP_FRAG_MAX_FRAG, workers, dataplane.mbufs, fitting));
    }
    std::fprintf(stderr, "tetherd: fragment reassembly holds %u datagrams per worker (half of dataplane.mbufs)\n",
                 fitting);
    datagrams = fitting;
  }
  constexpr uint32_t kIndirectPerWorker = 1024;
  indirect_pool_ = rte_pktmbuf_pool_create("tether_indirect", kIndirectPerWorker * workers - 1, kMbufCache, 0, 0,
                                           static_cast<int>(rte_socket_id()));
  if (indirect_pool_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrFormat("cannot allocate indirect mbufs (%s)", rte_strerror(rte_errno)));
  }
  dataplane::Ipv4FragmentsConfig fragments;
  fragments.max_datagrams = datagrams;
  fragments.timeout_tsc = rte_get_tsc_hz() / 1000 * dataplane.fragment_timeout_ms;
  fragments.socket = static_cast<int>(rte_socket_id());
  fragments.indirect_pool = indirect_pool_;
  for (auto& ctx : contexts_) {
    auto table = dataplane::Ipv4Fragments::create(fragments);
    if (!table.ok()) {
      return absl::Status(table.status().code(),
                          absl::StrFormat("dataplane.fragment_datagrams_per_lcore: %s (lower it or raise -m)",
                                          table.status().message()));
    }
    ctx->fragments = *std::move(table);
  }
  return absl::OkStatus();
}

Daemon::~Daemon() {
  if (rest_api_ != nullptr) rest_api_->stop();
  unregisterTelemetry();
  health_checker_.reset();
  const uint16_t ports = exception_port_ != dataplane::kNoPort ? static_cast<uint16_t>(exception_port_ + 1)
                                                                 : static_cast<uint16_t>(port_macs_.size());
  for (uint16_t p = 0; p < ports; ++p) {
    rte_eth_dev_stop(p);
    rte_eth_dev_close(p);
  }
  publisher_.reset();
  for (rte_ring* r : rings_) {
    void* m;
    while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    rte_ring_free(r);
  }
  for (auto* c : counters_) rte_free(c);
  rte_free(qsbr_);
  for (auto& ctx : contexts_) ctx->fragments.reset();  // gives held fragments back to the pool
  rte_mempool_free(indirect_pool_);
  rte_mempool_free(pool_);
}

absl::Status Daemon::rebuildAndPublishLocked() {
  BuildInputs in{&config_, port_macs_, &neighbors_, &counter_slots_, rte_get_tsc_hz(),
                 control_stats_.generation + 1, &down_, exception_port_, &slow_start_share_};
  in.session_services = &session_services_;
  in.port_mtus = port_mtus_;
  auto snap = buildSnapshot(in);
  if (!snap.ok()) return snap.status();
  // Before the publish, so the first request of a new HTTP service already sees its timeouts. Live
  // sessions take changed timeouts at their next check (the table reads them per entry).
  for (size_t i = 0; i < config_.services.size(); ++i) {
    const ServiceConfig& sc = config_.services[i];
    // A sharing service uses its owner's namespace, whose timeouts the owner sets.
    if (!sc.http.has_value() || !sc.http->share_sessions_with.empty()) continue;
    const dataplane::SessionTimeouts timeouts{.idle_s = sc.http->session_idle_s,
                                              .lifetime_s = sc.http->session_lifetime_s};
    if (auto st = sessions_->setTimeouts((*snap)->services[i].http.session_service, timeouts); !st.ok()) {
      return absl::InternalError(absl::StrFormat("service %s: %s", sc.name, st.message()));
    }
  }
  const uint64_t cycles = publisher_->publish(*std::move(snap));
  control_stats_.generation = in.generation;
  control_stats_.publishes++;
  control_stats_.last_publish_us = cycles * 1000000 / rte_get_tsc_hz();
  return absl::OkStatus();
}

absl::Status Daemon::applyConfigLocked(Config next) {
  if (auto st = validateConfig(next); !st.ok()) return st;
  if (auto st = checkBootKeysUnchanged(config_, next); !st.ok()) return st;
  Config previous = std::move(config_);
  config_ = std::move(next);
  neighbors_.setWanted(wantedNextHops(config_));
  if (auto st = rebuildAndPublishLocked(); !st.ok()) {
    config_ = std::move(previous);
    neighbors_.setWanted(wantedNextHops(config_));
    return st;
  }
  setHealthTargetsLocked();
  return absl::OkStatus();
}

Config Daemon::currentConfig() const {
  std::lock_guard lock(mutex_);
  return config_;
}

absl::Status Daemon::applyConfig(const Config& next) {
  std::lock_guard lock(mutex_);
  return applyConfigLocked(next);
}

absl::Status Daemon::reloadFromFile() {
  auto next = loadConfigFile(options_.config_path);
  if (!next.ok()) return next.status();
  std::lock_guard lock(mutex_);
  if (auto st = applyConfigLocked(*std::move(next)); !st.ok()) return st;
  std::fprintf(stderr, "tetherd: reloaded %s (generation %lu)\n", options_.config_path.c_str(),
               static_cast<unsigned long>(control_stats_.generation));
  return absl::OkStatus();
}

void Daemon::setHealthTargetsLocked() {
  if (health_checker_ == nullptr) return;
  std::vector<HealthTarget> targets;
  for (const ServiceConfig& s : config_.services) {
    if (s.health_check.type == HealthCheckType::kNone) continue;
    for (const BackendConfig& b : s.backends) targets.push_back({s.name, b.address, b.port, s.health_check});
  }
  health_checker_->setTargets(std::move(targets));
  // Forget verdicts for backends that are no longer checked, so they are not held out of the table.
  std::set<BackendKey> still_down;
  for (const BackendHealth& h : health_checker_->health()) {
    if (h.state == HealthState::kDown) still_down.insert(BackendKey{h.service, h.address, h.port});
  }
  if (still_down != down_) {
    down_ = std::move(still_down);
    health_changed_ = true;
  }
}

// Re-weights backends in slow start every kSlowStartStepMs: share = time since up / slow_start_s.
void Daemon::stepSlowStartLocked(uint64_t now_ms) {
  constexpr uint64_t kSlowStartStepMs = 500;
  if (slow_start_since_ms_.empty() && slow_start_share_.empty()) return;
  if (!health_changed_ && now_ms - last_slow_start_step_ms_ < kSlowStartStepMs) return;
  last_slow_start_step_ms_ = now_ms;
  std::map<BackendKey, double> shares;
  for (auto it = slow_start_since_ms_.begin(); it != slow_start_since_ms_.end();) {
    uint32_t window_s = 0;
    for (const ServiceConfig& s : config_.services) {
      if (s.name == it->first.service) window_s = s.slow_start_s;
    }
    const double share = window_s == 0 ? 1.0 : static_cast<double>(now_ms - it->second) / (window_s * 1000.0);
    if (share >= 1.0) {
      it = slow_start_since_ms_.erase(it);
      continue;
    }
    shares[it->first] = share;
    ++it;
  }
  if (shares != slow_start_share_) {
    slow_start_share_ = std::move(shares);
    health_changed_ = true;
  }
}

void Daemon::pollHealthLocked(uint64_t now_ms) {
  if (health_checker_ == nullptr) return;
  poll_now_ms_ = now_ms;
  health_checker_->poll(now_ms);
  stepSlowStartLocked(now_ms);
  if (!health_changed_) return;
  health_changed_ = false;
  if (auto st = rebuildAndPublishLocked(); !st.ok()) {
    std::fprintf(stderr, "tetherd: health change not applied: %s\n", std::string(st.message()).c_str());
  }
}

std::vector<WorkerCounters> Daemon::workerCounters() const {
  std::vector<WorkerCounters> workers;
  for (size_t w = 0; w < counters_.size(); ++w) workers.push_back({worker_lcores_[w], counters_[w]});
  return workers;
}

nlohmann::json Daemon::statsLocked() const {
  ControlStats control = control_stats_;
  control.uptime_s = static_cast<double>(rte_get_tsc_cycles() - start_tsc_) / rte_get_tsc_hz();
  control.tsc_hz = rte_get_tsc_hz();
  return statsJson(workerCounters(), config_, counter_slots_, control, sessionStatsLocked());
}

nlohmann::json Daemon::stats() const {
  std::lock_guard lock(mutex_);
  return statsLocked();
}

std::vector<BackendHealth> Daemon::health() const {
  std::lock_guard lock(mutex_);
  if (health_checker_ == nullptr) return {};
  return health_checker_->health();
}

std::string Daemon::metricsText() const {
  std::lock_guard lock(mutex_);
  ControlStats control = control_stats_;
  control.uptime_s = static_cast<double>(rte_get_tsc_cycles() - start_tsc_) / rte_get_tsc_hz();
  control.tsc_hz = rte_get_tsc_hz();
  return renderMetrics(workerCounters(), config_, counter_slots_, control,
                       health_checker_ != nullptr ? health_checker_->health() : std::vector<BackendHealth>{},
                       sessionStatsLocked());
}

SessionTableStats Daemon::sessionStatsLocked() const {
  SessionTableStats stats;
  if (sessions_ == nullptr) return stats;
  stats.present = true;
  stats.occupied = sessions_->occupied();
  stats.capacity = sessions_->capacity();
  stats.slots = sessions_->slotCount();
  stats.shards = sessions_->shardCount();
  for (const auto& ctx : contexts_) stats.ops.add(ctx->session_counters);
  stats.ops.add(control_session_counters_);
  return stats;
}

void Daemon::expireSessionsLocked() {
  if (sessions_ == nullptr) return;
  sessions_->expireSlice(sessionNowS(), expire_buckets_per_tick_, control_session_counters_);
}

absl::StatusOr<uint16_t> Daemon::sessionServiceLocked(const std::string& service) const {
  const auto it = std::find_if(config_.services.begin(), config_.services.end(),
                               [&](const ServiceConfig& s) { return s.name == service; });
  if (it == config_.services.end()) {
    return absl::NotFoundError(absl::StrFormat("service \"%s\" not found", service));
  }
  const auto slot = session_services_.slots().find(sessionOwnerName(*it));
  if (!it->http.has_value() || slot == session_services_.slots().end() || sessions_ == nullptr) {
    return absl::NotFoundError(
        absl::StrFormat("service \"%s\" has no sticky sessions (no http block)", service));
  }
  return slot->second;
}

dataplane::SessionKey Daemon::sessionKeyOf(const SessionSelector& which) const {
  if (which.cookie.has_value()) return dataplane::sessionKey(*which.cookie, *session_secret_);
  return dataplane::SessionKey::fromHash(which.key);
}

SessionView Daemon::sessionViewLocked(const dataplane::SessionEntry& entry, const std::string& service,
                                      uint32_t now_s) const {
  SessionView view;
  view.key = entry.key.value;
  view.backend_id = entry.backend_id;
  // Differences as int32, like the table: a worker's clock a second ahead never gives a huge age.
  view.created_age_s = static_cast<uint32_t>(std::max<int32_t>(0, static_cast<int32_t>(now_s - entry.created_s)));
  view.idle_s = static_cast<uint32_t>(std::max<int32_t>(0, static_cast<int32_t>(now_s - entry.last_used_s)));
  // A binding may outlive its backend's membership (removed by reload): then no address is shown.
  for (const ServiceConfig& sc : config_.services) {
    if (sc.name != service) continue;
    for (const BackendConfig& b : sc.backends) {
      if (backendStableId(b) == entry.backend_id) {
        view.backend_address = b.address;
        view.backend_port = b.port;
      }
    }
  }
  return view;
}

absl::StatusOr<SessionListPage> Daemon::listSessions(const std::string& service, uint64_t cursor,
                                                     size_t limit) const {
  if (limit == 0 || limit > kMaxSessionListLimit) {
    return absl::InvalidArgumentError(
        absl::StrFormat("limit: %d is out of range 1..%d", limit, kMaxSessionListLimit));
  }
  std::lock_guard lock(mutex_);
  auto index = sessionServiceLocked(service);
  if (!index.ok()) return index.status();
  const uint32_t now_s = sessionNowS();
  SessionListPage out;
  // The table lists every service's sessions in key order; keep this service's, scanning a bounded
  // number of pages so a small service in a large table never makes one call walk all of it.
  for (size_t page_number = 0; page_number < kMaxSessionScanPages; ++page_number) {
    const dataplane::SessionPage page = sessions_->list(cursor, limit, now_s);
    for (const dataplane::SessionEntry& entry : page.entries) {
      cursor = entry.key.value;
      if (entry.service != *index) continue;
      out.sessions.push_back(sessionViewLocked(entry, service, now_s));
      if (out.sessions.size() == limit) break;
    }
    out.next_cursor = cursor;
    // Stopped inside a page: the rest of it is still to come.
    const bool page_left_over = !page.entries.empty() && cursor != page.entries.back().key.value;
    out.more = page.more || page_left_over;
    if (!out.more || out.sessions.size() == limit) break;
    cursor = page.next_cursor;
    out.next_cursor = cursor;
  }
  return out;
}

absl::StatusOr<SessionView> Daemon::findSession(const std::string& service,
                                                const SessionSelector& which) const {
  std::lock_guard lock(mutex_);
  auto index = sessionServiceLocked(service);
  if (!index.ok()) return index.status();
  const uint32_t now_s = sessionNowS();
  const std::optional<dataplane::SessionEntry> entry = sessions_->peek(sessionKeyOf(which), now_s);
  if (!entry.has_value() || entry->service != *index) {
    return absl::NotFoundError(absl::StrFormat("service \"%s\" has no such session", service));
  }
  return sessionViewLocked(*entry, service, now_s);
}

absl::Status Daemon::deleteSession(const std::string& service, const SessionSelector& which) {
  std::lock_guard lock(mutex_);
  auto index = sessionServiceLocked(service);
  if (!index.ok()) return index.status();
  const dataplane::SessionKey key = sessionKeyOf(which);
  // Erase only this service's binding: a key of another service is not this caller's to remove.
  const std::optional<dataplane::SessionEntry> entry = sessions_->peek(key, sessionNowS());
  if (!entry.has_value() || entry->service != *index) {
    return absl::NotFoundError(absl::StrFormat("service \"%s\" has no such session", service));
  }
  switch (sessions_->erase(key, control_session_counters_)) {
    case dataplane::SessionEraseResult::kErased: return absl::OkStatus();
    case dataplane::SessionEraseResult::kNotFound:
      return absl::NotFoundError(absl::StrFormat("service \"%s\" has no such session", service));
    case dataplane::SessionEraseResult::kBusy: break;
  }
  return absl::UnavailableError("the session's shard stayed busy; try again");
}

void Daemon::pollArpLocked(uint64_t now_ms) {
  void* frames[64];
  bool changed = false;
  const unsigned n = rte_ring_dequeue_burst(to_control_, frames, 64, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    auto* m = static_cast<rte_mbuf*>(frames[i]);
    if (auto sender = arpSender(m)) changed |= neighbors_.learn(sender->address, sender->mac, now_ms);
    rte_pktmbuf_free(m);
  }
  if (changed) {
    if (auto st = rebuildAndPublishLocked(); !st.ok()) {
      std::fprintf(stderr, "tetherd: neighbour update not applied: %s\n", std::string(st.message()).c_str());
    }
  }
  for (const NeighborTable::Wanted& w : neighbors_.due(now_ms)) {
    const PortConfig& port = config_.ports[w.port];
    rte_mbuf* m = makeArpRequest(pool_, port_macs_[w.port], port.address.address, w.address, port.vlan);
    if (m == nullptr) continue;
    m->port = w.port;
    // Worker 0 transmits on the control plane's behalf: ports have one tx queue per worker only.
    if (rte_ring_enqueue(worker_configs_[0].inject, m) != 0) rte_pktmbuf_free(m);
  }
}

void Daemon::writeStats() {
  if (options_.stats_file.empty()) return;
  const nlohmann::json doc = stats();
  writeFileAtomically(options_.stats_file, doc.dump());
}

int Daemon::run() {
  start_tsc_ = rte_get_tsc_cycles();
  for (size_t w = 0; w < worker_lcores_.size(); ++w) {
    rte_eal_remote_launch(dataplane::runWorker, &worker_configs_[w], worker_lcores_[w]);
  }
  if (options_.api_enabled) {
    rest_api_ = std::make_unique<RestApi>(*this, options_.api);
    if (auto st = rest_api_->start(); !st.ok()) {
      std::fprintf(stderr, "tetherd: REST API not started: %s\n", std::string(st.message()).c_str());
      rest_api_.reset();
    } else {
      std::fprintf(stderr, "tetherd: REST API on http://%s:%u/api/v1\n", options_.api.address.c_str(),
                   rest_api_->port());
    }
  }
  std::fprintf(stderr, "tetherd: running with %zu worker(s), %zu service(s)\n", worker_lcores_.size(),
               config_.services.size());
  const uint64_t start_ms = nowMs();
  uint64_t last_stats_ms = 0;
  while (!g_stop.load()) {
    const uint64_t now = nowMs();
    if (g_reload.exchange(false)) {
      if (auto st = reloadFromFile(); !st.ok()) {
        std::fprintf(stderr, "tetherd: reload rejected, keeping the running config: %s\n",
                     std::string(st.message()).c_str());
      }
    }
    {
      std::lock_guard lock(mutex_);
      pollArpLocked(now);
      pollHealthLocked(now);
      expireSessionsLocked();
    }
    if (now - last_stats_ms >= options_.stats_interval_ms) {
      writeStats();
      last_stats_ms = now;
    }
    if (options_.duration_s != 0 && now - start_ms >= uint64_t{options_.duration_s} * 1000) break;
    std::this_thread::sleep_for(kControlTick);
  }
  if (rest_api_ != nullptr) rest_api_->stop();
  stop_workers_.store(true);
  rte_eal_mp_wait_lcore();
  writeStats();
  return 0;
}

}  // namespace lb::controlplane
