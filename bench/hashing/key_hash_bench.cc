// Key hashing throughput (hashing/key_hash.h): the fixed per-packet cost in front of every table
// lookup. Inputs are pre-generated arrays of 1M distinct keys.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/hashing/bench_support.h"
#include "hashing/key_hash.h"

namespace lb::hashing::bench {
namespace {

template <class Key, uint64_t (*kHash)(const Key&, uint64_t)>
void hashKeys(benchmark::State& state, const std::vector<Key>& keys) {
  const size_t mask = keys.size() - 1;
  size_t i = 0;
  for (auto _ : state) {
    const uint64_t h = kHash(keys[i++ & mask], kBenchSeed);
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(sizeof(Key)));
}

uint64_t flowV4(const FlowKeyV4& k, uint64_t seed) { return hashFlow(k, seed); }
uint64_t flowV6(const FlowKeyV6& k, uint64_t seed) { return hashFlow(k, seed); }
uint64_t symV4(const FlowKeyV4& k, uint64_t seed) { return hashFlowSymmetric(k, seed); }
uint64_t symV6(const FlowKeyV6& k, uint64_t seed) { return hashFlowSymmetric(k, seed); }
uint64_t addrV4(const FlowKeyV4& k, uint64_t seed) { return hashAddressV4(k.src_addr_be, seed); }
uint64_t addrV6(const FlowKeyV6& k, uint64_t seed) { return hashAddressV6(k.src_addr, seed); }

void BM_HashFlowV4(benchmark::State& state) {
  hashKeys<FlowKeyV4, flowV4>(state, makeFlowsV4(kDefaultKeyCount));
}
void BM_HashFlowV6(benchmark::State& state) {
  hashKeys<FlowKeyV6, flowV6>(state, makeFlowsV6(kDefaultKeyCount));
}
void BM_HashFlowSymmetricV4(benchmark::State& state) {
  hashKeys<FlowKeyV4, symV4>(state, makeFlowsV4(kDefaultKeyCount));
}
void BM_HashFlowSymmetricV6(benchmark::State& state) {
  hashKeys<FlowKeyV6, symV6>(state, makeFlowsV6(kDefaultKeyCount));
}
void BM_HashAddressV4(benchmark::State& state) {
  hashKeys<FlowKeyV4, addrV4>(state, makeFlowsV4(kDefaultKeyCount));
}
void BM_HashAddressV6(benchmark::State& state) {
  hashKeys<FlowKeyV6, addrV6>(state, makeFlowsV6(kDefaultKeyCount));
}
BENCHMARK(BM_HashFlowV4)->ComputeStatistics("min", minOf);
BENCHMARK(BM_HashFlowV6)->ComputeStatistics("min", minOf);
BENCHMARK(BM_HashFlowSymmetricV4)->ComputeStatistics("min", minOf);
BENCHMARK(BM_HashFlowSymmetricV6)->ComputeStatistics("min", minOf);
BENCHMARK(BM_HashAddressV4)->ComputeStatistics("min", minOf);
BENCHMARK(BM_HashAddressV6)->ComputeStatistics("min", minOf);

// Cookie-style opaque keys of a given length (bytes).
void BM_HashBytes(benchmark::State& state) {
  const auto len = static_cast<size_t>(state.range(0));
  constexpr size_t kCount = 4096;
  std::vector<std::string> cookies(kCount);
  const auto seeds = makeHashes(kCount * ((len + 7) / 8 + 1));
  for (size_t c = 0; c < kCount; ++c) {
    cookies[c].resize(len);
    for (size_t j = 0; j < len; ++j) {
      cookies[c][j] = static_cast<char>('a' + seeds[c * ((len + 7) / 8 + 1) + j / 8] % 26);
    }
  }
  size_t i = 0;
  for (auto _ : state) {
    const uint64_t h = hashBytes(cookies[i++ & (kCount - 1)], kBenchSeed);
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * len));
}
BENCHMARK(BM_HashBytes)
    ->ComputeStatistics("min", minOf)
    ->ArgNames({"bytes"})
    ->Arg(16)
    ->Arg(32)
    ->Arg(64)
    ->Arg(256);

}  // namespace
}  // namespace lb::hashing::bench
