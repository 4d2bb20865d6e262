// Per-lcore connection table: fixed capacity chosen at start, never rehashed, no locks (one writer,
// the owning lcore, and no other reader on the hot path).
//
// Connection tracking is what keeps established flows on their backend when the backend set changes
// (Maglev paper, section 3.3): the selection table is consulted only for a flow's first packet.
// Full-NAT flows are indexed twice, by the client's 5-tuple and by the backend's reply 5-tuple, both
// pointing at one entry. The index is linear-probing with backward-shift deletion (no tombstones, so
// probe lengths do not grow with churn) and is sized to 4x the entry capacity (load <= 0.5).
#pragma once

#include <rte_ether.h>

#include <cstdint>
#include <vector>

#include "dataplane/pinned_array.h"
#include "dataplane/service_types.h"
#include "dataplane/snapshot.h"
#include "dataplane/tcp_splice.h"
#include "hashing/key_hash.h"

namespace lb::dataplane {

enum class FlowState : uint8_t { kTcpSynSeen, kTcpEstablished, kTcpClosing, kUdp };

// HTTP delayed binding (issue 5): a flow of an HTTP service is bound by the SYN proxy
// (dataplane/syn_proxy.h) and then spliced (dataplane/tcp_splice.h).
enum class ProxyPhase : uint8_t {
  kNone,     // not proxied: plain forwarding
  kBinding,  // head being read or backend being connected; `proxy_slot` names the pending slot
  kSpliced,  // backend answered; every packet goes through `splice`
};

struct FlowEntry {
  hashing::FlowKeyV4 client_key;  // client -> VIP, as received
  hashing::FlowKeyV4 reply_key;   // backend -> local address (full-NAT only)
  uint64_t last_seen_tsc = 0;
  uint32_t backend_address_be = 0;
  uint16_t backend_port_be = 0;
  uint16_t local_port_be = 0;     // full-NAT source port, 0 otherwise
  rte_ether_addr client_mac{};    // where replies go: the client's (or its router's) MAC
  rte_ether_addr backend_mac{};
  uint16_t ingress_port = 0;
  uint16_t egress_port = 0;
  uint32_t backend_counter_slot = 0;
  ForwardingMode forwarding = ForwardingMode::kFullNat;
  FlowState state = FlowState::kUdp;
  bool in_use = false;
  bool has_reply_key = false;
  ProxyPhase proxy_phase = ProxyPhase::kNone;
  uint16_t proxy_service = 0;  // snapshot service index; checked against client_key before use
  uint32_t proxy_slot = 0;     // kBinding: index in this lcore's pending pool
  uint64_t backend_id = 0;     // proxied flows: the backend's stable id, for Set-Cookie learning
  SpliceState splice;          // kSpliced: the translation of every packet
};

class FlowTable {
 public:
  // capacity: a power of two. Allocates everything now; nothing later.
  explicit FlowTable(uint32_t capacity, uint64_t hash_seed = 0x7e7be5);

  uint64_t hashKey(const hashing::FlowKeyV4& key) const { return hashing::hashFlow(key, seed_); }

  // Burst stages (house style section 2): prefetch the index slot for every packet of a burst, then
  // the entry each slot points at, so the misses of a whole burst overlap instead of adding up.
  void prefetchIndex(uint64_t hash) const { __builtin_prefetch(&index_[static_cast<uint32_t>(hash) & index_mask_]); }
  void prefetchEntry(uint64_t hash) const {
    const uint32_t tag = static_cast<uint32_t>(hash);
    for (uint32_t pos = tag & index_mask_;; pos = (pos + 1) & index_mask_) {
      const uint64_t slot = index_[pos];
      if (slot == kEmpty) return;
      if (static_cast<uint32_t>(slot >> 32) == tag) {
        __builtin_prefetch(&entries_[(static_cast<uint32_t>(slot) - 1) >> 1]);
        return;
      }
    }
  }

  FlowEntry* findByClient(const hashing::FlowKeyV4& key, uint64_t hash) { return find(key, hash, 0); }
  FlowEntry* findByReply(const hashing::FlowKeyV4& key, uint64_t hash) { return find(key, hash, 1); }

