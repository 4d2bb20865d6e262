// Full-NAT with several source addresses on a port (ports[].local_addresses): flows spread over the
// addresses, each address holds the whole local port range (so a port carries addresses x ports
// concurrent flows), replies to any of them come back to the client, and Tether answers ARP and ping
// for them.
#include <rte_icmp.h>

#include <map>
#include <set>
#include <utility>

#include "tests/dataplane/packet_test_util.h"

namespace lb::dataplane::test {
namespace {

constexpr uint32_t kFirstLocal = ipv4(10, 99, 0, 20);
constexpr uint16_t kLocalCount = 4;

class LocalAddressesTest : public testing::Test {
 protected:
  void SetUp() override {
    baseline_ = poolInUse();
    source_.config.ports[0].local_addresses = controlplane::Ipv4Range{kFirstLocal, kFirstLocal + kLocalCount - 1};
    snap_ = source_.build();
    ASSERT_NE(snap_, nullptr);
  }
  void TearDown() override { EXPECT_EQ(poolInUse(), baseline_) << "mbufs leaked"; }

  static LocalAddressCounts counts(uint16_t port0) {
    LocalAddressCounts c = kOneLocalAddressPerPort;
    c[0] = port0;
    return c;
  }

  // Sends `frame` and returns the one frame queued on port 0 (empty when there is none).
  static Bytes forward(WorkerHarness& w, const Snapshot& snap, const Bytes& frame) {
    const Verdict v = w.process(snap, frame);
    EXPECT_EQ(v.kind, VerdictKind::kForwarded) << "drop reason " << v.drop;
    return w.popTx(0).value_or(Bytes{});
  }

