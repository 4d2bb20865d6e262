#include "tests/dataplane/worker_harness.h"

#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include <new>

namespace lb::dataplane::test {
namespace {

rte_mempool* g_pool = nullptr;
constexpr unsigned kRingSlots = 1024;

rte_ring* makeRing(const char* prefix) {
  const std::string name = uniqueName(prefix);
  rte_ring* ring = rte_ring_create(name.c_str(), kRingSlots, SOCKET_ID_ANY, RING_F_SC_DEQ);
  EXPECT_NE(ring, nullptr) << "rte_ring_create(" << name << "): " << rte_strerror(rte_errno);
  return ring;
}

unsigned drainRing(rte_ring* ring) {
  unsigned n = 0;
  void* obj = nullptr;
  while (ring != nullptr && rte_ring_dequeue(ring, &obj) == 0) {
    rte_pktmbuf_free(static_cast<rte_mbuf*>(obj));
    ++n;
  }
  return n;
}

}  // namespace

rte_mempool* testPool() { return g_pool; }
void setTestPool(rte_mempool* pool) { g_pool = pool; }
unsigned poolInUse() { return rte_mempool_in_use_count(g_pool); }

std::string uniqueName(const char* prefix) {
  static unsigned counter = 0;
  return std::string(prefix) + "_" + std::to_string(counter++);
}

WorkerHarness::WorkerHarness(uint16_t index, const LocalPortPartition& partition, uint32_t flow_capacity,
                             const LocalAddressCounts& local_addresses)
    : ctx_(std::make_unique<WorkerContext>(index, partition, flow_capacity, local_addresses)) {
  void* mem = rte_zmalloc("test_lcore_counters", sizeof(LcoreCounters), alignof(LcoreCounters));
  if (mem == nullptr) {
    ADD_FAILURE() << "rte_zmalloc(LcoreCounters) failed";
    mem = ::operator new(sizeof(LcoreCounters), std::align_val_t{alignof(LcoreCounters)});
    counters_from_rte_ = false;
  }
  ctx_->counters = new (mem) LcoreCounters();
  control_ = makeRing("ctl");
  handoff_in_ = makeRing("hof");
  ctx_->to_control = control_;
  ctx_->handoff_in = handoff_in_;
}

WorkerHarness::~WorkerHarness() {
  drain();
  rte_ring_free(control_);
  rte_ring_free(handoff_in_);
  ctx_->counters->~LcoreCounters();
  if (counters_from_rte_) {
    rte_free(ctx_->counters);
  } else {
    ::operator delete(ctx_->counters, std::align_val_t{alignof(LcoreCounters)});
  }
}

Verdict WorkerHarness::process(const Snapshot& snap, const Bytes& frame, uint16_t rx_port, uint64_t now_tsc) {
  rte_mbuf* m = toMbuf(g_pool, frame);
  if (m == nullptr) {
    ADD_FAILURE() << "mbuf pool exhausted";
    return Verdict{};
  }
  return processMbuf(snap, m, rx_port, now_tsc);
}

Verdict WorkerHarness::processMbuf(const Snapshot& snap, rte_mbuf* m, uint16_t rx_port, uint64_t now_tsc) {
  Verdict v{VerdictKind::kDropped, DropReason::kCount, UINT16_MAX};
  processBurst(*ctx_, snap, rx_port, &m, 1, now_tsc, &v);
  return v;
}

std::optional<Bytes> WorkerHarness::popTx(uint16_t port) {
  TxBatch& batch = ctx_->tx[port];
  if (batch.count == 0) return std::nullopt;
  rte_mbuf* m = batch.packets[0];
  for (uint16_t i = 1; i < batch.count; ++i) batch.packets[i - 1] = batch.packets[i];
  --batch.count;
  batch.bytes -= rte_pktmbuf_pkt_len(m);
  Bytes bytes = fromMbuf(m);
  EXPECT_EQ(m->nb_segs, 1);
  EXPECT_EQ(rte_pktmbuf_pkt_len(m), rte_pktmbuf_data_len(m));
  rte_pktmbuf_free(m);
  return bytes;
}

std::optional<Bytes> WorkerHarness::popRing(rte_ring* ring) {
  void* obj = nullptr;
  if (rte_ring_dequeue(ring, &obj) != 0) return std::nullopt;
  auto* m = static_cast<rte_mbuf*>(obj);
  Bytes bytes = fromMbuf(m);
  rte_pktmbuf_free(m);
  return bytes;
}

unsigned WorkerHarness::drain() {
  unsigned n = 0;
  for (TxBatch& batch : ctx_->tx) {
    for (uint16_t i = 0; i < batch.count; ++i) rte_pktmbuf_free(batch.packets[i]);
    n += batch.count;
    batch.count = 0;
    batch.bytes = 0;
  }
  n += drainRing(control_);
  n += drainRing(handoff_in_);
  return n;
}

uint64_t WorkerHarness::totalDrops() const {
  uint64_t sum = 0;
  for (const Counter& c : counters().drops) sum += c.read();
  return sum;
}

}  // namespace lb::dataplane::test
