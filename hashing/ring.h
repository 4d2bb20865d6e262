// Consistent-hash ring with virtual nodes, ketama style (Karger et al. 1997; libketama): each backend
// places points on a 64-bit circle and a key goes to the first point clockwise from its hash.
//
// Kept beside Maglev because it is what the seeds call "Consistent Hashing" and what most proxies ship;
// it moves few keys on change but needs a binary search per lookup and many points for good balance,
// which is exactly what the evaluation in bench/ shows. Points per backend are proportional to weight:
// round(vnodes * n * weight / sum_of_weights), so `vnodes` is the mean number of points per backend.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "hashing/backend.h"

namespace lb::hashing {

class RingTable {
 public:
  static constexpr uint32_t kDefaultVnodes = 160;  // libketama's 40 points x 4 hashes per server

  // Rejects vnodes == 0, more than kMaxBackends backends, duplicate ids, or more than 2^26 points.
  static absl::StatusOr<RingTable> build(std::span<const WeightedBackend> backends, uint32_t vnodes,
                                         uint64_t seed);

  BackendIndex lookup(uint64_t key_hash) const;

  uint32_t points() const { return static_cast<uint32_t>(point_hashes_.size()); }
  // Fraction of the 64-bit hash space (arc length) each backend position owns, for balance metrics.
  std::vector<double> hashSpaceShare() const;
  const std::vector<WeightedBackend>& backends() const { return backends_; }

 private:
  RingTable() = default;
  std::vector<WeightedBackend> backends_;  // sorted by id
  std::vector<uint64_t> point_hashes_;     // sorted ascending
  std::vector<BackendIndex> point_owners_; // parallel to point_hashes_
};

}  // namespace lb::hashing
