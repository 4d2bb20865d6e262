// Table-driven processBurst tests (house style section 9): each row is
// {description, input frame, expected verdict (kind + drop reason), expected output frame or checks on
// its fields}, run through one worker with no NIC against the standard snapshot (test_topology.h).
// Every row also proves the accounting: exactly the expected drop counter moved, and every mbuf is
// back in the pool once the output has been taken.
#include <rte_icmp.h>
#include <rte_ip.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/dataplane/packet_test_util.h"

namespace lb::dataplane::test {
namespace {

struct CaseEnv {
  const Bytes& input;
  const Bytes& output;  // empty when the packet was dropped
  const Snapshot& snap;
  WorkerHarness& worker;
};

struct PacketCase {
  std::string name;
  Bytes input;
  VerdictKind kind = VerdictKind::kDropped;
  DropReason drop = DropReason::kCount;   // only for kDropped
  std::optional<Bytes> expected_frame;    // exact output frame, when it is fully predictable
  std::function<void(const CaseEnv&)> check;  // expectations on output fields
  std::optional<uint16_t> headroom;       // shrink the mbuf's headroom before processing
  bool chained = false;                   // append a second segment (a jumbo-style chain)
};

void PrintTo(const PacketCase& c, std::ostream* os) { *os << c.name; }

template <class F>
Bytes with(Bytes frame, F&& mutate) {
  mutate(frame);
  return frame;
}

void set16(Bytes& b, size_t at, uint16_t host_value) {
  b[at] = static_cast<uint8_t>(host_value >> 8);
  b[at + 1] = static_cast<uint8_t>(host_value);
}

// Offsets in an untagged frame with a 20-byte IPv4 header.
constexpr size_t kIp = 14;
constexpr size_t kL4 = 34;

Bytes webSyn(uint16_t client_port = kClientPort) {
  return fromClient().tcp(client_port, kWebPort, kSyn).build();
}

void checkWebForward(const CaseEnv& env) {
  expectFullNatToBackend(env.input, env.output, kWebBackendPort, twoWorkerPartition(), 0);
  const DecodedFrame out = decode(env.output);
  const Service& web = serviceOn(env.snap, kWebPort);
  const int pos = backendPosition(web, out.ip_dst);
  ASSERT_GE(pos, 0);
  const LcoreCounters& c = env.worker.counters();
  EXPECT_EQ(c.flows_created.read(), 1u);
  EXPECT_EQ(c.backends[web.backends[static_cast<size_t>(pos)].counter_slot].new_flows.read(), 1u);
  EXPECT_EQ(c.backends[web.backends[static_cast<size_t>(pos)].counter_slot].to_backend.packets.read(), 1u);
  EXPECT_EQ(env.worker.ctx().flows.size(), 1u);
}

void checkUdpForward(const CaseEnv& env) {
  expectFullNatToBackend(env.input, env.output, kUdpBackendPort, twoWorkerPartition(), 0);
  EXPECT_EQ(env.worker.counters().flows_created.read(), 1u);
}

// DSR: the frame leaves with the backend's MAC as destination and the port's as source; every byte
// from the ethertype on is the client's.
void checkDsr(const CaseEnv& env) {
  ASSERT_EQ(env.output.size(), env.input.size());
  const DecodedFrame out = decode(env.output);
  const uint8_t host = backendHost(ipv4(10, 99, 0, out.eth_dst.addr_bytes[5]));  // MAC ends in the host octet
  ASSERT_NE(host, 0) << "eth dst is not a backend MAC";
  EXPECT_TRUE(sameMac(out.eth_dst, backendMac(host)));
  EXPECT_TRUE(sameMac(out.eth_src, portMac()));
  EXPECT_TRUE(std::equal(env.input.begin() + 12, env.input.end(), env.output.begin() + 12))
      << "DSR must not touch IP or TCP bytes";
  EXPECT_EQ(env.worker.counters().flows_created.read(), 1u);
}

// IPIP (RFC 2003): outer header from the port address to the chosen backend, then the inner packet
// byte for byte.
void checkIpip(const CaseEnv& env) {
  const DecodedFrame in = decode(env.input);
  const DecodedFrame out = decode(env.output);
  ASSERT_TRUE(out.has_ipv4);
  EXPECT_FALSE(out.vlan_tci.has_value());
  EXPECT_EQ(out.protocol, IPPROTO_IPIP);
  EXPECT_EQ(out.ihl_bytes, 20);
  EXPECT_EQ(out.ip_src, kPortIp);
  const uint8_t host = backendHost(out.ip_dst);
  ASSERT_NE(host, 0);
  EXPECT_TRUE(sameMac(out.eth_dst, backendMac(host)));
  EXPECT_TRUE(sameMac(out.eth_src, portMac()));
  EXPECT_EQ(out.total_length, in.total_length + 20);
  EXPECT_EQ(out.fragment_offset & 0x3fff, 0);
  EXPECT_GT(out.ttl, 0);
  EXPECT_TRUE(ipv4HeaderChecksumValid(env.output, out.l3_offset));
  EXPECT_EQ(out.ip_checksum, recomputeIpv4Checksum(env.output, out.l3_offset));
  ASSERT_EQ(env.output.size(), env.input.size() + 20);
  EXPECT_TRUE(std::equal(env.input.begin() + static_cast<ptrdiff_t>(in.l3_offset), env.input.end(),
                         env.output.begin() + static_cast<ptrdiff_t>(out.l3_offset + 20)))
      << "inner packet modified";
  EXPECT_EQ(env.worker.counters().flows_created.read(), 1u);
}

void checkArpAnswered(const CaseEnv& env) { EXPECT_EQ(env.worker.counters().arp_replies.read(), 1u); }
void checkIcmpAnswered(const CaseEnv& env) {
  const DecodedFrame out = decode(env.output);
  EXPECT_EQ(out.icmp_type, RTE_IP_ICMP_ECHO_REPLY);
  EXPECT_TRUE(l4ChecksumValid(env.output, out.l3_offset)) << "ICMP checksum invalid";
  EXPECT_TRUE(ipv4HeaderChecksumValid(env.output, out.l3_offset));
  EXPECT_EQ(env.worker.counters().icmp_replies.read(), 1u);
}

const Bytes kPayload = {'h', 'e', 'l', 'l', 'o', ' ', 't', 'e', 't', 'h', 'e', 'r'};

std::vector<PacketCase> cases() {
  std::vector<PacketCase> v;
  auto forwarded = [&](std::string name, Bytes in, std::function<void(const CaseEnv&)> check) {
    v.push_back({std::move(name), std::move(in), VerdictKind::kForwarded, DropReason::kCount, std::nullopt,
                 std::move(check), std::nullopt});
  };
  auto answered = [&](std::string name, Bytes in, Bytes expected, std::function<void(const CaseEnv&)> check) {
    v.push_back({std::move(name), std::move(in), VerdictKind::kAnswered, DropReason::kCount,
                 std::move(expected), std::move(check), std::nullopt});
  };
  auto dropped = [&](std::string name, Bytes in, DropReason reason) {
    v.push_back({std::move(name), std::move(in), VerdictKind::kDropped, reason, std::nullopt, nullptr,
                 std::nullopt});
  };

  // --- full-NAT, DSR, IPIP toward a backend --------------------------------------------------------
  forwarded("FullNatTcpSyn", webSyn(), checkWebForward);
  // A SYN with data, as TCP Fast Open sends it (a later segment without a flow would walk to the
  // other worker first: PacketFlowTest.SegmentWithoutAFlowWalksTheWorkers).
  forwarded("FullNatTcpWithPayload",
            fromClient().tcp(kClientPort, kWebPort, kSyn, 77, 0).payload(kPayload).build(),
            checkWebForward);
  forwarded("FullNatTcpWithIpOptions",
            fromClient().ipOptions({0x94, 0x04, 0x00, 0x00}).tcp(kClientPort, kWebPort, kSyn).build(),
            checkWebForward);
  forwarded("FullNatTcpWithEthernetPadding", fromClient().tcp(kClientPort, kWebPort, kSyn).padTo(60).build(),
            [](const CaseEnv& env) {
              ASSERT_EQ(env.output.size(), 60u);
              // Padding past total_length is not part of the TCP checksum; compare the IP packet only.
              const Bytes in(env.input.begin(), env.input.begin() + 54);
              const Bytes out(env.output.begin(), env.output.begin() + 54);
              expectFullNatToBackend(in, out, kWebBackendPort, twoWorkerPartition(), 0);
            });
  // A port configured untagged owns no VLAN: tagged frames belong to another segment.
  dropped("FullNatTcpTaggedInputOnUntaggedPort", fromClient().vlan(7).tcp(kClientPort, kWebPort, kSyn).build(),
          DropReason::kNotForUs);
  forwarded("FullNatUdp", fromClient().udp(5353, kUdpPort).payload(kPayload).build(), checkUdpForward);
  forwarded("FullNatUdpZeroChecksumStaysZero",
            fromClient().udp(5353, kUdpPort).payload(kPayload).zeroUdpChecksum().build(), [](const CaseEnv& env) {
              checkUdpForward(env);
              EXPECT_EQ(decode(env.output).l4_checksum, 0);
            });
  forwarded("DsrTcp", fromClient().tcp(kClientPort, kDsrPort, kSyn).payload(kPayload).build(), checkDsr);
  dropped("DsrTcpTaggedInputOnUntaggedPort", fromClient().vlan(9).tcp(kClientPort, kDsrPort, kSyn).build(),
          DropReason::kNotForUs);
  forwarded("IpipTcp", fromClient().dontFragment().tcp(kClientPort, kIpipPort, kSyn).payload(kPayload).build(),
            checkIpip);
  dropped("IpipTcpTaggedInputOnUntaggedPort", fromClient().vlan(11).tcp(kClientPort, kIpipPort, kSyn).build(),
          DropReason::kNotForUs);
  forwarded("IpipTcpWithIpOptions",
            fromClient().ipOptions({0x94, 0x04, 0x00, 0x00}).tcp(kClientPort, kIpipPort, kSyn).build(), checkIpip);

  // --- ARP -------------------------------------------------------------------------------------------
  answered("ArpRequestForVip", arpRequest(clientMac(), kClientIp, kVip),
           arpReply(portMac(), kVip, clientMac(), kClientIp), checkArpAnswered);
  answered("ArpRequestForPortAddress", arpRequest(clientMac(), kClientIp, kPortIp),
           arpReply(portMac(), kPortIp, clientMac(), kClientIp), checkArpAnswered);
  dropped("ArpRequestTaggedOnUntaggedPort", arpRequest(clientMac(), kClientIp, kVip, 7), DropReason::kNotForUs);
  dropped("ArpRequestForOtherAddress", arpRequest(clientMac(), kClientIp, kOtherIp), DropReason::kNotForUs);
  v.push_back({"ArpReplyToPortAddressGoesToControl", arpReply(backendMac(11), backendIp(11), portMac(), kPortIp),
               VerdictKind::kToControl, DropReason::kCount,
               arpReply(backendMac(11), backendIp(11), portMac(), kPortIp), nullptr, std::nullopt});
  dropped("ArpReplyToOtherAddress", arpReply(backendMac(11), backendIp(11), clientMac(), kOtherIp),
          DropReason::kNotForUs);
  dropped("ArpNonEthernetHardware",
          with(arpRequest(clientMac(), kClientIp, kVip), [](Bytes& b) { set16(b, kIp, 6); }),
          DropReason::kUnsupported);
  dropped("ArpTruncated", with(arpRequest(clientMac(), kClientIp, kVip), [](Bytes& b) { b.resize(14 + 20); }),
          DropReason::kMalformed);

  // --- ICMP ------------------------------------------------------------------------------------------
  answered("IcmpEchoToVip", fromClient().icmpEcho(true, 0x77, 1).payload(kPayload).build(),
           PacketBuilder().ethernet(portMac(), clientMac()).ipv4(kVip, kClientIp).icmpEcho(false, 0x77, 1)
               .payload(kPayload).build(),
           checkIcmpAnswered);
  answered("IcmpEchoToPortAddress", fromClient(kPortIp).icmpEcho(true, 0x78, 2).build(),
           PacketBuilder().ethernet(portMac(), clientMac()).ipv4(kPortIp, kClientIp).icmpEcho(false, 0x78, 2)
               .build(),
           checkIcmpAnswered);
  dropped("IcmpEchoToOtherAddress", fromClient(kOtherIp).icmpEcho(true, 1, 1).build(), DropReason::kNotForUs);
  dropped("IcmpEchoReplyToVip", fromClient().icmpEcho(false, 1, 1).build(), DropReason::kUnsupported);
  dropped("IcmpTruncated",
          with(fromClient().icmpEcho(true, 1, 1).build(), [](Bytes& b) { set16(b, kIp + 2, 24); b.resize(kIp + 24); }),
          DropReason::kMalformed);

  // --- malformed and hostile frames ------------------------------------------------------------------
  dropped("ShorterThanEthernetHeader", Bytes(13, 0xab), DropReason::kMalformed);
  dropped("EmptyFrame", Bytes{}, DropReason::kMalformed);
  dropped("VlanTagTruncated", with(webSyn(), [](Bytes& b) { set16(b, 12, RTE_ETHER_TYPE_VLAN); b.resize(16); }),
          DropReason::kMalformed);
  dropped("TruncatedIpv4Header", with(webSyn(), [](Bytes& b) { b.resize(kIp + 19); }), DropReason::kMalformed);
  dropped("IpVersionNot4", with(webSyn(), [](Bytes& b) { b[kIp] = 0x65; }), DropReason::kMalformed);
  dropped("IhlBelow5", with(webSyn(), [](Bytes& b) { b[kIp] = 0x44; }), DropReason::kMalformed);
  dropped("IhlBeyondFrame", with(webSyn(), [](Bytes& b) { b[kIp] = 0x4f; b.resize(kIp + 40); set16(b, kIp + 2, 40); }),
          DropReason::kMalformed);
  dropped("TotalLengthBeyondFrame", with(webSyn(), [](Bytes& b) { set16(b, kIp + 2, 41); }), DropReason::kMalformed);
  dropped("TotalLengthBelowIhl", with(webSyn(), [](Bytes& b) { set16(b, kIp + 2, 19); }), DropReason::kMalformed);
  dropped("TcpHeaderTruncated", with(webSyn(), [](Bytes& b) { set16(b, kIp + 2, 30); b.resize(kIp + 30); }),
          DropReason::kMalformed);
  dropped("TcpDataOffsetBelow5", with(webSyn(), [](Bytes& b) { b[kL4 + 12] = 4 << 4; }), DropReason::kMalformed);
  dropped("TcpDataOffsetBeyondPacket", with(webSyn(), [](Bytes& b) { b[kL4 + 12] = 6 << 4; }),
          DropReason::kMalformed);
  dropped("UdpLengthBelow8",
          with(fromClient().udp(5353, kUdpPort).payload(kPayload).build(), [](Bytes& b) { set16(b, kL4 + 4, 7); }),
          DropReason::kMalformed);
  dropped("UdpLengthBeyondPacket",
          with(fromClient().udp(5353, kUdpPort).payload(kPayload).build(), [](Bytes& b) { set16(b, kL4 + 4, 21); }),
          DropReason::kMalformed);
  dropped("UdpHeaderTruncated",
          with(fromClient().udp(5353, kUdpPort).build(), [](Bytes& b) { set16(b, kIp + 2, 26); b.resize(kIp + 26); }),
          DropReason::kMalformed);
  // IPv6 is parsed (ipv6_path_test.cc): an IPv4 header under its ethertype has the wrong version.
  dropped("Ipv4HeaderUnderIpv6Ethertype", with(webSyn(), [](Bytes& b) { set16(b, 12, RTE_ETHER_TYPE_IPV6); }),
          DropReason::kMalformed);
  dropped("UnknownEthertype", with(webSyn(), [](Bytes& b) { set16(b, 12, 0x88cc); }), DropReason::kUnsupported);
  // Without a fragment table (Ipv4Fragments) the harness's worker cannot reassemble: fragments_test.cc.
  dropped("FragmentMoreFragments", with(webSyn(), [](Bytes& b) { set16(b, kIp + 6, RTE_IPV4_HDR_MF_FLAG); }),
          DropReason::kUnsupported);
  dropped("FragmentNonZeroOffset", with(webSyn(), [](Bytes& b) { set16(b, kIp + 6, 185); }),
          DropReason::kUnsupported);
  dropped("GreProtocol", fromClient().ipProtocol(47).payload(Bytes(24, 0)).build(), DropReason::kUnsupported);
  v.push_back({"ChainedMbufIsRefused", webSyn(), VerdictKind::kDropped, DropReason::kUnsupported, std::nullopt,
               nullptr, std::nullopt, /*chained=*/true});

  // --- addressing and service lookup -----------------------------------------------------------------
  dropped("TcpToVipPortWithoutService", fromClient().tcp(kClientPort, 443, kSyn).build(), DropReason::kUnknownVip);
  dropped("UdpToTcpOnlyVipPort", fromClient().udp(kClientPort, kWebPort).build(), DropReason::kUnknownVip);
  dropped("TcpToUnrelatedAddress", fromClient(kOtherIp).tcp(kClientPort, kWebPort, kSyn).build(),
          DropReason::kNotForUs);
  dropped("TcpToPortAddressOutsideLocalRange", fromClient(kPortIp).tcp(kClientPort, 22, kSyn).build(),
          DropReason::kNotForUs);
  dropped("ReplyToOwnLocalPortWithoutFlow", fromBackend(11).tcp(kWebBackendPort, 10000, kSynAck).build(),
          DropReason::kNoFlow);
  dropped("ServiceWithAllWeightsZero", fromClient().tcp(kClientPort, kDrainedPort, kSyn).build(),
          DropReason::kNoBackend);
  dropped("BackendWithoutNeighbourMac", fromClient().tcp(kClientPort, kUnresolvedPort, kSyn).build(),
          DropReason::kNoNeighbor);
  v.push_back({"IpipWithoutHeadroom", fromClient().tcp(kClientPort, kIpipPort, kSyn).build(),
               VerdictKind::kDropped, DropReason::kNoHeadroom, std::nullopt, nullptr, uint16_t{10}});

  // --- hand-off ---------------------------------------------------------------------------------------
  v.push_back({"ReplyForOtherWorkersLocalPortIsHandedOff",
               fromBackend(12).tcp(kWebBackendPort, 40000, kSynAck).build(), VerdictKind::kHandedOff,
               DropReason::kCount, fromBackend(12).tcp(kWebBackendPort, 40000, kSynAck).build(),
               [](const CaseEnv& env) { EXPECT_EQ(env.worker.counters().handoff_out.read(), 1u); }, std::nullopt});
  return v;
}

class PacketTableTest : public testing::TestWithParam<PacketCase> {
 protected:
  void SetUp() override {
    baseline_ = poolInUse();
    w0_ = std::make_unique<WorkerHarness>(0, twoWorkerPartition());
    w1_ = std::make_unique<WorkerHarness>(1, twoWorkerPartition());
    w0_->connectTo(*w1_);
  }
  void TearDown() override {
    w0_.reset();
    w1_.reset();
    EXPECT_EQ(poolInUse(), baseline_) << "mbufs leaked";
  }

