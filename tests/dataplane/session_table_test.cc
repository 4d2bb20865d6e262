// SessionTable (dataplane/session_table.h): the shared sticky-session table of issue 5. Single-thread
// semantics (insert, lookup, update, delete, idle and absolute expiry, renewal, eviction order, paged
// listing, batch = single lookups, sizing), then a multi-threaded run in which readers must never see
// a torn entry or lose a stable one while writers insert, update, move and delete and a control
// thread expires and lists. Meant to be run under ThreadSanitizer too (see tests/dataplane/meson.build).
#include "dataplane/session_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace lb::dataplane {
namespace {

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Keys as sessionKey() makes them: uniform 64-bit values.
SessionKey key(uint64_t n) { return SessionKey::fromHash(splitmix(n)); }

constexpr SessionTimeouts kTimeouts{.idle_s = 100, .lifetime_s = 1000};

std::unique_ptr<SessionTable> makeTable(uint64_t capacity, uint32_t shards = 0,
                                        SessionTimeouts timeouts = kTimeouts) {
  auto table = SessionTable::create(
      {.capacity = capacity, .shards = shards, .max_services = 16, .default_timeouts = timeouts});
  EXPECT_TRUE(table.ok()) << table.status();
  return std::move(table).value();
}

SessionStats stats(const SessionCounters& c) {
  SessionStats s;
  s.add(c);
  return s;
}

// The key is a keyed hash: stable for one secret, different under another, never 0, and the raw
// value cannot be recovered from the table (only the hash is stored).
TEST(SessionKeyTest, KeyedHashOfCookie) {
  const SessionSecret a = SessionSecret::fromSeed(1);
  const SessionSecret b = SessionSecret::fromSeed(2);
  EXPECT_EQ(sessionKey("s3ss10n", a), sessionKey("s3ss10n", a));
  EXPECT_NE(sessionKey("s3ss10n", a), sessionKey("s3ss10n", b));
  EXPECT_NE(sessionKey("s3ss10n", a), sessionKey("s3ss10m", a));
  EXPECT_NE(sessionKey("", a).value, 0u);
  const SessionSecret r1 = SessionSecret::random();
  const SessionSecret r2 = SessionSecret::random();
  EXPECT_NE(sessionKey("x", r1), sessionKey("x", r2));
  EXPECT_EQ(SessionKey::fromHash(0).value, 1u);
}

// Bad configurations are refused with a message that names the field.
TEST(SessionTableTest, RejectsBadConfig) {
  EXPECT_FALSE(SessionTable::create({.capacity = 0}).ok());
  const auto shards = SessionTable::create({.capacity = 100, .shards = 3});
  ASSERT_FALSE(shards.ok());
  EXPECT_NE(shards.status().message().find("shards"), std::string_view::npos);
  EXPECT_FALSE(SessionTable::create({.capacity = 100, .max_services = 0}).ok());
  EXPECT_FALSE(
      SessionTable::create({.capacity = 100, .default_timeouts = {.idle_s = 0, .lifetime_s = 5}})
          .ok());
  auto table = makeTable(100);
  EXPECT_FALSE(table->setTimeouts(16, kTimeouts).ok());
  EXPECT_FALSE(table->setTimeouts(0, {.idle_s = 5, .lifetime_s = 0}).ok());
}

// Memory is fixed at construction and stays within the 64 bytes per entry (40 expected:
// 32-byte slots at 80% load), at every size.
TEST(SessionTableTest, BytesPerEntryWithinBudget) {
  for (uint64_t capacity : {1000ull, 65536ull, 1000000ull}) {
    auto table = makeTable(capacity);
    const double per_entry = static_cast<double>(table->memoryBytes()) / capacity;
    EXPECT_LE(per_entry, 41.0) << capacity;
    EXPECT_GE(table->slotCount(), capacity * 100 / SessionTable::kLoadPercent) << capacity;
  }
}

// insert / lookup / update / erase, with the value and the counters each step implies.
TEST(SessionTableTest, InsertLookupUpdateErase) {
  auto table = makeTable(1000);
  SessionCounters c;
  EXPECT_EQ(table->lookup(key(1), 10, c).status, SessionLookupStatus::kMiss);
  EXPECT_EQ(table->insert(key(1), {.backend_id = 0xabcdef0123456789, .service = 3}, 10, c),
            SessionInsertResult::kInserted);
  SessionLookup hit = table->lookup(key(1), 11, c);
  ASSERT_TRUE(hit.hit());
  EXPECT_EQ(hit.backend_id, 0xabcdef0123456789u);
  EXPECT_EQ(hit.service, 3);
  EXPECT_EQ(table->occupied(), 1u);

  EXPECT_EQ(table->insert(key(1), {.backend_id = 42, .service = 4}, 12, c),
            SessionInsertResult::kUpdated);
  hit = table->lookup(key(1), 12, c);
  EXPECT_EQ(hit.backend_id, 42u);
  EXPECT_EQ(hit.service, 4);
  const auto entry = table->peek(key(1), 12);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->created_s, 12u);  // an update is a new binding
  EXPECT_EQ(table->occupied(), 1u);

