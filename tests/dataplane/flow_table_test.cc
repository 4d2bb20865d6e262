// FlowTable: the per-lcore connection table (dataplane/flow_table.h). Lookups in both directions,
// the fixed capacity, backward-shift deletion checked against a std::map model under random churn,
// and bounded idle expiry.
#include "dataplane/flow_table.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace lb::dataplane {
namespace {

using hashing::FlowKeyV4;

FlowKeyV4 clientKey(uint32_t n) {
  return FlowKeyV4{0x0a000000u + n, 0x0a630064u, static_cast<uint16_t>(1024 + n % 50000), 0x5000, 6};
}

// The reply direction of a full-NAT flow: backend -> local address:local port.
FlowKeyV4 replyKey(uint32_t n) {
  return FlowKeyV4{0x0a63000bu + n % 3, 0x0a630002u, 0x901f, static_cast<uint16_t>(10000 + n), 6};
}

FlowEntry* insertKey(FlowTable& t, const FlowKeyV4& k) { return t.insert(k, t.hashKey(k)); }
FlowEntry* findClient(FlowTable& t, const FlowKeyV4& k) { return t.findByClient(k, t.hashKey(k)); }
FlowEntry* findReply(FlowTable& t, const FlowKeyV4& k) { return t.findByReply(k, t.hashKey(k)); }

// An entry is found by its client key in the client direction and by its reply key in the reply
// direction, and a key is never found in the direction it was not inserted for.
TEST(FlowTableTest, InsertAndFindBothDirections) {
  FlowTable t(64);
  FlowEntry* e = insertKey(t, clientKey(1));
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->in_use);
  EXPECT_TRUE(keysEqual(e->to_backend.key, clientKey(1)));
  ASSERT_TRUE(t.addReplyKey(e, replyKey(1)));
  EXPECT_EQ(findClient(t, clientKey(1)), e);
  EXPECT_EQ(findReply(t, replyKey(1)), e);
  EXPECT_EQ(findReply(t, clientKey(1)), nullptr);
  EXPECT_EQ(findClient(t, replyKey(1)), nullptr);
  EXPECT_EQ(findClient(t, clientKey(2)), nullptr);
  EXPECT_EQ(t.size(), 1u);

  // The established path's lookup does not know the direction: each key finds its own line.
  const FlowTable::LineLookup lines = t.lineLookup();
  auto findLine = [&](const FlowKeyV4& k) {
    uint64_t words[2];
    std::memcpy(words, &k, sizeof(words));
    return lines.find(words[0], words[1] & 0xff'ffff'ffffULL, FlowTable::tagOf(t.hashKey(k)));
  };
  EXPECT_EQ(findLine(clientKey(1)), &e->to_backend);
  EXPECT_EQ(findLine(replyKey(1)), &e->to_client);
  EXPECT_EQ(findLine(clientKey(2)), nullptr);

  t.erase(e);
  EXPECT_EQ(findClient(t, clientKey(1)), nullptr);
  EXPECT_EQ(findReply(t, replyKey(1)), nullptr);
  EXPECT_EQ(findLine(clientKey(1)), nullptr);
  EXPECT_EQ(findLine(replyKey(1)), nullptr);
  EXPECT_EQ(t.size(), 0u);
}

// Stage 2 of the established path keeps, for each frame, the line its tag's home slot names
// (prefetchLine), and stage 3 compares the frame's key there (atHome) without testing for null. A
// key in the table is found at its home line; for a key not in the table prefetchLine still returns
// a line, which matches no key, not even one whose every field is all ones or all zeros.
TEST(FlowTableTest, PrefetchLineNamesTheKeysLineOrOneNoKeyMatches) {
  FlowTable t(64);
  FlowEntry* e = insertKey(t, clientKey(1));
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(t.addReplyKey(e, replyKey(1)));
  const FlowTable::LineLookup lines = t.lineLookup();
  auto words = [](const FlowKeyV4& k) {
    std::array<uint64_t, 2> w;
    std::memcpy(w.data(), &k, sizeof(w));
    w[1] &= 0xff'ffff'ffffULL;  // as screenEstablished builds it: no padding
    return w;
  };
  auto homeLine = [&](const FlowKeyV4& k) { return lines.prefetchLine(FlowTable::tagOf(t.hashKey(k))); };
  auto atHome = [&](const FlowKeyV4& k, FlowDirection* line) {
    const auto w = words(k);
    return FlowTable::LineLookup::atHome(w[0], w[1], line);
  };

  EXPECT_EQ(atHome(clientKey(1), homeLine(clientKey(1))), &e->to_backend);
  EXPECT_EQ(atHome(replyKey(1), homeLine(replyKey(1))), &e->to_client);

  const FlowKeyV4 absent[] = {clientKey(2), replyKey(2), FlowKeyV4{0, 0, 0, 0, 0},
                              FlowKeyV4{0xffffffffu, 0xffffffffu, 0xffff, 0xffff, 0xff}};
  for (const FlowKeyV4& k : absent) {
    FlowDirection* const line = homeLine(k);
    ASSERT_NE(line, nullptr);
    EXPECT_NE(line, &e->to_backend);
    EXPECT_NE(line, &e->to_client);
    EXPECT_EQ(line->armed_epoch, 0u);
    EXPECT_EQ(atHome(k, line), nullptr);
    EXPECT_EQ(atHome(clientKey(1), line), nullptr);
  }
}

