// One interface over the three backend-selection tables, chosen once at configuration time.
//
// The dataplane never pays a virtual call per packet: a service holds an AnySelector, and the worker
// dispatches once per burst (std::visit) into a loop templated on the concrete table, which the
// BackendSelector concept describes. This is l3fwd's "pick the lookup mode once" in C++20 form.
#pragma once

#include <concepts>
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "hashing/backend.h"
#include "hashing/maglev.h"
#include "hashing/modulo.h"
#include "hashing/ring.h"

namespace lb::hashing {

template <class T>
concept BackendSelector = requires(const T& table, uint64_t key_hash) {
  { table.lookup(key_hash) } -> std::same_as<BackendIndex>;
  { table.backends() } -> std::convertible_to<const std::vector<WeightedBackend>&>;
};

static_assert(BackendSelector<MaglevTable>);
static_assert(BackendSelector<RingTable>);
static_assert(BackendSelector<ModuloTable>);

enum class Algorithm : uint8_t { kMaglev, kRing, kModulo };

using AnySelector = std::variant<MaglevTable, RingTable, ModuloTable>;

struct SelectorParams {
  Algorithm algorithm = Algorithm::kMaglev;
  uint32_t maglev_size = MaglevTable::kDefaultSize;
  uint32_t ring_vnodes = RingTable::kDefaultVnodes;
  uint64_t seed = 0;
};

absl::StatusOr<AnySelector> buildSelector(std::span<const WeightedBackend> backends,
                                          const SelectorParams& params);

// "maglev" | "ring" | "modulo"; InvalidArgument naming the value otherwise.
absl::StatusOr<Algorithm> parseAlgorithm(std::string_view name);
std::string_view algorithmName(Algorithm algorithm);

}  // namespace lb::hashing
