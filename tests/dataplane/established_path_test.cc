// processBurst's established path (dataplane/established_path.h): which frames it takes, that what it
// sends is byte for byte what the slow path sends for the same frame, and that everything it leaves
// (state changes, odd or malformed frames, a changed snapshot, no headroom, a full batch) reaches the
// slow path and is handled and counted there.
#include <rte_ip.h>

#include <vector>

#include "dataplane/packet_parser.h"
#include "tests/dataplane/packet_test_util.h"

namespace lb::dataplane::test {
namespace {

class EstablishedPathTest : public testing::Test {
 protected:
  void SetUp() override {
    baseline_ = poolInUse();
    w_ = std::make_unique<WorkerHarness>(0, twoWorkerPartition());
  }
  void TearDown() override {
    w_.reset();
    EXPECT_EQ(poolInUse(), baseline_) << "mbufs leaked";
  }

  // Sends one frame and returns what left on port 0 (fails the test unless exactly one frame did).
  Bytes forward(const Snapshot& snap, const Bytes& frame) {
    const Verdict v = w_->process(snap, frame);
    EXPECT_EQ(v.kind, VerdictKind::kForwarded) << "drop reason " << v.drop;
    EXPECT_EQ(v.tx_port, 0);
    EXPECT_EQ(w_->txCount(0), 1);
    return w_->popTx(0).value_or(Bytes{});
  }
  uint64_t established() const { return w_->counters().established_path.read(); }
  const FlowEntry* flow(uint16_t client_port, uint16_t vip_port, uint8_t protocol = IPPROTO_TCP) {
    hashing::FlowKeyV4 key{rte_cpu_to_be_32(kClientIp), rte_cpu_to_be_32(kVip), rte_cpu_to_be_16(client_port),
                           rte_cpu_to_be_16(vip_port), protocol};
    return w_->ctx().flows.findByClient(key, w_->ctx().flows.hashKey(key));
  }
  // A TCP flow from kClientPort to `vip_port` through its handshake's ACK: armed from then on.
  void openTcp(const Snapshot& snap, uint16_t vip_port) {
    forward(snap, fromClient().tcp(kClientPort, vip_port, kSyn, 5000).build());
    forward(snap, fromClient().tcp(kClientPort, vip_port, kAck, 5001).build());
  }

  unsigned baseline_ = 0;
  std::unique_ptr<WorkerHarness> w_;
};

struct ModeCase {
  const char* name;
  uint16_t vip_port;
  uint8_t protocol;
};
void PrintTo(const ModeCase& c, std::ostream* os) { *os << c.name; }

class EstablishedPathModeTest : public EstablishedPathTest, public testing::WithParamInterface<ModeCase> {
 protected:
  Bytes dataFrame() const {
    const ModeCase& c = GetParam();
    PacketBuilder b = fromClient();
    if (c.protocol == IPPROTO_UDP) {
      b.udp(kClientPort, c.vip_port);
    } else {
      b.tcp(kClientPort, c.vip_port, kAck | RTE_TCP_PSH_FLAG, 5001);
    }
    return b.dontFragment().payload(Bytes(333, 0x5a)).build();
  }
};

// The first data frame of a flow goes through the slow path and arms the flow; the same frame again
// takes the established path, and both leave with the same bytes (full-NAT, DSR and IPIP rewrites,
// checksums, MACs), which are valid by full recomputation.
TEST_P(EstablishedPathModeTest, ArmedFlowSendsWhatTheSlowPathSends) {
  const Snapshot& snap = standardSnapshot();
  const ModeCase& c = GetParam();
  if (c.protocol == IPPROTO_TCP) {
    forward(snap, fromClient().tcp(kClientPort, c.vip_port, kSyn, 5000).build());
    const FlowEntry* syn_seen = flow(kClientPort, c.vip_port);
    ASSERT_NE(syn_seen, nullptr);
    EXPECT_EQ(syn_seen->to_backend.armed_epoch, 0u) << "a SYN-seen flow must not be armed";
  }
  const Bytes data = dataFrame();
  const uint64_t before = established();
  const Bytes slow = forward(snap, data);
  EXPECT_EQ(established(), before) << "the flow's first data frame arms it on the slow path";
  const FlowEntry* e = flow(kClientPort, c.vip_port, c.protocol);
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->to_backend.armed_epoch, 0u);

