#include "dataplane/flow_table.h"

#include <bit>
#include <cassert>

namespace lb::dataplane {

FlowTable::FlowTable(uint32_t capacity, uint64_t hash_seed)
    : entries_(std::bit_ceil(capacity), FlowEntry{}),
      index_(size_t{std::bit_ceil(capacity)} * 4, kEmpty),
      seed_(hash_seed) {
  index_mask_ = static_cast<uint32_t>(index_.size() - 1);
  free_list_.reserve(entries_.size());
  // Pop order hands out low indices first, which keeps a lightly loaded table cache-dense.
  for (uint32_t i = static_cast<uint32_t>(entries_.size()); i > 0; --i) free_list_.push_back(i - 1);
}

bool FlowTable::indexInsert(uint64_t hash, uint32_t entry, uint32_t direction) {
  // Load is bounded by capacity (2 index slots per entry, 4 slots per entry), so a free slot exists.
  uint32_t pos = static_cast<uint32_t>(hash) & index_mask_;
  while (index_[pos] != kEmpty) pos = (pos + 1) & index_mask_;
  index_[pos] = makeSlot(hash, entry, direction);
  return true;
}

void FlowTable::indexErase(uint64_t hash, uint32_t entry, uint32_t direction) {
  const uint64_t wanted = makeSlot(hash, entry, direction);
  uint32_t hole = static_cast<uint32_t>(hash) & index_mask_;
  while (index_[hole] != wanted) {
    if (index_[hole] == kEmpty) return;
    hole = (hole + 1) & index_mask_;
  }
  // Backward-shift: pull later members of the probe run into the hole when their home allows it.
  for (uint32_t next = (hole + 1) & index_mask_; index_[next] != kEmpty;
       next = (next + 1) & index_mask_) {
    const uint32_t home = static_cast<uint32_t>(index_[next] >> 32) & index_mask_;
    const bool home_in_gap = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
    if (home_in_gap) continue;
    index_[hole] = index_[next];
    hole = next;
  }
  index_[hole] = kEmpty;
}

FlowEntry* FlowTable::insert(const hashing::FlowKeyV4& client_key, uint64_t client_hash) {
  if (free_list_.empty()) return nullptr;
  const uint32_t idx = free_list_.back();
  free_list_.pop_back();
  FlowEntry& e = entries_[idx];
  e = FlowEntry{};
  e.client_key = client_key;
  e.in_use = true;
  indexInsert(client_hash, idx, 0);
  ++used_;
  return &e;
}

bool FlowTable::addReplyKey(FlowEntry* entry, const hashing::FlowKeyV4& reply_key) {
  const uint32_t idx = static_cast<uint32_t>(entry - entries_.data());
  entry->reply_key = reply_key;
  entry->has_reply_key = true;
  return indexInsert(hashKey(reply_key), idx, 1);
}

void FlowTable::erase(FlowEntry* entry) {
  assert(entry->in_use);
  const uint32_t idx = static_cast<uint32_t>(entry - entries_.data());
  indexErase(hashKey(entry->client_key), idx, 0);
  if (entry->has_reply_key) indexErase(hashKey(entry->reply_key), idx, 1);
  entry->in_use = false;
  free_list_.push_back(idx);
  --used_;
}

}  // namespace lb::dataplane