  unsigned baseline_ = 0;
  std::unique_ptr<WorkerHarness> w0_;
  std::unique_ptr<WorkerHarness> w1_;
};

// Each row yields its verdict and output frame, moves only its own drop counter, and leaks no mbuf.
TEST_P(PacketTableTest, VerdictOutputAndCounters) {
  const PacketCase& c = GetParam();
  const Snapshot& snap = standardSnapshot();
  WorkerHarness& w = *w0_;

  rte_mbuf* m = toMbuf(testPool(), c.input);
  ASSERT_NE(m, nullptr);
  if (c.headroom) setHeadroom(m, *c.headroom);
  if (c.chained) {
    rte_mbuf* tail = toMbuf(testPool(), Bytes(10, 0));
    ASSERT_NE(tail, nullptr);
    ASSERT_EQ(rte_pktmbuf_chain(m, tail), 0);
  }
  const Verdict verdict = w.processMbuf(snap, m);

  EXPECT_EQ(verdict.kind, c.kind);
  if (c.kind == VerdictKind::kDropped) {
    EXPECT_EQ(verdict.drop, c.drop);
  }
  if (c.kind == VerdictKind::kForwarded || c.kind == VerdictKind::kAnswered) {
    EXPECT_EQ(verdict.tx_port, 0);
  }
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    const auto reason = static_cast<DropReason>(r);
    const bool expected = c.kind == VerdictKind::kDropped && reason == c.drop;
    EXPECT_EQ(w.drops(reason), expected ? 1u : 0u) << "drop counter " << dropReasonName(reason);
  }
  EXPECT_EQ(w.counters().rx_packets.read(), 1u);

