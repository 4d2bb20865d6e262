// Maglev table population (NSDI 2016 sec. 3.4, Pseudocode 1) with Envoy's weighted turns.
//
// The result is exactly the paper's: backends take turns in id order, and on its turn a backend claims
// the first empty slot along its permutation offset, offset+skip, offset+2*skip, ... (mod M). Only the
// search for that first empty slot is optimised. A straightforward probe loop costs about one
// mispredicted branch per claim (whether a slot is free is a coin toss the predictor cannot learn),
// plus M * ln(M) probes over the whole fill, most of them for the last few empty slots. So:
//
//  1. Occupancy is a bitmap (8 KiB for M = 65537, in L1), and stepping along a permutation is an add
//     and a min(), never a division or a branch.
//  2. Grouped, vectorised probing. Up to 16 consecutive turns (distinct backends) search at once
//     against the occupancy at the start of the group: with AVX-512 one gather tests 16 candidates
//     of a backend (or 8 each of two backends while the table is under 60% full), so one branch
//     covers many probes and the group's searches overlap. Then the group claims in turn order; a
//     candidate is the paper's answer unless an earlier member just took it, in which case the
//     search resumes from it. The AVX-512 code is compiled per function (the project targets a
//     baseline x86-64) and chosen at run time from CPUID; other CPUs, and valgrind, probe one slot
//     at a time in the same grouped loop.
//  3. The tail. Once few slots are left (E ~ 0.6 sqrt(M)), it is cheaper to compute for every empty
//     slot s how many steps the backend needs to reach it, d(s) = (s - next) * skip^-1 mod M, and
//     take the smallest: the permutation visits s after exactly d(s) steps and no earlier slot is
//     empty, so it is the slot probing would find.
//
// tests/hashing/maglev_test.cc checks the tables against a plain transcription of the paper's
// pseudocode; bench/hashing/maglev_bench.cc times them (2.6x faster than the plain probe loop with
// AVX-512).
#include "hashing/maglev.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "absl/strings/str_format.h"
#include "hashing/backend_sort.h"

namespace lb::hashing {
namespace {

// Offsets and skips come from two differently seeded hashes of the id, as in the paper (h1, h2).
constexpr uint64_t kOffsetSeedMix = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kSkipSeedMix = 0xc2b2ae3d27d4eb4fULL;

// Where the tail phase starts. With E empty slots, probing costs about M / (16 E) gathers per claim
// and the tail search E modular multiplies; the two balance near E = 0.6 * sqrt(M) on the build
// benchmark (the optimum is flat: 0.4 to 1.0 is within a few percent).
uint32_t tailThreshold(uint32_t table_size) {
  return static_cast<uint32_t>(0.6 * std::sqrt(static_cast<double>(table_size)));
}

// pos + skip (mod size) for pos, skip < size <= 2^24, without a division or a branch: when the sum is
// below size, sum - size wraps to a larger unsigned value and min() keeps the sum. (Written as a
// ternary, GCC emits a branch here, and whether a permutation wraps is a coin toss.)
inline uint32_t stepMod(uint32_t pos, uint32_t skip, uint32_t size) {
  const uint32_t sum = pos + skip;
  return std::min(sum, sum - size);
}

// skip^-1 mod size (size prime, 0 < skip < size), by the extended Euclidean algorithm. Every value
// stays below size <= 2^24 in magnitude, so 32-bit division (several times faster than 64-bit on
// x86) suffices.
uint32_t inverseMod(uint32_t skip, uint32_t size) {
  int32_t r0 = static_cast<int32_t>(size), r1 = static_cast<int32_t>(skip), t0 = 0, t1 = 1;
  while (r1 != 0) {
    const int32_t q = r0 / r1;
    r0 -= q * r1;
    std::swap(r0, r1);
    t0 -= q * t1;
    std::swap(t0, t1);
  }
  return static_cast<uint32_t>(t0 < 0 ? t0 + static_cast<int32_t>(size) : t0);
}

// Probing state of one backend. step[k] = k * skip mod M, so the next kLanes candidates of the
// permutation are next + step[k] (mod M) and can be tested all at once.
constexpr uint32_t kLanes = 16;
// Turns whose searches run together (see build()). 8 and 32 were measured slower.
constexpr uint32_t kGroup = 16;
// Below this fill fraction two backends share a gather (Occupancy::firstFreePair).
constexpr double kPairedFill = 0.6;

struct alignas(64) Cursor {
  uint32_t step[kLanes];
  uint32_t next;        // the slot this backend tries next
  uint32_t step_lanes;  // kLanes * skip mod M: moves next past a block of candidates
  uint32_t skip() const { return step[1]; }
};

// Which slots are taken, one bit each (8 KiB for M = 65537, so it stays in L1).
class Occupancy {
 public:
  explicit Occupancy(uint32_t size) : size_(size), words_((size + 31) / 32, 0) {}
  bool taken(uint32_t slot) const { return (words_[slot >> 5] >> (slot & 31)) & 1; }
  void take(uint32_t slot) { words_[slot >> 5] |= uint32_t{1} << (slot & 31); }
  uint32_t size() const { return size_; }
  const uint32_t* words() const { return words_.data(); }

