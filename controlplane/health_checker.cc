#include "controlplane/health_checker.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "controlplane/address.h"

namespace lb::controlplane {

namespace {

// The status line is all an HTTP check reads; "HTTP/1.1 503 Service Unavailable\r\n" is 34 bytes.
constexpr size_t kResponseBytes = 128;
// How long a target waits after a check could not start for a local reason (no fds, no memory).
constexpr uint64_t kLocalErrorRetryMs = 100;
// How long the destructor waits for cancelled checks to return their buffers.
constexpr int kDrainAttempts = 100;
constexpr long long kDrainWaitNs = 10'000'000;

// user_data layout: generation (32 bits) | check slot (24 bits) | tag (8 bits). The generation makes
// a late completion of a finished check (a slot since reused) harmless.
enum Tag : uint8_t { kTagStep = 1, kTagTimeout = 2, kTagCancel = 3 };
constexpr uint32_t kMaxSlots = 1u << 24;

uint64_t userData(uint32_t generation, uint32_t slot, Tag tag) {
  return (uint64_t{generation} << 32) | (uint64_t{slot} << 8) | tag;
}

std::string errnoText(int err) { return std::strerror(err); }

// Errors that say this machine is short of something, not that the backend is bad. EADDRNOTAVAIL
// from connect means no free ephemeral port (a bad source address fails earlier, in bind).
bool isLocalShortage(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM || err == EADDRNOTAVAIL;
}

uint64_t mix64(uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Stable across runs and builds (std::hash is not promised to be), so a backend keeps its phase.
uint64_t targetHash(const HealthTarget& t, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (unsigned char c : t.service) h = (h ^ c) * 0x100000001b3ULL;
  h = mix64(h ^ (uint64_t{t.address} << 16) ^ t.port);
  return h;
}

bool sameCheckDefinition(const HealthCheckConfig& a, const HealthCheckConfig& b) {
  return a.type == b.type && a.port == b.port && a.http_path == b.http_path &&
         a.http_expect_status == b.http_expect_status;
}

uint16_t checkPort(const HealthTarget& t) { return t.check.port != 0 ? t.check.port : t.port; }

std::string httpRequest(const HealthTarget& t) {
  // RFC 9110 section 7.2: Host carries the port unless it is the scheme's default.
  const uint16_t port = checkPort(t);
  std::string host = formatIpv4(t.address);
  if (port != 80) absl::StrAppend(&host, ":", port);
  return absl::StrCat("GET ", t.check.http_path, " HTTP/1.1\r\nHost: ", host,
                      "\r\nUser-Agent: tether-health-check\r\nConnection: close\r\n\r\n");
}

// Parses "HTTP/1.1 200 OK". Returns the status or an error text.
absl::StatusOr<uint16_t> parseStatusLine(std::string_view response) {
  std::string_view line = response.substr(0, response.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const size_t space = line.find(' ');
  const bool version_ok = line.starts_with("HTTP/") && space != std::string_view::npos;
  if (version_ok && line.size() >= space + 4) {
    const std::string_view code = line.substr(space + 1, 3);
    const bool digits = std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; });
    const bool ends = line.size() == space + 4 || line[space + 4] == ' ';
    if (digits && ends) {
      return static_cast<uint16_t>((code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0'));
    }
  }
  std::string shown;
  for (char c : line.substr(0, 40)) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
  return absl::InvalidArgumentError(absl::StrCat("HTTP: malformed status line \"", shown, "\""));
}

}  // namespace


enum class HealthChecker::Step : uint8_t { kIdle, kConnect, kConnectPoll, kSend, kRecv };

struct HealthChecker::Target {
  HealthTarget spec;
  sockaddr_in destination{};
  std::string request;   // HTTP checks only
  uint64_t phase_ms = 0;  // this target's offset within its interval (jitter)
  uint64_t next_due_ms = 0;
  bool scheduled = false;
  bool in_flight = false;
  HealthTargetStatus status;
};

// One check in flight. Slots are allocated once; buffers handed to the kernel live here, so a slot is
// reused only after its operation has completed.
struct HealthChecker::Check {
  uint32_t generation = 0;
  int32_t target = -1;  // index into targets_; -1 once the target was removed or redefined
  int fd = -1;
  Step step = Step::kIdle;
  HealthCheckType type = HealthCheckType::kTcp;
  uint16_t expect_status = 200;
  uint32_t timeout_ms = 0;
  uint64_t deadline_ms = 0;
  sockaddr_in destination{};
  __kernel_timespec timeout{};
  std::string request;
  size_t sent = 0;
  size_t received = 0;
  char response[kResponseBytes];
};

absl::StatusOr<std::unique_ptr<HealthChecker>> HealthChecker::create(HealthCheckerOptions options) {
  if (options.max_in_flight == 0 || options.max_in_flight >= kMaxSlots) {
    return absl::InvalidArgumentError(
        absl::StrCat("health checks: max_in_flight ", options.max_in_flight, " is out of range 1..",
                     kMaxSlots - 1));
  }
  if (options.max_starts_per_poll == 0) {
    return absl::InvalidArgumentError("health checks: max_starts_per_poll must be at least 1");
  }
  if (options.ring_entries < 2 * options.max_in_flight) {
    return absl::InvalidArgumentError(absl::StrCat(
        "health checks: ring_entries ", options.ring_entries, " must be at least 2 * max_in_flight (",
        2 * options.max_in_flight, ")"));
  }
  if (options.bind_device.size() >= IFNAMSIZ) {
    return absl::InvalidArgumentError(absl::StrCat("health checks: interface name \"",
                                                   options.bind_device, "\" is longer than ",
                                                   IFNAMSIZ - 1, " characters"));
  }
  std::unique_ptr<HealthChecker> checker(new HealthChecker(std::move(options)));
  // COOP_TASKRUN: completions are run when the control thread next enters the kernel (it does every
  // tick) instead of interrupting it; TASKRUN_FLAG lets liburing's peek notice pending work. Both need
  // Linux 5.19, so fall back to a plain ring.
  io_uring_params params{};
  params.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int ret = io_uring_queue_init_params(checker->options_.ring_entries, &checker->ring_, &params);
  if (ret == -EINVAL) {
    params = {};
    ret = io_uring_queue_init_params(checker->options_.ring_entries, &checker->ring_, &params);
  }
  if (ret < 0) {
    return absl::UnavailableError(absl::StrCat("health checks: io_uring_queue_init: ", errnoText(-ret)));
  }
  checker->ring_ready_ = true;
  return checker;
}

HealthChecker::HealthChecker(HealthCheckerOptions options) : options_(std::move(options)) {
  checks_.resize(options_.max_in_flight);
  free_checks_.reserve(options_.max_in_flight);
  for (uint32_t i = options_.max_in_flight; i-- > 0;) free_checks_.push_back(i);
}

HealthChecker::~HealthChecker() {
  if (!ring_ready_) return;
  if (stats_.in_flight > 0) {
    if (io_uring_sqe* sqe = getSqe()) {
      io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
      io_uring_sqe_set_data64(sqe, userData(0, 0, kTagCancel));
    }
    submit();
    for (int i = 0; i < kDrainAttempts && stats_.in_flight > 0; ++i) {
      io_uring_cqe* cqe = nullptr;
      __kernel_timespec wait{0, kDrainWaitNs};
      if (io_uring_wait_cqe_timeout(&ring_, &cqe, &wait) != 0) continue;
      unsigned head;
      unsigned seen = 0;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        const uint64_t ud = cqe->user_data;
        const uint32_t slot = static_cast<uint32_t>(ud >> 8) & (kMaxSlots - 1);
        if ((ud & 0xff) == kTagStep && slot < checks_.size() &&
            checks_[slot].generation == static_cast<uint32_t>(ud >> 32) &&
            checks_[slot].step != Step::kIdle) {
          releaseCheck(checks_[slot]);
        }
        ++seen;
      }
      io_uring_cq_advance(&ring_, seen);
    }
  }
  for (Check& c : checks_) {  // a request still pending holds its own reference to the file
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
  }
  if (stats_.in_flight > 0) {
    // The kernel still holds pointers into these slots (a kernel without IORING_ASYNC_CANCEL_ANY, or a
    // request that ignored the cancel). Leak them rather than let a late recv write into freed memory.
    new std::vector<Check>(std::move(checks_));
  }
  io_uring_queue_exit(&ring_);
}

void HealthChecker::setTargets(std::vector<HealthTarget> targets) {
  using Key = std::tuple<std::string_view, uint32_t, uint16_t>;
  std::map<Key, uint32_t> old_index;
  for (uint32_t i = 0; i < targets_.size(); ++i) {
    const HealthTarget& s = targets_[i].spec;
    old_index.emplace(Key{s.service, s.address, s.port}, i);
  }
  std::vector<int32_t> remap(targets_.size(), -1);
  std::set<std::tuple<std::string, uint32_t, uint16_t>> seen;  // owns its strings: specs get moved

  std::vector<Target> next;
  next.reserve(targets.size());
  for (HealthTarget& spec : targets) {
    if (!seen.emplace(spec.service, spec.address, spec.port).second) continue;
    Target t;
    t.destination.sin_family = AF_INET;
    t.destination.sin_addr.s_addr = htonl(spec.address);
    t.destination.sin_port = htons(checkPort(spec));
    if (spec.check.type == HealthCheckType::kHttp) t.request = httpRequest(spec);
    t.phase_ms = spec.check.interval_ms == 0 ? 0 : targetHash(spec, options_.jitter_seed) % spec.check.interval_ms;
    t.status.health.service = spec.service;
    t.status.health.address = spec.address;
    t.status.health.port = spec.port;

    auto it = old_index.find(Key{spec.service, spec.address, spec.port});
    if (it != old_index.end()) {
      Target& old = targets_[it->second];
      t.status = old.status;
      if (spec.check.type == HealthCheckType::kNone) {
        // Not checked any more: back to unknown, i.e. usable (no transition is counted; the new
        // config itself makes the daemon rebuild).
        t.status.health.state = HealthState::kUnknown;
        t.status.health.last_error.clear();
        t.status.consecutive_passes = t.status.consecutive_failures = 0;
      } else if (sameCheckDefinition(old.spec.check, spec.check)) {
        t.in_flight = old.in_flight;
        remap[it->second] = static_cast<int32_t>(next.size());
        if (old.spec.check.interval_ms == spec.check.interval_ms) {
          t.scheduled = old.scheduled;
          t.next_due_ms = old.next_due_ms;
        }
      } else {
        t.status.consecutive_passes = t.status.consecutive_failures = 0;
      }
    }
    t.spec = std::move(spec);
    next.push_back(std::move(t));
  }

  for (Check& c : checks_) {
    if (c.step != Step::kIdle && c.target >= 0) c.target = remap[c.target];
  }
  targets_ = std::move(next);
  scan_cursor_ = 0;
  earliest_due_ms_ = 0;  // rescan on the next poll
}

void HealthChecker::poll(uint64_t now_ms) {
  reap(now_ms);
  if (now_ms >= earliest_due_ms_) startDueChecks(now_ms);
  submit();
}

void HealthChecker::reap(uint64_t now_ms) {
  // Copy the completions out first: handling one may queue new requests (and so enter the kernel).
  constexpr unsigned kBatch = 64;
  io_uring_cqe* cqes[kBatch];
  std::pair<uint64_t, int32_t> done[kBatch];
  for (;;) {
    const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kBatch);
    if (n == 0) return;
    for (unsigned i = 0; i < n; ++i) done[i] = {cqes[i]->user_data, cqes[i]->res};
    io_uring_cq_advance(&ring_, n);
    for (unsigned i = 0; i < n; ++i) {
      const uint64_t ud = done[i].first;
      if ((ud & 0xff) != kTagStep) continue;  // linked timeouts and cancels: the step reports
      const uint32_t slot = static_cast<uint32_t>(ud >> 8) & (kMaxSlots - 1);
      if (slot >= checks_.size()) continue;
      Check& check = checks_[slot];
      if (check.generation != static_cast<uint32_t>(ud >> 32) || check.step == Step::kIdle) continue;
      onCompletion(check, done[i].second, now_ms);
    }
  }
}

void HealthChecker::onCompletion(Check& check, int32_t res, uint64_t now_ms) {
  if (check.target < 0) {  // target removed or redefined while this was in flight
    releaseCheck(check);
    return;
  }
  auto timedOut = [&](const char* what) {
    return absl::StrCat("timeout after ", check.timeout_ms, " ms (", what, ")");
  };
  switch (check.step) {
    case Step::kConnect:
    case Step::kConnectPoll: {
      if (res == -EINPROGRESS || res == -EALREADY) {
        // Older kernels hand a non-blocking connect back unfinished; wait for writability instead.
        check.step = Step::kConnectPoll;
        if (!queueStep(check, now_ms)) finishCheck(check, false, timedOut("connect"));
        return;
      }
      if (res == -ECANCELED) return finishCheck(check, false, timedOut("connect"));
      if (res < 0 && isLocalShortage(-res)) return abandonCheck(check, "connect: " + errnoText(-res));
      if (res < 0) return finishCheck(check, false, "connect: " + errnoText(-res));
      if (check.step == Step::kConnectPoll) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(check.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err != 0) return finishCheck(check, false, "connect: " + errnoText(err));
      }
      if (check.type == HealthCheckType::kTcp) return finishCheck(check, true, {});
      check.step = Step::kSend;
      check.sent = 0;
      if (!queueStep(check, now_ms)) finishCheck(check, false, timedOut("send"));
      return;
    }
    case Step::kSend:
      if (res == -ECANCELED) return finishCheck(check, false, timedOut("send"));
      if (res < 0) return finishCheck(check, false, "send: " + errnoText(-res));
      check.sent += static_cast<size_t>(res);
      if (check.sent >= check.request.size()) {
        check.step = Step::kRecv;
        check.received = 0;
      }
      if (!queueStep(check, now_ms)) {
        finishCheck(check, false, timedOut(check.step == Step::kSend ? "send" : "response"));
      }
      return;
    case Step::kRecv: {
      if (res == -ECANCELED) return finishCheck(check, false, timedOut("response"));
      if (res < 0) return finishCheck(check, false, "recv: " + errnoText(-res));
      check.received += static_cast<size_t>(res);
      const std::string_view got(check.response, check.received);
      const bool complete = res == 0 || got.find('\n') != std::string_view::npos || check.received == kResponseBytes;
      if (!complete) {
        if (!queueStep(check, now_ms)) finishCheck(check, false, timedOut("response"));
        return;
      }
      if (check.received == 0) return finishCheck(check, false, "HTTP: connection closed before status line");
      absl::StatusOr<uint16_t> status = parseStatusLine(got);
      if (!status.ok()) return finishCheck(check, false, std::string(status.status().message()));
      if (*status != check.expect_status) {
        return finishCheck(check, false,
                           absl::StrCat("HTTP status ", *status, ", expected ", check.expect_status));
      }
      return finishCheck(check, true, {});
    }
    case Step::kIdle:
      return;
  }
}

