// TCP options (dataplane/tcp_options.h): the parser against a table of well-formed and malformed
// blocks, exhaustive and random fuzzing with the block placed against a PROT_NONE page (any read past
// its end crashes the test), the SYN-ACK writer round-tripping through the parser, and the splice
// rewrites (SACK translation, timestamps) whose incremental checksum must equal a full recomputation
// by DPDK's rte_ipv4_udptcp_cksum.
#include "dataplane/tcp_options.h"

#include <gtest/gtest.h>
#include <rte_byteorder.h>
#include <rte_ip.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/checksum.h"
#include "dataplane/tcp_seq.h"

namespace lb::dataplane {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TcpOptionsError parse(const Bytes& bytes, TcpOptions& out) {
  return parseTcpOptions(std::span<const uint8_t>(bytes.data(), bytes.size()), out);
}

// Linux's SYN: MSS 1460, SACK-permitted, timestamps, NOP, window scale 7.
const Bytes kLinuxSyn = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0x11, 0x22, 0x33, 0x44,
                         0, 0, 0, 0, 1, 3, 3, 7};

// A typical SYN parses into every field, with the timestamp option's offset recorded.
TEST(TcpOptionsTest, ParsesLinuxSyn) {
  TcpOptions o;
  ASSERT_EQ(parse(kLinuxSyn, o), TcpOptionsError::kNone);
  EXPECT_TRUE(o.has_mss);
  EXPECT_EQ(o.mss, 1460);
  EXPECT_TRUE(o.sack_permitted);
  EXPECT_TRUE(o.has_timestamps);
  EXPECT_EQ(o.tsval, 0x11223344u);
  EXPECT_EQ(o.tsecr, 0u);
  EXPECT_EQ(o.ts_offset, 6);
  EXPECT_TRUE(o.has_window_scale);
  EXPECT_EQ(o.window_scale, 7);
  EXPECT_EQ(o.sack_count, 0);
}

// An established segment: NOP NOP TS, NOP NOP SACK with 3 blocks, values in host order.
TEST(TcpOptionsTest, ParsesSackBlocks) {
  const Bytes bytes = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2,  1, 1, 5, 26,
                       0, 0, 0, 10, 0, 0, 0, 20,            0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0x10,
                       0x80, 0, 0, 0, 0x80, 0, 0, 1};
  TcpOptions o;
  ASSERT_EQ(parse(bytes, o), TcpOptionsError::kNone);
  EXPECT_EQ(o.tsval, 1u);
  EXPECT_EQ(o.tsecr, 2u);
  EXPECT_EQ(o.ts_offset, 2);
  ASSERT_EQ(o.sack_count, 3);
  EXPECT_EQ(o.sack_offset, 14);
  EXPECT_EQ(o.sack[0], (SackBlock{10, 20}));
  EXPECT_EQ(o.sack[1], (SackBlock{0xfffffff0u, 0x10}));
  EXPECT_EQ(o.sack[2], (SackBlock{0x80000000u, 0x80000001u}));
}

struct ParseCase {
  std::string description;
  Bytes bytes;
  TcpOptionsError error;
};

std::ostream& operator<<(std::ostream& os, const ParseCase& c) { return os << c.description; }

class TcpOptionsParseTable : public testing::TestWithParam<ParseCase> {};

