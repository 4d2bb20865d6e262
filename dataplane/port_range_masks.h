// Splits a contiguous range of 16-bit port numbers into value/mask pairs, the only way a flow rule
// (rte_flow's TCP/UDP items, like TCAM-based NIC classifiers generally) can match a range.
//
// Used to steer full-NAT replies to the lcore that owns their local port (reply_steering.h): each
// lcore's ports are one contiguous range, and the smallest exact cover of a range [first, last] by
// aligned power-of-two blocks has at most 2 * 16 - 2 blocks (the classic range-to-prefix expansion
// of packet classification, e.g. Srinivasan et al., "Fast and Scalable Layer Four Switching",
// SIGCOMM 1998).
#pragma once

#include <cstdint>
#include <vector>

namespace lb::dataplane {

struct PortMask {
  uint16_t value = 0;  // port & mask == value
  uint16_t mask = 0;
  friend bool operator==(const PortMask&, const PortMask&) = default;
};

// The aligned blocks covering exactly [first, last], largest first from `first` upwards; empty when
// first > last. Every port in the range matches exactly one block and no port outside matches any.
inline std::vector<PortMask> portRangeMasks(uint16_t first, uint16_t last) {
  std::vector<PortMask> blocks;
  uint32_t low = first;
  const uint32_t high = last;
  while (low <= high) {
    // The largest block that starts at `low` (aligned) and does not pass `high`.
    uint32_t size = low == 0 ? uint32_t{1} << 16 : low & (~low + 1);
    while (low + size - 1 > high) size >>= 1;
    blocks.push_back({static_cast<uint16_t>(low), static_cast<uint16_t>(~(size - 1) & 0xffff)});
    low += size;
  }
  return blocks;
}

}  // namespace lb::dataplane
