// The SYN proxy tests' fixture (syn_proxy_test.cc, syn_proxy_ipv6_test.cc): a worker harness on the
// shared test topology whose web service (or web6, for IPv6 clients) is an HTTP service with cookie
// learning, a SYN proxy with a fake 1 MHz clock, and helpers for the client's handshake and request.
// Every test ends with every mbuf back in the pool (nothing held, nothing leaked).
#pragma once

#include <gtest/gtest.h>
#include <rte_tcp.h>

#include <memory>
#include <string>
#include <utility>

#include "dataplane/syn_proxy.h"
#include "tests/dataplane/packet_test_util.h"
#include "tests/dataplane/proxy_test_frames.h"

namespace lb::dataplane::test {

inline constexpr uint64_t kHz = 1'000'000;  // test TSC: 1 tick = 1 us
inline constexpr uint64_t kT0 = 100 * kHz;
inline constexpr SipKey kMaster{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
inline constexpr uint8_t kPshAck = RTE_TCP_PSH_FLAG | RTE_TCP_ACK_FLAG;
inline constexpr uint8_t kFinAck = RTE_TCP_FIN_FLAG | RTE_TCP_ACK_FLAG;
inline constexpr uint8_t kRstAck = RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG;
inline constexpr uint16_t kClientWindow = 502;

inline const std::string kRequest = "GET /cart HTTP/1.1\r\nHost: shop\r\nCookie: theme=dark; SID=u1\r\n\r\n";

struct Handshake {
  uint32_t client_isn = 0;
  uint32_t our_isn = 0;
  uint32_t our_tsval = 0;
  DecodedSegment syn_ack;
};

class SynProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    baseline_ = poolInUse();
    snap_ = source_.build();
    ASSERT_NE(snap_, nullptr);
    web_ = findWeb();
    Service& web = snap_->services[web_];
    for (size_t i = 0; i < web.backends.size(); ++i) web.backends[i].id = 100 + i;  // id-sorted
    web.http.enabled = true;
    web.http.methods = {StickyMethod::kLearnCookie, StickyMethod::kFiveTuple};
    web.http.method_count = 2;
    web.http.learn_cookie = "SID";
    web.http.head_timeout_tsc = 5 * kHz;
    web.http.connect_timeout_tsc = kHz;
    web.http.connect_attempts = 2;
    web.http.max_backends_tried = 3;
    SynProxyConfig config;
    config.capacity = 16;
    config.head_buffer_bytes = 4096;
    config.max_held_segments = 8;
    config.clock = SynCookieClock{kHz, 64};
    config.cookie_master = kMaster;
    auto proxy = SynProxy::create(config);
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    w_.ctx().proxy = *std::move(proxy);
    w_.ctx().syn_cookie_master = kMaster;
  }

  void TearDown() override {
    w_.drain();
    w_.ctx().proxy.reset();
    EXPECT_EQ(poolInUse(), baseline_) << "mbufs leaked or still held";
  }

  // The fixture's clients: IPv4 (kClientIp -> kVip, the "web" service) or, in a fixture that
  // overrides this, IPv6 (kClientIp6 -> kVip6, "web6", translated to the same IPv4 backends).
  virtual bool ipv6() const { return false; }

  uint32_t findWeb() const {
    for (uint32_t i = 0; i < snap_->services.size(); ++i) {
      const Service& s = snap_->services[i];
      if (s.port_be == rte_cpu_to_be_16(kWebPort) && s.protocol == Protocol::kTcp && s.v6 == ipv6()) return i;
    }
    ADD_FAILURE() << "no web service";
    return 0;
  }
  Service& web() { return snap_->services[web_]; }
  size_t ipHeaderLength() const { return ipv6() ? 40 : 20; }

  // A segment Tether sends the client: from the VIP's web port to the client, in the client's family.
  void expectFromVipToClient(const DecodedSegment& d) const {
    EXPECT_EQ(d.v6, ipv6());
    if (ipv6()) {
      EXPECT_EQ(d.src6, kVip6);
      EXPECT_EQ(d.dst6, kClientIp6);
    } else {
      EXPECT_EQ(d.src, kVip);
      EXPECT_EQ(d.dst, kClientIp);
    }
    EXPECT_EQ(d.sport, kWebPort);
    EXPECT_EQ(d.dport, kClientPort);
    EXPECT_TRUE(sameMac(d.dst_mac, clientMac()));
    EXPECT_TRUE(sameMac(d.src_mac, portMac()));
  }
  const ProxyCounters& proxy() const { return w_.counters().proxy; }

  Segment client(uint8_t flags, uint32_t seq, uint32_t ack, Bytes options = {}, std::string payload = {}) const {
    Segment s;
    s.src_mac = clientMac();
    s.dst_mac = portMac();
    s.src = kClientIp;
    s.dst = kVip;
    if (ipv6()) {
      s.v6 = true;
      s.src6 = kClientIp6;
      s.dst6 = kVip6;
    }
    s.sport = kClientPort;
    s.dport = kWebPort;
    s.flags = flags;
    s.seq = seq;
    s.ack = ack;
    s.window = kClientWindow;
    s.options = std::move(options);
    s.payload = std::move(payload);
    return s;
  }
  static Segment backend(const DecodedSegment& syn, uint8_t flags, uint32_t seq, uint32_t ack, Bytes options = {},
                         std::string payload = {}) {
    return answering(syn, flags, seq, ack, 1000, std::move(options), std::move(payload));
  }

  Verdict send(const Segment& s, uint64_t now = kT0) { return w_.process(*snap_, buildSegment(s), 0, now); }
  Verdict sendFrame(const Bytes& frame) { return w_.process(*snap_, frame, 0, kT0); }

  DecodedSegment popSegment() {
    std::optional<Bytes> out = w_.popTx(0);
    if (!out) {
      ADD_FAILURE() << "nothing transmitted";
      return {};
    }
    DecodedSegment d = decodeSegment(*out);
    EXPECT_TRUE(d.ok);
    EXPECT_TRUE(d.checksums_valid) << "checksums of a transmitted segment";
    return d;
  }

  // SYN with MSS 1460, window scale 7, SACK and timestamps (TSval 1000), then the SYN-ACK.
  Handshake handshake(uint32_t client_isn, Bytes syn_options = synOptions(1460, 7, true, true, 1000)) {
    Handshake h;
    h.client_isn = client_isn;
    const Verdict v = send(client(kSyn, client_isn, 0, std::move(syn_options)));
    EXPECT_EQ(v.kind, VerdictKind::kAnswered);
    h.syn_ack = popSegment();
    h.our_isn = h.syn_ack.seq;
    h.our_tsval = h.syn_ack.options.tsval;
    return h;
  }

  // The first data segment (TSval 1002): returns the SYN sent to the backend, if any.
  Verdict request(const Handshake& h, const std::string& payload, uint32_t offset = 0, uint64_t now = kT0,
                  uint8_t flags = kPshAck) {
    return send(client(flags, h.client_isn + 1 + offset, h.our_isn + 1, timestampOption(1002, h.our_tsval), payload),
                now);
  }

  SnapshotSource source_;
  std::unique_ptr<Snapshot> snap_;
  uint32_t web_ = 0;
  WorkerHarness w_{0, twoWorkerPartition()};
  unsigned baseline_ = 0;
};

// The tests that hold for IPv4 and IPv6 clients alike, run once for each (false: IPv4).
class SynProxyBothFamiliesTest : public SynProxyTest, public ::testing::WithParamInterface<bool> {
 protected:
  bool ipv6() const override { return GetParam(); }
};

}  // namespace lb::dataplane::test
