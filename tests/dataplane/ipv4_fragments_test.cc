// IPv4 fragments through processBurst with a worker that has a fragment table (Ipv4Fragments):
// datagrams to a VIP are reassembled, balanced and rewritten as a whole, and leave in fragments that
// fit the egress MTU, in every forwarding mode and for full-NAT replies; what cannot complete (timed
// out, overlapping, too many fragments, the table full) is freed and counted as reassembly_failed.
// The fragments are cut and joined again by fragment_frames.h, independently of DPDK's library.
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <numeric>

#include "dataplane/ipv4_fragments.h"
#include "tests/dataplane/fragment_frames.h"
#include "tests/dataplane/packet_test_util.h"

namespace lb::dataplane::test {
namespace {

constexpr size_t kMtu = 1500;
constexpr size_t kChunk = 1480;  // IP payload per fragment at MTU 1500
constexpr uint64_t kTimeout = 1'000'000;  // TSC ticks; the tests give processBurst its clock

Bytes pattern(size_t n) {
  Bytes b(n);
  std::iota(b.begin(), b.end(), uint8_t{7});
  return b;
}

class Ipv4FragmentsTest : public testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(useTable(64)); }
  void TearDown() override {
    w_.drain();
    w_.ctx().fragments.reset();  // frees whatever a test left held
    EXPECT_EQ(poolInUse(), baseline_) << "mbufs leaked";
    EXPECT_EQ(rte_mempool_in_use_count(indirectPool()), 0u) << "indirect mbufs leaked";
  }

  void useTable(uint32_t max_datagrams) {
    ASSERT_NE(indirectPool(), nullptr);
    Ipv4FragmentsConfig config;
    config.max_datagrams = max_datagrams;
    config.timeout_tsc = kTimeout;
    config.indirect_pool = indirectPool();
    auto fragments = Ipv4Fragments::create(config);
    ASSERT_TRUE(fragments.ok()) << fragments.status();
    w_.ctx().fragments = *std::move(fragments);
  }

  // Processes the fragments in the order given; all but the last must be held. The last's verdict.
  Verdict send(const std::vector<Bytes>& fragments, uint64_t now = 0) {
    for (size_t i = 0; i + 1 < fragments.size(); ++i) {
      const Verdict v = w_.process(snap_, fragments[i], 0, now);
      EXPECT_EQ(v.kind, VerdictKind::kHeld) << "fragment " << i;
    }
    const Verdict v = w_.process(snap_, fragments.back(), 0, now);
    EXPECT_EQ(v.drop, DropReason::kCount) << "the datagram was dropped";
    return v;
  }

  std::vector<Bytes> popAll(uint16_t port = 0) {
    std::vector<Bytes> frames;
    while (std::optional<Bytes> f = w_.popTx(port)) frames.push_back(*f);
    return frames;
  }

  // A SYN to `vip_port` from kClientPort, so the connection's later segments have their flow.
  void openTcp(uint16_t vip_port) {
    EXPECT_EQ(w_.process(snap_, fromClient().tcp(kClientPort, vip_port, kSyn).build()).kind, VerdictKind::kForwarded);
    w_.popTx(0);
  }

  uint64_t failed() const { return w_.drops(DropReason::kReassemblyFailed); }

  const Snapshot& snap_ = standardSnapshot();
  unsigned baseline_ = poolInUse();
  WorkerHarness w_{0, twoWorkerPartition()};
};

Bytes bigUdpToVip(size_t payload_len, uint16_t ip_id = 0x4d01) {
  return fromClient().ipId(ip_id).udp(kClientPort, kUdpPort).payload(pattern(payload_len)).build();
}

