// Incremental Internet checksum update (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')).
//
// NAT and DSR rewrites change a few 16/32-bit fields; recomputing the whole checksum would touch the
// payload. The one's-complement sum is byte-order independent (RFC 1071), so fields are passed exactly
// as stored in the packet (network order) and the result is stored back as is.
#pragma once

#include <cstdint>

namespace lb::dataplane {

inline uint16_t checksumFold(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

inline uint16_t checksumReplace16(uint16_t check, uint16_t old_value, uint16_t new_value) {
  const uint32_t sum = uint32_t{static_cast<uint16_t>(~check)} +
                       uint32_t{static_cast<uint16_t>(~old_value)} + new_value;
  return static_cast<uint16_t>(~checksumFold(sum));
}

inline uint16_t checksumReplace32(uint16_t check, uint32_t old_value, uint32_t new_value) {
  const uint32_t sum = uint32_t{static_cast<uint16_t>(~check)} +
                       uint32_t{static_cast<uint16_t>(~(old_value >> 16))} +
                       uint32_t{static_cast<uint16_t>(~(old_value & 0xffff))} +
                       (new_value >> 16) + (new_value & 0xffff);
  return static_cast<uint16_t>(~checksumFold(sum));
}

// UDP's zero checksum means "none" (RFC 768): keep it, and never produce zero from a real sum.
inline uint16_t udpChecksumReplace32(uint16_t check, uint32_t old_value, uint32_t new_value) {
  if (check == 0) return 0;
  const uint16_t updated = checksumReplace32(check, old_value, new_value);
  return updated == 0 ? 0xffff : updated;
}

inline uint16_t udpChecksumReplace16(uint16_t check, uint16_t old_value, uint16_t new_value) {
  if (check == 0) return 0;
  const uint16_t updated = checksumReplace16(check, old_value, new_value);
  return updated == 0 ? 0xffff : updated;
}

}  // namespace lb::dataplane

namespace lb::dataplane {

// Several fields changing at once: accumulate (~old + new) for every changed field and fold once.
// Whole 32-bit words can be summed in a 64-bit accumulator: 2^16 = 1 modulo 2^16-1, so a 32-bit word
// counts as the sum of its halves and the carries fold back in at the end (RFC 1071 section 2).
inline uint64_t checksumDelta32(uint32_t old_value, uint32_t new_value) {
  return uint64_t{~old_value} + new_value;
}

inline uint16_t checksumApply(uint16_t check, uint64_t delta) {
  uint64_t sum = uint64_t{static_cast<uint16_t>(~check)} + delta;
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  return static_cast<uint16_t>(~checksumFold(static_cast<uint32_t>(sum)));
}

// A delta that is the same for every packet of a flow (the rewritten fields' old and new values are
// both fixed per flow) folds once to 16 bits when the flow is set up...
inline uint16_t checksumDeltaFold(uint64_t delta) {
  delta = (delta & 0xffffffff) + (delta >> 32);
  delta = (delta & 0xffffffff) + (delta >> 32);
  return checksumFold(static_cast<uint32_t>(delta));
}

// ... and is then applied per packet. Same result as checksumApply with the unfolded delta: both
// sums are congruent modulo 0xffff and non-zero.
// Eqn. 3, ~(~HC + D) with an end-around carry, is HC - D with the borrow taken back (sub, sbb): two
// instructions instead of four (two NOTs). The two agree for all 2^32 pairs, including the results
// 0x0000 and 0xffff that RFC 1624 is about (ChecksumTest.FoldedDeltaIsEquationThree).
inline uint16_t checksumApplyFolded(uint16_t check, uint16_t folded_delta) {
  uint16_t difference;
  const bool borrow = __builtin_sub_overflow(check, folded_delta, &difference);
  return static_cast<uint16_t>(difference - borrow);
}

}  // namespace lb::dataplane