// Capacity rounds up to a power of two, allocated at construction.
TEST(FlowTableTest, CapacityRoundsUpToPowerOfTwo) {
  EXPECT_EQ(FlowTable(1000).capacity(), 1024u);
  EXPECT_EQ(FlowTable(1024).capacity(), 1024u);
}

// A full table returns nullptr on insert and leaves every existing entry intact and findable; a slot
// freed by erase is usable again.
TEST(FlowTableTest, FullTableRefusesInsertWithoutCorruption) {
  constexpr uint32_t kCapacity = 8;
  FlowTable t(kCapacity);
  std::vector<FlowEntry*> entries;
  for (uint32_t i = 0; i < kCapacity; ++i) {
    FlowEntry* e = insertKey(t, clientKey(i));
    ASSERT_NE(e, nullptr) << i;
    e->backend_address_be = 1000 + i;
    t.addReplyKey(e, replyKey(i));
    entries.push_back(e);
  }
  EXPECT_EQ(insertKey(t, clientKey(100)), nullptr);
  EXPECT_EQ(insertKey(t, clientKey(101)), nullptr);
  EXPECT_EQ(t.size(), kCapacity);
  for (uint32_t i = 0; i < kCapacity; ++i) {
    EXPECT_EQ(findClient(t, clientKey(i)), entries[i]);
    EXPECT_EQ(findReply(t, replyKey(i)), entries[i]);
    EXPECT_EQ(entries[i]->backend_address_be, 1000 + i);
  }
  EXPECT_EQ(findClient(t, clientKey(100)), nullptr);

  t.erase(entries[3]);
  FlowEntry* again = insertKey(t, clientKey(100));
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(findClient(t, clientKey(100)), again);
  EXPECT_EQ(findClient(t, clientKey(3)), nullptr);
  EXPECT_EQ(findReply(t, replyKey(3)), nullptr);
  EXPECT_EQ(t.size(), kCapacity);
}

// Backward-shift deletion never loses a key: 100k random inserts and erases (with and without reply
// keys, up to the capacity) agree with a std::map model after every step.
TEST(FlowTableTest, RandomChurnMatchesModel) {
  constexpr uint32_t kCapacity = 256;
  constexpr uint32_t kKeySpace = 1000;
  constexpr int kOps = 100000;
  FlowTable t(kCapacity, /*hash_seed=*/42);
  struct ModelEntry {
    FlowEntry* entry;
    bool has_reply;
  };
  std::map<uint32_t, ModelEntry> model;  // key number -> entry
  std::mt19937 rng(20240611);

  auto verifyAll = [&] {
    ASSERT_EQ(t.size(), model.size());
    for (const auto& [n, m] : model) {
      ASSERT_EQ(findClient(t, clientKey(n)), m.entry) << "client key " << n << " lost";
      if (m.has_reply) {
        ASSERT_EQ(findReply(t, replyKey(n)), m.entry) << "reply key " << n << " lost";
      }
      ASSERT_TRUE(keysEqual(m.entry->to_backend.key, clientKey(n)));
    }
  };

  for (int op = 0; op < kOps; ++op) {
    const uint32_t n = rng() % kKeySpace;
    const auto it = model.find(n);
    if (it == model.end()) {
      FlowEntry* e = insertKey(t, clientKey(n));
      if (model.size() == kCapacity) {
        ASSERT_EQ(e, nullptr) << "insert into a full table succeeded";
        continue;
      }
      ASSERT_NE(e, nullptr) << "insert failed below capacity at op " << op;
      const bool with_reply = rng() % 2 == 0;
      if (with_reply) {
        ASSERT_TRUE(t.addReplyKey(e, replyKey(n)));
      }
      model[n] = {e, with_reply};
      ASSERT_EQ(findClient(t, clientKey(n)), e);
    } else {
      t.erase(it->second.entry);
      model.erase(it);
      ASSERT_EQ(findClient(t, clientKey(n)), nullptr) << "erased key still found at op " << op;
      ASSERT_EQ(findReply(t, replyKey(n)), nullptr);
    }
    if (op % 64 == 0) {
      verifyAll();
      if (HasFatalFailure()) return;
    }
  }
  verifyAll();
  if (HasFatalFailure()) return;
  // Drain everything: the table ends empty and reusable.
  for (const auto& [n, m] : model) t.erase(m.entry);
  EXPECT_EQ(t.size(), 0u);
  for (uint32_t n = 0; n < kKeySpace; ++n) ASSERT_EQ(findClient(t, clientKey(n)), nullptr);
}