// A 4000-byte UDP datagram in three fragments to the full-NAT UDP service: the first two are held,
// the third completes it; the backend gets it in three fragments that join into the datagram
// full-NAT makes of the original (addresses, ports, UDP checksum over the whole payload).
TEST_F(Ipv4FragmentsTest, UdpDatagramIsReassembledRewrittenAndFragmentedAgain) {
  const Bytes datagram = bigUdpToVip(4000);
  const std::vector<Bytes> fragments = fragmentFrame(datagram, kChunk);
  ASSERT_EQ(fragments.size(), 3u);
  const Verdict v = send(fragments);
  EXPECT_EQ(v.kind, VerdictKind::kForwarded);
  const std::vector<Bytes> out = popAll();
  ASSERT_EQ(out.size(), 3u);
  const absl::StatusOr<Bytes> joined = joinFragments(out, kMtu);
  ASSERT_TRUE(joined.ok()) << joined.status();
  expectFullNatToBackend(datagram, *joined, kUdpBackendPort, twoWorkerPartition(), 0);
  EXPECT_EQ(w_.counters().fragments_in.read(), 3u);
  EXPECT_EQ(w_.counters().datagrams_reassembled.read(), 1u);
  EXPECT_EQ(w_.counters().fragments_out.read(), 3u);
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// Fragments arriving last first complete the datagram just the same, and the flow it created keeps
// the next (unfragmented) datagram of the 5-tuple on the same backend and local port.
TEST_F(Ipv4FragmentsTest, OutOfOrderFragmentsAndTheFlowAfterwards) {
  const Bytes datagram = bigUdpToVip(3500);
  std::vector<Bytes> fragments = fragmentFrame(datagram, kChunk);
  std::reverse(fragments.begin(), fragments.end());
  EXPECT_EQ(send(fragments).kind, VerdictKind::kForwarded);
  const absl::StatusOr<Bytes> joined = joinFragments(popAll(), kMtu);
  ASSERT_TRUE(joined.ok()) << joined.status();
  expectFullNatToBackend(datagram, *joined, kUdpBackendPort, twoWorkerPartition(), 0);

  const Bytes small = fromClient().udp(kClientPort, kUdpPort).payload(pattern(100)).build();
  EXPECT_EQ(w_.process(snap_, small).kind, VerdictKind::kForwarded);
  const Bytes next = w_.popTx(0).value_or(Bytes{});
  const DecodedFrame a = decode(*joined);
  const DecodedFrame b = decode(next);
  EXPECT_EQ(b.ip_dst, a.ip_dst) << "same backend";
  EXPECT_EQ(b.src_port, a.src_port) << "same local port";
  EXPECT_EQ(w_.counters().flows_created.read(), 1u);
}

// A backend's large reply to a full-NAT flow arrives in fragments at the local address; the client
// gets it from the VIP, in fragments that join into a datagram with a valid UDP checksum and the
// backend's payload.
TEST_F(Ipv4FragmentsTest, FragmentedReplyReachesTheClientFromTheVip) {
  EXPECT_EQ(w_.process(snap_, fromClient().udp(kClientPort, kUdpPort).payload(pattern(20)).build()).kind,
            VerdictKind::kForwarded);
  const DecodedFrame request = decode(w_.popTx(0).value_or(Bytes{}));
  const uint8_t backend = backendHost(request.ip_dst);
  ASSERT_NE(backend, 0);
  const Bytes reply_payload = pattern(5000);
  const Bytes reply =
      fromBackend(backend).ipId(0x7e57).udp(kUdpBackendPort, request.src_port).payload(reply_payload).build();
  EXPECT_EQ(send(fragmentFrame(reply, kChunk)).kind, VerdictKind::kForwarded);
  const std::vector<Bytes> out = popAll();
  EXPECT_EQ(out.size(), 4u);
  const absl::StatusOr<Bytes> joined = joinFragments(out, kMtu);
  ASSERT_TRUE(joined.ok()) << joined.status();
  expectReplyToClient(*joined, kUdpPort, kClientPort);
  EXPECT_TRUE(l4ChecksumValid(*joined, sizeof(rte_ether_hdr)));
  EXPECT_TRUE(std::equal(reply_payload.begin(), reply_payload.end(), joined->end() - reply_payload.size()));
}

// A datagram that arrives whole but longer than the egress MTU (af_packet delivers one whenever the
// kernel has joined its fragments) is fragmented even when its flow is armed, in both directions of
// full-NAT: the established path leaves it to the slow path instead of queueing a frame the port
// cannot send.
TEST_F(Ipv4FragmentsTest, ArmedFlowsDatagramOverTheMtuLeavesInFragments) {
  const auto established = [this] { return w_.counters().established_path.read(); };
  const Bytes small = fromClient().udp(kClientPort, kUdpPort).payload(pattern(20)).build();
  for (int i = 0; i < 2; ++i) EXPECT_EQ(w_.process(snap_, small).kind, VerdictKind::kForwarded);
  const std::vector<Bytes> requests = popAll();
  ASSERT_EQ(requests.size(), 2u);
  ASSERT_EQ(established(), 1u) << "the second datagram took the established path";

  const Bytes whole = bigUdpToVip(1800);
  ASSERT_GT(whole.size() - sizeof(rte_ether_hdr), kMtu);
  EXPECT_EQ(w_.process(snap_, whole).kind, VerdictKind::kForwarded);
  std::vector<Bytes> out = popAll();
  EXPECT_EQ(out.size(), 2u);
  absl::StatusOr<Bytes> joined = joinFragments(out, kMtu);
  ASSERT_TRUE(joined.ok()) << joined.status();
  expectFullNatToBackend(whole, *joined, kUdpBackendPort, twoWorkerPartition(), 0);

  const DecodedFrame request = decode(requests[0]);
  const uint8_t backend = backendHost(request.ip_dst);
  ASSERT_NE(backend, 0);
  const Bytes small_reply = fromBackend(backend).udp(kUdpBackendPort, request.src_port).payload(pattern(20)).build();
  for (int i = 0; i < 2; ++i) EXPECT_EQ(w_.process(snap_, small_reply).kind, VerdictKind::kForwarded);
  ASSERT_EQ(popAll().size(), 2u);
  ASSERT_EQ(established(), 2u) << "the second reply took the established path";

  const Bytes reply_payload = pattern(1900);
  const Bytes reply = fromBackend(backend).udp(kUdpBackendPort, request.src_port).payload(reply_payload).build();
  EXPECT_EQ(w_.process(snap_, reply).kind, VerdictKind::kForwarded);
  out = popAll();
  EXPECT_EQ(out.size(), 2u);
  joined = joinFragments(out, kMtu);
  ASSERT_TRUE(joined.ok()) << joined.status();
  expectReplyToClient(*joined, kUdpPort, kClientPort);
  EXPECT_TRUE(l4ChecksumValid(*joined, sizeof(rte_ether_hdr)));
  EXPECT_TRUE(std::equal(reply_payload.begin(), reply_payload.end(), joined->end() - reply_payload.size()));
  EXPECT_EQ(established(), 2u);
  EXPECT_EQ(w_.counters().fragments_out.read(), 4u);
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// A reply reassembled on the lcore that does not own the flow's local port (af_packet's fanout hashes
// fragments by address only) is handed to the owner as the chain it is, and the owner forwards it.
TEST_F(Ipv4FragmentsTest, ReassembledReplyIsHandedToTheFlowsLcore) {
  WorkerHarness other{1, twoWorkerPartition()};
  other.connectTo(w_);
  Ipv4FragmentsConfig config;
  config.timeout_tsc = kTimeout;
  config.indirect_pool = indirectPool();
  auto table = Ipv4Fragments::create(config);
  ASSERT_TRUE(table.ok()) << table.status();
  other.ctx().fragments = *std::move(table);

  EXPECT_EQ(w_.process(snap_, fromClient().udp(kClientPort, kUdpPort).payload(pattern(20)).build()).kind,
            VerdictKind::kForwarded);
  const DecodedFrame request = decode(w_.popTx(0).value_or(Bytes{}));
  const Bytes reply = fromBackend(backendHost(request.ip_dst))
                          .ipId(0x0ff1)
                          .udp(kUdpBackendPort, request.src_port)
                          .payload(pattern(3000))
                          .build();
  const std::vector<Bytes> fragments = fragmentFrame(reply, kChunk);
  for (size_t i = 0; i + 1 < fragments.size(); ++i) EXPECT_EQ(other.process(snap_, fragments[i]).kind, VerdictKind::kHeld);
  EXPECT_EQ(other.process(snap_, fragments.back()).kind, VerdictKind::kHandedOff);
  void* handed = nullptr;
  ASSERT_EQ(rte_ring_dequeue(w_.handoffIn(), &handed), 0);
  auto* datagram = static_cast<rte_mbuf*>(handed);
  EXPECT_GT(datagram->nb_segs, 1);
  EXPECT_EQ(w_.processMbuf(snap_, datagram, datagram->port).kind, VerdictKind::kForwarded);
  const absl::StatusOr<Bytes> joined = joinFragments(popAll(), kMtu);
  ASSERT_TRUE(joined.ok()) << joined.status();
  expectReplyToClient(*joined, kUdpPort, kClientPort);
  EXPECT_TRUE(l4ChecksumValid(*joined, sizeof(rte_ether_hdr)));
  EXPECT_EQ(w_.totalDrops() + other.totalDrops(), 0u);
}

// DSR (L2): the backend gets the client's datagram unchanged (it answers from the VIP itself), in
// fragments addressed to its MAC.
TEST_F(Ipv4FragmentsTest, DsrForwardsTheDatagramUnchangedInFragments) {
  openTcp(kDsrPort);
  const Bytes segment =
      fromClient().tcp(kClientPort, kDsrPort, kAck | RTE_TCP_PSH_FLAG).payload(pattern(3000)).build();
  EXPECT_EQ(send(fragmentFrame(segment, kChunk)).kind, VerdictKind::kForwarded);
  const absl::StatusOr<Bytes> joined = joinFragments(popAll(), kMtu);
  ASSERT_TRUE(joined.ok()) << joined.status();
  const DecodedFrame d = decode(*joined);
  EXPECT_EQ(ipPacket(*joined), ipPacket(segment));
  EXPECT_TRUE(sameMac(d.eth_src, portMac()));
  bool to_a_backend = false;
  for (uint8_t host = 11; host <= 13; ++host) to_a_backend |= sameMac(d.eth_dst, backendMac(host));
  EXPECT_TRUE(to_a_backend);
}

// IPIP: the reassembled datagram is encapsulated whole and the outer packet is fragmented (its DF is
// clear, as the inner's was); the backend's stack joins the outer fragments and finds the original.
// The same holds for an unfragmented packet without DF that only the outer header makes too large,
// which a worker without a fragment table drops as too_big (ipip_mtu_test.cc).
TEST_F(Ipv4FragmentsTest, IpipFragmentsTheOuterPacket) {
  openTcp(kIpipPort);
  const Bytes segment =
      fromClient().tcp(kClientPort, kIpipPort, kAck | RTE_TCP_PSH_FLAG).payload(pattern(3000)).build();
  EXPECT_EQ(send(fragmentFrame(segment, kChunk)).kind, VerdictKind::kForwarded);
  absl::StatusOr<Bytes> joined = joinFragments(popAll(), kMtu);
  ASSERT_TRUE(joined.ok()) << joined.status();
  DecodedFrame outer = decode(*joined);
  EXPECT_EQ(outer.protocol, IPPROTO_IPIP);
  EXPECT_EQ(outer.ip_src, kPortIp);
  EXPECT_NE(backendHost(outer.ip_dst), 0);
  EXPECT_EQ(Bytes(joined->begin() + sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr), joined->end()), ipPacket(segment));

  const Bytes full = fromClient().tcp(kClientPort, kIpipPort, kAck).payload(pattern(kMtu - 40)).build();
  EXPECT_EQ(w_.process(snap_, full).kind, VerdictKind::kForwarded);
  const std::vector<Bytes> out = popAll();
  EXPECT_EQ(out.size(), 2u);
  joined = joinFragments(out, kMtu);
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_EQ(Bytes(joined->begin() + sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr), joined->end()), ipPacket(full));
  EXPECT_EQ(w_.drops(DropReason::kTooBig), 0u);
  EXPECT_EQ(w_.counters().fragments_out.read(), 3u + 2u);
}

