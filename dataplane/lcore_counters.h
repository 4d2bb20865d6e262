// Per-lcore counters: written only by the owning worker, summed by the control plane.
//
// Plain per-lcore fields on their own cache lines (test-pmd's fwd_stream, not GLB's shared atomics).
// Each field is a relaxed atomic only so the control plane's concurrent read is defined behaviour;
// load+store compiles to the same plain add a non-atomic counter would.
#pragma once

#include <atomic>
#include <cstdint>

#include "dataplane/drop_reason.h"

namespace lb::dataplane {

// Per-backend counters are indexed by a slot the control plane assigns to each (service, backend)
// and keeps while the backend exists, so counts survive table rebuilds.
inline constexpr uint32_t kMaxBackendCounters = 4096;
inline constexpr uint32_t kMaxServiceCounters = 256;

class Counter {
 public:
  void add(uint64_t n) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void inc() { add(1); }
  uint64_t read() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

struct BackendCounters {
  Counter new_flows;
  Counter packets;
  Counter bytes;
};

struct alignas(64) LcoreCounters {
  Counter rx_packets;
  Counter rx_bytes;
  Counter tx_packets;
  Counter tx_bytes;
  Counter arp_replies;
  Counter icmp_replies;
  Counter handoff_out;
  Counter handoff_in;
  Counter exception_in;   // from the kernel's tap to the wire
  Counter exception_out;  // from the wire to the kernel's tap
  Counter flows_created;
  Counter flows_expired;
  Counter flows_reset;  // established flows ended because their backend went down (reset policy)
  std::atomic<uint64_t> flows_active{0};  // gauge: entries in this lcore's flow table
  Counter drops[kDropReasonCount];
  BackendCounters backends[kMaxBackendCounters];
};

}  // namespace lb::dataplane
