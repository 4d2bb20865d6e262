// Sticky-session table (issue 5): maps a cookie to the backend holding its session, shared by every
// lcore and by the control plane.
//
// Use it for cookie stickiness: a worker that parsed a session cookie hashes it with sessionKey(),
// looks the key up (lookupBatch, one call per burst), and on a miss picks a backend the usual way and
// insert()s the binding. The control plane expires idle entries in bounded slices (expireSlice), and
// serves REST look-up / paged listing / delete (peek, list, erase).
//
// Keys. sessionKey() is XXH3-128 keyed with a 192-byte secret drawn from the OS at start-up, folded
// to 64 bits. Raw cookie values are never stored, and without the secret nobody can aim cookies at
// one bucket to evict other users' sessions. 64 bits is enough to tell the sessions apart: the chance
// that any two of 10M live sessions collide is below 3e-6. The table relies on keys being uniform and
// does not mix them again.
//
// Layout (bucketized cuckoo hashing: Pagh & Rodler, "Cuckoo Hashing", 2004; 4-slot buckets and the
// partial-key alternate bucket of Fan et al., "MemC3", NSDI 2013):
//   - A slot is 32 bytes: key (8), backend id (8), seqlock word (4), created (4), last used (4),
//     service (2), spare (2). A bucket is 4 slots in one 128-byte-aligned pair of cache lines.
//   - The top bits of the key pick a shard (a power of two). Inside the shard the key has two
//     candidate buckets: b1 from the key's low word, and b2 = (d(key) - b1) mod n. The same formula
//     maps b2 back to b1, so an entry can be moved to its other bucket knowing only its stored key.
//   - Inserts fill b1 first, so about 85% of entries at full load sit in b1. lookupBatch prefetches
//     only b1 for the whole burst, and reads b2, in a third stage, only for the keys not found in b1.
//     At 4M entries a lookup is memory-bound: this fetches about 2.3 cache lines per lookup instead
//     of 4.
//   - An insert with both buckets full moves entries along a short path to their other buckets
//     (breadth-first search, at most kMaxPathNodes buckets, fewer once the shard is nearly full).
//     Only when no path exists does it evict the candidate closest to expiry (counted). Filling
//     1M- and 4M-entry tables, the first eviction came at about 90% of slots.
//   - Tables are sized to 80% of slots at the configured capacity: 40 bytes per entry with all index
//     overhead, plus under 0.1 byte per entry of per-shard state.
//
// Concurrency (lookups never lock, and only writers ever spin on a lock):
//   - Writers (insert, erase, expiry) take the key's shard lock: a word on its own cache line that
//     readers never touch. There is no global lock. Workers spin for a bounded time, then give up
//     with kBusy (counted). The control plane uses try-lock for expiry, so expiry never makes a
//     worker wait longer than a few stores.
//   - Each slot carries a seqlock word (Boehm, "Can seqlocks get along with programming language
//     memory models?", MSPC 2012). A writer makes it odd, stores the fields, then makes it even. A
//     reader whose slot key matches reads the fields between two reads of the word and retries if
//     it changed, so it never returns a torn entry. Every field is an atomic with release stores
//     and acquire loads instead of fences (Boehm's fence-free variant): defined behaviour that
//     ThreadSanitizer can check, and plain moves on x86.
//   - Moving an entry copies it to its other bucket first and only then clears the old slot, with the
//     shard's move counter odd for the whole path. A hit is always valid. A miss is trusted only if
//     the move counter was even and unchanged across both probes (as in DPDK rte_hash's lock-free
//     mode, tbl_chng_cnt), because a reader can miss an entry moving under it. Otherwise the lookup
//     retries, and after a bound reports kBusy instead of a false miss.
//   - A hit renews last-used with a relaxed store, and only when the second has changed, so a hot
//     session's cache line is not written once per packet. A renewal that races with a move of its
//     entry (or with its expiry, in the second it expires) can be lost; the next hit renews again.
//
// Times are uint32 seconds on one monotonic clock that every caller shares (the worker converts its
// TSC once per burst). Differences are taken as int32, so a reader's clock a second ahead of another
// thread's never makes an entry look expired. Idle TTL and absolute lifetime are looked up per service
// (setTimeouts) when an entry is checked, so a reload that changes them applies to live sessions too.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dataplane/lcore_counters.h"
#include "hashing/key_hash.h"

namespace lb::dataplane {

// The random secret behind sessionKey(). Make one at start-up and share it by const reference.
// Sessions do not survive a restart, so the secret never needs to be kept.
class SessionSecret {
 public:
  static constexpr size_t kSize = XXH3_SECRET_DEFAULT_SIZE;  // 192 bytes; XXH3 needs >= 136
  // From the OS's random source (std::random_device: getrandom on Linux).
  static SessionSecret random();
  // Reproducible secret, for tests and benchmarks only.
  static SessionSecret fromSeed(uint64_t seed);

