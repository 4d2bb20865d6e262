#include "dataplane/session_table.h"

#include <rte_malloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <limits>
#include <new>
#include <random>
#include <thread>

#include "absl/strings/str_format.h"

namespace lb::dataplane {
namespace {

// A writer holds a slot odd for a handful of stores. Readers wait this many pauses (a few
// microseconds) before answering kBusy, which only a writer preempted mid-write can cause.
constexpr uint32_t kReadSpins = 256;
// Re-probes while entries move through a key's buckets before a miss is trusted.
constexpr uint32_t kMoveRetries = 64;
// Workers wait at most this many pauses for a shard lock (tens of microseconds), then report kBusy.
constexpr uint32_t kWriterSpins = 4096;
// Optimistic (lock-free) scans of a shard by list() before it takes the shard lock.
constexpr uint32_t kListOptimisticScans = 4;
// Default sharding: enough shards that writers rarely meet, few enough buckets per shard that a
// list() page scans a bounded amount (1024 buckets = 128 KiB).
constexpr uint64_t kTargetBucketsPerShard = 1024;
constexpr size_t kHugePageBytes = size_t{2} << 20;

inline void cpuRelax() { __builtin_ia32_pause(); }

// Both cache lines of a bucket, into L2 (prefetcht1): at 4M entries, about 2% faster than
// prefetching into L1 when measured on the development machine.
inline void prefetchBucket(const void* bucket) {
  __builtin_prefetch(bucket, 0, 2);
  __builtin_prefetch(static_cast<const char*>(bucket) + 64, 0, 2);
}

// Signed, so a timestamp a little ahead of `now` (another thread's clock) reads as young.
inline int32_t age(uint32_t now_s, uint32_t then_s) { return static_cast<int32_t>(now_s - then_s); }

constexpr uint32_t kMaxTtl = static_cast<uint32_t>(std::numeric_limits<int32_t>::max());

inline uint64_t packTimeouts(SessionTimeouts t) {
  return uint64_t{t.idle_s} | (uint64_t{t.lifetime_s} << 32);
}

bool validTimeouts(SessionTimeouts t) {
  return t.idle_s >= 1 && t.idle_s <= kMaxTtl && t.lifetime_s >= 1 && t.lifetime_s <= kMaxTtl;
}

size_t mappedBytes(uint64_t bucket_count, size_t bucket_bytes) {
  const size_t bytes = bucket_count * bucket_bytes;
  return (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
}

}  // namespace

SessionSecret SessionSecret::random() {
  SessionSecret secret;
  std::random_device device;
  for (size_t i = 0; i < kSize; i += sizeof(uint32_t)) {
    const uint32_t word = device();
    std::memcpy(&secret.bytes_[i], &word, sizeof(word));
  }
  return secret;
}

SessionSecret SessionSecret::fromSeed(uint64_t seed) {
  SessionSecret secret;
  XXH3_generateSecret_fromSeed(secret.bytes_.data(), seed);
  return secret;
}

void SessionStats::add(const SessionCounters& c) {
  lookups += c.lookups.read();
  hits += c.hits.read();
  misses += c.misses.read();
  busy += c.busy.read();
  inserts += c.inserts.read();
  updates += c.updates.read();
  evictions += c.evictions.read();
  expirations += c.expirations.read();
  deletes += c.deletes.read();
  relocations += c.relocations.read();
}

absl::StatusOr<std::unique_ptr<SessionTable>> SessionTable::create(
    const SessionTableConfig& config) {
  if (config.capacity == 0) {
    return absl::InvalidArgumentError("session table: capacity must be at least 1");
  }
  if (config.max_services == 0 || config.max_services > 65536) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "session table: max_services must be in [1, 65536], got %u", config.max_services));
  }
  if (!validTimeouts(config.default_timeouts)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "session table: idle and lifetime must be in [1, %u] seconds, got %u and %u", kMaxTtl,
        config.default_timeouts.idle_s, config.default_timeouts.lifetime_s));
  }
  if (config.shards != 0 &&
      (!std::has_single_bit(config.shards) || config.shards > SessionTableConfig::kMaxShards)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "session table: shards must be a power of two <= %u, got %u",
        SessionTableConfig::kMaxShards, config.shards));
  }
  // 80% of slots at capacity: far enough below where bounded searches start to fail (about 90% of
  // slots) that inserts up to capacity never evict.
  const uint64_t slots = (config.capacity * 100 + kLoadPercent - 1) / kLoadPercent;
  const uint64_t wanted_buckets = (slots + kSlotsPerBucket - 1) / kSlotsPerBucket;
  uint32_t shards = config.shards;
  if (shards == 0) {
    shards = static_cast<uint32_t>(std::bit_floor(std::clamp<uint64_t>(
        wanted_buckets / kTargetBucketsPerShard, 1, SessionTableConfig::kMaxShards)));
  }
  const uint64_t buckets_per_shard = (wanted_buckets + shards - 1) / shards;
  if (buckets_per_shard > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "session table: capacity %u needs more shards than %u", config.capacity, shards));
  }
  const uint64_t bucket_count = buckets_per_shard * shards;

  // Hugepages from DPDK when the EAL runs (a 160 MB table on 4 KiB pages costs a TLB miss per
  // lookup); otherwise anonymous memory with transparent huge pages requested.
  const size_t bytes = bucket_count * sizeof(Bucket);
  void* memory = rte_malloc_socket("tether_sessions", bytes, alignof(Bucket), SOCKET_ID_ANY);
  const bool from_dpdk = memory != nullptr;
  if (memory == nullptr) {
    memory = mmap(nullptr, mappedBytes(bucket_count, sizeof(Bucket)), PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("session table: cannot map %u bytes for %u sessions", bytes,
                          config.capacity));
    }
    madvise(memory, mappedBytes(bucket_count, sizeof(Bucket)), MADV_HUGEPAGE);
  }
  // Constructing every bucket also faults every page in now, never on the packet path.
  auto* buckets = static_cast<Bucket*>(memory);
  for (uint64_t i = 0; i < bucket_count; ++i) new (&buckets[i]) Bucket();
  return std::unique_ptr<SessionTable>(
      new SessionTable(config, bucket_count, shards, buckets, from_dpdk));
}