  template <class Fn>
  void forEachFree(Fn&& fn) const {
    for (uint32_t w = 0; w < words_.size(); ++w) {
      for (uint32_t free = ~words_[w]; free != 0; free &= free - 1) {
        const uint32_t slot = w * 32 + static_cast<uint32_t>(std::countr_zero(free));
        if (slot < size_) fn(slot);
      }
    }
  }

 private:
  uint32_t size_;
  std::vector<uint32_t> words_;
};

// How a backend finds the first free slot of its permutation from `start` (there always is one: the
// table has an empty slot, and a permutation visits every slot). Two implementations of the same
// search, picked once per build by CPU (see build()).

// Any CPU: one probe at a time.
struct ScalarProbe {
  static constexpr bool kPairs = false;
  static uint32_t firstFree(const Occupancy& occupied, const Cursor& c, uint32_t start) {
    uint32_t pos = start;
    while (occupied.taken(pos)) pos = stepMod(pos, c.skip(), occupied.size());
    return pos;
  }
  static void firstFreePair(const Occupancy&, const Cursor&, const Cursor&, uint32_t&, uint32_t&) {}
};

#if defined(__x86_64__)
// The project builds for a baseline x86-64 (DPDK pins corei7, and valgrind must run the binaries), so
// the AVX-512 search is compiled for that ISA only, function by function, and used when the CPU
// reports it (valgrind's emulated CPU does not).
#define TETHER_AVX512_TARGET \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,bmi,bmi2,lzcnt,popcnt")))
#define TETHER_HAVE_AVX512_PROBE 1

// Sixteen candidates per gather. A probe loop's exit branch is unpredictable (whether a slot is free
// is a coin toss) and mispredicted about once per claim; here one branch covers 16 probes.
// Arithmetic uses GCC vector extensions rather than intrinsics: GCC 12's unmasked AVX-512 intrinsics
// trip -Wmaybe-uninitialized inside its own headers (GCC bug 105593).
struct Avx512Probe {
  static constexpr bool kPairs = true;
  using U32x8 = uint32_t __attribute__((vector_size(32)));
  using U32x16 = uint32_t __attribute__((vector_size(64)));

  // Bit i set when slot pos[i] is free: one gather of the 16 bitmap words, then a shift per lane.
  TETHER_AVX512_TARGET static uint32_t freeLanes(const Occupancy& occupied, U32x16 pos) {
    const __m512i words = _mm512_mask_i32gather_epi32(
        _mm512_setzero_si512(), 0xffff, reinterpret_cast<__m512i>(pos >> 5), occupied.words(), 4);
    const U32x16 bits = reinterpret_cast<U32x16>(words) >> (pos & 31);
    return _mm512_testn_epi32_mask(reinterpret_cast<__m512i>(bits), _mm512_set1_epi32(1));
  }

  TETHER_AVX512_TARGET static uint32_t firstFree(const Occupancy& occupied, const Cursor& c,
                                                 uint32_t start) {
    U32x16 steps;
    std::memcpy(&steps, c.step, sizeof(steps));
    const uint32_t m = occupied.size();
    const U32x16 size = steps * 0 + m;
    uint32_t base = start;
    for (;;) {
      U32x16 pos = steps + base;
      pos = pos >= size ? pos - size : pos;  // base + step < 2M: wrap once
      const uint32_t free = freeLanes(occupied, pos);
      if (free != 0) return stepMod(base, c.step[std::countr_zero(free)], m);
      base = stepMod(base, c.step_lanes, m);
    }
  }

