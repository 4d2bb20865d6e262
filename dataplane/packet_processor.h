// The per-burst packet path shared by every forwarding mode: parse, classify, look up or create the
// flow, rewrite, and queue for transmit. No port I/O happens here, so tests drive it with hand-built
// mbufs and inspect ctx.tx and the verdicts (see tests/dataplane/packet_processor_test.cc).
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/drop_reason.h"
#include "dataplane/snapshot.h"
#include "dataplane/worker_context.h"

namespace lb::dataplane {

enum class VerdictKind : uint8_t {
  kForwarded,   // rewritten toward a backend or back to a client; queued in ctx.tx[port]
  kAnswered,    // ARP reply or ICMP echo reply built in place; queued in ctx.tx[port]
  kHandedOff,   // full-NAT reply owned by another worker; enqueued on its ring
  kToControl,   // ARP for the neighbour resolver
  kHeld,        // an IPv4 fragment kept until its datagram is whole (ipv4_fragments.h)
  kDropped,     // freed; counted under `drop`. drop == kCount: absorbed by the SYN proxy (a segment
                // held for replay, or an ACK counted in LcoreCounters::proxy), not a drop
};

struct Verdict {
  VerdictKind kind = VerdictKind::kDropped;
  DropReason drop = DropReason::kMalformed;
  uint16_t tx_port = 0;
};

// Processes `count` packets received on `rx_port`. Takes ownership of every mbuf: each ends up queued
// in ctx.tx, on a ring, or freed. `verdicts` may be null (the worker loop passes null). For a frame
// from a hand-off ring, `rx_port` is the mbuf's port word as handOffToOwner set it (packet_path.h).
void processBurst(WorkerContext& ctx, const Snapshot& snapshot, uint16_t rx_port,
                  rte_mbuf** packets, uint16_t count, uint64_t now_tsc, Verdict* verdicts);

}  // namespace lb::dataplane
