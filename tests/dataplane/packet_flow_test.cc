// Multi-packet processBurst scenarios that a single table row cannot express: both directions of a
// full-NAT connection, flow affinity across snapshot changes, VLAN push on a tagged port, and the
// reply hand-off between two workers. Also checks the PacketBuilder's checksums themselves, since every
// other test trusts them as the reference.
#include <rte_ip.h>

#include <set>

#include "dataplane/packet_parser.h"
#include "tests/dataplane/packet_test_util.h"

namespace lb::dataplane::test {
namespace {

class PacketFlowTest : public testing::Test {
 protected:
  void SetUp() override {
    baseline_ = poolInUse();
    w0_ = std::make_unique<WorkerHarness>(0, twoWorkerPartition());
    w1_ = std::make_unique<WorkerHarness>(1, twoWorkerPartition());
    w0_->connectTo(*w1_);
    w1_->connectTo(*w0_);
  }
  void TearDown() override {
    w0_.reset();
    w1_.reset();
    EXPECT_EQ(poolInUse(), baseline_) << "mbufs leaked";
  }

  // Lets `w` process what another worker handed it (a walk's next step or a reply).
  Verdict processHandOff(WorkerHarness& w, const Snapshot& snap) {
    void* obj = nullptr;
    if (rte_ring_dequeue(w.handoffIn(), &obj) != 0) {
      ADD_FAILURE() << "nothing handed over";
      return Verdict{};
    }
    auto* m = static_cast<rte_mbuf*>(obj);
    return w.processMbuf(snap, m, m->port);
  }

  // Sends one frame through `w` and returns the single frame it queued on port 0.
  Bytes forward(WorkerHarness& w, const Snapshot& snap, const Bytes& frame) {
    const Verdict v = w.process(snap, frame);
    EXPECT_EQ(v.kind, VerdictKind::kForwarded) << "drop reason " << v.drop;
    EXPECT_EQ(w.txCount(0), 1);
    return w.popTx(0).value_or(Bytes{});
  }