  // Returns nullptr when the table is full. The caller fills the entry's other fields.
  FlowEntry* insert(const hashing::FlowKeyV4& client_key, uint64_t client_hash);
  // Adds the reply-direction index for an entry created by insert().
  bool addReplyKey(FlowEntry* entry, const hashing::FlowKeyV4& reply_key);
  void erase(FlowEntry* entry);

  // Examines up to max_entries entries from a rotating cursor and erases idle ones, calling
  // on_expire(entry) before each erase. Bounded work per call, so a worker never stalls on expiry.
  template <class OnExpire>
  uint32_t expireSlice(uint64_t now_tsc, const FlowTimeouts& timeouts, uint32_t max_entries,
                       OnExpire&& on_expire);

  uint32_t size() const { return used_; }
  uint32_t capacity() const { return static_cast<uint32_t>(entries_.size()); }

 private:
  static constexpr uint64_t kEmpty = 0;
  // slot = (hash low 32 bits << 32) | ref, ref = entry_index * 2 + direction + 1 (0 = empty slot)
  static uint64_t makeSlot(uint64_t hash, uint32_t entry, uint32_t direction) {
    return (hash << 32) | (entry * 2 + direction + 1);
  }
  FlowEntry* find(const hashing::FlowKeyV4& key, uint64_t hash, uint32_t direction);
  bool indexInsert(uint64_t hash, uint32_t entry, uint32_t direction);
  void indexErase(uint64_t hash, uint32_t entry, uint32_t direction);
  static uint64_t timeoutFor(const FlowEntry& e, const FlowTimeouts& t);

  PinnedArray<FlowEntry> entries_;
  PinnedArray<uint64_t> index_;
  std::vector<uint32_t> free_list_;
  uint32_t index_mask_ = 0;
  uint32_t used_ = 0;
  uint32_t expire_cursor_ = 0;
  uint64_t seed_;
};

inline bool keysEqual(const hashing::FlowKeyV4& a, const hashing::FlowKeyV4& b) {
  return a.src_addr_be == b.src_addr_be && a.dst_addr_be == b.dst_addr_be &&
         a.src_port_be == b.src_port_be && a.dst_port_be == b.dst_port_be &&
         a.protocol == b.protocol;
}

// Inline: it runs for every packet.
inline FlowEntry* FlowTable::find(const hashing::FlowKeyV4& key, uint64_t hash, uint32_t direction) {
  const uint32_t tag = static_cast<uint32_t>(hash);
  for (uint32_t pos = tag & index_mask_;; pos = (pos + 1) & index_mask_) {
    const uint64_t slot = index_[pos];
    if (slot == kEmpty) return nullptr;
    if (static_cast<uint32_t>(slot >> 32) != tag) continue;
    const uint32_t ref = static_cast<uint32_t>(slot) - 1;
    if ((ref & 1) != direction) continue;
    FlowEntry& e = entries_[ref >> 1];
    if (keysEqual(direction == 0 ? e.client_key : e.reply_key, key)) return &e;
  }
}

inline uint64_t FlowTable::timeoutFor(const FlowEntry& e, const FlowTimeouts& t) {
  switch (e.state) {
    case FlowState::kTcpSynSeen: return t.tcp_syn_tsc;
    case FlowState::kTcpEstablished: return t.tcp_established_tsc;
    case FlowState::kTcpClosing: return t.tcp_closing_tsc;
    case FlowState::kUdp: return t.udp_tsc;
  }
  return t.udp_tsc;
}

template <class OnExpire>
uint32_t FlowTable::expireSlice(uint64_t now_tsc, const FlowTimeouts& timeouts,
                                uint32_t max_entries, OnExpire&& on_expire) {
  uint32_t expired = 0;
  const uint32_t mask = capacity() - 1;
  for (uint32_t i = 0; i < max_entries && used_ > 0; ++i) {
    FlowEntry& e = entries_[expire_cursor_];
    expire_cursor_ = (expire_cursor_ + 1) & mask;
    if (!e.in_use || now_tsc - e.last_seen_tsc < timeoutFor(e, timeouts)) continue;
    on_expire(e);
    erase(&e);
    ++expired;
  }
  return expired;
}

}  // namespace lb::dataplane
