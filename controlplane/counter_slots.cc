#include "controlplane/counter_slots.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_format.h"

namespace lb::controlplane {

absl::StatusOr<uint32_t> CounterSlots::slotFor(const BackendKey& key) {
  if (auto it = slots_.find(key); it != slots_.end()) return it->second;
  uint32_t slot;
  if (next_unused_ < capacity_) {
    slot = next_unused_++;
  } else if (!released_.empty()) {
    slot = released_.back();
    released_.pop_back();
  } else {
    return absl::ResourceExhaustedError("more backends than counter slots");
  }
  slots_.emplace(key, slot);
  return slot;
}

void CounterSlots::retainOnly(const std::vector<BackendKey>& live) {
  for (auto it = slots_.begin(); it != slots_.end();) {
    if (std::find(live.begin(), live.end(), it->first) == live.end()) {
      released_.push_back(it->second);
      it = slots_.erase(it);
    } else {
      ++it;
    }
  }
}

absl::StatusOr<uint16_t> ServiceSlots::slotFor(const std::string& name) {
  if (auto it = slots_.find(name); it != slots_.end()) return it->second;
  uint16_t slot;
  if (next_unused_ < capacity_ && next_unused_ <= UINT16_MAX) {
    slot = static_cast<uint16_t>(next_unused_++);
  } else if (!released_.empty()) {
    slot = released_.front();
    released_.pop_front();
  } else {
    return absl::ResourceExhaustedError(
        absl::StrFormat("more than %d HTTP services (session table service slots)", capacity_));
  }
  slots_.emplace(name, slot);
  return slot;
}

void ServiceSlots::retainOnly(const std::vector<std::string>& live) {
  for (auto it = slots_.begin(); it != slots_.end();) {
    if (std::find(live.begin(), live.end(), it->first) == live.end()) {
      released_.push_back(it->second);
      it = slots_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace lb::controlplane
