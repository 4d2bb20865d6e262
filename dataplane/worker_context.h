// Everything one worker lcore owns: its connection table, local ports, counters, rings, tx batches.
// Written only by the owning lcore; the control plane reads only `counters` and `flows.size()`.
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <cstdint>
#include <memory>

#include "dataplane/flow_table.h"
#include "dataplane/packet_parser.h"
#include "dataplane/lcore_counters.h"
#include "dataplane/local_port_pool.h"
#include "dataplane/session_table.h"
#include "dataplane/snapshot.h"
#include "dataplane/syn_cookie.h"
#include "dataplane/syn_proxy.h"

namespace lb::dataplane {

inline constexpr uint16_t kMaxBurst = 256;
inline constexpr uint16_t kMaxWorkers = 64;

// Each rx packet produces at most one tx packet, so a batch never needs flushing mid-burst.
struct TxBatch {
  std::array<rte_mbuf*, kMaxBurst> packets{};
  uint16_t count = 0;
  uint64_t bytes = 0;  // pkt_len of the queued packets, summed as they are queued
};

// Set in a screened frame's key word when processBurst's established path must not take it.
inline constexpr uint64_t kNotEstablished = uint64_t{1} << 63;

// What the burst's first pass learnt of each frame (dataplane/established_path.h); only the first
// `count` entries of a burst are written and read.
struct EstablishedScratch {
  std::array<uint8_t*, kMaxBurst> data;
  std::array<uint64_t, kMaxBurst> ports_protocol;  // the key's second word, | kNotEstablished
  std::array<uint32_t, kMaxBurst> tag;             // FlowTable::clientTag of the key's hash
};

struct WorkerContext {
  WorkerContext(uint16_t index, const LocalPortPartition& partition, uint32_t flow_capacity)
      : worker_index(index),
        ports(partition),
        local_ports(partition.firstFor(index), partition.lastFor(index)),
        flows(flow_capacity) {}

  uint16_t worker_index;
  LocalPortPartition ports;
  LocalPortPool local_ports;
  FlowTable flows;
  LcoreCounters* counters = nullptr;              // allocated by the control plane, cache aligned
  std::array<rte_ring*, kMaxWorkers> handoff_to{};  // rings into other workers (multi-producer)
  rte_ring* handoff_in = nullptr;                  // replies other workers received for our ports
  rte_ring* to_control = nullptr;                  // ARP replies for the neighbour resolver
  std::array<TxBatch, kMaxPorts> tx{};
  // Sticky sessions (issue 5): the table is shared by every lcore and owned by the control plane,
  // which sets it (and the SYN-cookie master key) before the workers start; nullptr = no HTTP service.
  SessionTable* sessions = nullptr;
  const SessionSecret* session_secret = nullptr;
  SipKey syn_cookie_master{};
  SessionCounters session_counters;  // this lcore's calls into `sessions`; summed by the control plane
  // This lcore's SYN proxy for HTTP services (delayed binding), created at start-up with
  // SynProxy::create; nullptr = HTTP services are forwarded as plain full-NAT.
  std::unique_ptr<SynProxy> proxy;
  // Per-burst scratch for the staged pipeline, kept here rather than on the worker's stack.
  EstablishedScratch screened;
};

}  // namespace lb::dataplane
