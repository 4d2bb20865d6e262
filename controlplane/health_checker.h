// Active health checks of backends (TCP connect, HTTP GET) driven by io_uring from the control thread.
//
// The control loop calls poll(now_ms) every few milliseconds. poll() never waits: it reaps whatever
// completions are ready (io_uring_peek_batch_cqe), advances each check by one step (connect -> send ->
// recv), starts the checks that are due, and submits everything with one io_uring_enter. Every
// network step is an io_uring operation linked to an IORING_OP_LINK_TIMEOUT carrying the time left
// until the check's deadline, so a backend that never answers costs a pending request, not a blocked
// thread. Hundreds of backends are checked from one thread with a bounded number of checks in flight.
//
// State machine per backend (the rise/fall hysteresis of HAProxy and IPVS's keepalived):
//   unknown --rise consecutive passes--> up      unknown --fall consecutive failures--> down
//   down    --rise consecutive passes--> up      up      --fall consecutive failures--> down
// Every change of state (including the first verdict out of unknown) counts as a transition and is
// reported through the transition callback, so the daemon can rebuild its snapshot.
//
// What "unknown" means for traffic: usable. A backend takes new flows unless its state is kDown (see
// healthAllowsNewFlows), so traffic flows from the first second after start or reload, before the first
// verdict, and a backend whose checks cannot run (local resource shortage) is not taken out of service
// by our own trouble. A service with HealthCheckType::kNone is never checked; its backends stay
// unknown, i.e. usable.
//
// Checks close their socket with SO_LINGER {on, 0}: the close sends an RST and leaves no TIME_WAIT on
// the balancer. With thousands of checks per second, TIME_WAIT would otherwise exhaust the ephemeral
// port range within a minute (HAProxy's checks do the same). Backends may log the resets.
//
// Thread-safety: none. Create, use and destroy a HealthChecker on one thread (the control thread).
#pragma once

#include <liburing.h>
#include <netinet/in.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "controlplane/config.h"
#include "controlplane/control_ops.h"

namespace lb::controlplane {

// The one rule the snapshot builder applies: kUnknown and kUp take new flows, kDown does not.
inline constexpr bool healthAllowsNewFlows(HealthState state) { return state != HealthState::kDown; }


// One backend to check. (service, address, port) identifies it across setTargets() calls; the check
// connects to check.port when non-zero, else to port.
struct HealthTarget {
  std::string service;
  uint32_t address = 0;  // host order
  uint16_t port = 0;
  HealthCheckConfig check;
};

inline constexpr uint32_t kDefaultHealthRingEntries = 1024;
inline constexpr uint32_t kDefaultMaxChecksInFlight = 512;
inline constexpr uint32_t kDefaultMaxStartsPerPoll = 64;

struct HealthCheckerOptions {
  // Submission queue size; the completion queue is twice this. Each check in flight holds at most two
  // requests (one operation and its linked timeout), so create() requires 2 * max_in_flight <=
  // ring_entries: a poll can then never find the queue full.
  uint32_t ring_entries = kDefaultHealthRingEntries;
  // Checks in flight at once. Due checks beyond this wait for a free slot (see saturated_polls).
  uint32_t max_in_flight = kDefaultMaxChecksInFlight;
  // Checks started by one poll() at most: bounds the time one poll spends in socket() and
  // io_uring_enter (a loopback connect runs the whole handshake inline, ~15 us). The rest start on the
  // next poll. With tetherd's 5 ms tick the default allows 12,800 check starts per second.
  uint32_t max_starts_per_poll = kDefaultMaxStartsPerPoll;
  // SO_BINDTODEVICE for every check socket (empty = none): route checks through one interface, e.g.
  // the DPDK exception-path tap. A device that does not exist makes each check fail with that error.
  std::string bind_device;
  // Source address for every check (host order, 0 = chosen by the kernel's routing).
  uint32_t source_address = 0;
  // Mixed into each backend's phase within its interval, so two balancers with different seeds do not
  // check the same backend in lock-step. 0 is a fine value; checks are spread either way.
  uint64_t jitter_seed = 0;
};

// Status of one backend, with the check counts behind it (for tests, the REST API and metrics).
struct HealthTargetStatus {
  BackendHealth health;
  uint64_t checks_passed = 0;
  uint64_t checks_failed = 0;
  uint32_t consecutive_passes = 0;
  uint32_t consecutive_failures = 0;
};

struct HealthCheckerStats {
  uint64_t checks_started = 0;
  uint64_t checks_passed = 0;
  uint64_t checks_failed = 0;
  // poll() calls that left due checks waiting because max_in_flight checks were running or
  // max_starts_per_poll were started, and the largest delay between a check's due time and its start:
  // together they say whether the checker keeps up with its targets.
  uint64_t saturated_polls = 0;
  uint64_t max_start_delay_ms = 0;
  // Checks that could not start for a local reason (no file descriptors, no memory, ring full). They
  // are retried on the next poll and never count against the backend.
  uint64_t local_errors = 0;
  uint32_t in_flight = 0;
};

class HealthChecker {
 public:
  using TransitionCallback = std::function<void(const BackendHealth&)>;

