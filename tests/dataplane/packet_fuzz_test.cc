// Randomized robustness of processBurst: 100k frames derived from valid ones (bytes flipped, fields
// overwritten, truncated at random lengths, or plain noise), in bursts, with a seeded PRNG so a
// failure reproduces. The parser must bound every read (the build's sanitizer option makes an
// out-of-bounds read fatal), and every mbuf must end up exactly once in a tx batch, on a ring, or back
// in the pool.
#include <rte_arp.h>
#include <rte_ip.h>

#include <random>

#include "tests/dataplane/ipv6_frames.h"
#include "tests/dataplane/packet_test_util.h"

namespace lb::dataplane::test {
namespace {

constexpr uint32_t kFrames = 100000;
constexpr uint16_t kBurst = 32;
constexpr uint64_t kSeed = 0x7e7be5f022ULL;

// Valid frames of every kind the dataplane handles, including replies to flows that exist.
std::vector<Bytes> seedFrames(WorkerHarness& w, const Snapshot& snap) {
  std::vector<Bytes> seeds = {
      fromClient().tcp(kClientPort, kWebPort, kSyn).build(),
      fromClient().tcp(kClientPort + 1, kWebPort, kAck).payload(Bytes(64, 0x5a)).build(),
      fromClient().vlan(5).ipOptions({0x94, 4, 0, 0}).tcp(kClientPort + 2, kWebPort, kSyn).build(),
      fromClient().udp(5353, kUdpPort).payload(Bytes(20, 1)).build(),
      fromClient().udp(5354, kUdpPort).payload(Bytes(3, 2)).zeroUdpChecksum().build(),
      fromClient().tcp(kClientPort, kDsrPort, kSyn).build(),
      fromClient().dontFragment().tcp(kClientPort, kIpipPort, kSyn).payload(Bytes(30, 3)).build(),
      // Too large to encapsulate: ICMP fragmentation needed (DF) or too_big.
      fromClient().dontFragment().tcp(kClientPort, kIpipPort, kAck).payload(Bytes(1460, 3)).build(),
      fromClient().tcp(kClientPort, kDrainedPort, kSyn).build(),
      fromClient().tcp(kClientPort, kUnresolvedPort, kSyn).build(),
      fromClient().icmpEcho(true, 1, 1).payload(Bytes(56, 4)).build(),
      fromClient(kPortIp).icmpEcho(true, 2, 2).build(),
      fromClient().ipProtocol(47).payload(Bytes(16, 0)).build(),
      arpRequest(clientMac(), kClientIp, kVip),
      arpRequest(clientMac(), kClientIp, kPortIp, 5),
      arpReply(backendMac(11), backendIp(11), portMac(), kPortIp),
      fromBackend(11).tcp(kWebBackendPort, 10000, kSynAck).build(),
      fromBackend(12).tcp(kWebBackendPort, 40000, kSynAck).build(),  // worker 1's port: hand-off
      // IPv6 (NAT64): neighbour discovery, ping, TCP and UDP to the IPv6 VIP.
      neighborSolicitation(kVip6),
      neighborSolicitation(kPortIp6, Ipv6Bytes{}),
      ipv6Frame(kClientIp6, kVip6, IPPROTO_ICMPV6, {128, 0, 0, 0, 0, 1, 0, 1, 'x'}, 2),
      clientTcp6(kSyn),
      clientTcp6(kAck, Bytes(40, 6)),
      clientUdp6(Bytes(12, 7)),
  };
  // Replies to real flows, so mutations also reach the reply lookup and rewrite.
  for (uint16_t p = 0; p < 4; ++p) {
    const bool udp = p % 2 == 1;
    PacketBuilder b = fromClient();
    if (udp) {
      b.udp(static_cast<uint16_t>(7000 + p), kUdpPort).payload({1, 2});
    } else {
      b.tcp(static_cast<uint16_t>(7000 + p), kWebPort, kSyn);
    }
    const Verdict v = w.process(snap, b.build());
    EXPECT_EQ(v.kind, VerdictKind::kForwarded);
    const Bytes natted = w.popTx(0).value_or(Bytes{});
    const DecodedFrame out = decode(natted);
    // ICMP errors about the flow (the relay parses the quoted packet), whole and cut to 8 bytes.
    seeds.push_back(icmpErrorToPort(backendIp(backendHost(out.ip_dst)), backendMac(backendHost(out.ip_dst)), 3,
                                    p % 2 == 0 ? 4 : 3, 1400, ipPacket(natted, p < 2 ? SIZE_MAX : 28)));
    // ... and errors a client-side router sends the VIP about the flow's reply, which go to the backend.
    PacketBuilder seen = PacketBuilder().ethernet(portMac(), clientMac()).ipv4(kVip, kClientIp);
    if (udp) {
      seen.udp(kUdpPort, static_cast<uint16_t>(7000 + p)).payload(Bytes(12, 9));
    } else {
      seen.tcp(kWebPort, static_cast<uint16_t>(7000 + p), kSynAck).payload(Bytes(12, 9));
    }
    PacketBuilder to_vip;
    to_vip.ethernet(clientMac(), portMac()).ipv4(ipv4(10, 99, 0, 1), kVip).icmpError(3, 4, 1400)
        .payload(ipPacket(seen.build(), p < 2 ? SIZE_MAX : 28));
    seeds.push_back(to_vip.build());
    PacketBuilder reply = fromBackend(backendHost(out.ip_dst));
    if (udp) {
      reply.udp(kUdpBackendPort, out.src_port).payload(Bytes(12, 9));
    } else {
      reply.tcp(kWebBackendPort, out.src_port, kSynAck).payload(Bytes(12, 9));
    }
    seeds.push_back(reply.build());
  }
  // Replies to IPv6 clients' flows (translated back to IPv6), and an ICMP error about one.
  for (bool udp : {false, true}) {
    const Verdict v = w.process(snap, udp ? clientUdp6({1, 2, 3}) : clientTcp6(kSyn));
    EXPECT_EQ(v.kind, VerdictKind::kForwarded);
    const Bytes natted = w.popTx(0).value_or(Bytes{});
    const DecodedFrame out = decode(natted);
    PacketBuilder reply = fromBackend(backendHost(out.ip_dst));
    if (udp) {
      reply.udp(kUdpBackendPort, out.src_port).payload(Bytes(12, 9)).zeroUdpChecksum();
    } else {
      reply.tcp(kWebBackendPort, out.src_port, kSynAck).payload(Bytes(12, 9));
    }
    seeds.push_back(reply.build());
    seeds.push_back(icmpErrorToPort(backendIp(backendHost(out.ip_dst)), backendMac(backendHost(out.ip_dst)), 3, 3, 0,
                                    ipPacket(natted, 28)));
  }
  return seeds;
}

Bytes mutate(const Bytes& seed, std::mt19937_64& rng) {
  Bytes f = seed;
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  // Most mutations hit the first 64 bytes, where every header the parser reads lives.
  auto position = [&] { return f.empty() ? 0 : (rng() % 4 != 0 ? pick(std::min<size_t>(64, f.size())) : pick(f.size())); };
  switch (rng() % 8) {
    case 0:  // unchanged
      break;
    case 1:
    case 2:
    case 3: {  // flip bits in 1..4 bytes
      const size_t flips = 1 + pick(4);
      for (size_t i = 0; i < flips && !f.empty(); ++i) f[position()] ^= static_cast<uint8_t>(1 + pick(255));
      break;
    }
    case 4:  // truncate
      f.resize(pick(f.size() + 1));
      break;
    case 5: {  // overwrite one byte, then truncate
      if (!f.empty()) f[position()] = static_cast<uint8_t>(rng());
      f.resize(pick(f.size() + 1));
      break;
    }
    case 6: {  // overwrite a 16-bit field with an extreme value (lengths, ethertypes, ports)
      static constexpr uint16_t kExtremes[] = {0, 1, 4, 5, 19, 20, 0x00ff, 0x0800, 0x0806, 0x8100, 0x7fff, 0xffff};
      if (f.size() >= 2) {
        const size_t at = position() & ~size_t{1};
        const uint16_t value = kExtremes[pick(std::size(kExtremes))];
        f[std::min(at, f.size() - 2)] = static_cast<uint8_t>(value >> 8);
        f[std::min(at, f.size() - 2) + 1] = static_cast<uint8_t>(value);
      }
      break;
    }
    default: {  // noise behind a plausible Ethernet header
      const size_t len = pick(160);
      Bytes noise(len);
      for (uint8_t& b : noise) b = static_cast<uint8_t>(rng());
      const size_t keep = std::min<size_t>(14, std::min(len, f.size()));
      std::copy(f.begin(), f.begin() + static_cast<ptrdiff_t>(keep), noise.begin());
      f = std::move(noise);
      break;
    }
  }
  return f;
}

// 100k mutated frames never crash processBurst, and every mbuf is queued exactly where its verdict
// says or freed: counts per verdict match tx batches, rings and drop counters, and the pool balances.
TEST(PacketFuzzTest, MutatedFramesAreAllAccountedFor) {
  const unsigned baseline = poolInUse();
  {
    WorkerHarness w0(0, twoWorkerPartition());
    WorkerHarness w1(1, twoWorkerPartition());
    w0.connectTo(w1);
    const Snapshot& standard = standardSnapshot();
    SnapshotSource changed_source;
    changed_source.config = makeConfig({11, 14, 15});
    const std::unique_ptr<Snapshot> changed = changed_source.build();
    ASSERT_NE(changed, nullptr);
    const std::vector<Bytes> seeds = seedFrames(w0, standard);
    std::mt19937_64 rng(kSeed);

    const uint64_t rx_before = w0.counters().rx_packets.read();
    std::array<rte_mbuf*, kBurst> burst{};
    std::array<Verdict, kBurst> verdicts{};
    uint64_t processed = 0;
    uint64_t dropped = 0;
    uint64_t forwarded = 0;
    uint64_t other = 0;
    for (uint32_t done = 0; done < kFrames; done += kBurst) {
      const uint16_t n = static_cast<uint16_t>(std::min<uint32_t>(kBurst, kFrames - done));
      for (uint16_t i = 0; i < n; ++i) {
        burst[i] = toMbuf(testPool(), mutate(seeds[rng() % seeds.size()], rng));
        ASSERT_NE(burst[i], nullptr) << "pool exhausted: mbufs are leaking";
        if (rng() % 64 == 0) setHeadroom(burst[i], static_cast<uint16_t>(rng() % 24));
      }
      // Alternate snapshots so established flows meet a backend set they were not created from.
      const Snapshot& snap = (done / kBurst) % 2 == 0 ? standard : *changed;
      const uint64_t drops_before = w0.totalDrops();
      processBurst(w0.ctx(), snap, 0, burst.data(), n, done, verdicts.data());

      unsigned sent = 0, handed = 0, control = 0, drop = 0;
      for (uint16_t i = 0; i < n; ++i) {
        switch (verdicts[i].kind) {
          case VerdictKind::kForwarded:
          case VerdictKind::kAnswered: ++sent; break;
          case VerdictKind::kHandedOff: ++handed; break;
          case VerdictKind::kToControl: ++control; break;
          case VerdictKind::kDropped: ++drop; break;
          case VerdictKind::kHeld: ADD_FAILURE() << "held without a fragment table"; break;
        }
      }
      ASSERT_EQ(w0.txCount(0), sent) << "burst at frame " << done;
      for (uint16_t i = 0; i < w0.txCount(0); ++i) {
        const rte_mbuf* out = w0.ctx().tx[0].packets[i];
        ASSERT_EQ(out->nb_segs, 1);
        ASSERT_EQ(rte_pktmbuf_pkt_len(out), rte_pktmbuf_data_len(out));
        ASSERT_GE(rte_pktmbuf_data_len(out), sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr));
      }
      ASSERT_EQ(rte_ring_count(w1.handoffIn()), handed) << "burst at frame " << done;
      ASSERT_EQ(rte_ring_count(w0.controlRing()), control) << "burst at frame " << done;
      ASSERT_EQ(w0.totalDrops() - drops_before, drop) << "burst at frame " << done;
      ASSERT_EQ(w0.drain() + w1.drain(), sent + handed + control);
      processed += n;
      dropped += drop;
      forwarded += sent;
      other += handed + control;
    }
    EXPECT_EQ(w0.counters().rx_packets.read() - rx_before, processed);
    // The mix must exercise both the rejection paths and the rewrite paths.
    EXPECT_GT(dropped, processed / 10);
    EXPECT_GT(forwarded, processed / 10) << "too few mutated frames reach the rewrite code";
    EXPECT_GT(other, 0u);
  }
  EXPECT_EQ(poolInUse(), baseline) << "mbufs leaked";
}

}  // namespace
}  // namespace lb::dataplane::test
