// Per-lcore connection table: fixed capacity chosen at start, never rehashed, no locks (one writer,
// the owning lcore, and no other reader on the hot path).
//
// Connection tracking is what keeps established flows on their backend when the backend set changes
// (Maglev paper, section 3.3): the selection table is consulted only for a flow's first packet.
// Full-NAT flows are indexed twice, by the client's 5-tuple and by the backend's reply 5-tuple; each
// index slot names its direction's cache line of the one entry (FlowDirection). The index is
// linear-probing with backward-shift deletion (no tombstones, so probe lengths do not grow with
// churn) and is sized to 4x the entry capacity (load <= 0.5).
#pragma once

#include <rte_ether.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

#include "dataplane/lcore_counters.h"
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

// How processBurst's established path rewrites a packet of an armed flow direction (see
// FlowDirection::armed_epoch). One byte per direction instead of the forwarding mode plus the
// protocol: the per-packet path takes one branch. A full-NAT reply is the same rewrite as the
// client's packet, with the reply direction's precomputed values. An IPv6 client's flow
// (FlowEntry::client_v6) has two of its own: kNat64Client, its client's packet, whose IPv6 header
// becomes the IPv4 header full-NAT sends; kNat64Reply, the reply, whose IPv4 header becomes IPv6 from
// the VIP to the client. Their IPv6 addresses are the entry's (entryOfReplyLine,
// LineLookup::findIpv6Client). An IPv6 client's DSR flow is armed as kDsrL2 (the MACs alone), its
// IPIP flow as kIpip6: the IPv6 packet inside an outer IPv4 header, protocol 41 (ipv6_direct.h).
enum class ArmedRewrite : uint8_t { kFullNatTcp, kFullNatUdp, kDsrL2, kIpip, kNat64Reply, kNat64Client, kIpip6 };

// One direction of a flow as the established path sees it, in one cache line: the key a packet of
// that direction carries, and everything an armed packet needs, precomputed by the slow path when it
// arms the direction for a snapshot (armed_epoch), so the packet's rewrite is plain stores plus one
// checksum update per header. Both directions share the layout, so the established path handles a
// full-NAT reply with the same instructions as a client packet: the index slot names the line.
struct alignas(64) FlowDirection {
  hashing::FlowKeyV4 key;  // as received in this direction: client -> VIP, or backend -> local address
  uint64_t last_seen_tsc = 0;  // the flow's idle time is measured from the later of its two lines
  uint64_t rewrite_addrs = 0;  // full-NAT new (source, destination); IPIP outer (source, destination):
                               // the 8 bytes exactly as they sit in the IPv4 header
  union {
    uint32_t rewrite_ports = 0;   // full-NAT new (source port, destination port), as in the L4 header
    uint32_t ipip_max_inner_len;  // IPIP: the egress MTU less the outer header; a longer packet takes
                                  // the slow path (ICMP fragmentation needed or too_big)
  };
  uint16_t ip_check_delta = 0; // full-NAT: RFC 1624 delta of the IPv4 checksum, folded to 16 bits;
                               // IPIP, kIpip6 and kNat64Client: one's-complement sum of the fixed fields of
                               // the IPv4 header written
  uint16_t l4_check_delta = 0; // full-NAT: the same for the TCP/UDP checksum (pseudo-header + ports)
  uint8_t l2_next_hop[12] = {};  // destination and source MAC, as on the wire
  uint32_t traffic_offset = 0;   // where this direction's packets are counted (trafficCountersAt)
  uint16_t egress_port = 0;      // toward the backend, or (to_client) the port the client came in on
  ArmedRewrite armed_rewrite = ArmedRewrite::kFullNatTcp;
  // FlowTable::snapshotEpoch() at which the slow path last forwarded a packet of this direction,
  // found the flow fit for the established path (plain forwarding, TCP established or UDP, untagged
  // egress) and precomputed the fields above; 0 = not armed (entries other paths own stay 0). While
  // it matches the current epoch, processBurst forwards the direction's packets without classifying.
  uint32_t armed_epoch = 0;
};
static_assert(sizeof(FlowDirection) == 64, "one cache line per direction");

