// Per-lcore counters: written only by the owning worker, summed by the control plane.
//
// Plain per-lcore fields on their own cache lines (test-pmd's fwd_stream, not GLB's shared atomics);
// see Counter for how the control plane's concurrent read stays whole.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "dataplane/drop_reason.h"
#include "dataplane/service_types.h"

namespace lb::dataplane {

// Per-backend counters are indexed by a slot the control plane assigns to each (service, backend)
// and keeps while the backend exists, so counts survive table rebuilds.
inline constexpr uint32_t kMaxBackendCounters = 4096;
inline constexpr uint32_t kMaxServiceCounters = 256;

class Counter {
 public:
  // One writer (the owning lcore), readers elsewhere. On x86-64 the add is a single `add` to memory:
  // an aligned 8-byte store, which readers see whole (single-copy atomic), as the kernel's per-CPU
  // counters rely on. A relaxed atomic load + store, as elsewhere, is the same guarantee in three
  // instructions, and this runs several times per packet.
  void add(uint64_t n) {
#if defined(__x86_64__)
    asm("addq %1, %0" : "+m"(value_) : "er"(n));
#else
    __atomic_store_n(&value_, value_ + n, __ATOMIC_RELAXED);
#endif
  }
  void inc() { add(1); }
  uint64_t read() const { return __atomic_load_n(&value_, __ATOMIC_RELAXED); }

 private:
  alignas(8) uint64_t value_ = 0;
};

// Packets and bytes (frame length) of one direction of a backend's flows.
struct TrafficCounters {
  Counter packets;
  Counter bytes;
};

struct BackendCounters {
  Counter new_flows;
  TrafficCounters to_backend;
};

// HTTP services' delayed binding and splice (issue 5), per lcore. Drops are also counted by reason.
struct ProxyCounters {
  Counter syn_cookies_sent;       // SYN-ACKs answered statelessly (retransmitted SYNs included)
  Counter cookie_acks;            // pure ACKs that validated a cookie (no state is created for them)
  Counter connections_bound;      // data segments that validated a cookie and created state
  Counter heads_complete;         // request heads parsed to the blank line
  Counter heads_split;            // ... of which needed more than one segment
  Counter head_too_large;         // exceeded max_head_bytes: client reset
  Counter head_malformed;         // not HTTP/1.x: client reset
  Counter head_timeouts;          // client went quiet before the head ended
  Counter client_closed_early;    // RST or FIN from the client before a backend was bound
  Counter segments_held;          // client segments held until the backend connected
  Counter segments_duplicate;     // retransmissions of held bytes, dropped
  Counter backend_syns;           // connection attempts to backends, retransmissions included
  Counter backend_refused;        // RST to our SYN
  Counter backend_timeouts;       // no SYN-ACK after every retransmission
  Counter backend_retries_other;  // attempts moved to another backend (no byte delivered yet)
  Counter connections_spliced;    // backend answered; both directions now translated
  Counter sessions_learned;       // Set-Cookie of the session cookie recorded
  Counter sessions_forgotten;     // Set-Cookie that expired the session cookie (logout)
  Counter chosen_by[kStickyMethodCount];  // which method picked each bound connection's backend
  Counter rebinds[kRebindCauseCount];     // sticky target not used, by cause
  Counter strict_refusals;        // strict policy: connection refused instead of rebound
  Counter busy_tsc;               // TSC cycles of worker loops that moved packets (not idle polls)
  // ... of which inside processBurst: Tether's own packet work, without the PMD's rx/tx calls (on
  // af_packet a tx call also runs the kernel's delivery into the peer's stack, which a NIC would not).
  Counter process_tsc;
};

struct alignas(64) LcoreCounters {
  Counter rx_packets;
  Counter rx_bytes;
  Counter tx_packets;
  Counter tx_bytes;
  Counter arp_replies;
  Counter icmp_replies;
  Counter nd_replies;     // IPv6 neighbour solicitations answered (ipv6_path.h)
  Counter icmp_too_big;   // packets over the egress MTU answered with ICMP fragmentation needed or ICMPv6 packet too big
  Counter icmp_relayed;   // ICMP errors about full-NAT flows' packets passed on to their clients
  Counter icmp_to_backend;  // ICMP errors to a VIP about a flow's reply, passed on to its backend
  Counter handoff_out;
  Counter handoff_in;
  Counter exception_in;   // from the kernel's tap to the wire
  Counter exception_out;  // from the wire to the kernel's tap
  Counter flows_created;
  Counter flows_expired;
  Counter established_path;  // packets forwarded from an armed flow entry, without classification
  Counter flows_reset;  // established flows ended because their backend went down (reset policy)
  Counter fragments_in;           // IPv4 fragments to a VIP or local address taken for reassembly
  Counter datagrams_reassembled;  // ... that completed a datagram, which then went the usual way
  Counter fragments_out;          // fragments made of packets over their egress port's MTU
  std::atomic<uint64_t> flows_active{0};  // gauge: entries in this lcore's flow table
  Counter drops[kDropReasonCount];
  ProxyCounters proxy;
  BackendCounters backends[kMaxBackendCounters];
  TrafficCounters backend_replies[kMaxBackendCounters];  // full-NAT replies, forwarded to clients
};

// A flow direction counts its packets at a byte offset into LcoreCounters (FlowDirection::
// traffic_offset): the established path adds to either direction's row without a branch.
inline uint32_t toBackendTrafficOffset(uint16_t slot) {
  return static_cast<uint32_t>(offsetof(LcoreCounters, backends) + slot * sizeof(BackendCounters) +
                               offsetof(BackendCounters, to_backend));
}
inline uint32_t fromBackendTrafficOffset(uint16_t slot) {
  return static_cast<uint32_t>(offsetof(LcoreCounters, backend_replies) + slot * sizeof(TrafficCounters));
}
inline TrafficCounters& trafficCountersAt(LcoreCounters& counters, uint32_t offset) {
  return *reinterpret_cast<TrafficCounters*>(reinterpret_cast<uint8_t*>(&counters) + offset);
}

}  // namespace lb::dataplane