// Answers built in place from a reassembled datagram's headers carry none of its payload, and leave
// as one segment: ICMP fragmentation needed for an IPIP datagram whose fragments claim DF (forged:
// a fragment cannot have it), and the RST for a segment of a flow whose backend was reset.
TEST_F(Ipv4FragmentsTest, AnswersToReassembledDatagramsAreOneSegment) {
  openTcp(kIpipPort);
  const Bytes segment =
      fromClient().tcp(kClientPort, kIpipPort, kAck | RTE_TCP_PSH_FLAG).payload(pattern(3000)).build();
  std::vector<Bytes> fragments = fragmentFrame(segment, kChunk);
  put16(fragments[0], sizeof(rte_ether_hdr) + 6, RTE_IPV4_HDR_DF_FLAG | RTE_IPV4_HDR_MF_FLAG);
  resealHeader(fragments[0]);
  EXPECT_EQ(send(fragments).kind, VerdictKind::kAnswered);
  ASSERT_EQ(w_.txCount(0), 1);
  const Bytes answer = w_.popTx(0).value_or(Bytes{});  // popTx checks it is one segment
  expectIcmpFromVipToClient(answer);
  EXPECT_EQ(answer.size(), sizeof(rte_ether_hdr) + 20 + 8 + 20 + 8);

  openTcp(kDsrPort);
  SnapshotSource source;
  std::unique_ptr<Snapshot> resetting = source.build();
  ASSERT_NE(resetting, nullptr);
  resetting->reset_flows_of_slot.fill(1);
  const Bytes data = fromClient().tcp(kClientPort, kDsrPort, kAck | RTE_TCP_PSH_FLAG).payload(pattern(3000)).build();
  fragments = fragmentFrame(data, kChunk);
  for (size_t i = 0; i + 1 < fragments.size(); ++i) w_.process(*resetting, fragments[i]);
  EXPECT_EQ(w_.process(*resetting, fragments.back()).kind, VerdictKind::kAnswered);
  const Bytes rst = w_.popTx(0).value_or(Bytes{});
  expectReplyToClient(rst, kDsrPort, kClientPort);
  EXPECT_EQ(decode(rst).tcp_flags, RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG);
  EXPECT_EQ(rst.size(), sizeof(rte_ether_hdr) + 20 + 20u);
  EXPECT_TRUE(l4ChecksumValid(rst, sizeof(rte_ether_hdr)));
}

