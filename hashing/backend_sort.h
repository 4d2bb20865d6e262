// Shared by the table builders: the id-sorted, validated copy of a backend set.
#pragma once

#include <algorithm>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "hashing/backend.h"

namespace lb::hashing::detail {

// Sorting by id is what makes every table independent of insertion order.
inline absl::StatusOr<std::vector<WeightedBackend>> sortedUniqueBackends(
    std::span<const WeightedBackend> backends) {
  if (backends.size() > kMaxBackends) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d backends exceed the limit of %d", backends.size(), kMaxBackends));
  }
  std::vector<WeightedBackend> sorted(backends.begin(), backends.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const WeightedBackend& a, const WeightedBackend& b) { return a.id < b.id; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].id == sorted[i - 1].id) {
      return absl::InvalidArgumentError(
          absl::StrFormat("duplicate backend id %d", sorted[i].id));
    }
  }
  return sorted;
}

}  // namespace lb::hashing::detail
