// Maglev table build and lookup costs (hashing/maglev.h), with balance reported next to time.
//
// Build is swept over the backend counts and the two table sizes of the Maglev paper's evaluation
// (NSDI 2016 sec. 5.3: M = 65537 and 655373). Lookups include the 5-tuple hash, because that is what
// the dataplane pays per packet; keys are pre-generated and many (1M distinct flows).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <numeric>

#include "bench/hashing/bench_support.h"
#include "hashing/key_hash.h"
#include "hashing/maglev.h"

namespace lb::hashing::bench {
namespace {

// Paper table sizes crossed with backend counts from a small pool to a large fleet.
void buildArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"backends", "slots"});
  for (int64_t slots : {int64_t{MaglevTable::kDefaultSize}, int64_t{MaglevTable::kLargeSize}}) {
    for (int64_t backends : {10, 100, 1000, 5000}) b->Args({backends, slots});
  }
}

// Max/mean entries per backend: 1.0 is perfect balance, the paper's "over-provision factor".
double overProvision(const MaglevTable& table) {
  const std::vector<uint32_t> counts = table.entriesPerBackend();
  const uint32_t max_entries = *std::max_element(counts.begin(), counts.end());
  return max_entries * static_cast<double>(counts.size()) / table.size();
}

void BM_MaglevBuild(benchmark::State& state) {
  const auto backends = makeBackends(static_cast<size_t>(state.range(0)));
  const auto slots = static_cast<uint32_t>(state.range(1));
  for (auto _ : state) {
    auto table = MaglevTable::build(backends, slots, kBenchSeed);
    benchmark::DoNotOptimize(table->slots().data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * slots);  // slots filled/s
  state.counters["over_provision"] = overProvision(*MaglevTable::build(backends, slots, kBenchSeed));
  state.counters["table_bytes"] = static_cast<double>(slots * sizeof(BackendIndex));
}
BENCHMARK(BM_MaglevBuild)
    ->ComputeStatistics("min", minOf)
    ->Apply(buildArgs)
    ->Unit(benchmark::kMicrosecond);

// Weighted sets take the general turn order (a backend skips turns while ahead of its weight share).
void BM_MaglevBuildWeighted(benchmark::State& state) {
  auto backends = makeBackends(static_cast<size_t>(state.range(0)));
  for (size_t i = 0; i < backends.size(); ++i) backends[i].weight = 1 + static_cast<uint32_t>(i % 4);
  const auto slots = static_cast<uint32_t>(state.range(1));
  for (auto _ : state) {
    auto table = MaglevTable::build(backends, slots, kBenchSeed);
    benchmark::DoNotOptimize(table->slots().data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * slots);
  state.counters["weights"] = 4;  // 1..4, cycling
}
BENCHMARK(BM_MaglevBuildWeighted)
    ->ComputeStatistics("min", minOf)
    ->ArgNames({"backends", "slots"})
    ->Args({1000, MaglevTable::kDefaultSize})
    ->Args({1000, MaglevTable::kLargeSize})
    ->Unit(benchmark::kMicrosecond);

// One lookup per iteration, key hash included: the per-packet cost of Maglev selection.
void BM_MaglevLookupV4(benchmark::State& state) {
  const auto backends = makeBackends(static_cast<size_t>(state.range(0)));
  const auto table = MaglevTable::build(backends, static_cast<uint32_t>(state.range(1)), kBenchSeed);
  const auto keys = makeFlowsV4(kDefaultKeyCount);
  const size_t mask = keys.size() - 1;
  size_t i = 0;
  for (auto _ : state) {
    const BackendIndex b = table->lookup(hashFlow(keys[i++ & mask], kBenchSeed));
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["distinct_keys"] = static_cast<double>(keys.size());
}
BENCHMARK(BM_MaglevLookupV4)
    ->ComputeStatistics("min", minOf)
    ->ArgNames({"backends", "slots"})
    ->Args({1000, MaglevTable::kDefaultSize})
    ->Args({1000, MaglevTable::kLargeSize});

// A burst of 32 keys per iteration, hashed then looked up in two stages as the worker loop does
// (house style sec. 8); items are lookups, so time/item is comparable with the single-key case.
void BM_MaglevLookupBurstV4(benchmark::State& state) {
  constexpr size_t kBurst = 32;
  const auto backends = makeBackends(static_cast<size_t>(state.range(0)));
  const auto table = MaglevTable::build(backends, static_cast<uint32_t>(state.range(1)), kBenchSeed);
  const auto keys = makeFlowsV4(kDefaultKeyCount);
  size_t base = 0;
  uint64_t hashes[kBurst];
  BackendIndex dst[kBurst];
  for (auto _ : state) {
    for (size_t j = 0; j < kBurst; ++j) hashes[j] = hashFlow(keys[base + j], kBenchSeed);
    for (size_t j = 0; j < kBurst; ++j) dst[j] = table->lookup(hashes[j]);
    benchmark::DoNotOptimize(dst);
    base = (base + kBurst) & (keys.size() - 1);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBurst));
  state.counters["burst"] = kBurst;
}
BENCHMARK(BM_MaglevLookupBurstV4)
    ->ComputeStatistics("min", minOf)
    ->ArgNames({"backends", "slots"})
    ->Args({1000, MaglevTable::kDefaultSize})
    ->Args({1000, MaglevTable::kLargeSize});

// Table access alone (hash precomputed): separates the memory cost from the hashing cost.
void BM_MaglevLookupPrehashed(benchmark::State& state) {
  const auto backends = makeBackends(static_cast<size_t>(state.range(0)));
  const auto table = MaglevTable::build(backends, static_cast<uint32_t>(state.range(1)), kBenchSeed);
  const auto hashes = makeHashes(kDefaultKeyCount);
  const size_t mask = hashes.size() - 1;
  size_t i = 0;
  for (auto _ : state) {
    const BackendIndex b = table->lookup(hashes[i++ & mask]);
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_MaglevLookupPrehashed)
    ->ComputeStatistics("min", minOf)
    ->ArgNames({"backends", "slots"})
    ->Args({1000, MaglevTable::kDefaultSize})
    ->Args({1000, MaglevTable::kLargeSize});

}  // namespace
}  // namespace lb::hashing::bench