// Each block yields exactly the expected verdict: well-formed ones parse, every kind of malformation
// is reported as its own error, never as a partial success.
TEST_P(TcpOptionsParseTable, Verdict) {
  TcpOptions o;
  EXPECT_EQ(parse(GetParam().bytes, o), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Table, TcpOptionsParseTable,
    testing::Values(
        ParseCase{"empty", {}, TcpOptionsError::kNone},
        ParseCase{"nops only", {1, 1, 1, 1}, TcpOptionsError::kNone},
        ParseCase{"eol then garbage is padding", {0, 2, 0, 9, 9}, TcpOptionsError::kNone},
        ParseCase{"linux syn", kLinuxSyn, TcpOptionsError::kNone},
        ParseCase{"unknown kind skipped", {30, 6, 1, 2, 3, 4, 2, 4, 5, 0xb4}, TcpOptionsError::kNone},
        ParseCase{"unknown kind length 2", {99, 2, 1, 1}, TcpOptionsError::kNone},
        ParseCase{"option ends exactly at end", {2, 4, 5, 0xb4}, TcpOptionsError::kNone},
        ParseCase{"length 0", {2, 0, 5, 0xb4}, TcpOptionsError::kLengthTooShort},
        ParseCase{"length 1", {2, 1, 5, 0xb4}, TcpOptionsError::kLengthTooShort},
        ParseCase{"unknown kind length 0", {1, 99, 0, 1}, TcpOptionsError::kLengthTooShort},
        ParseCase{"unknown kind length 1", {99, 1}, TcpOptionsError::kLengthTooShort},
        ParseCase{"kind as last byte", {1, 1, 1, 2}, TcpOptionsError::kTruncated},
        ParseCase{"unknown kind as last byte", {99}, TcpOptionsError::kTruncated},
        ParseCase{"length past end", {2, 4, 5}, TcpOptionsError::kLengthPastEnd},
        ParseCase{"timestamps truncated", {1, 1, 8, 10, 0, 0, 0, 1}, TcpOptionsError::kLengthPastEnd},
        ParseCase{"unknown kind past end", {1, 99, 40, 0}, TcpOptionsError::kLengthPastEnd},
        ParseCase{"length 255", {30, 255, 0, 0}, TcpOptionsError::kLengthPastEnd},
        ParseCase{"mss length 3", {2, 3, 5, 1}, TcpOptionsError::kBadLength},
        ParseCase{"mss length 6", {2, 6, 5, 0xb4, 0, 0}, TcpOptionsError::kBadLength},
        ParseCase{"window scale length 4", {3, 4, 7, 0}, TcpOptionsError::kBadLength},
        ParseCase{"sack-permitted length 3", {4, 3, 0, 1}, TcpOptionsError::kBadLength},
        ParseCase{"timestamps length 8", {8, 8, 0, 0, 0, 0, 0, 0}, TcpOptionsError::kBadLength},
        ParseCase{"sack with no block", {1, 1, 5, 2}, TcpOptionsError::kBadLength},
        ParseCase{"sack length 11", {5, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, TcpOptionsError::kBadLength},
        ParseCase{"sack with 5 blocks", cat({5, 42}, Bytes(40, 0)), TcpOptionsError::kBadLength},
        ParseCase{"duplicate mss", {2, 4, 5, 0xb4, 2, 4, 5, 0xb4}, TcpOptionsError::kDuplicate},
        ParseCase{"duplicate sack-permitted", {4, 2, 4, 2}, TcpOptionsError::kDuplicate},
        ParseCase{"duplicate window scale", {3, 3, 1, 3, 3, 1}, TcpOptionsError::kDuplicate},
        ParseCase{"duplicate timestamps",
                  cat({8, 10, 0, 0, 0, 1, 0, 0, 0, 2}, {8, 10, 0, 0, 0, 1, 0, 0, 0, 2}),
                  TcpOptionsError::kDuplicate},
        ParseCase{"duplicate sack",
                  cat({5, 10, 0, 0, 0, 1, 0, 0, 0, 2}, {5, 10, 0, 0, 0, 1, 0, 0, 0, 2}),
                  TcpOptionsError::kDuplicate}),
    [](const testing::TestParamInfo<ParseCase>& info) {
      std::string name = info.param.description;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });


// The options area is bytes 20 .. 4 * data offset, and a data offset below 5 or past the bytes
// available is refused before any option is read.
TEST(TcpOptionsTest, OptionsAreaChecksDataOffset) {
  alignas(4) uint8_t tcp[60] = {};
  tcp[12] = 8 << 4;  // 32-byte header: 12 bytes of options
  TcpOptionsArea area = tcpOptionsArea(tcp, sizeof(tcp));
  EXPECT_EQ(area.error, TcpOptionsError::kNone);
  EXPECT_EQ(area.bytes.data(), tcp + 20);
  EXPECT_EQ(area.bytes.size(), 12u);
  EXPECT_EQ(tcpOptionsArea(tcp, 32).error, TcpOptionsError::kNone);
  EXPECT_EQ(tcpOptionsArea(tcp, 31).error, TcpOptionsError::kBadDataOffset);
  EXPECT_EQ(tcpOptionsArea(tcp, 19).error, TcpOptionsError::kBadDataOffset);
  tcp[12] = 4 << 4;
  EXPECT_EQ(tcpOptionsArea(tcp, sizeof(tcp)).error, TcpOptionsError::kBadDataOffset);
  tcp[12] = 5 << 4;
  area = tcpOptionsArea(tcp, 20);
  EXPECT_EQ(area.error, TcpOptionsError::kNone);
  EXPECT_TRUE(area.bytes.empty());
  tcp[12] = 15 << 4;
  EXPECT_EQ(tcpOptionsArea(tcp, 60).bytes.size(), kTcpOptionsMaxLen);
}

// A SYN's offer: MSS 536 when absent (RFC 9293 3.7.1), shifts above 14 treated as 14 (RFC 7323 2.3).
TEST(TcpOptionsTest, SynOptionsOffered) {
  TcpOptions syn;
  EXPECT_EQ(synOptionsOffered(syn, false), SynOptions{});
  EXPECT_EQ(synOptionsOffered(syn, false).mss, kDefaultMss);
  syn.has_mss = true;
  syn.mss = 9000;
  syn.has_window_scale = true;
  syn.window_scale = 255;
  syn.sack_permitted = true;
  syn.has_timestamps = true;
  const SynOptions offered = synOptionsOffered(syn, true);
  EXPECT_EQ(offered.mss, 9000);
  EXPECT_EQ(offered.window_scale, kMaxWindowScale);
  EXPECT_TRUE(offered.sack_permitted);
  EXPECT_TRUE(offered.timestamps);
  EXPECT_TRUE(offered.ecn);
  syn.window_scale = 14;
  EXPECT_EQ(synOptionsOffered(syn, false).window_scale, 14);
  syn.window_scale = 0;
  EXPECT_EQ(synOptionsOffered(syn, false).window_scale, 0);
}

// Every SYN-ACK block (timestamps, SACK-permitted, window scale on or off) is a multiple of 4 bytes,
// fits kSynAckOptionsMaxLen, and parses back to exactly what was written.
TEST(TcpOptionsTest, SynAckOptionsRoundTrip) {
  for (int bits = 0; bits < 8; ++bits) {
    SynAckOptions want;
    want.mss = 1460;
    want.timestamps = (bits & 1) != 0;
    want.sack_permitted = (bits & 2) != 0;
    want.window_scale = (bits & 4) != 0 ? 9 : kNoWindowScale;
    want.tsval = want.timestamps ? 0xdeadbeef : 0;
    want.tsecr = want.timestamps ? 0x01020304 : 0;
    uint8_t out[kSynAckOptionsMaxLen];
    const size_t len = writeSynAckOptions(out, want);
    EXPECT_EQ(len % 4, 0u);
    EXPECT_LE(len, kSynAckOptionsMaxLen);
    TcpOptions got;
    ASSERT_EQ(parseTcpOptions(std::span<const uint8_t>(out, len), got), TcpOptionsError::kNone);
    EXPECT_TRUE(got.has_mss);
    EXPECT_EQ(got.mss, 1460);
    EXPECT_EQ(got.has_timestamps, want.timestamps);
    EXPECT_EQ(got.tsval, want.tsval);
    EXPECT_EQ(got.tsecr, want.tsecr);
    if (want.timestamps) {
      EXPECT_EQ(got.ts_offset % 4, 2);  // TSval/TSecr on 4-byte boundaries
    }
    EXPECT_EQ(got.sack_permitted, want.sack_permitted);
    EXPECT_EQ(got.has_window_scale, want.window_scale != kNoWindowScale);
    if (got.has_window_scale) {
      EXPECT_EQ(got.window_scale, 9);
    }
  }
}

// The full block is byte-for-byte Linux's layout, and a short buffer is refused.
TEST(TcpOptionsTest, SynAckOptionsLayout) {
  const SynAckOptions all{.mss = 1460, .window_scale = 7, .sack_permitted = true,
                          .timestamps = true, .tsval = 0x0a0b0c0d, .tsecr = 0x11223344};
  uint8_t out[kSynAckOptionsMaxLen];
  ASSERT_EQ(writeSynAckOptions(out, all), 20u);
  const Bytes want = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0x0a, 0x0b, 0x0c, 0x0d,
                      0x11, 0x22, 0x33, 0x44, 1, 3, 3, 7};
  EXPECT_EQ(Bytes(out, out + 20), want);
  uint8_t small[kSynAckOptionsMaxLen - 1];
  EXPECT_EQ(writeSynAckOptions(small, all), 0u);
}

// --- Fuzzing: a buffer whose last byte is the last byte before an inaccessible page.

class GuardedBuffer {
 public:
  GuardedBuffer() {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* base = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) std::abort();
    base_ = static_cast<uint8_t*>(base);
    if (mprotect(base_ + page_, page_, PROT_NONE) != 0) std::abort();
  }
  ~GuardedBuffer() { munmap(base_, 2 * page_); }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  // `len` writable bytes ending exactly at the guard page.
  std::span<uint8_t> tail(size_t len) { return {base_ + page_ - len, len}; }

 private:
  size_t page_ = 0;
  uint8_t* base_ = nullptr;
};

