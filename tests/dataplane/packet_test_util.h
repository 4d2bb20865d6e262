// Shared pieces of the processBurst tests: the standard snapshot, frame shorthands for the test
// topology, and expectations that several tests state about a rewritten frame.
#pragma once

#include <gtest/gtest.h>
#include <rte_tcp.h>

#include <cstdint>
#include <memory>
#include <ostream>

#include "dataplane/packet_processor.h"
#include "hashing/key_hash.h"
#include "tests/dataplane/packet_builder.h"
#include "tests/dataplane/test_topology.h"
#include "tests/dataplane/worker_harness.h"

namespace lb::dataplane {

// gtest prints these in failure messages.
std::ostream& operator<<(std::ostream& os, VerdictKind kind);
std::ostream& operator<<(std::ostream& os, DropReason reason);

namespace test {

inline constexpr uint8_t kSyn = RTE_TCP_SYN_FLAG;
inline constexpr uint8_t kAck = RTE_TCP_ACK_FLAG;
inline constexpr uint8_t kSynAck = RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG;
inline constexpr uint16_t kClientPort = 40000;

// The IPv6 client's TCP connection to web6: kClientIp6:kClientPort -> kVip6:kWebPort.
inline hashing::FlowKeyV6 webClientKey6() {
  hashing::FlowKeyV6 key;
  key.src_addr = kClientIp6;
  key.dst_addr = kVip6;
  key.src_port_be = rte_cpu_to_be_16(kClientPort);
  key.dst_port_be = rte_cpu_to_be_16(kWebPort);
  key.protocol = IPPROTO_TCP;
  return key;
}

// Built once per process from makeConfig(); never modified.
const Snapshot& standardSnapshot();

// Two workers share the local port range, so worker 0 owns 10000..34999 and worker 1 35000..59999.
inline LocalPortPartition twoWorkerPartition() { return {kLocalPortMin, kLocalPortMax, 2}; }

// client -> VIP over Ethernet, untagged, no L4 yet.
PacketBuilder fromClient(uint32_t dst = kVip);
// backend n -> port address (a full-NAT reply), untagged, no L4 yet.
PacketBuilder fromBackend(uint8_t n);

// The bytes of the Ethernet payload (from the L3 header on) of a decoded frame.
Bytes l3Bytes(const Bytes& frame, const DecodedFrame& d);

// Returns the backend host octet (11..15) the address belongs to, or 0.
uint8_t backendHost(uint32_t address);

// A full-NAT frame toward a backend: source = port address and a local port of `worker`'s range,
// destination = a backend of 10.99.0.11-15 on `backend_port`, MACs port -> that backend, checksums
// equal to a full recomputation, and everything past the L4 ports unchanged from `input`.
void expectFullNatToBackend(const Bytes& input, const Bytes& output, uint16_t backend_port,
                            const LocalPortPartition& partition, uint16_t worker);

// A reply Tether sent to the client on port 0: VIP:vip_port -> client:client_port, to the client's
// MAC, with a valid IPv4 header checksum (the L4 checksum is the caller's to check).
void expectReplyToClient(const Bytes& frame, uint16_t vip_port, uint16_t client_port);

// An ICMP message Tether sent to the client on port 0 from the VIP: MACs port -> client, valid IPv4
// and ICMP checksums.
void expectIcmpFromVipToClient(const Bytes& frame);

// `frame` is ICMP "fragmentation needed and DF set" (RFC 1191) announcing `mtu`, quoting `original`'s
// IP header and first 8 bytes of payload unchanged, with valid IPv4 and ICMP checksums. The
// addresses are the caller's to check.
void expectFragmentationNeeded(const Bytes& frame, const Bytes& original, uint16_t mtu);

// ICMP error `type`/`code` from `from` (MAC `from_mac`) to the port address, with `rest` as the
// header's second word and `quote` (a packet Tether sent, from its IP header on) as its body.
Bytes icmpErrorToPort(uint32_t from, const rte_ether_addr& from_mac, uint8_t type, uint8_t code, uint32_t rest,
                      const Bytes& quote);
// The IP packet inside a frame (from the IP header to total_length), cut to `len` bytes if given.
Bytes ipPacket(const Bytes& frame, size_t len = SIZE_MAX);

// Replaces the headroom of `m` with `headroom` bytes (moving the data), to provoke kNoHeadroom.
void setHeadroom(rte_mbuf* m, uint16_t headroom);

}  // namespace test
}  // namespace lb::dataplane
