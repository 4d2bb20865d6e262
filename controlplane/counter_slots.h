// Stable per-backend counter slots: a (service, backend address, port) keeps its slot across table
// rebuilds, so per-backend counters in the workers never reset or move when the set changes.
// ServiceSlots does the same for service names: the index of an HTTP service in the sticky-session
// table (dataplane/session_table.h), which sessions carry and per-service timeouts are kept by.
#pragma once

#include <cstdint>
#include <deque>
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

class ServiceSlots {
 public:
  explicit ServiceSlots(uint32_t capacity) : capacity_(capacity) {}

  // Existing index for the name, or a new one; ResourceExhausted when every index is taken.
  absl::StatusOr<uint16_t> slotFor(const std::string& name);
  // Frees the indices of names not in `live`. Freed indices are reused oldest first, and only once
  // every never-used index is taken, so sessions a removed service left in the table (until they
  // expire) rarely meet a new service under the same index. When they do, their backend ids are not
  // the new service's and the dataplane treats them as gone (RebindCause::kTargetGone).
  void retainOnly(const std::vector<std::string>& live);
  const std::map<std::string, uint16_t>& slots() const { return slots_; }

 private:
  uint32_t capacity_;
  uint32_t next_unused_ = 0;
  std::deque<uint16_t> released_;
  std::map<std::string, uint16_t> slots_;
};

}  // namespace lb::controlplane
