// The run-to-completion loop of one worker lcore (house style section 8): pick up the published
// snapshot, drain hand-offs, receive/process/transmit each owned queue, expire a slice of flows,
// report a quiescent state. Never blocks, never allocates.
#pragma once

#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>

#include "dataplane/snapshot.h"
#include "dataplane/worker_context.h"

namespace lb::dataplane {

struct RxQueueRef {
  uint16_t port = 0;
  uint16_t queue = 0;
};

struct WorkerConfig {
  WorkerContext* ctx = nullptr;
  const std::atomic<const Snapshot*>* published = nullptr;
  const std::atomic<bool>* stop = nullptr;
  rte_rcu_qsbr* qsbr = nullptr;         // this worker's thread id in it is ctx->worker_index
  std::array<RxQueueRef, kMaxPorts> rx{};
  uint16_t rx_count = 0;
  uint16_t tx_queue = 0;                // this worker's tx queue on every port
  uint16_t port_count = 0;
  rte_ring* inject = nullptr;           // frames the control plane asks us to send (mbuf->port)
  uint16_t burst_size = 32;
};

// rte_eal_remote_launch entry point; `arg` is a WorkerConfig*.
int runWorker(void* arg);

}  // namespace lb::dataplane
