// Shared by the hashing micro-benchmarks: deterministic inputs generated before any timed loop.
//
// Keys and backend sets come from a fixed-seed std::mt19937_64 so every run (and every machine) times
// the same work. Key arrays are large (1M flows, 16 MiB) so lookups see many distinct keys, as a
// balancer does, rather than one hot key.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "bench/bench_context.h"
#include "hashing/backend.h"
#include "hashing/key_hash.h"

namespace lb::hashing::bench {

using lb::bench::minOf;

inline constexpr uint64_t kBenchSeed = 42;
inline constexpr size_t kDefaultKeyCount = size_t{1} << 20;  // power of two: index with a mask

inline std::vector<WeightedBackend> makeBackends(size_t count, uint64_t rng_seed = 7) {
  std::mt19937_64 rng(rng_seed);
  std::vector<WeightedBackend> backends(count);
  for (auto& b : backends) b = {.id = rng(), .weight = 1};
  return backends;
}

inline std::vector<FlowKeyV4> makeFlowsV4(size_t count, uint64_t rng_seed = 11) {
  std::mt19937_64 rng(rng_seed);
  std::vector<FlowKeyV4> keys(count);
  for (auto& k : keys) {
    const uint64_t r = rng();
    k.src_addr_be = static_cast<uint32_t>(r);
    k.dst_addr_be = 0x0100000a;  // 10.0.0.1, one VIP
    k.src_port_be = static_cast<uint16_t>(r >> 32);
    k.dst_port_be = 0x5000;      // port 80
    k.protocol = 6;
  }
  return keys;
}

inline std::vector<FlowKeyV6> makeFlowsV6(size_t count, uint64_t rng_seed = 13) {
  std::mt19937_64 rng(rng_seed);
  std::vector<FlowKeyV6> keys(count);
  for (auto& k : keys) {
    for (size_t i = 0; i < 16; i += 8) {
      const uint64_t r = rng();
      for (size_t j = 0; j < 8; ++j) k.src_addr[i + j] = static_cast<uint8_t>(r >> (8 * j));
    }
    k.dst_addr = {0x20, 0x01, 0x0d, 0xb8};
    k.dst_addr[15] = 1;
    k.src_port_be = static_cast<uint16_t>(rng());
    k.dst_port_be = 0xbb01;  // port 443
    k.protocol = 6;
  }
  return keys;
}

// Extra aggregate for --benchmark_repetitions: the fastest repetition, which on a shared machine is
// the one least disturbed by other processes (mean and median still show the spread).

inline std::vector<uint64_t> makeHashes(size_t count, uint64_t rng_seed = 17) {
  std::mt19937_64 rng(rng_seed);
  std::vector<uint64_t> hashes(count);
  for (auto& h : hashes) h = rng();
  return hashes;
}

}  // namespace lb::hashing::bench