  const Bytes fast = forward(snap, data);
  EXPECT_EQ(established(), before + 1);
  EXPECT_EQ(fast, slow);
  const DecodedFrame d = decode(fast);
  ASSERT_TRUE(d.has_ipv4);
  EXPECT_TRUE(ipv4HeaderChecksumValid(fast, d.l3_offset));
  if (d.protocol == IPPROTO_IPIP) {
    EXPECT_TRUE(ipv4HeaderChecksumValid(fast, d.l4_offset));  // the inner header, unchanged
    EXPECT_TRUE(l4ChecksumValid(fast, d.l4_offset));
  } else {
    EXPECT_TRUE(l4ChecksumValid(fast, d.l3_offset));
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, EstablishedPathModeTest,
                         testing::Values(ModeCase{"FullNatTcp", kWebPort, IPPROTO_TCP},
                                         ModeCase{"FullNatUdp", kUdpPort, IPPROTO_UDP},
                                         ModeCase{"DsrL2", kDsrPort, IPPROTO_TCP},
                                         ModeCase{"Ipip", kIpipPort, IPPROTO_TCP}),
                         [](const testing::TestParamInfo<ModeCase>& info) { return std::string(info.param.name); });

// Full-NAT replies: the flow's to_client line is armed by the first reply the slow path forwards on
// an established (or UDP) flow, and the next reply takes the established path with the same bytes.
class EstablishedReplyTest : public EstablishedPathTest, public testing::WithParamInterface<uint8_t> {
 protected:
  // Opens a flow to the full-NAT service of `protocol` (TCP through its handshake, UDP by one
  // datagram) and returns the client's frame as the backend saw it.
  DecodedFrame openFlow(const Snapshot& snap) {
    if (GetParam() == IPPROTO_UDP) return decode(forward(snap, fromClient().udp(kClientPort, kUdpPort).build()));
    const DecodedFrame to_backend = decode(forward(snap, fromClient().tcp(kClientPort, kWebPort, kSyn, 5000).build()));
    forward(snap, fromBackend(backendHost(to_backend.ip_dst)).tcp(to_backend.dst_port, to_backend.src_port, kSynAck, 800, 5001).build());
    forward(snap, fromClient().tcp(kClientPort, kWebPort, kAck, 5001, 801).build());
    return to_backend;
  }
  // A reply on the flow `to_backend` saw, with flags `tcp_flags` (TCP) and a payload.
  Bytes reply(const DecodedFrame& to_backend, uint8_t tcp_flags = kAck, Bytes payload = Bytes(200, 0x3c)) const {
    PacketBuilder b = fromBackend(backendHost(to_backend.ip_dst));
    if (GetParam() == IPPROTO_UDP) {
      b.udp(to_backend.dst_port, to_backend.src_port);
    } else {
      b.tcp(to_backend.dst_port, to_backend.src_port, tcp_flags, 801, 5001);
    }
    return b.dontFragment().payload(std::move(payload)).build();
  }
  uint16_t vipPort() const { return GetParam() == IPPROTO_UDP ? kUdpPort : kWebPort; }
};

TEST_P(EstablishedReplyTest, ArmedReplySendsWhatTheSlowPathSends) {
  const Snapshot& snap = standardSnapshot();
  const DecodedFrame to_backend = openFlow(snap);
  const Bytes frame = reply(to_backend);
  const uint64_t before = established();
  const Bytes slow = forward(snap, frame);
  EXPECT_EQ(established(), before) << "the first reply arms the reply line on the slow path";
  const FlowEntry* e = flow(kClientPort, vipPort(), GetParam());
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->to_client.armed_epoch, 0u);