  unsigned baseline_ = 0;
  SnapshotSource source_;
  std::unique_ptr<Snapshot> snap_;
};

// Consecutive flows take the addresses in turn; every frame carries valid checksums, the backend's
// MAC, and a local port of the worker's own range.
TEST_F(LocalAddressesTest, FlowsSpreadOverTheAddresses) {
  WorkerHarness w(0, twoWorkerPartition(), 1u << 12, counts(kLocalCount));
  std::map<uint32_t, int> per_address;
  std::set<std::pair<uint32_t, uint16_t>> endpoints;
  for (uint16_t i = 0; i < 4 * kLocalCount; ++i) {
    const Bytes out = forward(w, *snap_, fromClient().tcp(static_cast<uint16_t>(30000 + i), kWebPort, kSyn).build());
    ASSERT_FALSE(out.empty());
    const DecodedFrame d = decode(out);
    EXPECT_EQ(d.ip_src, kFirstLocal + i % kLocalCount) << "flow " << i;
    EXPECT_NE(backendHost(d.ip_dst), 0);
    EXPECT_TRUE(sameMac(d.eth_dst, backendMac(backendHost(d.ip_dst))));
    EXPECT_TRUE(twoWorkerPartition().contains(d.src_port));
    EXPECT_EQ(twoWorkerPartition().ownerOf(d.src_port), 0);
    EXPECT_TRUE(ipv4HeaderChecksumValid(out, d.l3_offset));
    EXPECT_TRUE(l4ChecksumValid(out, d.l3_offset));
    ++per_address[d.ip_src];
    EXPECT_TRUE(endpoints.emplace(d.ip_src, d.src_port).second) << "endpoint used twice";
  }
  EXPECT_EQ(per_address.size(), size_t{kLocalCount});
  EXPECT_EQ(w.totalDrops(), 0u);
}

// A connection through a secondary address: the backend's reply to that address returns to the
// client as VIP -> client, and the established path keeps the same address and port afterwards.
TEST_F(LocalAddressesTest, ReplyToASecondaryAddressReturnsToClient) {
  WorkerHarness w(0, twoWorkerPartition(), 1u << 12, counts(kLocalCount));
  // The second flow takes the second address.
  forward(w, *snap_, fromClient().tcp(kClientPort - 1, kWebPort, kSyn, 100).build());
  const DecodedFrame syn = decode(forward(w, *snap_, fromClient().tcp(kClientPort, kWebPort, kSyn, 5000).build()));
  ASSERT_EQ(syn.ip_src, kFirstLocal + 1);
  const uint8_t backend = backendHost(syn.ip_dst);
  ASSERT_NE(backend, 0);

  PacketBuilder to_local;
  to_local.ethernet(backendMac(backend), portMac()).ipv4(backendIp(backend), syn.ip_src);
  const Bytes syn_ack = to_local.tcp(kWebBackendPort, syn.src_port, kSynAck, 9000, 5001).build();
  const Bytes reply_frame = forward(w, *snap_, syn_ack);
  ASSERT_FALSE(reply_frame.empty());
  expectReplyToClient(reply_frame, kWebPort, kClientPort);
  EXPECT_TRUE(l4ChecksumValid(reply_frame, decode(reply_frame).l3_offset));

  // ACK (slow path: it establishes the flow) and data (the established path).
  for (const uint32_t seq : {5001u, 5001u}) {
    const Bytes out =
        forward(w, *snap_, fromClient().tcp(kClientPort, kWebPort, kAck, seq, 9001).payload({1, 2}).build());
    const DecodedFrame d = decode(out);
    EXPECT_EQ(d.ip_src, syn.ip_src);
    EXPECT_EQ(d.src_port, syn.src_port);
    EXPECT_EQ(d.ip_dst, syn.ip_dst);
    EXPECT_TRUE(ipv4HeaderChecksumValid(out, d.l3_offset));
    EXPECT_TRUE(l4ChecksumValid(out, d.l3_offset));
  }
  EXPECT_EQ(w.counters().established_path.read(), 1u);
  // The port's own address is no longer a full-NAT source: a "reply" to it finds no flow.
  const Verdict stray =
      w.process(*snap_, fromBackend(backend).tcp(kWebBackendPort, syn.src_port, kAck, 9001, 5003).build());
  EXPECT_EQ(stray.drop, DropReason::kNoFlow);
  EXPECT_EQ(w.totalDrops(), 1u);
}

// Each address holds the worker's whole port chunk: with 4 local ports and 3 addresses, 12 flows fit
// and the 13th is refused as no_local_port; one address alone holds 4.
TEST_F(LocalAddressesTest, AddressesMultiplyTheConcurrentFlows) {
  constexpr uint16_t kAddresses = 3;
  source_.config.dataplane.local_port_min = 20000;
  source_.config.dataplane.local_port_max = 20003;
  for (const uint16_t addresses : {uint16_t{1}, kAddresses}) {
    SCOPED_TRACE(testing::Message() << addresses << " local addresses");
    source_.config.ports[0].local_addresses = controlplane::Ipv4Range{kFirstLocal, kFirstLocal + addresses - 1};
    const std::unique_ptr<Snapshot> snap = source_.build();
    ASSERT_NE(snap, nullptr);
    WorkerHarness w(0, LocalPortPartition{20000, 20003, 1}, 1u << 12, counts(addresses));
    const uint16_t fits = 4 * addresses;
    for (uint16_t i = 0; i < fits; ++i) {
      const Bytes out = forward(w, *snap, fromClient().tcp(static_cast<uint16_t>(30000 + i), kWebPort, kSyn).build());
      ASSERT_FALSE(out.empty()) << "flow " << i;
    }
    const Verdict refused = w.process(*snap, fromClient().tcp(31000, kWebPort, kSyn).build());
    EXPECT_EQ(refused.drop, DropReason::kNoLocalPort);
    EXPECT_EQ(w.drops(DropReason::kNoLocalPort), 1u);
    EXPECT_EQ(w.ctx().flows.size(), fits) << "a refused flow leaves no entry";
    EXPECT_EQ(w.ctx().local_ports[0].available(), 0u);
  }
}

// Tether answers ARP and ping for every local address (backends must resolve them to send replies),
// and not for the address just past the range.
TEST_F(LocalAddressesTest, ArpAndPingAnsweredForLocalAddresses) {
  WorkerHarness w(0, twoWorkerPartition(), 1u << 12, counts(kLocalCount));
  for (const uint32_t address : {kFirstLocal, kFirstLocal + kLocalCount - 1}) {
    const Verdict arp = w.process(*snap_, arpRequest(backendMac(11), backendIp(11), address));
    EXPECT_EQ(arp.kind, VerdictKind::kAnswered);
    EXPECT_EQ(w.popTx(0).value_or(Bytes{}), arpReply(portMac(), address, backendMac(11), backendIp(11)));
    const Verdict ping = w.process(*snap_, fromClient(address).icmpEcho(true, 9, 1).build());
    EXPECT_EQ(ping.kind, VerdictKind::kAnswered);
    const DecodedFrame echo = decode(w.popTx(0).value_or(Bytes{}));
    EXPECT_EQ(echo.icmp_type, RTE_IP_ICMP_ECHO_REPLY);
    EXPECT_EQ(echo.ip_src, address);
  }
  const Verdict past = w.process(*snap_, arpRequest(backendMac(11), backendIp(11), kFirstLocal + kLocalCount));
  EXPECT_EQ(past.drop, DropReason::kNotForUs);
}

}  // namespace
}  // namespace lb::dataplane::test