// A 3000-byte ping to the VIP: answered with an echo reply of the same data, in fragments.
TEST_F(Ipv4FragmentsTest, LargePingToTheVipIsAnswered) {
  const Bytes data = pattern(3000);
  const Bytes ping = fromClient().icmpEcho(true, 0x77, 3).payload(data).build();
  EXPECT_EQ(send(fragmentFrame(ping, kChunk)).kind, VerdictKind::kAnswered);
  const absl::StatusOr<Bytes> joined = joinFragments(popAll(), kMtu);
  ASSERT_TRUE(joined.ok()) << joined.status();
  expectIcmpFromVipToClient(*joined);
  EXPECT_EQ(decode(*joined).icmp_type, RTE_IP_ICMP_ECHO_REPLY);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), joined->end() - data.size()));
}

// A datagram whose fragments stop coming is freed after the timeout: by the worker's periodic expiry
// (Ipv4Fragments::expire), or when a late fragment of it finds the entry stale. Either way its
// fragments count as reassembly_failed and nothing reaches a backend.
TEST_F(Ipv4FragmentsTest, IncompleteDatagramsTimeOut) {
  const std::vector<Bytes> a = fragmentFrame(bigUdpToVip(4000, 1), kChunk);
  EXPECT_EQ(w_.process(snap_, a[0], 0, 0).kind, VerdictKind::kHeld);
  EXPECT_EQ(w_.process(snap_, a[1], 0, 10).kind, VerdictKind::kHeld);
  EXPECT_EQ(w_.ctx().fragments->expire(kTimeout / 2), 0u) << "not yet";
  EXPECT_EQ(w_.ctx().fragments->expire(kTimeout + 1), 2u);

  const std::vector<Bytes> b = fragmentFrame(bigUdpToVip(4000, 2), kChunk);
  EXPECT_EQ(w_.process(snap_, b[0], 0, 2 * kTimeout).kind, VerdictKind::kHeld);
  EXPECT_EQ(w_.process(snap_, b[1], 0, 4 * kTimeout).kind, VerdictKind::kHeld) << "starts the datagram afresh";
  EXPECT_EQ(failed(), 1u) << "the stale first fragment";
  EXPECT_EQ(w_.process(snap_, b[2], 0, 4 * kTimeout).kind, VerdictKind::kHeld) << "its first fragment is gone";
  EXPECT_EQ(w_.ctx().fragments->expire(6 * kTimeout), 2u);
  EXPECT_EQ(w_.txCount(0), 0);
}

