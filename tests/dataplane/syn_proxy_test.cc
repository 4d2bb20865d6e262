// HTTP delayed binding through processBurst with no NIC (dataplane/syn_proxy.h): SYN cookies,
// cookie ACKs, the request head held across segments, the backend choice by cookie, the backend
// connection and its retries, the replay and the splice. Every test ends with every mbuf back in the
// pool (nothing held, nothing leaked).
#include <gtest/gtest.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include <memory>
#include <random>
#include <string>

#include "dataplane/backend_choice.h"
#include "dataplane/session_table.h"
#include "dataplane/syn_proxy.h"
#include "tests/dataplane/packet_test_util.h"
#include "tests/dataplane/proxy_test_frames.h"
#include "tests/dataplane/syn_proxy_fixture.h"

namespace lb::dataplane::test {
namespace {

// The whole conversation, with both ISNs a few bytes below 2^32 so every translated number wraps:
// SYN -> cookie SYN-ACK -> ACK (no state) -> request -> backend SYN from the client's ISN ->
// backend SYN-ACK -> replayed request with the backend's ACK -> response translated -> FINs.
TEST_F(SynProxyTest, FullConversationAcrossSequenceWrap) {
  const uint32_t client_isn = 0xfffffff0u;
  const Handshake h = handshake(client_isn);
  const DecodedSegment& sa = h.syn_ack;
  EXPECT_EQ(sa.flags, kSynAck);
  EXPECT_EQ(sa.src, kVip);
  EXPECT_EQ(sa.dst, kClientIp);
  EXPECT_EQ(sa.sport, kWebPort);
  EXPECT_EQ(sa.dport, kClientPort);
  EXPECT_EQ(sa.ack, client_isn + 1);
  EXPECT_EQ(sa.window, kDefaultSynAckWindow);
  EXPECT_TRUE(sameMac(sa.dst_mac, clientMac()));
  EXPECT_TRUE(sameMac(sa.src_mac, portMac()));
  EXPECT_EQ(sa.options.mss, 1460);
  EXPECT_TRUE(sa.options.has_window_scale);
  EXPECT_EQ(sa.options.window_scale, 7);
  EXPECT_TRUE(sa.options.sack_permitted);
  ASSERT_TRUE(sa.options.has_timestamps);
  EXPECT_EQ(sa.options.tsecr, 1000u);
  EXPECT_EQ(proxy().syn_cookies_sent.read(), 1u);
  EXPECT_EQ(w_.ctx().flows.size(), 0u) << "a SYN must create no state";

  // The cookie decodes, with the options it granted, under an independent codec with the same key.
  DerivedSecretSource secrets(kMaster);
  auto codec = SynCookieCodec::create(secrets, SynCookieClock{kHz, 64});
  ASSERT_TRUE(codec.ok());
  hashing::FlowKeyV4 key;
  key.src_addr_be = rte_cpu_to_be_32(kClientIp);
  key.dst_addr_be = rte_cpu_to_be_32(kVip);
  key.src_port_be = rte_cpu_to_be_16(kClientPort);
  key.dst_port_be = rte_cpu_to_be_16(kWebPort);
  key.protocol = IPPROTO_TCP;
  const auto granted = codec->decode(key, client_isn, h.our_isn + 1, h.our_tsval, kT0);
  ASSERT_TRUE(granted.has_value());
  EXPECT_EQ(granted->mss, 1460);
  EXPECT_EQ(granted->window_scale, 7);
  EXPECT_TRUE(granted->sack_permitted);
  EXPECT_TRUE(granted->timestamps);

  // The handshake's ACK: valid, counted, dropped, no state.
  const Verdict ack = send(client(kAck, client_isn + 1, h.our_isn + 1, timestampOption(1001, h.our_tsval)));
  EXPECT_EQ(ack.kind, VerdictKind::kDropped);
  EXPECT_EQ(proxy().cookie_acks.read(), 1u);
  EXPECT_EQ(w_.txCount(0), 0);
  EXPECT_EQ(w_.ctx().flows.size(), 0u);
  EXPECT_EQ(w_.totalDrops(), 0u);

  // The request: held (not acknowledged), the backend's SYN goes out.
  request(h, kRequest);
  EXPECT_EQ(proxy().connections_bound.read(), 1u);
  EXPECT_EQ(proxy().heads_complete.read(), 1u);
  EXPECT_EQ(proxy().heads_split.read(), 0u);
  EXPECT_EQ(proxy().backend_syns.read(), 1u);
  EXPECT_EQ(proxy().chosen_by[static_cast<size_t>(StickyMethod::kFiveTuple)].read(), 1u);
  const DecodedSegment syn = popSegment();
  EXPECT_EQ(w_.txCount(0), 0) << "the request must be held, not forwarded or acknowledged";
  EXPECT_EQ(syn.flags, kSyn);
  EXPECT_EQ(syn.src, kPortIp);
  EXPECT_GE(syn.sport, twoWorkerPartition().firstFor(0));
  EXPECT_LE(syn.sport, twoWorkerPartition().lastFor(0));
  EXPECT_NE(backendHost(syn.dst), 0);
  EXPECT_EQ(syn.dport, kWebBackendPort);
  EXPECT_EQ(syn.seq, client_isn) << "the backend connection starts from the client's ISN";
  EXPECT_EQ(syn.options.mss, 1460 - 12) << "room for an inserted timestamps option";
  EXPECT_EQ(syn.options.window_scale, 7);
  EXPECT_TRUE(syn.options.sack_permitted);
  ASSERT_TRUE(syn.options.has_timestamps);
  // Our rising clock, not the client's TSval (the 4-tuple may be in TIME_WAIT at the backend): the
  // client's 1002 maps onto it, see BackendSynTsvalRisesAcrossConnections.
  const uint32_t b_tsval = syn.options.tsval;
  EXPECT_EQ(syn.options.tsecr, 0u);
  EXPECT_TRUE(sameMac(syn.dst_mac, backendMac(static_cast<uint8_t>(syn.dst & 0xff))));

  // The backend answers (window scale 9, its own TS clock); the held request is replayed.
  const uint32_t backend_isn = 0xffffff00u;
  send(backend(syn, kSynAck, backend_isn, client_isn + 1, synOptions(1460, 9, true, true, 5000, b_tsval)));
  EXPECT_EQ(proxy().connections_spliced.read(), 1u);
  EXPECT_EQ(w_.ctx().proxy->pendingCount(), 0u);
  const DecodedSegment replay = popSegment();
  EXPECT_EQ(replay.src, kPortIp);
  EXPECT_EQ(replay.sport, syn.sport);
  EXPECT_EQ(replay.dst, syn.dst);
  EXPECT_EQ(replay.seq, client_isn + 1);
  EXPECT_EQ(replay.ack, backend_isn + 1) << "our ISN + 1 becomes the backend's ISN + 1";
  EXPECT_EQ(replay.payload, kRequest);
  EXPECT_EQ(replay.window, kClientWindow) << "both sides read the client's window with shift 7";
  ASSERT_TRUE(replay.options.has_timestamps);
  EXPECT_EQ(replay.options.tsval, b_tsval) << "the client's 1002 is the SYN's TSval towards the backend";
  EXPECT_EQ(replay.options.tsecr, 5000u) << "TSecr maps our clock onto the backend's";

  // The response, Set-Cookie included: sequence and TSval into the client's view, window rescaled.
  const std::string response = "HTTP/1.1 200 OK\r\nSet-Cookie: SID=s42; Path=/\r\nContent-Length: 2\r\n\r\nhi";
  Segment data = backend(syn, kPshAck, backend_isn + 1, client_isn + 1 + static_cast<uint32_t>(kRequest.size()),
                         timestampOption(5001, b_tsval), response);
  data.window = 100;  // 100 << 9 = 51200 bytes = 400 << 7
  EXPECT_EQ(send(data).kind, VerdictKind::kForwarded);
  const DecodedSegment out = popSegment();
  EXPECT_EQ(out.src, kVip);
  EXPECT_EQ(out.sport, kWebPort);
  EXPECT_EQ(out.dst, kClientIp);
  EXPECT_EQ(out.dport, kClientPort);
  EXPECT_TRUE(sameMac(out.dst_mac, clientMac()));
  EXPECT_EQ(out.seq, h.our_isn + 1);
  EXPECT_EQ(out.ack, static_cast<uint32_t>(client_isn + 1 + kRequest.size()));
  EXPECT_EQ(out.window, 400);
  ASSERT_TRUE(out.options.has_timestamps);
  EXPECT_EQ(out.options.tsval, h.our_tsval + 1) << "backend TSval 5001 in our clock";
  EXPECT_EQ(out.options.tsecr, 1002u) << "the backend's echo in the client's clock";
  EXPECT_EQ(out.payload, response);

  // FINs both ways pass translated.
  const uint32_t client_fin_seq = client_isn + 1 + static_cast<uint32_t>(kRequest.size());
  send(client(kFinAck, client_fin_seq, h.our_isn + 1 + static_cast<uint32_t>(response.size()),
              timestampOption(1003, h.our_tsval + 1)));
  const DecodedSegment fin = popSegment();
  EXPECT_EQ(fin.flags, kFinAck);
  EXPECT_EQ(fin.ack, static_cast<uint32_t>(backend_isn + 1 + response.size()));
  EXPECT_EQ(fin.options.tsecr, 5001u);
  EXPECT_EQ(fin.options.tsval, b_tsval + 1) << "client TSval 1003";
  send(backend(syn, kFinAck, backend_isn + 1 + static_cast<uint32_t>(response.size()), client_fin_seq + 1,
               timestampOption(5002, b_tsval + 1)));
  const DecodedSegment fin2 = popSegment();
  EXPECT_EQ(fin2.options.tsecr, 1003u);
  EXPECT_EQ(fin2.flags, kFinAck);
  EXPECT_EQ(fin2.seq, static_cast<uint32_t>(h.our_isn + 1 + response.size()));
  EXPECT_EQ(fin2.ack, client_fin_seq + 1);
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// A head split over three segments is collected without acknowledging it, then replayed in order.
TEST_F(SynProxyTest, HeadSplitOverThreeSegments) {
  const Handshake h = handshake(7000);
  const std::string parts[] = {"GET / HTTP/1.1\r\nHo", "st: a\r\nCookie: SID=zz\r", "\n\r\n"};
  uint32_t offset = 0;
  for (int i = 0; i < 2; ++i) {
    request(h, parts[i], offset);
    offset += static_cast<uint32_t>(parts[i].size());
    EXPECT_EQ(w_.txCount(0), 0) << "nothing may leave before the head ends";
  }
  // A retransmission of the first part is not held twice.
  request(h, parts[0], 0);
  EXPECT_EQ(proxy().segments_duplicate.read(), 1u);
  request(h, parts[2], offset);
  EXPECT_EQ(proxy().heads_split.read(), 1u);
  EXPECT_EQ(proxy().segments_held.read(), 3u);
  const DecodedSegment syn = popSegment();
  ASSERT_EQ(syn.flags, kSyn);
  send(backend(syn, kSynAck, 0x10, 7001, synOptions(1460, 7, true, true, 1)));
  uint32_t expect_seq = 7001;
  for (const std::string& part : parts) {
    const DecodedSegment replay = popSegment();
    EXPECT_EQ(replay.seq, expect_seq);
    EXPECT_EQ(replay.ack, 0x11u);
    EXPECT_EQ(replay.payload, part);
    expect_seq += static_cast<uint32_t>(part.size());
  }
}

// A retransmission that repeats held bytes together with new ones is trimmed to the new ones.
TEST_P(SynProxyBothFamiliesTest, OverlappingRetransmissionIsTrimmed) {
  const Handshake h = handshake(42);
  request(h, "GET / HTTP/1.1\r\n");
  request(h, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  const DecodedSegment syn = popSegment();
  ASSERT_EQ(syn.flags, kSyn);
  send(backend(syn, kSynAck, 999, 43, synOptions(1460, 7, true, true, 1)));
  EXPECT_EQ(popSegment().payload, "GET / HTTP/1.1\r\n");
  const DecodedSegment second = popSegment();
  EXPECT_EQ(second.seq, 43u + 16);
  EXPECT_EQ(second.payload, "Host: a\r\n\r\n");
}

// A head over the limit resets the client and frees everything.
TEST_P(SynProxyBothFamiliesTest, TooLargeHeadResetsClient) {
  web().http.max_head_bytes = 64;
  const Handshake h = handshake(1);
  request(h, "GET /" + std::string(100, 'a'));
  EXPECT_EQ(proxy().head_too_large.read(), 1u);
  const DecodedSegment rst = popSegment();
  EXPECT_EQ(rst.flags, kRstAck);
  expectFromVipToClient(rst);
  EXPECT_TRUE(rst.payload.empty());
  EXPECT_EQ(rst.seq, h.our_isn + 1);
  EXPECT_EQ(w_.ctx().flows.size(), 0u);
  EXPECT_EQ(w_.ctx().proxy->pendingCount(), 0u);
}

// A head that is not HTTP/1.x (bare LF) resets the client.
TEST_F(SynProxyTest, MalformedHeadResetsClient) {
  const Handshake h = handshake(1);
  request(h, "GET / HTTP/1.1\nHost: a\n\n");
  EXPECT_EQ(proxy().head_malformed.read(), 1u);
  EXPECT_EQ(popSegment().flags, kRstAck);
  EXPECT_EQ(w_.ctx().flows.size(), 0u);
}

// ACKs and data whose ACK is not a cookie we issued are dropped silently: no RST, no state.
TEST_F(SynProxyTest, BadCookieIsDroppedWithoutReply) {
  const Handshake h = handshake(500);
  Verdict v = send(client(kAck, 501, h.our_isn + 2, timestampOption(1001, h.our_tsval)));
  EXPECT_EQ(v.kind, VerdictKind::kDropped);
  EXPECT_EQ(v.drop, DropReason::kBadSynCookie);
  v = send(client(kPshAck, 501, 0x12345678, timestampOption(1001, h.our_tsval), kRequest));
  EXPECT_EQ(v.drop, DropReason::kBadSynCookie);
  EXPECT_EQ(w_.drops(DropReason::kBadSynCookie), 2u);
  EXPECT_EQ(w_.txCount(0), 0);
  EXPECT_EQ(w_.ctx().flows.size(), 0u);
}

// A learnt session sends the request to the backend that set the cookie; a response's Set-Cookie
// is learnt, and one with Max-Age=0 forgets the session.
TEST_F(SynProxyTest, LearntCookieChoosesItsBackendAndResponsesTeach) {
  auto table = SessionTable::create(SessionTableConfig{.capacity = 1024});
  ASSERT_TRUE(table.ok()) << table.status();
  const SessionSecret secret = SessionSecret::fromSeed(7);
  w_.ctx().sessions = table->get();
  w_.ctx().session_secret = &secret;
  const BackendTarget& target = web().backends[2];
  (*table)->insert(sessionKey("u1", secret), SessionValue{target.id, web().http.session_service},
                   static_cast<uint32_t>(kT0 / kHz), w_.ctx().session_counters);

  const Handshake h = handshake(900);
  request(h, kRequest);
  const DecodedSegment syn = popSegment();
  EXPECT_EQ(rte_cpu_to_be_32(syn.dst), target.address_be);
  EXPECT_EQ(proxy().chosen_by[static_cast<size_t>(StickyMethod::kLearnCookie)].read(), 1u);

  send(backend(syn, kSynAck, 77, 901, synOptions(1460, 7, true, true, 1)));
  popSegment();
  const std::string login = "HTTP/1.1 200 OK\r\nSet-Cookie: SID=new7; HttpOnly\r\n\r\n";
  send(backend(syn, kPshAck, 78, 901 + static_cast<uint32_t>(kRequest.size()), timestampOption(2, 1002), login));
  popSegment();
  EXPECT_EQ(proxy().sessions_learned.read(), 1u);
  const SessionLookup learnt = (*table)->lookup(sessionKey("new7", secret), static_cast<uint32_t>(kT0 / kHz),
                                                w_.ctx().session_counters);
  ASSERT_TRUE(learnt.hit());
  EXPECT_EQ(learnt.backend_id, target.id);

  const std::string logout = "HTTP/1.1 200 OK\r\nSet-Cookie: SID=new7; Max-Age=0\r\n\r\n";
  send(backend(syn, kPshAck, 78 + static_cast<uint32_t>(login.size()), 901 + static_cast<uint32_t>(kRequest.size()),
               timestampOption(3, 1002), logout));
  popSegment();
  EXPECT_EQ(proxy().sessions_forgotten.read(), 1u);
  EXPECT_FALSE((*table)->lookup(sessionKey("new7", secret), static_cast<uint32_t>(kT0 / kHz),
                                w_.ctx().session_counters)
                   .hit());
  w_.ctx().sessions = nullptr;
}

// A session pointing at a down backend: soft policy rebinds (counted by cause), strict refuses.
TEST_F(SynProxyTest, DownStickyTargetSoftRebindsStrictRefuses) {
  auto table = SessionTable::create(SessionTableConfig{.capacity = 1024});
  ASSERT_TRUE(table.ok());
  const SessionSecret secret = SessionSecret::fromSeed(9);
  w_.ctx().sessions = table->get();
  w_.ctx().session_secret = &secret;
  BackendTarget& target = web().backends[1];
  target.availability = BackendAvailability::kDown;
  (*table)->insert(sessionKey("u1", secret), SessionValue{target.id, web().http.session_service},
                   static_cast<uint32_t>(kT0 / kHz), w_.ctx().session_counters);

  const Handshake soft = handshake(100);
  request(soft, kRequest);
  const DecodedSegment syn = popSegment();
  EXPECT_EQ(syn.flags, kSyn);
  EXPECT_NE(rte_cpu_to_be_32(syn.dst), target.address_be);
  EXPECT_EQ(proxy().rebinds[static_cast<size_t>(RebindCause::kTargetDown)].read(), 1u);

  web().http.unavailable_target = StickyTargetPolicy::kStrict;
  Segment syn2 = client(kSyn, 200, 0, synOptions(1460, 7, true, true, 1000));
  syn2.sport = kClientPort + 1;
  send(syn2);
  const DecodedSegment sa = popSegment();
  Segment data = client(kPshAck, 201, sa.seq + 1, timestampOption(1002, sa.options.tsval), kRequest);
  data.sport = kClientPort + 1;
  send(data);
  const DecodedSegment rst = popSegment();
  EXPECT_EQ(rst.flags, kRstAck);
  EXPECT_EQ(rst.dport, kClientPort + 1);
  EXPECT_EQ(proxy().strict_refusals.read(), 1u);
  EXPECT_EQ(w_.drops(DropReason::kStickyRefused), 1u);
  EXPECT_EQ(w_.ctx().flows.size(), 1u) << "only the soft connection remains";
  w_.ctx().sessions = nullptr;
}

// A backend that refuses (RST) is replaced by another one; the replay then goes there.
TEST_P(SynProxyBothFamiliesTest, BackendResetMovesToAnotherBackend) {
  const Handshake h = handshake(300);
  request(h, kRequest);
  const DecodedSegment first = popSegment();
  send(backend(first, kRstAck, 0, 301));
  EXPECT_EQ(proxy().backend_refused.read(), 1u);
  EXPECT_EQ(proxy().backend_retries_other.read(), 1u);
  const DecodedSegment second = popSegment();
  EXPECT_EQ(second.flags, kSyn);
  EXPECT_NE(second.dst, first.dst);
  EXPECT_EQ(second.seq, 300u);
  // A late answer from the first backend no longer matches any flow.
  EXPECT_EQ(send(backend(first, kSynAck, 5, 301, synOptions(1460, 7, true, true, 1))).drop, DropReason::kNoFlow);
  send(backend(second, kSynAck, 5, 301, synOptions(1460, 7, true, true, 1)));
  const DecodedSegment replay = popSegment();
  EXPECT_EQ(replay.dst, second.dst);
  EXPECT_EQ(replay.sport, second.sport);
  EXPECT_EQ(replay.ack, 6u);
  // The flow was re-keyed for the new backend's replies (and, for an IPv6 client, its NAT64 rewrite
  // recomputed): the answer reaches the client translated, checksums valid.
  const std::string response = "HTTP/1.1 204 No Content\r\n\r\n";
  EXPECT_EQ(send(backend(second, kPshAck, 6, 301 + static_cast<uint32_t>(kRequest.size()), timestampOption(2, 1002),
                         response))
                .kind,
            VerdictKind::kForwarded);
  const DecodedSegment out = popSegment();
  expectFromVipToClient(out);
  EXPECT_EQ(out.payload, response);
  EXPECT_EQ(out.seq, h.our_isn + 1);
  EXPECT_EQ(w_.ctx().flows.size(), 1u);
}

// Silence from a backend: SYN retransmitted after the connect timeout, then another backend; after
// max_backends_tried the client is reset.
TEST_F(SynProxyTest, ConnectTimeoutRetransmitsThenRetriesThenResets) {
  const Handshake h = handshake(10);
  request(h, kRequest);
  const DecodedSegment first = popSegment();
  w_.ctx().proxy->poll(w_.ctx(), *snap_, kT0 + kHz / 2);
  EXPECT_EQ(w_.txCount(0), 0) << "not due yet";
  EXPECT_TRUE(w_.ctx().proxy->poll(w_.ctx(), *snap_, kT0 + kHz)) << "a binding is pending: the worker must flush";
  const DecodedSegment again = popSegment();
  EXPECT_EQ(again.dst, first.dst);
  EXPECT_EQ(again.seq, 10u);
  EXPECT_EQ(proxy().backend_syns.read(), 2u);
  w_.ctx().proxy->poll(w_.ctx(), *snap_, kT0 + 2 * kHz);
  EXPECT_EQ(proxy().backend_timeouts.read(), 1u);
  const DecodedSegment other = popSegment();
  EXPECT_NE(other.dst, first.dst);
  w_.ctx().proxy->poll(w_.ctx(), *snap_, kT0 + 3 * kHz);
  popSegment();
  w_.ctx().proxy->poll(w_.ctx(), *snap_, kT0 + 4 * kHz);
  const DecodedSegment third = popSegment();
  EXPECT_NE(third.dst, first.dst);
  EXPECT_NE(third.dst, other.dst);
  w_.ctx().proxy->poll(w_.ctx(), *snap_, kT0 + 5 * kHz);
  popSegment();
  w_.ctx().proxy->poll(w_.ctx(), *snap_, kT0 + 6 * kHz);
  EXPECT_EQ(proxy().backend_timeouts.read(), 3u);
  const DecodedSegment rst = popSegment();
  EXPECT_EQ(rst.flags, kRstAck);
  EXPECT_EQ(rst.dst, kClientIp);
  EXPECT_EQ(w_.ctx().flows.size(), 0u);
  EXPECT_EQ(w_.ctx().local_ports[0].available(),
            twoWorkerPartition().lastFor(0) - twoWorkerPartition().firstFor(0) + 1u);
  EXPECT_FALSE(w_.ctx().proxy->poll(w_.ctx(), *snap_, kT0 + 7 * kHz)) << "nothing pending: nothing to flush";
  EXPECT_EQ(w_.txCount(0), 0);
}

// A client that never finishes its head is reset at the head timeout.
TEST_F(SynProxyTest, HeadTimeoutResetsClient) {
  const Handshake h = handshake(10);
  request(h, "GET / HTTP/1.1\r\n");
  w_.ctx().proxy->poll(w_.ctx(), *snap_, kT0 + 4 * kHz);
  EXPECT_EQ(w_.txCount(0), 0);
  w_.ctx().proxy->poll(w_.ctx(), *snap_, kT0 + 5 * kHz);
  EXPECT_EQ(proxy().head_timeouts.read(), 1u);
  EXPECT_EQ(popSegment().flags, kRstAck);
  EXPECT_EQ(w_.ctx().flows.size(), 0u);
}

// A client RST or FIN before the binding frees everything (a FIN is answered with a RST).
TEST_P(SynProxyBothFamiliesTest, ClientClosesBeforeBinding) {
  const Handshake h = handshake(10);
  request(h, "GET / HTTP/1.1\r\n");
  send(client(kRstAck, 11 + 16, h.our_isn + 1));
  EXPECT_EQ(proxy().client_closed_early.read(), 1u);
  EXPECT_EQ(w_.ctx().flows.size(), 0u);
  EXPECT_EQ(w_.txCount(0), 0);

  const Handshake h2 = handshake(50);
  request(h2, "GET / HTTP/1.1\r\n");
  send(client(kFinAck, 51 + 16, h2.our_isn + 1, timestampOption(1003, h2.our_tsval)));
  EXPECT_EQ(proxy().client_closed_early.read(), 2u);
  const DecodedSegment rst = popSegment();
  EXPECT_EQ(rst.flags, kRstAck);
  expectFromVipToClient(rst);
  EXPECT_EQ(rst.seq, h2.our_isn + 1);
  EXPECT_EQ(rst.ack, 51u + 16 + 1);
  EXPECT_EQ(w_.ctx().flows.size(), 0u);
}

// Timestamps granted to the client but refused by the backend: NOPed out toward the backend, and a
// timestamps option inserted toward the client (header grows by 12, checksums still valid).
TEST_P(SynProxyBothFamiliesTest, TimestampsRefusedByBackendAreInsertedTowardClient) {
  const Handshake h = handshake(0x7fffffff);
  request(h, kRequest);
  const DecodedSegment syn = popSegment();
  send(backend(syn, kSynAck, 1234, 0x80000000u, synOptions(1460, 7, true, false, 0)));
  const DecodedSegment replay = popSegment();
  EXPECT_FALSE(replay.options.has_timestamps);
  EXPECT_EQ(replay.payload, kRequest);

  const std::string body = "HTTP/1.1 204 No Content\r\n\r\n";
  send(backend(syn, kPshAck, 1235, 0x80000000u + static_cast<uint32_t>(kRequest.size()), {}, body));
  std::optional<Bytes> raw = w_.popTx(0);
  ASSERT_TRUE(raw.has_value());
  const DecodedSegment out = decodeSegment(*raw);
  EXPECT_TRUE(out.checksums_valid);
  expectFromVipToClient(out);
  EXPECT_EQ(raw->size(), 14u + ipHeaderLength() + 20 + 12 + body.size());
  ASSERT_TRUE(out.options.has_timestamps);
  EXPECT_EQ(out.options.tsecr, 1002u) << "echoes the client's latest TSval";
  EXPECT_GE(static_cast<int32_t>(out.options.tsval - h.our_tsval), 0) << "our clock never goes back";
  EXPECT_EQ(out.payload, body);
  EXPECT_EQ(out.seq, h.our_isn + 1);
}

// The backend answers milliseconds after the request arrived (the worker was descheduled, or a
// millisecond simply ticked). The replay completes the backend's handshake, so its TSecr must be the
// SYN-ACK's TSval exactly: Linux 6.17+ drops an ACK whose TSecr lies outside the TSvals of the
// SYN-ACKs it sent (TcpExtTSEcrRejected), and the client then waits for retransmission timeouts.
TEST_F(SynProxyTest, ReplayEchoesTheSynAckTsvalWhateverTheConnectTime) {
  const Handshake h = handshake(77);
  request(h, kRequest, 0, kT0);
  const DecodedSegment syn = popSegment();
  const uint64_t synack_at = kT0 + 7 * kHz / 1000;  // 7 ms later
  send(backend(syn, kSynAck, 9000, 78, synOptions(1460, 7, true, true, 5000, syn.options.tsval)), synack_at);
  const DecodedSegment replay = popSegment();
  ASSERT_TRUE(replay.options.has_timestamps);
  EXPECT_EQ(replay.options.tsecr, 5000u) << "the cookie's TSval, echoed by the client, is the SYN-ACK's";

  // The response: its TSval reaches the client at or after the cookie's TSval (no PAWS there), and
  // the client's echo of it returns to the backend as the backend's own value.
  Segment data = backend(syn, kPshAck, 9001, 78 + static_cast<uint32_t>(kRequest.size()),
                         timestampOption(5003, syn.options.tsval), "HTTP/1.1 204 No Content\r\n\r\n");
  send(data, synack_at);
  const DecodedSegment out = popSegment();
  ASSERT_TRUE(out.options.has_timestamps);
  EXPECT_EQ(out.options.tsval, h.our_tsval + 3) << "backend TSval 5003 in our clock";
  EXPECT_EQ(out.options.tsecr, 1002u);
  send(client(kAck, 78 + static_cast<uint32_t>(kRequest.size()), out.seq + static_cast<uint32_t>(out.payload.size()),
              timestampOption(1003, out.options.tsval)),
       synack_at);
  const DecodedSegment ack = popSegment();
  EXPECT_EQ(ack.options.tsecr, 5003u);
  EXPECT_EQ(ack.options.tsval, syn.options.tsval + 1) << "client TSval 1003";
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// A local port comes back to the same backend while the backend may still hold its previous
// connection in TIME_WAIT; it accepts the new SYN only if its TSval is newer than every TSval it saw
// there (PAWS, RFC 7323 5.5). Clients draw a random TSval base per connection, so the backend SYN's
// TSval comes from the lcore's rising clock: a later connection's SYN beats everything the earlier
// one sent, even when the later client's own TSvals are much smaller.
TEST_F(SynProxyTest, BackendSynTsvalRisesAcrossConnections) {
  struct Conn {
    uint16_t sport;
    uint32_t isn;
    uint32_t client_ts;  // the client's TSval base
  };
  const Conn conns[] = {{kClientPort, 1000, 1'000'000'000u}, {static_cast<uint16_t>(kClientPort + 1), 50000, 10}};
  uint32_t max_seen_by_backend = 0;
  for (int i = 0; i < 2; ++i) {
    const Conn& c = conns[i];
    const uint64_t start = kT0 + static_cast<uint64_t>(i) * kHz;  // one second apart
    Segment syn = client(kSyn, c.isn, 0, synOptions(1460, 7, true, true, c.client_ts));
    syn.sport = c.sport;
    send(syn, start);
    const DecodedSegment sa = popSegment();
    Segment data = client(kPshAck, c.isn + 1, sa.seq + 1, timestampOption(c.client_ts + 2, sa.options.tsval), kRequest);
    data.sport = c.sport;
    send(data, start);
    const DecodedSegment bsyn = popSegment();
    ASSERT_EQ(bsyn.flags, kSyn);
    ASSERT_TRUE(bsyn.options.has_timestamps);
    if (i > 0) {
      EXPECT_GT(static_cast<int32_t>(bsyn.options.tsval - max_seen_by_backend), 0)
          << "the later SYN must pass the backend's TIME_WAIT check";
    }
    max_seen_by_backend = bsyn.options.tsval;
    send(backend(bsyn, kSynAck, 7000, c.isn + 1, synOptions(1460, 7, true, true, 5000, bsyn.options.tsval)), start);
    const DecodedSegment replay = popSegment();
    EXPECT_EQ(replay.options.tsval, bsyn.options.tsval) << "the held request maps onto the SYN's TSval";
    // The client keeps sending for 400 ms: its TSvals reach the backend shifted by one constant.
    const uint32_t seq = c.isn + 1 + static_cast<uint32_t>(kRequest.size());
    Segment ack = client(kAck, seq, sa.seq + 1, timestampOption(c.client_ts + 402, sa.options.tsval));
    ack.sport = c.sport;
    send(ack, start + 400 * kHz / 1000);
    const DecodedSegment fwd = popSegment();
    EXPECT_EQ(fwd.options.tsval, bsyn.options.tsval + 400);
    EXPECT_GT(static_cast<int32_t>(fwd.options.tsval - max_seen_by_backend), 0) << "rising within the connection";
    max_seen_by_backend = fwd.options.tsval;
  }
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// A head split over segments with rising TSvals: the SYN takes the lowest one's place, so no replayed
// segment is older than the SYN (a backend in SYN-RECEIVED drops such an ACK by PAWS), and a
// retransmitted SYN repeats the TSval.
TEST_F(SynProxyTest, BackendSynTsvalIsNotAboveAnyReplayedSegment) {
  const Handshake h = handshake(400);
  const std::string first = "GET / HTTP/1.1\r\nHost: a\r\n";
  send(client(kPshAck, 401, h.our_isn + 1, timestampOption(1002, h.our_tsval), first), kT0);
  send(client(kPshAck, 401 + static_cast<uint32_t>(first.size()), h.our_isn + 1, timestampOption(1009, h.our_tsval),
              "\r\n"),
       kT0 + 7 * kHz / 1000);
  const DecodedSegment syn = popSegment();
  ASSERT_EQ(syn.flags, kSyn);
  w_.ctx().proxy->poll(w_.ctx(), *snap_, kT0 + 2 * kHz);  // connect timeout: the SYN again
  const DecodedSegment again = popSegment();
  ASSERT_EQ(again.flags, kSyn);
  EXPECT_EQ(again.options.tsval, syn.options.tsval);
  send(backend(syn, kSynAck, 80, 401, synOptions(1460, 7, true, true, 5000, syn.options.tsval)), kT0 + 2 * kHz);
  const DecodedSegment r1 = popSegment();
  const DecodedSegment r2 = popSegment();
  EXPECT_EQ(r1.payload, first);
  EXPECT_EQ(r1.options.tsval, syn.options.tsval);
  EXPECT_EQ(r2.options.tsval, syn.options.tsval + 7);
  EXPECT_EQ(r2.options.tsecr, 5000u);
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// Window scaling refused by the backend: the client's windows reach it in bytes (shift 0), and its
// windows reach the client divided by our shift.
TEST_F(SynProxyTest, WindowsAreRescaledWhenBackendRefusesScaling) {
  const Handshake h = handshake(5);
  request(h, kRequest);
  const DecodedSegment syn = popSegment();
  Bytes no_ws = {tcp_option::kMss, 4, 0x05, 0xb4};
  Bytes ts = timestampOption(9, 1002);
  no_ws.insert(no_ws.end(), ts.begin(), ts.end());
  send(backend(syn, kSynAck, 50, 6, no_ws));
  const DecodedSegment replay = popSegment();
  EXPECT_EQ(replay.window, uint32_t{kClientWindow} << 7);
  Segment data = backend(syn, kAck, 51, 6 + static_cast<uint32_t>(kRequest.size()), timestampOption(10, 1002));
  data.window = 65535;
  send(data);
  EXPECT_EQ(popSegment().window, 65535 >> 7);
}

// A SYN for a 5-tuple whose proxied flow has finished opens a fresh delayed binding.
TEST_F(SynProxyTest, SynAfterClosedFlowGetsNewCookie) {
  const Handshake h = handshake(5);
  request(h, kRequest);
  const DecodedSegment syn = popSegment();
  send(backend(syn, kSynAck, 50, 6, synOptions(1460, 7, true, true, 1)));
  popSegment();
  send(client(kRstAck, 6 + static_cast<uint32_t>(kRequest.size()), h.our_isn + 1));
  popSegment();  // the RST passes to the backend
  send(client(kSyn, 90000, 0, synOptions(1460, 7, true, true, 1000)));
  const DecodedSegment sa = popSegment();
  EXPECT_EQ(sa.flags, kSynAck);
  EXPECT_EQ(sa.ack, 90001u);
  EXPECT_EQ(w_.ctx().flows.size(), 0u);
  EXPECT_EQ(proxy().syn_cookies_sent.read(), 2u);
}

// Robustness: frames of real proxied conversations (SYN, cookie ACK, head segments, backend SYN-ACK,
// backend data) with random bytes overwritten in the TCP header, options and payload, or truncated,
// with timers running. Nothing may crash, and every mbuf must come back (checked in TearDown).
TEST_F(SynProxyTest, MutatedSegmentsNeverCrashOrLeak) {
  std::vector<Bytes> seeds;
  auto sessions = SessionTable::create(SessionTableConfig{.capacity = 1024});
  ASSERT_TRUE(sessions.ok());
  const SessionSecret secret = SessionSecret::fromSeed(3);
  w_.ctx().sessions = sessions->get();
  w_.ctx().session_secret = &secret;
  for (uint16_t i = 0; i < 4; ++i) {
    Segment syn = client(kSyn, 100000u * i, 0, synOptions(1460, 7, true, true, 1000));
    syn.sport = static_cast<uint16_t>(kClientPort + i);
    seeds.push_back(buildSegment(syn));
    send(syn);
    const DecodedSegment sa = popSegment();
    Segment ack = client(kAck, syn.seq + 1, sa.seq + 1, timestampOption(1001, sa.options.tsval));
    ack.sport = syn.sport;
    seeds.push_back(buildSegment(ack));
    Segment part = client(kPshAck, syn.seq + 1, sa.seq + 1, timestampOption(1002, sa.options.tsval),
                          "GET / HTTP/1.1\r\nCookie: SID=x");
    part.sport = syn.sport;
    seeds.push_back(buildSegment(part));
    Segment rest = part;
    rest.seq += static_cast<uint32_t>(part.payload.size());
    rest.payload = "\r\n\r\n";
    seeds.push_back(buildSegment(rest));
    send(part);
    if (i % 2 == 0) continue;  // half stay pending
    send(rest);
    const DecodedSegment bsyn = popSegment();
    if (bsyn.flags != kSyn) continue;
    const Segment synack = backend(bsyn, kSynAck, 7u * i, syn.seq + 1, synOptions(1460, 9, true, i == 1, 5));
    seeds.push_back(buildSegment(synack));
    send(synack);
    seeds.push_back(buildSegment(backend(bsyn, kPshAck, 7u * i + 1, rest.seq + 4, timestampOption(6, 1002),
                                         "HTTP/1.1 200 OK\r\nSet-Cookie: SID=v; Max-Age=9\r\n\r\n")));
    seeds.push_back(buildSegment(backend(bsyn, kAck, 7u * i + 1, rest.seq + 4, sackOption(1, 2))));
  }
  w_.drain();
  std::mt19937_64 rng(0x5eed5);
  for (uint32_t n = 0; n < 30000; ++n) {
    Bytes frame = seeds[rng() % seeds.size()];
    const uint32_t edits = 1 + static_cast<uint32_t>(rng() % 4);
    for (uint32_t k = 0; k < edits; ++k) {
      // Mostly the TCP header, options and payload (offset 34 on): that is what the proxy reads.
      const size_t at = (rng() % 8 == 0) ? rng() % frame.size() : 34 + rng() % (frame.size() - 34);
      frame[at] = static_cast<uint8_t>(rng());
    }
    if (rng() % 8 == 0) frame.resize(14 + rng() % (frame.size() - 14));
    w_.process(*snap_, frame, 0, kT0 + n * 100);
    if (n % 32 == 0) {
      w_.ctx().proxy->poll(w_.ctx(), *snap_, kT0 + n * 100);
      w_.drain();
    }
  }
  w_.drain();
  w_.ctx().sessions = nullptr;
}

// A hashed cookie sends every connection carrying the same value to the same backend, whatever the
// client port.
TEST_F(SynProxyTest, HashCookieKeepsAUserOnOneBackend) {
  web().http.methods = {StickyMethod::kHashCookie, StickyMethod::kFiveTuple};
  web().http.hash_cookie = "uid";
  uint32_t first_backend = 0;
  for (uint16_t i = 0; i < 6; ++i) {
    Segment syn = client(kSyn, 1000u * i, 0, synOptions(1460, 7, true, true, 1000));
    syn.sport = static_cast<uint16_t>(kClientPort + i);
    send(syn);
    const DecodedSegment sa = popSegment();
    Segment data = client(kPshAck, 1000u * i + 1, sa.seq + 1, timestampOption(1002, sa.options.tsval),
                          "GET / HTTP/1.1\r\nCookie: uid=alice\r\n\r\n");
    data.sport = syn.sport;
    send(data);
    const DecodedSegment backend_syn = popSegment();
    ASSERT_EQ(backend_syn.flags, kSyn);
    if (i == 0) first_backend = backend_syn.dst;
    EXPECT_EQ(backend_syn.dst, first_backend) << "connection " << i;
  }
  EXPECT_EQ(proxy().chosen_by[static_cast<size_t>(StickyMethod::kHashCookie)].read(), 6u);
}

// The pending pool is bounded: once every slot holds a connection being bound, the next one is
// dropped as proxy_full (and its flow entry is not kept).
TEST_F(SynProxyTest, FullPendingPoolDropsNewBindings) {
  for (uint16_t i = 0; i <= 16; ++i) {
    Segment syn = client(kSyn, 1000u * i, 0, synOptions(1460, 7, true, true, 1000));
    syn.sport = static_cast<uint16_t>(kClientPort + i);
    send(syn);
    const DecodedSegment sa = popSegment();
    Segment data = client(kPshAck, 1000u * i + 1, sa.seq + 1, timestampOption(1002, sa.options.tsval), "GET / HT");
    data.sport = syn.sport;
    const Verdict v = send(data);
    if (i < 16) {
      EXPECT_EQ(v.drop, DropReason::kCount) << i;
    } else {
      EXPECT_EQ(v.drop, DropReason::kProxyFull);
    }
  }
  EXPECT_EQ(w_.ctx().proxy->pendingCount(), 16u);
  EXPECT_EQ(w_.ctx().flows.size(), 16u);
  EXPECT_EQ(w_.drops(DropReason::kProxyFull), 1u);
}

// Set-Cookie lines that end a session: empty value, Max-Age zero or negative, Expires in 1970.
TEST(SetCookieExpiresTest, RecognisesLogouts) {
  EXPECT_TRUE(setCookieExpires("", "; Path=/"));
  EXPECT_TRUE(setCookieExpires("x", "; Max-Age=0"));
  EXPECT_TRUE(setCookieExpires("x", "; Path=/; max-age=-1"));
  EXPECT_TRUE(setCookieExpires("x", "; Expires=Thu, 01 Jan 1970 00:00:00 GMT"));
  EXPECT_FALSE(setCookieExpires("x", "; Max-Age=3600; HttpOnly"));
  EXPECT_FALSE(setCookieExpires("x", "; Expires=Wed, 21 Oct 2037 07:28:00 GMT"));
  EXPECT_FALSE(setCookieExpires("x", ""));
}

// An HTTP service on a port with full-NAT source addresses: the backend connection leaves from one of
// them, the backend's answers to that address are spliced back to the client, and the client's later
// segments keep that source.
class SynProxyLocalAddressTest : public SynProxyTest {
 protected:
  static constexpr uint32_t kLocal = ipv4(10, 99, 0, 20);
  void SetUp() override {
    source_.config.ports[0].local_addresses = controlplane::Ipv4Range{kLocal, kLocal + 3};
    SynProxyTest::SetUp();
  }
};

TEST_F(SynProxyLocalAddressTest, BackendConnectionLeavesFromALocalAddress) {
  const uint32_t client_isn = 7000;
  const Handshake h = handshake(client_isn);
  request(h, kRequest);
  const DecodedSegment syn = popSegment();
  EXPECT_EQ(syn.flags, kSyn);
  EXPECT_EQ(syn.src, kLocal);
  send(backend(syn, kSynAck, 90000, client_isn + 1, synOptions(1460, 7, true, true, 5000, syn.options.tsval)));
  EXPECT_EQ(proxy().connections_spliced.read(), 1u);
  const DecodedSegment replay = popSegment();
  EXPECT_EQ(replay.src, kLocal);
  EXPECT_EQ(replay.payload, kRequest);

  const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
  const uint32_t after_request = client_isn + 1 + static_cast<uint32_t>(kRequest.size());
  EXPECT_EQ(send(backend(syn, kPshAck, 90001, after_request, timestampOption(5001, syn.options.tsval), response)).kind,
            VerdictKind::kForwarded);
  const DecodedSegment out = popSegment();
  EXPECT_EQ(out.src, kVip);
  EXPECT_EQ(out.dst, kClientIp);
  EXPECT_EQ(out.payload, response);

  send(client(kAck, after_request, h.our_isn + 1 + static_cast<uint32_t>(response.size()),
              timestampOption(1003, h.our_tsval + 1)));
  const DecodedSegment ack = popSegment();
  EXPECT_EQ(ack.src, kLocal);
  EXPECT_EQ(ack.sport, syn.sport);
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// Clients on port 0, the web services' backend behind port 1: its own subnet, its own MAC, and a
// smaller MTU than the clients' link.
class SynProxyTwoPortTest : public SynProxyBothFamiliesTest {
 protected:
  static constexpr uint32_t kBackendSideIp = ipv4(10, 98, 0, 2);
  static constexpr uint32_t kBackendIp = ipv4(10, 98, 0, 11);
  static constexpr uint16_t kBackendLinkMtu = 1400;
  static rte_ether_addr backendSideMac() { return testMac(0x0202); }

  void SetUp() override {
    source_.config.ports.push_back(
        {.name = "eth1", .address = {kBackendSideIp, 24}, .gateway = std::nullopt, .vlan = 0});
    for (controlplane::ServiceConfig& svc : source_.config.services) {
      if (svc.name == "web" || svc.name == "web6") svc.backends = {{kBackendIp, kWebBackendPort, 1}};
    }
    source_.neighbors.addStatic(kBackendIp, backendMac(11));
    SynProxyBothFamiliesTest::SetUp();
    if (HasFatalFailure()) return;
    snap_->ports[1].mac = backendSideMac();
    snap_->ports[1].mtu = kBackendLinkMtu;
  }
};

// TCP senders set DF for path MTU discovery; buildSegment leaves it clear.
void setDontFragment(Bytes& frame) {
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(frame.data() + sizeof(rte_ether_hdr));
  ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
}

// A full-sized request, held while the backend connection opens, is too big for the backend link
// when the SYN-ACK (received on port 1) replays it: the client must hear "fragmentation needed"
// (IPv6: "packet too big") on its own port, from that port's MAC, as forwarding a spliced segment
// would answer it; the backend side gets nothing.
TEST_P(SynProxyTwoPortTest, HeldSegmentTooBigForTheBackendLinkIsRefusedOnTheClientsPort) {
  const uint32_t client_isn = 3000;
  const Handshake h = handshake(client_isn);
  const std::string start = "GET /cart HTTP/1.1\r\nHost: shop\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  // Fills the client's 1500-byte link: its MSS of 1460 less the timestamps option.
  const size_t payload = 1500 - ipHeaderLength() - sizeof(rte_tcp_hdr) - 12;
  const std::string big_request = start + std::string(payload - start.size() - end.size(), 'p') + end;
  Bytes held = buildSegment(
      client(kPshAck, client_isn + 1, h.our_isn + 1, timestampOption(1002, h.our_tsval), big_request));
  if (!ipv6()) setDontFragment(held);
  w_.process(*snap_, held, 0, kT0);
  ASSERT_EQ(w_.txCount(0), 0) << "the request is held";
  ASSERT_EQ(w_.txCount(1), 1);
  const DecodedSegment syn = decodeSegment(w_.popTx(1).value_or(Bytes{}));
  ASSERT_EQ(syn.flags, kSyn);
  EXPECT_EQ(syn.src, kBackendSideIp);
  EXPECT_TRUE(sameMac(syn.src_mac, backendSideMac()));

  const Bytes syn_ack = buildSegment(
      backend(syn, kSynAck, 80000, client_isn + 1, synOptions(1460, 7, true, true, 5000, syn.options.tsval)));
  w_.process(*snap_, syn_ack, /*rx_port=*/1, kT0);
  EXPECT_EQ(proxy().connections_spliced.read(), 1u);
  EXPECT_EQ(w_.txCount(1), 0) << "neither the request nor the refusal leaves on the backend side";
  ASSERT_EQ(w_.txCount(0), 1);
  const Bytes answer = w_.popTx(0).value_or(Bytes{});
  EXPECT_TRUE(sameMac(decode(answer).eth_dst, clientMac()));
  EXPECT_TRUE(sameMac(decode(answer).eth_src, portMac()));
  if (ipv6()) {
    constexpr size_t kIcmp6 = sizeof(rte_ether_hdr) + 40;
    ASSERT_GT(answer.size(), kIcmp6 + 8);
    EXPECT_EQ(answer[sizeof(rte_ether_hdr) + 6], IPPROTO_ICMPV6);
    EXPECT_EQ(answer[kIcmp6], 2) << "packet too big";
    EXPECT_EQ(uint32_t{answer[kIcmp6 + 4]} << 24 | uint32_t{answer[kIcmp6 + 5]} << 16 |
                  uint32_t{answer[kIcmp6 + 6]} << 8 | answer[kIcmp6 + 7],
              kBackendLinkMtu + 20u)
        << "the IPv6 size whose translation fits the backend link";
  } else {
    expectIcmpFromVipToClient(answer);
    expectFragmentationNeeded(answer, held, kBackendLinkMtu);
  }
  EXPECT_EQ(w_.counters().icmp_too_big.read(), 1u);
  EXPECT_EQ(w_.totalDrops(), 0u);
}

// ICMP errors about a proxied flow: while the backend connection is being set up, an error about our
// SYN is not the client's business (no_flow); once spliced, a backend-side "fragmentation needed"
// about a client segment reaches the client, quoting the client's own addresses, ports and sequence.
TEST_F(SynProxyTest, IcmpErrorsAreRelayedOnlyOnceSpliced) {
  const uint32_t client_isn = 9000;
  const Handshake h = handshake(client_isn);
  request(h, kRequest);
  const Bytes syn_frame = w_.popTx(0).value_or(Bytes{});
  const DecodedSegment syn = decodeSegment(syn_frame);
  ASSERT_EQ(syn.flags, kSyn);
  const rte_ether_addr backend_mac = backendMac(backendHost(syn.dst));
  const Verdict early = sendFrame(icmpErrorToPort(syn.dst, backend_mac, 3, 3, 0, ipPacket(syn_frame)));
  EXPECT_EQ(early.drop, DropReason::kNoFlow);

  send(backend(syn, kSynAck, 50000, client_isn + 1, synOptions(1460, 7, true, true, 5000, syn.options.tsval)));
  const Bytes replay_frame = w_.popTx(0).value_or(Bytes{});
  ASSERT_EQ(decodeSegment(replay_frame).payload, kRequest);
  const Verdict relayed = sendFrame(icmpErrorToPort(syn.dst, backend_mac, 3, 4, 1400, ipPacket(replay_frame)));
  EXPECT_EQ(relayed.kind, VerdictKind::kForwarded);
  const Bytes out = w_.popTx(0).value_or(Bytes{});
  expectIcmpFromVipToClient(out);
  const DecodedFrame d = decode(out);
  const Bytes quote(out.begin() + static_cast<std::ptrdiff_t>(d.l4_offset + 8), out.end());
  Bytes inner_frame(14 + quote.size());  // the quote behind the same Ethernet header, to decode it
  std::copy(out.begin(), out.begin() + 14, inner_frame.begin());
  std::copy(quote.begin(), quote.end(), inner_frame.begin() + 14);
  const DecodedFrame inner = decode(inner_frame);
  EXPECT_EQ(inner.ip_src, kClientIp);
  EXPECT_EQ(inner.ip_dst, kVip);
  EXPECT_EQ(inner.src_port, kClientPort);
  EXPECT_EQ(inner.dst_port, kWebPort);
  EXPECT_EQ(uint32_t{quote[24]} << 24 | uint32_t{quote[25]} << 16 | uint32_t{quote[26]} << 8 | quote[27],
            client_isn + 1)
      << "the client's own sequence number";
  EXPECT_EQ(w_.counters().icmp_relayed.read(), 1u);
}

// A router on the client's side cannot pass the response: its error to the VIP reaches the backend
// from the local address, quoting the response as the backend sent it, sequence number included (the
// client saw it moved into the proxy's space), so the backend's stack finds its connection.
TEST_F(SynProxyTest, ErrorToTheVipAboutASplicedResponseReachesTheBackendInItsSequenceSpace) {
  const uint32_t client_isn = 9000;
  const Handshake h = handshake(client_isn);
  request(h, kRequest);
  const DecodedSegment syn = popSegment();
  ASSERT_EQ(syn.flags, kSyn);
  const uint32_t backend_isn = 70000;
  send(backend(syn, kSynAck, backend_isn, client_isn + 1, synOptions(1460, 7, true, true, 5000, syn.options.tsval)));
  ASSERT_EQ(popSegment().payload, kRequest);
  const Verdict sent = send(backend(syn, kPshAck, backend_isn + 1, client_isn + 1 + static_cast<uint32_t>(kRequest.size()),
                                    timestampOption(5001, syn.options.tsval), std::string(1200, 'r')));
  ASSERT_EQ(sent.kind, VerdictKind::kForwarded);
  const Bytes to_client = w_.popTx(0).value_or(Bytes{});
  ASSERT_EQ(decodeSegment(to_client).seq, h.our_isn + 1);

  PacketBuilder error;
  error.ethernet(clientMac(), portMac()).ipv4(ipv4(10, 99, 0, 1), kVip).icmpError(3, 4, 1000).payload(ipPacket(to_client, 548));
  EXPECT_EQ(sendFrame(error.build()).kind, VerdictKind::kForwarded);
  const Bytes out = w_.popTx(0).value_or(Bytes{});
  const DecodedFrame d = decode(out);
  ASSERT_TRUE(d.has_ipv4);
  EXPECT_EQ(d.ip_src, kPortIp);
  EXPECT_EQ(d.ip_dst, syn.dst);
  EXPECT_TRUE(ipv4HeaderChecksumValid(out, d.l3_offset));
  EXPECT_TRUE(l4ChecksumValid(out, d.l3_offset)) << "ICMP checksum";
  const Bytes quote(out.begin() + static_cast<std::ptrdiff_t>(d.l4_offset + 8), out.end());
  Bytes inner_frame(14 + quote.size());  // the quote behind the same Ethernet header, to decode it
  std::copy(out.begin(), out.begin() + 14, inner_frame.begin());
  std::copy(quote.begin(), quote.end(), inner_frame.begin() + 14);
  const DecodedFrame inner = decode(inner_frame);
  EXPECT_EQ(inner.ip_src, syn.dst);
  EXPECT_EQ(inner.ip_dst, kPortIp);
  EXPECT_EQ(inner.src_port, kWebBackendPort);
  EXPECT_EQ(inner.dst_port, syn.sport);
  EXPECT_TRUE(ipv4HeaderChecksumValid(inner_frame, 14)) << "the quoted header's checksum";
  EXPECT_EQ(uint32_t{quote[24]} << 24 | uint32_t{quote[25]} << 16 | uint32_t{quote[26]} << 8 | quote[27],
            backend_isn + 1)
      << "the backend's own sequence number";
  EXPECT_EQ(w_.counters().icmp_to_backend.read(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Clients, SynProxyBothFamiliesTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Ipv6" : "Ipv4"; });
INSTANTIATE_TEST_SUITE_P(Clients, SynProxyTwoPortTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Ipv6" : "Ipv4"; });

}  // namespace
}  // namespace lb::dataplane::test