void HealthChecker::startDueChecks(uint64_t now_ms) {
  uint64_t earliest = std::numeric_limits<uint64_t>::max();
  uint32_t started = 0;
  const uint32_t n = static_cast<uint32_t>(targets_.size());
  for (uint32_t k = 0; k < n; ++k) {
    const uint32_t i = (scan_cursor_ + k) % n;
    Target& t = targets_[i];
    const HealthCheckConfig& cfg = t.spec.check;
    if (cfg.type == HealthCheckType::kNone || t.in_flight) continue;  // a finishing check lowers earliest
    const uint64_t interval = std::max<uint64_t>(cfg.interval_ms, 1);
    if (!t.scheduled) {  // first due time: the next instant at this target's phase
      t.next_due_ms = now_ms + (t.phase_ms + interval - now_ms % interval) % interval;
      t.scheduled = true;
    }
    if (t.next_due_ms > now_ms) {
      earliest = std::min(earliest, t.next_due_ms);
      continue;
    }
    if (free_checks_.empty() || started == options_.max_starts_per_poll) {
      // Every slot is busy, or this poll has done its share: resume from this target next time, so
      // none is starved.
      stats_.saturated_polls++;
      scan_cursor_ = i;
      earliest_due_ms_ = 0;
      return;
    }
    stats_.max_start_delay_ms = std::max(stats_.max_start_delay_ms, now_ms - t.next_due_ms);
    ++started;
    if (!startCheck(i, now_ms)) {
      t.next_due_ms = now_ms + kLocalErrorRetryMs;
      earliest = std::min(earliest, t.next_due_ms);
      continue;
    }
    // Keep the phase: the next check is due one interval after this one was, skipping missed ones.
    t.next_due_ms += interval * ((now_ms - t.next_due_ms) / interval + 1);
    // A check that ended at once (socket option refused) leaves the target idle: it must be rescanned.
    if (!t.in_flight) earliest = std::min(earliest, t.next_due_ms);
  }
  earliest_due_ms_ = earliest;
}

