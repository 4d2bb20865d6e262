// IPv4 fragmentation done independently of DPDK's library, for the reassembly tests: cutting a test
// frame into fragments as a sender's stack would, and putting the fragments Tether sent back together
// as a receiver's would, checking every fragment on the way.
#pragma once

#include <rte_mempool.h>

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"

#include "tests/dataplane/packet_builder.h"

namespace lb::dataplane::test {

// Fragments of `frame` (untagged Ethernet, IPv4 without options, DF clear) carrying `chunk` bytes
// of its IP payload each (the first `first_chunk` if given; multiples of 8; the last carries the
// rest): MF on all but the last, the offsets, total lengths and header checksums set.
std::vector<Bytes> fragmentFrame(const Bytes& frame, size_t chunk, size_t first_chunk = 0);

// Recomputes the IPv4 header checksum of an untagged frame after a test changed the header.
void resealHeader(Bytes& frame);

// The datagram the fragments make, as one frame with MF and offset cleared and the header checksum
// recomputed; an error saying why when a fragment's header checksum is wrong,
// the fragments disagree on the L2 header, addresses, protocol or identification, a fragment is over
// `mtu` IP bytes, or the offsets leave a hole or an overlap.
absl::StatusOr<Bytes> joinFragments(const std::vector<Bytes>& fragments, size_t mtu);

// The pool of indirect mbufs a test worker's Ipv4Fragments splits with, created on first use.
rte_mempool* indirectPool();

}  // namespace lb::dataplane::test