// What a successful parse promises about its offsets: every recorded option lies inside the block.
void expectOffsetsInside(const TcpOptions& o, size_t size) {
  if (o.has_timestamps) {
    ASSERT_LE(size_t{o.ts_offset} + tcp_option::kTimestampsLen, size);
  }
  ASSERT_LE(o.sack_count, kMaxSackBlocks);
  if (o.sack_count > 0) {
    ASSERT_LE(size_t{o.sack_offset} + 2 + size_t{tcp_option::kSackBlockLen} * o.sack_count, size);
  }
}

// Every block of 0 to 3 bytes (all 16.8M of them) parses without reading past its end, and whatever
// it accepts has its offsets inside the block.
TEST(TcpOptionsFuzzTest, ExhaustiveUpToThreeBytes) {
  GuardedBuffer guard;
  TcpOptions o;
  for (size_t len = 0; len <= 3; ++len) {
    const std::span<uint8_t> buf = guard.tail(len);
    const uint64_t combinations = uint64_t{1} << (8 * len);
    for (uint64_t v = 0; v < combinations; ++v) {
      for (size_t i = 0; i < len; ++i) buf[i] = static_cast<uint8_t>(v >> (8 * i));
      if (parseTcpOptions(buf, o) == TcpOptionsError::kNone) expectOffsetsInside(o, len);
    }
  }
}

