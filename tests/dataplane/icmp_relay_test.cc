// Full-NAT and ICMP errors (dataplane/icmp_errors.h): an error a backend or a router sends to
// Tether's local address about a packet Tether forwarded is translated back to the client's own view
// (outer header VIP -> client, quoted packet client -> VIP with its checksums restored) and sent to
// the client, by the lcore that owns the flow. Errors about no known flow are dropped and counted.
#include <rte_icmp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "tests/dataplane/packet_test_util.h"

namespace lb::dataplane::test {
namespace {

constexpr uint32_t kRouterIp = ipv4(10, 99, 0, 1);

class IcmpRelayTest : public testing::Test {
 protected:
  void SetUp() override {
    baseline_ = poolInUse();
    w0_.connectTo(w1_);
    w1_.connectTo(w0_);
  }
  void TearDown() override {
    w0_.drain();
    w1_.drain();
    EXPECT_EQ(poolInUse(), baseline_) << "mbufs leaked";
  }

  // Sends a client frame through `w` and returns what it sent to the backend.
  static Bytes toBackend(WorkerHarness& w, const Bytes& frame) {
    EXPECT_EQ(w.process(standardSnapshot(), frame).kind, VerdictKind::kForwarded);
    return w.popTx(0).value_or(Bytes{});
  }

  // Checks that `relayed` is `error` turned toward the client, quoting exactly `original` (the
  // client's packet, cut to the quote's length).
  static void expectRelayed(const Bytes& relayed, uint8_t type, uint8_t code, uint32_t rest, const Bytes& original) {
    expectIcmpFromVipToClient(relayed);
    const DecodedFrame d = decode(relayed);
    ASSERT_TRUE(d.has_ipv4);
    const size_t icmp = d.l4_offset;
    EXPECT_EQ(relayed[icmp], type);
    EXPECT_EQ(relayed[icmp + 1], code);
    EXPECT_EQ(uint32_t{relayed[icmp + 4]} << 24 | uint32_t{relayed[icmp + 5]} << 16 | uint32_t{relayed[icmp + 6]} << 8 |
                  relayed[icmp + 7],
              rest);
    const Bytes quote(relayed.begin() + static_cast<std::ptrdiff_t>(icmp + 8),
                      relayed.begin() + static_cast<std::ptrdiff_t>(d.l3_offset + d.total_length));
    EXPECT_EQ(quote, Bytes(original.begin(), original.begin() + static_cast<std::ptrdiff_t>(quote.size())))
        << "the quote must read as the client's own packet, checksums included";
  }

