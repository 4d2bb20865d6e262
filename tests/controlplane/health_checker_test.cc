// Tests for controlplane/health_checker.h against real sockets: loopback servers that accept, refuse,
// never answer the SYN (a listener whose accept queue is full drops it), answer HTTP with a chosen
// status, or accept and stay silent.
//
// main() moves the whole binary into a private network namespace when it can (root), so fixed
// addresses, veth devices and the servers never meet another test; the namespace disappears with the
// process. Without root the tests run on the host's loopback and the veth test is skipped.
//
// Timing: the machine may be loaded (2 cores, parallel tests), so assertions are on counts (how many
// checks had passed or failed when a transition fired) and generous deadlines, never on exact times.
#include "controlplane/health_checker.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace lb::controlplane {
namespace {

bool g_private_netns = false;

constexpr uint32_t kLoopback = 0x7f000001;  // 127.0.0.1

uint64_t nowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

sockaddr_in socketAddress(uint32_t address, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(address);
  a.sin_port = htons(port);
  return a;
}

int listenOn(uint32_t address, int backlog, uint16_t* port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a = socketAddress(address, 0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, backlog) != 0) {
    ADD_FAILURE() << "listen on " << formatIpv4(address) << ": " << std::strerror(errno);
  }
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// A TCP server on its own thread.
class TestServer {
 public:
  enum class Mode {
    kAcceptClose,  // accept, then close at once (TCP checks)
    kHttp,         // read the request, answer with http_status, close
    kSilent,       // accept and read, never answer
  };

  explicit TestServer(Mode mode, uint32_t address = kLoopback) : mode_(mode) {
    listen_fd_ = listenOn(address, 512, &port_);
    if (pipe2(stop_pipe_, O_CLOEXEC) != 0) ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    thread_ = std::thread([this] { run(); });
  }
  ~TestServer() {
    const char c = 0;
    (void)!write(stop_pipe_[1], &c, 1);
    thread_.join();
    close(listen_fd_);
    close(stop_pipe_[0]);
    close(stop_pipe_[1]);
  }

  uint16_t port() const { return port_; }
  void setHttpStatus(int status) { http_status_.store(status); }
  std::vector<uint32_t> peers() {
    std::lock_guard lock(mutex_);
    return peers_;
  }
  std::string firstRequest() {
    std::lock_guard lock(mutex_);
    return first_request_;
  }

 private:
  struct Client {
    int fd;
    std::string request;
  };

