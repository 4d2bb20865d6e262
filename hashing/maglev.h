// Maglev consistent-hashing lookup table (Eisenbud et al., "Maglev: A Fast and Reliable Software Network
// Load Balancer", NSDI 2016, section 3.4).
//
// Use it to map a key hash to a backend with one multiply and one load, while moving close to the
// minimum fraction of keys when backends come and go. Each backend gets a permutation of the M slots
// from (offset, skip) derived from its id and the seed; backends take turns claiming their next free
// slot until the table is full. Weights follow Envoy's weighted variant: a backend takes a turn only
// when its claimed share is behind weight/max_weight, so entries are proportional to weight.
// The permutation of the backend at position i (in id order) is offset + j * skip (mod M) with
// offset = XXH3(id, seed ^ 0x9e3779b97f4a7c15) mod M and skip = XXH3(id, seed ^ 0xc2b2ae3d27d4eb4f)
// mod (M - 1) + 1, hashing the id's 8 bytes (little-endian); tests/hashing/maglev_test.cc pins the
// resulting tables.
//
// Sizing: M must be prime. A change of backends moves at most ~2x the minimum fraction of keys only
// while M >= ~300 x backends (1.6x at 650 x, 3.4x at 65 x; bench/results/hashing.md), so 65537 suits
// up to ~200 backends and 655373 up to ~2000. Building 655373 slots takes ~5 ms.
//
// Build once in the control plane, then only call lookup(); a table is immutable after build().
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "hashing/backend.h"
#include "hashing/key_hash.h"

namespace lb::hashing {

class MaglevTable {
 public:
  static constexpr uint32_t kDefaultSize = 65537;
  static constexpr uint32_t kLargeSize = 655373;
  static constexpr uint32_t kMaxSize = uint32_t{1} << 24;  // 32 MiB of slots; larger sizes are rejected

  // Rejects (InvalidArgument, message names the value): a size that is not prime, a size above
  // kMaxSize, a size smaller than the number of backends, more than kMaxBackends backends, duplicate
  // ids. An empty set or all-zero weights is valid and yields a table where every slot is kNoBackend.
  static absl::StatusOr<MaglevTable> build(std::span<const WeightedBackend> backends,
                                           uint32_t table_size, uint64_t seed);

  // Position in backends() for a key hash, or kNoBackend.
  BackendIndex lookup(uint64_t key_hash) const {
    return slots_[reduceToRange(key_hash, static_cast<uint32_t>(slots_.size()))];
  }

  uint32_t size() const { return static_cast<uint32_t>(slots_.size()); }
  uint64_t seed() const { return seed_; }
  // Sorted by id; lookup() results index this.
  const std::vector<WeightedBackend>& backends() const { return backends_; }
  const std::vector<BackendIndex>& slots() const { return slots_; }
  // Backend position owning a slot, or kNoBackend.
  BackendIndex slotOwner(uint32_t slot) const { return slots_[slot]; }
  // Slots per backend position (for balance metrics).
  std::vector<uint32_t> entriesPerBackend() const;
  // Fraction of the key-hash space each backend position receives: its share of the slots.
  std::vector<double> hashSpaceShare() const;

 private:
  MaglevTable() = default;
  std::vector<WeightedBackend> backends_;
  std::vector<BackendIndex> slots_;
  uint64_t seed_ = 0;
};

// Slots whose owning backend *id* differs between two tables of the same size (positions may shift
// when the set changes, so ids are compared, not positions). Used for disruption metrics and to
// validate small updates. Returns InvalidArgument when sizes differ.
absl::StatusOr<std::vector<uint32_t>> changedSlots(const MaglevTable& before,
                                                   const MaglevTable& after);

bool isPrime(uint64_t n);

}  // namespace lb::hashing