  EXPECT_EQ(table->erase(key(1), c), SessionEraseResult::kErased);
  EXPECT_EQ(table->lookup(key(1), 13, c).status, SessionLookupStatus::kMiss);
  EXPECT_EQ(table->erase(key(1), c), SessionEraseResult::kNotFound);
  EXPECT_EQ(table->occupied(), 0u);
  EXPECT_EQ(table->insert(key(2), {.backend_id = 1, .service = 16}, 13, c),
            SessionInsertResult::kBadService);

  const SessionStats s = stats(c);
  EXPECT_EQ(s.lookups, 4u);
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.inserts, 1u);
  EXPECT_EQ(s.updates, 1u);
  EXPECT_EQ(s.deletes, 1u);
  EXPECT_EQ(s.evictions, 0u);
}

// Idle expiry: every hit renews the idle timer; a session left alone for idle_s is gone, whether or
// not the control plane has reclaimed it yet. peek() reads without renewing.
TEST(SessionTableTest, IdleTimeoutRenewedOnUse) {
  auto table = makeTable(1000, 0, {.idle_s = 10, .lifetime_s = 1000});
  SessionCounters c;
  table->insert(key(1), {.backend_id = 7}, 0, c);
  for (uint32_t t : {9u, 18u, 27u}) EXPECT_TRUE(table->lookup(key(1), t, c).hit()) << t;
  EXPECT_TRUE(table->peek(key(1), 36).has_value());
  EXPECT_FALSE(table->peek(key(1), 37).has_value());
  EXPECT_FALSE(table->lookup(key(1), 37, c).hit());
  EXPECT_EQ(table->occupied(), 1u);  // expired but not reclaimed yet
}

// Absolute lifetime: a session ends lifetime_s after creation however often it is used.
TEST(SessionTableTest, AbsoluteLifetimeEndsBusySession) {
  auto table = makeTable(1000, 0, {.idle_s = 10, .lifetime_s = 25});
  SessionCounters c;
  table->insert(key(1), {.backend_id = 7}, 100, c);
  for (uint32_t t : {108u, 116u, 124u}) EXPECT_TRUE(table->lookup(key(1), t, c).hit()) << t;
  EXPECT_FALSE(table->lookup(key(1), 125, c).hit());
}

// Timeouts are per service and changing them applies to live sessions.
TEST(SessionTableTest, PerServiceTimeouts) {
  auto table = makeTable(1000);
  ASSERT_TRUE(table->setTimeouts(2, {.idle_s = 5, .lifetime_s = 50}).ok());
  SessionCounters c;
  table->insert(key(1), {.backend_id = 1, .service = 1}, 0, c);
  table->insert(key(2), {.backend_id = 2, .service = 2}, 0, c);
  EXPECT_TRUE(table->peek(key(1), 6).has_value());
  EXPECT_FALSE(table->peek(key(2), 6).has_value());
  ASSERT_TRUE(table->setTimeouts(2, {.idle_s = 500, .lifetime_s = 5000}).ok());
  EXPECT_TRUE(table->peek(key(2), 6).has_value());
  EXPECT_EQ(table->timeouts(2).idle_s, 500u);
}

// A clock a little behind the writer's (another thread's view of "now") never expires an entry.
TEST(SessionTableTest, EarlierClockIsNotExpiry) {
  auto table = makeTable(1000, 0, {.idle_s = 10, .lifetime_s = 20});
  SessionCounters c;
  table->insert(key(1), {.backend_id = 1}, 1000, c);
  EXPECT_TRUE(table->lookup(key(1), 999, c).hit());
  EXPECT_TRUE(table->peek(key(1), 1009).has_value());  // the stale renewal to 999 was not taken
}