SessionTable::SessionTable(const SessionTableConfig& config, uint64_t bucket_count,
                           uint32_t shard_count, Bucket* buckets, bool from_dpdk)
    : capacity_(config.capacity),
      bucket_count_(bucket_count),
      shard_count_(shard_count),
      buckets_per_shard_(static_cast<uint32_t>(bucket_count / shard_count)),
      shard_shift_(32 - static_cast<uint32_t>(std::countr_zero(shard_count))),
      max_services_(config.max_services),
      buckets_(buckets),
      from_dpdk_(from_dpdk),
      writers_(new ShardWriter[shard_count]),
      move_seq_(new std::atomic<uint32_t>[shard_count]),
      timeouts_(new std::atomic<uint64_t>[config.max_services]) {
  for (uint32_t i = 0; i < shard_count; ++i) move_seq_[i].store(0, std::memory_order_relaxed);
  for (uint32_t i = 0; i < max_services_; ++i) {
    timeouts_[i].store(packTimeouts(config.default_timeouts), std::memory_order_relaxed);
  }
}

SessionTable::~SessionTable() {
  if (from_dpdk_) {
    rte_free(buckets_);
  } else {
    munmap(buckets_, mappedBytes(bucket_count_, sizeof(Bucket)));
  }
}

size_t SessionTable::memoryBytes() const {
  return bucket_count_ * sizeof(Bucket) + shard_count_ * sizeof(ShardWriter) +
         shard_count_ * sizeof(std::atomic<uint32_t>) + max_services_ * sizeof(std::atomic<uint64_t>);
}

uint64_t SessionTable::occupied() const {
  uint64_t total = 0;
  for (uint32_t i = 0; i < shard_count_; ++i) {
    total += writers_[i].occupied.load(std::memory_order_relaxed);
  }
  return total;
}

absl::Status SessionTable::setTimeouts(uint32_t service, SessionTimeouts timeouts) {
  if (service >= max_services_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "session table: service %u out of range (max_services %u)", service, max_services_));
  }
  if (!validTimeouts(timeouts)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "session table: idle and lifetime must be in [1, %u] seconds, got %u and %u", kMaxTtl,
        timeouts.idle_s, timeouts.lifetime_s));
  }
  timeouts_[service].store(packTimeouts(timeouts), std::memory_order_relaxed);
  return absl::OkStatus();
}

SessionTimeouts SessionTable::timeouts(uint32_t service) const {
  assert(service < max_services_);
  const uint64_t packed = timeouts_[service].load(std::memory_order_relaxed);
  return {.idle_s = static_cast<uint32_t>(packed), .lifetime_s = static_cast<uint32_t>(packed >> 32)};
}

