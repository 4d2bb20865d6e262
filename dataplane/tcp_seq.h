// TCP sequence-number arithmetic: comparisons and offsets modulo 2^32.
//
// Sequence numbers, acknowledgement numbers, SACK edges and timestamps all live on a 32-bit circle
// (RFC 9293 section 3.4, RFC 7323 section 5.2 for timestamps), so `a < b` on the raw integers is
// wrong as soon as a connection crosses 2^32. These follow RFC 1982 serial-number arithmetic with
// SERIAL_BITS = 32: `a` is before `b` when the signed 32-bit distance b - a is positive, i.e. `b` lies
// less than 2^31 ahead of `a`. Linux's before()/after()/between() in include/net/tcp.h are the same
// rule.
//
// Use them for anything compared on the sequence circle: window checks, SACK edges, splice offsets.
// Splicing (issue 5) keeps one 32-bit offset per direction; seqAdd applies it and seqOffset computes
// it, both wrapping by definition (unsigned arithmetic), never by a branch.
//
// RFC 1982 leaves the comparison of two numbers exactly 2^31 apart undefined. Here the signed
// distance is INT32_MIN, which is negative both ways, so seqLt(a, b) and seqLt(b, a) are both true
// (as in Linux); callers never compare values that far apart (a TCP window is at most 2^30).
#pragma once

#include <cstdint>

namespace lb::dataplane {

// Signed distance from `from` to `to` on the circle: positive when `to` is ahead.
constexpr int32_t seqDistance(uint32_t from, uint32_t to) {
  return static_cast<int32_t>(to - from);  // two's complement conversion is defined since C++20
}

constexpr bool seqLt(uint32_t a, uint32_t b) { return seqDistance(b, a) < 0; }
constexpr bool seqLeq(uint32_t a, uint32_t b) { return seqDistance(b, a) <= 0; }
constexpr bool seqGt(uint32_t a, uint32_t b) { return seqDistance(b, a) > 0; }
constexpr bool seqGeq(uint32_t a, uint32_t b) { return seqDistance(b, a) >= 0; }

// low <= x <= high on the circle, where [low, high] is the arc going forward from `low`. Unlike two
// comparisons this is exact for arcs of any length below 2^32 (Linux's between()).
constexpr bool seqBetween(uint32_t low, uint32_t x, uint32_t high) { return x - low <= high - low; }

// start <= x < start + length: "is x inside this window" for a window of `length` octets.
constexpr bool seqInWindow(uint32_t x, uint32_t start, uint32_t length) { return x - start < length; }

// The later / earlier of two sequence numbers.
constexpr uint32_t seqMax(uint32_t a, uint32_t b) { return seqGt(a, b) ? a : b; }
constexpr uint32_t seqMin(uint32_t a, uint32_t b) { return seqLt(a, b) ? a : b; }

// seq + offset modulo 2^32. An offset is the unsigned difference between two sequence spaces (e.g.
// backend ISN minus cookie ISN); a negative offset is its two's complement, so one add serves both
// directions of a splice.
constexpr uint32_t seqAdd(uint32_t seq, uint32_t offset) { return seq + offset; }

// The offset that maps `from` onto `to`: seqAdd(from, seqOffset(from, to)) == to, and
// seqAdd(to, seqOffset(to, from)) == from.
constexpr uint32_t seqOffset(uint32_t from, uint32_t to) { return to - from; }

static_assert(seqLt(0xffffffffu, 0u) && seqGt(0u, 0xffffffffu), "wraparound: 2^32-1 is before 0");
static_assert(seqBetween(0xfffffff0u, 5u, 0x10u) && !seqBetween(0x10u, 5u, 0xfffffff0u));
static_assert(seqAdd(0xfffffffeu, seqOffset(0xfffffffeu, 3u)) == 3u);

}  // namespace lb::dataplane