// Overlapping fragments (the classic evasion trick: the overlap rewrites bytes the first fragment
// carried) and a datagram in more fragments than the table holds are both given up on.
TEST_F(Ipv4FragmentsTest, OverlappingOrTooManyFragmentsAreGivenUpOn) {
  std::vector<Bytes> overlapping = fragmentFrame(bigUdpToVip(4000, 3), kChunk);
  put16(overlapping[1], sizeof(rte_ether_hdr) + 6, 0x2000 | ((kChunk - 8) / 8));
  resealHeader(overlapping[1]);
  for (const Bytes& f : overlapping) EXPECT_EQ(w_.process(snap_, f).kind, VerdictKind::kHeld);
  EXPECT_EQ(failed(), overlapping.size()) << "given up on as soon as the overlap shows";

  // Six middle fragments fit beside the first and the last; the seventh ends the datagram, and the
  // rest start one that can never complete, which the timeout frees (the worker counts what expire
  // returns as reassembly_failed).
  const std::vector<Bytes> many = fragmentFrame(bigUdpToVip(400, 4), 32);
  ASSERT_EQ(many.size(), 13u);
  for (const Bytes& f : many) EXPECT_EQ(w_.process(snap_, f).kind, VerdictKind::kHeld);
  EXPECT_EQ(failed(), overlapping.size() + RTE_LIBRTE_IP_FRAG_MAX_FRAG);
  EXPECT_EQ(w_.ctx().fragments->expire(10 * kTimeout), many.size() - RTE_LIBRTE_IP_FRAG_MAX_FRAG);
  EXPECT_EQ(w_.txCount(0), 0);
  EXPECT_EQ(w_.counters().datagrams_reassembled.read(), 0u);
}