bool HealthChecker::startCheck(uint32_t target_index, uint64_t now_ms) {
  Target& t = targets_[target_index];
  HealthTargetStatus& s = t.status;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const int err = errno;
    stats_.local_errors++;
    // Every socket() failure is local (descriptor or memory limits, a sandbox): retry, blame no one.
    s.health.last_error = "not checked: socket: " + errnoText(err);
    return false;
  }
  auto fail = [&](std::string error) {
    close(fd);
    stats_.checks_started++;
    stats_.checks_failed++;
    recordVerdict(t, false, std::move(error));
    return true;
  };
  const linger abort_on_close{1, 0};  // RST on close: no TIME_WAIT (see the header)
  if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close)) != 0) {
    return fail("SO_LINGER: " + errnoText(errno));
  }
  if (!options_.bind_device.empty() &&
      setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, options_.bind_device.data(),
                 static_cast<socklen_t>(options_.bind_device.size())) != 0) {
    return fail(absl::StrCat("SO_BINDTODEVICE ", options_.bind_device, ": ", errnoText(errno)));
  }
  if (options_.source_address != 0) {
    // Without IP_BIND_ADDRESS_NO_PORT, bind() would pick a port before knowing the destination and
    // could run out of ports long before the 4-tuple space is used up.
    const int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    sockaddr_in source{};
    source.sin_family = AF_INET;
    source.sin_addr.s_addr = htonl(options_.source_address);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&source), sizeof(source)) != 0) {
      return fail(absl::StrCat("bind ", formatIpv4(options_.source_address), ": ", errnoText(errno)));
    }
  }

  const uint32_t slot = free_checks_.back();
  free_checks_.pop_back();
  Check& c = checks_[slot];
  c.target = static_cast<int32_t>(target_index);
  c.fd = fd;
  c.step = Step::kConnect;
  c.type = t.spec.check.type;
  c.expect_status = t.spec.check.http_expect_status;
  c.timeout_ms = t.spec.check.timeout_ms;
  c.deadline_ms = now_ms + t.spec.check.timeout_ms;
  c.destination = t.destination;
  c.request.assign(t.request);  // copied: the target may be replaced while the send is in flight
  c.sent = c.received = 0;
  t.in_flight = true;
  stats_.in_flight++;
  stats_.checks_started++;
  if (!queueStep(c, now_ms)) finishCheck(c, false, absl::StrCat("timeout after ", c.timeout_ms, " ms (connect)"));
  return true;
}