// One connection: two hot lines, one per direction (a DSR or IPIP flow uses only the first), then
// the set-up and bookkeeping fields only the slow path reads, padded to an odd number of lines
// (kLinesPerEntry). With four (a 256-byte stride) every entry's client line fell in the same quarter
// of L1's sets, and 4K-flow forwarding measured 6% slower than with five, in each of four alternating
// runs (bench/results/dataplane.md).
struct alignas(64) FlowEntry {
  FlowDirection to_backend;  // client -> VIP packets, found by the client's key
  FlowDirection to_client;   // full-NAT replies, found by the reply key (has_reply_key)
  ForwardingMode forwarding = ForwardingMode::kFullNat;
  FlowState state = FlowState::kUdp;
  bool in_use = false;
  bool has_reply_key = false;
  uint16_t backend_counter_slot = 0;  // index into LcoreCounters::backends (< kMaxBackendCounters)
  uint32_t backend_address_be = 0;
  uint32_t local_address_be = 0;  // full-NAT source address (one of the egress port's local addresses)
  uint32_t proxy_slot = 0;        // HTTP kBinding: index in this lcore's pending pool
  uint16_t backend_port_be = 0;
  uint16_t local_port_be = 0;     // full-NAT source port, 0 otherwise
  uint16_t proxy_service = 0;     // HTTP: snapshot service index; checked against to_backend.key before use
  rte_ether_addr backend_mac{};
  rte_ether_addr client_mac{};    // where replies go: the client's (or its router's) MAC (full-NAT);
                                  // the slow path records it, armed packets do not
  uint8_t local_address_index = 0;  // the endpoint's place in its pool (WorkerContext::releaseLocalEndpoint)
  uint8_t local_pool_port = 0;      // the egress port whose pool holds it
  // HTTP delayed binding (never armed for the fast path: armed_epoch stays 0).
  ProxyPhase proxy_phase = ProxyPhase::kNone;
  SpliceState splice;          // kSpliced: the translation of every packet
  uint64_t backend_id = 0;     // proxied flows: the backend's stable id, for Set-Cookie learning
  // An IPv6 client's flow (NAT64 full-NAT, dataplane/ipv6_path.h): its client key is (client_addr6,
  // vip6) plus to_backend.key's ports and protocol, and that key's addresses stay 0. Its lines are
  // armed as kNat64Client and kNat64Reply. The two addresses sit next to each other, in the order of
  // an IPv6 header's source and destination, so the established path compares a packet's 32 address
  // bytes with one line's. The reply direction's L4 checksum delta (IPv4 pseudo-header and reply
  // ports -> IPv6 pseudo-header and client ports) is the same for every packet, so it is folded once
  // here.
  Ipv6Bytes client_addr6{};
  Ipv6Bytes vip6{};
  bool client_v6 = false;
  uint16_t v6_reply_check_delta = 0;
  alignas(64) uint8_t spread_over_cache_sets[64];  // the fifth line: see above

  uint64_t lastSeenTsc() const { return std::max(to_backend.last_seen_tsc, to_client.last_seen_tsc); }
  // Both directions leave the established path (a state change, a client that moved).
  void disarm() {
    to_backend.armed_epoch = 0;
    to_client.armed_epoch = 0;
  }
};
// An IPv6 client flow's key (FlowEntry::client_v6), rebuilt from the entry.
inline hashing::FlowKeyV6 clientKeyV6(const FlowEntry& e) {
  hashing::FlowKeyV6 key;
  key.src_addr = e.client_addr6;
  key.dst_addr = e.vip6;
  key.src_port_be = e.to_backend.key.src_port_be;
  key.dst_port_be = e.to_backend.key.dst_port_be;
  key.protocol = e.to_backend.key.protocol;
  return key;
}

// The entry whose to_client line `line` is: the established path finds lines, and a NAT64 reply needs
// the entry's IPv6 addresses.
inline const FlowEntry& entryOfReplyLine(const FlowDirection& line) {
  return *reinterpret_cast<const FlowEntry*>(reinterpret_cast<const uint8_t*>(&line) - offsetof(FlowEntry, to_client));
}

inline constexpr uint32_t kLinesPerEntry = sizeof(FlowEntry) / sizeof(FlowDirection);
static_assert(offsetof(FlowEntry, vip6) == offsetof(FlowEntry, client_addr6) + sizeof(Ipv6Bytes) &&
                  offsetof(FlowEntry, client_addr6) / 64 == (offsetof(FlowEntry, vip6) + sizeof(Ipv6Bytes) - 1) / 64,
              "an IPv6 client's two addresses: one 32-byte run in one cache line (LineLookup::findIpv6Client)");
