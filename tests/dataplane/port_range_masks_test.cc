// portRangeMasks (dataplane/port_range_masks.h): the value/mask blocks reply steering installs per lcore.
#include "dataplane/port_range_masks.h"

#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "dataplane/local_port_pool.h"

namespace lb::dataplane {
namespace {

// Every port in [first, last] matches exactly one block; every other port matches none.
void expectExactCover(uint16_t first, uint16_t last) {
  const std::vector<PortMask> blocks = portRangeMasks(first, last);
  for (uint32_t port = 0; port <= 0xffff; ++port) {
    int matches = 0;
    for (const PortMask& b : blocks) matches += (port & b.mask) == b.value;
    const bool inside = port >= first && port <= last;
    ASSERT_EQ(matches, inside ? 1 : 0) << "range [" << first << ", " << last << "] port " << port;
  }
  // The minimal expansion of a 16-bit range never needs more than 2 * 16 - 2 blocks.
  EXPECT_LE(blocks.size(), 30u) << first << ".." << last;
}

TEST(PortRangeMasksTest, ExactCoverOfAwkwardRanges) {
  const std::vector<std::pair<uint16_t, uint16_t>> ranges = {
      {0, 65535}, {1, 65534}, {10000, 10000}, {1024, 2047}, {1025, 2046}, {49152, 65535}, {3, 4}, {0, 0},
      {65535, 65535}, {32767, 32768}};
  for (auto [first, last] : ranges) expectExactCover(first, last);
}

TEST(PortRangeMasksTest, AlignedPowerOfTwoRangeIsOneBlock) {
  EXPECT_EQ(portRangeMasks(0x8000, 0xffff), (std::vector<PortMask>{{0x8000, 0x8000}}));
  EXPECT_EQ(portRangeMasks(0, 0xffff), (std::vector<PortMask>{{0, 0}}));
  EXPECT_EQ(portRangeMasks(4096, 4096 + 255), (std::vector<PortMask>{{4096, 0xff00}}));
}

TEST(PortRangeMasksTest, EmptyWhenReversed) { EXPECT_TRUE(portRangeMasks(10, 9).empty()); }

// The ranges tetherd actually steers: each worker's share of the full-NAT local ports.
TEST(PortRangeMasksTest, CoversEachWorkersLocalPorts) {
  for (uint16_t workers : {1, 2, 3, 7}) {
    const LocalPortPartition partition{10000, 60999, workers};
    for (uint16_t w = 0; w < workers; ++w) expectExactCover(partition.firstFor(w), partition.lastFor(w));
  }
}

}  // namespace
}  // namespace lb::dataplane