  // Two backends from one gather of 8 candidates each. While the table is under about 60% full, 8
  // candidates almost always include a free slot, and gathers are what probing costs, so sharing one
  // halves the work; a backend whose 8 candidates are all taken (rare) continues alone.
  TETHER_AVX512_TARGET static void firstFreePair(const Occupancy& occupied, const Cursor& a,
                                                 const Cursor& b, uint32_t& out_a,
                                                 uint32_t& out_b) {
    constexpr uint32_t kPer = kLanes / 2;
    U32x8 steps_a, steps_b;
    std::memcpy(&steps_a, a.step, sizeof(steps_a));
    std::memcpy(&steps_b, b.step, sizeof(steps_b));
    const U32x16 steps = __builtin_shufflevector(steps_a, steps_b, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                 11, 12, 13, 14, 15);
    const uint32_t m = occupied.size();
    const U32x16 zero = steps * 0;
    const U32x16 lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const U32x16 size = zero + m;
    U32x16 pos = steps + (lane < kPer ? zero + a.next : zero + b.next);
    pos = pos >= size ? pos - size : pos;
    const uint32_t free = freeLanes(occupied, pos);
    const uint32_t free_a = free & ((1u << kPer) - 1), free_b = free >> kPer;
    out_a = free_a != 0 ? stepMod(a.next, a.step[std::countr_zero(free_a)], m)
                        : firstFree(occupied, a, stepMod(a.next, a.step[kPer], m));
    out_b = free_b != 0 ? stepMod(b.next, b.step[std::countr_zero(free_b)], m)
                        : firstFree(occupied, b, stepMod(b.next, b.step[kPer], m));
  }
};
#else
#define TETHER_HAVE_AVX512_PROBE 0
#endif

// Whose turn it is. Unweighted sets (every active weight equal) simply cycle; otherwise a backend
// takes its turn in round r only while claimed/r < weight/max_weight (Envoy's maglev_lb.cc), so its
// share of slots follows its weight.
class TurnOrder {
 public:
  TurnOrder(const std::vector<WeightedBackend>& backends, std::vector<BackendIndex> active)
      : backends_(backends),
        active_(std::move(active)),
        claimed_(backends.size(), 0),
        in_group_(backends.size(), 0) {
    for (BackendIndex i : active_) max_weight_ = std::max(max_weight_, backends_[i].weight);
    for (BackendIndex i : active_) equal_weights_ &= backends_[i].weight == max_weight_;
  }

  BackendIndex next() {
    if (pending_ != kNoBackend) return std::exchange(pending_, kNoBackend);
    for (;;) {
      const BackendIndex i = active_[cursor_];
      const uint64_t round = round_;
      advance();
      if (equal_weights_) return i;
      if (claimed_[i] * max_weight_ < uint64_t{backends_[i].weight} * round) {
        ++claimed_[i];
        return i;
      }
    }
  }

  // The next turns, at least one and at most `limit`, stopping before a backend would repeat so that
  // the group's searches are independent. Returns how many were written to `group`.
  uint32_t nextGroup(BackendIndex* group, uint32_t limit) {
    if (equal_weights_) {  // plain rotation: any active.size() consecutive turns are distinct
      const auto count = static_cast<uint32_t>(std::min<size_t>(limit, active_.size()));
      for (uint32_t t = 0; t < count; ++t) {
        group[t] = active_[cursor_];
        advance();
      }
      return count;
    }
    uint32_t count = 0;
    while (count < limit) {
      const BackendIndex b = next();
      if (in_group_[b] != 0) {
        pending_ = b;  // handed back: next() returns it first
        break;
      }
      in_group_[b] = 1;
      group[count++] = b;
    }
    for (uint32_t t = 0; t < count; ++t) in_group_[group[t]] = 0;
    return count;
  }

 private:
  void advance() {
    if (++cursor_ == active_.size()) {
      cursor_ = 0;
      ++round_;
    }
  }