// expireSlice reclaims exactly the expired entries, in bounded slices, and counts them.
TEST(SessionTableTest, ExpireSliceReclaimsOnlyExpired) {
  auto table = makeTable(4000, 0, {.idle_s = 10, .lifetime_s = 1000});
  SessionCounters c;
  for (uint64_t i = 0; i < 2000; ++i) table->insert(key(i), {.backend_id = i}, 0, c);
  for (uint64_t i = 2000; i < 3000; ++i) table->insert(key(i), {.backend_id = i}, 5, c);
  EXPECT_EQ(table->occupied(), 3000u);

  // One bucket per call: at most one bucket's slots reclaimed.
  EXPECT_LE(table->expireSlice(12, 1, c), SessionTable::kSlotsPerBucket);
  const auto buckets = static_cast<uint32_t>(table->slotCount() / SessionTable::kSlotsPerBucket);
  for (uint32_t done = 1; done < buckets; done += 64) table->expireSlice(12, 64, c);
  EXPECT_EQ(stats(c).expirations, 2000u);
  EXPECT_EQ(table->occupied(), 1000u);
  for (uint64_t i = 2000; i < 3000; ++i) ASSERT_TRUE(table->peek(key(i), 12).has_value()) << i;
  EXPECT_EQ(table->expireSlice(12, static_cast<uint32_t>(buckets), c), 0u);
}

// Inserting a key whose old entry expired is a new session (created reset), counted as an insert
// and an expiration, not an update; an expired neighbour's slot is reused before anything moves.
TEST(SessionTableTest, InsertOverExpiredEntry) {
  auto table = makeTable(1000, 0, {.idle_s = 10, .lifetime_s = 1000});
  SessionCounters c;
  table->insert(key(1), {.backend_id = 1}, 0, c);
  EXPECT_EQ(table->insert(key(1), {.backend_id = 2}, 50, c), SessionInsertResult::kInserted);
  EXPECT_EQ(table->peek(key(1), 50)->created_s, 50u);
  const SessionStats s = stats(c);
  EXPECT_EQ(s.inserts, 2u);
  EXPECT_EQ(s.updates, 0u);
  EXPECT_EQ(s.expirations, 1u);
  EXPECT_EQ(table->occupied(), 1u);
}

// With one bucket, a session arriving when every slot is taken evicts the one closest to expiry:
// the oldest by idle time, unless a hit renewed it. An expired entry is reclaimed instead, without
// counting an eviction.
TEST(SessionTableTest, FullBucketEvictsClosestToExpiry) {
  constexpr uint32_t kSlots = SessionTable::kSlotsPerBucket;
  for (bool renew_oldest : {false, true}) {
    auto table = makeTable(1, 1, {.idle_s = 100, .lifetime_s = 1000});
    ASSERT_EQ(table->slotCount(), kSlots);
    SessionCounters c;
    for (uint32_t i = 0; i < kSlots; ++i) table->insert(key(i), {.backend_id = i}, i * 10, c);
    const uint32_t now = kSlots * 10;
    if (renew_oldest) {
      ASSERT_TRUE(table->lookup(key(0), now - 5, c).hit());
    }
    EXPECT_EQ(table->insert(key(99), {.backend_id = 99}, now, c),
              SessionInsertResult::kInsertedAfterEviction);
    EXPECT_EQ(table->peek(key(0), now).has_value(), renew_oldest);
    EXPECT_EQ(table->peek(key(1), now).has_value(), !renew_oldest);
    for (uint32_t i = 2; i < kSlots; ++i) EXPECT_TRUE(table->peek(key(i), now).has_value()) << i;
    EXPECT_TRUE(table->peek(key(99), now).has_value());
    EXPECT_EQ(stats(c).evictions, 1u);
    EXPECT_EQ(table->occupied(), kSlots);
  }
  auto table = makeTable(1, 1, {.idle_s = 100, .lifetime_s = 1000});
  SessionCounters c;
  table->insert(key(0), {.backend_id = 0}, 0, c);
  for (uint32_t i = 1; i < kSlots; ++i) table->insert(key(i), {.backend_id = i}, 50, c);
  EXPECT_EQ(table->insert(key(99), {.backend_id = 99}, 120, c), SessionInsertResult::kInserted);
  EXPECT_FALSE(table->peek(key(0), 120).has_value());
  for (uint32_t i = 1; i < kSlots; ++i) EXPECT_TRUE(table->peek(key(i), 120).has_value()) << i;
  EXPECT_EQ(stats(c).evictions, 0u);
  EXPECT_EQ(stats(c).expirations, 1u);
}

