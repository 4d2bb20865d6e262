#include "hashing/selector.h"

#include "absl/strings/str_format.h"

namespace lb::hashing {

absl::StatusOr<AnySelector> buildSelector(std::span<const WeightedBackend> backends,
                                          const SelectorParams& params) {
  switch (params.algorithm) {
    case Algorithm::kMaglev: {
      auto t = MaglevTable::build(backends, params.maglev_size, params.seed);
      if (!t.ok()) return t.status();
      return AnySelector(*std::move(t));
    }
    case Algorithm::kRing: {
      auto t = RingTable::build(backends, params.ring_vnodes, params.seed);
      if (!t.ok()) return t.status();
      return AnySelector(*std::move(t));
    }
    case Algorithm::kModulo: {
      auto t = ModuloTable::build(backends);
      if (!t.ok()) return t.status();
      return AnySelector(*std::move(t));
    }
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