  const std::vector<WeightedBackend>& backends_;
  std::vector<BackendIndex> active_;  // positions with weight > 0, in id order
  std::vector<uint64_t> claimed_;
  std::vector<uint8_t> in_group_;
  uint32_t max_weight_ = 0;
  bool equal_weights_ = true;
  size_t cursor_ = 0;
  uint64_t round_ = 1;
  BackendIndex pending_ = kNoBackend;
};

// The tail phase: claims the remaining empty slots (free_slots, any order) one turn at a time.
[[gnu::always_inline]] inline void fillTail(std::vector<uint32_t> free_slots,
                                            std::vector<Cursor>& cursors, TurnOrder& turns,
                                            uint32_t size, BackendIndex* slots) {
  std::vector<uint32_t> inverse(cursors.size(), 0);  // 0 = not computed yet; skip^-1 is never 0
  while (!free_slots.empty()) {
    const BackendIndex b = turns.next();
    Cursor& c = cursors[b];
    if (inverse[b] == 0) inverse[b] = inverseMod(c.skip(), size);
    // d(s) = (s - next) * inv mod size by Shoup's method: with inv_shoup = floor(inv * 2^32 / size),
    // q = floor(x * inv_shoup / 2^32) is the quotient of x * inv / size or one less, so one
    // conditional subtract finishes the reduction. No division in the loop, and it vectorises.
    const uint64_t inv = inverse[b];
    const uint64_t inv_shoup = (inv << 32) / size;
    const uint32_t next = c.next;
    uint64_t best = ~uint64_t{0};  // (steps << 32) | index in free_slots
    for (size_t k = 0; k < free_slots.size(); ++k) {
      const uint32_t s = free_slots[k];
      const uint64_t x = std::min(s - next, s - next + size);  // (s - next) mod size
      const uint64_t q = (x * inv_shoup) >> 32;
      const uint64_t r = x * inv - q * size;
      const uint64_t steps = std::min(r, r - size);  // r < 2 * size
      best = std::min(best, (steps << 32) | k);
    }
    const auto k = static_cast<size_t>(best & 0xffffffffu);
    const uint32_t slot = free_slots[k];
    free_slots[k] = free_slots.back();
    free_slots.pop_back();
    slots[slot] = b;
    c.next = stepMod(slot, c.skip(), size);
  }
}

// Fills every slot: grouped probing until `tail` slots are left, then the tail search. Inlined into
// one wrapper per Probe so that the AVX-512 wrapper compiles all of it, the tail's vectorised loop
// included, for AVX-512.
template <class Probe>
[[gnu::always_inline]] inline void fillTable(std::vector<Cursor>& cursors, TurnOrder& turns,
                                             uint32_t table_size, BackendIndex* slots) {
  Occupancy occupied(table_size);
  const uint32_t tail = std::min(tailThreshold(table_size), table_size);
  BackendIndex group[kGroup];
  uint32_t candidate[kGroup];
  for (uint32_t empty = table_size; empty > tail;) {
    const uint32_t members = turns.nextGroup(group, std::min(kGroup, empty - tail));
    // Each member's first free slot as of the start of the group. The searches are independent, so
    // the CPU overlaps them instead of waiting out one probe loop (and its mispredicted exit) at a
    // time.
    uint32_t t = 0;
    if constexpr (Probe::kPairs) {
      if (table_size - empty < kPairedFill * table_size) {
        for (; t + 1 < members; t += 2) {
          Probe::firstFreePair(occupied, cursors[group[t]], cursors[group[t + 1]], candidate[t],
                               candidate[t + 1]);
        }
      }
    }
    for (; t < members; ++t) {
      const Cursor& c = cursors[group[t]];
      candidate[t] = Probe::firstFree(occupied, c, c.next);
    }
    // Claims in turn order. Every slot before a candidate in its permutation was already taken, so
    // the candidate is the paper's answer unless an earlier member of this group took it; then
    // (rarely) the search resumes from there.
    for (uint32_t t = 0; t < members; ++t) {
      const BackendIndex b = group[t];
      Cursor& c = cursors[b];
      uint32_t pos = candidate[t];
      if (occupied.taken(pos)) pos = Probe::firstFree(occupied, c, pos);
      occupied.take(pos);
      slots[pos] = b;
      c.next = stepMod(pos, c.skip(), table_size);
    }
    empty -= members;
  }

  std::vector<uint32_t> free_slots;
  free_slots.reserve(tail);
  occupied.forEachFree([&](uint32_t slot) { free_slots.push_back(slot); });
  fillTail(std::move(free_slots), cursors, turns, table_size, slots);
}

void fillTableScalar(std::vector<Cursor>& cursors, TurnOrder& turns, uint32_t table_size,
                     BackendIndex* slots) {
  fillTable<ScalarProbe>(cursors, turns, table_size, slots);
}

#if TETHER_HAVE_AVX512_PROBE
TETHER_AVX512_TARGET void fillTableAvx512(std::vector<Cursor>& cursors, TurnOrder& turns,
                                          uint32_t table_size, BackendIndex* slots) {
  fillTable<Avx512Probe>(cursors, turns, table_size, slots);
}

bool cpuHasAvx512Probe() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("bmi2");
}
#endif

}  // namespace

