// IPv6 clients of DSR and IPIP services (dataplane/ipv6_direct.h): the client's IPv6 packet reaches a
// dual-stack backend unchanged but for the MACs, or inside an IPv4 header of protocol 41, on the slow
// path and on the established path alike; what does not fit the backend's link is answered with
// "packet too big"; a client-side ICMPv6 error about a backend's reply reaches that backend the same
// way. The standard topology's IPv6 services (web6 TCP :80, udp6 :9000) are switched to each mode.
#include <rte_ip.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "dataplane/flow_table.h"
#include "tests/dataplane/ipv6_frames.h"
#include "tests/dataplane/packet_test_util.h"

namespace lb::dataplane::test {
namespace {

constexpr uint8_t kProtocolIpv6 = 41;  // IPv6 in IPv4, RFC 4213
constexpr uint8_t kPacketTooBig = 2;
constexpr Ipv6Bytes kRouterIp6 = {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

// The standard snapshot with the IPv6 services forwarded by `mode`; their backends listen on the
// service port, as DSR and IPIP need.
std::unique_ptr<Snapshot> snapshotWith(controlplane::ForwardingMode mode) {
  SnapshotSource source;
  for (controlplane::ServiceConfig& service : source.config.services) {
    if (!service.vip6.has_value()) continue;
    service.forwarding = mode;
    for (controlplane::BackendConfig& backend : service.backends) backend.port = service.port;
  }
  return source.build();
}

// The bytes from the IPv6 header on: the packet a backend must receive.
Bytes ipv6Packet(const Bytes& frame) { return Bytes(frame.begin() + kIp6, frame.end()); }

// An ICMPv6 "packet too big" message (MTU 1280) quoting `quote_len` bytes of `frame`'s IPv6 packet.
Bytes tooBigQuoting(const Bytes& frame, size_t quote_len) {
  Bytes message(8 + quote_len, 0);
  message[0] = kPacketTooBig;
  put16(message, 6, 1280);
  std::copy_n(frame.begin() + kIp6, quote_len, message.begin() + 8);
  return message;
}

uint64_t toBackendPackets(const LcoreCounters& counters) {
  uint64_t packets = 0;
  for (const BackendCounters& b : counters.backends) packets += b.to_backend.packets.read();
  return packets;
}

class Ipv6DirectTest : public testing::TestWithParam<controlplane::ForwardingMode> {
 protected:
  void SetUp() override { baseline_ = poolInUse(); }
  void TearDown() override {
    w_.drain();
    EXPECT_EQ(poolInUse(), baseline_) << "mbufs leaked";
  }
  bool ipip() const { return GetParam() == controlplane::ForwardingMode::kDsrIpip; }
  Verdict process(const Bytes& frame) { return w_.process(*snap_, frame); }
  uint64_t established() const { return w_.counters().established_path.read(); }

  // Checks `out` carries `sent`'s IPv6 packet to one backend, as the mode sends it, and returns the
  // backend's host number.
  uint8_t expectToBackend(const Bytes& out, const Bytes& sent) {
    const DecodedFrame d = decode(out);
    EXPECT_TRUE(sameMac(d.eth_src, portMac()));
    Bytes packet;
    uint8_t host = 0;
    if (ipip()) {
      EXPECT_EQ(d.ether_type, RTE_ETHER_TYPE_IPV4);
      EXPECT_TRUE(d.has_ipv4);
      EXPECT_EQ(d.protocol, kProtocolIpv6);
      EXPECT_EQ(d.ip_src, kPortIp) << "from the port's own address";
      host = static_cast<uint8_t>(backendHost(d.ip_dst));
      EXPECT_EQ(d.ihl_bytes, 20);
      EXPECT_EQ(d.ttl, 64);
      EXPECT_EQ(d.fragment_offset, 0) << "DF clear (RFC 4213 section 3.2)";
      EXPECT_EQ(d.total_length, out.size() - 14);
      EXPECT_TRUE(ipv4HeaderChecksumValid(out, d.l3_offset));
      packet.assign(out.begin() + 14 + 20, out.end());
    } else {
      EXPECT_EQ(d.ether_type, RTE_ETHER_TYPE_IPV6);
      packet.assign(out.begin() + kIp6, out.end());
      for (uint8_t h = 11; h <= 15 && host == 0; ++h) {
        if (sameMac(d.eth_dst, backendMac(h))) host = h;
      }
    }
    EXPECT_NE(host, 0) << "to a backend";
    EXPECT_TRUE(sameMac(d.eth_dst, backendMac(host)));
    EXPECT_EQ(packet, ipv6Packet(sent)) << "the client's IPv6 packet, unchanged";
    return host;
  }

  unsigned baseline_ = 0;
  std::unique_ptr<Snapshot> snap_ = snapshotWith(GetParam());
  WorkerHarness w_{0, twoWorkerPartition()};
};

std::string modeName(const testing::TestParamInfo<controlplane::ForwardingMode>& info) {
  return info.param == controlplane::ForwardingMode::kDsrIpip ? "Ipip" : "Dsr";
}

INSTANTIATE_TEST_SUITE_P(Modes, Ipv6DirectTest,
                         testing::Values(controlplane::ForwardingMode::kDsrL2, controlplane::ForwardingMode::kDsrIpip),
                         modeName);

// A TCP connection's segments all reach one backend, unchanged; no local port is taken and no reply
// key made (the backend answers the client itself). Once established, the flow's segments take the
// established path and leave with the same bytes as the slow path sends.
TEST_P(Ipv6DirectTest, TcpSegmentsReachOneBackendUnchanged) {
  const uint64_t ports_before = w_.ctx().localEndpointsAvailable();
  const Bytes syn = clientTcp6(kSyn);
  ASSERT_EQ(process(syn).kind, VerdictKind::kForwarded);
  const uint8_t host = expectToBackend(w_.popTx(0).value_or(Bytes{}), syn);
  EXPECT_EQ(w_.counters().flows_created.read(), 1u);
  EXPECT_EQ(w_.ctx().localEndpointsAvailable(), ports_before) << "no local port";
  EXPECT_EQ(w_.ctx().flows.size(), 1u);

  const Bytes ack = clientTcp6(kAck);
  ASSERT_EQ(process(ack).kind, VerdictKind::kForwarded);
  EXPECT_EQ(expectToBackend(w_.popTx(0).value_or(Bytes{}), ack), host);
  EXPECT_EQ(established(), 0u) << "the handshake's ACK arms the flow";

  const Bytes data = clientTcp6(kAck | RTE_TCP_PSH_FLAG, Bytes(300, 'd'));
  ASSERT_EQ(process(data).kind, VerdictKind::kForwarded);
  const Bytes fast = w_.popTx(0).value_or(Bytes{});
  EXPECT_EQ(established(), 1u);
  EXPECT_EQ(expectToBackend(fast, data), host);

  snap_ = std::make_unique<Snapshot>(*snap_);  // a reload: the next segment takes the slow path again
  ASSERT_EQ(process(data).kind, VerdictKind::kForwarded);
  const Bytes slow = w_.popTx(0).value_or(Bytes{});
  EXPECT_EQ(established(), 1u);
  EXPECT_EQ(slow, fast);
  ASSERT_EQ(process(data).kind, VerdictKind::kForwarded);
  EXPECT_EQ(w_.popTx(0).value_or(Bytes{}), fast);
  EXPECT_EQ(established(), 2u) << "re-armed under the new snapshot";
  EXPECT_EQ(toBackendPackets(w_.counters()), 5u);
  EXPECT_EQ(w_.counters().flows_created.read(), 1u);
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// UDP too: the first datagram on the slow path, the next on the established path, the same bytes.
TEST_P(Ipv6DirectTest, UdpDatagramsReachOneBackendUnchanged) {
  const Bytes datagram = clientUdp6({'e', 'c', 'h', 'o'});
  ASSERT_EQ(process(datagram).kind, VerdictKind::kForwarded);
  const Bytes slow = w_.popTx(0).value_or(Bytes{});
  expectToBackend(slow, datagram);
  ASSERT_EQ(process(datagram).kind, VerdictKind::kForwarded);
  EXPECT_EQ(w_.popTx(0).value_or(Bytes{}), slow);
  EXPECT_EQ(established(), 1u);
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// A client packet the backend's link cannot carry (IPIP: once encapsulated) is answered with "packet
// too big" announcing what fits, from the VIP to the client, on both paths; one that just fits goes.
TEST_P(Ipv6DirectTest, PacketTooLargeForTheBackendLinkIsRefusedWithPacketTooBig) {
  const uint16_t mtu = 1400;
  snap_->ports[0].mtu = mtu;
  const uint32_t usable = mtu - (ipip() ? 20u : 0u);
  const auto segment = [](uint32_t ipv6_len) { return clientTcp6(kAck, Bytes(ipv6_len - 40 - 20, 'x')); };
  ASSERT_EQ(process(clientTcp6(kSyn)).kind, VerdictKind::kForwarded);
  ASSERT_EQ(process(clientTcp6(kAck)).kind, VerdictKind::kForwarded);
  w_.drain();
  for (const bool armed : {true, false}) {
    SCOPED_TRACE(armed ? "established path" : "slow path");
    if (!armed) snap_ = std::make_unique<Snapshot>(*snap_);
    const uint64_t refused_before = w_.counters().icmp_too_big.read();
    const Bytes too_big = segment(usable + 1);
    const Verdict v = process(too_big);
    ASSERT_EQ(v.kind, VerdictKind::kAnswered) << v.drop;
    const Bytes error = w_.popTx(0).value_or(Bytes{});
    ASSERT_GE(error.size(), kL4 + 8 + 40u);
    EXPECT_EQ(get16(error, 12), RTE_ETHER_TYPE_IPV6);
    EXPECT_TRUE(sameMac(decode(error).eth_dst, clientMac()));
    EXPECT_EQ(address(error, kIp6 + 8), kVip6);
    EXPECT_EQ(address(error, kIp6 + 24), kClientIp6);
    EXPECT_EQ(error[kL4], kPacketTooBig);
    EXPECT_EQ((uint32_t{get16(error, kL4 + 4)} << 16) | get16(error, kL4 + 6), usable);
    EXPECT_TRUE(ipv6L4ChecksumValid(error));
    EXPECT_EQ(Bytes(error.begin() + kL4 + 8, error.begin() + kL4 + 8 + 40), Bytes(too_big.begin() + kIp6, too_big.begin() + kL4))
        << "quoting the client's packet";
    EXPECT_EQ(w_.counters().icmp_too_big.read(), refused_before + 1);

    const Bytes fits = segment(usable);
    ASSERT_EQ(process(fits).kind, VerdictKind::kForwarded);
    const Bytes out = w_.popTx(0).value_or(Bytes{});
    expectToBackend(out, fits);
    EXPECT_EQ(out.size(), 14u + mtu);
  }
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// A router on the client's side cannot pass a backend's reply (sent from the VIP straight to the
// client): its "packet too big" to the VIP reaches the flow's backend as it came, or encapsulated.
// An error about another flow is not.
TEST_P(Ipv6DirectTest, PacketTooBigAboutAReplyReachesTheFlowsBackend) {
  ASSERT_EQ(process(clientTcp6(kSyn)).kind, VerdictKind::kForwarded);
  const Bytes syn_out = w_.popTx(0).value_or(Bytes{});
  const uint8_t host = expectToBackend(syn_out, clientTcp6(kSyn));
  // What the backend sent the client: VIP6:80 -> client6, 1400 bytes of data.
  const Bytes reply = ipv6Frame(kVip6, kClientIp6, IPPROTO_TCP, tcpSegment(kWebPort, kClientPort, kAck, Bytes(1400, 'r')), 16);
  const Bytes error = ipv6Frame(kRouterIp6, kVip6, IPPROTO_ICMPV6, tooBigQuoting(reply, 1280 - 40 - 8), 2);
  ASSERT_TRUE(ipv6L4ChecksumValid(error));

  const Verdict v = process(error);
  ASSERT_EQ(v.kind, VerdictKind::kForwarded) << v.drop;
  EXPECT_EQ(expectToBackend(w_.popTx(0).value_or(Bytes{}), error), host);
  EXPECT_EQ(w_.counters().icmp_to_backend.read(), 1u);

  Bytes other = reply;
  put16(other, kL4 + 2, static_cast<uint16_t>(kClientPort + 1));  // another client port: no flow
  // Not this lcore's flow: passed on to the next lcore (the harness has no ring to it), not to a backend.
  EXPECT_NE(process(ipv6Frame(kRouterIp6, kVip6, IPPROTO_ICMPV6, tooBigQuoting(other, 200), 2)).kind,
            VerdictKind::kForwarded);
  EXPECT_FALSE(w_.popTx(0).has_value());
  EXPECT_EQ(w_.counters().icmp_to_backend.read(), 1u);
}

}  // namespace
}  // namespace lb::dataplane::test
