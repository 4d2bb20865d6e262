// Path MTU through every forwarding path: a packet too large for the link it is bound for is answered
// as a router answers it (RFC 1191, RFC 4443, RFC 7915 section 5.1), so the sender's path MTU
// discovery finds the smaller link behind Tether instead of a black hole. IPIP's outer header has
// its own tests (ipip_mtu_test.cc). Port 0 carries clients and backends alike in the test topology;
// each test lowers its MTU to make one side the smaller link.
#include <rte_cycles.h>
#include <rte_ip.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/icmp_error_budget.h"
#include "dataplane/ipv4_fragments.h"
#include "tests/dataplane/fragment_frames.h"
#include "tests/dataplane/ipv6_frames.h"
#include "tests/dataplane/packet_test_util.h"

namespace lb::dataplane::test {
namespace {

constexpr uint8_t kAckPsh = kAck | RTE_TCP_PSH_FLAG;
constexpr uint8_t kIcmpv6 = 58;

// A client TCP segment to `vip_port` whose IP packet is `ip_len` bytes.
Bytes clientSegment(uint16_t vip_port, uint16_t ip_len, bool df) {
  PacketBuilder b = fromClient();
  b.tcp(kClientPort, vip_port, kAckPsh, 5001);
  if (df) b.dontFragment();
  return b.payload(Bytes(ip_len - 40, 0x6d)).build();
}

// A client IPv6 TCP segment to the web service whose IPv6 packet is `ip6_len` bytes.
Bytes clientSegment6(uint16_t ip6_len) { return clientTcp6(kAckPsh, Bytes(ip6_len - 40 - 20, 0x36)); }

class PathMtuTest : public testing::Test {
 protected:
  void SetUp() override { baseline_ = poolInUse(); }
  void TearDown() override {
    w_.drain();
    w_.ctx().fragments.reset();
    EXPECT_EQ(poolInUse(), baseline_) << "mbufs leaked";
  }

  // Before any traffic: the snapshot's epoch is the one every flow of the test is armed under.
  void setMtu(uint16_t mtu) {
    snap_ = std::make_unique<Snapshot>(*snap_);
    snap_->ports[0].mtu = mtu;
  }
  void useFragmentTable() {
    ASSERT_NE(indirectPool(), nullptr);
    Ipv4FragmentsConfig config;
    config.max_datagrams = 8;
    config.timeout_tsc = 1'000'000;
    config.indirect_pool = indirectPool();
    auto fragments = Ipv4Fragments::create(config);
    ASSERT_TRUE(fragments.ok()) << fragments.status();
    w_.ctx().fragments = *std::move(fragments);
  }
  Verdict process(const Bytes& frame) { return w_.process(*snap_, frame); }
  Bytes popTx() { return w_.popTx(0).value_or(Bytes{}); }
  std::vector<Bytes> popAll() {
    std::vector<Bytes> frames;
    while (std::optional<Bytes> f = w_.popTx(0)) frames.push_back(*f);
    return frames;
  }
  // SYN then ACK from the client: the flow is established and its client line armed. Returns the SYN
  // as it left for the backend.
  DecodedFrame openTcp(uint16_t vip_port) {
    EXPECT_EQ(process(fromClient().tcp(kClientPort, vip_port, kSyn, 5000).build()).kind, VerdictKind::kForwarded);
    const DecodedFrame syn = decode(popTx());
    EXPECT_EQ(process(fromClient().tcp(kClientPort, vip_port, kAck, 5001).build()).kind, VerdictKind::kForwarded);
    popTx();
    return syn;
  }
  DecodedFrame openTcp6() {
    EXPECT_EQ(process(clientTcp6(kSyn)).kind, VerdictKind::kForwarded);
    const DecodedFrame syn = decode(popTx());
    EXPECT_EQ(process(clientTcp6(kAck)).kind, VerdictKind::kForwarded);
    popTx();
    return syn;
  }
  uint64_t answered() const { return w_.counters().icmp_too_big.read(); }
  uint64_t established() const { return w_.counters().established_path.read(); }