static_assert(offsetof(FlowEntry, to_backend) == 0 && offsetof(FlowEntry, to_client) == sizeof(FlowDirection),
              "an index slot names a line: entry * kLinesPerEntry + direction (FlowTable::makeSlot)");
static_assert(sizeof(FlowEntry) == 5 * sizeof(FlowDirection), "five cache lines per flow: 1M flows per lcore are 320 MB");
static_assert(kMaxBackendCounters <= UINT16_MAX + 1, "backend_counter_slot is 16 bits");

// FlowTable's index hash over a key's two words (see FlowTable::hashKey).
inline uint64_t hashFlowWords(uint64_t seed, uint64_t addrs, uint64_t ports_protocol) {
#if defined(__SSE4_2__)
  return _mm_crc32_u64(_mm_crc32_u64(seed, addrs), ports_protocol);
#else
  hashing::FlowKeyV4 key;
  std::memcpy(&key, &addrs, sizeof(addrs));
  std::memcpy(reinterpret_cast<uint8_t*>(&key) + 8, &ports_protocol, sizeof(ports_protocol));
  return hashing::hashFlow(key, seed);
#endif
}

// The same over an IPv6 key: the two source words, the destination's folded into one, then ports and
// protocol (FlowTable::hashKeyV6).
inline uint64_t hashFlowWordsV6(uint64_t seed, const uint64_t (&addresses)[4], uint64_t ports_protocol) {
  return hashFlowWords(hashFlowWords(seed, addresses[0], addresses[1]), addresses[2] ^ addresses[3], ports_protocol);
}

class FlowTable {
 public:
  // capacity: a power of two. Allocates everything now; nothing later.
  explicit FlowTable(uint32_t capacity, uint64_t hash_seed = 0x7e7be5);

  // Index hash, internal to this table (backend selection uses hashing::hashFlow with the service's
  // seed). Two CRC32C instructions over the key's two words where SSE4.2 exists (DPDK's corei7
  // baseline has it), as rte_hash does: a third of XXH3's instructions. Like XXH3 with a fixed seed,
  // it does not stop a client that crafts colliding 5-tuples; the probe bound is the table's load.
  uint64_t hashKey(const hashing::FlowKeyV4& key) const {
    // The key's two words as stored (see keysEqual), the padding masked out.
    uint64_t words[2];
    std::memcpy(words, &key, sizeof(words));
    return hashWords(words[0], words[1] & 0xff'ffff'ffffULL);
  }
  // The same from the key's words; `ports_protocol`'s padding bytes must be zero.
  uint64_t hashWords(uint64_t addrs, uint64_t ports_protocol) const {
    return hashFlowWords(seed_, addrs, ports_protocol);
  }

  // An index slot's tag: 31 bits of the hash and a set top bit, so no tag equals an empty slot (0).
  // A key's home slot is tag & mask (the mask is below 2^31), i.e. its hash's low bits. The tag does
  // not say the direction: the established path looks a packet up without knowing it, and the slot's
  // line (to_backend or to_client) tells. A client key never equals a reply key: a reply's
  // destination is a local address, which validation keeps apart from every VIP.
  static uint32_t tagOf(uint64_t hash) { return (static_cast<uint32_t>(hash) & kTagHashBits) | kTagSet; }