bool HealthChecker::queueStep(Check& check, uint64_t now_ms) {
  if (now_ms >= check.deadline_ms) return false;
  const uint64_t left_ms = check.deadline_ms - now_ms;
  io_uring_sqe* op = getSqe();
  io_uring_sqe* timeout = op != nullptr ? getSqe() : nullptr;
  if (timeout == nullptr) {
    // Cannot happen with 2 * max_in_flight <= ring_entries (create() checks); if it did, an unlinked
    // op would have no timeout, so fail the step instead. A lone prepared op becomes a no-op.
    if (op != nullptr) {
      io_uring_prep_nop(op);
      io_uring_sqe_set_data64(op, userData(0, 0, kTagCancel));
    }
    return false;
  }
  const uint32_t slot = static_cast<uint32_t>(&check - checks_.data());
  switch (check.step) {
    case Step::kConnect:
      io_uring_prep_connect(op, check.fd, reinterpret_cast<const sockaddr*>(&check.destination),
                            sizeof(check.destination));
      break;
    case Step::kConnectPoll:
      io_uring_prep_poll_add(op, check.fd, POLLOUT);
      break;
    case Step::kSend:
      io_uring_prep_send(op, check.fd, check.request.data() + check.sent, check.request.size() - check.sent,
                         MSG_NOSIGNAL);
      break;
    case Step::kRecv:
      io_uring_prep_recv(op, check.fd, check.response + check.received, kResponseBytes - check.received, 0);
      break;
    case Step::kIdle:
      break;
  }
  op->flags |= IOSQE_IO_LINK;
  io_uring_sqe_set_data64(op, userData(check.generation, slot, kTagStep));
  check.timeout.tv_sec = static_cast<long long>(left_ms / 1000);
  check.timeout.tv_nsec = static_cast<long long>(left_ms % 1000) * 1'000'000;
  io_uring_prep_link_timeout(timeout, &check.timeout, 0);
  io_uring_sqe_set_data64(timeout, userData(check.generation, slot, kTagTimeout));
  return true;
}

