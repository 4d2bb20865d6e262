// Everything one worker lcore owns: its connection table, local ports, counters, rings, tx batches.
// Written only by the owning lcore; the control plane reads only `counters` and `flows.size()`.
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <cstdint>
#include <memory>

#include "dataplane/flow_table.h"
#include "dataplane/icmp_error_budget.h"
#include "dataplane/ipv4_fragments.h"
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
  // The longest untagged frame the established path may queue here: the port's MTU plus the Ethernet
  // header, from the snapshot (processBurst refreshes it when the snapshot changes). A longer frame
  // takes the slow path, which fragments it or answers it as IPv4 asks; af_packet delivers such frames
  // whenever the kernel has joined a datagram's fragments. 0 until the first burst.
  uint32_t max_frame_len = 0;
  uint64_t bytes = 0;  // pkt_len of the queued packets, summed as they are queued
};

// Set in a screened frame's key word when processBurst's established path must not take it as IPv4.
inline constexpr uint64_t kNotEstablished = uint64_t{1} << 63;
// Set in a frame's key word (in place of kNotEstablished) when it is an IPv6 client's that the
// established path may take (screenIpv6Client).
inline constexpr uint64_t kIpv6ClientFrame = uint64_t{1} << 62;

// What the burst's first pass learnt of each frame (dataplane/established_path.h); only the first
// `count` entries of a burst are written and read.
struct EstablishedScratch {
  std::array<uint8_t*, kMaxBurst> data;
  // The key's second word, | kNotEstablished, kIpv6ClientFrame; one more, kNotEstablished, after the
  // burst's last frame.
  std::array<uint64_t, kMaxBurst + 1> ports_protocol;
  std::array<uint32_t, kMaxBurst> tag;             // FlowTable::tagOf the key's hash
  std::array<FlowDirection*, kMaxBurst> home_line;  // LineLookup::prefetchLine's, valid until the slow path runs
  std::array<uint16_t, kMaxBurst> away;  // positions of frames stage 3 set aside (finishAway)
  uint16_t away_count;
  uint16_t count;  // the burst's frames
};

// How many full-NAT source addresses each DPDK port has (LocalPort::local_count); sized at start.
using LocalAddressCounts = std::array<uint16_t, kMaxPorts>;
inline constexpr LocalAddressCounts kOneLocalAddressPerPort = {1, 1, 1, 1, 1, 1, 1, 1};
static_assert(kMaxPorts == 8, "kOneLocalAddressPerPort lists every port");

struct WorkerContext {
  WorkerContext(uint16_t index, const LocalPortPartition& partition, uint32_t flow_capacity,
                const LocalAddressCounts& local_addresses = kOneLocalAddressPerPort)
      : worker_index(index), ports(partition), flows(flow_capacity) {
    for (uint16_t p = 0; p < kMaxPorts; ++p) {
      if (local_addresses[p] != 0) {
        local_ports[p] = LocalPortPool(partition.firstFor(index), partition.lastFor(index), local_addresses[p]);
      }
    }
  }

  // A full-NAT source endpoint for flow `e` leaving through `egress_port`, recorded in the entry
  // (address, port, and the pool it came from). False when that port's endpoints are all taken.
  bool acquireLocalEndpoint(FlowEntry& e, const Snapshot& snap, uint16_t egress_port) {
    const LocalEndpoint endpoint = local_ports[egress_port].acquire();
    if (endpoint.port == 0) return false;
    e.local_port_be = rte_cpu_to_be_16(endpoint.port);
    e.local_address_be = snap.ports[egress_port].localSourceBe(endpoint.address_index);
    e.local_address_index = static_cast<uint8_t>(endpoint.address_index);
    e.local_pool_port = static_cast<uint8_t>(egress_port);
    return true;
  }
  // Gives the entry's endpoint back, if it holds one; the caller erases the entry or clears
  // local_port_be.
  void releaseLocalEndpoint(const FlowEntry& e) {
    if (e.local_port_be == 0) return;
    local_ports[e.local_pool_port].release(LocalEndpoint{e.local_address_index, rte_be_to_cpu_16(e.local_port_be)});
  }
  uint64_t localEndpointsAvailable() const {
    uint64_t available = 0;
    for (const LocalPortPool& pool : local_ports) available += pool.available();
    return available;
  }

  uint16_t worker_index;
  LocalPortPartition ports;
  std::array<LocalPortPool, kMaxPorts> local_ports;  // one per egress port
  FlowTable flows;
  LcoreCounters* counters = nullptr;              // allocated by the control plane, cache aligned
  std::array<rte_ring*, kMaxWorkers> handoff_to{};  // rings into other workers (multi-producer)
  rte_ring* handoff_in = nullptr;                  // replies other workers received for our ports
  rte_ring* to_control = nullptr;                  // ARP replies for the neighbour resolver
  std::array<TxBatch, kMaxPorts> tx{};
  uint32_t tx_limits_epoch = 0;  // the FlowTable::snapshotEpoch of tx[].max_frame_len; 0 = never set
  // Sticky sessions (issue 5): the table is shared by every lcore and owned by the control plane,
  // which sets it (and the SYN-cookie master key) before the workers start; nullptr = no HTTP service.
  SessionTable* sessions = nullptr;
  const SessionSecret* session_secret = nullptr;
  SipKey syn_cookie_master{};
  SessionCounters session_counters;  // this lcore's calls into `sessions`; summed by the control plane
  // This lcore's SYN proxy for HTTP services (delayed binding), created at start-up with
  // SynProxy::create; nullptr = HTTP services are forwarded as plain full-NAT.
  std::unique_ptr<SynProxy> proxy;
  // This lcore's IPv4 fragment reassembly, created at start-up; nullptr = fragments are dropped as
  // unsupported, and packets over the egress MTU are not split.
  std::unique_ptr<Ipv4Fragments> fragments;
  // The ICMP errors this lcore may still originate (refuseTooBig, refuseTooBigV6).
  IcmpErrorBudget icmp_errors;
  // Per-burst scratch for the staged pipeline, kept here rather than on the worker's stack.
  EstablishedScratch screened;
};

}  // namespace lb::dataplane