[[gnu::always_inline]] inline SessionTable::Location SessionTable::locate(uint64_t key) const {
  const uint32_t shard = shardOf(key);
  const uint32_t first = firstBucket(key);
  return {bucketAt(shard, first), bucketAt(shard, otherBucket(first, key)), shard};
}

[[gnu::always_inline]] inline bool SessionTable::expired(uint32_t created_s, uint32_t last_used_s,
                                                         uint16_t service, uint32_t now_s) const {
  const uint64_t packed = timeouts_[service].load(std::memory_order_relaxed);
  return age(now_s, last_used_s) >= static_cast<int32_t>(static_cast<uint32_t>(packed)) ||
         age(now_s, created_s) >= static_cast<int32_t>(static_cast<uint32_t>(packed >> 32));
}

bool SessionTable::slotExpired(const Slot& slot, uint32_t now_s) const {
  return expired(slot.created_s.load(std::memory_order_relaxed),
                 slot.last_used_s.load(std::memory_order_relaxed),
                 slot.service.load(std::memory_order_relaxed), now_s);
}

int64_t SessionTable::secondsLeft(const Slot& slot, uint32_t now_s) const {
  const SessionTimeouts t = timeouts(slot.service.load(std::memory_order_relaxed));
  const int64_t idle_left =
      int64_t{t.idle_s} - age(now_s, slot.last_used_s.load(std::memory_order_relaxed));
  const int64_t lifetime_left =
      int64_t{t.lifetime_s} - age(now_s, slot.created_s.load(std::memory_order_relaxed));
  return std::min(idle_left, lifetime_left);
}

// --- Reading (any thread, no lock) ---

// Seqlock read without fences (the variant in Boehm's paper section 5 that makes field loads acquire
// and field stores release): it is what ThreadSanitizer can check, and on x86 acquire loads and
// release stores are plain moves. A field load that sees a writer's store synchronizes with it, so
// the second seq load that follows it sees that writer's odd value or later.
bool SessionTable::readAny(const Slot& slot, SlotImage& image) {
  for (uint32_t spin = 0; spin < kReadSpins; ++spin) {
    const uint32_t before = slot.seq.load(std::memory_order_acquire);
    if ((before & 1) == 0) {
      image.key = slot.key.load(std::memory_order_acquire);
      image.backend_id = slot.backend_id.load(std::memory_order_acquire);
      image.created_s = slot.created_s.load(std::memory_order_acquire);
      image.last_used_s = slot.last_used_s.load(std::memory_order_acquire);
      image.service = slot.service.load(std::memory_order_acquire);
      if (slot.seq.load(std::memory_order_relaxed) == before) return true;
    }
    cpuRelax();
  }
  return false;
}

SessionTable::SlotRead SessionTable::readSlot(const Slot& slot, uint64_t key, SlotImage& image) {
  // Acquire, so that a key cleared by a move orders the caller's later move-counter check.
  if (slot.key.load(std::memory_order_acquire) != key) return SlotRead::kNoMatch;
  if (!readAny(slot, image)) return SlotRead::kBusy;
  return image.key == key ? SlotRead::kMatch : SlotRead::kNoMatch;
}

SessionTable::SlotRead SessionTable::find(const Location& loc, uint64_t key, SlotImage& image,
                                          Slot** where) const {
  const std::atomic<uint32_t>& moves = move_seq_[loc.shard];
  const uint32_t bucket_count = loc.first == loc.second ? 1 : 2;
  for (uint32_t attempt = 0; attempt < kMoveRetries; ++attempt) {
    const uint32_t moves_before = moves.load(std::memory_order_acquire);
    Bucket* const buckets[2] = {loc.first, loc.second};
    for (uint32_t b = 0; b < bucket_count; ++b) {
      for (Slot& slot : buckets[b]->slots) {
        const SlotRead read = readSlot(slot, key, image);
        if (read == SlotRead::kNoMatch) continue;
        *where = &slot;
        return read;  // a hit is valid whatever moved; a busy slot ends the search
      }
    }
    // A miss counts only if no entry of this shard moved while we looked: a move copies to the
    // other bucket before clearing, but our two probes may have straddled it. The acquire key loads
    // above keep this load after them.
    if ((moves_before & 1) == 0 && moves.load(std::memory_order_relaxed) == moves_before) {
      return SlotRead::kNoMatch;
    }
    cpuRelax();
  }
  return SlotRead::kBusy;
}

