// Properties of plain modulo hashing (hashing/modulo.h): exact mapping hash mod n over a weight-
// expanded slot list, validation, and golden assignments. The weakness it is kept to demonstrate
// (nearly every key moves when one backend comes or goes) is tested with the other algorithms in
// selector_test.cc.
#include "hashing/modulo.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/hashing/test_support.h"

namespace lb::hashing {
namespace {

using ::testing::HasSubstr;
using testing::makeBackends;
using testing::sampleHashes;

ModuloTable buildOrDie(const std::vector<WeightedBackend>& backends) {
  auto table = ModuloTable::build(backends);
  EXPECT_TRUE(table.ok()) << table.status();
  return *std::move(table);
}

// Unweighted: the backend is hash mod n, in id order.
TEST(ModuloTableTest, LookupIsHashModN) {
  const std::vector<WeightedBackend> backends = {{.id = 30}, {.id = 10}, {.id = 20}};
  const ModuloTable table = buildOrDie(backends);
  ASSERT_EQ(table.backends()[0].id, 10u);
  for (uint64_t h : sampleHashes(1000)) EXPECT_EQ(table.lookup(h), h % 3);
}

// Weights w_i repeat backend i w_i/gcd times, in id order: weights 2, 4, 6 -> slots 0 1 1 2 2 2.
TEST(ModuloTableTest, WeightsRepeatSlotsByGcd) {
  const std::vector<WeightedBackend> backends = {
      {.id = 1, .weight = 2}, {.id = 2, .weight = 4}, {.id = 3, .weight = 6}, {.id = 4, .weight = 0}};
  const ModuloTable table = buildOrDie(backends);
  const std::vector<BackendIndex> expected = {0, 1, 1, 2, 2, 2};
  for (uint64_t h = 0; h < 60; ++h) EXPECT_EQ(table.lookup(h), expected[h % 6]) << h;
}

// Each backend's share of the hash space is its weight's share of the total.
TEST(ModuloTableTest, HashSpaceShareFollowsWeights) {
  const ModuloTable table = buildOrDie({{.id = 1, .weight = 1}, {.id = 2, .weight = 3}});
  EXPECT_EQ(table.hashSpaceShare(), (std::vector<double>{0.25, 0.75}));
}

// With no backend able to take keys (empty set, all weights 0) every lookup is kNoBackend.
TEST(ModuloTableTest, NoBackendWhenNothingCanTakeKeys) {
  const ModuloTable empty = buildOrDie({});
  const ModuloTable drained = buildOrDie({{.id = 1, .weight = 0}, {.id = 2, .weight = 0}});
  for (uint64_t h : sampleHashes(100)) {
    EXPECT_EQ(empty.lookup(h), kNoBackend);
    EXPECT_EQ(drained.lookup(h), kNoBackend);
  }
}

// Weights whose expansion exceeds the slot limit, duplicate ids and oversized sets are refused.
TEST(ModuloTableTest, InvalidParametersRejected) {
  const auto huge = ModuloTable::build(
      std::vector<WeightedBackend>{{.id = 1, .weight = 1}, {.id = 2, .weight = 1u << 21}});
  ASSERT_FALSE(huge.ok());
  EXPECT_THAT(std::string(huge.status().message()), HasSubstr("2097153 slots"));

  const auto duplicate = ModuloTable::build(std::vector<WeightedBackend>{{.id = 8}, {.id = 8}});
  ASSERT_FALSE(duplicate.ok());
  EXPECT_THAT(std::string(duplicate.status().message()), HasSubstr("duplicate backend id 8"));

  const auto too_many = ModuloTable::build(makeBackends(kMaxBackends + 1));
  ASSERT_FALSE(too_many.ok());
  EXPECT_THAT(std::string(too_many.status().message()), HasSubstr("65536"));
}

// Golden assignments for ten backends: a change remaps clients across an upgrade.
TEST(ModuloGoldenTest, AssignmentsAreStable) {
  std::vector<WeightedBackend> backends;
  for (uint64_t i = 1; i <= 10; ++i) backends.push_back({.id = ((0x0a000000ULL + i) << 16) | 80});
  const ModuloTable table = buildOrDie(backends);
  EXPECT_EQ(table.lookup(0), 0);
  EXPECT_EQ(table.lookup(uint64_t{1} << 63), 8);
  EXPECT_EQ(table.lookup(~uint64_t{0}), 5);
  EXPECT_EQ(table.lookup(0x86d6bb4fc4056063ULL), 5);
}

}  // namespace
}  // namespace lb::hashing