  unsigned baseline_ = 0;
  std::unique_ptr<WorkerHarness> w0_;
  std::unique_ptr<WorkerHarness> w1_;
};

// The reference checksums are right, and the validators notice a single corrupted byte.
TEST_F(PacketFlowTest, BuilderChecksumsValidAndCorruptionDetected) {
  for (const Bytes& frame : {fromClient().tcp(1, 2, kSyn).payload({1, 2, 3}).build(),
                             fromClient().udp(1, 2).payload({1, 2, 3}).build(),
                             fromClient().ipOptions({0x94, 4, 0, 0}).icmpEcho(true, 3, 4).payload({5}).build()}) {
    const DecodedFrame d = decode(frame);
    ASSERT_TRUE(d.has_ipv4);
    EXPECT_TRUE(ipv4HeaderChecksumValid(frame, d.l3_offset));
    EXPECT_TRUE(l4ChecksumValid(frame, d.l3_offset));
    Bytes bad_ip = frame;
    bad_ip[d.l3_offset + 8] ^= 0x01;  // TTL
    EXPECT_FALSE(ipv4HeaderChecksumValid(bad_ip, d.l3_offset));
    Bytes bad_l4 = frame;
    bad_l4.back() ^= 0x40;  // last payload byte
    EXPECT_FALSE(l4ChecksumValid(bad_l4, d.l3_offset));
  }
}

// A backend's full-NAT reply is rewritten to VIP:port -> client:port toward the client's MAC, with
// checksums equal to a full recomputation, and the connection's later packets keep their local port.
TEST_F(PacketFlowTest, FullNatTcpReplyReturnsToClient) {
  const Snapshot& snap = standardSnapshot();
  const Bytes syn = fromClient().tcp(kClientPort, kWebPort, kSyn, 5000).build();
  const DecodedFrame out = decode(forward(*w0_, snap, syn));
  const uint8_t backend = backendHost(out.ip_dst);
  ASSERT_NE(backend, 0);

  const Bytes syn_ack =
      fromBackend(backend).tcp(kWebBackendPort, out.src_port, kSynAck, 9000, 5001).payload({1, 2, 3}).build();
  const Bytes reply_frame = forward(*w0_, snap, syn_ack);
  const DecodedFrame reply = decode(reply_frame);
  ASSERT_TRUE(reply.has_ports);
  EXPECT_TRUE(sameMac(reply.eth_dst, clientMac()));
  EXPECT_TRUE(sameMac(reply.eth_src, portMac()));
  EXPECT_FALSE(reply.vlan_tci.has_value());
  EXPECT_EQ(reply.ip_src, kVip);
  EXPECT_EQ(reply.src_port, kWebPort);
  EXPECT_EQ(reply.ip_dst, kClientIp);
  EXPECT_EQ(reply.dst_port, kClientPort);
  EXPECT_EQ(reply.tcp_flags, kSynAck);
  EXPECT_TRUE(ipv4HeaderChecksumValid(reply_frame, reply.l3_offset));
  EXPECT_EQ(reply.ip_checksum, recomputeIpv4Checksum(reply_frame, reply.l3_offset));
  EXPECT_TRUE(l4ChecksumValid(reply_frame, reply.l3_offset));
  EXPECT_EQ(reply.l4_checksum, recomputeL4Checksum(reply_frame, reply.l3_offset));
  // Sequence numbers through window (bytes 38..49) and urgent pointer plus payload (52..) untouched.
  ASSERT_EQ(reply_frame.size(), syn_ack.size());
  EXPECT_TRUE(std::equal(syn_ack.begin() + 38, syn_ack.begin() + 50, reply_frame.begin() + 38));
  EXPECT_TRUE(std::equal(syn_ack.begin() + 52, syn_ack.end(), reply_frame.begin() + 52));

  // The client's ACK completes the handshake: same backend, same local port, flow established.
  const DecodedFrame ack = decode(forward(*w0_, snap, fromClient().tcp(kClientPort, kWebPort, kAck, 5001, 9001).build()));
  EXPECT_EQ(ack.ip_dst, out.ip_dst);
  EXPECT_EQ(ack.src_port, out.src_port);
  hashing::FlowKeyV4 key{rte_cpu_to_be_32(kClientIp), rte_cpu_to_be_32(kVip), rte_cpu_to_be_16(kClientPort),
                         rte_cpu_to_be_16(kWebPort), IPPROTO_TCP};
  const FlowEntry* e = w0_->ctx().flows.findByClient(key, w0_->ctx().flows.hashKey(key));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->state, FlowState::kTcpEstablished);
  EXPECT_EQ(w0_->counters().flows_created.read(), 1u);
  EXPECT_EQ(w0_->totalDrops(), 0u);
}

// UDP full-NAT works both ways with valid checksums, and a datagram without a checksum keeps none in
// either direction.
TEST_F(PacketFlowTest, FullNatUdpBothDirections) {
  const Snapshot& snap = standardSnapshot();
  for (const bool zero_checksum : {false, true}) {
    const uint16_t client_port = zero_checksum ? 5001 : 5000;
    PacketBuilder request = fromClient().udp(client_port, kUdpPort).payload({'q', 'u', 'e', 'r', 'y'});
    if (zero_checksum) request.zeroUdpChecksum();
    const Bytes request_frame = request.build();
    const Bytes out_frame = forward(*w0_, snap, request_frame);
    expectFullNatToBackend(request_frame, out_frame, kUdpBackendPort, twoWorkerPartition(), 0);
    const DecodedFrame out = decode(out_frame);
    const uint8_t backend = backendHost(out.ip_dst);
    ASSERT_NE(backend, 0);

    PacketBuilder answer = fromBackend(backend).udp(kUdpBackendPort, out.src_port).payload({'a', 'n', 's'});
    if (zero_checksum) answer.zeroUdpChecksum();
    const Bytes reply_frame = forward(*w0_, snap, answer.build());
    const DecodedFrame reply = decode(reply_frame);
    expectReplyToClient(reply_frame, kUdpPort, client_port);
    if (zero_checksum) {
      EXPECT_EQ(reply.l4_checksum, 0);
    } else {
      EXPECT_NE(reply.l4_checksum, 0);
      EXPECT_TRUE(l4ChecksumValid(reply_frame, reply.l3_offset));
      EXPECT_EQ(reply.l4_checksum, recomputeL4Checksum(reply_frame, reply.l3_offset));
    }
  }
}

// Connection tracking (Maglev paper 3.3): an existing flow stays on its backend after a new snapshot
// adds and removes other backends, while new flows are balanced over the new set.
TEST_F(PacketFlowTest, ExistingFlowKeepsBackendAcrossSnapshots) {
  SnapshotSource source;
  const std::unique_ptr<Snapshot> before = source.build();
  ASSERT_NE(before, nullptr);
  const DecodedFrame first = decode(forward(*w0_, *before, fromClient().tcp(kClientPort, kWebPort, kSyn).build()));
  const uint8_t chosen = backendHost(first.ip_dst);
  ASSERT_NE(chosen, 0);

  // Keep the chosen backend, drop the other two, add 14 and 15.
  source.config = makeConfig({chosen, 14, 15});
  const std::unique_ptr<Snapshot> after = source.build();
  ASSERT_NE(after, nullptr);

  for (int i = 0; i < 5; ++i) {
    const DecodedFrame next =
        decode(forward(*w0_, *after, fromClient().tcp(kClientPort, kWebPort, kAck, 1001 + i, 1).build()));
    EXPECT_EQ(next.ip_dst, first.ip_dst) << "established flow moved";
    EXPECT_EQ(next.src_port, first.src_port);
  }

  std::set<uint8_t> new_flow_backends;
  for (uint16_t p = 1; p <= 64; ++p) {
    const DecodedFrame d =
        decode(forward(*w0_, *after, fromClient().tcp(static_cast<uint16_t>(20000 + p), kWebPort, kSyn).build()));
    new_flow_backends.insert(backendHost(d.ip_dst));
  }
  const std::set<uint8_t> allowed = {chosen, 14, 15};
  for (uint8_t b : new_flow_backends) EXPECT_TRUE(allowed.count(b)) << "new flow to removed backend " << int{b};
  EXPECT_GT(new_flow_backends.size(), 1u) << "new flows did not spread over the new backend set";
  EXPECT_TRUE(new_flow_backends.count(14) || new_flow_backends.count(15)) << "added backends get no new flows";
}

// Established packets skip classification only under the snapshot their flow was classified in:
// once a new snapshot drops a service, its established flows (every forwarding mode) are refused like
// any packet to that VIP port, and the services still there keep forwarding theirs.
TEST_F(PacketFlowTest, EstablishedFlowsStopWhenTheirServiceIsRemoved) {
  SnapshotSource source;
  const std::unique_ptr<Snapshot> before = source.build();
  ASSERT_NE(before, nullptr);
  const uint16_t ports[] = {kWebPort, kDsrPort, kIpipPort};
  for (uint16_t port : ports) {
    forward(*w0_, *before, fromClient().tcp(kClientPort, port, kSyn).build());
    forward(*w0_, *before, fromClient().tcp(kClientPort, port, kAck, 1001, 1).build());
  }
  std::erase_if(source.config.services, [](const controlplane::ServiceConfig& svc) {
    return svc.port == kWebPort || svc.port == kDsrPort;
  });
  const std::unique_ptr<Snapshot> after = source.build();
  ASSERT_NE(after, nullptr);
  for (uint16_t port : {kWebPort, kDsrPort}) {
    const Verdict v = w0_->process(*after, fromClient().tcp(kClientPort, port, kAck, 1002, 1).build());
    EXPECT_EQ(v.kind, VerdictKind::kDropped) << "port " << port;
    EXPECT_EQ(v.drop, DropReason::kUnknownVip) << "port " << port;
  }
  const DecodedFrame ipip =
      decode(forward(*w0_, *after, fromClient().tcp(kClientPort, kIpipPort, kAck, 1002, 1).build()));
  EXPECT_EQ(ipip.protocol, IPPROTO_IPIP) << "the remaining service's flow stops being encapsulated";
}

// Per-backend counters follow the flow: new_flows once, packets and bytes for every forwarded packet.
// Policy per service: with `reset`, a flow whose backend is disabled ends at its next client segment
// (the client gets an RST answering it, the flow is freed); with `keep` it stays on that backend.
TEST_F(PacketFlowTest, DownBackendFlowsResetOrKeptPerPolicy) {
  for (const auto policy : {controlplane::DownBackendFlows::kReset, controlplane::DownBackendFlows::kKeep}) {
    WorkerHarness worker(0, twoWorkerPartition());
    SnapshotSource source;
    controlplane::ServiceConfig* web = nullptr;
    for (auto& svc : source.config.services) {
      if (svc.port == kWebPort && svc.protocol == controlplane::Protocol::kTcp && !svc.vip6) web = &svc;
    }
    ASSERT_NE(web, nullptr);
    web->down_backend_flows = policy;
    const std::unique_ptr<Snapshot> before = source.build();
    ASSERT_NE(before, nullptr);
    const DecodedFrame first = decode(forward(worker, *before, fromClient().tcp(kClientPort, kWebPort, kSyn, 5000).build()));
    for (auto& b : web->backends) {
      if (b.address == first.ip_dst) b.state = controlplane::BackendAdminState::kDisabled;
    }
    const std::unique_ptr<Snapshot> after = source.build();
    ASSERT_NE(after, nullptr);

    const Bytes data = fromClient().tcp(kClientPort, kWebPort, kAck, 5001, 777).payload({1, 2, 3}).build();
    const Verdict v = worker.process(*after, data);
    if (policy == controlplane::DownBackendFlows::kKeep) {
      ASSERT_EQ(v.kind, VerdictKind::kForwarded);
      EXPECT_EQ(decode(worker.popTx(0).value_or(Bytes{})).ip_dst, first.ip_dst);
      EXPECT_EQ(worker.ctx().flows.size(), 1u);
      continue;
    }
    ASSERT_EQ(v.kind, VerdictKind::kAnswered);
    const Bytes rst = worker.popTx(0).value_or(Bytes{});
    const DecodedFrame r = decode(rst);
    EXPECT_EQ(r.tcp_flags, RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG);
    EXPECT_EQ(r.ip_src, kVip);
    EXPECT_EQ(r.ip_dst, kClientIp);
    EXPECT_EQ(r.src_port, kWebPort);
    EXPECT_EQ(r.dst_port, kClientPort);
    EXPECT_EQ(r.total_length, 40);
    ASSERT_GE(rst.size(), r.l4_offset + 12);
    const uint32_t seq = (uint32_t{rst[r.l4_offset + 4]} << 24) | (uint32_t{rst[r.l4_offset + 5]} << 16) |
                         (uint32_t{rst[r.l4_offset + 6]} << 8) | rst[r.l4_offset + 7];
    EXPECT_EQ(seq, 777u) << "RST sequence number is the client's acknowledgement";
    EXPECT_TRUE(ipv4HeaderChecksumValid(rst, r.l3_offset));
    EXPECT_TRUE(l4ChecksumValid(rst, r.l3_offset));
    EXPECT_EQ(worker.ctx().flows.size(), 0u);
    EXPECT_EQ(worker.counters().flows_reset.read(), 1u);
    // The next connection of the same client goes to a backend still in service.
    const DecodedFrame next = decode(forward(worker, *after, fromClient().tcp(kClientPort + 1, kWebPort, kSyn).build()));
    EXPECT_NE(next.ip_dst, first.ip_dst);
  }
}

// A SYN reusing the 5-tuple of a connection that has closed starts a new flow, balanced afresh: it
// does not follow the old flow to a backend that has since been drained.
TEST_F(PacketFlowTest, SynAfterCloseOnSameTupleIsBalancedAgain) {
  WorkerHarness worker(0, twoWorkerPartition());
  SnapshotSource source;
  controlplane::ServiceConfig* web = nullptr;
  for (auto& svc : source.config.services) {
    if (svc.port == kWebPort && svc.protocol == controlplane::Protocol::kTcp && !svc.vip6) web = &svc;
  }
  ASSERT_NE(web, nullptr);
  const std::unique_ptr<Snapshot> before = source.build();
  ASSERT_NE(before, nullptr);
  const DecodedFrame first = decode(forward(worker, *before, fromClient().tcp(kClientPort, kWebPort, kSyn).build()));
  forward(worker, *before, fromClient().tcp(kClientPort, kWebPort, RTE_TCP_FIN_FLAG | kAck, 1001, 1).build());
  for (auto& b : web->backends) {
    if (b.address == first.ip_dst) b.state = controlplane::BackendAdminState::kDraining;
  }
  const std::unique_ptr<Snapshot> after = source.build();
  ASSERT_NE(after, nullptr);
  const uint64_t created = worker.counters().flows_created.read();
  const DecodedFrame again = decode(forward(worker, *after, fromClient().tcp(kClientPort, kWebPort, kSyn, 9000).build()));
  EXPECT_NE(again.ip_dst, first.ip_dst);
  EXPECT_EQ(worker.counters().flows_created.read(), created + 1);
  EXPECT_EQ(worker.ctx().flows.size(), 1u);
}

// Both directions are counted per backend: client packets toward it, and its full-NAT replies (the
// second of which takes the established path) on their way back to the client.
TEST_F(PacketFlowTest, BackendCountersCountFlowPacketsAndBytes) {
  const Snapshot& snap = standardSnapshot();
  const Bytes syn = fromClient().tcp(kClientPort, kWebPort, kSyn).build();
  const Bytes data = fromClient().tcp(kClientPort, kWebPort, kAck).payload(Bytes(100, 7)).build();
  const DecodedFrame out = decode(forward(*w0_, snap, syn));
  const Bytes syn_ack = fromBackend(backendHost(out.ip_dst)).tcp(kWebBackendPort, out.src_port, kSynAck).build();
  forward(*w0_, snap, syn_ack);
  forward(*w0_, snap, data);
  const Bytes reply = fromBackend(backendHost(out.ip_dst)).tcp(kWebBackendPort, out.src_port, kAck).payload(Bytes(900, 3)).build();
  forward(*w0_, snap, reply);
  forward(*w0_, snap, reply);
  const Service& web = serviceOn(snap, kWebPort);
  const int pos = backendPosition(web, out.ip_dst);
  ASSERT_GE(pos, 0);
  const uint16_t slot = web.backends[static_cast<size_t>(pos)].counter_slot;
  const BackendCounters& bc = w0_->counters().backends[slot];
  EXPECT_EQ(bc.new_flows.read(), 1u);
  EXPECT_EQ(bc.to_backend.packets.read(), 2u);
  EXPECT_EQ(bc.to_backend.bytes.read(), syn.size() + data.size());
  const TrafficCounters& replies = w0_->counters().backend_replies[slot];
  EXPECT_EQ(replies.packets.read(), 3u);
  EXPECT_EQ(replies.bytes.read(), syn_ack.size() + 2 * reply.size());
  EXPECT_EQ(w0_->counters().established_path.read(), 1u);
  EXPECT_EQ(w0_->counters().rx_packets.read(), 5u);
  EXPECT_EQ(w0_->counters().rx_bytes.read(), syn.size() + syn_ack.size() + data.size() + 2 * reply.size());
}

// A reply whose local port belongs to worker 1 but arrives at worker 0 is handed to worker 1's ring,
// and worker 1 (which owns the flow) turns it back to the client.
TEST_F(PacketFlowTest, ReplyForOtherWorkerIsHandedOffAndForwardedByOwner) {
  const Snapshot& snap = standardSnapshot();
  const LocalPortPartition partition = twoWorkerPartition();
  const Bytes syn = fromClient().tcp(kClientPort, kWebPort, kSyn).build();
  const Bytes out_frame = forward(*w1_, snap, syn);
  expectFullNatToBackend(syn, out_frame, kWebBackendPort, partition, 1);
  const DecodedFrame out = decode(out_frame);
  ASSERT_EQ(partition.ownerOf(out.src_port), 1);

  const Bytes syn_ack = fromBackend(backendHost(out.ip_dst)).tcp(kWebBackendPort, out.src_port, kSynAck).build();
  const Verdict v = w0_->process(snap, syn_ack, /*rx_port=*/0);
  EXPECT_EQ(v.kind, VerdictKind::kHandedOff);
  EXPECT_EQ(w0_->txCount(0), 0);
  EXPECT_EQ(w0_->counters().handoff_out.read(), 1u);
  EXPECT_EQ(w0_->totalDrops(), 0u);
  ASSERT_EQ(rte_ring_count(w1_->handoffIn()), 1u);

  void* obj = nullptr;
  ASSERT_EQ(rte_ring_dequeue(w1_->handoffIn(), &obj), 0);
  auto* m = static_cast<rte_mbuf*>(obj);
  EXPECT_EQ(fromMbuf(m), syn_ack) << "hand-off must not modify the frame";
  EXPECT_EQ(m->port, 0) << "rx port travels in mbuf->port";
  const Verdict owner = w1_->processMbuf(snap, m, m->port);
  EXPECT_EQ(owner.kind, VerdictKind::kForwarded);
  const DecodedFrame reply = decode(w1_->popTx(0).value_or(Bytes{}));
  EXPECT_EQ(reply.ip_src, kVip);
  EXPECT_EQ(reply.ip_dst, kClientIp);
  EXPECT_EQ(reply.dst_port, kClientPort);
  EXPECT_TRUE(sameMac(reply.eth_dst, clientMac()));
}

// A reply for another worker is dropped as handoff_full, not leaked, when that worker's ring is full.
TEST_F(PacketFlowTest, HandOffToFullRingIsCountedAndFreed) {
  const Snapshot& snap = standardSnapshot();
  while (rte_ring_full(w1_->handoffIn()) == 0) {
    rte_mbuf* filler = toMbuf(testPool(), Bytes(60, 0));
    ASSERT_NE(filler, nullptr);
    ASSERT_EQ(rte_ring_enqueue(w1_->handoffIn(), filler), 0);
  }
  const unsigned in_use = poolInUse();
  const Verdict v = w0_->process(snap, fromBackend(11).tcp(kWebBackendPort, 40000, kSynAck).build());
  EXPECT_EQ(v.kind, VerdictKind::kDropped);
  EXPECT_EQ(v.drop, DropReason::kHandoffFull);
  EXPECT_EQ(w0_->drops(DropReason::kHandoffFull), 1u);
  EXPECT_EQ(poolInUse(), in_use);
}

// A full flow table refuses new flows as flow_table_full and gives the local port it took back.
TEST_F(PacketFlowTest, FullFlowTableDropsAndReleasesLocalPort) {
  const Snapshot& snap = standardSnapshot();
  WorkerHarness small(0, twoWorkerPartition(), /*flow_capacity=*/4);
  for (uint16_t p = 0; p < 4; ++p) {
    forward(small, snap, fromClient().tcp(static_cast<uint16_t>(30000 + p), kWebPort, kSyn).build());
  }
  const uint64_t ports_left = small.ctx().localEndpointsAvailable();
  const Verdict v = small.process(snap, fromClient().tcp(30100, kWebPort, kSyn).build());
  EXPECT_EQ(v.kind, VerdictKind::kDropped);
  EXPECT_EQ(v.drop, DropReason::kFlowTableFull);
  EXPECT_EQ(small.drops(DropReason::kFlowTableFull), 1u);
  EXPECT_EQ(small.ctx().localEndpointsAvailable(), ports_left) << "local port leaked";
  EXPECT_EQ(small.ctx().flows.size(), 4u);
  // Existing flows still forward.
  forward(small, snap, fromClient().tcp(30000, kWebPort, kAck).build());
}

// A worker whose local ports are all in use drops new full-NAT flows as no_local_port, while DSR
// flows (which need no local port) still go through.
TEST_F(PacketFlowTest, ExhaustedLocalPortsDropNewFullNatFlows) {
  const Snapshot& snap = standardSnapshot();
  WorkerHarness tiny(0, LocalPortPartition{kLocalPortMin, static_cast<uint16_t>(kLocalPortMin + 1), 1});
  forward(tiny, snap, fromClient().tcp(30000, kWebPort, kSyn).build());
  forward(tiny, snap, fromClient().tcp(30001, kWebPort, kSyn).build());
  const Verdict v = tiny.process(snap, fromClient().tcp(30002, kWebPort, kSyn).build());
  EXPECT_EQ(v.kind, VerdictKind::kDropped);
  EXPECT_EQ(v.drop, DropReason::kNoLocalPort);
  EXPECT_EQ(tiny.drops(DropReason::kNoLocalPort), 1u);
  EXPECT_EQ(tiny.ctx().flows.size(), 2u);
  forward(tiny, snap, fromClient().tcp(30002, kDsrPort, kSyn).build());
}

// TCP state follows the handshake and teardown: SYN -> syn-seen, client ACK -> established,
// FIN or RST from either side -> closing; a mid-stream first packet is adopted as established.
TEST_F(PacketFlowTest, TcpFlowStateFollowsFlags) {
  const Snapshot& snap = standardSnapshot();
  auto state = [&](uint16_t client_port) {
    hashing::FlowKeyV4 key{rte_cpu_to_be_32(kClientIp), rte_cpu_to_be_32(kVip), rte_cpu_to_be_16(client_port),
                           rte_cpu_to_be_16(kWebPort), IPPROTO_TCP};
    const FlowEntry* e = w0_->ctx().flows.findByClient(key, w0_->ctx().flows.hashKey(key));
    return e == nullptr ? std::optional<FlowState>{} : std::optional<FlowState>{e->state};
  };
  const DecodedFrame out = decode(forward(*w0_, snap, fromClient().tcp(31000, kWebPort, kSyn).build()));
  EXPECT_EQ(state(31000), FlowState::kTcpSynSeen);
  forward(*w0_, snap, fromClient().tcp(31000, kWebPort, kAck).build());
  EXPECT_EQ(state(31000), FlowState::kTcpEstablished);
  forward(*w0_, snap,
          fromBackend(backendHost(out.ip_dst)).tcp(kWebBackendPort, out.src_port, RTE_TCP_FIN_FLAG | kAck).build());
  EXPECT_EQ(state(31000), FlowState::kTcpClosing);

  // A segment without a flow anywhere walks to worker 1 and back before worker 0 adopts it.
  EXPECT_EQ(w0_->process(snap, fromClient().tcp(31001, kWebPort, kAck).build()).kind, VerdictKind::kHandedOff);
  EXPECT_EQ(processHandOff(*w1_, snap).kind, VerdictKind::kHandedOff);
  EXPECT_EQ(processHandOff(*w0_, snap).kind, VerdictKind::kForwarded);
  w0_->popTx(0);
  EXPECT_EQ(state(31001), FlowState::kTcpEstablished);
  forward(*w0_, snap, fromClient().tcp(31001, kWebPort, RTE_TCP_RST_FLAG).build());
  EXPECT_EQ(state(31001), FlowState::kTcpClosing);
}

// A client's segment that reaches a worker without its flow (af_packet's fanout rolls packets over to
// another queue when one is full) walks to the worker that has the flow, which forwards it from the
// flow's own local endpoint; the backend never sees the connection from a second source port.
TEST_F(PacketFlowTest, SegmentWithoutAFlowWalksTheWorkers) {
  const Snapshot& snap = standardSnapshot();
  const DecodedFrame syn = decode(forward(*w1_, snap, fromClient().tcp(32000, kWebPort, kSyn, 100).build()));
  const Bytes data = fromClient().tcp(32000, kWebPort, kAck | RTE_TCP_PSH_FLAG, 101, 1).payload({'h', 'i'}).build();
  ASSERT_EQ(w0_->process(snap, data).kind, VerdictKind::kHandedOff);
  EXPECT_EQ(w0_->counters().flows_created.read(), 0u);
  EXPECT_EQ(processHandOff(*w1_, snap).kind, VerdictKind::kForwarded);
  const DecodedFrame out = decode(w1_->popTx(0).value_or(Bytes{}));
  EXPECT_EQ(out.src_port, syn.src_port) << "the flow's own local port";
  EXPECT_EQ(out.ip_dst, syn.ip_dst);
  EXPECT_EQ(w1_->counters().flows_created.read(), 1u);
  // SYNs and UDP never walk: a new flow starts where it arrives.
  forward(*w0_, snap, fromClient().tcp(32001, kWebPort, kSyn).build());
  forward(*w0_, snap, fromClient().udp(32002, kUdpPort).build());
  EXPECT_EQ(w0_->counters().handoff_out.read(), 1u);
}

// ---- a port configured with a VLAN ----------------------------------------------------------------

class VlanPortTest : public PacketFlowTest {
 protected:
  static constexpr uint16_t kVid = 100;
  void SetUp() override {
    PacketFlowTest::SetUp();
    source_.config = makeConfig({11, 12, 13}, kVid);
    snap_ = source_.build();
    ASSERT_NE(snap_, nullptr);
  }
  SnapshotSource source_;
  std::unique_ptr<Snapshot> snap_;
};

// A tagged frame on a tagged port leaves with the port's tag and the IPv4 ethertype inside it.
TEST_F(VlanPortTest, TaggedInputKeepsTag) {
  const Bytes syn = fromClient().vlan(kVid).tcp(kClientPort, kWebPort, kSyn).build();
  const Bytes out_frame = forward(*w0_, *snap_, syn);
  const DecodedFrame out = decode(out_frame);
  ASSERT_TRUE(out.vlan_tci.has_value());
  EXPECT_EQ(*out.vlan_tci & 0x0fff, kVid);
  EXPECT_EQ(out.ether_type, RTE_ETHER_TYPE_IPV4);
  EXPECT_EQ(out_frame.size(), syn.size());
  EXPECT_TRUE(l4ChecksumValid(out_frame, out.l3_offset));
}

// A tagged port ignores untagged frames (and frames of other VLANs): they belong to another segment.
TEST_F(VlanPortTest, UntaggedOrOtherVlanInputIsNotOurs) {
  for (const Bytes& frame : {fromClient().tcp(kClientPort, kWebPort, kSyn).build(),
                             fromClient().vlan(kVid + 1).tcp(kClientPort, kWebPort, kSyn).build()}) {
    const Verdict v = w0_->process(*snap_, frame);
    EXPECT_EQ(v.kind, VerdictKind::kDropped);
    EXPECT_EQ(v.drop, DropReason::kNotForUs);
  }
}

// An ARP request on the port's VLAN is answered with a reply carrying the tag and the ARP ethertype.
TEST_F(VlanPortTest, ArpAnswerOnTaggedPortCarriesTag) {
  const Verdict v = w0_->process(*snap_, arpRequest(clientMac(), kClientIp, kVip, kVid));
  ASSERT_EQ(v.kind, VerdictKind::kAnswered);
  const Bytes reply = w0_->popTx(0).value_or(Bytes{});
  EXPECT_EQ(reply, arpReply(portMac(), kVip, clientMac(), kClientIp, kVid));
}

// ---- parser spot checks that the table cannot see (fields of ParsedFrame) --------------------------

// The parser reports the VLAN id, header lengths and the flow key in network order.
TEST(PacketParserTest, ReportsTagLengthsAndKey) {
  const Bytes frame = fromClient().vlan(0x123).ipOptions({1, 1, 1, 1}).tcp(4321, kWebPort, kSyn).build();
  rte_mbuf* m = toMbuf(testPool(), frame);
  ASSERT_NE(m, nullptr);
  const ParsedFrame f = parseFrame(m);
  EXPECT_EQ(f.kind, FrameKind::kIpv4);
  EXPECT_EQ(f.vlan, 0x123);
  EXPECT_EQ(f.l2_len, 18);
  EXPECT_EQ(f.l3_len, 24);
  EXPECT_EQ(f.tcp_flags, kSyn);
  EXPECT_EQ(f.key.src_addr_be, rte_cpu_to_be_32(kClientIp));
  EXPECT_EQ(f.key.dst_addr_be, rte_cpu_to_be_32(kVip));
  EXPECT_EQ(f.key.src_port_be, rte_cpu_to_be_16(4321));
  EXPECT_EQ(f.key.dst_port_be, rte_cpu_to_be_16(kWebPort));
  EXPECT_EQ(f.key.protocol, IPPROTO_TCP);
  EXPECT_EQ(static_cast<uint8_t*>(f.l4) - rte_pktmbuf_mtod(m, uint8_t*), 18 + 24);
  rte_pktmbuf_free(m);
}

}  // namespace
}  // namespace lb::dataplane::test
