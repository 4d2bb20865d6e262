// Health-check capacity: how many TCP and HTTP checks per second one control thread sustains with
// HealthChecker, and what each costs that thread in CPU time.
//
// Starts N listening sockets on 127.0.0.1 (one per backend) served by one epoll thread (TCP: accept
// and close; HTTP: read the request, answer "200 OK", close), then runs the checker over them like
// tetherd's control loop: poll(now), sleep one tick, repeat. For each (check type, interval) it
// reports checks completed per second against the demand (backends / interval), the share that
// passed, the control thread's CPU time per check (user + system, getrusage(RUSAGE_THREAD): it
// includes the kernel's TCP work done in io_uring_enter on this thread), how long poll() took
// (p50/p99/max: it must stay far below the tick), and whether checks started late (the in-flight
// cap was hit, or the thread could not keep up).
//
// Loopback context: client and server share the machine (2 cores on CI), so the server's accept/
// respond work competes with the checker; against remote backends the checker has the CPU to itself.
//
// Usage: health_check_bench [--backends N] [--seconds S] [--intervals 1000,100,20] [--types tcp,http]
//                           [--tick-us 5000] [--max-in-flight 512] [--max-starts-per-poll 64]
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench/bench_context.h"
#include "controlplane/health_checker.h"

#ifndef TETHER_LIBURING_VERSION  // set by bench/controlplane/meson.build
#define TETHER_LIBURING_VERSION "unknown"
#endif

namespace {

using lb::controlplane::HealthCheckConfig;
using lb::controlplane::HealthChecker;
using lb::controlplane::HealthCheckerOptions;
using lb::controlplane::HealthCheckType;
using lb::controlplane::HealthTarget;

constexpr uint32_t kLoopback = 0x7f000001;

uint64_t nowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

double threadCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// N listeners on 127.0.0.1 and one epoll thread serving them.
class BackendFarm {
 public:
  explicit BackendFarm(uint32_t count) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    for (uint32_t i = 0; i < count; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(kLoopback);
      if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 1024) != 0) {
        std::fprintf(stderr, "listener %u: %s\n", i, std::strerror(errno));
        std::exit(1);
      }
      socklen_t len = sizeof(a);
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
      ports_.push_back(ntohs(a.sin_port));
      listeners_.push_back(fd);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = kListenerTag | static_cast<uint64_t>(fd);
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    }
    thread_ = std::thread([this] { run(); });
  }
  ~BackendFarm() {
    stop_.store(true);
    thread_.join();
    for (int fd : listeners_) close(fd);
    for (auto& [fd, request] : clients_) close(fd);
    close(epoll_fd_);
  }
  const std::vector<uint16_t>& ports() const { return ports_; }
  void setHttp(bool http) { http_.store(http); }
  double cpuSeconds() const { return cpu_s_.load(); }

 private:
  static constexpr uint64_t kListenerTag = uint64_t{1} << 32;

  void run() {
    static constexpr char kReply[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    epoll_event events[256];
    while (!stop_.load(std::memory_order_relaxed)) {
      const int n = epoll_wait(epoll_fd_, events, 256, 50);
      for (int i = 0; i < n; ++i) {
        const int fd = static_cast<int>(events[i].data.u64 & 0xffffffff);
        if (events[i].data.u64 & kListenerTag) {
          for (;;) {
            const int c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c < 0) break;
            if (!http_.load(std::memory_order_relaxed)) {
              close(c);
              continue;
            }
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = static_cast<uint64_t>(c);
            epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c, &ev);
            clients_[c];
          }
          continue;
        }
        char buf[1024];
        const ssize_t got = read(fd, buf, sizeof(buf));
        std::string& request = clients_[fd];
        if (got > 0) request.append(buf, static_cast<size_t>(got));
        if (got > 0 && request.find("\r\n\r\n") == std::string::npos) continue;
        if (got > 0) (void)!write(fd, kReply, sizeof(kReply) - 1);
        close(fd);  // also drops it from the epoll set
        clients_.erase(fd);
      }
    }
    cpu_s_.store(threadCpuSeconds());
  }

  int epoll_fd_ = -1;
  std::vector<int> listeners_;
  std::vector<uint16_t> ports_;
  std::unordered_map<int, std::string> clients_;  // server thread only
  std::atomic<bool> http_{false};
  std::atomic<bool> stop_{false};
  std::atomic<double> cpu_s_{0};
  std::thread thread_;
};

