// Entry point for hashing_bench: google/benchmark's main plus the context every number needs (CPU
// model, table sizes), so a pasted result says which machine produced it.
#include <benchmark/benchmark.h>

#include <fstream>
#include <string>

#include "hashing/maglev.h"

namespace {

std::string cpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown";
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::AddCustomContext("cpu_model", cpuModel());
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
