// ICMP errors passed on (dataplane/icmp_errors.h). Full-NAT: an error a backend or a router sends to
// Tether's local address about a packet Tether forwarded is translated back to the client's own view
// (outer header VIP -> client, quoted packet client -> VIP with its checksums restored) and sent to
// the client, by the lcore that owns the flow. Every mode: an error a client-side router sends to the
// VIP about a reply goes to the flow's backend, in the backend's own terms. Errors about no known flow
// are dropped and counted.
#include <rte_icmp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "tests/dataplane/packet_test_util.h"

namespace lb::dataplane::test {
namespace {

constexpr uint32_t kRouterIp = ipv4(10, 99, 0, 1);
constexpr uint32_t kRouterMtu = 1400;
constexpr size_t kLinuxQuote = 576 - 20 - 8;  // Linux quotes up to a 576-byte ICMP message

// ICMP error `type`/`code` from a client-side router to the VIP, quoting `quote` (a reply the client
// was sent, from its IP header on).
Bytes icmpErrorToVip(uint8_t type, uint8_t code, uint32_t rest, const Bytes& quote) {
  PacketBuilder b;
  b.ethernet(clientMac(), portMac()).ipv4(kRouterIp, kVip).icmpError(type, code, rest).payload(quote);
  return b.build();
}

Bytes slice(const Bytes& b, size_t from, size_t to = SIZE_MAX) {
  return Bytes(b.begin() + static_cast<std::ptrdiff_t>(from),
               b.begin() + static_cast<std::ptrdiff_t>(std::min(to, b.size())));
}

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

