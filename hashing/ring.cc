#include "hashing/ring.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_format.h"
#include "hashing/backend_sort.h"
#include "hashing/key_hash.h"

namespace lb::hashing {
namespace {
constexpr uint64_t kMaxPoints = uint64_t{1} << 26;
__extension__ using Uint128 = unsigned __int128;  // GCC/Clang builtin; __extension__ for -Wpedantic
}

absl::StatusOr<RingTable> RingTable::build(std::span<const WeightedBackend> backends,
                                           uint32_t vnodes, uint64_t seed) {
  if (vnodes == 0) return absl::InvalidArgumentError("ring vnodes must be at least 1");
  auto sorted = detail::sortedUniqueBackends(backends);
  if (!sorted.ok()) return sorted.status();

  RingTable ring;
  ring.backends_ = *std::move(sorted);
  const uint64_t total_weight =
      std::accumulate(ring.backends_.begin(), ring.backends_.end(), uint64_t{0},
                      [](uint64_t sum, const WeightedBackend& b) { return sum + b.weight; });
  if (total_weight == 0) return ring;

  const uint64_t n = ring.backends_.size();
  std::vector<uint64_t> per_backend(n);
  uint64_t total_points = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t w = ring.backends_[i].weight;
    // Rounded share of vnodes*n points; at least one point for any non-zero weight. The product
    // needs up to 32 + 16 + 32 bits, so it is formed in 128 bits; a 64-bit product wraps for large
    // vnodes and weights and would silently build the wrong ring.
    const Uint128 share = (Uint128{vnodes} * n * w + total_weight / 2) / total_weight;
    const auto capped = static_cast<uint64_t>(std::min<Uint128>(share, kMaxPoints + 1));
    per_backend[i] = w == 0 ? 0 : std::max<uint64_t>(1, capped);
    total_points += per_backend[i];  // at most 2^16 * (2^26 + 1): no overflow
  }
  if (total_points > kMaxPoints) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ring would need %d points, more than the limit of %d", total_points, kMaxPoints));
  }

  std::vector<std::pair<uint64_t, BackendIndex>> points;
  points.reserve(total_points);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t id = ring.backends_[i].id;
    for (uint64_t v = 0; v < per_backend[i]; ++v) {
      const uint64_t image[2] = {id, v};
      const uint64_t h = hashBytes({reinterpret_cast<const char*>(image), sizeof(image)}, seed);
      points.emplace_back(h, static_cast<BackendIndex>(i));
    }
  }
  // Ties (vanishingly rare) resolve by position, which is itself id order, so the ring stays
  // independent of input order.
  std::sort(points.begin(), points.end());
  ring.point_hashes_.reserve(points.size());
  ring.point_owners_.reserve(points.size());
  for (const auto& [h, owner] : points) {
    ring.point_hashes_.push_back(h);
    ring.point_owners_.push_back(owner);
  }
  return ring;
}

BackendIndex RingTable::lookup(uint64_t key_hash) const {
  if (point_hashes_.empty()) return kNoBackend;
  auto it = std::lower_bound(point_hashes_.begin(), point_hashes_.end(), key_hash);
  const size_t idx = it == point_hashes_.end() ? 0 : static_cast<size_t>(it - point_hashes_.begin());
  return point_owners_[idx];
}

std::vector<double> RingTable::hashSpaceShare() const {
  std::vector<double> shares(backends_.size(), 0.0);
  const size_t n = point_hashes_.size();
  if (n == 0) return shares;
  if (n == 1) {
    shares[point_owners_[0]] = 1.0;
    return shares;
  }
  // Point i owns the keys in (hash[i-1], hash[i]]; point 0 also owns everything past the last point.
  // Unsigned subtraction wraps, which is exactly the arc for point 0.
  constexpr double kSpace = 18446744073709551616.0;  // 2^64
  for (size_t i = 0; i < n; ++i) {
    const uint64_t previous = point_hashes_[i == 0 ? n - 1 : i - 1];
    shares[point_owners_[i]] += static_cast<double>(point_hashes_[i] - previous) / kSpace;
  }
  return shares;
}

}  // namespace lb::hashing