[[gnu::always_inline]] inline SessionLookup SessionTable::hitResult(Slot& slot,
                                                                    const SlotImage& image,
                                                                    uint32_t now_s) {
  if (expired(image.created_s, image.last_used_s, image.service, now_s)) return {};
  // Renew at most once a second per session. Written outside the seqlock: any recent value is a
  // valid last-used time, and the store can at worst land on a slot reused meanwhile, giving that
  // brand-new entry a "now" it already has.
  if (age(now_s, image.last_used_s) > 0) {
    slot.last_used_s.store(now_s, std::memory_order_relaxed);
  }
  return {.backend_id = image.backend_id, .service = image.service,
          .status = SessionLookupStatus::kHit};
}

// The slot of `bucket` holding key, or nullptr. Selected without branches: which slot holds a key is
// a coin toss, and a mispredict costs as much as the rest of the probe.
[[gnu::always_inline]] inline SessionTable::Slot* SessionTable::matchIn(Bucket& bucket,
                                                                       uint64_t key) {
  Slot* match = nullptr;
  for (Slot& slot : bucket.slots) {
    match = slot.key.load(std::memory_order_acquire) == key ? &slot : match;
  }
  return match;
}

// Reads a slot whose key matched, once, under its seqlock; a writer mid-slot sends the lookup to
// probeSlow().
[[gnu::always_inline]] inline SessionLookup SessionTable::readMatch(Slot& slot, uint64_t key,
                                                                   uint32_t now_s) {
  SlotImage image;
  const uint32_t before = slot.seq.load(std::memory_order_acquire);
  image.key = slot.key.load(std::memory_order_acquire);
  image.backend_id = slot.backend_id.load(std::memory_order_acquire);
  image.created_s = slot.created_s.load(std::memory_order_acquire);
  image.last_used_s = slot.last_used_s.load(std::memory_order_acquire);
  image.service = slot.service.load(std::memory_order_acquire);
  if ((before & 1) == 0 && slot.seq.load(std::memory_order_relaxed) == before && image.key == key) {
    return hitResult(slot, image, now_s);
  }
  return probeSlow(locate(key), key, now_s);
}

// One pass over both candidate buckets with no retry loop. Anything unusual (a writer mid-slot, a
// miss while entries moved) goes to probeSlow().
[[gnu::always_inline]] inline SessionLookup SessionTable::probe(const Location& loc, uint64_t key,
                                                               uint32_t now_s) {
  const std::atomic<uint32_t>& moves = move_seq_[loc.shard];
  const uint32_t moves_before = moves.load(std::memory_order_acquire);
  Slot* match = matchIn(*loc.first, key);
  if (match == nullptr) match = matchIn(*loc.second, key);
  if (match != nullptr) return readMatch(*match, key, now_s);
  if ((moves_before & 1) == 0 && moves.load(std::memory_order_relaxed) == moves_before) return {};
  return probeSlow(loc, key, now_s);
}

[[gnu::noinline]] SessionLookup SessionTable::probeSlow(const Location& loc, uint64_t key,
                                                        uint32_t now_s) {
  SlotImage image;
  Slot* slot = nullptr;
  switch (find(loc, key, image, &slot)) {
    case SlotRead::kNoMatch:
      return {};
    case SlotRead::kBusy:
      return {.status = SessionLookupStatus::kBusy};
    case SlotRead::kMatch:
      break;
  }
  return hitResult(*slot, image, now_s);
}