  std::optional<Bytes> output;
  switch (c.kind) {
    case VerdictKind::kForwarded:
    case VerdictKind::kAnswered:
      ASSERT_EQ(w.txCount(0), 1);
      output = w.popTx(0);
      break;
    case VerdictKind::kToControl:
      output = WorkerHarness::popRing(w.controlRing());
      ASSERT_TRUE(output.has_value()) << "nothing on the control ring";
      break;
    case VerdictKind::kHandedOff:
      output = WorkerHarness::popRing(w1_->handoffIn());
      ASSERT_TRUE(output.has_value()) << "nothing on worker 1's hand-off ring";
      break;
    case VerdictKind::kDropped:
    case VerdictKind::kHeld:
      EXPECT_EQ(w.txCount(0), 0);
      break;
  }
  EXPECT_EQ(w.drain(), 0u) << "unexpected extra packets queued";
  EXPECT_EQ(w1_->drain(), 0u) << "unexpected packets for worker 1";

  if (c.expected_frame) {
    ASSERT_TRUE(output.has_value());
    EXPECT_EQ(*output, *c.expected_frame);
  }
  if (c.check) {
    const Bytes empty;
    c.check(CaseEnv{c.input, output ? *output : empty, snap, w});
  }
  EXPECT_EQ(poolInUse(), baseline_) << "mbuf not freed or queued exactly once";
}

INSTANTIATE_TEST_SUITE_P(Frames, PacketTableTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<PacketCase>& info) { return info.param.name; });

}  // namespace
}  // namespace lb::dataplane::test