  // The established path's view of the index: the table's pointers as values. A loop that stores
  // into packets (which may alias anything) keeps these in registers instead of reloading them from
  // the table after every store.
  class LineLookup {
   public:
    uint64_t hashWords(uint64_t addrs, uint64_t ports_protocol) const {
      return hashFlowWords(seed_, addrs, ports_protocol);
    }
    // An IPv6 key's: `addresses` holds the source and destination as in the IPv6 header.
    uint64_t hashWordsV6(const uint64_t (&addresses)[4], uint64_t ports_protocol) const {
      return hashFlowWordsV6(seed_, addresses, ports_protocol);
    }
    // rte_prefetch0, not __builtin_prefetch: GCC 12 judged this member free of side effects and
    // deleted its calls (the 2026-11-21 binary had no index prefetch at all); volatile asm stays.
    void prefetchIndex(uint32_t tag) const { rte_prefetch0(&index_[tag & mask_]); }
    // Burst stages (house style section 2): the index slot of every packet of a burst is prefetched
    // (prefetchIndex), then the line each home slot names (prefetchLine), so the misses of a whole
    // burst overlap instead of adding up. Only the home slot: at the index's load (<= 0.5) most keys
    // sit there. The tag check stays although a prefetch cannot fault: without it (the address
    // computed from whatever the slot holds) the 4K-flow benchmark ran 15% slower, in each of four
    // alternating runs.
    // Returns the line it prefetched, or the table's line no key matches (so atHome tests no null
    // pointer): the home slot's line, which atHome checks before anything probes, for most packets
    // of a burst whose table did not change since.
    // The slot's two halves are read separately (the tag compared in memory, the line number loaded
    // zero-extended): 3 instructions per packet fewer than shifting one 64-bit load (callgrind).
    FlowDirection* prefetchLine(uint32_t tag) const {
      const auto* const slot = reinterpret_cast<const uint8_t*>(&index_[tag & mask_]);
      uint32_t slot_tag;
      uint32_t slot_line;
      std::memcpy(&slot_tag, slot + sizeof(uint32_t), sizeof(slot_tag));
      if (slot_tag != tag) [[unlikely]] return prefetchLineAway(tag);
      std::memcpy(&slot_line, slot, sizeof(slot_line));
      FlowDirection* const line = lineOf(slot_line);
      rte_prefetch0(line);
      return line;
    }
    // The same for a key whose home slot holds another tag: the first slot with its tag in the next
    // kAwayProbeSlots (the index is linear-probing, so a displaced key sits just after its home), or
    // the line no key matches. Without it, at 1M flows (index load 0.5 in full-NAT) the frames whose
    // line was not prefetched cost 23% of the packet rate (bench/results/dataplane.md).
    [[gnu::noinline]] FlowDirection* prefetchLineAway(uint32_t tag) const {
      for (uint32_t pos = tag & mask_, n = 0; n < kAwayProbeSlots; ++n) {
        pos = (pos + 1) & mask_;
        const uint64_t slot = index_[pos];
        if (slot == kEmpty) return no_line_;
        if (static_cast<uint32_t>(slot >> 32) == tag) {
          FlowDirection* const line = lineOf(slot);
          rte_prefetch0(line);
          return line;
        }
      }
      return no_line_;
    }
    static constexpr uint32_t kAwayProbeSlots = 7;
    // The line whose key is (addrs, ports_protocol): ports_protocol with zero padding, `tag` its
    // tagOf. Either direction's.
    FlowDirection* find(uint64_t addrs, uint64_t ports_protocol, uint32_t tag) const {
      return probe(tag, KeyMatches{addrs, ports_protocol});
    }
    // `home_line` when it holds the key (addrs, ports_protocol), else nullptr. `home_line` is what
    // prefetchLine returned for the key's tag (never null) with no insert or erase since: a key is in
    // the table once, so a line holding it is the one find() would return, whichever slot named it.
    // Without the probe, so the loop that asks calls nothing and keeps its values in registers; a key
    // stage 2 did not find is find()'s.
    static FlowDirection* atHome(uint64_t addrs, uint64_t ports_protocol, FlowDirection* home_line) {
      if (KeyMatches{addrs, ports_protocol}(*home_line)) [[likely]] return home_line;
      return nullptr;
    }

    // An IPv6 client's line (FlowEntry::client_v6): the client line whose ports and protocol are
    // `ports_protocol` (zero padding) and whose entry holds the 32 address bytes at `addresses`
    // (source, destination, as in the IPv6 header). The entry's address line is a second read;
    // prefetchIpv6ClientLines brings it in.
    FlowDirection* findIpv6Client(const uint64_t (&addresses)[4], uint64_t ports_protocol, uint32_t tag) const {
      const uint64_t key_word1 = ports_protocol | kV6KeyMarker;
      return probe(tag, [&addresses, key_word1](const FlowDirection& line) {
        uint64_t words[2];
        std::memcpy(words, &line.key, sizeof(words));
        // Only a client line has the marker, so `line` starts its entry.
        if ((words[0] | (words[1] ^ key_word1)) != 0) return false;
        uint64_t stored[4];
        std::memcpy(stored, reinterpret_cast<const uint8_t*>(&line) + offsetof(FlowEntry, client_addr6), sizeof(stored));
        return ((stored[0] ^ addresses[0]) | (stored[1] ^ addresses[1]) | (stored[2] ^ addresses[2]) |
                (stored[3] ^ addresses[3])) == 0;
      });
    }
    // prefetchLine for an IPv6 client's key: its line and its entry's address line.
    void prefetchIpv6ClientLines(uint32_t tag) const {
      const uint64_t slot = index_[tag & mask_];
      if (static_cast<uint32_t>(slot >> 32) == tag) {
        const uint8_t* const line = reinterpret_cast<const uint8_t*>(lineOf(slot));
        rte_prefetch0(line);
        rte_prefetch0(line + offsetof(FlowEntry, client_addr6));
      }
    }

