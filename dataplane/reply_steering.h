// Steers full-NAT replies to the rx queue of the lcore that owns their local port, with rte_flow rules
// (issue 3: "rte_flow where the NIC supports it"). Each lcore's local ports are one contiguous range
// (local_port_pool.h), so the rules are: IPv4 destination = one of the port's full-NAT source
// addresses, TCP or UDP destination port in that lcore's range (as value/mask blocks,
// port_range_masks.h) -> QUEUE(lcore).
//
// Where the PMD cannot do it (af_packet, pcap and, on kernels without sch_multiq, tap), nothing is
// installed and replies reach their owner over the software hand-off ring (packet_processor.cc,
// returnToClient). The ring stays in place even with rules: a reply can arrive before a rule exists, and
// a NIC may run out of rule space, so correctness never depends on the rules; they only save a hop.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "dataplane/local_port_pool.h"

namespace lb::dataplane {

// Installs the rules on a started port; returns how many. On any failure (the first rule validated is
// refused, or creation fails part way) no rule is left behind and the status says why, so the caller
// logs it and relies on the hand-off ring.
// `first_address` (host order) and the `address_count` after it are the port's full-NAT source addresses.
absl::StatusOr<uint32_t> installReplySteering(uint16_t port_id, uint32_t first_address, uint32_t address_count,
                                              const LocalPortPartition& partition, uint16_t workers);

}  // namespace lb::dataplane
