#include "dataplane/flow_table.h"

#include <bit>
#include <cassert>
#include <stdexcept>

namespace lb::dataplane {

FlowTable::FlowTable(uint32_t capacity, uint64_t hash_seed)
    : entries_(std::bit_ceil(capacity), FlowEntry{}),
      index_(size_t{std::bit_ceil(capacity)} * 4, kEmpty),
      seed_(hash_seed) {
  index_mask_ = static_cast<uint32_t>(index_.size() - 1);
  // Home slots come from the tag's 30 hash bits (clientTag).
  if (index_mask_ > kTagHashBits) throw std::length_error("flow table: more than 2^28 entries");
  free_list_.reserve(entries_.size());
  // Pop order hands out low indices first, which keeps a lightly loaded table cache-dense.
  for (uint32_t i = static_cast<uint32_t>(entries_.size()); i > 0; --i) free_list_.push_back(i - 1);
}

void FlowTable::indexInsert(uint32_t tag, uint32_t entry) {
  // Load is bounded by capacity (2 index slots per entry, 4 slots per entry), so a free slot exists.
  uint32_t pos = tag & index_mask_;
  while (index_[pos] != kEmpty) pos = (pos + 1) & index_mask_;
  index_[pos] = makeSlot(tag, entry);
}

void FlowTable::indexErase(uint32_t tag, uint32_t entry) {
  const uint64_t wanted = makeSlot(tag, entry);
  uint32_t hole = tag & index_mask_;
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
  storeKey(e.client_key, client_key);
  e.in_use = true;
  indexInsert(clientTag(client_hash), idx);
  ++used_;
  return &e;
}

bool FlowTable::addReplyKey(FlowEntry* entry, const hashing::FlowKeyV4& reply_key) {
  const uint32_t idx = static_cast<uint32_t>(entry - entries_.data());
  storeKey(entry->reply_key, reply_key);
  entry->has_reply_key = true;
  indexInsert(replyTag(hashKey(reply_key)), idx);
  return true;
}

void FlowTable::erase(FlowEntry* entry) {
  assert(entry->in_use);
  const uint32_t idx = static_cast<uint32_t>(entry - entries_.data());
  indexErase(clientTag(hashKey(entry->client_key)), idx);
  if (entry->has_reply_key) indexErase(replyTag(hashKey(entry->reply_key)), idx);
  entry->in_use = false;
  free_list_.push_back(idx);
  --used_;
}

}  // namespace lb::dataplane