// Filled to its configured capacity (80% of slots) the table evicts nothing: cuckoo moves find room
// and every key stays findable with its value. Beyond capacity it evicts, counts it, and never holds
// more entries than slots.
TEST(SessionTableTest, FillsToCapacityWithoutEviction) {
  constexpr uint64_t kCapacity = 100000;
  auto table = makeTable(kCapacity);
  SessionCounters c;
  for (uint64_t i = 0; i < kCapacity; ++i) {
    ASSERT_EQ(table->insert(key(i), {.backend_id = i}, 0, c), SessionInsertResult::kInserted) << i;
  }
  EXPECT_EQ(table->occupied(), kCapacity);
  EXPECT_GT(stats(c).relocations, 0u);
  for (uint64_t i = 0; i < kCapacity; ++i) {
    const SessionLookup r = table->lookup(key(i), 1, c);
    ASSERT_TRUE(r.hit()) << i;
    ASSERT_EQ(r.backend_id, i);
  }
  for (uint64_t i = kCapacity; i < 2 * kCapacity; ++i) table->insert(key(i), {.backend_id = i}, 0, c);
  EXPECT_GT(stats(c).evictions, 0u);
  EXPECT_LE(table->occupied(), table->slotCount());
  EXPECT_EQ(table->occupied(), 2 * kCapacity - stats(c).evictions);
  EXPECT_GT(static_cast<double>(table->occupied()) / table->slotCount(), 0.9);
}

// lookupBatch gives the same answers as one lookup per key, for hits, misses and expired entries,
// for batch sizes below, at and above the prefetch chunk.
TEST(SessionTableTest, BatchMatchesSingleLookups) {
  auto table = makeTable(10000, 0, {.idle_s = 10, .lifetime_s = 1000});
  SessionCounters c;
  for (uint64_t i = 0; i < 5000; ++i) {
    table->insert(key(i), {.backend_id = i * 3, .service = static_cast<uint16_t>(i % 16)},
                  i < 1000 ? 0 : 5, c);
  }
  std::mt19937_64 rng(5);
  for (size_t n : {size_t{1}, size_t{7}, SessionTable::kLookupChunk, size_t{100}}) {
    std::vector<SessionKey> keys(n);
    for (auto& k : keys) k = key(rng() % 8000);  // about 5/8 present, 1/8 expired
    std::vector<SessionLookup> batch(n);
    table->lookupBatch(keys.data(), n, batch.data(), 12, c);
    for (size_t i = 0; i < n; ++i) {
      const SessionLookup single = table->lookup(keys[i], 12, c);
      EXPECT_EQ(batch[i].status, single.status) << i;
      EXPECT_EQ(batch[i].backend_id, single.backend_id) << i;
      EXPECT_EQ(batch[i].service, single.service) << i;
    }
  }
  const SessionStats s = stats(c);
  EXPECT_EQ(s.lookups, 2 * (1 + 7 + SessionTable::kLookupChunk + 100));
  EXPECT_EQ(s.hits + s.misses, s.lookups);
}

// Paging walks every live entry exactly once in ascending key order, whatever the page size,
// across shards, skipping expired entries, with values intact.
TEST(SessionTableTest, ListPagesCoverEveryEntryOnce) {
  auto table = makeTable(20000, 8, {.idle_s = 10, .lifetime_s = 1000});
  SessionCounters c;
  std::unordered_map<uint64_t, uint64_t> live;
  for (uint64_t i = 0; i < 12000; ++i) {
    const bool stale = i % 5 == 0;
    table->insert(key(i), {.backend_id = i, .service = static_cast<uint16_t>(i % 16)},
                  stale ? 0 : 8, c);
    if (!stale) live[key(i).value] = i;
  }
  for (size_t page_size : {size_t{7}, size_t{1000}, size_t{50000}}) {
    uint64_t cursor = 0;
    uint64_t previous = 0;
    size_t seen = 0;
    for (bool more = true; more;) {
      const SessionPage page = table->list(cursor, page_size, 12);
      ASSERT_LE(page.entries.size(), page_size);
      for (const SessionEntry& e : page.entries) {
        ASSERT_GT(e.key.value, previous) << "order or duplicate";
        previous = e.key.value;
        const auto it = live.find(e.key.value);
        ASSERT_NE(it, live.end()) << "expired or unknown entry listed";
        EXPECT_EQ(e.backend_id, it->second);
        EXPECT_EQ(e.service, it->second % 16);
        EXPECT_EQ(e.created_s, 8u);
        ++seen;
      }
      cursor = page.next_cursor;
      more = page.more;
    }
    EXPECT_EQ(seen, live.size()) << page_size;
  }
}

