#include "controlplane/snapshot_publisher.h"

#include <rte_cycles.h>

namespace lb::controlplane {

uint64_t SnapshotPublisher::publish(std::unique_ptr<dataplane::Snapshot> next) {
  const uint64_t start = rte_rdtsc();
  std::unique_ptr<dataplane::Snapshot> previous = std::move(current_);
  current_ = std::move(next);
  published_.store(current_.get(), std::memory_order_release);
  if (previous != nullptr) {
    const uint64_t token = rte_rcu_qsbr_start(qsbr_);
    rte_rcu_qsbr_check(qsbr_, token, true);
    previous.reset();
  }
  return rte_rdtsc() - start;
}

}  // namespace lb::controlplane