  const Bytes fast = forward(snap, frame);
  EXPECT_EQ(established(), before + 1);
  EXPECT_EQ(fast, slow);
  expectReplyToClient(fast, vipPort(), kClientPort);
  EXPECT_TRUE(l4ChecksumValid(fast, decode(fast).l3_offset));
  // And the client's direction is still its own line: the next client packet goes to the backend.
  const Bytes client_frame = GetParam() == IPPROTO_UDP ? fromClient().udp(kClientPort, kUdpPort).build()
                                                       : fromClient().tcp(kClientPort, kWebPort, kAck, 5001, 1001).build();
  forward(snap, client_frame);  // arms the client line (the handshake's ACK armed TCP already)
  const DecodedFrame again = decode(forward(snap, client_frame));
  EXPECT_EQ(again.ip_dst, to_backend.ip_dst);
  EXPECT_EQ(again.src_port, to_backend.src_port);
  EXPECT_EQ(established(), before + 3);
}

INSTANTIATE_TEST_SUITE_P(Protocols, EstablishedReplyTest, testing::Values(uint8_t{IPPROTO_TCP}, uint8_t{IPPROTO_UDP}),
                         [](const testing::TestParamInfo<uint8_t>& info) {
                           return std::string(info.param == IPPROTO_UDP ? "Udp" : "Tcp");
                         });

// A backend's FIN takes the slow path and disarms the reply line; a client's FIN disarms both lines.
TEST_F(EstablishedPathTest, FinsDisarmTheReplyLine) {
  const Snapshot& snap = standardSnapshot();
  const DecodedFrame to_backend = decode(forward(snap, fromClient().tcp(kClientPort, kWebPort, kSyn, 5000).build()));
  PacketBuilder backend = fromBackend(backendHost(to_backend.ip_dst));
  forward(snap, PacketBuilder(backend).tcp(to_backend.dst_port, to_backend.src_port, kSynAck, 800, 5001).build());
  forward(snap, fromClient().tcp(kClientPort, kWebPort, kAck, 5001, 801).build());
  const Bytes data = PacketBuilder(backend).tcp(to_backend.dst_port, to_backend.src_port, kAck, 801, 5001).payload({7}).build();
  forward(snap, data);
  forward(snap, data);
  EXPECT_EQ(established(), 1u);
  forward(snap, PacketBuilder(backend).tcp(to_backend.dst_port, to_backend.src_port, RTE_TCP_FIN_FLAG | kAck, 802, 5001).build());
  const FlowEntry* e = flow(kClientPort, kWebPort);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->state, FlowState::kTcpClosing);
  EXPECT_EQ(e->to_client.armed_epoch, 0u);
  forward(snap, data);
  EXPECT_EQ(established(), 1u) << "replies of a closing flow stay on the slow path";

  // A fresh flow whose client closes first: both lines disarmed.
  const DecodedFrame second = decode(forward(snap, fromClient().tcp(kClientPort + 1, kWebPort, kSyn, 5000).build()));
  PacketBuilder backend2 = fromBackend(backendHost(second.ip_dst));
  forward(snap, PacketBuilder(backend2).tcp(second.dst_port, second.src_port, kSynAck, 800, 5001).build());
  forward(snap, fromClient().tcp(kClientPort + 1, kWebPort, kAck, 5001, 801).build());
  forward(snap, PacketBuilder(backend2).tcp(second.dst_port, second.src_port, kAck, 801, 5001).payload({7}).build());
  const FlowEntry* e2 = flow(kClientPort + 1, kWebPort);
  ASSERT_NE(e2, nullptr);
  EXPECT_NE(e2->to_client.armed_epoch, 0u);
  forward(snap, fromClient().tcp(kClientPort + 1, kWebPort, RTE_TCP_FIN_FLAG | kAck, 5001, 802).build());
  EXPECT_EQ(e2->to_backend.armed_epoch, 0u);
  EXPECT_EQ(e2->to_client.armed_epoch, 0u);
}

