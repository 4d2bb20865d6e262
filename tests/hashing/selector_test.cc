// Properties shared by all three backend selectors through the AnySelector interface
// (hashing/selector.h): building the requested table, naming algorithms, order independence, and the
// disruption each algorithm causes when backends come and go (Maglev and ring near the minimum,
// modulo moving almost everything).
#include "hashing/selector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/hashing/test_support.h"

namespace lb::hashing {
namespace {

using ::testing::HasSubstr;
using testing::changeBackends;
using testing::makeBackends;
using testing::movedFraction;
using testing::ownerId;
using testing::sampleHashes;

SelectorParams paramsFor(Algorithm algorithm) {
  SelectorParams params;
  params.algorithm = algorithm;
  params.seed = 42;
  return params;
}

AnySelector buildOrDie(const std::vector<WeightedBackend>& backends, const SelectorParams& params) {
  auto selector = buildSelector(backends, params);
  EXPECT_TRUE(selector.ok()) << selector.status();
  return *std::move(selector);
}

std::string algorithmTestName(const ::testing::TestParamInfo<Algorithm>& info) {
  return std::string(algorithmName(info.param));
}

class SelectorAlgorithmTest : public ::testing::TestWithParam<Algorithm> {};

// buildSelector holds the table the algorithm names, built with the given parameters, so lookups
// through the variant equal lookups on a directly built table.
TEST_P(SelectorAlgorithmTest, BuildsTheRequestedTable) {
  const auto backends = makeBackends(20);
  SelectorParams params = paramsFor(GetParam());
  params.maglev_size = 1009;
  params.ring_vnodes = 50;
  const AnySelector selector = buildOrDie(backends, params);
  EXPECT_EQ(selector.index(), static_cast<size_t>(GetParam()));
  const auto hashes = sampleHashes(2000);
  std::visit(
      [&](const auto& table) {
        using Table = std::decay_t<decltype(table)>;
        Table direct = [&] {
          if constexpr (std::is_same_v<Table, MaglevTable>) {
            return *MaglevTable::build(backends, 1009, 42);
          } else if constexpr (std::is_same_v<Table, RingTable>) {
            return *RingTable::build(backends, 50, 42);
          } else {
            return *ModuloTable::build(backends);
          }
        }();
        for (uint64_t h : hashes) EXPECT_EQ(table.lookup(h), direct.lookup(h));
      },
      selector);
}

// The table depends on the backend set, not on the order the configuration lists it in.
TEST_P(SelectorAlgorithmTest, IndependentOfInsertionOrder) {
  auto backends = makeBackends(64);
  for (auto& b : backends) b.weight = 1 + static_cast<uint32_t>(b.id % 4);
  const AnySelector reference = buildOrDie(backends, paramsFor(GetParam()));
  std::mt19937_64 rng(2);
  const auto hashes = sampleHashes(5000);
  for (int shuffle = 0; shuffle < 3; ++shuffle) {
    std::shuffle(backends.begin(), backends.end(), rng);
    const AnySelector shuffled = buildOrDie(backends, paramsFor(GetParam()));
    for (uint64_t h : hashes) ASSERT_EQ(ownerId(shuffled, h), ownerId(reference, h));
  }
}

// algorithmName and parseAlgorithm are inverses.
TEST_P(SelectorAlgorithmTest, NameRoundTrips) {
  const auto parsed = parseAlgorithm(algorithmName(GetParam()));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Algorithms, SelectorAlgorithmTest,
                         ::testing::Values(Algorithm::kMaglev, Algorithm::kRing, Algorithm::kModulo),
                         algorithmTestName);

// An unknown algorithm name is refused with a message that quotes it and lists the valid names.
TEST(SelectorTest, ParseAlgorithmRejectsUnknownName) {
  const auto parsed = parseAlgorithm("rendezvous");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("\"rendezvous\""));
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("maglev, ring or modulo"));
  EXPECT_FALSE(parseAlgorithm("Maglev").ok());  // names are case-sensitive, as in the config schema
  EXPECT_FALSE(parseAlgorithm("").ok());
}

// A table's own validation errors come back unchanged through buildSelector.
TEST(SelectorTest, PropagatesTableErrors) {
  SelectorParams maglev = paramsFor(Algorithm::kMaglev);
  maglev.maglev_size = 1000;
  const auto not_prime = buildSelector(makeBackends(3), maglev);
  ASSERT_FALSE(not_prime.ok());
  EXPECT_THAT(std::string(not_prime.status().message()), HasSubstr("1000 is not prime"));

  SelectorParams ring = paramsFor(Algorithm::kRing);
  ring.ring_vnodes = 0;
  const auto no_vnodes = buildSelector(makeBackends(3), ring);
  ASSERT_FALSE(no_vnodes.ok());
  EXPECT_THAT(std::string(no_vnodes.status().message()), HasSubstr("vnodes"));
}

struct DisruptionCase {
  Algorithm algorithm;
  double changed_fraction;  // of the 1000 backends, removed or added
  bool add;
  double max_over_minimum;  // moved fraction / minimum fraction must stay below this
};

class SelectorDisruptionTest : public ::testing::TestWithParam<DisruptionCase> {};

// Fraction of keys moved when k of N = 1000 backends are removed or added, against the minimum
// (k/N removed, k/(N+k) added). Maglev (M = 655373, the paper's size for this many backends) and the
// ring stay within a small factor of it; modulo moves ~(N-1)/N of keys, 10-100x the minimum.
TEST_P(SelectorDisruptionTest, MovedFractionAgainstMinimum) {
  const DisruptionCase& c = GetParam();
  const auto change = changeBackends(1000, c.changed_fraction, c.add);
  SelectorParams params = paramsFor(c.algorithm);
  params.maglev_size = MaglevTable::kLargeSize;
  const double moved = movedFraction(buildOrDie(change.before, params),
                                     buildOrDie(change.after, params), sampleHashes(100000));
  const double minimum = change.minimum_moved;
  EXPECT_GE(moved, 0.85 * minimum);
  if (c.algorithm == Algorithm::kModulo) {
    EXPECT_GT(moved, 0.95);  // (N-1)/N: the weakness modulo is kept to show
  } else {
    EXPECT_LE(moved, c.max_over_minimum * minimum);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Changes, SelectorDisruptionTest,
    ::testing::Values(DisruptionCase{Algorithm::kMaglev, 0.01, false, 2.0},
                      DisruptionCase{Algorithm::kMaglev, 0.01, true, 2.0},
                      DisruptionCase{Algorithm::kMaglev, 0.10, false, 1.5},
                      DisruptionCase{Algorithm::kRing, 0.01, false, 1.25},
                      DisruptionCase{Algorithm::kRing, 0.01, true, 1.25},
                      DisruptionCase{Algorithm::kRing, 0.10, false, 1.25},
                      DisruptionCase{Algorithm::kModulo, 0.01, false, 0},
                      DisruptionCase{Algorithm::kModulo, 0.01, true, 0},
                      DisruptionCase{Algorithm::kModulo, 0.10, false, 0}),
    [](const auto& info) {
      return absl::StrCat(std::string(algorithmName(info.param.algorithm)),
                          info.param.add ? "_add" : "_remove",
                          static_cast<int>(info.param.changed_fraction * 100), "pct");
    });

}  // namespace
}  // namespace lb::hashing