  const uint8_t* data() const { return bytes_.data(); }

 private:
  SessionSecret() = default;
  alignas(64) std::array<uint8_t, kSize> bytes_{};
};

// A keyed hash of a cookie value. Never 0, because 0 marks an empty slot.
struct SessionKey {
  uint64_t value = 1;

  // `hash` must already be uniformly distributed (a keyed hash output). 0 is mapped to 1.
  static constexpr SessionKey fromHash(uint64_t hash) { return SessionKey{hash == 0 ? 1 : hash}; }
  friend bool operator==(SessionKey, SessionKey) = default;
};

// Inline because it runs once per request that carries a cookie.
inline SessionKey sessionKey(std::string_view cookie_value, const SessionSecret& secret) {
  const XXH128_hash_t h = XXH3_128bits_withSecret(cookie_value.data(), cookie_value.size(),
                                                  secret.data(), SessionSecret::kSize);
  return SessionKey::fromHash(h.low64 ^ h.high64);
}

struct SessionTimeouts {
  uint32_t idle_s = 0;      // expires this long after its last hit; every hit renews it
  uint32_t lifetime_s = 0;  // expires this long after creation, however often it is used
};

struct SessionTableConfig {
  static constexpr SessionTimeouts kDefaultTimeouts{.idle_s = 1800, .lifetime_s = 86400};

  uint64_t capacity = 0;  // [boot] sessions held without eviction (80% of slots)
  uint32_t shards = 0;    // [boot] power of two, <= kMaxShards; 0 = about 1024 buckets per shard
  uint32_t max_services = kMaxServiceCounters;  // [boot] valid service indices are below this
  SessionTimeouts default_timeouts = kDefaultTimeouts;  // for every service until setTimeouts()

  static constexpr uint32_t kMaxShards = uint32_t{1} << 16;
};

// The value a session holds.
struct SessionValue {
  uint64_t backend_id = 0;  // stable backend id (hashing::WeightedBackend::id)
  uint16_t service = 0;     // index of the service that created the session
};

enum class SessionLookupStatus : uint8_t {
  kMiss,
  kHit,
  // A writer held the entry or moved entries through its buckets for the whole retry bound. The
  // session may exist: route this packet without stickiness and do not insert a replacement.
  kBusy,
};

struct SessionLookup {
  uint64_t backend_id = 0;
  uint16_t service = 0;  // callers check it against the packet's service
  SessionLookupStatus status = SessionLookupStatus::kMiss;

  bool hit() const { return status == SessionLookupStatus::kHit; }
};

enum class SessionInsertResult : uint8_t {
  kInserted,
  kUpdated,                 // the key existed: backend and service replaced, created reset
  kInsertedAfterEviction,   // both buckets full and no free path: evicted the entry closest to expiry
  kBusy,                    // the shard lock stayed taken for the whole spin bound; nothing written
  kBadService,              // service >= max_services
};

enum class SessionEraseResult : uint8_t { kErased, kNotFound, kBusy };

// A session as the control plane reports it.
struct SessionEntry {
  SessionKey key;
  uint64_t backend_id = 0;
  uint16_t service = 0;
  uint32_t created_s = 0;
  uint32_t last_used_s = 0;
};

// One page of list(): entries in ascending key order. Pass next_cursor back to continue while
// `more` is set.
struct SessionPage {
  std::vector<SessionEntry> entries;
  uint64_t next_cursor = 0;
  bool more = false;
};

// One set per thread that calls the table (a worker's own, the control plane's own): plain counters
// on their own cache lines, summed by the control plane. The table never shares one counter between
// threads.
struct alignas(64) SessionCounters {
  Counter lookups;
  Counter hits;
  Counter misses;       // includes keys found expired
  Counter busy;         // lookups, inserts and erases that gave up on a writer (see kBusy)
  Counter inserts;      // new entries (kInserted and kInsertedAfterEviction)
  Counter updates;
  Counter evictions;
  Counter expirations;  // entries reclaimed after expiry, by expireSlice or by an insert
  Counter deletes;
  Counter relocations;  // entries an insert moved to their other bucket (rises near the load limit)
};

struct SessionStats {
  uint64_t lookups = 0, hits = 0, misses = 0, busy = 0, inserts = 0, updates = 0, evictions = 0,
           expirations = 0, deletes = 0, relocations = 0;