bool isPrime(uint64_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (uint64_t d = 3; d * d <= n; d += 2) {
    if (n % d == 0) return false;
  }
  return true;
}

absl::StatusOr<MaglevTable> MaglevTable::build(std::span<const WeightedBackend> backends,
                                               uint32_t table_size, uint64_t seed) {
  if (table_size > kMaxSize) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "maglev table size %d exceeds the limit of %d slots", table_size, kMaxSize));
  }
  if (!isPrime(table_size)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("maglev table size %d is not prime", table_size));
  }
  if (table_size < backends.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "maglev table size %d is smaller than the number of backends (%d)", table_size,
        backends.size()));
  }
  auto sorted = detail::sortedUniqueBackends(backends);
  if (!sorted.ok()) return sorted.status();

  MaglevTable table;
  table.seed_ = seed;
  table.backends_ = *std::move(sorted);
  table.slots_.assign(table_size, kNoBackend);

  const size_t n = table.backends_.size();
  std::vector<BackendIndex> active;
  active.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (table.backends_[i].weight > 0) active.push_back(static_cast<BackendIndex>(i));
  }
  if (active.empty()) return table;

  std::vector<Cursor> cursors(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t id = table.backends_[i].id;
    const uint64_t h1 = hashBytes({reinterpret_cast<const char*>(&id), sizeof(id)},
                                  seed ^ kOffsetSeedMix);
    const uint64_t h2 = hashBytes({reinterpret_cast<const char*>(&id), sizeof(id)},
                                  seed ^ kSkipSeedMix);
    Cursor& c = cursors[i];
    c.next = static_cast<uint32_t>(h1 % table_size);
    const uint32_t skip = static_cast<uint32_t>(h2 % (table_size - 1)) + 1;
    c.step[0] = 0;
    for (uint32_t k = 1; k < kLanes; ++k) c.step[k] = stepMod(c.step[k - 1], skip, table_size);
    c.step_lanes = stepMod(c.step[kLanes - 1], skip, table_size);
  }

  TurnOrder turns(table.backends_, std::move(active));
  BackendIndex* slots = table.slots_.data();
#if TETHER_HAVE_AVX512_PROBE
  if (cpuHasAvx512Probe()) {
    fillTableAvx512(cursors, turns, table_size, slots);
    return table;
  }
#endif
  fillTableScalar(cursors, turns, table_size, slots);
  return table;
}

std::vector<uint32_t> MaglevTable::entriesPerBackend() const {
  std::vector<uint32_t> counts(backends_.size(), 0);
  for (BackendIndex owner : slots_) {
    if (owner != kNoBackend) ++counts[owner];
  }
  return counts;
}

std::vector<double> MaglevTable::hashSpaceShare() const {
  const std::vector<uint32_t> counts = entriesPerBackend();
  std::vector<double> shares(counts.size());
  for (size_t i = 0; i < counts.size(); ++i) shares[i] = static_cast<double>(counts[i]) / size();
  return shares;
}

absl::StatusOr<std::vector<uint32_t>> changedSlots(const MaglevTable& before,
                                                   const MaglevTable& after) {
  if (before.size() != after.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "cannot compare maglev tables of sizes %d and %d", before.size(), after.size()));
  }
  auto owner_id = [](const MaglevTable& t, uint32_t slot) -> uint64_t {
    const BackendIndex owner = t.slotOwner(slot);
    return owner == kNoBackend ? ~uint64_t{0} : t.backends()[owner].id;
  };
  std::vector<uint32_t> changed;
  for (uint32_t slot = 0; slot < before.size(); ++slot) {
    if (owner_id(before, slot) != owner_id(after, slot)) changed.push_back(slot);
  }
  return changed;
}

}  // namespace lb::hashing
