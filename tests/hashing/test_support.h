// Helpers shared by the hashing tests: deterministic backend sets, sampled key hashes, and the
// fraction of keys whose backend *id* changes between two tables (positions shift when the set
// changes, so ids are what matter to a client).
#pragma once

#include <cstddef>
#include <iterator>
#include <cstdint>
#include <random>
#include <variant>
#include <vector>

#include "hashing/backend.h"
#include "hashing/selector.h"

namespace lb::hashing::testing {

// `count` backends with distinct pseudo-random ids (as the control plane derives ids from address
// and port hashes) and weight 1.
inline std::vector<WeightedBackend> makeBackends(size_t count, uint64_t rng_seed = 7) {
  std::mt19937_64 rng(rng_seed);
  std::vector<WeightedBackend> backends(count);
  for (auto& b : backends) b = {.id = rng(), .weight = 1};
  return backends;
}

inline std::vector<uint64_t> sampleHashes(size_t count, uint64_t rng_seed = 3) {
  std::mt19937_64 rng(rng_seed);
  std::vector<uint64_t> hashes(count);
  for (auto& h : hashes) h = rng();
  return hashes;
}

// Backend id a key hash maps to, or ~0 for kNoBackend.
template <BackendSelector Table>
uint64_t ownerId(const Table& table, uint64_t hash) {
  const BackendIndex b = table.lookup(hash);
  return b == kNoBackend ? ~uint64_t{0} : table.backends()[b].id;
}

inline uint64_t ownerId(const AnySelector& selector, uint64_t hash) {
  return std::visit([hash](const auto& table) { return ownerId(table, hash); }, selector);
}

// A backend set of n and the same set after removing its first k = fraction * n backends or adding
// k new ones, with the fewest keys such a change must move: k/n on removal, k/(n+k) on addition.
struct SetChange {
  std::vector<WeightedBackend> before;
  std::vector<WeightedBackend> after;
  std::vector<uint64_t> changed_ids;  // removed or added
  double minimum_moved;
};

inline SetChange changeBackends(size_t n, double fraction, bool add) {
  const size_t k = static_cast<size_t>(static_cast<double>(n) * fraction);
  const auto all = makeBackends(n + k);
  SetChange change;
  change.before.assign(all.begin(), all.begin() + static_cast<ptrdiff_t>(n));
  if (add) {
    change.after = all;
    for (size_t i = n; i < n + k; ++i) change.changed_ids.push_back(all[i].id);
    change.minimum_moved = static_cast<double>(k) / static_cast<double>(n + k);
  } else {
    change.after.assign(all.begin() + static_cast<ptrdiff_t>(k),
                        all.begin() + static_cast<ptrdiff_t>(n));
    for (size_t i = 0; i < k; ++i) change.changed_ids.push_back(all[i].id);
    change.minimum_moved = static_cast<double>(k) / static_cast<double>(n);
  }
  return change;
}

template <class Table>
double movedFraction(const Table& before, const Table& after, const std::vector<uint64_t>& hashes) {
  size_t moved = 0;
  for (uint64_t h : hashes) moved += ownerId(before, h) != ownerId(after, h);
  return static_cast<double>(moved) / static_cast<double>(hashes.size());
}

}  // namespace lb::hashing::testing
