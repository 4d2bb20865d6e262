// Stable per-backend counter slots: a (service, backend address, port) keeps its slot across table
// rebuilds, so per-backend counters in the workers never reset or move when the set changes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"

namespace lb::controlplane {

struct BackendKey {
  std::string service;
  uint32_t address = 0;  // host order
  uint16_t port = 0;
  auto operator<=>(const BackendKey&) const = default;
};

class CounterSlots {
 public:
  explicit CounterSlots(uint32_t capacity) : capacity_(capacity) {}

  // Existing slot for the key, or a new one; ResourceExhausted when every slot is taken.
  absl::StatusOr<uint32_t> slotFor(const BackendKey& key);
  // Frees slots of keys not in `live` (after a reload removed them).
  void retainOnly(const std::vector<BackendKey>& live);
  const std::map<BackendKey, uint32_t>& slots() const { return slots_; }

 private:
  uint32_t capacity_;
  uint32_t next_unused_ = 0;
  std::vector<uint32_t> released_;
  std::map<BackendKey, uint32_t> slots_;
};

}  // namespace lb::controlplane