  // Sets up the ring. Fails (with the errno text) if io_uring is unavailable, e.g. disabled by
  // kernel.io_uring_disabled or a seccomp policy, or if the options are inconsistent.
  static absl::StatusOr<std::unique_ptr<HealthChecker>> create(HealthCheckerOptions options = {});
  // Cancels the checks in flight and waits (at most about a second) for the kernel to release their
  // buffers before the memory is freed.
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Replaces the target list. A target whose (service, address, port) was already present keeps its
  // state, transition count and last error; if its check definition changed (type, port, path,
  // expected status), its consecutive counts restart and a check in flight under the old definition
  // is disregarded. Removed targets are forgotten (a check in flight for them is disregarded).
  // Duplicated keys: the first wins. health() lists targets in the order given here.
  void setTargets(std::vector<HealthTarget> targets);

  // Called on every change of a backend's state, from inside poll(). It may call health() or
  // status(), but not setTargets() or poll().
  void setTransitionCallback(TransitionCallback callback) { on_transition_ = std::move(callback); }

  // Reaps finished steps, starts due checks, submits. Never waits. now_ms is any monotonic clock in
  // milliseconds, the same one on every call; timeouts given to the kernel are relative to it.
  void poll(uint64_t now_ms);

  std::vector<BackendHealth> health() const;
  std::vector<HealthTargetStatus> status() const;
  HealthCheckerStats stats() const;

 private:
  struct Target;
  struct Check;
  enum class Step : uint8_t;

  explicit HealthChecker(HealthCheckerOptions options);

  void reap(uint64_t now_ms);
  void onCompletion(Check& check, int32_t res, uint64_t now_ms);
  void startDueChecks(uint64_t now_ms);
  // false: a local resource shortage; the target stays due and is retried on the next poll.
  bool startCheck(uint32_t target_index, uint64_t now_ms);
  // Queues `step` for `check` with a linked timeout for the time left until its deadline.
  bool queueStep(Check& check, uint64_t now_ms);
  void finishCheck(Check& check, bool passed, std::string error);
  // Ends a check that failed for a local reason (see HealthCheckerStats::local_errors): no verdict.
  void abandonCheck(Check& check, std::string error);
  void releaseCheck(Check& check);
  void recordVerdict(Target& target, bool passed, std::string error);
  io_uring_sqe* getSqe();
  void submit();

  HealthCheckerOptions options_;
  io_uring ring_{};
  bool ring_ready_ = false;
  uint32_t sqes_queued_ = 0;

  std::vector<Target> targets_;
  std::vector<Check> checks_;       // max_in_flight slots, allocated once
  std::vector<uint32_t> free_checks_;
  uint32_t scan_cursor_ = 0;        // round-robin start, so a full in-flight cap starves no target
  uint64_t earliest_due_ms_ = 0;    // no target is due before this; lets poll() skip the scan

  HealthCheckerStats stats_;
  TransitionCallback on_transition_;
};

}  // namespace lb::controlplane