struct Options {
  uint32_t backends = 1000;
  double seconds = 3;
  std::vector<uint32_t> intervals_ms = {1000, 100, 20};
  std::vector<std::string> types = {"tcp", "http"};
  uint32_t tick_us = 5000;  // tetherd's control tick
  uint32_t max_in_flight = lb::controlplane::kDefaultMaxChecksInFlight;
  uint32_t max_starts_per_poll = lb::controlplane::kDefaultMaxStartsPerPoll;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

Options parseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--backends") {
      o.backends = static_cast<uint32_t>(std::stoul(value()));
    } else if (a == "--seconds") {
      o.seconds = std::stod(value());
    } else if (a == "--intervals") {
      o.intervals_ms.clear();
      for (const std::string& v : split(value())) o.intervals_ms.push_back(static_cast<uint32_t>(std::stoul(v)));
    } else if (a == "--types") {
      o.types = split(value());
    } else if (a == "--tick-us") {
      o.tick_us = static_cast<uint32_t>(std::stoul(value()));
    } else if (a == "--max-in-flight") {
      o.max_in_flight = static_cast<uint32_t>(std::stoul(value()));
    } else if (a == "--max-starts-per-poll") {
      o.max_starts_per_poll = static_cast<uint32_t>(std::stoul(value()));
    } else {
      std::fprintf(stderr, "unknown argument %s (see the comment at the top of health_check_bench.cc)\n", a.c_str());
      std::exit(2);
    }
  }
  return o;
}


struct Result {
  double checks_per_s = 0;
  double passed_share = 0;
  double cpu_us_per_check = 0;
  double cpu_share = 0;  // of one core
  double poll_p50_us = 0, poll_p99_us = 0, poll_max_us = 0;
  uint64_t saturated_polls = 0;
  uint64_t max_start_delay_ms = 0;
};

