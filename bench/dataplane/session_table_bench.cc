// Sticky-session table (dataplane/session_table.h) costs against issue 5's targets: >= 40M batched
// lookups per second per core with 4M entries, <= 64 bytes per entry.
//
// Each table is filled to its configured capacity (80% of slots, the load it is sized for) with
// uniform keys, as sessionKey() makes them, once per size and shared by the benchmarks. Lookups take
// present keys in a shuffled order, generated before the timed loop and read sequentially, so every
// burst hits random buckets across the whole table as a worker's traffic would. The clock advances
// one second every 2^20 bursts (about 1 s of traffic at the target rate), so hits renew entries as
// they would in service. Single thread unless the name says otherwise.
//
// Counters: bytes_per_entry is all table memory over its capacity; load is entries over slots;
// thp_share is the fraction of the table backed by transparent huge pages (no EAL here, so the table
// is anonymous memory rather than DPDK hugepages).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_context.h"
#include "dataplane/session_table.h"

namespace lb::dataplane::bench {
namespace {

constexpr uint32_t kStart = 1000;  // seconds on the table's clock at fill time
constexpr size_t kBurst = 32;

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

SessionKey benchKey(uint64_t n) { return SessionKey::fromHash(splitmix(n)); }


uint64_t anonHugeBytes() {
  std::ifstream smaps("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(smaps, line)) {
    if (line.rfind("AnonHugePages:", 0) == 0) return std::stoull(line.substr(14)) * 1024;
  }
  return 0;
}

struct FilledTable {
  std::unique_ptr<SessionTable> table;
  std::vector<SessionKey> probe_order;  // the inserted keys, shuffled
  double thp_share = 0;
  uint64_t evictions = 0;
  uint64_t next_fresh = uint64_t{1} << 43;  // churn's next new key, kept across repetitions
  size_t churn_oldest = 0;                  // churn's next probe_order entry to replace
};

SessionTableConfig configFor(uint64_t entries) {
  return {.capacity = entries,
          .default_timeouts = {.idle_s = 1u << 30, .lifetime_s = 1u << 30}};
}

// Built once per size: a 10M-entry fill takes seconds.
FilledTable& filled(uint64_t entries) {
  static std::map<uint64_t, std::unique_ptr<FilledTable>> cache;
  auto& slot = cache[entries];
  if (slot) return *slot;
  slot = std::make_unique<FilledTable>();
  const uint64_t huge_before = anonHugeBytes();
  slot->table = std::move(SessionTable::create(configFor(entries))).value();
  slot->thp_share = static_cast<double>(anonHugeBytes() - huge_before) /
                    static_cast<double>(slot->table->memoryBytes());
  SessionCounters counters;
  slot->probe_order.resize(entries);
  for (uint64_t i = 0; i < entries; ++i) {
    const SessionKey k = benchKey(i);
    slot->table->insert(k, {.backend_id = i, .service = static_cast<uint16_t>(i % 64)}, kStart,
                        counters);
    slot->probe_order[i] = k;
  }
  slot->evictions = counters.evictions.read();
  std::shuffle(slot->probe_order.begin(), slot->probe_order.end(), std::mt19937_64(3));
  return *slot;
}

void tableCounters(benchmark::State& state, const FilledTable& f) {
  const SessionTable& t = *f.table;
  state.counters["bytes_per_entry"] =
      static_cast<double>(t.memoryBytes()) / static_cast<double>(t.capacity());
  state.counters["load"] = static_cast<double>(t.occupied()) / static_cast<double>(t.slotCount());
  state.counters["thp_share"] = f.thp_share;
  state.counters["fill_evictions"] = static_cast<double>(f.evictions);
}

void sizes(benchmark::internal::Benchmark* b) {
  b->ArgName("entries");
  for (int64_t n : {int64_t{1} << 20, int64_t{4} << 20, int64_t{10} << 20}) b->Arg(n);
}

// Bursts of 32 present keys through lookupBatch. With `prefetch_next`, the next burst's buckets are
// prefetched before the current burst is looked up, so the misses of consecutive bursts overlap (what
// a worker does when it prefetches a burst ahead).
void lookupPresentBursts(benchmark::State& state, bool prefetch_next) {
  FilledTable& f = filled(static_cast<uint64_t>(state.range(0)));
  const size_t bursts = f.probe_order.size() / kBurst;
  SessionCounters counters;
  SessionLookup out[kBurst];
  size_t burst = 0;
  uint64_t total = 0;
  if (prefetch_next) f.table->prefetchBatch(&f.probe_order[0], kBurst);
  for (auto _ : state) {
    const auto now = static_cast<uint32_t>(kStart + (total >> 20));
    const size_t next = burst + 1 == bursts ? 0 : burst + 1;
    if (prefetch_next) f.table->prefetchBatch(&f.probe_order[next * kBurst], kBurst);
    f.table->lookupBatch(&f.probe_order[burst * kBurst], kBurst, out, now, counters);
    benchmark::DoNotOptimize(out);
    burst = next;
    ++total;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBurst));
  state.counters["hit_rate"] =
      static_cast<double>(counters.hits.read()) / static_cast<double>(counters.lookups.read());
  state.counters["burst"] = kBurst;
  tableCounters(state, f);
}

// The dataplane's call: one burst at a time.
void BM_SessionLookupBatch(benchmark::State& state) { lookupPresentBursts(state, false); }
BENCHMARK(BM_SessionLookupBatch)->Apply(sizes)->ComputeStatistics("min", lb::bench::minOf);

void BM_SessionLookupBatchPipelined(benchmark::State& state) { lookupPresentBursts(state, true); }
BENCHMARK(BM_SessionLookupBatchPipelined)->Apply(sizes)->ComputeStatistics("min", lb::bench::minOf);

// Absent keys: both candidate buckets read in full, then the move counter confirms the miss.
void BM_SessionLookupBatchMiss(benchmark::State& state) {
  FilledTable& f = filled(static_cast<uint64_t>(state.range(0)));
  std::vector<SessionKey> absent(size_t{1} << 20);
  for (size_t i = 0; i < absent.size(); ++i) absent[i] = benchKey((uint64_t{1} << 40) + i);
  const size_t bursts = absent.size() / kBurst;
  SessionCounters counters;
  SessionLookup out[kBurst];
  size_t burst = 0;
  for (auto _ : state) {
    f.table->lookupBatch(&absent[burst * kBurst], kBurst, out, kStart, counters);
    benchmark::DoNotOptimize(out);
    if (++burst == bursts) burst = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBurst));
  state.counters["hit_rate"] =
      static_cast<double>(counters.hits.read()) / static_cast<double>(counters.lookups.read());
  tableCounters(state, f);
}
BENCHMARK(BM_SessionLookupBatchMiss)->Arg(int64_t{4} << 20)->ArgName("entries");

