#include "hashing/selector.h"

#include <utility>

#include "absl/strings/str_format.h"

namespace lb::hashing {
namespace {

// Moves a built table into the variant, constructing it in place inside the StatusOr (a temporary
// AnySelector moved into the StatusOr trips GCC 12's -Wmaybe-uninitialized under -fsanitize).
template <class Table>
absl::StatusOr<AnySelector> wrap(absl::StatusOr<Table> table) {
  if (!table.ok()) return table.status();
  return absl::StatusOr<AnySelector>(absl::in_place, std::in_place_type<Table>, *std::move(table));
}

}  // namespace

absl::StatusOr<AnySelector> buildSelector(std::span<const WeightedBackend> backends,
                                          const SelectorParams& params) {
  switch (params.algorithm) {
    case Algorithm::kMaglev:
      return wrap(MaglevTable::build(backends, params.maglev_size, params.seed));
    case Algorithm::kRing:
      return wrap(RingTable::build(backends, params.ring_vnodes, params.seed));
    case Algorithm::kModulo:
      return wrap(ModuloTable::build(backends));
  }
  return absl::InvalidArgumentError("unknown balancing algorithm");
}

absl::StatusOr<Algorithm> parseAlgorithm(std::string_view name) {
  if (name == "maglev") return Algorithm::kMaglev;
  if (name == "ring") return Algorithm::kRing;
  if (name == "modulo") return Algorithm::kModulo;
  return absl::InvalidArgumentError(
      absl::StrFormat("unknown algorithm \"%s\" (expected maglev, ring or modulo)", name));
}

std::string_view algorithmName(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::kMaglev: return "maglev";
    case Algorithm::kRing: return "ring";
    case Algorithm::kModulo: return "modulo";
  }
  return "unknown";
}

}  // namespace lb::hashing
