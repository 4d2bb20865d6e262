// TCP segments with options for the SYN proxy and splice tests: built byte by byte with full
// checksums (an independent reference for the dataplane's incremental ones), and decoded back into
// host-order fields with their options parsed.
#pragma once

#include <rte_ether.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "dataplane/tcp_options.h"
#include "tests/dataplane/packet_builder.h"

namespace lb::dataplane::test {

struct Segment {
  rte_ether_addr src_mac{};
  rte_ether_addr dst_mac{};
  uint32_t src = 0;  // host order
  uint32_t dst = 0;
  bool v6 = false;   // Ethernet/IPv6 from src6 to dst6 instead of IPv4
  std::array<uint8_t, 16> src6{};
  std::array<uint8_t, 16> dst6{};
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint8_t flags = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint16_t window = 0;
  Bytes options;  // padded to a multiple of 4 with EOL
  std::string payload;
};

Bytes buildSegment(const Segment& s);

// Options blocks.
Bytes synOptions(uint16_t mss, uint8_t window_scale, bool sack, bool timestamps, uint32_t tsval,
                 uint32_t tsecr = 0);
Bytes timestampOption(uint32_t tsval, uint32_t tsecr);  // NOP NOP TS
Bytes sackOption(uint32_t left, uint32_t right);        // NOP NOP SACK with one block

struct DecodedSegment {
  bool ok = false;  // Ethernet/IPv4/TCP or Ethernet/IPv6/TCP present and options parsed
  uint32_t src = 0, dst = 0;
  bool v6 = false;  // then src6/dst6 are the addresses, and src/dst are 0
  std::array<uint8_t, 16> src6{}, dst6{};
  uint16_t sport = 0, dport = 0;
  uint8_t flags = 0;
  uint32_t seq = 0, ack = 0;
  uint16_t window = 0;
  rte_ether_addr src_mac{}, dst_mac{};
  TcpOptions options;
  std::string payload;
  bool checksums_valid = false;  // IPv4 header and TCP (over the IPv4 or IPv6 pseudo-header), recomputed in full
};

DecodedSegment decodeSegment(const Bytes& frame);

// The segment a peer sends back to `to` (a backend answering the SYN the proxy sent it): addresses
// and ports swapped, MACs reversed, the given TCP fields.
Segment answering(const DecodedSegment& to, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t window,
                  Bytes options = {}, std::string payload = {});

}  // namespace lb::dataplane::test
