// IPv6 frames for the dataplane tests (test_topology.h's IPv6 addresses): Ethernet + IPv6 without
// extension headers, with TCP, UDP or ICMPv6 and a correct checksum, and the checks a receiver makes.
#pragma once

#include <rte_ether.h>

#include <cstddef>
#include <cstdint>

#include "tests/dataplane/packet_builder.h"
#include "tests/dataplane/packet_test_util.h"
#include "tests/dataplane/test_topology.h"

namespace lb::dataplane::test {

inline constexpr size_t kIp6 = 14;      // IPv6 header offset in an untagged frame
inline constexpr size_t kL4 = 14 + 40;  // its payload

Ipv6Bytes address(const Bytes& b, size_t at);

// One's-complement check of an IPv6 frame's L4 checksum (TCP, UDP, ICMPv6), as a receiver does it.
bool ipv6L4ChecksumValid(const Bytes& frame);

// buildIpv6Frame from the client's MAC.
Bytes ipv6Frame(const Ipv6Bytes& src, const Ipv6Bytes& dst, uint8_t next_header, Bytes l4,
                size_t check_at = SIZE_MAX, uint8_t hop_limit = 64, rte_ether_addr eth_dst = portMac());

// kClientIp6:kClientPort -> kVip6 on the web (TCP :80) and UDP (:9000) ports.
Bytes clientTcp6(uint8_t flags, const Bytes& payload = {});
Bytes clientUdp6(const Bytes& payload);

// A neighbour solicitation for `target`, to its solicited-node multicast address, with a source
// link-layer address option, as Linux sends it.
Bytes neighborSolicitation(const Ipv6Bytes& target, const Ipv6Bytes& source = kClientIp6, uint8_t hop_limit = 255);

}  // namespace lb::dataplane::test
