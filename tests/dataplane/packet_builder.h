// Test-only frame construction and inspection for the dataplane tests (Katran's PacketBuilder idea in
// KatranBaseTestFixtures.h): builds Ethernet [+802.1Q] / IPv4 [+options] / TCP|UDP|ICMP frames and ARP
// frames as byte vectors with correct checksums, copies them into mbufs, and decodes output frames
// back into plain fields so a test can state expectations without pointer arithmetic.
//
// Addresses are given in HOST byte order (ipv4(10, 99, 0, 2) == 0x0a630002), ports in host order; the
// builder converts when writing. Checksums are always computed in full here (rte_ipv4_cksum,
// rte_ipv4_udptcp_cksum, rte_raw_cksum for ICMP), never incrementally, so they are an independent
// reference for the dataplane's incremental updates (RFC 1624).
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace lb::dataplane::test {

using Bytes = std::vector<uint8_t>;

constexpr uint32_t ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return (uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d;
}

// A locally administered unicast MAC 02:00:00:00:<hi>:<lo>.
rte_ether_addr testMac(uint16_t id);

class PacketBuilder {
 public:
  PacketBuilder& ethernet(const rte_ether_addr& src, const rte_ether_addr& dst);
  PacketBuilder& vlan(uint16_t vid);  // adds one 802.1Q tag with this VID (PCP 0)
  PacketBuilder& ipv4(uint32_t src, uint32_t dst);
  PacketBuilder& ttl(uint8_t ttl);
  PacketBuilder& ipId(uint16_t id);
  PacketBuilder& dontFragment();
  PacketBuilder& tos(uint8_t tos);
  // Raw option bytes; padded with zeros (End of Option List) to a multiple of four, at most 40 bytes.
  PacketBuilder& ipOptions(Bytes options);
  PacketBuilder& tcp(uint16_t src_port, uint16_t dst_port, uint8_t flags, uint32_t seq = 1000,
                     uint32_t ack = 0);
  PacketBuilder& udp(uint16_t src_port, uint16_t dst_port);
  PacketBuilder& zeroUdpChecksum();  // UDP "no checksum" (RFC 768)
  PacketBuilder& icmpEcho(bool request, uint16_t ident, uint16_t sequence);
  // An ICMP error (RFC 792): `rest` is the header's second word (e.g. the next-hop MTU of
  // fragmentation needed); the payload is the quoted packet.
  PacketBuilder& icmpError(uint8_t type, uint8_t code, uint32_t rest);
  // L4 of an arbitrary IP protocol: the payload is the whole IP payload (e.g. 47 for GRE).
  PacketBuilder& ipProtocol(uint8_t protocol);
  PacketBuilder& payload(Bytes bytes);
  // Appends Ethernet padding after the IP packet up to this frame length (without FCS).
  PacketBuilder& padTo(size_t frame_len);

  Bytes build() const;

 private:
  enum class L4 : uint8_t { kNone, kTcp, kUdp, kIcmp, kRaw };
  rte_ether_addr eth_src_{};
  rte_ether_addr eth_dst_{};
  std::optional<uint16_t> vlan_;
  bool has_ip_ = false;
  uint32_t ip_src_ = 0;
  uint32_t ip_dst_ = 0;
  uint8_t ttl_ = 64;
  uint16_t ip_id_ = 0x1234;
  bool df_ = false;
  uint8_t tos_ = 0;
  Bytes ip_options_;
  L4 l4_ = L4::kNone;
  uint8_t protocol_ = 0;
  uint16_t src_port_ = 0;
  uint16_t dst_port_ = 0;
  uint8_t tcp_flags_ = 0;
  uint32_t seq_ = 0;
  uint32_t ack_ = 0;
  bool zero_udp_checksum_ = false;
  uint8_t icmp_type_ = 8;  // echo request
  uint8_t icmp_code_ = 0;
  Bytes payload_;
  size_t pad_to_ = 0;
};

// ARP over Ethernet/IPv4 (RFC 826). Requests go to the broadcast MAC with a zero target MAC.
Bytes arpRequest(const rte_ether_addr& sender_mac, uint32_t sender_ip, uint32_t target_ip,
                 std::optional<uint16_t> vlan = std::nullopt);
// Big-endian 16-bit field at `at`.
void put16(Bytes& b, size_t at, uint16_t host_value);
uint16_t get16(const Bytes& b, size_t at);
// The 6-byte MAC address at `at`.
rte_ether_addr getMac(const Bytes& b, size_t at);

// Ethernet + IPv6 (no extension headers, traffic class 0x02, so a translation can be seen carrying it)
// + `l4`, whose checksum field at offset `check_at` of `l4` (if any) is computed over the
// pseudo-header.
Bytes buildIpv6Frame(const rte_ether_addr& src_mac, const rte_ether_addr& dst_mac, const std::array<uint8_t, 16>& src,
                     const std::array<uint8_t, 16>& dst, uint8_t next_header, Bytes l4, size_t check_at = SIZE_MAX,
                     uint8_t hop_limit = 64);
// A TCP header (sequence number 0x12000000, no options) with `payload`; a UDP header with `payload`.
Bytes tcpSegment(uint16_t src_port, uint16_t dst_port, uint8_t flags, const Bytes& payload = {});
Bytes udpDatagram(uint16_t src_port, uint16_t dst_port, const Bytes& payload);

Bytes arpReply(const rte_ether_addr& sender_mac, uint32_t sender_ip, const rte_ether_addr& target_mac,
               uint32_t target_ip, std::optional<uint16_t> vlan = std::nullopt);

// Copies a frame into a fresh single-segment mbuf from `pool` (nullptr when the pool is empty).
rte_mbuf* toMbuf(rte_mempool* pool, const Bytes& frame);
Bytes fromMbuf(const rte_mbuf* m);

// A frame decoded back into host-order fields. Absent layers leave their has_* flag false; a layer
// that does not fit the frame is treated as absent.
struct DecodedFrame {
  rte_ether_addr eth_dst{};
  rte_ether_addr eth_src{};
  std::optional<uint16_t> vlan_tci;
  uint16_t ether_type = 0;  // after the tag, if any
  size_t l3_offset = 0;

  bool has_ipv4 = false;
  uint8_t ihl_bytes = 0;
  uint16_t total_length = 0;
  uint8_t ttl = 0;
  uint8_t protocol = 0;
  uint16_t fragment_offset = 0;  // raw flags + offset field
  uint32_t ip_src = 0;
  uint32_t ip_dst = 0;
  uint16_t ip_checksum = 0;
  size_t l4_offset = 0;

  bool has_ports = false;  // TCP or UDP
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t tcp_flags = 0;
  uint16_t l4_checksum = 0;  // TCP, UDP or ICMP checksum field as stored
  uint8_t icmp_type = 0;

  bool has_arp = false;
  uint16_t arp_opcode = 0;
  rte_ether_addr arp_sha{};
  uint32_t arp_sip = 0;
  rte_ether_addr arp_tha{};
  uint32_t arp_tip = 0;
};

DecodedFrame decode(const Bytes& frame);

// Full recomputation of each checksum of the IPv4 packet at `l3_offset`, compared with the stored
// field (the stored value may be any representation of the right sum, so 0 and 0xffff are checked
// the way a receiver would: the one's-complement sum over the covered bytes must be 0xffff).
bool ipv4HeaderChecksumValid(const Bytes& frame, size_t l3_offset);
// TCP/UDP (with pseudo-header) or ICMP. A UDP checksum of 0 ("none") counts as valid.
bool l4ChecksumValid(const Bytes& frame, size_t l3_offset);
// The checksum the L4 header should carry, computed from scratch with the field zeroed
// (rte_ipv4_udptcp_cksum for TCP/UDP, ~rte_raw_cksum for ICMP).
uint16_t recomputeL4Checksum(const Bytes& frame, size_t l3_offset);
uint16_t recomputeIpv4Checksum(const Bytes& frame, size_t l3_offset);

bool sameMac(const rte_ether_addr& a, const rte_ether_addr& b);

}  // namespace lb::dataplane::test
