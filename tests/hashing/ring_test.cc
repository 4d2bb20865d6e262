// Properties of the consistent-hash ring (hashing/ring.h; Karger et al. 1997, ketama): lookup is
// "first point clockwise", points follow weights, balance needs many points, only keys of the changed
// backends move, and golden assignments stay fixed across releases.
#include "hashing/ring.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "hashing/key_hash.h"
#include "tests/hashing/test_support.h"

namespace lb::hashing {
namespace {

using ::testing::HasSubstr;
using testing::changeBackends;
using testing::makeBackends;
using testing::ownerId;
using testing::sampleHashes;

RingTable buildOrDie(const std::vector<WeightedBackend>& backends, uint32_t vnodes,
                     uint64_t seed = 42) {
  auto ring = RingTable::build(backends, vnodes, seed);
  EXPECT_TRUE(ring.ok()) << ring.status();
  return *std::move(ring);
}

// The ring as ring.h documents it: backend i (in id order) places points hash({id, v}) for
// v < vnodes (equal weights), and a key belongs to the first point at or after its hash, wrapping
// around to the lowest point.
BackendIndex documentedOwner(const std::vector<WeightedBackend>& sorted, uint32_t vnodes,
                             uint64_t seed, uint64_t key_hash) {
  std::vector<std::pair<uint64_t, BackendIndex>> points;
  for (size_t i = 0; i < sorted.size(); ++i) {
    for (uint64_t v = 0; v < vnodes; ++v) {
      const uint64_t image[2] = {sorted[i].id, v};
      points.emplace_back(XXH3_64bits_withSeed(image, sizeof(image), seed),
                          static_cast<BackendIndex>(i));
    }
  }
  std::sort(points.begin(), points.end());
  for (const auto& [h, owner] : points) {
    if (h >= key_hash) return owner;
  }
  return points.front().second;
}

// Every lookup returns the owner of the first point clockwise from the key, including keys past the
// highest point (they wrap to the lowest).
TEST(RingTableTest, LookupIsFirstPointClockwise) {
  const auto backends = makeBackends(5);
  const RingTable ring = buildOrDie(backends, 3);
  ASSERT_EQ(ring.points(), 15u);
  auto hashes = sampleHashes(2000);
  hashes.push_back(0);
  hashes.push_back(~uint64_t{0});
  for (uint64_t h : hashes) {
    EXPECT_EQ(ring.lookup(h), documentedOwner(ring.backends(), 3, 42, h)) << h;
  }
}

struct PointsCase {
  std::vector<uint32_t> weights;
  uint32_t vnodes;
  uint32_t expected_points;
};

class RingPointsTest : public ::testing::TestWithParam<PointsCase> {};

// Points per backend are round(vnodes * n * weight / total weight), at least one for any weight > 0
// and none for weight 0.
TEST_P(RingPointsTest, PointsFollowWeights) {
  auto backends = makeBackends(GetParam().weights.size());
  for (size_t i = 0; i < backends.size(); ++i) backends[i].weight = GetParam().weights[i];
  EXPECT_EQ(buildOrDie(backends, GetParam().vnodes).points(), GetParam().expected_points);
}

INSTANTIATE_TEST_SUITE_P(Weights, RingPointsTest,
                         ::testing::Values(PointsCase{{1, 1, 1, 1}, 160, 640},
                                           PointsCase{{1, 3}, 100, 50 + 150},
                                           PointsCase{{1, 0, 1}, 10, 15 + 0 + 15},
                                           PointsCase{{1, 1000000}, 1, 1 + 2},
                                           PointsCase{{0xffffffffu, 0xffffffffu}, 1000, 2000}));

// hashSpaceShare() is each backend's exact arc: the shares sum to 1 and match the share of sampled
// keys; a single point owns the whole circle.
TEST(RingTableTest, HashSpaceShareIsArcLength) {
  const RingTable ring = buildOrDie(makeBackends(20), 5);
  const auto shares = ring.hashSpaceShare();
  double total = 0;
  for (double share : shares) total += share;
  EXPECT_NEAR(total, 1.0, 1e-9);
  const auto hashes = sampleHashes(400000);
  std::vector<double> sampled(shares.size(), 0.0);
  for (uint64_t h : hashes) sampled[ring.lookup(h)] += 1.0 / static_cast<double>(hashes.size());
  for (size_t i = 0; i < shares.size(); ++i) EXPECT_NEAR(sampled[i], shares[i], 0.003) << i;

  EXPECT_EQ(buildOrDie(makeBackends(1), 1).hashSpaceShare(), std::vector<double>{1.0});
}

// A weight-0 backend owns no key; with no backend able to take keys every lookup is kNoBackend.
TEST(RingTableTest, WeightZeroAndEmptySets) {
  auto backends = makeBackends(3);
  backends[1].weight = 0;
  const RingTable ring = buildOrDie(backends, 50);
  for (uint64_t h : sampleHashes(5000)) EXPECT_NE(ownerId(ring, h), backends[1].id);

  for (auto& b : backends) b.weight = 0;
  const RingTable all_zero = buildOrDie(backends, 50);
  const RingTable empty = buildOrDie({}, 50);
  for (uint64_t h : sampleHashes(100)) {
    EXPECT_EQ(all_zero.lookup(h), kNoBackend);
    EXPECT_EQ(empty.lookup(h), kNoBackend);
  }
}

// Balance needs many points: with 1000 points per backend the busiest of 100 backends gets under
// 1.2x the mean share of 1M keys, with 10 points it gets over 1.3x (the ring's weakness that Maglev
// avoids; bench/eval/maglev_eval.cc measures it in full).
TEST(RingTableTest, BalanceImprovesWithPoints) {
  const auto backends = makeBackends(100);
  const auto hashes = sampleHashes(1000000);
  auto over_provision = [&](uint32_t vnodes) {
    const RingTable ring = buildOrDie(backends, vnodes);
    std::vector<uint32_t> load(backends.size(), 0);
    for (uint64_t h : hashes) ++load[ring.lookup(h)];
    const double mean = static_cast<double>(hashes.size()) / static_cast<double>(load.size());
    return *std::max_element(load.begin(), load.end()) / mean;
  };
  EXPECT_LT(over_provision(1000), 1.2);
  EXPECT_GT(over_provision(10), 1.3);
}

class RingDisruptionTest : public ::testing::TestWithParam<std::pair<double, bool>> {};

// Only keys of removed backends move on removal, and only keys taken by added backends move on
// addition, so the moved fraction is the minimum up to the changed backends' share.
TEST_P(RingDisruptionTest, OnlyKeysOfChangedBackendsMove) {
  const auto [fraction, add] = GetParam();
  const auto change = changeBackends(1000, fraction, add);
  const std::set<uint64_t> changed_ids(change.changed_ids.begin(), change.changed_ids.end());
  const RingTable before = buildOrDie(change.before, RingTable::kDefaultVnodes);
  const RingTable after = buildOrDie(change.after, RingTable::kDefaultVnodes);
  const auto hashes = sampleHashes(200000);
  size_t moved = 0;
  for (uint64_t h : hashes) {
    const uint64_t from = ownerId(before, h), to = ownerId(after, h);
    if (from == to) continue;
    ++moved;
    EXPECT_TRUE(changed_ids.contains(add ? to : from)) << "key " << h << " moved between survivors";
  }
  EXPECT_LE(static_cast<double>(moved) / static_cast<double>(hashes.size()),
            1.25 * change.minimum_moved);
}

INSTANTIATE_TEST_SUITE_P(Changes, RingDisruptionTest,
                         ::testing::Values(std::pair{0.01, false}, std::pair{0.01, true},
                                           std::pair{0.10, false}, std::pair{0.10, true}),
                         [](const auto& info) {
                           return absl::StrCat(info.param.second ? "add" : "remove",
                                               static_cast<int>(info.param.first * 100), "pct");
                         });

// The ring depends on the set of backends, not the order they are listed in.
TEST(RingTableTest, IndependentOfInsertionOrder) {
  auto backends = makeBackends(50);
  const RingTable reference = buildOrDie(backends, 100);
  std::shuffle(backends.begin(), backends.end(), std::mt19937_64(5));
  const RingTable shuffled = buildOrDie(backends, 100);
  for (uint64_t h : sampleHashes(10000)) EXPECT_EQ(shuffled.lookup(h), reference.lookup(h));
}

// Bad parameters are refused with InvalidArgument and a message naming the problem.
TEST(RingTableTest, InvalidParametersRejected) {
  const auto zero_vnodes = RingTable::build(makeBackends(3), 0, 0);
  ASSERT_FALSE(zero_vnodes.ok());
  EXPECT_THAT(std::string(zero_vnodes.status().message()), HasSubstr("vnodes"));

  // 4 backends x 2^31 points: far beyond the 2^26-point limit (and beyond 64-bit intermediate math).
  std::vector<WeightedBackend> heavy = makeBackends(4);
  for (auto& b : heavy) b.weight = 0xffffffffu;
  const auto too_many_points = RingTable::build(heavy, 1u << 31, 0);
  ASSERT_FALSE(too_many_points.ok());
  EXPECT_THAT(std::string(too_many_points.status().message()), HasSubstr("points"));

  const auto duplicate = RingTable::build(std::vector<WeightedBackend>{{.id = 4}, {.id = 4}}, 10, 0);
  ASSERT_FALSE(duplicate.ok());
  EXPECT_THAT(std::string(duplicate.status().message()), HasSubstr("duplicate backend id 4"));

  const auto too_many_backends = RingTable::build(makeBackends(kMaxBackends + 1), 1, 0);
  ASSERT_FALSE(too_many_backends.ok());
  EXPECT_THAT(std::string(too_many_backends.status().message()), HasSubstr("65536"));
}

// Golden assignments: ten backends (10.0.0.1..10:80 ids), 160 vnodes, seed 42. A change here remaps
// clients across an upgrade.
TEST(RingGoldenTest, FirstAssignmentsAreStable) {
  std::vector<WeightedBackend> backends;
  for (uint64_t i = 1; i <= 10; ++i) backends.push_back({.id = ((0x0a000000ULL + i) << 16) | 80});
  const RingTable ring = buildOrDie(backends, 160, 42);
  EXPECT_EQ(ring.points(), 1600u);
  const std::vector<std::pair<uint64_t, BackendIndex>> golden = {
      {0, 0},
      {uint64_t{1} << 63, 5},
      {~uint64_t{0}, 0},
      {0x0123456789abcdefULL, 6},
      {0xfedcba9876543210ULL, 1},
      {0x86d6bb4fc4056063ULL, 9},  // hashFlow of key_hash_test's golden IPv4 flow, seed 42
  };
  for (const auto& [hash, owner] : golden) EXPECT_EQ(ring.lookup(hash), owner) << hash;
}

}  // namespace
}  // namespace lb::hashing
