// Publishes immutable snapshots to the workers with one pointer store and frees the previous one only
// after every worker has reported a quiescent state (DPDK RCU QSBR). Workers never wait; the control
// thread waits for the grace period, which lasts one worker loop iteration.
#pragma once

#include <rte_rcu_qsbr.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "dataplane/snapshot.h"

namespace lb::controlplane {

class SnapshotPublisher {
 public:
  explicit SnapshotPublisher(rte_rcu_qsbr* qsbr) : qsbr_(qsbr) {}
  ~SnapshotPublisher() { published_.store(nullptr, std::memory_order_release); }

  // Returns how long the grace period took, in TSC cycles.
  uint64_t publish(std::unique_ptr<dataplane::Snapshot> next);

  const std::atomic<const dataplane::Snapshot*>& published() const { return published_; }
  const dataplane::Snapshot* current() const { return current_.get(); }

 private:
  rte_rcu_qsbr* qsbr_;
  std::atomic<const dataplane::Snapshot*> published_{nullptr};
  std::unique_ptr<dataplane::Snapshot> current_;
};

}  // namespace lb::controlplane