// A client whose MAC changed (another router) is answered at its new MAC: the reply line, which holds
// the old one, is disarmed by the client's slow-path packet and re-armed by the next reply.
TEST_F(EstablishedPathTest, ClientMacChangeRearmsTheReplyLine) {
  const Snapshot& snap = standardSnapshot();
  const DecodedFrame to_backend = decode(forward(snap, fromClient().udp(kClientPort, kUdpPort).build()));
  const Bytes data = fromBackend(backendHost(to_backend.ip_dst)).udp(to_backend.dst_port, to_backend.src_port).payload({1, 2}).build();
  forward(snap, data);
  forward(snap, data);
  EXPECT_EQ(established(), 1u);
  const rte_ether_addr moved = testMac(0xc2c2);
  // Through the slow path: the client line's first packet would be established, so an IPv4 option
  // keeps this one off it (the client's packets that reach the slow path are the ones that can tell).
  forward(snap, fromClient().ethernet(moved, portMac()).ipv4(kClientIp, kVip).ipOptions({1, 1, 1, 0}).udp(kClientPort, kUdpPort).build());
  const FlowEntry* e = flow(kClientPort, kUdpPort, IPPROTO_UDP);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->to_client.armed_epoch, 0u);
  const Bytes out = forward(snap, data);
  EXPECT_EQ(established(), 1u);
  rte_ether_addr dst;
  std::memcpy(&dst, out.data(), sizeof(dst));
  EXPECT_TRUE(rte_is_same_ether_addr(&dst, &moved));
  EXPECT_EQ(forward(snap, data), out);
  EXPECT_EQ(established(), 2u);
}

// A UDP datagram without a checksum (zero) keeps it through the established path's full-NAT.
TEST_F(EstablishedPathTest, UdpZeroChecksumStaysZero) {
  const Snapshot& snap = standardSnapshot();
  const Bytes datagram = fromClient().udp(kClientPort, kUdpPort).zeroUdpChecksum().payload({1, 2, 3}).build();
  forward(snap, datagram);
  const Bytes fast = forward(snap, datagram);
  EXPECT_EQ(established(), 1u);
  const DecodedFrame d = decode(fast);
  EXPECT_EQ(d.l4_checksum, 0);
  EXPECT_EQ(d.ip_src, kPortIp);
}

// SYN, FIN and RST change TCP state, so they take the slow path even on an armed flow; a FIN from the
// client disarms the flow, and its later packets stay on the slow path.
TEST_F(EstablishedPathTest, StateChangesTakeTheSlowPath) {
  const Snapshot& snap = standardSnapshot();
  openTcp(snap, kWebPort);
  forward(snap, fromClient().tcp(kClientPort, kWebPort, kAck, 5001).payload({1}).build());
  EXPECT_EQ(established(), 1u);
  forward(snap, fromClient().tcp(kClientPort, kWebPort, RTE_TCP_FIN_FLAG | kAck, 5002).build());
  EXPECT_EQ(established(), 1u);
  const FlowEntry* e = flow(kClientPort, kWebPort);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->state, FlowState::kTcpClosing);
  EXPECT_EQ(e->to_backend.armed_epoch, 0u);
  forward(snap, fromClient().tcp(kClientPort, kWebPort, kAck, 5003).build());
  EXPECT_EQ(established(), 1u);
}