// --- Concurrency ---

// Stable keys keep values derived from their key whatever the writers do to them: backend_id =
// splitmix(key ^ service). A reader that mixed two writes' fields would break the relation.
uint64_t backendFor(SessionKey k, uint16_t service) { return splitmix(k.value ^ service); }

constexpr uint16_t kStableServices = 4;  // services 0..3: long TTLs; 4..7: short
constexpr uint32_t kStableKeys = 4000;

// 2 readers, 2 writers and a control thread for a bounded time. Readers never see a torn entry and
// never miss a stable key (busy answers are allowed and counted, never wrong); writers' cuckoo moves
// happen underneath; expiry reclaims churn; every full listing sees each stable key exactly once
// and no key twice.
TEST(SessionTableConcurrencyTest, ReadersNeverSeeTornOrLostEntries) {
  auto created = SessionTable::create(
      {.capacity = 8192,
       .shards = 4,
       .max_services = 8,
       .default_timeouts = {.idle_s = 1000000, .lifetime_s = 2000000}});
  ASSERT_TRUE(created.ok());
  SessionTable& table = **created;
  for (uint16_t s = kStableServices; s < 8; ++s) {
    ASSERT_TRUE(table.setTimeouts(s, {.idle_s = 3, .lifetime_s = 6}).ok());
  }
  std::vector<SessionKey> stable(kStableKeys);
  SessionCounters setup;
  for (uint32_t i = 0; i < kStableKeys; ++i) {
    stable[i] = key(i);
    ASSERT_EQ(table.insert(stable[i], {.backend_id = backendFor(stable[i], 0), .service = 0}, 0,
                           setup),
              SessionInsertResult::kInserted);
  }

  std::atomic<uint32_t> now_s{1};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> torn{0}, stable_missed{0}, duplicate_listed{0}, stable_unlisted{0};
  std::atomic<uint64_t> list_passes{0}, reader_batches{0};
  SessionCounters reader_counters[2], writer_counters[2], control_counters;

  auto reader = [&](int id) {
    std::mt19937_64 rng(100 + id);
    SessionKey keys[32];
    SessionLookup out[32];
    while (!stop.load(std::memory_order_relaxed)) {
      for (size_t i = 0; i < 32; ++i) {
        // Three quarters stable keys, the rest from the churn key space (present or not).
        keys[i] = i % 4 != 3 ? stable[rng() % kStableKeys] : key(1000000 + rng() % 400000);
      }
      table.lookupBatch(keys, 32, out, now_s.load(std::memory_order_relaxed), reader_counters[id]);
      for (size_t i = 0; i < 32; ++i) {
        if (out[i].hit() && out[i].backend_id != backendFor(keys[i], out[i].service)) ++torn;
        if (i % 4 != 3 && out[i].status == SessionLookupStatus::kMiss) ++stable_missed;
        if (i % 4 != 3 && out[i].hit() && out[i].service >= kStableServices) ++torn;
      }
      ++reader_batches;
    }
  };

  auto writer = [&](int id) {
    std::mt19937_64 rng(200 + id);
    SessionCounters& c = writer_counters[id];
    std::vector<SessionKey> window;  // this writer's live churn keys, oldest first
    uint64_t next = 1000000 + static_cast<uint64_t>(id) * 200000;
    size_t oldest = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const uint32_t now = now_s.load(std::memory_order_relaxed);
      const SessionKey k = key(next++);
      const auto service = static_cast<uint16_t>(kStableServices + rng() % 4);
      while (table.insert(k, {.backend_id = backendFor(k, service), .service = service}, now, c) ==
             SessionInsertResult::kBusy) {
      }
      window.push_back(k);
      if (window.size() - oldest > 1800) {  // keep at most 1800 live churn keys per writer
        // One key in 1024 is left to expiry, so reclaiming churn never depends on a writer being
        // descheduled for longer than the idle timeout (the others live about a millisecond).
        if (oldest % 1024 != 0) {
          while (table.erase(window[oldest], c) == SessionEraseResult::kBusy) {
          }
        }
        ++oldest;
      }
      if (next % 8 == 0) {  // rebind a stable key: its fields change together
        const SessionKey s = stable[rng() % kStableKeys];
        const auto sv = static_cast<uint16_t>(rng() % kStableServices);
        while (table.insert(s, {.backend_id = backendFor(s, sv), .service = sv}, now, c) ==
               SessionInsertResult::kBusy) {
        }
      }
      if (next - 1000000 - static_cast<uint64_t>(id) * 200000 >= 190000) {
        next = 1000000 + static_cast<uint64_t>(id) * 200000;  // reuse keys: inserts over old ones
      }
    }
  };

  auto control = [&] {
    // The clock: one simulated second per 20 ms, so churn entries (3 s idle) expire as we watch.
    auto last_tick = std::chrono::steady_clock::now();
    auto tick = [&] {
      if (std::chrono::steady_clock::now() - last_tick > std::chrono::milliseconds(20)) {
        now_s.fetch_add(1, std::memory_order_relaxed);
        last_tick = std::chrono::steady_clock::now();
      }
      table.expireSlice(now_s.load(std::memory_order_relaxed), 256, control_counters);
    };
    while (!stop.load(std::memory_order_relaxed)) {
      // A full listing in pages of 1000, racing the writers.
      std::unordered_set<uint64_t> listed;
      uint64_t cursor = 0;
      for (bool more = true; more && !stop.load(std::memory_order_relaxed);) {
        tick();
        const SessionPage page = table.list(cursor, 1000, now_s.load(std::memory_order_relaxed));
        for (const SessionEntry& e : page.entries) {
          if (!listed.insert(e.key.value).second) ++duplicate_listed;
        }
        cursor = page.next_cursor;
        more = page.more;
      }
      if (stop.load(std::memory_order_relaxed)) break;
      for (const SessionKey& k : stable) stable_unlisted += listed.count(k.value) == 0;
      ++list_passes;
    }
  };

  std::vector<std::thread> threads;
  threads.emplace_back(reader, 0);
  threads.emplace_back(reader, 1);
  threads.emplace_back(writer, 0);
  threads.emplace_back(writer, 1);
  threads.emplace_back(control);
  // At least 1.5 s and two full listings; at most 8 s (ThreadSanitizer runs about 50x slower).
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (elapsed > std::chrono::seconds(8)) break;
    if (elapsed > std::chrono::milliseconds(1500) && list_passes.load() >= 2) break;
  }
  stop = true;
  for (auto& t : threads) t.join();

  SessionStats s;
  for (const auto& c : reader_counters) s.add(c);
  for (const auto& c : writer_counters) s.add(c);
  s.add(control_counters);
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_EQ(stable_missed.load(), 0u);
  EXPECT_EQ(duplicate_listed.load(), 0u);
  EXPECT_EQ(stable_unlisted.load(), 0u);
  EXPECT_EQ(s.evictions, 0u);
  EXPECT_GT(list_passes.load(), 0u);
  EXPECT_GT(reader_batches.load(), 0u);
  EXPECT_GT(s.relocations, 0u) << "no cuckoo moves happened: the test did not exercise them";
  EXPECT_GT(s.expirations, 0u);
  // kBusy means a writer was preempted mid-write (5 threads share 2 cores here): rare, never wrong.
  EXPECT_LT(s.busy, s.lookups / 20 + 10);
  // After the writers stop, every stable key is present with a consistent value.
  for (const SessionKey& k : stable) {
    const auto e = table.peek(k, now_s.load());
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->backend_id, backendFor(k, e->service));
  }
  std::printf("lookups %llu busy %llu inserts %llu updates %llu relocations %llu expirations %llu "
              "deletes %llu list passes %llu\n",
              static_cast<unsigned long long>(s.lookups), static_cast<unsigned long long>(s.busy),
              static_cast<unsigned long long>(s.inserts), static_cast<unsigned long long>(s.updates),
              static_cast<unsigned long long>(s.relocations),
              static_cast<unsigned long long>(s.expirations),
              static_cast<unsigned long long>(s.deletes),
              static_cast<unsigned long long>(list_passes.load()));
}

}  // namespace
}  // namespace lb::dataplane
