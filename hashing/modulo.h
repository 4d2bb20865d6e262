// Plain modulo hashing: backend = hash mod n (the seeds' "IP Hash").
//
// Present to show its weakness next to Maglev and the ring: adding or removing one of n backends moves
// about (n-1)/n of all keys. Weights are honoured by repeating a backend weight/gcd times in the slot
// list (capped at 1<<20 slots, rejected beyond that).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "hashing/backend.h"
#include "hashing/key_hash.h"

namespace lb::hashing {

class ModuloTable {
 public:
  static absl::StatusOr<ModuloTable> build(std::span<const WeightedBackend> backends);

  BackendIndex lookup(uint64_t key_hash) const {
    if (slots_.empty()) return kNoBackend;
    return slots_[key_hash % slots_.size()];
  }

  const std::vector<WeightedBackend>& backends() const { return backends_; }
  // Fraction of the key-hash space each backend position receives: its share of the slot list.
  std::vector<double> hashSpaceShare() const;

 private:
  ModuloTable() = default;
  std::vector<WeightedBackend> backends_;  // sorted by id
  std::vector<BackendIndex> slots_;
};

}  // namespace lb::hashing