// Frames the inline screen does not take (IPv4 options) go the slow path and are still forwarded
// on the flow; malformed ones of an armed flow are dropped and counted exactly as without a flow.
TEST_F(EstablishedPathTest, OddAndMalformedFramesOfArmedFlowsTakeTheSlowPath) {
  const Snapshot& snap = standardSnapshot();
  openTcp(snap, kWebPort);
  const Bytes with_options = fromClient().ipOptions({0x01, 0x01, 0x01, 0x00}).tcp(kClientPort, kWebPort, kAck).build();
  const DecodedFrame out = decode(forward(snap, with_options));
  EXPECT_EQ(out.ip_src, kPortIp);
  EXPECT_EQ(established(), 0u);

  Bytes bad_offset = fromClient().tcp(kClientPort, kWebPort, kAck).build();
  bad_offset[decode(bad_offset).l4_offset + 12] = 2 << 4;  // data offset 8 bytes: below the minimum
  Bytes beyond = fromClient().tcp(kClientPort, kWebPort, kAck).build();
  beyond[sizeof(rte_ether_hdr) + 2] = 0x05;  // IPv4 total length far beyond the frame
  for (const Bytes& frame : {bad_offset, beyond}) {
    const Verdict v = w_->process(snap, frame);
    EXPECT_EQ(v.kind, VerdictKind::kDropped);
    EXPECT_EQ(v.drop, DropReason::kMalformed);
  }
  EXPECT_EQ(w_->drops(DropReason::kMalformed), 2u);
  EXPECT_EQ(established(), 0u);
  EXPECT_EQ(w_->txCount(0), 0);
}

// A new snapshot (another generation) disarms every flow: its next packet is classified again under
// the new snapshot, which re-arms it, and the packet after that is on the established path again.
TEST_F(EstablishedPathTest, NewSnapshotRearmsThroughTheSlowPath) {
  SnapshotSource source;
  std::unique_ptr<Snapshot> first = source.build();
  ASSERT_NE(first, nullptr);
  openTcp(*first, kWebPort);
  const Bytes data = fromClient().tcp(kClientPort, kWebPort, kAck, 5001).payload({9}).build();
  const Bytes before = forward(*first, data);
  EXPECT_EQ(established(), 1u);

  std::unique_ptr<Snapshot> second = source.build();
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(forward(*second, data), before);
  EXPECT_EQ(established(), 1u);
  EXPECT_EQ(forward(*second, data), before);
  EXPECT_EQ(established(), 2u);
}

// An IPIP frame without room for the outer header is left to the slow path, which drops and counts
// it; the established path changes nothing before it knows the frame is its own.
TEST_F(EstablishedPathTest, IpipWithoutHeadroomIsDroppedAndCounted) {
  const Snapshot& snap = standardSnapshot();
  openTcp(snap, kIpipPort);
  rte_mbuf* m = toMbuf(testPool(), fromClient().tcp(kClientPort, kIpipPort, kAck, 5001).build());
  ASSERT_NE(m, nullptr);
  setHeadroom(m, 8);
  const Verdict v = w_->processMbuf(snap, m);
  EXPECT_EQ(v.kind, VerdictKind::kDropped);
  EXPECT_EQ(v.drop, DropReason::kNoHeadroom);
  EXPECT_EQ(w_->drops(DropReason::kNoHeadroom), 1u);
  EXPECT_EQ(established(), 0u);
}

// A frame of an armed flow longer than the egress MTU allows is the slow path's: without a fragment
// table that drops it as too_big and counts it, where the established path would have queued a frame
// the port cannot send. One that fits exactly still takes the established path.
TEST_F(EstablishedPathTest, FrameOverTheEgressMtuTakesTheSlowPath) {
  const Snapshot& snap = standardSnapshot();
  ASSERT_EQ(snap.ports[0].mtu, RTE_ETHER_MTU);
  const auto datagram = [](size_t ip_len) {
    return fromClient().udp(kClientPort, kUdpPort).payload(Bytes(ip_len - 28, 0x33)).build();
  };
  forward(snap, datagram(100));
  forward(snap, datagram(RTE_ETHER_MTU));
  EXPECT_EQ(established(), 1u);
  const Verdict v = w_->process(snap, datagram(RTE_ETHER_MTU + 1));
  EXPECT_EQ(v.kind, VerdictKind::kDropped);
  EXPECT_EQ(v.drop, DropReason::kTooBig);
  EXPECT_EQ(w_->drops(DropReason::kTooBig), 1u);
  EXPECT_EQ(w_->txCount(0), 0);
  EXPECT_EQ(established(), 1u);
}

