#include "hashing/maglev.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "hashing/backend_sort.h"

namespace lb::hashing {
namespace {

// Offsets and skips come from two differently seeded hashes of the id, as in the paper (h1, h2).
constexpr uint64_t kOffsetSeedMix = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kSkipSeedMix = 0xc2b2ae3d27d4eb4fULL;

struct Permutation {
  uint32_t next;  // slot this backend tries next
  uint32_t skip;
};

}  // namespace

bool isPrime(uint64_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (uint64_t d = 3; d * d <= n; d += 2) {
    if (n % d == 0) return false;
  }
  return true;
}

absl::StatusOr<MaglevTable> MaglevTable::build(std::span<const WeightedBackend> backends,
                                               uint32_t table_size, uint64_t seed) {
  if (!isPrime(table_size)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("maglev table size %d is not prime", table_size));
  }
  if (table_size < backends.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "maglev table size %d is smaller than the number of backends (%d)", table_size,
        backends.size()));
  }
  auto sorted = detail::sortedUniqueBackends(backends);
  if (!sorted.ok()) return sorted.status();

  MaglevTable table;
  table.seed_ = seed;
  table.backends_ = *std::move(sorted);
  table.slots_.assign(table_size, kNoBackend);

  const size_t n = table.backends_.size();
  uint32_t max_weight = 0;
  for (const auto& b : table.backends_) max_weight = std::max(max_weight, b.weight);
  if (max_weight == 0) return table;

  std::vector<Permutation> perms(n);
  std::vector<uint64_t> claimed(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t id = table.backends_[i].id;
    const uint64_t h1 = hashBytes({reinterpret_cast<const char*>(&id), sizeof(id)},
                                  seed ^ kOffsetSeedMix);
    const uint64_t h2 = hashBytes({reinterpret_cast<const char*>(&id), sizeof(id)},
                                  seed ^ kSkipSeedMix);
    perms[i].next = static_cast<uint32_t>(h1 % table_size);
    perms[i].skip = static_cast<uint32_t>(h2 % (table_size - 1)) + 1;
  }

  uint32_t filled = 0;
  BackendIndex* slots = table.slots_.data();
  for (uint64_t round = 1; filled < table_size; ++round) {
    for (size_t i = 0; i < n && filled < table_size; ++i) {
      // Weighted turn (Envoy's variant): take a slot only while claimed/round < weight/max_weight.
      const uint64_t weight = table.backends_[i].weight;
      if (claimed[i] * max_weight >= weight * round) continue;
      uint32_t pos = perms[i].next;
      const uint32_t skip = perms[i].skip;
      while (slots[pos] != kNoBackend) {
        pos += skip;
        if (pos >= table_size) pos -= table_size;
      }
      slots[pos] = static_cast<BackendIndex>(i);
      pos += skip;
      if (pos >= table_size) pos -= table_size;
      perms[i].next = pos;
      ++claimed[i];
      ++filled;
    }
  }
  return table;
}

std::vector<uint32_t> MaglevTable::entriesPerBackend() const {
  std::vector<uint32_t> counts(backends_.size(), 0);
  for (BackendIndex owner : slots_) {
    if (owner != kNoBackend) ++counts[owner];
  }
  return counts;
}

absl::StatusOr<std::vector<uint32_t>> changedSlots(const MaglevTable& before,
                                                   const MaglevTable& after) {
  if (before.size() != after.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "cannot compare maglev tables of sizes %d and %d", before.size(), after.size()));
  }
  auto owner_id = [](const MaglevTable& t, uint32_t slot) -> uint64_t {
    const BackendIndex owner = t.slotOwner(slot);
    return owner == kNoBackend ? ~uint64_t{0} : t.backends()[owner].id;
  };
  std::vector<uint32_t> changed;
  for (uint32_t slot = 0; slot < before.size(); ++slot) {
    if (owner_id(before, slot) != owner_id(after, slot)) changed.push_back(slot);
  }
  return changed;
}

}  // namespace lb::hashing