  void run() {
    std::vector<Client> clients;
    for (;;) {
      std::vector<pollfd> fds = {{stop_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      for (const Client& c : clients) fds.push_back({c.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) break;
      if (fds[0].revents != 0) break;
      if (fds[1].revents & POLLIN) accept1(clients);
      for (size_t i = fds.size(); i-- > 2;) {
        if (fds[i].revents == 0) continue;
        if (!serve(clients[i - 2])) {
          close(clients[i - 2].fd);
          clients.erase(clients.begin() + static_cast<long>(i - 2));
        }
      }
    }
    for (const Client& c : clients) close(c.fd);
  }

  void accept1(std::vector<Client>& clients) {
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    {
      std::lock_guard lock(mutex_);
      peers_.push_back(ntohl(peer.sin_addr.s_addr));
    }
    if (mode_ == Mode::kAcceptClose) {
      close(fd);
      return;
    }
    clients.push_back({fd, {}});
  }

  // false: done with this client.
  bool serve(Client& c) {
    char buf[1024];
    const ssize_t n = read(c.fd, buf, sizeof(buf));
    if (n <= 0) return false;
    c.request.append(buf, static_cast<size_t>(n));
    if (mode_ == Mode::kSilent || c.request.find("\r\n\r\n") == std::string::npos) return true;
    {
      std::lock_guard lock(mutex_);
      if (first_request_.empty()) first_request_ = c.request;
    }
    const std::string reply = "HTTP/1.1 " + std::to_string(http_status_.load()) +
                              " Whatever\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)!write(c.fd, reply.data(), reply.size());
    return false;
  }

  Mode mode_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<int> http_status_{200};
  std::mutex mutex_;
  std::vector<uint32_t> peers_;
  std::string first_request_;
  std::thread thread_;
};

// A listener that never completes another handshake: its accept queue (backlog 0) holds one
// connection nobody accepts, and Linux drops further SYNs while the queue is full.
class UnansweredPort {
 public:
  UnansweredPort() {
    listen_fd_ = listenOn(kLoopback, 0, &port_);
    filler_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = socketAddress(kLoopback, port_);
    if (connect(filler_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      ADD_FAILURE() << "filler connect: " << std::strerror(errno);
    }
  }
  ~UnansweredPort() {
    close(filler_fd_);
    close(listen_fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int listen_fd_ = -1;
  int filler_fd_ = -1;
  uint16_t port_ = 0;
};

// A port nothing listens on (connect is refused).
uint16_t closedPort() {
  uint16_t port = 0;
  const int fd = listenOn(kLoopback, 1, &port);
  close(fd);
  return port;
}

HealthCheckConfig tcpCheck(uint32_t rise, uint32_t fall, uint32_t interval_ms = 50, uint32_t timeout_ms = 1000) {
  HealthCheckConfig c;
  c.type = HealthCheckType::kTcp;
  c.interval_ms = interval_ms;
  c.timeout_ms = timeout_ms;
  c.rise = rise;
  c.fall = fall;
  return c;
}

HealthCheckConfig httpCheck(uint32_t rise, uint32_t fall, uint32_t interval_ms = 50, uint32_t timeout_ms = 1000) {
  HealthCheckConfig c = tcpCheck(rise, fall, interval_ms, timeout_ms);
  c.type = HealthCheckType::kHttp;
  return c;
}

HealthTarget target(uint16_t port, HealthCheckConfig check, std::string service = "web") {
  return HealthTarget{std::move(service), kLoopback, port, std::move(check)};
}

// One transition as the callback saw it, with the target's counts at that moment.
struct Transition {
  BackendHealth health;
  HealthTargetStatus status;
};

class Harness {
 public:
  explicit Harness(HealthCheckerOptions options = {}) {
    auto created = HealthChecker::create(std::move(options));
    if (!created.ok()) {
      ADD_FAILURE() << created.status();
      return;
    }
    checker_ = *std::move(created);
    checker_->setTransitionCallback([this](const BackendHealth& h) {
      for (const HealthTargetStatus& s : checker_->status()) {
        if (s.health.service == h.service && s.health.address == h.address && s.health.port == h.port) {
          transitions_.push_back({h, s});
        }
      }
    });
  }

  HealthChecker& checker() { return *checker_; }
  const std::vector<Transition>& transitions() const { return transitions_; }
  HealthTargetStatus status(size_t i) const { return checker_->status().at(i); }

  // Polls like the control loop (every 2 ms) until done() or the limit; false on timeout.
  template <class Done>
  bool pollUntil(Done done, std::chrono::milliseconds limit = std::chrono::seconds(15)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      checker_->poll(nowMs());
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }
  void pollFor(std::chrono::milliseconds d) {
    pollUntil([] { return false; }, d);
  }
  bool waitForTransitions(size_t n) {
    return pollUntil([&] { return transitions_.size() >= n; });
  }

 private:
  std::unique_ptr<HealthChecker> checker_;
  std::vector<Transition> transitions_;
};

// Bad option combinations are refused up front, with the limit in the message.
TEST(HealthCheckerTest, CreateRejectsInconsistentOptions) {
  HealthCheckerOptions small_ring;
  small_ring.ring_entries = 64;
  small_ring.max_in_flight = 64;
  EXPECT_NE(std::string(HealthChecker::create(small_ring).status().message()).find("at least 2 * max_in_flight"),
            std::string::npos);
  HealthCheckerOptions long_name;
  long_name.bind_device = "a-very-long-interface-name";
  EXPECT_NE(std::string(HealthChecker::create(long_name).status().message()).find("longer than 15"),
            std::string::npos);
  HealthCheckerOptions none;
  none.max_in_flight = 0;
  EXPECT_FALSE(HealthChecker::create(none).ok());
  HealthCheckerOptions no_starts;
  no_starts.max_starts_per_poll = 0;
  EXPECT_FALSE(HealthChecker::create(no_starts).ok());
}

// Unknown and up take new flows; only down does not.
TEST(HealthCheckerTest, UnknownCountsAsUsable) {
  EXPECT_TRUE(healthAllowsNewFlows(HealthState::kUnknown));
  EXPECT_TRUE(healthAllowsNewFlows(HealthState::kUp));
  EXPECT_FALSE(healthAllowsNewFlows(HealthState::kDown));
  EXPECT_EQ(healthStateName(HealthState::kDown), "down");
}

// A server that accepts turns unknown -> up after exactly `rise` passes, one transition, no error.
TEST(HealthCheckerTest, AcceptingServerGoesUpAfterExactlyRisePasses) {
  TestServer server(TestServer::Mode::kAcceptClose);
  Harness h;
  h.checker().setTargets({target(server.port(), tcpCheck(/*rise=*/3, /*fall=*/2))});
  EXPECT_EQ(h.checker().health().at(0).state, HealthState::kUnknown);
  ASSERT_TRUE(h.waitForTransitions(1));
  const Transition& t = h.transitions()[0];
  EXPECT_EQ(t.health.state, HealthState::kUp);
  EXPECT_EQ(t.health.transitions, 1u);
  EXPECT_EQ(t.status.checks_passed, 3u);
  EXPECT_EQ(t.status.checks_failed, 0u);
  EXPECT_EQ(t.health.last_error, "");
  // More passes change nothing.
  ASSERT_TRUE(h.pollUntil([&] { return h.status(0).checks_passed >= 6; }));
  EXPECT_EQ(h.transitions().size(), 1u);
  EXPECT_EQ(h.checker().health().at(0).state, HealthState::kUp);
}

// A refused connect fails the check; down after exactly `fall` failures, with the errno text.
TEST(HealthCheckerTest, RefusedPortGoesDownAfterExactlyFallFailures) {
  Harness h;
  h.checker().setTargets({target(closedPort(), tcpCheck(/*rise=*/2, /*fall=*/4))});
  ASSERT_TRUE(h.waitForTransitions(1));
  const Transition& t = h.transitions()[0];
  EXPECT_EQ(t.health.state, HealthState::kDown);
  EXPECT_EQ(t.status.checks_failed, 4u);
  EXPECT_EQ(t.status.checks_passed, 0u);
  EXPECT_EQ(t.health.last_error, "connect: Connection refused");
}

// A SYN nobody answers fails by the linked timeout, not by blocking; never before the timeout.
TEST(HealthCheckerTest, UnansweredSynTimesOut) {
  UnansweredPort blackhole;
  Harness h;
  h.checker().setTargets({target(blackhole.port(), tcpCheck(/*rise=*/1, /*fall=*/2, /*interval_ms=*/100,
                                                            /*timeout_ms=*/150))});
  const uint64_t start = nowMs();
  ASSERT_TRUE(h.waitForTransitions(1));
  EXPECT_GE(nowMs() - start, 2 * 150u);  // two timeouts of 150 ms each, at the least
  const Transition& t = h.transitions()[0];
  EXPECT_EQ(t.health.state, HealthState::kDown);
  EXPECT_EQ(t.status.checks_failed, 2u);
  EXPECT_EQ(t.health.last_error, "timeout after 150 ms (connect)");
}

// HTTP: a wrong status marks the backend down after `fall`; the right one brings it back after
// exactly `rise` consecutive passes. The request carries path, Host with port, Connection: close.
TEST(HealthCheckerTest, HttpWrongStatusGoesDownThenRecovers) {
  TestServer server(TestServer::Mode::kHttp);
  server.setHttpStatus(500);
  HealthCheckConfig check = httpCheck(/*rise=*/3, /*fall=*/2);
  check.http_path = "/healthz?full=1";
  Harness h;
  h.checker().setTargets({target(server.port(), check)});
  ASSERT_TRUE(h.waitForTransitions(1));
  EXPECT_EQ(h.transitions()[0].health.state, HealthState::kDown);
  EXPECT_EQ(h.transitions()[0].status.checks_failed, 2u);
  EXPECT_EQ(h.transitions()[0].health.last_error, "HTTP status 500, expected 200");

  server.setHttpStatus(200);
  ASSERT_TRUE(h.waitForTransitions(2));
  const Transition& up = h.transitions()[1];
  EXPECT_EQ(up.health.state, HealthState::kUp);
  EXPECT_EQ(up.health.transitions, 2u);
  EXPECT_EQ(up.status.consecutive_passes, 3u);
  EXPECT_EQ(up.status.checks_passed, 3u);
  EXPECT_EQ(up.health.last_error, "");

  const std::string request = server.firstRequest();
  EXPECT_EQ(request.rfind("GET /healthz?full=1 HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"), std::string::npos)
      << request;
  EXPECT_NE(request.find("\r\nConnection: close\r\n"), std::string::npos) << request;
}

// The expected status is configurable: 204 passes when 204 is expected, 200 then fails.
TEST(HealthCheckerTest, HttpExpectedStatusIsConfigurable) {
  TestServer server(TestServer::Mode::kHttp);
  server.setHttpStatus(204);
  HealthCheckConfig check = httpCheck(/*rise=*/1, /*fall=*/1);
  check.http_expect_status = 204;
  Harness h;
  h.checker().setTargets({target(server.port(), check)});
  ASSERT_TRUE(h.waitForTransitions(1));
  EXPECT_EQ(h.transitions()[0].health.state, HealthState::kUp);
  server.setHttpStatus(200);
  ASSERT_TRUE(h.waitForTransitions(2));
  EXPECT_EQ(h.transitions()[1].health.last_error, "HTTP status 200, expected 204");
}

// A server that accepts but never answers the request times out waiting for the response.
TEST(HealthCheckerTest, HttpSilentServerTimesOut) {
  TestServer server(TestServer::Mode::kSilent);
  Harness h;
  h.checker().setTargets({target(server.port(), httpCheck(/*rise=*/1, /*fall=*/2, /*interval_ms=*/100,
                                                          /*timeout_ms=*/150))});
  ASSERT_TRUE(h.waitForTransitions(1));
  EXPECT_EQ(h.transitions()[0].health.state, HealthState::kDown);
  EXPECT_EQ(h.transitions()[0].status.checks_failed, 2u);
  EXPECT_EQ(h.transitions()[0].health.last_error, "timeout after 150 ms (response)");
}

// A server that closes without answering fails the HTTP check (EOF or reset, depending on timing).
TEST(HealthCheckerTest, HttpConnectionClosedWithoutStatusFails) {
  TestServer server(TestServer::Mode::kAcceptClose);
  Harness h;
  h.checker().setTargets({target(server.port(), httpCheck(/*rise=*/1, /*fall=*/1))});
  ASSERT_TRUE(h.waitForTransitions(1));
  const std::string& error = h.transitions()[0].health.last_error;
  EXPECT_TRUE(error == "HTTP: connection closed before status line" || error.starts_with("recv: ") ||
              error.starts_with("send: "))
      << error;
}

// setTargets keeps the state of targets that stay, drops removed ones, adds new ones as unknown;
// a changed check definition restarts the consecutive counts but keeps the verdict.
TEST(HealthCheckerTest, SetTargetsKeepsStateOfTargetsThatStay) {
  TestServer server(TestServer::Mode::kAcceptClose);
  const uint16_t refused = closedPort();
  Harness h;
  h.checker().setTargets({target(server.port(), tcpCheck(1, 1)), target(refused, tcpCheck(1, 1))});
  ASSERT_TRUE(h.waitForTransitions(2));

  const uint16_t other = closedPort();
  h.checker().setTargets({target(other, tcpCheck(1, 1), "api"), target(server.port(), tcpCheck(1, 1))});
  std::vector<BackendHealth> now = h.checker().health();
  ASSERT_EQ(now.size(), 2u);
  EXPECT_EQ(now[0].service, "api");
  EXPECT_EQ(now[0].state, HealthState::kUnknown);
  EXPECT_EQ(now[0].transitions, 0u);
  EXPECT_EQ(now[1].port, server.port());
  EXPECT_EQ(now[1].state, HealthState::kUp);
  EXPECT_EQ(now[1].transitions, 1u);
  const uint64_t passed_before = h.status(1).checks_passed;
  EXPECT_GE(passed_before, 1u);

  HealthCheckConfig http = httpCheck(1, 1);  // same backend, now an HTTP check
  h.checker().setTargets({target(server.port(), http)});
  EXPECT_EQ(h.status(0).health.state, HealthState::kUp);
  EXPECT_EQ(h.status(0).consecutive_passes, 0u);
  EXPECT_GE(h.status(0).checks_passed, passed_before);

  HealthCheckConfig off;  // checks turned off: back to unknown, i.e. usable
  h.checker().setTargets({target(server.port(), off)});
  EXPECT_EQ(h.status(0).health.state, HealthState::kUnknown);
  const uint64_t started = h.checker().stats().checks_started;
  h.pollFor(std::chrono::milliseconds(200));
  EXPECT_LE(h.checker().stats().checks_started, started + 1);  // at most one already in flight
}

// Checks are spread over the interval by each backend's phase, not fired together. Driven with a
// made-up clock: scheduling only looks at now_ms.
TEST(HealthCheckerTest, ChecksAreSpreadAcrossTheInterval) {
  const uint16_t refused = closedPort();
  std::vector<HealthTarget> targets;
  for (uint16_t i = 0; i < 200; ++i) {
    targets.push_back(HealthTarget{"svc", kLoopback + i, refused, tcpCheck(1, 1000, /*interval_ms=*/1000)});
  }
  Harness h;
  h.checker().setTargets(targets);
  const uint64_t start = 5'000'000;
  std::vector<uint64_t> started_per_bucket;
  uint64_t before = 0;
  for (uint64_t t = 0; t < 1000; ++t) {  // one interval, in ten 100 ms buckets
    h.checker().poll(start + t);
    if (t % 10 == 9) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // refusals come back
    if (t % 100 == 99) {
      const uint64_t started = h.checker().stats().checks_started;
      started_per_bucket.push_back(started - before);
      before = started;
    }
  }
  EXPECT_EQ(before, 200u) << "every target checked exactly once per interval";
  for (uint64_t n : started_per_bucket) EXPECT_LE(n, 45u) << "expected about 20 per 100 ms bucket";
}

// No more than max_in_flight checks run at once; due checks wait their turn and every target still
// gets checked (round-robin), and waiting is visible in saturated_polls.
TEST(HealthCheckerTest, InFlightCapIsRespectedAndNoTargetStarves) {
  UnansweredPort blackhole;
  HealthCheckerOptions options;
  options.max_in_flight = 4;
  options.ring_entries = 8;
  Harness h(options);
  std::vector<HealthTarget> targets;
  for (uint16_t i = 0; i < 20; ++i) {
    targets.push_back(HealthTarget{"svc-" + std::to_string(i), kLoopback, blackhole.port(),
                                   tcpCheck(1, 1000, /*interval_ms=*/100, /*timeout_ms=*/100)});
  }
  h.checker().setTargets(targets);
  uint32_t max_in_flight = 0;
  const bool all_checked = h.pollUntil([&] {
    max_in_flight = std::max(max_in_flight, h.checker().stats().in_flight);
    for (const HealthTargetStatus& s : h.checker().status()) {
      if (s.checks_failed == 0) return false;
    }
    return true;
  });
  EXPECT_TRUE(all_checked);
  EXPECT_LE(max_in_flight, 4u);
  EXPECT_EQ(max_in_flight, 4u);
  EXPECT_GT(h.checker().stats().saturated_polls, 0u);
}

// One poll starts at most max_starts_per_poll checks, so a poll's cost stays bounded when many are due.
TEST(HealthCheckerTest, StartsPerPollAreCapped) {
  const uint16_t refused = closedPort();
  std::vector<HealthTarget> targets;
  for (uint16_t i = 0; i < 100; ++i) {
    targets.push_back(HealthTarget{"svc", kLoopback + i, refused, tcpCheck(1, 1000, /*interval_ms=*/1000)});
  }
  HealthCheckerOptions options;
  options.max_starts_per_poll = 30;
  Harness h(options);
  h.checker().setTargets(targets);
  const uint64_t start = 7'000'000;
  h.checker().poll(start);  // schedules everyone within [start, start + 1000)
  const uint64_t first = h.checker().stats().checks_started;
  h.checker().poll(start + 999);  // now everyone not yet started is due
  EXPECT_EQ(h.checker().stats().checks_started - first, 30u);
  EXPECT_GT(h.checker().stats().saturated_polls, 0u);
  h.checker().poll(start + 999);
  h.checker().poll(start + 999);
  h.checker().poll(start + 999);
  EXPECT_EQ(h.checker().stats().checks_started, 100u);
}

// source_address: checks leave from the configured address.
TEST(HealthCheckerTest, ChecksUseTheSourceAddress) {
  TestServer server(TestServer::Mode::kAcceptClose);
  HealthCheckerOptions options;
  options.source_address = 0x7f000002;  // 127.0.0.2, local like all of 127/8
  Harness h(options);
  h.checker().setTargets({target(server.port(), tcpCheck(2, 1))});
  ASSERT_TRUE(h.waitForTransitions(1));
  EXPECT_EQ(h.transitions()[0].health.state, HealthState::kUp);
  const std::vector<uint32_t> peers = server.peers();
  ASSERT_FALSE(peers.empty());
  for (uint32_t p : peers) EXPECT_EQ(formatIpv4(p), "127.0.0.2");
}

// bind_device naming no interface fails every check, and says why.
TEST(HealthCheckerTest, MissingBindDeviceFailsChecks) {
  TestServer server(TestServer::Mode::kAcceptClose);
  HealthCheckerOptions options;
  options.bind_device = "tether-nodev0";
  Harness h(options);
  h.checker().setTargets({target(server.port(), tcpCheck(1, 2))});
  ASSERT_TRUE(h.waitForTransitions(1)) << h.status(0).checks_passed << " " << h.status(0).checks_failed << " "
                                       << h.status(0).health.last_error << " " << h.checker().stats().local_errors;
  EXPECT_EQ(h.transitions()[0].health.state, HealthState::kDown);
  EXPECT_EQ(h.transitions()[0].health.last_error.rfind("SO_BINDTODEVICE tether-nodev0: ", 0), 0u)
      << h.transitions()[0].health.last_error;
}

// bind_device really steers checks: bound to the veth holding the server's address they pass; bound to
// lo, the SYN leaves by the wrong device and the check times out.
TEST(HealthCheckerTest, BindDeviceSteersChecks) {
  if (!g_private_netns) GTEST_SKIP() << "needs root for a private network namespace";
  if (std::system("ip link add tetherhc0 type veth peer name tetherhc1 && ip link set tetherhc1 up && "
                  "ip addr add 10.211.0.1/24 dev tetherhc0 && ip link set tetherhc0 up") != 0) {
    GTEST_SKIP() << "cannot create a veth pair here";
  }
  constexpr uint32_t kVethAddress = 0x0ad30001;  // 10.211.0.1
  TestServer server(TestServer::Mode::kAcceptClose, kVethAddress);
  const HealthTarget t{"web", kVethAddress, server.port(), tcpCheck(1, 1, 50, 200)};

  HealthCheckerOptions via_veth;
  via_veth.bind_device = "tetherhc0";
  Harness good(via_veth);
  good.checker().setTargets({t});
  ASSERT_TRUE(good.waitForTransitions(1));
  EXPECT_EQ(good.transitions()[0].health.state, HealthState::kUp);

  HealthCheckerOptions via_lo;
  via_lo.bind_device = "lo";
  Harness bad(via_lo);
  bad.checker().setTargets({t});
  ASSERT_TRUE(bad.waitForTransitions(1));
  EXPECT_EQ(bad.transitions()[0].health.state, HealthState::kDown);
  EXPECT_EQ(bad.transitions()[0].health.last_error.rfind("timeout after 200 ms", 0), 0u)
      << bad.transitions()[0].health.last_error;
  EXPECT_EQ(std::system("ip link del tetherhc0"), 0);
}

// Targets without a check type are never checked and stay unknown (usable).
TEST(HealthCheckerTest, UncheckedTargetsStayUnknown) {
  Harness h;
  h.checker().setTargets({target(closedPort(), HealthCheckConfig{})});
  h.pollFor(std::chrono::milliseconds(100));
  EXPECT_EQ(h.checker().stats().checks_started, 0u);
  EXPECT_EQ(h.checker().health().at(0).state, HealthState::kUnknown);
}

// Destroying the checker with checks in flight cancels them instead of waiting for their timeouts.
TEST(HealthCheckerTest, DestructionCancelsChecksInFlight) {
  UnansweredPort blackhole;
  auto checker = HealthChecker::create();
  ASSERT_TRUE(checker.ok());
  std::vector<HealthTarget> targets;
  for (uint16_t i = 0; i < 50; ++i) {
    targets.push_back(HealthTarget{"svc", kLoopback + i, blackhole.port(), tcpCheck(1, 1, 100, 30000)});
  }
  (*checker)->setTargets(targets);
  const uint64_t start = nowMs();
  while (nowMs() - start < 150) (*checker)->poll(nowMs());
  EXPECT_GT((*checker)->stats().in_flight, 0u);
  const uint64_t before_destroy = nowMs();
  checker->reset();
  EXPECT_LT(nowMs() - before_destroy, 1500u);
}

}  // namespace
}  // namespace lb::controlplane

// Moves the test process into its own network namespace when allowed (see the file comment).
int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (unshare(CLONE_NEWNET) == 0) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
      ifr.ifr_flags |= IFF_UP;
      lb::controlplane::g_private_netns = ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
    }
    close(fd);
    if (!lb::controlplane::g_private_netns) {
      std::fprintf(stderr, "health_checker_test: cannot bring lo up in the new namespace\n");
      return 1;
    }
  } else {
    std::fprintf(stderr, "health_checker_test: no private network namespace (%s); using the host's loopback\n",
                 std::strerror(errno));
  }
  return RUN_ALL_TESTS();
}
