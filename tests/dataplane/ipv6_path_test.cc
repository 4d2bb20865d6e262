// IPv6 clients (dataplane/ipv6_path.h): neighbour discovery and ping for the port's IPv6 address and
// the IPv6 VIP, and NAT64 full-NAT of TCP and UDP to the IPv4 backends and back, every checksum
// checked by full recomputation. The standard snapshot has an IPv6 address on port 0 and IPv6 copies
// of the web (TCP :80) and UDP (:9000) services (test_topology.h).
#include <rte_icmp.h>
#include <rte_ip.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <tuple>

#include "dataplane/flow_table.h"
#include "tests/dataplane/ipv6_frames.h"
#include "tests/dataplane/packet_test_util.h"

namespace lb::dataplane::test {
namespace {

constexpr uint8_t kHopByHop = 0;
constexpr Ipv6Bytes kRouterIp6 = {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

// The standard snapshot (IPv6 included), with or without port 0's IPv6 address.
std::unique_ptr<Snapshot> snapshotWithAddress6(bool port_has_address6) {
  auto snap = std::make_unique<Snapshot>(standardSnapshot());
  snap->ports[0].has_address6 = port_has_address6;
  return snap;
}

// A full-NAT frame of the IPv4 backend side (what worker.popTx returns toward a backend) decoded
// and checked: from the port address and a local port to a backend on `backend_port`, valid
// checksums, TTL and TOS carried over from the IPv6 header.
DecodedFrame expectTranslatedToBackend(const Bytes& out, uint16_t backend_port) {
  const DecodedFrame d = decode(out);
  EXPECT_TRUE(d.has_ipv4);
  EXPECT_EQ(d.ether_type, RTE_ETHER_TYPE_IPV4);
  EXPECT_EQ(d.ip_src, kPortIp);
  EXPECT_NE(backendHost(d.ip_dst), 0) << "to a backend";
  EXPECT_EQ(d.dst_port, backend_port);
  EXPECT_GE(d.src_port, kLocalPortMin);
  EXPECT_TRUE(sameMac(d.eth_dst, backendMac(backendHost(d.ip_dst))));
  EXPECT_TRUE(sameMac(d.eth_src, portMac()));
  EXPECT_EQ(d.ttl, 64);
  EXPECT_EQ(out[d.l3_offset + 1], 0x02) << "traffic class -> TOS";
  EXPECT_EQ(d.fragment_offset, RTE_IPV4_HDR_DF_FLAG);
  EXPECT_TRUE(ipv4HeaderChecksumValid(out, d.l3_offset));
  EXPECT_TRUE(l4ChecksumValid(out, d.l3_offset));
  EXPECT_NE(get16(out, d.l4_offset + (d.protocol == IPPROTO_UDP ? 6 : 16)), 0) << "a real L4 checksum";
  return d;
}

// The backend's answer to `to_backend` (ports and addresses swapped), with `payload`.
Bytes backendAnswer(const DecodedFrame& to_backend, bool udp, const Bytes& payload, bool zero_udp_checksum = false) {
  PacketBuilder b = fromBackend(backendHost(to_backend.ip_dst));
  if (udp) {
    b.udp(to_backend.dst_port, to_backend.src_port);
    if (zero_udp_checksum) b.zeroUdpChecksum();
  } else {
    b.tcp(to_backend.dst_port, to_backend.src_port, kAck | RTE_TCP_PSH_FLAG, 9000, 77);
  }
  return b.payload(payload).build();
}

// An IPv6 frame Tether sent the client: VIP6:vip_port -> client6:kClientPort, MACs port -> client,
// valid L4 checksum, `payload` at the end.
void expectToIpv6Client(const Bytes& out, uint8_t protocol, uint16_t vip_port, const Bytes& payload) {
  ASSERT_GE(out.size(), kL4 + 8);
  EXPECT_EQ(get16(out, 12), RTE_ETHER_TYPE_IPV6);
  EXPECT_TRUE(sameMac(decode(out).eth_dst, clientMac()));
  EXPECT_TRUE(sameMac(decode(out).eth_src, portMac()));
  EXPECT_EQ(out[kIp6] >> 4, 6);
  EXPECT_EQ(out[kIp6 + 6], protocol);
  EXPECT_EQ(address(out, kIp6 + 8), kVip6);
  EXPECT_EQ(address(out, kIp6 + 24), kClientIp6);
  EXPECT_EQ(get16(out, kL4), vip_port);
  EXPECT_EQ(get16(out, kL4 + 2), kClientPort);
  const size_t l4_len = get16(out, kIp6 + 4);
  ASSERT_GE(out.size(), kL4 + l4_len);
  EXPECT_TRUE(ipv6L4ChecksumValid(out));
  EXPECT_EQ(Bytes(out.begin() + static_cast<std::ptrdiff_t>(kL4 + l4_len - payload.size()),
                  out.begin() + static_cast<std::ptrdiff_t>(kL4 + l4_len)),
            payload);
}

class Ipv6PathTest : public testing::Test {
 protected:
  void SetUp() override { baseline_ = poolInUse(); }
  void TearDown() override {
    w_.drain();
    EXPECT_EQ(poolInUse(), baseline_) << "mbufs leaked";
  }
  Verdict process(const Bytes& frame) { return w_.process(*snap_, frame); }
  // The TCP flow of clientTcp6 through its handshake and the UDP flow of clientUdp6, each forwarded
  // once after: both client lines armed. Returns the SYN as it left toward the backend.
  DecodedFrame openTcpAndUdpFlows() {
    EXPECT_EQ(process(clientTcp6(kSyn)).kind, VerdictKind::kForwarded);
    const DecodedFrame syn = decode(w_.popTx(0).value_or(Bytes{}));
    EXPECT_EQ(process(fromBackend(backendHost(syn.ip_dst)).tcp(syn.dst_port, syn.src_port, kSynAck, 800, 5001).build()).kind,
              VerdictKind::kForwarded);
    EXPECT_EQ(process(clientTcp6(kAck)).kind, VerdictKind::kForwarded);
    EXPECT_EQ(process(clientUdp6({'u'})).kind, VerdictKind::kForwarded);
    w_.drain();
    return syn;
  }

  unsigned baseline_ = 0;
  std::unique_ptr<Snapshot> snap_ = snapshotWithAddress6(true);
  WorkerHarness w_{0, twoWorkerPartition()};
};

TEST_F(Ipv6PathTest, SolicitationsForThePortAddressAndTheVipAreAdvertised) {
  for (const Ipv6Bytes& target : {kPortIp6, kVip6}) {
    const Verdict v = process(neighborSolicitation(target));
    ASSERT_EQ(v.kind, VerdictKind::kAnswered) << v.drop;
    const Bytes na = w_.popTx(0).value_or(Bytes{});
    ASSERT_EQ(na.size(), kL4 + 32);
    EXPECT_TRUE(sameMac(decode(na).eth_dst, clientMac())) << "unicast back to the soliciting node";
    EXPECT_EQ(na[kIp6 + 7], 255) << "hop limit";
    EXPECT_EQ(get16(na, kIp6 + 4), 32);
    EXPECT_EQ(address(na, kIp6 + 8), target);
    EXPECT_EQ(address(na, kIp6 + 24), kClientIp6);
    EXPECT_EQ(na[kL4], 136);
    EXPECT_EQ(na[kL4 + 4], 0x60) << "solicited and override";
    EXPECT_EQ(address(na, kL4 + 8), target);
    EXPECT_EQ(na[kL4 + 24], 2) << "target link-layer address option";
    EXPECT_EQ(na[kL4 + 25], 1);
    EXPECT_TRUE(sameMac(getMac(na, kL4 + 26), portMac()));
    EXPECT_TRUE(ipv6L4ChecksumValid(na));
  }
  EXPECT_EQ(w_.counters().nd_replies.read(), 2u);
}

// Duplicate address detection (source ::) is answered to all nodes, without the solicited flag.
TEST_F(Ipv6PathTest, DuplicateAddressProbeIsAnsweredToAllNodes) {
  ASSERT_EQ(process(neighborSolicitation(kVip6, Ipv6Bytes{})).kind, VerdictKind::kAnswered);
  const Bytes na = w_.popTx(0).value_or(Bytes{});
  ASSERT_EQ(na.size(), kL4 + 32);
  EXPECT_EQ(na[0], 0x33);
  EXPECT_EQ(na[5], 0x01);
  EXPECT_EQ(address(na, kIp6 + 24), (Ipv6Bytes{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(na[kL4 + 4], 0x20);
  EXPECT_TRUE(ipv6L4ChecksumValid(na));
}

TEST_F(Ipv6PathTest, SolicitationsNotOursOrForgedAreDropped) {
  EXPECT_EQ(process(neighborSolicitation(kOtherIp6)).drop, DropReason::kNotForUs);
  EXPECT_EQ(process(neighborSolicitation(kVip6, kClientIp6, 64)).drop, DropReason::kMalformed)
      << "hop limit below 255: not from the link";
  EXPECT_EQ(w_.txCount(0), 0);
  EXPECT_EQ(w_.counters().nd_replies.read(), 0u);
}

TEST_F(Ipv6PathTest, EchoToTheVipAndThePortAddressIsAnswered) {
  for (const Ipv6Bytes& target : {kVip6, kPortIp6}) {
    Bytes echo = {128, 0, 0, 0, 0x12, 0x34, 0, 7, 'p', 'i', 'n', 'g'};
    ASSERT_EQ(process(ipv6Frame(kClientIp6, target, IPPROTO_ICMPV6, echo, 2)).kind, VerdictKind::kAnswered);
    const Bytes reply = w_.popTx(0).value_or(Bytes{});
    ASSERT_EQ(reply.size(), kL4 + echo.size());
    EXPECT_EQ(address(reply, kIp6 + 8), target);
    EXPECT_EQ(address(reply, kIp6 + 24), kClientIp6);
    EXPECT_EQ(reply[kL4], 129);
    EXPECT_EQ(Bytes(reply.begin() + kL4 + 4, reply.end()), Bytes(echo.begin() + 4, echo.end()));
    EXPECT_TRUE(ipv6L4ChecksumValid(reply));
  }
  EXPECT_EQ(w_.counters().icmp_replies.read(), 2u);
  const Bytes to_other = ipv6Frame(kClientIp6, kOtherIp6, IPPROTO_ICMPV6, {128, 0, 0, 0, 0, 1, 0, 1}, 2);
  EXPECT_EQ(process(to_other).drop, DropReason::kNotForUs);
}

// A TCP connection from an IPv6 client: the SYN and every later segment reach the same IPv4 backend
// from the same local endpoint, and the backend's answer reaches the client as IPv6 from the VIP.
TEST_F(Ipv6PathTest, TcpRoundTripThroughNat64) {
  const Verdict v = process(clientTcp6(kSyn));
  ASSERT_EQ(v.kind, VerdictKind::kForwarded) << v.drop;
  const DecodedFrame syn = expectTranslatedToBackend(w_.popTx(0).value_or(Bytes{}), kWebBackendPort);
  EXPECT_EQ(syn.tcp_flags, kSyn);
  EXPECT_EQ(w_.counters().flows_created.read(), 1u);

  const Bytes request = {'G', 'E', 'T', ' ', '/'};
  const Bytes request_frame = clientTcp6(kAck | RTE_TCP_PSH_FLAG, request);
  ASSERT_EQ(process(request_frame).kind, VerdictKind::kForwarded);
  const Bytes out = w_.popTx(0).value_or(Bytes{});
  const DecodedFrame data = expectTranslatedToBackend(out, kWebBackendPort);
  EXPECT_EQ(data.ip_dst, syn.ip_dst) << "same backend";
  EXPECT_EQ(data.src_port, syn.src_port) << "same local port";
  EXPECT_EQ(data.total_length, 20 + 20 + request.size());
  auto after_ports = [](const Bytes& frame, size_t l4) {
    Bytes b(frame.begin() + static_cast<std::ptrdiff_t>(l4 + 4), frame.end());
    b[12] = b[13] = 0;  // the checksum, checked above
    return b;
  };
  EXPECT_EQ(after_ports(out, data.l4_offset), after_ports(request_frame, kL4))
      << "sequence numbers, flags, window and payload unchanged";
  EXPECT_EQ(w_.counters().flows_created.read(), 1u);

  const Bytes response = {'H', 'T', 'T', 'P', '/', '1', '.', '1', ' ', '2', '0', '0'};
  const Verdict back = process(backendAnswer(data, false, response));
  ASSERT_EQ(back.kind, VerdictKind::kForwarded) << back.drop;
  expectToIpv6Client(w_.popTx(0).value_or(Bytes{}), IPPROTO_TCP, kWebPort, response);
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// UDP both ways, including a backend that sends no checksum: IPv6 needs one, so it is computed.
TEST_F(Ipv6PathTest, UdpRoundTripThroughNat64) {
  const Bytes ping = {'e', 'c', 'h', 'o'};
  ASSERT_EQ(process(clientUdp6(ping)).kind, VerdictKind::kForwarded);
  const DecodedFrame out = expectTranslatedToBackend(w_.popTx(0).value_or(Bytes{}), kUdpBackendPort);
  for (bool zero_checksum : {false, true}) {
    ASSERT_EQ(process(backendAnswer(out, true, ping, zero_checksum)).kind, VerdictKind::kForwarded);
    const Bytes reply = w_.popTx(0).value_or(Bytes{});
    expectToIpv6Client(reply, IPPROTO_UDP, kUdpPort, ping);
    EXPECT_NE(get16(reply, kL4 + 6), 0) << "zero_checksum=" << zero_checksum;
  }
}

// Each client is its own flow, and the IPv4 flows of the same service are unaffected.
TEST_F(Ipv6PathTest, Ipv6AndIpv4FlowsLiveSideBySide) {
  ASSERT_EQ(process(clientTcp6(kSyn)).kind, VerdictKind::kForwarded);
  const DecodedFrame v6 = decode(w_.popTx(0).value_or(Bytes{}));
  ASSERT_EQ(process(fromClient().tcp(kClientPort, kWebPort, kSyn).build()).kind, VerdictKind::kForwarded);
  const DecodedFrame v4 = decode(w_.popTx(0).value_or(Bytes{}));
  EXPECT_NE(v4.src_port, v6.src_port) << "separate local endpoints";
  EXPECT_EQ(w_.counters().flows_created.read(), 2u);
  EXPECT_EQ(w_.ctx().flows.size(), 2u);
  // The IPv4 client's reply still reaches the IPv4 client.
  ASSERT_EQ(process(backendAnswer(v4, false, {'x'})).kind, VerdictKind::kForwarded);
  const Bytes to_v4 = w_.popTx(0).value_or(Bytes{});
  expectReplyToClient(to_v4, kWebPort, kClientPort);
}

TEST_F(Ipv6PathTest, WhatIsNotAServiceIsDroppedAndCounted) {
  const Bytes other_port = ipv6Frame(kClientIp6, kVip6, IPPROTO_TCP, tcpSegment(kClientPort, 443, kSyn),
                                     offsetof(rte_tcp_hdr, cksum));
  EXPECT_EQ(process(other_port).drop, DropReason::kUnknownVip);
  const Bytes other_address = ipv6Frame(kClientIp6, kOtherIp6, IPPROTO_TCP, tcpSegment(kClientPort, 80, kSyn),
                                        offsetof(rte_tcp_hdr, cksum));
  EXPECT_EQ(process(other_address).drop, DropReason::kNotForUs);
  Bytes no_checksum = clientUdp6({'x'});
  no_checksum[kL4 + 6] = no_checksum[kL4 + 7] = 0;
  EXPECT_EQ(process(no_checksum).drop, DropReason::kMalformed) << "IPv6 forbids a zero UDP checksum";
  // Without an IPv6 address on the port, IPv6 is not ours at all.
  const std::unique_ptr<Snapshot> v4_only = snapshotWithAddress6(false);
  EXPECT_EQ(w_.process(*v4_only, clientTcp6(kSyn)).drop, DropReason::kNotForUs);
  EXPECT_EQ(w_.txCount(0), 0);
  EXPECT_EQ(w_.counters().flows_created.read(), 0u);
}

TEST_F(Ipv6PathTest, MalformedAndUnsupportedIpv6IsDroppedAndCounted) {
  const Bytes good = clientTcp6(kSyn);
  Bytes truncated(good.begin(), good.begin() + kIp6 + 30);
  EXPECT_EQ(process(truncated).drop, DropReason::kMalformed);
  Bytes long_payload = good;
  put16(long_payload, kIp6 + 4, 200);
  EXPECT_EQ(process(long_payload).drop, DropReason::kMalformed) << "payload length past the frame";
  Bytes version4 = good;
  version4[kIp6] = 0x40;
  EXPECT_EQ(process(version4).drop, DropReason::kMalformed);
  Bytes short_tcp = good;
  short_tcp[kL4 + 12] = 0x40;  // data offset 16 bytes
  EXPECT_EQ(process(short_tcp).drop, DropReason::kMalformed);
  const Bytes hop_by_hop = ipv6Frame(kClientIp6, kVip6, kHopByHop, Bytes(8, 0));
  EXPECT_EQ(process(hop_by_hop).drop, DropReason::kUnsupported) << "extension headers are not balanced";
  const Ipv6Bytes mld_routers = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16};
  EXPECT_EQ(process(ipv6Frame(kClientIp6, mld_routers, kHopByHop, Bytes(8, 0))).drop, DropReason::kNotForUs)
      << "a client's MLD report is link chatter";
  EXPECT_EQ(w_.txCount(0), 0);
  EXPECT_EQ(w_.counters().flows_created.read(), 0u);
}

// A plain IPv6 client flow's replies are armed by the first one the slow path translates; the same
// reply again takes the established path, which translates it into IPv6 itself, and both leave with
// the same bytes, for TCP and UDP. A UDP reply without a checksum is still the slow path's (IPv6
// needs one computed), and so is one that would not fit the MTU once translated.
TEST_F(Ipv6PathTest, ArmedRepliesSendWhatTheSlowPathSends) {
  const auto established = [this] { return w_.counters().established_path.read(); };
  ASSERT_EQ(process(clientTcp6(kSyn)).kind, VerdictKind::kForwarded);
  const DecodedFrame tcp = decode(w_.popTx(0).value_or(Bytes{}));
  ASSERT_EQ(process(fromBackend(backendHost(tcp.ip_dst)).tcp(tcp.dst_port, tcp.src_port, kSynAck, 800, 5001).build()).kind,
            VerdictKind::kForwarded);
  w_.popTx(0);
  ASSERT_EQ(process(clientTcp6(kAck)).kind, VerdictKind::kForwarded);
  w_.popTx(0);
  ASSERT_EQ(process(clientUdp6({'u'})).kind, VerdictKind::kForwarded);
  const DecodedFrame udp = decode(w_.popTx(0).value_or(Bytes{}));

  const Bytes payload(300, 0x5e);
  for (const auto& [to_backend, is_udp] : {std::pair{tcp, false}, std::pair{udp, true}}) {
    SCOPED_TRACE(is_udp ? "udp" : "tcp");
    const Bytes answer = backendAnswer(to_backend, is_udp, payload);
    const uint64_t before = established();
    ASSERT_EQ(process(answer).kind, VerdictKind::kForwarded);
    const Bytes slow = w_.popTx(0).value_or(Bytes{});
    EXPECT_EQ(established(), before) << "the first reply arms the reply line on the slow path";
    ASSERT_EQ(process(answer).kind, VerdictKind::kForwarded);
    const Bytes fast = w_.popTx(0).value_or(Bytes{});
    EXPECT_EQ(established(), before + 1);
    EXPECT_EQ(fast, slow);
    expectToIpv6Client(fast, is_udp ? IPPROTO_UDP : IPPROTO_TCP, is_udp ? kUdpPort : kWebPort, payload);
  }
  const uint64_t before = established();
  ASSERT_EQ(process(backendAnswer(udp, true, payload, /*zero_udp_checksum=*/true)).kind, VerdictKind::kForwarded);
  const Bytes computed = w_.popTx(0).value_or(Bytes{});
  expectToIpv6Client(computed, IPPROTO_UDP, kUdpPort, payload);
  EXPECT_NE(get16(computed, kL4 + 6), 0);
  EXPECT_EQ(process(backendAnswer(udp, true, Bytes(1500 - 20 - 8, 'b'))).drop, DropReason::kTooBig);
  EXPECT_EQ(established(), before);
  EXPECT_EQ(w_.totalDrops(), 1u);
}

// What disarms an IPv4 flow's reply line disarms an IPv6 client's: a client seen from another MAC
// (whose replies then go to the new MAC once re-armed), a client FIN and a backend FIN. Only a client
// packet the slow path sees can tell the MAC: here, one whose client line was armed under the
// snapshot before a reload, while the reply line was re-armed under the new one.
TEST_F(Ipv6PathTest, MovedClientAndFinsDisarmTheReplyLine) {
  const auto established = [this] { return w_.counters().established_path.read(); };
  const auto client = [](uint16_t port, uint8_t flags, const rte_ether_addr& mac = clientMac()) {
    Bytes frame = ipv6Frame(kClientIp6, kVip6, IPPROTO_TCP, tcpSegment(port, kWebPort, flags), offsetof(rte_tcp_hdr, cksum));
    std::memcpy(&frame[6], mac.addr_bytes, RTE_ETHER_ADDR_LEN);
    return frame;
  };
  // Opens a flow from `port` through its handshake, then arms its replies: returns one of them.
  const auto armed_reply = [&](uint16_t port) {
    EXPECT_EQ(process(client(port, kSyn)).kind, VerdictKind::kForwarded);
    const DecodedFrame out = decode(w_.popTx(0).value_or(Bytes{}));
    const PacketBuilder backend = fromBackend(backendHost(out.ip_dst));
    EXPECT_EQ(process(PacketBuilder(backend).tcp(out.dst_port, out.src_port, kSynAck, 800, 5001).build()).kind,
              VerdictKind::kForwarded);
    EXPECT_EQ(process(client(port, kAck)).kind, VerdictKind::kForwarded);
    const Bytes data = backendAnswer(out, false, {'d'});
    EXPECT_EQ(process(data).kind, VerdictKind::kForwarded);
    w_.drain();
    return std::pair{data, PacketBuilder(backend).tcp(out.dst_port, out.src_port, RTE_TCP_FIN_FLAG | kAck, 900, 5001).build()};
  };
  const auto reply = [this](const Bytes& frame) {
    EXPECT_EQ(process(frame).kind, VerdictKind::kForwarded);
    return w_.popTx(0).value_or(Bytes{});
  };

  const auto [data, backend_fin] = armed_reply(kClientPort);
  reply(data);
  ASSERT_EQ(established(), 1u);
  snap_ = std::make_unique<Snapshot>(*snap_);  // a reload: every line's arming is the old snapshot's
  const Bytes to_old = reply(data);
  EXPECT_EQ(reply(data), to_old);
  ASSERT_EQ(established(), 2u) << "the reply line, re-armed under the new snapshot";
  const rte_ether_addr moved = testMac(0x6c6c);
  ASSERT_EQ(process(client(kClientPort, kAck, moved)).kind, VerdictKind::kForwarded);
  w_.drain();
  EXPECT_EQ(established(), 2u) << "the client line was armed under the old snapshot";
  const Bytes to_moved = reply(data);
  EXPECT_EQ(established(), 2u) << "the reply line held the old MAC";
  EXPECT_EQ(std::memcmp(to_moved.data(), moved.addr_bytes, RTE_ETHER_ADDR_LEN), 0) << "to the client's new MAC";
  EXPECT_EQ(reply(data), to_moved);
  EXPECT_EQ(established(), 3u) << "re-armed by the slow path's reply";
  reply(backend_fin);
  reply(data);
  EXPECT_EQ(established(), 3u) << "after the backend's FIN, replies stay on the slow path";

  const auto [second_data, unused] = armed_reply(kClientPort + 1);
  reply(second_data);
  EXPECT_EQ(established(), 4u);
  ASSERT_EQ(process(client(kClientPort + 1, RTE_TCP_FIN_FLAG | kAck)).kind, VerdictKind::kForwarded);
  w_.drain();
  reply(second_data);
  EXPECT_EQ(established(), 4u) << "after the client's FIN, replies stay on the slow path";
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// The packets and bytes counted toward all backends.
std::pair<uint64_t, uint64_t> toBackendTraffic(const LcoreCounters& counters) {
  uint64_t packets = 0, bytes = 0;
  for (const BackendCounters& b : counters.backends) {
    packets += b.to_backend.packets.read();
    bytes += b.to_backend.bytes.read();
  }
  return {packets, bytes};
}

// A plain IPv6 client flow's own packets are armed by the slow path (TCP once established, UDP at
// once); the established path then translates them into IPv4 itself. After a reload (which leaves
// every line armed under the old snapshot) a frame takes the slow path and re-arms its flow, and the
// same frame again takes the established path: both send, and count, the same, for TCP and UDP.
TEST_F(Ipv6PathTest, ArmedClientFramesSendWhatTheSlowPathSends) {
  const auto established = [this] { return w_.counters().established_path.read(); };
  const DecodedFrame syn = openTcpAndUdpFlows();
  ASSERT_EQ(established(), 0u) << "a flow's first packets arm it";

  const Bytes payload(300, 0x5e);
  for (const auto& [frame, is_udp] :
       {std::pair{clientTcp6(kAck | RTE_TCP_PSH_FLAG, payload), false}, std::pair{clientUdp6(payload), true}}) {
    SCOPED_TRACE(is_udp ? "udp" : "tcp");
    snap_ = std::make_unique<Snapshot>(*snap_);
    const uint64_t before = established();
    const auto traffic_before = toBackendTraffic(w_.counters());
    ASSERT_EQ(process(frame).kind, VerdictKind::kForwarded);
    const Bytes slow = w_.popTx(0).value_or(Bytes{});
    EXPECT_EQ(established(), before) << "after a reload, the slow path";
    const auto traffic_slow = toBackendTraffic(w_.counters());
    ASSERT_EQ(process(frame).kind, VerdictKind::kForwarded);
    const Bytes fast = w_.popTx(0).value_or(Bytes{});
    EXPECT_EQ(established(), before + 1) << "re-armed under the new snapshot";
    const auto traffic_fast = toBackendTraffic(w_.counters());
    EXPECT_EQ(fast, slow);
    EXPECT_EQ(fast.size() + 20, frame.size());
    EXPECT_EQ(traffic_slow.first - traffic_before.first, 1u);
    EXPECT_EQ(traffic_fast.first - traffic_slow.first, 1u);
    EXPECT_EQ(traffic_fast.second - traffic_slow.second, fast.size()) << "counted at the IPv4 length";
    EXPECT_EQ(traffic_slow.second - traffic_before.second, slow.size());
    const DecodedFrame d = expectTranslatedToBackend(fast, is_udp ? kUdpBackendPort : kWebBackendPort);
    EXPECT_EQ(Bytes(fast.end() - static_cast<std::ptrdiff_t>(payload.size()), fast.end()), payload);
    if (!is_udp) {
      EXPECT_EQ(d.src_port, syn.src_port) << "the flow's local port";
    }
  }
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// An armed IPv6 client flow's frames that the established path must not take reach the slow path and
// are handled there as without the flow: a UDP datagram without a checksum and a payload past the
// frame are dropped as malformed, an extension header as unsupported, a frame from a port without an
// IPv6 address as not ours; a client FIN is forwarded and disarms the flow.
TEST_F(Ipv6PathTest, ArmedClientFlowsLeaveWhatTheyMustToTheSlowPath) {
  // A second port, without an IPv6 address, beside port 0 in the snapshot the flows are armed under.
  snap_->ports[1] = snap_->ports[0];
  snap_->ports[1].has_address6 = false;
  snap_->port_count = 2;
  const auto established = [this] { return w_.counters().established_path.read(); };
  openTcpAndUdpFlows();
  const Bytes tcp_data = clientTcp6(kAck, {'t'});
  const Bytes udp_data = clientUdp6({'u'});
  ASSERT_EQ(process(tcp_data).kind, VerdictKind::kForwarded);
  ASSERT_EQ(process(udp_data).kind, VerdictKind::kForwarded);
  w_.drain();
  ASSERT_EQ(established(), 2u);

  Bytes no_checksum = udp_data;
  no_checksum[kL4 + 6] = no_checksum[kL4 + 7] = 0;
  EXPECT_EQ(process(no_checksum).drop, DropReason::kMalformed);
  Bytes past_the_frame = tcp_data;
  put16(past_the_frame, kIp6 + 4, static_cast<uint16_t>(get16(tcp_data, kIp6 + 4) + 1));
  EXPECT_EQ(process(past_the_frame).drop, DropReason::kMalformed);
  Bytes hop_by_hop = tcp_data;
  hop_by_hop[kIp6 + 6] = kHopByHop;
  EXPECT_EQ(process(hop_by_hop).drop, DropReason::kUnsupported);
  EXPECT_EQ(w_.process(*snap_, tcp_data, /*rx_port=*/1).drop, DropReason::kNotForUs);
  EXPECT_EQ(w_.process(*snap_, udp_data, /*rx_port=*/1).drop, DropReason::kNotForUs);
  EXPECT_EQ(established(), 2u);
  EXPECT_EQ(w_.totalDrops(), 5u);

  ASSERT_EQ(process(clientTcp6(RTE_TCP_FIN_FLAG | kAck)).kind, VerdictKind::kForwarded);
  ASSERT_EQ(process(tcp_data).kind, VerdictKind::kForwarded);
  ASSERT_EQ(process(udp_data).kind, VerdictKind::kForwarded);
  w_.drain();
  EXPECT_EQ(established(), 3u) << "after the client's FIN its flow stays on the slow path; the UDP flow does not";
}

// A reply too large for the client's link once it has the larger IPv6 header is refused, not sent.
TEST_F(Ipv6PathTest, ReplyOverTheMtuOnceTranslatedIsDropped) {
  ASSERT_EQ(process(clientUdp6({'q'})).kind, VerdictKind::kForwarded);
  const DecodedFrame out = decode(w_.popTx(0).value_or(Bytes{}));
  const Bytes fits(1500 - 40 - 8, 'f');
  ASSERT_EQ(process(backendAnswer(out, true, fits)).kind, VerdictKind::kForwarded);
  expectToIpv6Client(w_.popTx(0).value_or(Bytes{}), IPPROTO_UDP, kUdpPort, fits);
  const Bytes too_big(1500 - 20 - 8, 'b');  // a full IPv4 packet: 20 bytes over once translated
  EXPECT_EQ(process(backendAnswer(out, true, too_big)).drop, DropReason::kTooBig);
}

// An ICMPv6 error from a router on the client's side quoting `reply` (a frame Tether sent the client).
Bytes icmpv6ErrorToVip(uint8_t type, uint8_t code, uint32_t mtu, const Bytes& reply, size_t quote_len) {
  Bytes error = {type, code, 0, 0, static_cast<uint8_t>(mtu >> 24), static_cast<uint8_t>(mtu >> 16),
                 static_cast<uint8_t>(mtu >> 8), static_cast<uint8_t>(mtu)};
  const size_t len = std::min(quote_len, reply.size() - kIp6);
  error.insert(error.end(), reply.begin() + kIp6, reply.begin() + static_cast<std::ptrdiff_t>(kIp6 + len));
  return ipv6Frame(kRouterIp6, kVip6, IPPROTO_ICMPV6, error, 2);
}

// A router on the client's IPv6 path cannot pass a reply: its "packet too big" reaches the backend as
// ICMPv4 "fragmentation needed" with the MTU less 20 bytes, from the flow's local address, quoting the
// segment as the backend sent it: addresses, ports, sequence number, data and TCP checksum exact.
TEST_F(Ipv6PathTest, PacketTooBigReachesTheBackendAsFragmentationNeeded) {
  ASSERT_EQ(process(clientTcp6(kSyn)).kind, VerdictKind::kForwarded);
  const DecodedFrame syn = decode(w_.popTx(0).value_or(Bytes{}));
  const Bytes segment = backendAnswer(syn, false, Bytes(1400, 's'));
  ASSERT_EQ(process(segment).kind, VerdictKind::kForwarded);
  const Bytes to_client = w_.popTx(0).value_or(Bytes{});
  const Bytes error = icmpv6ErrorToVip(2, 0, 1280, to_client, 1280 - 40 - 8);  // as much as fits in 1280
  const Verdict v = process(error);
  ASSERT_EQ(v.kind, VerdictKind::kForwarded) << v.drop;
  const Bytes out = w_.popTx(0).value_or(Bytes{});
  const DecodedFrame d = decode(out);
  ASSERT_TRUE(d.has_ipv4);
  EXPECT_EQ(d.protocol, IPPROTO_ICMP);
  EXPECT_EQ(d.ip_src, kPortIp) << "from the flow's local address";
  EXPECT_EQ(d.ip_dst, syn.ip_dst);
  EXPECT_TRUE(sameMac(d.eth_dst, backendMac(backendHost(syn.ip_dst))));
  EXPECT_TRUE(ipv4HeaderChecksumValid(out, d.l3_offset));
  EXPECT_TRUE(l4ChecksumValid(out, d.l3_offset));
  EXPECT_EQ(d.total_length, 576u) << "an ICMPv4 error fits 576 bytes";
  const size_t icmp = d.l4_offset;
  EXPECT_EQ(out[icmp], 3);
  EXPECT_EQ(out[icmp + 1], 4);
  EXPECT_EQ(get16(out, icmp + 6), 1260) << "the IPv6 MTU less the 20 bytes IPv6's header adds";
  const size_t quoted_ip = icmp + 8;
  const Bytes sent = ipPacket(segment);
  EXPECT_TRUE(ipv4HeaderChecksumValid(out, quoted_ip));
  EXPECT_EQ(Bytes(out.begin() + static_cast<std::ptrdiff_t>(quoted_ip + 12), out.begin() + static_cast<std::ptrdiff_t>(quoted_ip + 20)),
            Bytes(sent.begin() + 12, sent.begin() + 20))
      << "backend -> local address";
  EXPECT_EQ(out[quoted_ip + 9], IPPROTO_TCP);
  EXPECT_EQ(get16(out, quoted_ip + 2), get16(sent, 2)) << "the whole segment's length";
  const size_t quoted_l4 = quoted_ip + 20;
  const size_t quoted = d.l3_offset + d.total_length - quoted_l4;
  EXPECT_EQ(Bytes(out.begin() + static_cast<std::ptrdiff_t>(quoted_l4), out.end()),
            Bytes(sent.begin() + 20, sent.begin() + static_cast<std::ptrdiff_t>(20 + quoted)));
  EXPECT_EQ(w_.counters().icmp_to_backend.read(), 1u);

  // Time exceeded keeps its code; port unreachable maps to port unreachable.
  for (auto [type6, code6, type4, code4] : {std::tuple(3, 0, 11, 0), std::tuple(1, 4, 3, 3), std::tuple(1, 1, 3, 10)}) {
    ASSERT_EQ(process(icmpv6ErrorToVip(type6, code6, 0, to_client, 48)).kind, VerdictKind::kForwarded);
    const Bytes translated = w_.popTx(0).value_or(Bytes{});
    const DecodedFrame t = decode(translated);
    EXPECT_EQ(translated[t.l4_offset], type4);
    EXPECT_EQ(translated[t.l4_offset + 1], code4);
    EXPECT_TRUE(l4ChecksumValid(translated, t.l3_offset));
  }
}

// The other direction: a router on the backend side cannot pass a client's segment. Its ICMPv4
// "fragmentation needed", addressed to the local address, reaches the IPv6 client as "packet too big"
// with the MTU plus 20, from the VIP, quoting the client's own packet byte for byte.
TEST_F(Ipv6PathTest, FragmentationNeededFromTheBackendSideReachesTheIpv6Client) {
  ASSERT_EQ(process(clientTcp6(kSyn)).kind, VerdictKind::kForwarded);
  w_.popTx(0);
  const Bytes segment = clientTcp6(kAck | RTE_TCP_PSH_FLAG, Bytes(600, 'c'));
  ASSERT_EQ(process(segment).kind, VerdictKind::kForwarded);
  const Bytes natted = w_.popTx(0).value_or(Bytes{});
  const Bytes error = icmpErrorToPort(ipv4(10, 99, 0, 1), backendMac(11), 3, 4, 1400, ipPacket(natted));
  const Verdict v = process(error);
  ASSERT_EQ(v.kind, VerdictKind::kForwarded) << v.drop;
  const Bytes out = w_.popTx(0).value_or(Bytes{});
  ASSERT_GT(out.size(), kL4 + 8);
  EXPECT_EQ(get16(out, 12), RTE_ETHER_TYPE_IPV6);
  EXPECT_TRUE(sameMac(decode(out).eth_dst, clientMac()));
  EXPECT_EQ(address(out, kIp6 + 8), kVip6);
  EXPECT_EQ(address(out, kIp6 + 24), kClientIp6);
  EXPECT_EQ(out[kIp6 + 6], IPPROTO_ICMPV6);
  EXPECT_EQ(out[kL4], 2) << "packet too big";
  EXPECT_EQ(out[kL4 + 1], 0);
  EXPECT_EQ((uint32_t{get16(out, kL4 + 4)} << 16) | get16(out, kL4 + 6), 1420u) << "the IPv4 MTU plus 20";
  EXPECT_TRUE(ipv6L4ChecksumValid(out));
  const Bytes quote(out.begin() + kL4 + 8, out.end());
  EXPECT_EQ(quote, Bytes(segment.begin() + kIp6, segment.end()))
      << "the client's own packet, header, checksum and data";
  EXPECT_EQ(w_.counters().icmp_relayed.read(), 1u);

  // Port unreachable stays port unreachable; protocol unreachable has no IPv6 counterpart.
  ASSERT_EQ(process(icmpErrorToPort(backendIp(11), backendMac(11), 3, 3, 0, ipPacket(natted, 28))).kind,
            VerdictKind::kForwarded);
  const Bytes unreachable = w_.popTx(0).value_or(Bytes{});
  EXPECT_EQ(unreachable[kL4], 1);
  EXPECT_EQ(unreachable[kL4 + 1], 4);
  EXPECT_TRUE(ipv6L4ChecksumValid(unreachable));
  EXPECT_EQ(process(icmpErrorToPort(backendIp(11), backendMac(11), 3, 2, 0, ipPacket(natted, 28))).drop,
            DropReason::kUnsupported);
}

// Errors this does not translate, or that quote something other than a reply from the VIP, are
// dropped as unsupported; the backend sees nothing.
TEST_F(Ipv6PathTest, OtherIcmpv6ErrorsAreNotPassedOn) {
  ASSERT_EQ(process(clientUdp6({'u'})).kind, VerdictKind::kForwarded);
  const DecodedFrame out = decode(w_.popTx(0).value_or(Bytes{}));
  ASSERT_EQ(process(backendAnswer(out, true, {'r'})).kind, VerdictKind::kForwarded);
  const Bytes to_client = w_.popTx(0).value_or(Bytes{});
  EXPECT_EQ(process(icmpv6ErrorToVip(4, 0, 0, to_client, 64)).drop, DropReason::kUnsupported) << "parameter problem";
  EXPECT_EQ(process(icmpv6ErrorToVip(2, 0, 1280, to_client, 40 + 4)).drop, DropReason::kUnsupported)
      << "quote shorter than the 8 L4 bytes";
  Bytes not_from_vip = to_client;
  not_from_vip[kIp6 + 8 + 15] ^= 1;  // the quoted source is not the VIP
  EXPECT_EQ(process(icmpv6ErrorToVip(2, 0, 1280, not_from_vip, 64)).drop, DropReason::kUnsupported);
  EXPECT_EQ(w_.txCount(0), 0);
  EXPECT_EQ(w_.counters().icmp_to_backend.read(), 0u);
}

// The flow table keeps IPv6 keys apart from IPv4 ones: an IPv4 key with the same ports, protocol and
// zero addresses finds nothing, and erasing an IPv6 flow empties its index slot.
TEST(Ipv6FlowTable, Ipv6KeysNeverMatchIpv4LookupsAndEraseCleanly) {
  FlowTable table(1024);
  const hashing::FlowKeyV6 key = webClientKey6();
  FlowEntry* e = table.insertV6(key, table.hashKeyV6(key));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(table.findByClientV6(key, table.hashKeyV6(key)), e);
  hashing::FlowKeyV4 v4;
  v4.src_port_be = key.src_port_be;
  v4.dst_port_be = key.dst_port_be;
  v4.protocol = key.protocol;
  EXPECT_EQ(table.findByClient(v4, table.hashKey(v4)), nullptr);
  hashing::FlowKeyV6 other = key;
  other.src_addr[15] ^= 1;
  EXPECT_EQ(table.findByClientV6(other, table.hashKeyV6(other)), nullptr);
  table.erase(e);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.findByClientV6(key, table.hashKeyV6(key)), nullptr);
}

}  // namespace
}  // namespace lb::dataplane::test