// One lookup per call, no staging: what the batch API saves.
void BM_SessionLookupSingle(benchmark::State& state) {
  FilledTable& f = filled(static_cast<uint64_t>(state.range(0)));
  SessionCounters counters;
  size_t i = 0;
  uint64_t total = 0;
  for (auto _ : state) {
    const auto now = static_cast<uint32_t>(kStart + (total >> 25));
    benchmark::DoNotOptimize(f.table->lookup(f.probe_order[i], now, counters));
    if (++i == f.probe_order.size()) i = 0;
    ++total;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  tableCounters(state, f);
}
BENCHMARK(BM_SessionLookupSingle)->Apply(sizes);

// Lookups while a second thread churns the same table (insert a new session, erase the oldest of
// its own): the cost of sharing one table between a reader and a writer core. items_per_second is
// per CPU-second of the reading thread (on a 2-core machine the two threads also share cores with
// everything else); the writer's insert+erase pairs per wall-clock second are writer_ops_per_s.
void BM_SessionLookupBatchWithWriter(benchmark::State& state) {
  FilledTable& f = filled(static_cast<uint64_t>(state.range(0)));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> writer_ops{0};
  std::thread writer([&] {
    SessionCounters counters;
    std::vector<SessionKey> window(4096);
    uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const SessionKey k = benchKey((uint64_t{1} << 41) + n);
      SessionKey& old = window[n % window.size()];
      if (n >= window.size()) f.table->erase(old, counters);
      f.table->insert(k, {.backend_id = n}, kStart, counters);
      old = k;
      ++n;
    }
    for (size_t i = 0; i < window.size() && i < n; ++i) f.table->erase(window[i], counters);
    writer_ops.store(n, std::memory_order_relaxed);
  });
  const size_t bursts = f.probe_order.size() / kBurst;
  SessionCounters counters;
  SessionLookup out[kBurst];
  size_t burst = 0;
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    f.table->lookupBatch(&f.probe_order[burst * kBurst], kBurst, out, kStart, counters);
    benchmark::DoNotOptimize(out);
    if (++burst == bursts) burst = 0;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stop = true;
  writer.join();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBurst));
  state.counters["writer_ops_per_s"] = static_cast<double>(writer_ops.load()) / seconds;
  state.counters["hit_rate"] =
      static_cast<double>(counters.hits.read()) / static_cast<double>(counters.lookups.read());
  state.counters["busy"] = static_cast<double>(counters.busy.read());
}
BENCHMARK(BM_SessionLookupBatchWithWriter)->Arg(int64_t{4} << 20)->ArgName("entries");

