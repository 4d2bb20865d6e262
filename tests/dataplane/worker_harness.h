// A worker's state without a worker thread or a NIC: a WorkerContext with counters, hand-off and
// control rings, plus helpers to push one frame through processBurst and take the results back out.
// Needs the EAL (rings, rte_malloc, mbufs); dataplane_test_main.cc initialises it with --no-huge and
// --no-pci before any test runs.
#pragma once

#include <rte_mempool.h>
#include <rte_ring.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/packet_processor.h"
#include "dataplane/worker_context.h"
#include "tests/dataplane/packet_builder.h"

namespace lb::dataplane::test {

// The process-wide mbuf pool (no per-lcore cache, so rte_mempool_in_use_count is exact).
rte_mempool* testPool();
void setTestPool(rte_mempool* pool);
unsigned poolInUse();

// Name unique within this process, for rings.
std::string uniqueName(const char* prefix);

class WorkerHarness {
 public:
  WorkerHarness(uint16_t index, const LocalPortPartition& partition, uint32_t flow_capacity = 1u << 14,
                const LocalAddressCounts& local_addresses = kOneLocalAddressPerPort);
  ~WorkerHarness();
  WorkerHarness(const WorkerHarness&) = delete;
  WorkerHarness& operator=(const WorkerHarness&) = delete;

  WorkerContext& ctx() { return *ctx_; }
  const LcoreCounters& counters() const { return *ctx_->counters; }
  rte_ring* controlRing() const { return control_; }
  rte_ring* handoffIn() const { return handoff_in_; }
  // Replies for `peer`'s local ports that this worker receives are enqueued on peer's ring.
  void connectTo(const WorkerHarness& peer) { ctx_->handoff_to[peer.ctx_->worker_index] = peer.handoff_in_; }

  // Copies `frame` into an mbuf and processes it as a burst of one. Fails the test if the pool is empty.
  Verdict process(const Snapshot& snap, const Bytes& frame, uint16_t rx_port = 0, uint64_t now_tsc = 0);
  // Processes an mbuf the caller built (e.g. with reduced headroom).
  Verdict processMbuf(const Snapshot& snap, rte_mbuf* m, uint16_t rx_port = 0, uint64_t now_tsc = 0);

  // Removes the oldest queued tx packet for `port`, returning its bytes (the mbuf is freed).
  std::optional<Bytes> popTx(uint16_t port = 0);
  uint16_t txCount(uint16_t port = 0) const { return ctx_->tx[port].count; }
  // Dequeues one mbuf from a ring and returns its bytes (freed), or nullopt when empty.
  static std::optional<Bytes> popRing(rte_ring* ring);
  // Frees everything still queued in tx batches and on this worker's rings; returns how many.
  unsigned drain();

  uint64_t drops(DropReason reason) const { return counters().drops[static_cast<size_t>(reason)].read(); }
  uint64_t totalDrops() const;

 private:
  std::unique_ptr<WorkerContext> ctx_;
  rte_ring* control_ = nullptr;
  rte_ring* handoff_in_ = nullptr;
  bool counters_from_rte_ = true;
};

}  // namespace lb::dataplane::test
