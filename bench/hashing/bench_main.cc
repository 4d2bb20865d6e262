// Entry point for hashing_bench: google/benchmark's main plus the context every number needs (CPU
// model, table sizes), so a pasted result says which machine produced it.
#include <benchmark/benchmark.h>

#include <fstream>
#include <string>

#include "bench/bench_context.h"
#include "hashing/maglev.h"

namespace {


}  // namespace

int main(int argc, char** argv) {
  benchmark::AddCustomContext("cpu_model", lb::bench::cpuModel());
  benchmark::AddCustomContext("key_hash", "XXH3-64 seeded, libxxhash " +
                                              std::to_string(XXH_VERSION_MAJOR) + "." +
                                              std::to_string(XXH_VERSION_MINOR) + "." +
                                              std::to_string(XXH_VERSION_RELEASE));
  benchmark::AddCustomContext("maglev_default_slots",
                              std::to_string(lb::hashing::MaglevTable::kDefaultSize));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
