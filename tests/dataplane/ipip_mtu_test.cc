// IPIP and the egress MTU: a packet that fits once its 20-byte outer header is added is forwarded; a
// larger one with DF set is answered with ICMP fragmentation needed carrying the usable MTU (RFC 792,
// RFC 1191), on the slow path and when its flow is armed for the established path; without DF it is
// dropped as too_big.
#include <rte_icmp.h>
#include <rte_ip.h>

#include "tests/dataplane/packet_test_util.h"

namespace lb::dataplane::test {
namespace {

constexpr uint16_t kMtu = 1500;
constexpr uint16_t kUsable = kMtu - 20;
constexpr uint16_t kTcpOverhead = 20 + 20;  // IPv4 + TCP headers of the inner packet

class IpipMtuTest : public testing::Test {
 protected:
  void SetUp() override { baseline_ = poolInUse(); }
  void TearDown() override {
    w_.drain();
    EXPECT_EQ(poolInUse(), baseline_) << "mbufs leaked";
  }

  // A client segment to the IPIP service whose IP packet is `ip_len` bytes.
  static Bytes segment(uint16_t ip_len, bool df, uint8_t flags = kAck | RTE_TCP_PSH_FLAG) {
    PacketBuilder b = fromClient();
    b.tcp(kClientPort, kIpipPort, flags, 5001);
    if (df) b.dontFragment();
    return b.payload(Bytes(ip_len - kTcpOverhead, 0x6b)).build();
  }
  uint64_t tooBig() const { return w_.counters().icmp_too_big.read(); }

  // Checks `frame` is the ICMP fragmentation-needed answer to `original`.
  static void expectFragNeeded(const Bytes& frame, const Bytes& original) {
    expectIcmpFromVipToClient(frame);
    expectFragmentationNeeded(frame, original, kUsable);
  }

  unsigned baseline_ = 0;
  WorkerHarness w_{0, twoWorkerPartition()};
};

// The largest packet that fits is encapsulated to exactly the MTU; one byte more with DF gets the
// ICMP answer on the port it came in on, and the backend gets nothing.
TEST_F(IpipMtuTest, OneByteOverTheMtuIsAnsweredWithFragmentationNeeded) {
  const Snapshot& snap = standardSnapshot();
  ASSERT_EQ(snap.ports[0].mtu, kMtu);
  EXPECT_EQ(w_.process(snap, fromClient().tcp(kClientPort, kIpipPort, kSyn, 5000).build()).kind,
            VerdictKind::kForwarded);
  w_.popTx(0);
  EXPECT_EQ(w_.process(snap, segment(kUsable, true)).kind, VerdictKind::kForwarded);
  const DecodedFrame fits = decode(w_.popTx(0).value_or(Bytes{}));
  EXPECT_EQ(fits.protocol, 4) << "IPIP";
  EXPECT_EQ(fits.total_length, kMtu);

  const Bytes big = segment(kUsable + 1, true);
  const Verdict v = w_.process(snap, big);
  EXPECT_EQ(v.kind, VerdictKind::kAnswered);
  EXPECT_EQ(v.tx_port, 0);
  ASSERT_EQ(w_.txCount(0), 1);
  expectFragNeeded(w_.popTx(0).value_or(Bytes{}), big);
  EXPECT_EQ(tooBig(), 1u);
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// Without DF the packet cannot be answered that way: it is dropped and counted.
TEST_F(IpipMtuTest, WithoutDontFragmentItIsDroppedAsTooBig) {
  const Snapshot& snap = standardSnapshot();
  const Verdict v = w_.process(snap, segment(kUsable + 100, false, kSyn));
  EXPECT_EQ(v.kind, VerdictKind::kDropped);
  EXPECT_EQ(v.drop, DropReason::kTooBig);
  EXPECT_EQ(w_.drops(DropReason::kTooBig), 1u);
  EXPECT_EQ(w_.txCount(0), 0);
  EXPECT_EQ(tooBig(), 0u);
}

// An armed flow's oversized packet leaves the established path for the slow path, which answers it;
// the flow's next packet that fits is on the established path again.
TEST_F(IpipMtuTest, ArmedFlowsOversizedPacketIsAnsweredToo) {
  const Snapshot& snap = standardSnapshot();
  for (const uint8_t flags : {kSyn, kAck}) {
    EXPECT_EQ(w_.process(snap, fromClient().tcp(kClientPort, kIpipPort, flags, 5000).build()).kind,
              VerdictKind::kForwarded);
    w_.popTx(0);
  }
  const uint64_t established = w_.counters().established_path.read();
  const Bytes big = segment(kMtu, true);
  EXPECT_EQ(w_.process(snap, big).kind, VerdictKind::kAnswered);
  expectFragNeeded(w_.popTx(0).value_or(Bytes{}), big);
  EXPECT_EQ(w_.counters().established_path.read(), established);
  EXPECT_EQ(w_.process(snap, segment(kUsable, true)).kind, VerdictKind::kForwarded);
  EXPECT_EQ(decode(w_.popTx(0).value_or(Bytes{})).total_length, kMtu);
  EXPECT_EQ(w_.counters().established_path.read(), established + 1);
  EXPECT_EQ(tooBig(), 1u);
}

}  // namespace
}  // namespace lb::dataplane::test