// With the table full of incomplete datagrams, a fragment of yet another is freed at once (counted),
// and the held ones still complete.
TEST_F(Ipv4FragmentsTest, FullTableRefusesNewDatagrams) {
  ASSERT_NO_FATAL_FAILURE(useTable(4));
  std::vector<std::vector<Bytes>> held;
  for (uint16_t id = 1; id <= 4; ++id) {
    held.push_back(fragmentFrame(bigUdpToVip(2000, id), kChunk));
    EXPECT_EQ(w_.process(snap_, held.back()[0]).kind, VerdictKind::kHeld);
  }
  const std::vector<Bytes> extra = fragmentFrame(bigUdpToVip(2000, 99), kChunk);
  w_.process(snap_, extra[0]);
  EXPECT_EQ(failed(), 1u);
  for (const std::vector<Bytes>& d : held) EXPECT_EQ(w_.process(snap_, d[1]).kind, VerdictKind::kForwarded);
  EXPECT_EQ(w_.counters().datagrams_reassembled.read(), 4u);
}

// Fragments to an address that is neither a VIP nor Tether's own are not held; a first fragment too
// short to carry the whole TCP header (RFC 1858's tiny-fragment attack) makes a datagram whose header
// cannot be read from its first segment: malformed, never forwarded.
TEST_F(Ipv4FragmentsTest, StrangersAndTinyFirstFragmentsAreDropped) {
  const Bytes stranger = fromClient(kOtherIp).udp(kClientPort, kUdpPort).payload(pattern(3000)).build();
  EXPECT_EQ(w_.process(snap_, fragmentFrame(stranger, kChunk)[0]).drop, DropReason::kNotForUs);
  EXPECT_EQ(w_.counters().fragments_in.read(), 0u);

  openTcp(kDsrPort);
  const Bytes segment = fromClient().tcp(kClientPort, kDsrPort, kAck).payload(pattern(64)).build();
  const std::vector<Bytes> tiny = fragmentFrame(segment, 80, /*first_chunk=*/8);
  ASSERT_EQ(tiny.size(), 2u);
  for (size_t i = 0; i + 1 < tiny.size(); ++i) EXPECT_EQ(w_.process(snap_, tiny[i]).kind, VerdictKind::kHeld);
  const Verdict v = w_.process(snap_, tiny.back());
  EXPECT_EQ(v.kind, VerdictKind::kDropped);
  EXPECT_EQ(v.drop, DropReason::kMalformed);
  EXPECT_EQ(w_.txCount(0), 0);
}

}  // namespace
}  // namespace lb::dataplane::test