void SessionTable::lookupBatch(const SessionKey* keys, size_t n, SessionLookup* out,
                               uint32_t now_s, SessionCounters& counters) {
  uint64_t hits = 0;
  uint64_t busy = 0;
  auto record = [&](SessionLookup& to, const SessionLookup& result) {
    hits += result.status == SessionLookupStatus::kHit;
    busy += result.status == SessionLookupStatus::kBusy;
    to = result;
  };
  Location locations[kLookupChunk];
  uint32_t moves_before[kLookupChunk];
  uint8_t deferred[kLookupChunk];
  static_assert(kLookupChunk <= 256);
  for (size_t base = 0; base < n; base += kLookupChunk) {
    const size_t count = std::min(kLookupChunk, n - base);
    const SessionKey* const chunk = keys + base;
    // Stage 1: every key's first bucket in flight at once. Second buckets are located only for
    // the keys that need them.
    for (size_t i = 0; i < count; ++i) {
      const uint64_t key = chunk[i].value;
      const uint32_t shard = shardOf(key);
      locations[i] = {bucketAt(shard, firstBucket(key)), nullptr, shard};
      prefetchBucket(locations[i].first);
    }
    // Stage 2: probe first buckets, where most entries live (insert fills first buckets first).
    // Keys not there get their second bucket prefetched and wait for stage 3.
    size_t waiting = 0;
    for (size_t i = 0; i < count; ++i) {
      Location& loc = locations[i];
      const uint64_t key = chunk[i].value;
      moves_before[i] = move_seq_[loc.shard].load(std::memory_order_acquire);
      Slot* const match = matchIn(*loc.first, key);
      if (match != nullptr) {
        record(out[base + i], readMatch(*match, key, now_s));
      } else {
        loc.second = bucketAt(loc.shard, otherBucket(firstBucket(key), key));
        prefetchBucket(loc.second);
        deferred[waiting++] = static_cast<uint8_t>(i);
      }
    }
    // Stage 3: second buckets. A miss stands only if no entry of the shard moved since stage 2
    // (see find()).
    for (size_t w = 0; w < waiting; ++w) {
      const size_t i = deferred[w];
      const Location& loc = locations[i];
      const uint64_t key = chunk[i].value;
      Slot* const match = matchIn(*loc.second, key);
      if (match != nullptr) {
        record(out[base + i], readMatch(*match, key, now_s));
      } else if ((moves_before[i] & 1) == 0 &&
                 move_seq_[loc.shard].load(std::memory_order_relaxed) == moves_before[i]) {
        record(out[base + i], SessionLookup{});
      } else {
        record(out[base + i], probeSlow(loc, key, now_s));
      }
    }
  }
  counters.lookups.add(n);
  counters.hits.add(hits);
  counters.busy.add(busy);
  counters.misses.add(n - hits - busy);
}

void SessionTable::prefetchBatch(const SessionKey* keys, size_t n) const {
  for (size_t i = 0; i < n; ++i) {
    const uint64_t key = keys[i].value;
    prefetchBucket(bucketAt(shardOf(key), firstBucket(key)));
  }
}

SessionLookup SessionTable::lookup(SessionKey key, uint32_t now_s, SessionCounters& counters) {
  const SessionLookup result = probe(locate(key.value), key.value, now_s);
  counters.lookups.inc();
  switch (result.status) {
    case SessionLookupStatus::kHit: counters.hits.inc(); break;
    case SessionLookupStatus::kMiss: counters.misses.inc(); break;
    case SessionLookupStatus::kBusy: counters.busy.inc(); break;
  }
  return result;
}

std::optional<SessionEntry> SessionTable::peek(SessionKey key, uint32_t now_s) const {
  SlotImage image;
  Slot* slot = nullptr;
  if (find(locate(key.value), key.value, image, &slot) != SlotRead::kMatch) return std::nullopt;
  if (expired(image.created_s, image.last_used_s, image.service, now_s)) return std::nullopt;
  return SessionEntry{.key = key, .backend_id = image.backend_id, .service = image.service,
                      .created_s = image.created_s, .last_used_s = image.last_used_s};
}

// --- Writing (shard lock held) ---

void SessionTable::writeSlot(Slot& slot, uint64_t key, uint64_t backend_id, uint16_t service,
                             uint32_t created_s, uint32_t last_used_s) {
  // Seqlock writer: odd, fields (release: each orders the odd store before it), even. Only the
  // shard lock holder writes seq.
  const uint32_t seq = slot.seq.load(std::memory_order_relaxed);
  slot.seq.store(seq + 1, std::memory_order_relaxed);
  slot.backend_id.store(backend_id, std::memory_order_release);
  slot.service.store(service, std::memory_order_release);
  slot.created_s.store(created_s, std::memory_order_release);
  slot.last_used_s.store(last_used_s, std::memory_order_release);
  slot.key.store(key, std::memory_order_release);
  slot.seq.store(seq + 2, std::memory_order_release);
}

void SessionTable::clearSlot(Slot& slot) {
  const uint32_t seq = slot.seq.load(std::memory_order_relaxed);
  slot.seq.store(seq + 1, std::memory_order_relaxed);
  slot.key.store(0, std::memory_order_release);
  slot.seq.store(seq + 2, std::memory_order_release);
}

void SessionTable::moveSlot(Slot& from, Slot& to) {
  // Copy first, clear second: the entry is in at least one of its buckets at every moment.
  writeSlot(to, from.key.load(std::memory_order_relaxed),
            from.backend_id.load(std::memory_order_relaxed),
            from.service.load(std::memory_order_relaxed),
            from.created_s.load(std::memory_order_relaxed),
            from.last_used_s.load(std::memory_order_relaxed));
  clearSlot(from);
}