  void add(const SessionCounters& c);
};

class SessionTable {
 public:
  static constexpr uint32_t kSlotsPerBucket = 4;
  static constexpr uint32_t kLoadPercent = 80;     // slots = capacity * 100 / kLoadPercent
  // Buckets one insert's cuckoo search may examine: enough that 4M-entry tables stay eviction-free to
  // about 90% of slots (the configured capacity is 80%). Once a shard is kOverloadPercent full,
  // evictions are due anyway and the search is cut to kOverloadPathNodes, so a flood of new
  // sessions into a full table costs a few times a normal insert, not a hundred.
  static constexpr uint32_t kMaxPathNodes = 512;
  static constexpr uint32_t kOverloadPercent = 95;
  static constexpr uint32_t kOverloadPathNodes = 32;
  static constexpr size_t kLookupChunk = 32;       // keys prefetched together by lookupBatch

  // Allocates and touches all memory now (DPDK hugepages when the EAL is up; otherwise anonymous
  // memory with transparent huge pages requested); nothing is allocated afterwards.
  static absl::StatusOr<std::unique_ptr<SessionTable>> create(const SessionTableConfig& config);
  ~SessionTable();
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  // --- Dataplane: any thread, concurrently. ---

  // Looks up n keys, writing out[0..n). Stages per chunk of kLookupChunk keys, so that the cache
  // misses of a burst overlap (like rte_hash_lookup_bulk): locate every key and prefetch its first
  // bucket; probe first buckets, prefetching the second bucket of keys not found; probe those. A
  // hit renews the session's idle timer.
  void lookupBatch(const SessionKey* keys, size_t n, SessionLookup* out, uint32_t now_s,
                   SessionCounters& counters);
  // Starts fetching the first bucket of each key and returns at once: call it for the next burst
  // before lookupBatch on the current one, so the next burst's misses are in flight while this one is
  // probed instead of after it (software pipelining across bursts, as l3fwd prefetches ahead).
  void prefetchBatch(const SessionKey* keys, size_t n) const;
  SessionLookup lookup(SessionKey key, uint32_t now_s, SessionCounters& counters);

  // Binds key to value (insert or replace). Takes only the key's shard lock.
  SessionInsertResult insert(SessionKey key, const SessionValue& value, uint32_t now_s,
                             SessionCounters& counters);
  SessionEraseResult erase(SessionKey key, SessionCounters& counters);

  // --- Control plane. ---

  // Reads an entry without renewing it or counting a lookup (REST look-up).
  std::optional<SessionEntry> peek(SessionKey key, uint32_t now_s) const;

  // Up to max_entries (>= 1) live entries with key > cursor, in key order; start with cursor 0.
  // Every page is a consistent scan of each shard it covers, so an entry present for a whole listing
  // appears exactly once, however many inserts, moves and deletes run meanwhile.
  SessionPage list(uint64_t cursor, size_t max_entries, uint32_t now_s) const;

  // Examines max_buckets buckets from a rotating cursor and removes expired entries. Bounded work. It
  // only ever try-locks a shard, skipping the bucket if a writer holds it, so it never waits.
  // Call from one thread at a time.
  uint32_t expireSlice(uint32_t now_s, uint32_t max_buckets, SessionCounters& counters);

  // Per-service timeouts, read at every check. Both TTLs must be in [1, INT32_MAX] seconds.
  absl::Status setTimeouts(uint32_t service, SessionTimeouts timeouts);
  SessionTimeouts timeouts(uint32_t service) const;  // service < maxServices()

  // Occupied slots, counting expired entries not yet reclaimed.
  uint64_t occupied() const;
  uint64_t capacity() const { return capacity_; }
  uint64_t slotCount() const { return bucket_count_ * kSlotsPerBucket; }
  uint32_t shardCount() const { return shard_count_; }
  uint32_t maxServices() const { return max_services_; }
  // Every byte the table holds: buckets, shard locks, move counters, timeouts.
  size_t memoryBytes() const;

 private:
  struct Slot {
    std::atomic<uint64_t> key{0};  // 0 = empty
    std::atomic<uint64_t> backend_id{0};
    std::atomic<uint32_t> seq{0};  // odd while a writer is changing the slot
    std::atomic<uint32_t> created_s{0};
    std::atomic<uint32_t> last_used_s{0};  // also written by readers (renewal), outside seq
    std::atomic<uint16_t> service{0};
    std::atomic<uint16_t> spare{0};
  };
  static_assert(sizeof(Slot) == 32, "two slots per cache line, four per bucket");

  // An aligned pair of cache lines: the pair the L2's adjacent-line prefetcher fetches together, so
  // reading a whole bucket costs about one random memory access.
  struct alignas(128) Bucket {
    Slot slots[kSlotsPerBucket];
  };
  static_assert(sizeof(Bucket) == 128 && alignof(Bucket) == 128);