// Random blocks up to 40 bytes, built mostly from real kinds and plausible lengths so the parser goes
// deep: never a read past the end (guard page), offsets inside when accepted, and the result never
// depends on the bytes after the block.
TEST(TcpOptionsFuzzTest, RandomBlocksStayInBounds) {
  GuardedBuffer guard;
  std::mt19937_64 rng(5);
  constexpr uint8_t kKinds[] = {0, 1, 2, 3, 4, 5, 8, 30, 254, 255};
  constexpr uint8_t kLengths[] = {0, 1, 2, 3, 4, 6, 8, 10, 11, 18, 26, 34, 40, 41, 255};
  uint8_t with_trailer[kTcpOptionsMaxLen + 16];
  for (int iteration = 0; iteration < 2'000'000; ++iteration) {
    const size_t len = rng() % (kTcpOptionsMaxLen + 1);
    const std::span<uint8_t> buf = guard.tail(len);
    size_t i = 0;
    while (i < len) {
      const uint64_t r = rng();
      if (r % 4 == 0) {
        buf[i++] = static_cast<uint8_t>(r >> 8);  // any byte
      } else if (r % 4 == 1) {
        buf[i++] = kKinds[(r >> 8) % std::size(kKinds)];
      } else {
        buf[i++] = kKinds[(r >> 8) % std::size(kKinds)];
        if (i < len) buf[i++] = kLengths[(r >> 16) % std::size(kLengths)];
      }
    }
    TcpOptions o;
    const TcpOptionsError error = parseTcpOptions(buf, o);
    if (error == TcpOptionsError::kNone) expectOffsetsInside(o, len);

    // The same bytes followed by a random trailer give the same verdict and fields.
    std::memcpy(with_trailer, buf.data(), len);
    for (size_t t = len; t < sizeof(with_trailer); ++t) with_trailer[t] = static_cast<uint8_t>(rng());
    TcpOptions o2;
    ASSERT_EQ(parseTcpOptions(std::span<const uint8_t>(with_trailer, len), o2), error);
    if (error == TcpOptionsError::kNone) {
      ASSERT_EQ(o2.mss, o.mss);
      ASSERT_EQ(o2.window_scale, o.window_scale);
      ASSERT_EQ(o2.tsval, o.tsval);
      ASSERT_EQ(o2.tsecr, o.tsecr);
      ASSERT_EQ(o2.sack_count, o.sack_count);
      ASSERT_EQ(o2.sack, o.sack);
    }
  }
}

// --- Splice rewrites against full checksum recomputation.

struct Segment {
  alignas(8) uint8_t ip[20] = {};
  alignas(8) uint8_t tcp[kTcpHeaderMinLen + kTcpOptionsMaxLen + 64] = {};
  size_t options_len = 0;
  size_t tcp_len = 0;

