// HTTP delayed binding for IPv6 clients (dataplane/syn_proxy.h through dataplane/ipv6_path.h): the
// SYN cookie answered over IPv6 and bound to the IPv6 4-tuple, the request held as IPv6 segments, the
// backend connection opened over IPv4 from a local endpoint, and every spliced segment translated
// twice (splice, then NAT64) with one checksum update. Checksums of every transmitted segment are
// recomputed in full by decodeSegment (the IPv6 pseudo-header for the client's side).
#include <gtest/gtest.h>
#include <rte_tcp.h>

#include <string>

#include "dataplane/backend_choice.h"
#include "dataplane/session_table.h"
#include "tests/dataplane/syn_proxy_fixture.h"

namespace lb::dataplane::test {
namespace {

// What holds for both families (resets, trimmed retransmissions, a backend that resets, inserted
// timestamps) runs for IPv6 too as SynProxyBothFamiliesTest in syn_proxy_test.cc.
class SynProxyIpv6Test : public SynProxyTest {
 protected:
  bool ipv6() const override { return true; }
};

// SYN -> SYN-ACK over IPv6 from the VIP (no state) -> request held -> backend SYN over IPv4 from the
// port's address -> SYN-ACK -> request replayed over IPv4 -> response translated back into IPv6 with
// the client's sequence numbers and clocks, its Set-Cookie learnt -> FINs both ways.
TEST_F(SynProxyIpv6Test, FullConversationThroughNat64) {
  auto table = SessionTable::create(SessionTableConfig{.capacity = 1024});
  ASSERT_TRUE(table.ok()) << table.status();
  const SessionSecret secret = SessionSecret::fromSeed(11);
  w_.ctx().sessions = table->get();
  w_.ctx().session_secret = &secret;

  const uint32_t client_isn = 0xfffffff0u;
  const Handshake h = handshake(client_isn);
  const DecodedSegment& sa = h.syn_ack;
  expectFromVipToClient(sa);
  EXPECT_EQ(sa.flags, kSynAck);
  EXPECT_EQ(sa.ack, client_isn + 1);
  EXPECT_EQ(sa.options.mss, 1460);
  EXPECT_EQ(sa.options.window_scale, 7);
  ASSERT_TRUE(sa.options.has_timestamps);
  EXPECT_EQ(sa.options.tsecr, 1000u);
  EXPECT_EQ(w_.ctx().flows.size(), 0u) << "a SYN must create no state";

  // The cookie is bound to the IPv6 4-tuple: an independent codec with the same key accepts it for
  // this client and refuses it for a neighbour's address.
  DerivedSecretSource secrets(kMaster);
  auto codec = SynCookieCodec::create(secrets, SynCookieClock{kHz, 64});
  ASSERT_TRUE(codec.ok());
  EXPECT_TRUE(codec->decode(webClientKey6(), client_isn, h.our_isn + 1, h.our_tsval, kT0).has_value());
  hashing::FlowKeyV6 neighbour = webClientKey6();
  neighbour.src_addr[15] ^= 1;
  EXPECT_FALSE(codec->decode(neighbour, client_isn, h.our_isn + 1, h.our_tsval, kT0).has_value());

  request(h, kRequest);
  EXPECT_EQ(proxy().connections_bound.read(), 1u);
  EXPECT_EQ(proxy().heads_complete.read(), 1u);
  const DecodedSegment syn = popSegment();
  EXPECT_EQ(w_.txCount(0), 0) << "the request must be held";
  EXPECT_FALSE(syn.v6);
  EXPECT_EQ(syn.flags, kSyn);
  EXPECT_EQ(syn.src, kPortIp);
  EXPECT_NE(backendHost(syn.dst), 0);
  EXPECT_EQ(syn.dport, kWebBackendPort);
  EXPECT_EQ(syn.seq, client_isn);
  const uint32_t b_tsval = syn.options.tsval;

  const uint32_t backend_isn = 0xffffff00u;
  send(backend(syn, kSynAck, backend_isn, client_isn + 1, synOptions(1460, 9, true, true, 5000, b_tsval)));
  EXPECT_EQ(proxy().connections_spliced.read(), 1u);
  const DecodedSegment replay = popSegment();
  EXPECT_FALSE(replay.v6);
  EXPECT_EQ(replay.src, kPortIp);
  EXPECT_EQ(replay.sport, syn.sport);
  EXPECT_EQ(replay.dst, syn.dst);
  EXPECT_EQ(replay.dport, kWebBackendPort);
  EXPECT_EQ(replay.seq, client_isn + 1);
  EXPECT_EQ(replay.ack, backend_isn + 1);
  EXPECT_EQ(replay.payload, kRequest);
  EXPECT_EQ(replay.options.tsval, b_tsval);
  EXPECT_EQ(replay.options.tsecr, 5000u);

  const std::string response = "HTTP/1.1 200 OK\r\nSet-Cookie: SID=s6; Path=/\r\nContent-Length: 2\r\n\r\nhi";
  Segment data = backend(syn, kPshAck, backend_isn + 1, client_isn + 1 + static_cast<uint32_t>(kRequest.size()),
                         timestampOption(5001, b_tsval), response);
  data.window = 100;
  EXPECT_EQ(send(data).kind, VerdictKind::kForwarded);
  const DecodedSegment out = popSegment();
  expectFromVipToClient(out);
  EXPECT_EQ(out.seq, h.our_isn + 1);
  EXPECT_EQ(out.ack, static_cast<uint32_t>(client_isn + 1 + kRequest.size()));
  EXPECT_EQ(out.window, 400);
  EXPECT_EQ(out.options.tsval, h.our_tsval + 1);
  EXPECT_EQ(out.options.tsecr, 1002u);
  EXPECT_EQ(out.payload, response);
  EXPECT_EQ(proxy().sessions_learned.read(), 1u);
  const SessionLookup learnt = (*table)->lookup(sessionKey("s6", secret), static_cast<uint32_t>(kT0 / kHz),
                                                w_.ctx().session_counters);
  ASSERT_TRUE(learnt.hit());
  EXPECT_EQ(rte_cpu_to_be_32(syn.dst), web().backends[findBackendById(web(), learnt.backend_id)].address_be);

  const uint32_t client_fin_seq = client_isn + 1 + static_cast<uint32_t>(kRequest.size());
  send(client(kFinAck, client_fin_seq, h.our_isn + 1 + static_cast<uint32_t>(response.size()),
              timestampOption(1003, h.our_tsval + 1)));
  const DecodedSegment fin = popSegment();
  EXPECT_FALSE(fin.v6);
  EXPECT_EQ(fin.flags, kFinAck);
  EXPECT_EQ(fin.ack, static_cast<uint32_t>(backend_isn + 1 + response.size()));
  send(backend(syn, kFinAck, backend_isn + 1 + static_cast<uint32_t>(response.size()), client_fin_seq + 1,
               timestampOption(5002, b_tsval + 1)));
  const DecodedSegment fin2 = popSegment();
  expectFromVipToClient(fin2);
  EXPECT_EQ(fin2.seq, static_cast<uint32_t>(h.our_isn + 1 + response.size()));
  EXPECT_EQ(fin2.ack, client_fin_seq + 1);
  EXPECT_EQ(w_.totalDrops(), 0u);
  w_.ctx().sessions = nullptr;
}

// The session cookie keeps an IPv6 user on the backend that set it, on every new connection.
TEST_F(SynProxyIpv6Test, LearntCookieChoosesItsBackend) {
  auto table = SessionTable::create(SessionTableConfig{.capacity = 1024});
  ASSERT_TRUE(table.ok());
  const SessionSecret secret = SessionSecret::fromSeed(12);
  w_.ctx().sessions = table->get();
  w_.ctx().session_secret = &secret;
  const BackendTarget& target = web().backends[2];
  (*table)->insert(sessionKey("u1", secret), SessionValue{target.id, web().http.session_service},
                   static_cast<uint32_t>(kT0 / kHz), w_.ctx().session_counters);
  for (uint16_t k = 0; k < 4; ++k) {
    Segment syn = client(kSyn, 1000 * k, 0, synOptions(1440, 7, true, true, 1000));
    syn.sport = static_cast<uint16_t>(kClientPort + k);
    send(syn);
    const DecodedSegment sa = popSegment();
    Segment data = client(kPshAck, 1000 * k + 1, sa.seq + 1, timestampOption(1002, sa.options.tsval), kRequest);
    data.sport = syn.sport;
    send(data);
    const DecodedSegment backend_syn = popSegment();
    EXPECT_EQ(rte_cpu_to_be_32(backend_syn.dst), target.address_be) << "connection " << k;
  }
  EXPECT_EQ(proxy().chosen_by[static_cast<size_t>(StickyMethod::kLearnCookie)].read(), 4u);
  w_.ctx().sessions = nullptr;
}

// A service reload that takes the backend out with reset: the client's next segment is answered with
// an IPv6 RST, and the flow is gone.
TEST_F(SynProxyIpv6Test, SplicedFlowOfAResetBackendIsResetOverIpv6) {
  const Handshake h = handshake(700);
  request(h, kRequest);
  const DecodedSegment syn = popSegment();
  send(backend(syn, kSynAck, 10, 701, synOptions(1460, 7, true, true, 1, syn.options.tsval)));
  popSegment();
  for (const BackendTarget& b : web().backends) {
    if (rte_cpu_to_be_32(syn.dst) == b.address_be) snap_->reset_flows_of_slot[b.counter_slot] = 1;
  }
  send(client(kAck, 701 + static_cast<uint32_t>(kRequest.size()), h.our_isn + 1, timestampOption(1003, h.our_tsval)));
  const DecodedSegment rst = popSegment();
  expectFromVipToClient(rst);
  EXPECT_EQ(rst.flags, kRstAck);
  EXPECT_EQ(w_.ctx().flows.size(), 0u);
}

}  // namespace
}  // namespace lb::dataplane::test
