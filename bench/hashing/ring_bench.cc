// Consistent-hash ring (hashing/ring.h) build and lookup, sized so it can be compared with Maglev:
// 1000 backends x 256 vnodes = 256K points, the ring size needed for balance close to Maglev's.
// Modulo lookup is included as the floor: one division, no consistency.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>

#include "bench/hashing/bench_support.h"
#include "hashing/key_hash.h"
#include "hashing/modulo.h"
#include "hashing/ring.h"

namespace lb::hashing::bench {
namespace {

void BM_RingBuild(benchmark::State& state) {
  const auto backends = makeBackends(static_cast<size_t>(state.range(0)));
  const auto vnodes = static_cast<uint32_t>(state.range(1));
  uint32_t points = 0;
  for (auto _ : state) {
    auto ring = RingTable::build(backends, vnodes, kBenchSeed);
    points = ring->points();
    benchmark::DoNotOptimize(points);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * points);  // points placed/s
  state.counters["points"] = points;
}
BENCHMARK(BM_RingBuild)
    ->ComputeStatistics("min", minOf)
    ->ArgNames({"backends", "vnodes"})
    ->Args({1000, 100})
    ->Args({1000, 256})
    ->Unit(benchmark::kMicrosecond);

// Key hash + binary search over the ring; same keys and hash as BM_MaglevLookupV4.
void BM_RingLookupV4(benchmark::State& state) {
  const auto backends = makeBackends(static_cast<size_t>(state.range(0)));
  const auto ring = RingTable::build(backends, static_cast<uint32_t>(state.range(1)), kBenchSeed);
  const auto keys = makeFlowsV4(kDefaultKeyCount);
  const size_t mask = keys.size() - 1;
  size_t i = 0;
  for (auto _ : state) {
    const BackendIndex b = ring->lookup(hashFlow(keys[i++ & mask], kBenchSeed));
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  const auto shares = ring->hashSpaceShare();
  state.counters["over_provision"] =
      *std::max_element(shares.begin(), shares.end()) * static_cast<double>(shares.size());
  state.counters["points"] = ring->points();
  state.counters["ring_bytes"] =
      static_cast<double>(ring->points()) * (sizeof(uint64_t) + sizeof(BackendIndex));
}
BENCHMARK(BM_RingLookupV4)
    ->ComputeStatistics("min", minOf)
    ->ArgNames({"backends", "vnodes"})
    ->Args({1000, 100})
    ->Args({1000, 256});

void BM_ModuloLookupV4(benchmark::State& state) {
  const auto backends = makeBackends(static_cast<size_t>(state.range(0)));
  const auto table = ModuloTable::build(backends);
  const auto keys = makeFlowsV4(kDefaultKeyCount);
  const size_t mask = keys.size() - 1;
  size_t i = 0;
  for (auto _ : state) {
    const BackendIndex b = table->lookup(hashFlow(keys[i++ & mask], kBenchSeed));
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ModuloLookupV4)->ComputeStatistics("min", minOf)->ArgNames({"backends"})->Arg(1000);

}  // namespace
}  // namespace lb::hashing::bench
