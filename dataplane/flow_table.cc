#include "dataplane/flow_table.h"

#include <bit>
#include <cassert>
#include <cstring>
#include <stdexcept>

namespace lb::dataplane {

FlowTable::FlowTable(uint32_t capacity, uint64_t hash_seed)
    : entries_(std::bit_ceil(capacity), FlowEntry{}),
      index_(size_t{std::bit_ceil(capacity)} * 4, kEmpty),
      seed_(hash_seed) {
  index_mask_ = static_cast<uint32_t>(index_.size() - 1);
  // Home slots come from the tag's 31 hash bits (tagOf).
  if (index_mask_ > kTagHashBits) throw std::length_error("flow table: more than 2^28 entries");
  const uint64_t never_a_key[2] = {~uint64_t{0}, ~uint64_t{0}};
  std::memcpy(&no_line_.key, never_a_key, sizeof(never_a_key));
  free_list_.reserve(entries_.size());
  // Pop order hands out low indices first, which keeps a lightly loaded table cache-dense.
  for (uint32_t i = static_cast<uint32_t>(entries_.size()); i > 0; --i) free_list_.push_back(i - 1);
}

void FlowTable::indexInsert(uint64_t slot) {
  // Load is bounded by capacity (2 index slots per entry, 4 slots per entry), so a free slot exists.
  uint32_t pos = static_cast<uint32_t>(slot >> 32) & index_mask_;
  while (index_[pos] != kEmpty) pos = (pos + 1) & index_mask_;
  index_[pos] = slot;
}

void FlowTable::indexErase(uint64_t wanted) {
  uint32_t hole = static_cast<uint32_t>(wanted >> 32) & index_mask_;
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

FlowEntry* FlowTable::allocate(uint32_t client_tag) {
  if (free_list_.empty()) return nullptr;
  const uint32_t idx = free_list_.back();
  free_list_.pop_back();
  FlowEntry& e = entries_[idx];
  e = FlowEntry{};
  e.in_use = true;
  indexInsert(makeSlot(client_tag, idx, kToBackend));
  ++used_;
  return &e;
}

FlowEntry* FlowTable::insert(const hashing::FlowKeyV4& client_key, uint64_t client_hash) {
  FlowEntry* e = allocate(tagOf(client_hash));
  if (e != nullptr) storeKey(e->to_backend.key, client_key);
  return e;
}

bool FlowTable::addReplyKey(FlowEntry* entry, const hashing::FlowKeyV4& reply_key) {
  const uint32_t idx = static_cast<uint32_t>(entry - entries_.data());
  storeKey(entry->to_client.key, reply_key);
  entry->has_reply_key = true;
  indexInsert(makeSlot(tagOf(hashKey(reply_key)), idx, kToClient));
  return true;
}

uint64_t FlowTable::hashKeyV6(const hashing::FlowKeyV6& key) const {
  uint64_t words[4];
  std::memcpy(words, key.src_addr.data(), 16);
  std::memcpy(words + 2, key.dst_addr.data(), 16);
  return hashFlowWordsV6(seed_, words, portsProtocolV6(key));
}

FlowEntry* FlowTable::findByClientV6(const hashing::FlowKeyV6& key, uint64_t hash) {
  const uint32_t tag = tagOf(hash);
  const uint64_t ports_protocol = portsProtocolV6(key) | kV6KeyMarker;
  for (uint32_t pos = tag & index_mask_;; pos = (pos + 1) & index_mask_) {
    const uint64_t slot = index_[pos];
    if (slot == kEmpty) return nullptr;
    const uint32_t line = static_cast<uint32_t>(slot) - 1;
    if (static_cast<uint32_t>(slot >> 32) != tag || line % kLinesPerEntry != kToBackend) continue;
    FlowEntry* e = &entries_[line / kLinesPerEntry];
    uint64_t words[2];
    std::memcpy(words, &e->to_backend.key, sizeof(words));
    if (words[1] == ports_protocol && sameAddress6(e->client_addr6, key.src_addr) && sameAddress6(e->vip6, key.dst_addr)) {
      return e;
    }
  }
}

FlowEntry* FlowTable::insertV6(const hashing::FlowKeyV6& client_key, uint64_t client_hash) {
  FlowEntry* e = allocate(tagOf(client_hash));
  if (e == nullptr) return nullptr;
  const uint64_t words[2] = {0, portsProtocolV6(client_key) | kV6KeyMarker};
  std::memcpy(&e->to_backend.key, words, sizeof(words));
  e->client_v6 = true;
  e->client_addr6 = client_key.src_addr;
  e->vip6 = client_key.dst_addr;
  return e;
}

void FlowTable::erase(FlowEntry* entry) {
  assert(entry->in_use);
  const uint32_t idx = static_cast<uint32_t>(entry - entries_.data());
  const uint64_t client_hash = entry->client_v6 ? hashKeyV6(clientKeyV6(*entry)) : hashKey(entry->to_backend.key);
  indexErase(makeSlot(tagOf(client_hash), idx, kToBackend));
  if (entry->has_reply_key) indexErase(makeSlot(tagOf(hashKey(entry->to_client.key)), idx, kToClient));
  entry->in_use = false;
  free_list_.push_back(idx);
  --used_;
}

}  // namespace lb::dataplane
