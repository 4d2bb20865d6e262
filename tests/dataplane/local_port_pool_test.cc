// LocalPortPool (FIFO reuse of one worker's full-NAT source endpoints) and LocalPortPartition (which
// worker owns a port), from dataplane/local_port_pool.h.
#include "dataplane/local_port_pool.h"

#include <gtest/gtest.h>

#include <set>
#include <tuple>
#include <vector>

namespace lb::dataplane {
namespace {

// Ports come out in ascending order first, and released ports come back in release order only after
// every never-used port (FIFO, so a port is reused as late as possible).
TEST(LocalPortPoolTest, FifoReuseOrder) {
  LocalPortPool pool(100, 104);
  EXPECT_EQ(pool.available(), 5u);
  EXPECT_EQ(pool.acquire().port, 100);
  EXPECT_EQ(pool.acquire().port, 101);
  EXPECT_EQ(pool.acquire().port, 102);
  pool.release({0, 101});
  pool.release({0, 100});
  EXPECT_EQ(pool.acquire().port, 103);
  EXPECT_EQ(pool.acquire().port, 104);
  EXPECT_EQ(pool.acquire().port, 101);
  EXPECT_EQ(pool.acquire().port, 100);
  EXPECT_EQ(pool.available(), 0u);
}

// An exhausted pool returns 0 (never a valid port) until a port is released.
TEST(LocalPortPoolTest, ExhaustionReturnsZero) {
  LocalPortPool pool(60000, 60002);
  for (int i = 0; i < 3; ++i) EXPECT_NE(pool.acquire().port, 0);
  EXPECT_EQ(pool.acquire().port, 0);
  EXPECT_EQ(pool.acquire().port, 0);
  EXPECT_EQ(pool.available(), 0u);
  pool.release({0, 60001});
  EXPECT_EQ(pool.acquire().port, 60001);
  EXPECT_EQ(pool.acquire().port, 0);
}

// Through many wrap-arounds of the ring, the pool hands out each port at most once at a time and
// preserves FIFO order of releases.
TEST(LocalPortPoolTest, WrapAroundKeepsPortsUniqueAndFifo) {
  LocalPortPool pool(2000, 2015);
  std::vector<uint16_t> held;
  for (int i = 0; i < 16; ++i) held.push_back(pool.acquire().port);
  for (int round = 0; round < 100; ++round) {
    // Release the oldest five, then acquire five: they must be those five, in the same order.
    std::vector<uint16_t> released(held.begin(), held.begin() + 5);
    held.erase(held.begin(), held.begin() + 5);
    for (uint16_t p : released) pool.release({0, p});
    for (uint16_t p : released) {
      const uint16_t got = pool.acquire().port;
      EXPECT_EQ(got, p);
      held.push_back(got);
    }
    ASSERT_EQ(std::set<uint16_t>(held.begin(), held.end()).size(), 16u);
    EXPECT_EQ(pool.acquire().port, 0);
  }
}

// With several addresses every (address, port) pair is handed out exactly once before the pool runs
// dry, consecutive acquisitions rotate over the addresses, and a released pair comes back last.
TEST(LocalPortPoolTest, EveryAddressHoldsEveryPortOnce) {
  constexpr uint32_t kAddresses = 5;
  LocalPortPool pool(3000, 3099, kAddresses);
  EXPECT_EQ(pool.capacity(), 100u * kAddresses);
  std::set<std::pair<uint16_t, uint16_t>> seen;
  for (uint32_t i = 0; i < 100 * kAddresses; ++i) {
    const LocalEndpoint e = pool.acquire();
    ASSERT_NE(e.port, 0) << "exhausted after " << i;
    ASSERT_GE(e.port, 3000);
    ASSERT_LE(e.port, 3099);
    ASSERT_LT(e.address_index, kAddresses);
    EXPECT_EQ(e.address_index, i % kAddresses) << "consecutive flows rotate over the addresses";
    ASSERT_TRUE(seen.emplace(e.address_index, e.port).second) << "endpoint handed out twice";
  }
  EXPECT_EQ(pool.acquire().port, 0);
  pool.release({3, 3042});
  pool.release({0, 3007});
  const LocalEndpoint first = pool.acquire();
  EXPECT_EQ(first.address_index, 3);
  EXPECT_EQ(first.port, 3042);
  const LocalEndpoint second = pool.acquire();
  EXPECT_EQ(second.address_index, 0);
  EXPECT_EQ(second.port, 3007);
}

// For 1..8 workers and several ranges, the workers' chunks are disjoint, contiguous, in the range,
// cover it except for a remainder smaller than the worker count, and ownerOf/contains agree with them.
TEST(LocalPortPartitionTest, OwnersCoverRangeWithoutOverlap) {
  const std::vector<std::pair<uint16_t, uint16_t>> ranges = {{10000, 59999}, {1024, 65535}, {5000, 6029}, {100, 107}};
  for (const auto& [lo, hi] : ranges) {
    for (uint16_t workers = 1; workers <= 8; ++workers) {
      SCOPED_TRACE(testing::Message() << "range " << lo << ".." << hi << ", " << workers << " workers");
      const LocalPortPartition part{lo, hi, workers};
      const uint32_t size = uint32_t{hi} - lo + 1;
      ASSERT_GE(part.chunk(), 1u);
      EXPECT_LT(size - part.chunk() * workers, workers) << "remainder larger than needed";
      std::vector<int> owner(size, -1);
      for (uint16_t w = 0; w < workers; ++w) {
        ASSERT_LE(part.firstFor(w), part.lastFor(w));
        if (w > 0) {
          EXPECT_EQ(part.firstFor(w), part.lastFor(static_cast<uint16_t>(w - 1)) + 1) << "gap or overlap";
        }
        EXPECT_EQ(part.firstFor(0), lo);
        EXPECT_LE(part.lastFor(w), hi);
        for (uint32_t p = part.firstFor(w); p <= part.lastFor(w); ++p) {
          ASSERT_EQ(owner[p - lo], -1) << "port " << p << " owned twice";
          owner[p - lo] = w;
        }
      }
      for (uint32_t p = lo; p <= hi; ++p) {
        const auto port = static_cast<uint16_t>(p);
        if (owner[p - lo] >= 0) {
          ASSERT_TRUE(part.contains(port)) << p;
          ASSERT_EQ(part.ownerOf(port), owner[p - lo]) << p;
        } else {
          ASSERT_FALSE(part.contains(port)) << "unowned port " << p << " reported as contained";
        }
      }
      EXPECT_FALSE(part.contains(static_cast<uint16_t>(lo - 1)));
      if (hi < 65535) {
        EXPECT_FALSE(part.contains(static_cast<uint16_t>(hi + 1)));
      }
    }
  }
}

// A pool built from a worker's share only hands out ports that the partition maps back to that worker.
TEST(LocalPortPartitionTest, WorkerPoolsHandOutOnlyOwnedPorts) {
  const LocalPortPartition part{10000, 59999, 3};
  for (uint16_t w = 0; w < 3; ++w) {
    LocalPortPool pool(part.firstFor(w), part.lastFor(w));
    EXPECT_EQ(pool.available(), part.chunk());
    for (uint16_t p = pool.acquire().port; p != 0; p = pool.acquire().port) {
      ASSERT_TRUE(part.contains(p));
      ASSERT_EQ(part.ownerOf(p), w);
    }
  }
}

}  // namespace
}  // namespace lb::dataplane