  std::span<uint8_t> options() { return {tcp + kTcpHeaderMinLen, options_len}; }
  uint16_t check() const {
    uint16_t v;
    std::memcpy(&v, tcp + 16, 2);
    return v;
  }
  void setCheck(uint16_t v) { std::memcpy(tcp + 16, &v, 2); }
  uint32_t load32(size_t at) const {
    uint32_t v;
    std::memcpy(&v, tcp + at, 4);
    return v;
  }
  void store32(size_t at, uint32_t v) { std::memcpy(tcp + at, &v, 4); }
  uint16_t fullChecksum() {
    const uint16_t saved = check();
    setCheck(0);
    const uint16_t sum = rte_ipv4_udptcp_cksum(reinterpret_cast<rte_ipv4_hdr*>(ip), tcp);
    setCheck(saved);
    return sum;
  }
};

// A segment whose options are timestamps and 1-4 SACK blocks in random order, each behind 0-3 NOPs, so
// every field lands at odd and even offsets over the run; random addresses and an odd or even payload.
Segment randomSegment(std::mt19937_64& rng) {
  Segment s;
  for (uint8_t& b : s.ip) b = static_cast<uint8_t>(rng());
  for (uint8_t& b : s.tcp) b = static_cast<uint8_t>(rng());
  const bool timestamps = rng() % 4 != 0;
  const size_t blocks = 1 + rng() % (timestamps ? 3 : 4);
  Bytes opts;
  auto nops = [&](size_t room) {
    for (size_t n = rng() % 4; n > 0 && opts.size() < room; --n) opts.push_back(tcp_option::kNop);
  };
  auto addTimestamps = [&] {
    opts.insert(opts.end(), {tcp_option::kTimestamps, tcp_option::kTimestampsLen});
    for (int i = 0; i < 8; ++i) opts.push_back(static_cast<uint8_t>(rng()));
  };
  auto addSack = [&] {
    opts.insert(opts.end(), {tcp_option::kSack, static_cast<uint8_t>(2 + 8 * blocks)});
    for (size_t i = 0; i < 8 * blocks; ++i) opts.push_back(static_cast<uint8_t>(rng()));
  };
  const size_t needed = 2 + 8 * blocks + (timestamps ? 10 : 0);
  const bool ts_first = rng() % 2 == 0;
  nops(kTcpOptionsMaxLen - needed);
  if (timestamps && ts_first) addTimestamps();
  nops(kTcpOptionsMaxLen - needed);
  addSack();
  if (timestamps && !ts_first) {
    nops(kTcpOptionsMaxLen - 10);
    addTimestamps();
  }
  while (opts.size() % 4 != 0) opts.push_back(rng() % 2 ? tcp_option::kNop : tcp_option::kEol);
  s.options_len = opts.size();
  std::memcpy(s.tcp + kTcpHeaderMinLen, opts.data(), opts.size());
  s.tcp[12] = static_cast<uint8_t>(((kTcpHeaderMinLen + opts.size()) / 4) << 4);
  s.tcp_len = kTcpHeaderMinLen + opts.size() + rng() % 65;
  s.ip[0] = 0x45;
  s.ip[9] = IPPROTO_TCP;
  const uint16_t total = rte_cpu_to_be_16(static_cast<uint16_t>(20 + s.tcp_len));
  std::memcpy(s.ip + 2, &total, 2);
  s.setCheck(s.fullChecksum());
  return s;
}