  // Written only by the thread holding `lock`, except `lock` itself. Never read by lookups.
  struct alignas(64) ShardWriter {
    std::atomic<uint32_t> lock{0};
    std::atomic<uint32_t> occupied{0};
  };

  struct Location {
    Bucket* first;
    Bucket* second;  // == first when the key's two candidates coincide
    uint32_t shard;
  };

  // A consistent copy of a slot's fields.
  struct SlotImage {
    uint64_t key;
    uint64_t backend_id;
    uint32_t created_s;
    uint32_t last_used_s;
    uint16_t service;
  };
  enum class SlotRead : uint8_t { kNoMatch, kMatch, kBusy };

  SessionTable(const SessionTableConfig& config, uint64_t bucket_count, uint32_t shard_count,
               Bucket* buckets, bool from_dpdk);

  uint32_t shardOf(uint64_t key) const {
    return static_cast<uint32_t>((key >> 32) >> shard_shift_);
  }
  uint32_t firstBucket(uint64_t key) const {
    return hashing::reduceToRange(key << 32, buckets_per_shard_);
  }
  // Partial-key cuckoo: the pair {b, (d - b) mod n} depends only on the key, so either member
  // yields the other.
  uint32_t otherBucket(uint32_t bucket, uint64_t key) const {
    const uint32_t d =
        hashing::reduceToRange(uint64_t{static_cast<uint32_t>(key >> 32) * 0x9e3779b1u} << 32,
                               buckets_per_shard_);
    return d >= bucket ? d - bucket : d + buckets_per_shard_ - bucket;
  }
  Bucket* bucketAt(uint32_t shard, uint32_t bucket) const {
    return &buckets_[uint64_t{shard} * buckets_per_shard_ + bucket];
  }
  Location locate(uint64_t key) const;

  bool expired(uint32_t created_s, uint32_t last_used_s, uint16_t service, uint32_t now_s) const;
  int64_t secondsLeft(const Slot& slot, uint32_t now_s) const;

  static SlotRead readSlot(const Slot& slot, uint64_t key, SlotImage& image);
  static bool readAny(const Slot& slot, SlotImage& image);
  // probe(), matchIn() and readMatch() are the one-pass fast path; probeSlow() retries around
  // writers.
  SessionLookup probe(const Location& loc, uint64_t key, uint32_t now_s);
  SessionLookup probeSlow(const Location& loc, uint64_t key, uint32_t now_s);
  static Slot* matchIn(Bucket& bucket, uint64_t key);
  SessionLookup readMatch(Slot& slot, uint64_t key, uint32_t now_s);
  SessionLookup hitResult(Slot& slot, const SlotImage& image, uint32_t now_s);
  // Unvalidated check, for callers holding the shard lock or re-checking under it.
  bool slotExpired(const Slot& slot, uint32_t now_s) const;
  // Finds key in its buckets. kNoMatch is trusted only when no entry of the shard moved meanwhile;
  // kBusy after the retry bounds. On kMatch, *where is the slot read.
  SlotRead find(const Location& loc, uint64_t key, SlotImage& image, Slot** where) const;

  static void writeSlot(Slot& slot, uint64_t key, uint64_t backend_id, uint16_t service,
                        uint32_t created_s, uint32_t last_used_s);
  static void clearSlot(Slot& slot);
  void moveSlot(Slot& from, Slot& to);

  bool lockShard(uint32_t shard, uint32_t max_spins) const;
  void lockShardBlocking(uint32_t shard) const;
  void unlockShard(uint32_t shard) const;

  SessionInsertResult insertLocked(const Location& loc, uint64_t key, const SessionValue& value,
                                   uint32_t now_s, SessionCounters& counters);
  Slot* makeRoom(const Location& loc, SessionCounters& counters);
  void scanShard(uint32_t shard, uint64_t after_key, uint32_t now_s,
                 std::vector<SessionEntry>& out) const;

  const uint64_t capacity_;
  const uint64_t bucket_count_;
  const uint32_t shard_count_;
  const uint32_t buckets_per_shard_;
  const uint32_t shard_shift_;  // shard = (key >> 32) >> shard_shift_
  const uint32_t max_services_;
  Bucket* const buckets_;
  const bool from_dpdk_;
  std::unique_ptr<ShardWriter[]> writers_;
  std::unique_ptr<std::atomic<uint32_t>[]> move_seq_;  // per shard: odd while entries move
  std::unique_ptr<std::atomic<uint64_t>[]> timeouts_;  // per service: idle_s | lifetime_s << 32
  uint64_t expire_cursor_ = 0;                         // expireSlice's thread only
};

}  // namespace lb::dataplane