// A full transmit batch: the frame is freed and counted as tx_full, not written past the batch.
TEST_F(EstablishedPathTest, FullTransmitBatchCountsTxFull) {
  const Snapshot& snap = standardSnapshot();
  openTcp(snap, kWebPort);
  TxBatch& batch = w_->ctx().tx[0];
  const Bytes filler = fromClient().udp(1, 2).build();
  while (batch.count < batch.packets.size()) {
    batch.packets[batch.count++] = toMbuf(testPool(), filler);
    batch.bytes += filler.size();
  }
  const Verdict v = w_->process(snap, fromClient().tcp(kClientPort, kWebPort, kAck, 5001).build());
  EXPECT_EQ(v.kind, VerdictKind::kForwarded);  // queueTx frees and counts the overflow itself
  EXPECT_EQ(w_->drops(DropReason::kTxFull), 1u);
  EXPECT_EQ(established(), 0u);
  EXPECT_EQ(w_->drain(), batch.packets.size());
}

// A batch with room for part of a burst: the loop that skips the per-frame check does not run, and
// each frame is checked: the first fills the batch, the second is counted as tx_full.
TEST_F(EstablishedPathTest, BatchWithRoomForPartOfTheBurstChecksEachFrame) {
  const Snapshot& snap = standardSnapshot();
  openTcp(snap, kWebPort);
  TxBatch& batch = w_->ctx().tx[0];
  const Bytes filler = fromClient().udp(1, 2).build();
  while (batch.count < batch.packets.size() - 1) {
    batch.packets[batch.count++] = toMbuf(testPool(), filler);
    batch.bytes += filler.size();
  }
  std::vector<rte_mbuf*> mbufs;
  for (const uint32_t seq : {6000u, 6001u}) {
    mbufs.push_back(toMbuf(testPool(), fromClient().tcp(kClientPort, kWebPort, kAck, seq).payload({1}).build()));
  }
  processBurst(w_->ctx(), snap, 0, mbufs.data(), static_cast<uint16_t>(mbufs.size()), 0, nullptr);
  EXPECT_EQ(established(), 1u);
  EXPECT_EQ(w_->drops(DropReason::kTxFull), 1u);
  EXPECT_EQ(w_->drain(), batch.packets.size());
}

// One burst mixing the two paths: frames leave in the order they came, so a flow's FIN (slow path)
// stays behind its data (established path) and ahead of what follows it.
TEST_F(EstablishedPathTest, BurstKeepsOrderAcrossBothPaths) {
  const Snapshot& snap = standardSnapshot();
  openTcp(snap, kWebPort);
  const std::vector<Bytes> frames = {
      fromClient().tcp(kClientPort, kWebPort, kAck, 6000).payload({1}).build(),
      fromClient().tcp(kClientPort, kWebPort, kAck, 6001).payload({2}).build(),
      fromClient().tcp(kClientPort, kWebPort, RTE_TCP_FIN_FLAG | kAck, 6002).build(),
      fromClient().tcp(kClientPort + 1, kWebPort, kSyn, 7000).build(),
      fromClient().tcp(kClientPort, kWebPort, kAck, 6003).build(),
  };
  std::vector<rte_mbuf*> mbufs;
  for (const Bytes& f : frames) mbufs.push_back(toMbuf(testPool(), f));
  std::vector<Verdict> verdicts(frames.size());
  processBurst(w_->ctx(), snap, 0, mbufs.data(), static_cast<uint16_t>(mbufs.size()), 0, verdicts.data());
  for (const Verdict& v : verdicts) EXPECT_EQ(v.kind, VerdictKind::kForwarded);
  EXPECT_EQ(established(), 2u);  // the two data frames; the FIN disarmed the flow for the last one
  ASSERT_EQ(w_->txCount(0), frames.size());
  const uint32_t seqs[] = {6000, 6001, 6002, 7000, 6003};
  for (uint32_t seq : seqs) {
    const Bytes out = w_->popTx(0).value_or(Bytes{});
    const DecodedFrame d = decode(out);
    ASSERT_TRUE(d.has_ports);
    uint32_t got;
    std::memcpy(&got, out.data() + d.l4_offset + 4, sizeof(got));
    EXPECT_EQ(rte_be_to_cpu_32(got), seq);
  }
  EXPECT_EQ(w_->counters().rx_packets.read(), 2u + frames.size());
}

