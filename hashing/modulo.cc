#include "hashing/modulo.h"

#include <numeric>

#include "absl/strings/str_format.h"
#include "hashing/backend_sort.h"

namespace lb::hashing {
namespace {
constexpr uint64_t kMaxSlots = uint64_t{1} << 20;
}

absl::StatusOr<ModuloTable> ModuloTable::build(std::span<const WeightedBackend> backends) {
  auto sorted = detail::sortedUniqueBackends(backends);
  if (!sorted.ok()) return sorted.status();
  ModuloTable table;
  table.backends_ = *std::move(sorted);

  uint32_t divisor = 0;
  for (const auto& b : table.backends_) divisor = std::gcd(divisor, b.weight);
  if (divisor == 0) return table;
  uint64_t total = 0;
  for (const auto& b : table.backends_) total += b.weight / divisor;
  if (total > kMaxSlots) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "modulo weights need %d slots, more than the limit of %d; use smaller weights", total,
        kMaxSlots));
  }
  table.slots_.reserve(total);
  for (size_t i = 0; i < table.backends_.size(); ++i) {
    for (uint32_t r = 0; r < table.backends_[i].weight / divisor; ++r) {
      table.slots_.push_back(static_cast<BackendIndex>(i));
    }
  }
  return table;
}

std::vector<double> ModuloTable::hashSpaceShare() const {
  std::vector<double> shares(backends_.size(), 0.0);
  for (BackendIndex owner : slots_) shares[owner] += 1.0 / static_cast<double>(slots_.size());
  return shares;
}

}  // namespace lb::hashing
