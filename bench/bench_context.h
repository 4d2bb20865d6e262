// Context every benchmark records next to its figures (house style section 10): the CPU it ran on,
// and the "min over repetitions" statistic used on machines shared with other work.
#pragma once

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

namespace lb::bench {

// The "model name" line of /proc/cpuinfo, or "unknown".
inline std::string cpuModel() {
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

// For ComputeStatistics("min", minOf): the least disturbed repetition on a noisy machine.
inline double minOf(const std::vector<double>& values) {
  return values.empty() ? 0.0 : *std::min_element(values.begin(), values.end());
}

}  // namespace lb::bench