void HealthChecker::finishCheck(Check& check, bool passed, std::string error) {
  Target& t = targets_[check.target];
  t.in_flight = false;
  earliest_due_ms_ = std::min(earliest_due_ms_, t.next_due_ms);
  if (passed) {
    stats_.checks_passed++;
  } else {
    stats_.checks_failed++;
  }
  releaseCheck(check);
  recordVerdict(t, passed, std::move(error));
}

void HealthChecker::abandonCheck(Check& check, std::string error) {
  Target& t = targets_[check.target];
  t.in_flight = false;
  earliest_due_ms_ = std::min(earliest_due_ms_, t.next_due_ms);
  stats_.local_errors++;
  stats_.checks_started--;  // it never really ran; retried at the target's next due time
  t.status.health.last_error = "not checked: " + std::move(error);
  releaseCheck(check);
}

void HealthChecker::releaseCheck(Check& check) {
  if (check.fd >= 0) close(check.fd);
  check.fd = -1;
  check.step = Step::kIdle;
  check.target = -1;
  check.generation++;
  free_checks_.push_back(static_cast<uint32_t>(&check - checks_.data()));
  stats_.in_flight--;
}

void HealthChecker::recordVerdict(Target& target, bool passed, std::string error) {
  HealthTargetStatus& s = target.status;
  const HealthState before = s.health.state;
  if (passed) {
    s.checks_passed++;
    s.consecutive_passes++;
    s.consecutive_failures = 0;
    s.health.last_error.clear();
    if (before != HealthState::kUp && s.consecutive_passes >= target.spec.check.rise) {
      s.health.state = HealthState::kUp;
    }
  } else {
    s.checks_failed++;
    s.consecutive_failures++;
    s.consecutive_passes = 0;
    s.health.last_error = std::move(error);
    if (before != HealthState::kDown && s.consecutive_failures >= target.spec.check.fall) {
      s.health.state = HealthState::kDown;
    }
  }
  if (s.health.state != before) {
    s.health.transitions++;
    if (on_transition_) on_transition_(s.health);
  }
}

io_uring_sqe* HealthChecker::getSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    io_uring_submit(&ring_);
    sqes_queued_ = 0;
    sqe = io_uring_get_sqe(&ring_);
  }
  if (sqe != nullptr) sqes_queued_++;
  return sqe;
}

void HealthChecker::submit() {
  if (sqes_queued_ == 0) return;
  // On -EAGAIN/-EBUSY the requests stay in the queue and go with the next poll's submit.
  if (io_uring_submit(&ring_) >= 0) sqes_queued_ = 0;
}

std::vector<BackendHealth> HealthChecker::health() const {
  std::vector<BackendHealth> out;
  out.reserve(targets_.size());
  for (const Target& t : targets_) out.push_back(t.status.health);
  return out;
}

std::vector<HealthTargetStatus> HealthChecker::status() const {
  std::vector<HealthTargetStatus> out;
  out.reserve(targets_.size());
  for (const Target& t : targets_) out.push_back(t.status);
  return out;
}

HealthCheckerStats HealthChecker::stats() const { return stats_; }

}  // namespace lb::controlplane
