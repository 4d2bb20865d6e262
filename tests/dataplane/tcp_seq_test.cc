// Sequence-number arithmetic (dataplane/tcp_seq.h, RFC 1982 with SERIAL_BITS = 32): every comparison
// agrees with exact 64-bit arithmetic on the unwrapped values whenever they are less than 2^31 apart,
// including every case that crosses 2^32. Random values are drawn near the wrap on purpose.
#include "dataplane/tcp_seq.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>

namespace lb::dataplane {
namespace {

constexpr int kIterations = 1'000'000;
constexpr int64_t kHalf = int64_t{1} << 31;

// A 64-bit "unwrapped" sequence number that is often within a few thousand of a 2^32 boundary.
int64_t randomUnwrapped(std::mt19937_64& rng) {
  const int64_t wraps = static_cast<int64_t>(rng() % 4) << 32;
  if (rng() % 2 == 0) return wraps + static_cast<int64_t>(rng() % (int64_t{1} << 32));
  return wraps + (int64_t{1} << 32) + static_cast<int64_t>(rng() % 8192) - 4096;
}

// A signed distance in (-2^31, 2^31), often small, sometimes near either limit.
int64_t randomDistance(std::mt19937_64& rng) {
  switch (rng() % 3) {
    case 0: return static_cast<int64_t>(rng() % 4096) - 2048;
    case 1: return static_cast<int64_t>(rng() % (2 * kHalf - 1)) - (kHalf - 1);
    default: {
      const int64_t near_limit = kHalf - 1 - static_cast<int64_t>(rng() % 16);
      return rng() % 2 ? near_limit : -near_limit;
    }
  }
}

uint32_t wrap(int64_t unwrapped) { return static_cast<uint32_t>(unwrapped); }

// Less, less-or-equal, greater, greater-or-equal all match the unwrapped comparison for distances
// below 2^31, and each pair is consistent (seqLt(a, b) == seqGt(b, a), exactly one of <, ==, > holds).
TEST(TcpSeqTest, ComparisonsMatchUnwrappedArithmetic) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < kIterations; ++i) {
    const int64_t a64 = randomUnwrapped(rng);
    const int64_t b64 = a64 + randomDistance(rng);
    const uint32_t a = wrap(a64);
    const uint32_t b = wrap(b64);
    ASSERT_EQ(seqLt(a, b), a64 < b64) << a << " " << b;
    ASSERT_EQ(seqLeq(a, b), a64 <= b64) << a << " " << b;
    ASSERT_EQ(seqGt(a, b), a64 > b64) << a << " " << b;
    ASSERT_EQ(seqGeq(a, b), a64 >= b64) << a << " " << b;
    ASSERT_EQ(seqLt(a, b), seqGt(b, a));
    ASSERT_EQ(int{seqLt(a, b)} + int{a == b} + int{seqGt(a, b)}, 1);
    ASSERT_EQ(seqDistance(a, b), b64 - a64);
    ASSERT_EQ(seqMax(a, b), wrap(std::max(a64, b64)));
    ASSERT_EQ(seqMin(a, b), wrap(std::min(a64, b64)));
  }
}

// Exactly at 2^31 apart the order is undefined by RFC 1982; we pin Linux's answer (both "before") so a
// change in behaviour is deliberate.
TEST(TcpSeqTest, HalfCircleApartIsBeforeBothWays) {
  for (const uint32_t a : {0u, 1u, 0x7fffffffu, 0x80000000u, 0xffffffffu}) {
    const uint32_t b = a + 0x80000000u;
    EXPECT_TRUE(seqLt(a, b));
    EXPECT_TRUE(seqLt(b, a));
  }
}

// The boundary cases by hand: 2^32 - 1 is one before 0.
TEST(TcpSeqTest, WrapBoundary) {
  EXPECT_TRUE(seqLt(0xffffffffu, 0u));
  EXPECT_TRUE(seqGt(0u, 0xffffffffu));
  EXPECT_TRUE(seqLeq(5u, 5u));
  EXPECT_TRUE(seqGeq(5u, 5u));
  EXPECT_FALSE(seqLt(5u, 5u));
  EXPECT_EQ(seqDistance(0xfffffff0u, 0x10u), 0x20);
  EXPECT_EQ(seqAdd(0xffffffffu, 1u), 0u);
  EXPECT_EQ(seqAdd(0u, 0xffffffffu), 0xffffffffu);  // an offset of -1
}

// seqBetween(low, x, high) is "x lies on the forward arc from low to high", for arcs of any length
// (including > 2^31, where two comparisons would be wrong), across the wrap.
TEST(TcpSeqTest, BetweenMatchesUnwrappedArc) {
  std::mt19937_64 rng(2);
  for (int i = 0; i < kIterations; ++i) {
    const int64_t low64 = randomUnwrapped(rng);
    const int64_t arc = static_cast<int64_t>(rng() % (int64_t{1} << 32));  // [0, 2^32)
    const int64_t x_off = rng() % 2 ? static_cast<int64_t>(rng() % (arc + 1))         // inside
                                    : static_cast<int64_t>(rng() % (int64_t{1} << 32));  // anywhere
    const bool inside = x_off <= arc;
    ASSERT_EQ(seqBetween(wrap(low64), wrap(low64 + x_off), wrap(low64 + arc)), inside)
        << low64 << " " << x_off << " " << arc;
    ASSERT_EQ(seqInWindow(wrap(low64 + x_off), wrap(low64), static_cast<uint32_t>(arc)),
              x_off < arc);
  }
}

// An offset computed between two sequence spaces maps one onto the other and back, whatever the
// spaces and wherever the wrap falls; applying it preserves order within a window.
TEST(TcpSeqTest, OffsetRoundTripAcrossWrap) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < kIterations; ++i) {
    const uint32_t from_isn = static_cast<uint32_t>(rng());
    const uint32_t to_isn = static_cast<uint32_t>(rng());
    const uint32_t forward = seqOffset(from_isn, to_isn);
    const uint32_t backward = seqOffset(to_isn, from_isn);
    ASSERT_EQ(seqAdd(from_isn, forward), to_isn);
    ASSERT_EQ(seqAdd(to_isn, backward), from_isn);
    ASSERT_EQ(forward + backward, 0u);
    const uint32_t a = from_isn + static_cast<uint32_t>(rng() % 100000);
    const uint32_t b = a + static_cast<uint32_t>(randomDistance(rng));
    ASSERT_EQ(seqLt(a, b), seqLt(seqAdd(a, forward), seqAdd(b, forward)));
    ASSERT_EQ(seqAdd(seqAdd(a, forward), backward), a);
  }
}

// All of it is usable in constant expressions (the header's static_asserts compile; these too).
TEST(TcpSeqTest, Constexpr) {
  static_assert(seqLt(1u, 2u) && seqLeq(2u, 2u) && seqGt(3u, 2u) && seqGeq(3u, 3u));
  static_assert(seqBetween(0xfffffffeu, 0xffffffffu, 1u));
  static_assert(seqInWindow(1u, 0xffffffffu, 3u) && !seqInWindow(2u, 0xffffffffu, 3u));
  static_assert(seqMax(0xffffffffu, 1u) == 1u && seqMin(0xffffffffu, 1u) == 0xffffffffu);
  SUCCEED();
}

}  // namespace
}  // namespace lb::dataplane