  unsigned baseline_ = 0;
  std::unique_ptr<Snapshot> snap_ = std::make_unique<Snapshot>(standardSnapshot());
  WorkerHarness w_{0, twoWorkerPartition()};
};

class PathMtuModeTest : public PathMtuTest, public testing::WithParamInterface<uint16_t> {};

// Full-NAT and DSR L2 toward a backend link of 1400 bytes: a DF packet of 1401 on an armed flow
// leaves the established path and is answered from the VIP with the link's MTU; the backend gets
// nothing; the next packet that fits takes the established path to the backend. Without DF, and
// without a fragment table to split it, the packet is dropped as too_big, as before.
TEST_P(PathMtuModeTest, ClientPacketWithDfOverTheBackendLinkIsAnswered) {
  const uint16_t vip_port = GetParam();
  setMtu(1400);
  openTcp(vip_port);
  const uint64_t established_before = established();
  const Bytes big = clientSegment(vip_port, 1401, true);
  const Verdict v = process(big);
  EXPECT_EQ(v.kind, VerdictKind::kAnswered) << v.drop;
  EXPECT_EQ(v.tx_port, 0);
  ASSERT_EQ(w_.txCount(0), 1);
  const Bytes answer = popTx();
  expectIcmpFromVipToClient(answer);
  expectFragmentationNeeded(answer, big, 1400);
  EXPECT_EQ(answered(), 1u);
  EXPECT_EQ(established(), established_before);

  EXPECT_EQ(process(clientSegment(vip_port, 1400, true)).kind, VerdictKind::kForwarded);
  const DecodedFrame fits = decode(popTx());
  EXPECT_EQ(fits.total_length, 1400u);
  bool to_a_backend = false;
  for (uint8_t host = 11; host <= 15; ++host) to_a_backend |= sameMac(fits.eth_dst, backendMac(host));
  EXPECT_TRUE(to_a_backend);
  EXPECT_EQ(established(), established_before + 1);

  const Verdict dropped = process(clientSegment(vip_port, 1401, false));
  EXPECT_EQ(dropped.drop, DropReason::kTooBig);
  EXPECT_EQ(w_.totalDrops(), 1u);
  EXPECT_EQ(answered(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Modes, PathMtuModeTest, testing::Values(kWebPort, kDsrPort),
                         [](const testing::TestParamInfo<uint16_t>& info) {
                           return info.param == kWebPort ? std::string("FullNat") : std::string("DsrL2");
                         });

// A full-NAT backend's DF reply too large for the client's link: the backend hears "fragmentation
// needed" from the flow's local address, quoting its own segment, on the port the reply came in on
// and to the MAC it came from; the client gets nothing.
TEST_F(PathMtuTest, FullNatReplyWithDfOverTheClientLinkTellsTheBackend) {
  setMtu(1400);
  const DecodedFrame syn = openTcp(kWebPort);
  const uint8_t host = backendHost(syn.ip_dst);
  ASSERT_NE(host, 0);
  const Bytes reply = fromBackend(host)
                          .tcp(syn.dst_port, syn.src_port, kAckPsh, 9000, 5001)
                          .dontFragment()
                          .payload(Bytes(1401 - 40, 0x72))
                          .build();
  const Verdict v = process(reply);
  EXPECT_EQ(v.kind, VerdictKind::kAnswered) << v.drop;
  const Bytes answer = popTx();
  const DecodedFrame d = decode(answer);
  EXPECT_EQ(d.ip_src, kPortIp) << "from the flow's local address";
  EXPECT_EQ(d.ip_dst, syn.ip_dst);
  EXPECT_TRUE(sameMac(d.eth_dst, backendMac(host)));
  EXPECT_TRUE(sameMac(d.eth_src, portMac()));
  expectFragmentationNeeded(answer, reply, 1400);
  EXPECT_EQ(w_.txCount(0), 0);
  EXPECT_EQ(answered(), 1u);
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// An IPv6 client's segment whose IPv4 translation is over the backend link (1500 bytes of IPv6 are
// 1480 of IPv4; the link has 1400): "packet too big" from the VIP with 1420, the IPv6 size that fits,
// quoting the segment as sent, cut to a 1280-byte error. The flow was armed: the established path
// leaves the segment to the slow path. A 1420-byte segment then leaves as 1400 bytes of IPv4, DF set.
TEST_F(PathMtuTest, Ipv6ClientOverTheBackendLinkGetsPacketTooBig) {
  setMtu(1400);
  openTcp6();
  const Bytes big = clientSegment6(1500);
  const Verdict v = process(big);
  EXPECT_EQ(v.kind, VerdictKind::kAnswered) << v.drop;
  EXPECT_EQ(v.tx_port, 0);
  const Bytes answer = popTx();
  ASSERT_EQ(answer.size(), 14u + 1280u) << "the error is as large as IPv6 allows, no larger";
  EXPECT_EQ(get16(answer, 12), RTE_ETHER_TYPE_IPV6);
  EXPECT_TRUE(sameMac(decode(answer).eth_dst, clientMac()));
  EXPECT_TRUE(sameMac(decode(answer).eth_src, portMac()));
  EXPECT_EQ(get16(answer, kIp6 + 4), 1280u - 40u);
  EXPECT_EQ(answer[kIp6 + 6], kIcmpv6);
  EXPECT_EQ(address(answer, kIp6 + 8), kVip6);
  EXPECT_EQ(address(answer, kIp6 + 24), kClientIp6);
  EXPECT_EQ(answer[kL4], 2) << "packet too big";
  EXPECT_EQ(answer[kL4 + 1], 0);
  EXPECT_EQ((uint32_t{get16(answer, kL4 + 4)} << 16) | get16(answer, kL4 + 6), 1420u);
  EXPECT_TRUE(ipv6L4ChecksumValid(answer));
  EXPECT_EQ(Bytes(answer.begin() + kL4 + 8, answer.end()), Bytes(big.begin() + kIp6, big.begin() + kIp6 + 1280 - 48))
      << "the client's packet from its IPv6 header on, unchanged";
  EXPECT_EQ(answered(), 1u);
  EXPECT_EQ(w_.txCount(0), 0);

  const uint64_t established_before = established();
  EXPECT_EQ(process(clientSegment6(1420)).kind, VerdictKind::kForwarded);
  const DecodedFrame fits = decode(popTx());
  EXPECT_EQ(fits.total_length, 1400u);
  EXPECT_EQ(fits.fragment_offset, RTE_IPV4_HDR_DF_FLAG);
  EXPECT_EQ(established(), established_before + 1);
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// An IPv6 sender cannot go below 1280 bytes, so a packet within that bound bound for an IPv4 link
// smaller than 1260 is translated without DF and leaves in fragments that fit (RFC 7915 section
// 5.1), which the backend joins into the datagram; a larger one is told 1280, the IPv6 minimum.
TEST_F(PathMtuTest, Ipv6ClientWithinTheMinimumMtuIsFragmentedForASmallLink) {
  setMtu(1000);
  ASSERT_NO_FATAL_FAILURE(useFragmentTable());
  ASSERT_EQ(process(clientUdp6({'a'})).kind, VerdictKind::kForwarded);
  const DecodedFrame first = decode(popTx());
  const Bytes payload(1280 - 40 - 8, 0x55);
  const Verdict v = process(clientUdp6(payload));
  EXPECT_EQ(v.kind, VerdictKind::kForwarded) << v.drop;
  const std::vector<Bytes> fragments = popAll();
  EXPECT_EQ(fragments.size(), 2u);
  const absl::StatusOr<Bytes> joined = joinFragments(fragments, 1000);
  ASSERT_TRUE(joined.ok()) << joined.status();
  const DecodedFrame d = decode(*joined);
  EXPECT_EQ(d.total_length, 1260u);
  EXPECT_EQ(d.fragment_offset, 0) << "no DF: the datagram may be fragmented";
  EXPECT_EQ(d.ip_dst, first.ip_dst);
  EXPECT_EQ(d.dst_port, first.dst_port);
  EXPECT_TRUE(l4ChecksumValid(*joined, d.l3_offset));
  EXPECT_EQ(Bytes(joined->end() - static_cast<std::ptrdiff_t>(payload.size()), joined->end()), payload);
  EXPECT_EQ(w_.counters().fragments_out.read(), 2u);

  EXPECT_EQ(process(clientUdp6(Bytes(1300 - 48, 0x56))).kind, VerdictKind::kAnswered);
  const Bytes answer = popTx();
  EXPECT_EQ(answer[kL4], 2) << "packet too big";
  EXPECT_EQ((uint32_t{get16(answer, kL4 + 4)} << 16) | get16(answer, kL4 + 6), 1280u);
  EXPECT_TRUE(ipv6L4ChecksumValid(answer));
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// A NAT64 reply with DF that the 20 bytes IPv6's header adds make too large for the client's link:
// the backend is told the IPv4 size that fits, the link's MTU less 20.
TEST_F(PathMtuTest, Nat64ReplyWithDfOverTheClientLinkTellsTheBackend) {
  const DecodedFrame syn = openTcp6();
  const uint8_t host = backendHost(syn.ip_dst);
  ASSERT_NE(host, 0);
  const auto reply = [&](uint16_t ip_len) {
    return fromBackend(host)
        .tcp(syn.dst_port, syn.src_port, kAckPsh, 9000, 5001)
        .dontFragment()
        .payload(Bytes(ip_len - 40, 0x72))
        .build();
  };
  ASSERT_EQ(process(reply(1480)).kind, VerdictKind::kForwarded);
  EXPECT_EQ(get16(popTx(), kIp6 + 4), 1480u - 20u) << "1500 bytes of IPv6";
  const Bytes big = reply(1481);
  const Verdict v = process(big);
  EXPECT_EQ(v.kind, VerdictKind::kAnswered) << v.drop;
  const Bytes answer = popTx();
  const DecodedFrame d = decode(answer);
  EXPECT_EQ(d.ip_src, kPortIp);
  EXPECT_EQ(d.ip_dst, syn.ip_dst);
  expectFragmentationNeeded(answer, big, 1480);
  EXPECT_EQ(answered(), 1u);
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// The errors an lcore originates are budgeted (IcmpErrorBudget, RFC 4443 section 2.4 (f)) at the
// snapshot's rate: of a flood of oversized DF packets at one instant, a burst is answered and the rest
// are dropped as too_big; one interval later one more is answered. IPv6's "packet too big" draws on
// the same budget. A new snapshot's rate applies at once, and a rate of 0 answers none.
TEST_F(PathMtuTest, AnswersAreBudgeted) {
  setMtu(1400);
  openTcp(kWebPort);
  openTcp6();
  constexpr uint64_t kInterval = 1000;
  constexpr uint64_t kBurst = 5;
  snap_->icmp_errors = IcmpErrorRate{.enabled = true, .interval_tsc = kInterval, .burst = kBurst};
  const Bytes big = clientSegment(kWebPort, 1401, true);
  constexpr uint64_t kStart = 1'000'000;
  constexpr uint64_t kFlood = kBurst + 20;
  uint64_t answered_now = 0;
  for (uint64_t i = 0; i < kFlood; ++i) {
    const Verdict v = w_.process(*snap_, big, 0, kStart);
    answered_now += v.kind == VerdictKind::kAnswered;
    w_.drain();
  }
  EXPECT_EQ(answered_now, kBurst + 1);
  EXPECT_EQ(w_.drops(DropReason::kTooBig), kFlood - answered_now);
  EXPECT_EQ(answered(), answered_now);
  EXPECT_EQ(w_.process(*snap_, clientSegment6(1500), 0, kStart).drop, DropReason::kTooBig)
      << "IPv6's answers share the budget";

  EXPECT_EQ(w_.process(*snap_, big, 0, kStart + kInterval).kind, VerdictKind::kAnswered);
  EXPECT_EQ(w_.process(*snap_, clientSegment6(1500), 0, kStart + kInterval).drop, DropReason::kTooBig)
      << "one interval refills one error";
  EXPECT_EQ(w_.process(*snap_, clientSegment6(1500), 0, kStart + 2 * kInterval).kind, VerdictKind::kAnswered);
  EXPECT_EQ(answered(), answered_now + 2);
  w_.drain();

  // A reload to a rate 10 times higher: once the bucket is full again, a burst goes at once and a
  // tenth of the old interval refills one more.
  snap_ = std::make_unique<Snapshot>(*snap_);
  snap_->icmp_errors.interval_tsc = kInterval / 10;
  const uint64_t later = kStart + 10 * kInterval;
  uint64_t answered_later = 0;
  for (uint64_t i = 0; i < kFlood; ++i) {
    answered_later += w_.process(*snap_, big, 0, later).kind == VerdictKind::kAnswered;
    w_.drain();
  }
  EXPECT_EQ(answered_later, kBurst + 1);
  EXPECT_EQ(w_.process(*snap_, big, 0, later + kInterval / 10).kind, VerdictKind::kAnswered);
  w_.drain();
  // And to none at all: even after a quiet hour nothing is answered.
  snap_ = std::make_unique<Snapshot>(*snap_);
  snap_->icmp_errors.enabled = false;
  const uint64_t dropped = w_.drops(DropReason::kTooBig);
  EXPECT_EQ(w_.process(*snap_, big, 0, kStart + 3600 * kInterval).drop, DropReason::kTooBig);
  EXPECT_EQ(w_.process(*snap_, clientSegment6(1500), 0, kStart + 3600 * kInterval).drop, DropReason::kTooBig);
  EXPECT_EQ(w_.drops(DropReason::kTooBig), dropped + 2);
  EXPECT_EQ(answered(), answered_now + 2 + answered_later + 1);
}

}  // namespace
}  // namespace lb::dataplane::test