  // Takes what worker 0 handed to worker 1 and lets worker 1 process it.
  Verdict processHandOffAtWorker1() {
    void* obj = nullptr;
    if (rte_ring_dequeue(w1_.handoffIn(), &obj) != 0) {
      ADD_FAILURE() << "nothing handed to worker 1";
      return Verdict{};
    }
    auto* m = static_cast<rte_mbuf*>(obj);
    return w1_.processMbuf(standardSnapshot(), m, m->port);
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
  const Verdict v = w0_.process(standardSnapshot(), error);
  EXPECT_EQ(v.kind, VerdictKind::kHandedOff) << v.drop;
  EXPECT_EQ(processHandOffAtWorker1().kind, VerdictKind::kForwarded);
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

// DSR (L2): the backend sent the reply from the VIP, which it holds, so the router's error already
// reads as addressed to it; only the MACs change.
TEST_F(IcmpRelayTest, ErrorToTheVipAboutADsrReplyReachesItsBackendUnchanged) {
  const Bytes forwarded = toBackend(w0_, fromClient().tcp(kClientPort, kDsrPort, kSyn, 5000).build());
  ASSERT_FALSE(forwarded.empty());
  const Bytes reply = PacketBuilder()
                          .ethernet(backendMac(11), clientMac())
                          .ipv4(kVip, kClientIp)
                          .tcp(kDsrPort, kClientPort, kAck | RTE_TCP_PSH_FLAG, 7001, 5001)
                          .dontFragment()
                          .payload(Bytes(1448, 0x5a))
                          .build();
  const Bytes error = icmpErrorToVip(3, 4, kRouterMtu, ipPacket(reply, kLinuxQuote));
  const Verdict v = w0_.process(standardSnapshot(), error);
  EXPECT_EQ(v.kind, VerdictKind::kForwarded);
  const Bytes out = w0_.popTx(v.tx_port).value_or(Bytes{});
  ASSERT_EQ(out.size(), error.size());
  EXPECT_EQ(slice(out, 0, 12), slice(forwarded, 0, 12)) << "the backend's MAC, from the port's";
  EXPECT_EQ(slice(out, 12), slice(error, 12)) << "the message itself unchanged";
  EXPECT_EQ(w0_.counters().icmp_to_backend.read(), 1u);
  EXPECT_EQ(w0_.totalDrops(), 0u);
}

// IPIP: the same message, encapsulated toward the backend as the flow's packets are.
TEST_F(IcmpRelayTest, ErrorToTheVipAboutAnIpipReplyReachesItsBackendEncapsulated) {
  const Bytes forwarded = toBackend(w0_, fromClient().tcp(kClientPort, kIpipPort, kSyn, 5000).build());
  ASSERT_GE(forwarded.size(), 34u);
  const Bytes reply = PacketBuilder()
                          .ethernet(backendMac(11), clientMac())
                          .ipv4(kVip, kClientIp)
                          .tcp(kIpipPort, kClientPort, kAck, 7001, 5001)
                          .payload(Bytes(1200, 0x11))
                          .build();
  const Bytes error = icmpErrorToVip(3, 4, kRouterMtu, ipPacket(reply, 20 + 8));
  const Verdict v = w0_.process(standardSnapshot(), error);
  EXPECT_EQ(v.kind, VerdictKind::kForwarded);
  const Bytes out = w0_.popTx(v.tx_port).value_or(Bytes{});
  ASSERT_EQ(out.size(), error.size() + 20);
  const DecodedFrame outer = decode(out);
  const DecodedFrame flow_outer = decode(forwarded);
  EXPECT_EQ(outer.protocol, IPPROTO_IPIP);
  EXPECT_EQ(outer.ip_src, flow_outer.ip_src) << "the flow's outer source";
  EXPECT_EQ(outer.ip_dst, flow_outer.ip_dst) << "its backend";
  EXPECT_EQ(outer.total_length, error.size() - 14 + 20);
  EXPECT_TRUE(ipv4HeaderChecksumValid(out, outer.l3_offset));
  EXPECT_EQ(slice(out, 0, 12), slice(forwarded, 0, 12)) << "the backend's MAC, from the port's";
  EXPECT_EQ(slice(out, 34), slice(error, 14)) << "the message itself unchanged inside";
  EXPECT_EQ(w0_.counters().icmp_to_backend.read(), 1u);
}

// Full-NAT: a download's segment is too big for a router on the client's side. Its error quotes the
// segment as the client was sent it (VIP -> client); the backend gets it from the flow's local
// address, quoting exactly the segment it sent, checksums included, so its stack finds the socket.
TEST_F(IcmpRelayTest, ErrorToTheVipAboutAFullNatReplyReachesTheBackendInItsOwnTerms) {
  const Bytes natted = toBackend(w0_, fromClient().tcp(kClientPort, kWebPort, kSyn, 5000).build());
  const DecodedFrame syn = decode(natted);
  const uint8_t backend = backendHost(syn.ip_dst);
  ASSERT_NE(backend, 0);
  const Bytes segment = fromBackend(backend)
                            .tcp(kWebBackendPort, syn.src_port, kAck | RTE_TCP_PSH_FLAG, 7001, 5001)
                            .dontFragment()
                            .payload(Bytes(1448, 0x77))
                            .build();
  ASSERT_EQ(w0_.process(standardSnapshot(), segment).kind, VerdictKind::kForwarded);
  const Bytes to_client = w0_.popTx(0).value_or(Bytes{});
  ASSERT_EQ(decode(to_client).ip_src, kVip);

  const Bytes error = icmpErrorToVip(3, 4, kRouterMtu, ipPacket(to_client, kLinuxQuote));
  const Verdict v = w0_.process(standardSnapshot(), error);
  EXPECT_EQ(v.kind, VerdictKind::kForwarded);
  const Bytes out = w0_.popTx(v.tx_port).value_or(Bytes{});
  const DecodedFrame d = decode(out);
  ASSERT_TRUE(d.has_ipv4);
  EXPECT_EQ(d.ip_src, syn.ip_src) << "from the flow's local address";
  EXPECT_EQ(d.ip_dst, syn.ip_dst) << "to its backend";
  EXPECT_EQ(slice(out, 0, 12), slice(natted, 0, 12)) << "the backend's MAC, from the port's";
  EXPECT_TRUE(ipv4HeaderChecksumValid(out, d.l3_offset));
  EXPECT_TRUE(l4ChecksumValid(out, d.l3_offset)) << "the ICMP checksum";
  EXPECT_EQ(out[d.l4_offset], 3);
  EXPECT_EQ(out[d.l4_offset + 1], 4);
  EXPECT_EQ(uint32_t{out[d.l4_offset + 6]} << 8 | out[d.l4_offset + 7], kRouterMtu);
  const Bytes quote = slice(out, d.l4_offset + 8, d.l3_offset + d.total_length);
  EXPECT_EQ(quote, ipPacket(segment, quote.size())) << "the backend's own segment, checksums included";
  EXPECT_EQ(w0_.counters().icmp_to_backend.read(), 1u);
  EXPECT_EQ(w0_.counters().icmp_relayed.read(), 0u);
}

// RSS chose the flow's worker and gives the router's error to another: the error walks on to the
// next worker, which has the flow and passes it on.
TEST_F(IcmpRelayTest, ErrorToTheVipWalksToTheWorkerOwningTheFlow) {
  const Bytes forwarded = toBackend(w1_, fromClient().tcp(kClientPort, kDsrPort, kSyn, 5000).build());
  const Bytes reply = PacketBuilder().ethernet(backendMac(11), clientMac()).ipv4(kVip, kClientIp)
                          .tcp(kDsrPort, kClientPort, kAck, 7001, 5001).payload(Bytes(1448, 1)).build();
  const Bytes error = icmpErrorToVip(3, 4, kRouterMtu, ipPacket(reply, kLinuxQuote));
  const Verdict v = w0_.process(standardSnapshot(), error);
  EXPECT_EQ(v.kind, VerdictKind::kHandedOff) << v.drop;
  EXPECT_EQ(processHandOffAtWorker1().kind, VerdictKind::kForwarded);
  const Bytes out = w1_.popTx(0).value_or(Bytes{});
  EXPECT_EQ(slice(out, 0, 12), slice(forwarded, 0, 12));
  EXPECT_EQ(slice(out, 12), slice(error, 12));
  EXPECT_EQ(w1_.counters().icmp_to_backend.read(), 1u);
}

// Errors to the VIP that are not about a known flow's reply: a reply of no flow walks through every
// worker and ends as no_flow; a quote not from the VIP, a truncated one and a non-error type stay
// unsupported. Nothing is sent.
TEST_F(IcmpRelayTest, ErrorsToTheVipAboutNoKnownReplyAreDroppedAndCounted) {
  toBackend(w0_, fromClient().tcp(kClientPort, kDsrPort, kSyn, 5000).build());
  auto reply_from = [](uint32_t src, uint16_t dport) {
    return ipPacket(PacketBuilder().ethernet(backendMac(11), clientMac()).ipv4(src, kClientIp)
                        .tcp(kDsrPort, dport, kAck, 7001, 5001).build());
  };
  const Snapshot& snap = standardSnapshot();
  EXPECT_EQ(w0_.process(snap, icmpErrorToVip(3, 4, kRouterMtu, reply_from(kVip, kClientPort + 1))).kind,
            VerdictKind::kHandedOff);
  EXPECT_EQ(processHandOffAtWorker1().drop, DropReason::kNoFlow)
      << "the last worker: every one has said no";
  EXPECT_EQ(w1_.txCount(0), 0);
  EXPECT_EQ(w0_.process(snap, icmpErrorToVip(3, 4, kRouterMtu, reply_from(kRouterIp, kClientPort))).drop,
            DropReason::kUnsupported);
  EXPECT_EQ(w0_.process(snap, icmpErrorToVip(3, 4, kRouterMtu, slice(reply_from(kVip, kClientPort), 0, 24))).drop,
            DropReason::kUnsupported);
  EXPECT_EQ(w0_.process(snap, icmpErrorToVip(13, 0, 0, reply_from(kVip, kClientPort))).drop,  // timestamp
            DropReason::kUnsupported);
  EXPECT_EQ(w0_.counters().icmp_to_backend.read(), 0u);
  EXPECT_EQ(w0_.txCount(0), 0);
}

}  // namespace
}  // namespace lb::dataplane::test