Result runOne(const Options& o, const BackendFarm& farm, HealthCheckType type, uint32_t interval_ms) {
  HealthCheckerOptions options;
  options.max_in_flight = o.max_in_flight;
  options.max_starts_per_poll = o.max_starts_per_poll;
  options.ring_entries = std::max<uint32_t>(1024, 2 * o.max_in_flight);
  auto checker = HealthChecker::create(options);
  if (!checker.ok()) {
    std::fprintf(stderr, "%s\n", std::string(checker.status().message()).c_str());
    std::exit(1);
  }
  HealthCheckConfig check;
  check.type = type;
  check.interval_ms = interval_ms;
  check.timeout_ms = std::min<uint32_t>(interval_ms, 1000);
  check.rise = 2;
  check.fall = 3;
  std::vector<HealthTarget> targets;
  for (uint16_t port : farm.ports()) targets.push_back(HealthTarget{"bench", kLoopback, port, check});
  (*checker)->setTargets(std::move(targets));

  // Warm up for one interval (at least 300 ms) so every backend is in its steady cadence.
  const uint64_t start = nowMs();
  const uint64_t warm_until = start + std::max<uint64_t>(interval_ms, 300);
  const uint64_t end = warm_until + static_cast<uint64_t>(o.seconds * 1000);
  std::vector<double> poll_us;
  poll_us.reserve(static_cast<size_t>(o.seconds * 1e6 / o.tick_us) + 16);
  bool measuring = false;
  double cpu0 = 0;
  lb::controlplane::HealthCheckerStats s0;
  auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    const uint64_t now = nowMs();
    if (now >= end) break;
    if (!measuring && now >= warm_until) {
      measuring = true;
      s0 = (*checker)->stats();
      cpu0 = threadCpuSeconds();
      t0 = std::chrono::steady_clock::now();
    }
    const auto before = std::chrono::steady_clock::now();
    (*checker)->poll(now);
    if (measuring) {
      poll_us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - before).count());
    }
    std::this_thread::sleep_for(std::chrono::microseconds(o.tick_us));
  }
  const double cpu = threadCpuSeconds() - cpu0;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const lb::controlplane::HealthCheckerStats s1 = (*checker)->stats();
  const uint64_t passed = s1.checks_passed - s0.checks_passed;
  const uint64_t done = passed + (s1.checks_failed - s0.checks_failed);

  Result r;
  r.checks_per_s = static_cast<double>(done) / elapsed;
  r.passed_share = done == 0 ? 0 : static_cast<double>(passed) / static_cast<double>(done);
  r.cpu_us_per_check = done == 0 ? 0 : cpu * 1e6 / static_cast<double>(done);
  r.cpu_share = cpu / elapsed;
  std::sort(poll_us.begin(), poll_us.end());
  if (!poll_us.empty()) {
    r.poll_p50_us = poll_us[poll_us.size() / 2];
    r.poll_p99_us = poll_us[poll_us.size() * 99 / 100];
    r.poll_max_us = poll_us.back();
  }
  r.saturated_polls = s1.saturated_polls - s0.saturated_polls;
  r.max_start_delay_ms = s1.max_start_delay_ms;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parseArgs(argc, argv);
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;  // listeners + accepted + checks in flight
  setrlimit(RLIMIT_NOFILE, &nofile);

  utsname u{};
  uname(&u);
  std::printf("health_check_bench: %u backends on 127.0.0.1, %.1f s per run after warm-up, poll tick %u us, "
              "max_in_flight %u, max_starts_per_poll %u\n",
              o.backends, o.seconds, o.tick_us, o.max_in_flight, o.max_starts_per_poll);
  std::printf("context: cpu \"%s\" x%u, kernel %s, liburing %s\n", lb::bench::cpuModel().c_str(),
              std::thread::hardware_concurrency(), u.release, TETHER_LIBURING_VERSION);
  std::printf("%-5s %9s %11s %11s %7s %10s %8s %9s %9s %9s %9s %9s\n", "type", "interval", "demand/s", "checks/s",
              "passed", "cpu/check", "cpu", "poll_p50", "poll_p99", "poll_max", "saturated", "max_late");
  std::printf("%-5s %9s %11s %11s %7s %10s %8s %9s %9s %9s %9s %9s\n", "", "ms", "checks", "checks", "%", "us",
              "% core", "us", "us", "us", "polls", "ms");

  BackendFarm farm(o.backends);
  for (const std::string& type_name : o.types) {
    const bool http = type_name == "http";
    if (!http && type_name != "tcp") {
      std::fprintf(stderr, "unknown type %s (tcp, http)\n", type_name.c_str());
      return 2;
    }
    farm.setHttp(http);
    for (uint32_t interval : o.intervals_ms) {
      const Result r = runOne(o, farm, http ? HealthCheckType::kHttp : HealthCheckType::kTcp, interval);
      const double demand = o.backends * 1000.0 / interval;
      std::printf("%-5s %9u %11.0f %11.0f %7.2f %10.2f %8.1f %9.1f %9.1f %9.1f %9lu %9lu\n", type_name.c_str(),
                  interval, demand, r.checks_per_s, 100 * r.passed_share, r.cpu_us_per_check, 100 * r.cpu_share,
                  r.poll_p50_us, r.poll_p99_us,
                  r.poll_max_us, static_cast<unsigned long>(r.saturated_polls),
                  static_cast<unsigned long>(r.max_start_delay_ms));
      std::fflush(stdout);
    }
  }
  return 0;
}