// Translating SACK blocks and timestamps, together with the sequence and acknowledgement numbers a
// splice rewrites in the header, and folding all the deltas into the checksum once gives the checksum
// a full recomputation gives; the bytes re-parse to the translated values.
TEST(TcpOptionsSpliceTest, IncrementalChecksumEqualsFullRecomputation) {
  std::mt19937_64 rng(7);
  int odd_fields = 0;
  for (int iteration = 0; iteration < 100'000; ++iteration) {
    Segment s = randomSegment(rng);
    TcpOptions parsed;
    ASSERT_EQ(parseTcpOptions(s.options(), parsed), TcpOptionsError::kNone);
    ASSERT_GE(parsed.sack_count, 1);
    const TcpOptions before = parsed;
    odd_fields += (parsed.sack_offset % 2) + (parsed.has_timestamps ? parsed.ts_offset % 2 : 0);

    const uint32_t seq_offset = static_cast<uint32_t>(rng());
    const uint32_t ack_offset = static_cast<uint32_t>(rng());
    const uint32_t tsval_offset = static_cast<uint32_t>(rng());
    const uint32_t tsecr_offset = rng() % 2 ? 0 : static_cast<uint32_t>(rng());

    // Header: sequence and acknowledgement numbers (stored big-endian at 4 and 8).
    uint64_t delta = 0;
    for (const auto& [at, offset] : {std::pair<size_t, uint32_t>{4, seq_offset}, {8, ack_offset}}) {
      const uint32_t old_word = s.load32(at);
      const uint32_t new_word = rte_cpu_to_be_32(seqAdd(rte_be_to_cpu_32(old_word), offset));
      s.store32(at, new_word);
      delta += checksumDelta32(old_word, new_word);
    }
    delta += translateSackBlocks(s.options(), parsed, ack_offset);
    delta += translateTimestamps(s.options(), parsed, tsval_offset, tsecr_offset);
    s.setCheck(checksumApply(s.check(), delta));
    ASSERT_EQ(s.check(), s.fullChecksum()) << "iteration " << iteration;

    TcpOptions reparsed;
    ASSERT_EQ(parseTcpOptions(s.options(), reparsed), TcpOptionsError::kNone);
    for (size_t b = 0; b < before.sack_count; ++b) {
      const SackBlock want{before.sack[b].left + ack_offset, before.sack[b].right + ack_offset};
      ASSERT_EQ(reparsed.sack[b], want);
      ASSERT_EQ(parsed.sack[b], want);  // `parsed` kept in step with the bytes
    }
    if (before.has_timestamps) {
      ASSERT_EQ(reparsed.tsval, before.tsval + tsval_offset);
      ASSERT_EQ(reparsed.tsecr, before.tsecr + tsecr_offset);
      ASSERT_EQ(parsed.tsval, reparsed.tsval);
    }
  }
  EXPECT_GT(odd_fields, 10'000);  // the odd-offset path was exercised, not just the aligned one
}

// Setting timestamps outright (what a splice does to the first segment it forwards) is exact too, and
// a segment without timestamps is left alone with a zero delta.
TEST(TcpOptionsSpliceTest, RewriteTimestamps) {
  std::mt19937_64 rng(8);
  for (int iteration = 0; iteration < 10'000; ++iteration) {
    Segment s = randomSegment(rng);
    TcpOptions parsed;
    ASSERT_EQ(parseTcpOptions(s.options(), parsed), TcpOptionsError::kNone);
    const uint32_t tsval = static_cast<uint32_t>(rng());
    const uint32_t tsecr = static_cast<uint32_t>(rng());
    const uint64_t delta = rewriteTimestamps(s.options(), parsed, tsval, tsecr);
    if (!parsed.has_timestamps) {
      ASSERT_EQ(delta, 0u);
      continue;
    }
    s.setCheck(checksumApply(s.check(), delta));
    ASSERT_EQ(s.check(), s.fullChecksum());
    TcpOptions reparsed;
    ASSERT_EQ(parseTcpOptions(s.options(), reparsed), TcpOptionsError::kNone);
    ASSERT_EQ(reparsed.tsval, tsval);
    ASSERT_EQ(reparsed.tsecr, tsecr);
  }
}

// storeBe32WithDelta alone, at every offset 0..36 of a 40-byte area: exact at both parities.
TEST(TcpOptionsSpliceTest, StoreAtEveryOffset) {
  std::mt19937_64 rng(9);
  for (size_t at = 0; at + 4 <= kTcpOptionsMaxLen; ++at) {
    for (int iteration = 0; iteration < 2000; ++iteration) {
      Segment s;
      for (uint8_t& b : s.ip) b = static_cast<uint8_t>(rng());
      for (uint8_t& b : s.tcp) b = static_cast<uint8_t>(rng());
      s.options_len = kTcpOptionsMaxLen;
      s.tcp[12] = 15 << 4;
      s.tcp_len = sizeof(s.tcp) - rng() % 8;
      s.ip[0] = 0x45;
      const uint16_t total = rte_cpu_to_be_16(static_cast<uint16_t>(20 + s.tcp_len));
      std::memcpy(s.ip + 2, &total, 2);
      s.setCheck(s.fullChecksum());
      const uint64_t delta = storeBe32WithDelta(s.options(), at, static_cast<uint32_t>(rng()));
      s.setCheck(checksumApply(s.check(), delta));
      ASSERT_EQ(s.check(), s.fullChecksum()) << "offset " << at;
    }
  }
}

}  // namespace
}  // namespace lb::dataplane