   private:
    friend class FlowTable;
    struct KeyMatches {
      uint64_t addrs;
      uint64_t ports_protocol;
      bool operator()(const FlowDirection& line) const {
        uint64_t words[2];
        std::memcpy(words, &line.key, sizeof(words));
        return ((words[0] ^ addrs) | (words[1] ^ ports_protocol)) == 0;
      }
    };
    // Linear probing from the tag's home slot: the first line of a slot with this tag that
    // `matches`, or nullptr at the first empty slot.
    template <class Matches>
    [[gnu::always_inline]] FlowDirection* probe(uint32_t tag, Matches&& matches) const {
      for (uint32_t pos = tag & mask_;; pos = (pos + 1) & mask_) {
        const uint64_t slot = index_[pos];
        if (static_cast<uint32_t>(slot >> 32) == tag) {
          FlowDirection* const line = lineOf(slot);
          if (matches(*line)) return line;
        } else if (slot == kEmpty) {
          return nullptr;
        }
      }
    }
    LineLookup(const uint64_t* index, FlowEntry* entries, FlowDirection* no_line, uint32_t mask, uint64_t seed)
        : index_(index),
          line_zero_(reinterpret_cast<uintptr_t>(entries) - sizeof(FlowDirection)),
          no_line_(no_line),
          mask_(mask),
          seed_(seed) {}
    // A slot's low half is its line's number + 1 (makeSlot): counted from line_zero_, one line before
    // the first, there is nothing to subtract.
    FlowDirection* lineOf(uint64_t slot) const {
      return reinterpret_cast<FlowDirection*>(line_zero_ + (slot & 0xffff'ffff) * sizeof(FlowDirection));
    }
    const uint64_t* index_;
    uintptr_t line_zero_;
    FlowDirection* no_line_;
    uint32_t mask_;
    uint64_t seed_;
  };
  LineLookup lineLookup() { return LineLookup(index_.data(), entries_.data(), &no_line_, index_mask_, seed_); }

  // A number that changes whenever the snapshot does (another object, or another generation of
  // it), starting at 1. Entries armed at the current epoch were classified under this snapshot.
  uint32_t snapshotEpoch(const Snapshot& snap) {
    if (&snap != epoch_snapshot_ || snap.generation != epoch_generation_) [[unlikely]] {
      epoch_snapshot_ = &snap;
      epoch_generation_ = snap.generation;
      if (++epoch_ == 0) epoch_ = 1;  // 0 means "never armed"
    }
    return epoch_;
  }

  FlowEntry* findByClient(const hashing::FlowKeyV4& key, uint64_t hash) { return find(key, tagOf(hash), kToBackend); }
  FlowEntry* findByReply(const hashing::FlowKeyV4& key, uint64_t hash) { return find(key, tagOf(hash), kToClient); }

  // Returns nullptr when the table is full. The caller fills the entry's other fields.
  FlowEntry* insert(const hashing::FlowKeyV4& client_key, uint64_t client_hash);

  // IPv6 clients (NAT64): the same index and entries. An IPv6 entry's to_backend.key carries a marker in
  // its padding, which no IPv4 key has (storeKey), so an IPv4 lookup never matches one.
  uint64_t hashKeyV6(const hashing::FlowKeyV6& key) const;
  FlowEntry* findByClientV6(const hashing::FlowKeyV6& key, uint64_t hash);
  FlowEntry* insertV6(const hashing::FlowKeyV6& client_key, uint64_t client_hash);
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
  static constexpr uint32_t kTagHashBits = 0x7fff'ffff;
  static constexpr uint32_t kTagSet = 0x8000'0000;
  static constexpr uint64_t kPortsAndProtocol = 0xff'ffff'ffffULL;
  static constexpr uint64_t kV6KeyMarker = uint64_t{1} << 40;  // client key word 1, padding byte 0
  // A slot's line: entry * kLinesPerEntry + direction (the entry's lines in order, FlowEntry's static_asserts).
  static constexpr uint32_t kToBackend = 0;
  static constexpr uint32_t kToClient = 1;
  static uint64_t portsProtocolV6(const hashing::FlowKeyV6& key) {
    return uint64_t{key.src_port_be} | (uint64_t{key.dst_port_be} << 16) | (uint64_t{key.protocol} << 32);
  }
  // slot = (tag << 32) | (line + 1); 0 = empty
  static uint64_t makeSlot(uint32_t tag, uint32_t entry, uint32_t direction) {
    return (uint64_t{tag} << 32) | (uint64_t{entry} * kLinesPerEntry + direction + 1);
  }
  // The entry of `direction` whose key in that direction is `key`; nullptr when there is none.
  FlowEntry* find(const hashing::FlowKeyV4& key, uint32_t tag, uint32_t direction);
  // A free entry, reset and indexed under `client_tag`; nullptr when the table is full.
  FlowEntry* allocate(uint32_t client_tag);
  void indexInsert(uint64_t slot);
  void indexErase(uint64_t slot);
  // The key's words with its padding zeroed: the form stored in entries and compared by find().
  static void storeKey(hashing::FlowKeyV4& to, const hashing::FlowKeyV4& from) {
    uint64_t words[2];
    std::memcpy(words, &from, sizeof(words));
    words[1] &= kPortsAndProtocol;
    std::memcpy(&to, words, sizeof(words));
  }
  static uint64_t timeoutFor(const FlowEntry& e, const FlowTimeouts& t);

  PinnedArray<FlowEntry> entries_;
  PinnedArray<uint64_t> index_;
  // What LineLookup::prefetchLine returns when it finds no line: its key's padding bytes are set,
  // which no stored or screened key's are, so no key matches it, and it is never armed.
  FlowDirection no_line_;
  std::vector<uint32_t> free_list_;
  uint32_t index_mask_ = 0;
  uint32_t used_ = 0;
  uint32_t expire_cursor_ = 0;
  uint64_t seed_;
  const Snapshot* epoch_snapshot_ = nullptr;
  uint64_t epoch_generation_ = 0;
  uint32_t epoch_ = 0;
};

// Two 64-bit compares instead of five: word 0 holds both addresses, word 1 the ports and the
// protocol; the struct's 3 bytes of padding (never written on purpose) are masked out.
inline bool keysEqual(const hashing::FlowKeyV4& a, const hashing::FlowKeyV4& b) {
  static_assert(sizeof(hashing::FlowKeyV4) == 16 && offsetof(hashing::FlowKeyV4, dst_addr_be) == 4 &&
                offsetof(hashing::FlowKeyV4, src_port_be) == 8 && offsetof(hashing::FlowKeyV4, protocol) == 12);
  uint64_t a_words[2], b_words[2];
  std::memcpy(a_words, &a, sizeof(a_words));
  std::memcpy(b_words, &b, sizeof(b_words));
  constexpr uint64_t kPortsAndProtocol = 0xff'ffff'ffffULL;
  return ((a_words[0] ^ b_words[0]) | ((a_words[1] ^ b_words[1]) & kPortsAndProtocol)) == 0;
}

inline FlowEntry* FlowTable::find(const hashing::FlowKeyV4& key, uint32_t tag, uint32_t direction) {
  uint64_t words[2];
  std::memcpy(words, &key, sizeof(words));
  words[1] &= kPortsAndProtocol;
  for (uint32_t pos = tag & index_mask_;; pos = (pos + 1) & index_mask_) {
    const uint64_t slot = index_[pos];
    if (slot == kEmpty) return nullptr;
    const uint32_t line = static_cast<uint32_t>(slot) - 1;
    if (static_cast<uint32_t>(slot >> 32) != tag || line % kLinesPerEntry != direction) continue;
    FlowEntry* const e = &entries_[line / kLinesPerEntry];
    const FlowDirection& d = direction == kToClient ? e->to_client : e->to_backend;
    uint64_t stored[2];
    std::memcpy(stored, &d.key, sizeof(stored));
    if (((stored[0] ^ words[0]) | (stored[1] ^ words[1])) == 0) return e;
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
    if (!e.in_use || now_tsc - e.lastSeenTsc() < timeoutFor(e, timeouts)) continue;
    on_expire(e);
    erase(&e);
    ++expired;
  }
  return expired;
}

}  // namespace lb::dataplane