// Stage 2 hands stage 3 the line its key's slot names: the home slot, or, for a key displaced by
// another with the same home, one of the next LineLookup::kAwayProbeSlots slots; stage 3 compares the
// key there. A key displaced further is found by probing the index once the loop over the burst has
// ended (finishAway). Nine flows with one home slot, in a table small enough to find them: the first
// sits at home, the second just after it, the ninth at least eight slots on. In one burst, every
// frame takes the established path, each rewritten as its own flow (what each sends alone); the
// flows the loop found leave first, then the ninth flow's two frames, in the order they came.
TEST_F(EstablishedPathTest, FlowsOffTheirHomeSlotAreFoundAndKeepTheirOrder) {
  w_ = std::make_unique<WorkerHarness>(0, twoWorkerPartition(), 64);
  const Snapshot& snap = standardSnapshot();
  FlowTable& flows = w_->ctx().flows;
  const uint32_t index_mask = flows.capacity() * 4 - 1;  // the index is 4 slots per entry (flow_table.h)
  const auto home = [&](uint16_t client_port) {
    const hashing::FlowKeyV4 key{rte_cpu_to_be_32(kClientIp), rte_cpu_to_be_32(kVip), rte_cpu_to_be_16(client_port),
                                 rte_cpu_to_be_16(kWebPort), IPPROTO_TCP};
    return FlowTable::tagOf(flows.hashKey(key)) & index_mask;
  };
  std::vector<uint16_t> ports = {kClientPort};
  for (uint16_t port = kClientPort + 1; ports.size() < FlowTable::LineLookup::kAwayProbeSlots + 2; ++port) {
    if (home(port) == home(kClientPort)) ports.push_back(port);  // ~256 tries each
  }
  for (const uint16_t port : ports) {  // created in order, so each sits past the ones before it
    forward(snap, fromClient().tcp(port, kWebPort, kSyn, 5000).build());
    forward(snap, fromClient().tcp(port, kWebPort, kAck, 5001).build());
  }
  const uint16_t at_home = ports.front();
  const uint16_t next_to_home = ports[1];
  const uint16_t far = ports.back();
  const std::vector<std::pair<uint16_t, uint32_t>> frames = {
      {far, 6000}, {at_home, 6000}, {far, 6001}, {next_to_home, 6000}};
  const auto frame = [&](uint16_t port, uint32_t seq) {
    return fromClient().tcp(port, kWebPort, kAck, seq).payload({7}).build();
  };
  const uint64_t before = established();
  std::vector<Bytes> alone;
  for (const auto& [port, seq] : frames) alone.push_back(forward(snap, frame(port, seq)));
  ASSERT_EQ(established(), before + frames.size()) << "every flow armed";

  std::vector<rte_mbuf*> mbufs;
  for (const auto& [port, seq] : frames) mbufs.push_back(toMbuf(testPool(), frame(port, seq)));
  std::vector<Verdict> verdicts(mbufs.size());
  processBurst(w_->ctx(), snap, 0, mbufs.data(), static_cast<uint16_t>(mbufs.size()), 0, verdicts.data());
  EXPECT_EQ(established(), before + 2 * frames.size());
  for (const Verdict& v : verdicts) EXPECT_EQ(v.kind, VerdictKind::kForwarded);
  ASSERT_EQ(w_->txCount(0), frames.size());
  for (const size_t k : {1, 3, 0, 2}) EXPECT_EQ(w_->popTx(0).value_or(Bytes{}), alone[k]) << "frame " << k;
  EXPECT_NE(alone[0], alone[1]);
}

}  // namespace
}  // namespace lb::dataplane::test
