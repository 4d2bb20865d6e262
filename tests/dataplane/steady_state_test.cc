// Proves "no allocation per packet in steady state": this binary interposes malloc and friends
// (glibc resolves them to the executable's definitions first, DPDK's shared libraries included) and
// counts calls made while processBurst handles established flows in every forwarding mode.
#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <atomic>
#include <cstdlib>
#include <vector>

#include "dataplane/packet_processor.h"
#include "tests/dataplane/packet_test_util.h"
#include "tests/dataplane/test_topology.h"
#include "tests/dataplane/worker_harness.h"

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace {
std::atomic<uint64_t> g_allocations{0};
}

extern "C" void* malloc(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(size);
}
extern "C" void* calloc(size_t n, size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, size);
}
extern "C" void* realloc(void* p, size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, size);
}
extern "C" void* memalign(size_t alignment, size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(alignment, size);
}

namespace lb::dataplane::test {
namespace {

constexpr uint16_t kFlows = 512;
constexpr uint16_t kBurst = 32;
constexpr int kRounds = 8;  // pre-built mbufs must fit the test pool (8191)

class SteadyStateTest : public ::testing::TestWithParam<uint16_t> {};

// Once a mode's flows exist, forwarding thousands of their packets calls no allocator at all.
TEST_P(SteadyStateTest, EstablishedFlowsAllocateNothing) {
  const uint16_t vip_port = GetParam();
  SnapshotSource source;
  auto snap = source.build();
  ASSERT_NE(snap, nullptr);
  // One worker: a mid-stream segment without a flow is adopted at once instead of walking to a peer.
  WorkerHarness worker(0, LocalPortPartition{kLocalPortMin, kLocalPortMax, 1});

  std::vector<Bytes> frames;
  for (uint16_t f = 0; f < kFlows; ++f) {
    frames.push_back(fromClient().tcp(static_cast<uint16_t>(20000 + f), vip_port, kAck).payload({1, 2, 3}).build());
  }
  auto processAll = [&](std::vector<rte_mbuf*>& mbufs) {
    for (size_t i = 0; i < mbufs.size(); i += kBurst) {
      processBurst(worker.ctx(), *snap, 0, &mbufs[i], kBurst, 0, nullptr);
      TxBatch& batch = worker.ctx().tx[0];
      for (uint16_t k = 0; k < batch.count; ++k) rte_pktmbuf_free(batch.packets[k]);
      batch.count = 0;
      batch.bytes = 0;
    }
  };
  auto makeMbufs = [&] {
    std::vector<rte_mbuf*> mbufs;
    mbufs.reserve(frames.size());
    for (const Bytes& b : frames) mbufs.push_back(toMbuf(testPool(), b));
    return mbufs;
  };

  std::vector<rte_mbuf*> warmup = makeMbufs();
  processAll(warmup);  // creates the flows
  ASSERT_EQ(worker.ctx().flows.size(), kFlows);

  std::vector<std::vector<rte_mbuf*>> rounds;
  for (int r = 0; r < kRounds; ++r) rounds.push_back(makeMbufs());
  const uint64_t forwarded_before = worker.ctx().counters->rx_packets.read();
  const uint64_t allocations_before = g_allocations.load();
  for (auto& round : rounds) processAll(round);
  const uint64_t allocations = g_allocations.load() - allocations_before;

  EXPECT_EQ(worker.ctx().counters->rx_packets.read() - forwarded_before, uint64_t{kFlows} * kRounds);
  EXPECT_EQ(worker.totalDrops(), 0u);
  EXPECT_EQ(allocations, 0u) << "allocator calls while forwarding " << kFlows * kRounds << " packets";
}

INSTANTIATE_TEST_SUITE_P(Modes, SteadyStateTest, ::testing::Values(kWebPort, kDsrPort, kIpipPort),
                         [](const auto& info) {
                           return info.param == kWebPort ? std::string("FullNat")
                                  : info.param == kDsrPort ? std::string("DsrL2")
                                                           : std::string("DsrIpip");
                         });

// The counter itself works: an allocation inside the window is seen (so the test above can fail).
TEST(SteadyStateCounter, SeesAllocations) {
  const uint64_t before = g_allocations.load();
  void* p = std::malloc(64);
  EXPECT_GT(g_allocations.load(), before);
  std::free(p);
}

}  // namespace
}  // namespace lb::dataplane::test