// Filling an empty table to capacity: the insert rate, cuckoo moves included (they grow with load).
void BM_SessionInsertFill(benchmark::State& state) {
  const auto entries = static_cast<uint64_t>(state.range(0));
  std::vector<SessionKey> keys(entries);
  for (uint64_t i = 0; i < entries; ++i) keys[i] = benchKey((uint64_t{1} << 42) + i);
  uint64_t relocations = 0;
  uint64_t evictions = 0;
  for (auto _ : state) {
    state.PauseTiming();  // once per fill of millions of inserts, not per insert
    auto table = std::move(SessionTable::create(configFor(entries))).value();
    SessionCounters counters;
    state.ResumeTiming();
    for (uint64_t i = 0; i < entries; ++i) {
      table->insert(keys[i], {.backend_id = i}, kStart, counters);
    }
    state.PauseTiming();
    relocations = counters.relocations.read();
    evictions = counters.evictions.read();
    table.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * entries));
  state.counters["relocations_per_insert"] =
      static_cast<double>(relocations) / static_cast<double>(entries);
  state.counters["evictions"] = static_cast<double>(evictions);
}
BENCHMARK(BM_SessionInsertFill)
    ->Arg(int64_t{1} << 20)
    ->Arg(int64_t{4} << 20)
    ->ArgName("entries")
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond);

// Steady state at capacity: each iteration inserts a new session and erases the oldest one.
void BM_SessionChurnAtCapacity(benchmark::State& state) {
  const auto entries = static_cast<uint64_t>(state.range(0));
  FilledTable& f = filled(entries);
  SessionCounters counters;
  for (auto _ : state) {
    size_t& oldest = f.churn_oldest;
    f.table->erase(f.probe_order[oldest], counters);
    const SessionKey k = benchKey(f.next_fresh++);
    f.table->insert(k, {.backend_id = f.next_fresh}, kStart, counters);
    f.probe_order[oldest] = k;  // keeps the table's contents and the probe list in step
    if (++oldest == f.probe_order.size()) oldest = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));  // insert+erase pairs
  state.counters["relocations_per_insert"] = static_cast<double>(counters.relocations.read()) /
                                             static_cast<double>(counters.inserts.read());
  state.counters["evictions"] = static_cast<double>(counters.evictions.read());
  tableCounters(state, f);
}
BENCHMARK(BM_SessionChurnAtCapacity)->Arg(int64_t{4} << 20)->ArgName("entries");

// The per-request key: XXH3-128 with the 192-byte secret over a cookie value.
void BM_SessionKey(benchmark::State& state) {
  const SessionSecret secret = SessionSecret::fromSeed(9);
  std::mt19937_64 rng(1);
  std::vector<std::string> cookies(256);
  for (auto& c : cookies) {
    c.resize(static_cast<size_t>(state.range(0)));
    for (char& ch : c) ch = static_cast<char>('a' + rng() % 26);
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(sessionKey(cookies[i++ & 255], secret));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_SessionKey)->Arg(16)->Arg(32)->Arg(64)->ArgName("cookie_bytes");


std::string firstLine(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace
}  // namespace lb::dataplane::bench

int main(int argc, char** argv) {
  using lb::dataplane::SessionTable;
  benchmark::AddCustomContext("cpu_model", lb::bench::cpuModel());
  benchmark::AddCustomContext(
      "layout", "2-choice cuckoo, 128-byte buckets of 4 x 32-byte slots, filled to capacity (" +
                    std::to_string(SessionTable::kLoadPercent) + "% of slots)");
  benchmark::AddCustomContext("burst", std::to_string(lb::dataplane::bench::kBurst));
  benchmark::AddCustomContext(
      "memory", "anonymous mmap, THP " +
                    lb::dataplane::bench::firstLine("/sys/kernel/mm/transparent_hugepage/enabled"));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
