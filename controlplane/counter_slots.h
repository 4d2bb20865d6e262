// Stable slots: a key keeps its small integer slot across table rebuilds.
// - CounterSlots: (service, backend address, port) -> index into the workers' per-backend counters,
//   so they never reset or move when the backend set changes.
// - ServiceSlots: HTTP service name -> its index in the sticky-session table
//   (dataplane/session_table.h), which sessions carry and per-service timeouts are kept by.
// Freed slots are reused oldest first, and only once every never-used slot is taken: counters of a
// removed backend, or sessions a removed service left in the table until they expire, rarely meet a
// new key under the same slot. When sessions do, their backend ids are not the new service's and the
// dataplane treats them as gone (RebindCause::kTargetGone).
#pragma once

#include <cstdint>
#include <deque>
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"

namespace lb::controlplane {

struct BackendKey {
  std::string service;
  uint32_t address = 0;  // host order
  uint16_t port = 0;
  auto operator<=>(const BackendKey&) const = default;
};

template <class Key, class Slot>
class StableSlots {
 public:
  // `what` names the keys in the exhaustion error ("backends", "HTTP services").
  StableSlots(uint32_t capacity, const char* what) : capacity_(capacity), what_(what) {}

  // Existing slot for the key, or a new one; ResourceExhausted when every slot is taken.
  absl::StatusOr<Slot> slotFor(const Key& key) {
    if (auto it = slots_.find(key); it != slots_.end()) return it->second;
    Slot slot;
    if (next_unused_ < capacity_) {
      slot = static_cast<Slot>(next_unused_++);
    } else if (!released_.empty()) {
      slot = released_.front();
      released_.pop_front();
    } else {
      return absl::ResourceExhaustedError(absl::StrFormat("more than %d %s", capacity_, what_));
    }
    slots_.emplace(key, slot);
    return slot;
  }

  // Frees the slots of keys not in `live` (after a reload removed them).
  void retainOnly(const std::vector<Key>& live) {
    for (auto it = slots_.begin(); it != slots_.end();) {
      if (std::find(live.begin(), live.end(), it->first) == live.end()) {
        released_.push_back(it->second);
        it = slots_.erase(it);
      } else {
        ++it;
      }
    }
  }

  const std::map<Key, Slot>& slots() const { return slots_; }

 private:
  uint32_t capacity_;
  const char* what_;
  uint32_t next_unused_ = 0;
  std::deque<Slot> released_;
  std::map<Key, Slot> slots_;
};

class CounterSlots : public StableSlots<BackendKey, uint32_t> {
 public:
  explicit CounterSlots(uint32_t capacity) : StableSlots(capacity, "backends (counter slots)") {}
};

class ServiceSlots : public StableSlots<std::string, uint16_t> {
 public:
  explicit ServiceSlots(uint32_t capacity)
      : StableSlots(capacity > UINT16_MAX + 1u ? UINT16_MAX + 1u : capacity,
                    "HTTP services (session table service slots)") {}
};

}  // namespace lb::controlplane
