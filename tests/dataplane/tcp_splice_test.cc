// Per-packet splice translation (dataplane/tcp_splice.h) on real mbufs: every incremental checksum
// update is checked against a full recomputation, across sequence wrap-around and odd payloads.
#include <gtest/gtest.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include <string>

#include "dataplane/checksum.h"
#include "dataplane/tcp_splice.h"
#include "tests/dataplane/proxy_test_frames.h"
#include "tests/dataplane/worker_harness.h"

namespace lb::dataplane::test {
namespace {

constexpr uint8_t kDataFlags = RTE_TCP_PSH_FLAG | RTE_TCP_ACK_FLAG;

Segment segment(uint8_t flags, uint32_t seq, uint32_t ack, Bytes options, std::string payload) {
  Segment s;
  s.src_mac = testMac(1);
  s.dst_mac = testMac(2);
  s.src = ipv4(10, 0, 0, 1);
  s.dst = ipv4(10, 0, 0, 2);
  s.sport = 1234;
  s.dport = 80;
  s.flags = flags;
  s.seq = seq;
  s.ack = ack;
  s.window = 1000;
  s.options = std::move(options);
  s.payload = std::move(payload);
  return s;
}

// Applies the deltas as the packet path does (one fold per checksum) and returns the frame.
struct Applied {
  Bytes frame;
  SpliceError error = SpliceError::kNone;
};

Applied clientToBackend(const Segment& s, SpliceState& st) {
  rte_mbuf* m = toMbuf(testPool(), buildSegment(s));
  ParsedFrame f;
  parseFrame(m, f);
  uint64_t delta = 0;
  Applied a;
  a.error = spliceClientToBackend(f, st, delta);
  auto* tcp = static_cast<rte_tcp_hdr*>(f.l4);
  tcp->cksum = checksumApply(tcp->cksum, delta);
  a.frame = fromMbuf(m);
  rte_pktmbuf_free(m);
  return a;
}

Applied backendToClient(const Segment& s, SpliceState& st, uint32_t now_ms) {
  rte_mbuf* m = toMbuf(testPool(), buildSegment(s));
  ParsedFrame f;
  parseFrame(m, f);
  uint64_t l4 = 0;
  uint64_t ip = 0;
  Applied a;
  a.error = spliceBackendToClient(m, f, st, now_ms, l4, ip);
  auto* tcp = static_cast<rte_tcp_hdr*>(f.l4);
  tcp->cksum = checksumApply(tcp->cksum, l4);
  f.ip->hdr_checksum = checksumApply(f.ip->hdr_checksum, ip);
  a.frame = fromMbuf(m);
  rte_pktmbuf_free(m);
  return a;
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Windows: scaled into bytes by one shift, out by the other, clamped to 16 bits, never 0 unless 0.
TEST(RescaleWindowTest, ClampsAndNeverZeroes) {
  EXPECT_EQ(rescaleWindow(502, 7, 7), 502);
  EXPECT_EQ(rescaleWindow(502, 7, 0), 64256);
  EXPECT_EQ(rescaleWindow(1000, 7, 0), 65535);
  EXPECT_EQ(rescaleWindow(100, 9, 7), 400);
  EXPECT_EQ(rescaleWindow(65535, 0, 7), 511);
  EXPECT_EQ(rescaleWindow(3, 0, 7), 1) << "a non-zero window must stay non-zero";
  EXPECT_EQ(rescaleWindow(0, 0, 7), 0);
  EXPECT_EQ(rescaleWindow(1, 14, 0), 16384);
  EXPECT_EQ(rescaleWindow(4, 14, 0), 65535);
}

// Client -> backend across wrap-around: ACK and SACK edges move by -delta, TSval by +client_ts_delta,
// TSecr by -ts_delta; the incremental checksum equals a full one.
TEST(SpliceTest, ClientToBackendTranslatesAckSackAndTsecr) {
  SpliceState st;
  st.seq_delta = 0x20u;  // our ISN 0x10, backend ISN 0xfffffff0
  st.ts_delta = 0x100;
  st.client_ts_delta = 0xffffffc0u;  // 77 + it wraps to 13
  st.flags = SpliceState::kTranslateTs;
  st.client_shift = 7;
  st.backend_reads_shift = 7;
  const Bytes options = concat(timestampOption(77, 0x150), sackOption(0x30, 0x40));
  const Applied a = clientToBackend(segment(kDataFlags, 5, 0x11, options, "abc"), st);
  ASSERT_EQ(a.error, SpliceError::kNone);
  const DecodedSegment d = decodeSegment(a.frame);
  ASSERT_TRUE(d.ok);
  EXPECT_TRUE(d.checksums_valid);
  EXPECT_EQ(d.ack, 0xfffffff1u);
  EXPECT_EQ(d.seq, 5u);
  EXPECT_EQ(d.options.tsval, 13u);
  EXPECT_EQ(d.options.tsecr, 0x50u);
  ASSERT_EQ(d.options.sack_count, 1);
  EXPECT_EQ(d.options.sack[0], (SackBlock{0x10, 0x20}));
  EXPECT_EQ(st.client_tsval, 77u) << "the client's own value";
  EXPECT_EQ(d.payload, "abc");
}

// Options the backend refused are NOPed out toward it, checksum still valid.
TEST(SpliceTest, RefusedOptionsAreNoppedOut) {
  SpliceState st;
  st.flags = SpliceState::kInsertTs | SpliceState::kStripSack;
  st.client_ts_delta = 1000;  // never set with kInsertTs; would it leak, the client TSval below would move
  const Bytes options = concat(timestampOption(77, 5), sackOption(1, 9));
  const Applied a = clientToBackend(segment(kDataFlags, 5, 6, options, "abcde"), st);
  ASSERT_EQ(a.error, SpliceError::kNone);
  const DecodedSegment d = decodeSegment(a.frame);
  ASSERT_TRUE(d.ok);
  EXPECT_TRUE(d.checksums_valid);
  EXPECT_FALSE(d.options.has_timestamps);
  EXPECT_EQ(d.options.sack_count, 0);
  EXPECT_EQ(st.client_tsval, 77u) << "kept for the timestamps inserted toward the client";
}

// Backend -> client: sequence number moves by +delta (wrapping), TSval by +ts_delta, TSecr by
// -client_ts_delta, SACK edges (client sequence space) stay.
TEST(SpliceTest, BackendToClientTranslatesSeqAndTsval) {
  SpliceState st;
  st.seq_delta = 0x20u;
  st.ts_delta = 0xffffff00u;
  st.client_ts_delta = 0x10;  // 9 - it wraps
  st.flags = SpliceState::kTranslateTs;
  st.backend_shift = 9;
  st.client_reads_shift = 7;
  const Bytes options = concat(timestampOption(0x200, 9), sackOption(100, 200));
  const Applied a = backendToClient(segment(kDataFlags, 0xfffffff1u, 55, options, "xyz"), st, 0);
  ASSERT_EQ(a.error, SpliceError::kNone);
  const DecodedSegment d = decodeSegment(a.frame);
  ASSERT_TRUE(d.ok);
  EXPECT_TRUE(d.checksums_valid);
  EXPECT_EQ(d.seq, 0x11u);
  EXPECT_EQ(d.ack, 55u);
  EXPECT_EQ(d.window, 4000);
  EXPECT_EQ(d.options.tsval, 0x100u);
  EXPECT_EQ(d.options.tsecr, 0xfffffff9u);
  EXPECT_EQ(d.options.sack[0], (SackBlock{100, 200}));
}

// Both timestamp offsets, round trip: a client TSval goes to the backend shifted, the backend's echo of
// it comes back to the client as the client's own value, and likewise the backend's TSval and the
// client's echo; the checksums stay valid (incremental, one fold) for odd and even payloads, with
// SACK blocks beside the timestamps, and across wrap-around.
TEST(SpliceTest, TimestampsRoundTripBothWays) {
  const uint32_t client_deltas[] = {0, 1, 0x7fffffffu, 0x80000000u, 0xfffffff0u, 0x9e3779b9u};
  const uint32_t client_tsvals[] = {0, 5, 0x7ffffff0u, 0xfffffffeu};
  for (const uint32_t client_delta : client_deltas) {
    for (const uint32_t client_tsval : client_tsvals) {
      for (const std::string& payload : {std::string(), std::string("odd"), std::string("even")}) {
        SpliceState st;
        st.seq_delta = 0x1234;
        st.ts_delta = 0xabcdef01u;
        st.client_ts_delta = client_delta;
        st.flags = SpliceState::kTranslateTs;
        const uint32_t backend_tsval = client_tsval ^ 0x5a5a5a5au;
        const uint32_t our_tsval = backend_tsval + st.ts_delta;  // what the client saw of it
        const Applied up = clientToBackend(
            segment(kDataFlags, 7, 8, concat(sackOption(1, 3), timestampOption(client_tsval, our_tsval)), payload), st);
        ASSERT_EQ(up.error, SpliceError::kNone);
        const DecodedSegment u = decodeSegment(up.frame);
        ASSERT_TRUE(u.ok);
        EXPECT_TRUE(u.checksums_valid) << client_delta << " " << client_tsval << " " << payload;
        EXPECT_EQ(u.options.tsval, client_tsval + client_delta);
        EXPECT_EQ(u.options.tsecr, backend_tsval) << "the client's echo in the backend's clock";
        EXPECT_EQ(u.payload, payload);

        const Applied down = backendToClient(
            segment(kDataFlags, 9, 10, concat(timestampOption(backend_tsval + 1, u.options.tsval), sackOption(5, 6)),
                    payload),
            st, 0);
        ASSERT_EQ(down.error, SpliceError::kNone);
        const DecodedSegment d = decodeSegment(down.frame);
        ASSERT_TRUE(d.ok);
        EXPECT_TRUE(d.checksums_valid) << client_delta << " " << client_tsval << " " << payload;
        EXPECT_EQ(d.options.tsecr, client_tsval) << "the backend's echo back in the client's clock";
        EXPECT_EQ(d.options.tsval, our_tsval + 1);
        EXPECT_EQ(d.payload, payload);
      }
    }
  }
}

// Inserting timestamps grows the header by 12 bytes; checksums (incremental) stay valid for even and
// odd payload lengths and with existing options.
TEST(SpliceTest, InsertedTimestampsKeepChecksumsValid) {
  for (const std::string& payload : {std::string(), std::string("odd"), std::string("even"), std::string(999, 'z')}) {
    for (const Bytes& options : {Bytes{}, sackOption(3, 4)}) {
      SpliceState st;
      st.flags = SpliceState::kInsertTs;
      st.our_ts_base = 1000;
      st.client_tsval = 4242;
      const Segment s = segment(kDataFlags, 100, 200, options, payload);
      const Applied a = backendToClient(s, st, 50);
      ASSERT_EQ(a.error, SpliceError::kNone);
      const DecodedSegment d = decodeSegment(a.frame);
      ASSERT_TRUE(d.ok) << payload.size();
      EXPECT_TRUE(d.checksums_valid) << payload.size() << " " << options.size();
      EXPECT_EQ(a.frame.size(), buildSegment(s).size() + 12);
      ASSERT_TRUE(d.options.has_timestamps);
      EXPECT_EQ(d.options.tsval, 1050u);
      EXPECT_EQ(d.options.tsecr, 4242u);
      EXPECT_EQ(d.options.sack_count, options.empty() ? 0 : 1);
      EXPECT_EQ(d.payload, payload);
    }
  }
}

// A RST carries no timestamps (RFC 7323 allows it) and is not grown.
TEST(SpliceTest, NoTimestampsInsertedIntoReset) {
  SpliceState st;
  st.flags = SpliceState::kInsertTs;
  const Segment s = segment(RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG, 1, 2, {}, "");
  const Applied a = backendToClient(s, st, 50);
  EXPECT_EQ(a.frame.size(), buildSegment(s).size());
  EXPECT_TRUE(decodeSegment(a.frame).checksums_valid);
}

// Malformed options are refused before anything is translated.
TEST(SpliceTest, MalformedOptionsAreRefused) {
  SpliceState st;
  const Applied a = clientToBackend(segment(kDataFlags, 1, 2, Bytes{tcp_option::kMss, 3, 0, 0}, "x"), st);
  EXPECT_EQ(a.error, SpliceError::kBadOptions);
}

}  // namespace
}  // namespace lb::dataplane::test