  unsigned baseline_ = 0;
  WorkerHarness w0_{0, twoWorkerPartition()};
  WorkerHarness w1_{1, twoWorkerPartition()};
};

// A router on the backend side cannot pass a full-size segment: its "fragmentation needed" quotes the
// whole NATed segment, and the client gets it about its own segment, MTU unchanged (full-NAT adds no
// bytes), every checksum of the quote restored.
TEST_F(IcmpRelayTest, FragmentationNeededFromARouterReachesTheClient) {
  toBackend(w0_, fromClient().tcp(kClientPort, kWebPort, kSyn, 5000).build());
  const Bytes segment = fromClient().tcp(kClientPort, kWebPort, kAck | RTE_TCP_PSH_FLAG, 5001, 77)
                            .dontFragment().payload(Bytes(100, 0x42)).build();
  const Bytes natted = toBackend(w0_, segment);
  constexpr uint32_t kMtu = 1400;
  const Bytes error = icmpErrorToPort(kRouterIp, backendMac(11), 3, 4, kMtu, ipPacket(natted));
  const Verdict v = w0_.process(standardSnapshot(), error);
  EXPECT_EQ(v.kind, VerdictKind::kForwarded);
  EXPECT_EQ(v.tx_port, 0);
  expectRelayed(w0_.popTx(0).value_or(Bytes{}), 3, 4, kMtu, ipPacket(segment));
  EXPECT_EQ(w0_.counters().icmp_relayed.read(), 1u);
  EXPECT_EQ(w0_.totalDrops(), 0u);
}

// A backend with nothing on the UDP port answers "port unreachable" quoting the IP header and 8 bytes:
// the client's UDP header comes back, its checksum the client's own.
TEST_F(IcmpRelayTest, UdpPortUnreachableFromTheBackendReachesTheClient) {
  const Bytes datagram = fromClient().udp(kClientPort, kUdpPort).payload({'p', 'i', 'n', 'g'}).build();
  const Bytes natted = toBackend(w0_, datagram);
  const DecodedFrame out = decode(natted);
  const uint8_t backend = backendHost(out.ip_dst);
  ASSERT_NE(backend, 0);
  const Bytes error = icmpErrorToPort(backendIp(backend), backendMac(backend), 3, 3, 0, ipPacket(natted, 20 + 8));
  EXPECT_EQ(w0_.process(standardSnapshot(), error).kind, VerdictKind::kForwarded);
  expectRelayed(w0_.popTx(0).value_or(Bytes{}), 3, 3, 0, ipPacket(datagram));
}

// The flow's local port belongs to worker 1: worker 0 hands the error over, and worker 1 relays it.
TEST_F(IcmpRelayTest, ErrorForAnotherWorkersFlowIsHandedToTheOwner) {
  const Bytes datagram = fromClient().udp(kClientPort, kUdpPort).payload({'x'}).build();
  const Bytes natted = toBackend(w1_, datagram);
  ASSERT_EQ(twoWorkerPartition().ownerOf(decode(natted).src_port), 1);
  const Bytes error = icmpErrorToPort(kRouterIp, backendMac(11), 11, 0, 0, ipPacket(natted, 20 + 8));
  EXPECT_EQ(w0_.process(standardSnapshot(), error).kind, VerdictKind::kHandedOff);
  void* obj = nullptr;
  ASSERT_EQ(rte_ring_dequeue(w1_.handoffIn(), &obj), 0);
  auto* m = static_cast<rte_mbuf*>(obj);
  EXPECT_EQ(w1_.processMbuf(standardSnapshot(), m, m->port).kind, VerdictKind::kForwarded);
  expectRelayed(w1_.popTx(0).value_or(Bytes{}), 11, 0, 0, ipPacket(datagram));
  EXPECT_EQ(w1_.counters().icmp_relayed.read(), 1u);
}

// Errors that are not about a known full-NAT flow go nowhere: a local port without a flow is
// no_flow; a quote from outside the local port range, a truncated quote and a quoted protocol other
// than TCP/UDP are not full-NAT's (unsupported, with no exception path configured).
TEST_F(IcmpRelayTest, ErrorsAboutNoKnownFlowAreDroppedAndCounted) {
  const Bytes natted = toBackend(w0_, fromClient().udp(kClientPort, kUdpPort).build());
  Bytes quote = ipPacket(natted, 20 + 8);
  const DecodedFrame out = decode(natted);
  Bytes unknown = quote;
  const uint16_t unused_port = static_cast<uint16_t>(out.src_port + 1);  // worker 0's, without a flow
  ASSERT_EQ(twoWorkerPartition().ownerOf(unused_port), 0);
  unknown[20] = static_cast<uint8_t>(unused_port >> 8);
  unknown[21] = static_cast<uint8_t>(unused_port);
  EXPECT_EQ(w0_.process(standardSnapshot(), icmpErrorToPort(kRouterIp, backendMac(11), 3, 1, 0, unknown)).drop,
            DropReason::kNoFlow);
  Bytes outside = quote;
  outside[20] = 0xff;  // source port 65xxx: not a local port
  EXPECT_EQ(w0_.process(standardSnapshot(), icmpErrorToPort(kRouterIp, backendMac(11), 3, 1, 0, outside)).drop,
            DropReason::kUnsupported);
  EXPECT_EQ(w0_.process(standardSnapshot(), icmpErrorToPort(kRouterIp, backendMac(11), 3, 1, 0, ipPacket(natted, 20 + 4))).drop,
            DropReason::kUnsupported);
  Bytes gre = quote;
  gre[9] = 47;
  EXPECT_EQ(w0_.process(standardSnapshot(), icmpErrorToPort(kRouterIp, backendMac(11), 3, 1, 0, gre)).drop,
            DropReason::kUnsupported);
  EXPECT_EQ(w0_.counters().icmp_relayed.read(), 0u);
  EXPECT_EQ(w0_.txCount(0), 0);
}

}  // namespace
}  // namespace lb::dataplane::test