// expireSlice erases exactly the entries idle for at least their state's timeout, measured from the
// later of the two directions' last packets, calls the callback once for each before erasing it, and
// keeps the rest findable.
TEST(FlowTableTest, ExpireRemovesOnlyIdleEntriesByStateTimeout) {
  FlowTable t(16);
  const FlowTimeouts timeouts{.tcp_syn_tsc = 10, .tcp_established_tsc = 100, .tcp_closing_tsc = 5, .udp_tsc = 30};
  struct Spec {
    FlowState state;
    uint64_t last_seen;
    bool expires_at_50;
    uint64_t reply_seen = 0;  // the backend's last reply (to_client line)
  };
  const std::vector<Spec> specs = {
      {FlowState::kTcpSynSeen, 0, true},         // idle 50 >= 10
      {FlowState::kTcpSynSeen, 41, false},       // idle 9 < 10
      {FlowState::kTcpSynSeen, 40, true},        // idle exactly 10
      {FlowState::kTcpEstablished, 0, false},    // idle 50 < 100
      {FlowState::kTcpClosing, 45, true},        // idle 5 >= 5
      {FlowState::kTcpClosing, 46, false},       // idle 4 < 5
      {FlowState::kUdp, 30, false},              // idle 20 < 30
      {FlowState::kUdp, 10, true},               // idle 40 >= 30
      {FlowState::kUdp, 0, false, 25},           // the backend spoke at 25: idle 25 < 30
      {FlowState::kTcpClosing, 30, false, 46},   // idle 4 < 5, from the reply
      {FlowState::kUdp, 15, true, 5},            // idle 35 >= 30 from the later (client) line
  };
  for (uint32_t i = 0; i < specs.size(); ++i) {
    FlowEntry* e = insertKey(t, clientKey(i));
    ASSERT_NE(e, nullptr);
    t.addReplyKey(e, replyKey(i));
    e->state = specs[i].state;
    e->to_backend.last_seen_tsc = specs[i].last_seen;
    e->to_client.last_seen_tsc = specs[i].reply_seen;
    e->local_port_be = static_cast<uint16_t>(i);
  }
  std::set<uint32_t> expired;
  const uint32_t n = t.expireSlice(50, timeouts, t.capacity(), [&](const FlowEntry& e) {
    EXPECT_TRUE(e.in_use) << "callback must see the entry before it is erased";
    expired.insert(e.local_port_be);
  });
  std::set<uint32_t> expected;
  for (uint32_t i = 0; i < specs.size(); ++i) {
    if (specs[i].expires_at_50) expected.insert(i);
  }
  EXPECT_EQ(expired, expected);
  EXPECT_EQ(n, expected.size());
  EXPECT_EQ(t.size(), specs.size() - expected.size());
  for (uint32_t i = 0; i < specs.size(); ++i) {
    const bool gone = expected.count(i) != 0;
    EXPECT_EQ(findClient(t, clientKey(i)) == nullptr, gone) << i;
    EXPECT_EQ(findReply(t, replyKey(i)) == nullptr, gone) << i;
  }
}

// Expiry work is bounded: each call examines at most max_entries entries, and successive calls
// continue from where the last stopped until the whole table has been swept.
TEST(FlowTableTest, ExpireSliceIsBoundedAndResumes) {
  FlowTable t(16);
  const FlowTimeouts timeouts{.tcp_syn_tsc = 1, .tcp_established_tsc = 1, .tcp_closing_tsc = 1, .udp_tsc = 1};
  for (uint32_t i = 0; i < 16; ++i) ASSERT_NE(insertKey(t, clientKey(i)), nullptr);
  uint32_t calls = 0;
  for (int slice = 0; slice < 4; ++slice) {
    EXPECT_EQ(t.expireSlice(100, timeouts, 4, [&](const FlowEntry&) { ++calls; }), 4u);
    EXPECT_EQ(t.size(), 16u - 4u * (slice + 1));
  }
  EXPECT_EQ(calls, 16u);
  EXPECT_EQ(t.expireSlice(100, timeouts, 16, [&](const FlowEntry&) { ++calls; }), 0u);
}

}  // namespace
}  // namespace lb::dataplane