bool SessionTable::lockShard(uint32_t shard, uint32_t max_spins) const {
  std::atomic<uint32_t>& lock = writers_[shard].lock;
  for (uint32_t spin = 0;; ++spin) {
    if (lock.load(std::memory_order_relaxed) == 0 &&
        lock.exchange(1, std::memory_order_acquire) == 0) {
      return true;
    }
    if (spin >= max_spins) return false;
    cpuRelax();
  }
}

void SessionTable::lockShardBlocking(uint32_t shard) const {
  while (!lockShard(shard, kWriterSpins)) std::this_thread::yield();
}

void SessionTable::unlockShard(uint32_t shard) const {
  writers_[shard].lock.store(0, std::memory_order_release);
}

SessionInsertResult SessionTable::insert(SessionKey key, const SessionValue& value,
                                         uint32_t now_s, SessionCounters& counters) {
  if (value.service >= max_services_) return SessionInsertResult::kBadService;
  const Location loc = locate(key.value);
  if (!lockShard(loc.shard, kWriterSpins)) {
    counters.busy.inc();
    return SessionInsertResult::kBusy;
  }
  const SessionInsertResult result = insertLocked(loc, key.value, value, now_s, counters);
  unlockShard(loc.shard);
  return result;
}

SessionInsertResult SessionTable::insertLocked(const Location& loc, uint64_t key,
                                               const SessionValue& value, uint32_t now_s,
                                               SessionCounters& counters) {
  Bucket* const buckets[2] = {loc.first, loc.second};
  const uint32_t bucket_count = loc.first == loc.second ? 1 : 2;
  auto write = [&](Slot& slot) {
    writeSlot(slot, key, value.backend_id, value.service, now_s, now_s);
  };

  // The key itself: replace in place (readers see the old or the new binding, never a mix).
  for (uint32_t b = 0; b < bucket_count; ++b) {
    for (Slot& slot : buckets[b]->slots) {
      if (slot.key.load(std::memory_order_relaxed) != key) continue;
      const bool was_expired = slotExpired(slot, now_s);
      write(slot);
      if (was_expired) {
        counters.expirations.inc();
        counters.inserts.inc();
        return SessionInsertResult::kInserted;
      }
      counters.updates.inc();
      return SessionInsertResult::kUpdated;
    }
  }

  // A free slot, else an expired entry's slot, in the first bucket when it has one: lookupBatch
  // reads the second bucket only for keys missing from the first, so every entry kept in its first
  // bucket saves a memory access.
  Slot* target = nullptr;
  bool reclaimed = false;
  for (uint32_t b = 0; b < bucket_count && target == nullptr; ++b) {
    Slot* expired_slot = nullptr;
    for (Slot& slot : buckets[b]->slots) {
      if (slot.key.load(std::memory_order_relaxed) == 0) {
        target = &slot;
        break;
      }
      if (expired_slot == nullptr && slotExpired(slot, now_s)) expired_slot = &slot;
    }
    if (target == nullptr && expired_slot != nullptr) {
      target = expired_slot;
      reclaimed = true;
    }
  }
  if (reclaimed) {
    write(*target);
    counters.expirations.inc();
    counters.inserts.inc();
    return SessionInsertResult::kInserted;
  }
  ShardWriter& writer = writers_[loc.shard];
  if (target == nullptr) target = makeRoom(loc, counters);
  if (target != nullptr) {
    write(*target);
    writer.occupied.store(writer.occupied.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
    counters.inserts.inc();
    return SessionInsertResult::kInserted;
  }

  // No path to a free slot: evict the candidate closest to expiry.
  Slot* victim = nullptr;
  int64_t victim_left = std::numeric_limits<int64_t>::max();
  for (uint32_t b = 0; b < bucket_count; ++b) {
    for (Slot& slot : buckets[b]->slots) {
      const int64_t left = secondsLeft(slot, now_s);
      if (left < victim_left) {
        victim = &slot;
        victim_left = left;
      }
    }
  }
  write(*victim);
  counters.evictions.inc();
  counters.inserts.inc();
  return SessionInsertResult::kInsertedAfterEviction;
}

// Breadth-first search for a cuckoo path (as in MemC3 and libcuckoo): from the key's two full
// buckets, follow each resident entry to its other bucket until a bucket with a free slot turns up,
// then shift the entries along the path, last one first, so that a slot in a root bucket ends up
// free. A bucket is prefetched when it is queued and examined only when dequeued, so the cache misses
// of a whole search level overlap. Buckets already on a path are not revisited, which keeps every
// move's source and destination exactly as the search saw them (the shard lock is held).
SessionTable::Slot* SessionTable::makeRoom(const Location& loc, SessionCounters& counters) {
  struct Node {
    uint32_t bucket;
    int16_t parent;  // -1 for the two roots
    uint8_t slot;    // the parent's slot whose entry would move into this bucket
  };
  static_assert(kMaxPathNodes <= std::numeric_limits<int16_t>::max());
  Node nodes[kMaxPathNodes];
  uint32_t head = 0;
  uint32_t tail = 0;
  const uint32_t shard = loc.shard;
  Bucket* const shard_base = bucketAt(shard, 0);
  nodes[tail++] = {static_cast<uint32_t>(loc.first - shard_base), -1, 0};
  if (loc.second != loc.first) {
    nodes[tail++] = {static_cast<uint32_t>(loc.second - shard_base), -1, 0};
  }
  const uint32_t roots = tail;

  auto onPath = [&](uint32_t node, uint32_t bucket) {
    for (int32_t at = static_cast<int32_t>(node); at >= 0; at = nodes[at].parent) {
      if (nodes[at].bucket == bucket) return true;
    }
    return false;
  };

  const uint64_t shard_slots = uint64_t{buckets_per_shard_} * kSlotsPerBucket;
  const bool overloaded = uint64_t{writers_[shard].occupied.load(std::memory_order_relaxed)} * 100 >=
                          shard_slots * kOverloadPercent;
  const uint32_t max_nodes = overloaded ? kOverloadPathNodes : kMaxPathNodes;

  while (head < tail) {
    const uint32_t at = head++;
    Bucket* const bucket = bucketAt(shard, nodes[at].bucket);
    if (at >= roots) {  // the roots are known to be full
      for (uint8_t e = 0; e < kSlotsPerBucket; ++e) {
        if (bucket->slots[e].key.load(std::memory_order_relaxed) != 0) continue;
        // Found. Readers that miss while the move counter is odd or changed retry (see find()).
        // The odd store is ordered before the moves by their release stores (see writeSlot).
        std::atomic<uint32_t>& moves = move_seq_[shard];
        const uint32_t seq = moves.load(std::memory_order_relaxed);
        moves.store(seq + 1, std::memory_order_relaxed);
        uint32_t node = at;
        uint8_t vacated = e;
        uint32_t moved = 0;
        while (nodes[node].parent >= 0) {
          const Node& child = nodes[node];
          Bucket* const from = bucketAt(shard, nodes[child.parent].bucket);
          moveSlot(from->slots[child.slot], bucketAt(shard, child.bucket)->slots[vacated]);
          vacated = child.slot;
          node = static_cast<uint32_t>(child.parent);
          ++moved;
        }
        moves.store(seq + 2, std::memory_order_release);
        counters.relocations.add(moved);
        return &bucketAt(shard, nodes[node].bucket)->slots[vacated];
      }
    }
    for (uint8_t s = 0; s < kSlotsPerBucket && tail < max_nodes; ++s) {
      const uint64_t resident = bucket->slots[s].key.load(std::memory_order_relaxed);
      const uint32_t other = otherBucket(nodes[at].bucket, resident);
      if (other == nodes[at].bucket || onPath(at, other)) continue;
      __builtin_prefetch(bucketAt(shard, other));
      nodes[tail++] = {other, static_cast<int16_t>(at), s};
    }
  }
  return nullptr;
}

SessionEraseResult SessionTable::erase(SessionKey key, SessionCounters& counters) {
  const Location loc = locate(key.value);
  if (!lockShard(loc.shard, kWriterSpins)) {
    counters.busy.inc();
    return SessionEraseResult::kBusy;
  }
  SessionEraseResult result = SessionEraseResult::kNotFound;
  Bucket* const buckets[2] = {loc.first, loc.second};
  const uint32_t bucket_count = loc.first == loc.second ? 1 : 2;
  for (uint32_t b = 0; b < bucket_count && result == SessionEraseResult::kNotFound; ++b) {
    for (Slot& slot : buckets[b]->slots) {
      if (slot.key.load(std::memory_order_relaxed) != key.value) continue;
      clearSlot(slot);
      ShardWriter& writer = writers_[loc.shard];
      writer.occupied.store(writer.occupied.load(std::memory_order_relaxed) - 1,
                            std::memory_order_relaxed);
      counters.deletes.inc();
      result = SessionEraseResult::kErased;
      break;
    }
  }
  unlockShard(loc.shard);
  return result;
}

// --- Control plane ---

uint32_t SessionTable::expireSlice(uint32_t now_s, uint32_t max_buckets,
                                   SessionCounters& counters) {
  uint32_t removed = 0;
  const uint64_t examine = std::min<uint64_t>(max_buckets, bucket_count_);
  for (uint64_t i = 0; i < examine; ++i) {
    const uint64_t index = expire_cursor_;
    expire_cursor_ = index + 1 == bucket_count_ ? 0 : index + 1;
    Bucket& bucket = buckets_[index];
    // Look without the lock first: most buckets hold nothing expired, and then no writer is delayed.
    bool any = false;
    for (const Slot& slot : bucket.slots) {
      any |= slot.key.load(std::memory_order_relaxed) != 0 && slotExpired(slot, now_s);
    }
    if (!any) continue;
    const auto shard = static_cast<uint32_t>(index / buckets_per_shard_);
    if (!lockShard(shard, 0)) continue;  // a writer is busy here: next pass
    ShardWriter& writer = writers_[shard];
    for (Slot& slot : bucket.slots) {
      if (slot.key.load(std::memory_order_relaxed) == 0 || !slotExpired(slot, now_s)) continue;
      clearSlot(slot);
      writer.occupied.store(writer.occupied.load(std::memory_order_relaxed) - 1,
                            std::memory_order_relaxed);
      ++removed;
    }
    unlockShard(shard);
  }
  counters.expirations.add(removed);
  return removed;
}

void SessionTable::scanShard(uint32_t shard, uint64_t after_key, uint32_t now_s,
                             std::vector<SessionEntry>& out) const {
  Bucket* const first = bucketAt(shard, 0);
  Bucket* const end = first + buckets_per_shard_;
  auto scan = [&] {
    out.clear();
    for (Bucket* bucket = first; bucket != end; ++bucket) {
      for (const Slot& slot : bucket->slots) {
        if (slot.key.load(std::memory_order_acquire) == 0) continue;
        SlotImage image;
        if (!readAny(slot, image)) return false;
        if (image.key <= after_key ||
            expired(image.created_s, image.last_used_s, image.service, now_s)) {
          continue;
        }
        out.push_back({.key = SessionKey{image.key}, .backend_id = image.backend_id,
                       .service = image.service, .created_s = image.created_s,
                       .last_used_s = image.last_used_s});
      }
    }
    return true;
  };
  // A scan is consistent if no entry of the shard moved meanwhile: an entry moving backwards past
  // the scan would be missed, one moving forwards seen twice.
  const std::atomic<uint32_t>& moves = move_seq_[shard];
  for (uint32_t attempt = 0; attempt < kListOptimisticScans; ++attempt) {
    const uint32_t before = moves.load(std::memory_order_acquire);
    if ((before & 1) == 0 && scan() && moves.load(std::memory_order_relaxed) == before) return;
    std::this_thread::yield();
  }
  // Inserts keep moving entries: hold writers off this shard for one scan.
  lockShardBlocking(shard);
  const bool complete = scan();
  assert(complete);  // under the lock no slot is mid-write
  (void)complete;
  unlockShard(shard);
}

SessionPage SessionTable::list(uint64_t cursor, size_t max_entries, uint32_t now_s) const {
  SessionPage page;
  std::vector<SessionEntry> found;
  // Keys order shards (the shard is the key's top bits), so "key > cursor" resumes exactly.
  uint32_t shard = shardOf(cursor);
  while (shard < shard_count_ && page.entries.size() < max_entries) {
    scanShard(shard, cursor, now_s, found);
    std::sort(found.begin(), found.end(), [](const SessionEntry& a, const SessionEntry& b) {
      return a.key.value < b.key.value;
    });
    const size_t room = max_entries - page.entries.size();
    if (found.size() > room) {
      page.entries.insert(page.entries.end(), found.begin(),
                          found.begin() + static_cast<std::ptrdiff_t>(room));
      page.next_cursor = page.entries.back().key.value;
      page.more = true;
      return page;
    }
    page.entries.insert(page.entries.end(), found.begin(), found.end());
    ++shard;
  }
  page.more = shard < shard_count_;
  page.next_cursor = page.entries.empty() ? cursor : page.entries.back().key.value;
  return page;
}

}  // namespace lb::dataplane
