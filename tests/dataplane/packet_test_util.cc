#include "tests/dataplane/packet_test_util.h"

#include <rte_ip.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace lb::dataplane {

std::ostream& operator<<(std::ostream& os, VerdictKind kind) {
  switch (kind) {
    case VerdictKind::kForwarded: return os << "kForwarded";
    case VerdictKind::kAnswered: return os << "kAnswered";
    case VerdictKind::kHandedOff: return os << "kHandedOff";
    case VerdictKind::kToControl: return os << "kToControl";
    case VerdictKind::kDropped: return os << "kDropped";
    case VerdictKind::kHeld: return os << "kHeld";
  }
  return os << "VerdictKind(" << static_cast<int>(kind) << ")";
}

std::ostream& operator<<(std::ostream& os, DropReason reason) {
  if (reason == DropReason::kCount) return os << "(none)";
  return os << dropReasonName(reason);
}

namespace test {

const Snapshot& standardSnapshot() {
  static const Snapshot* snap = [] {
    static SnapshotSource source;
    return source.build().release();
  }();
  return *snap;
}

PacketBuilder fromClient(uint32_t dst) {
  PacketBuilder b;
  b.ethernet(clientMac(), portMac()).ipv4(kClientIp, dst);
  return b;
}

PacketBuilder fromBackend(uint8_t n) {
  PacketBuilder b;
  b.ethernet(backendMac(n), portMac()).ipv4(backendIp(n), kPortIp);
  return b;
}

void expectReplyToClient(const Bytes& frame, uint16_t vip_port, uint16_t client_port) {
  const DecodedFrame d = decode(frame);
  ASSERT_TRUE(d.has_ipv4);
  EXPECT_EQ(d.ip_src, kVip);
  EXPECT_EQ(d.src_port, vip_port);
  EXPECT_EQ(d.ip_dst, kClientIp);
  EXPECT_EQ(d.dst_port, client_port);
  EXPECT_TRUE(sameMac(d.eth_dst, clientMac()));
  EXPECT_TRUE(ipv4HeaderChecksumValid(frame, d.l3_offset));
}

void expectIcmpFromVipToClient(const Bytes& frame) {
  const DecodedFrame d = decode(frame);
  ASSERT_TRUE(d.has_ipv4);
  EXPECT_TRUE(sameMac(d.eth_dst, clientMac()));
  EXPECT_TRUE(sameMac(d.eth_src, portMac()));
  EXPECT_EQ(d.protocol, IPPROTO_ICMP);
  EXPECT_EQ(d.ip_src, kVip);
  EXPECT_EQ(d.ip_dst, kClientIp);
  EXPECT_EQ(d.fragment_offset, 0);
  EXPECT_TRUE(ipv4HeaderChecksumValid(frame, d.l3_offset));
  EXPECT_TRUE(l4ChecksumValid(frame, d.l3_offset)) << "ICMP checksum";
}

void expectFragmentationNeeded(const Bytes& frame, const Bytes& original, uint16_t mtu) {
  const DecodedFrame d = decode(frame);
  ASSERT_TRUE(d.has_ipv4);
  EXPECT_EQ(d.protocol, IPPROTO_ICMP);
  const size_t icmp = d.l3_offset + 20;
  ASSERT_EQ(frame.size(), icmp + 8 + 20 + 8) << "ICMP header, the quoted IP header and 8 bytes";
  EXPECT_EQ(d.total_length, frame.size() - d.l3_offset);
  EXPECT_TRUE(ipv4HeaderChecksumValid(frame, d.l3_offset));
  EXPECT_TRUE(l4ChecksumValid(frame, d.l3_offset)) << "ICMP checksum";
  EXPECT_EQ(frame[icmp], 3) << "destination unreachable";
  EXPECT_EQ(frame[icmp + 1], 4) << "fragmentation needed and DF set";
  EXPECT_EQ(frame[icmp + 4], 0);
  EXPECT_EQ(frame[icmp + 5], 0);
  EXPECT_EQ(frame[icmp + 6] << 8 | frame[icmp + 7], mtu) << "next-hop MTU";
  const size_t original_ip = decode(original).l3_offset;
  EXPECT_TRUE(std::equal(original.begin() + static_cast<std::ptrdiff_t>(original_ip),
                         original.begin() + static_cast<std::ptrdiff_t>(original_ip + 28),
                         frame.begin() + static_cast<std::ptrdiff_t>(icmp + 8)))
      << "the quote is the original IP header and first 8 bytes, unchanged";
}

Bytes icmpErrorToPort(uint32_t from, const rte_ether_addr& from_mac, uint8_t type, uint8_t code, uint32_t rest,
                      const Bytes& quote) {
  PacketBuilder b;
  b.ethernet(from_mac, portMac()).ipv4(from, kPortIp).icmpError(type, code, rest).payload(quote);
  return b.build();
}

Bytes ipPacket(const Bytes& frame, size_t len) {
  const DecodedFrame d = decode(frame);
  const size_t end = d.l3_offset + std::min<size_t>(d.total_length, len);
  return Bytes(frame.begin() + static_cast<std::ptrdiff_t>(d.l3_offset),
               frame.begin() + static_cast<std::ptrdiff_t>(end));
}

Bytes l3Bytes(const Bytes& frame, const DecodedFrame& d) {
  return Bytes(frame.begin() + static_cast<ptrdiff_t>(d.l3_offset), frame.end());
}

uint8_t backendHost(uint32_t address) {
  for (uint8_t n = 11; n <= 15; ++n) {
    if (address == backendIp(n)) return n;
  }
  return 0;
}

void expectFullNatToBackend(const Bytes& input, const Bytes& output, uint16_t backend_port,
                            const LocalPortPartition& partition, uint16_t worker) {
  const DecodedFrame in = decode(input);
  const DecodedFrame out = decode(output);
  ASSERT_TRUE(out.has_ipv4 && out.has_ports) << "output is not IPv4 TCP/UDP";
  EXPECT_FALSE(out.vlan_tci.has_value()) << "untagged port must send untagged frames";
  EXPECT_EQ(out.ether_type, RTE_ETHER_TYPE_IPV4);
  EXPECT_TRUE(sameMac(out.eth_src, portMac()));
  const uint8_t host = backendHost(out.ip_dst);
  ASSERT_NE(host, 0) << "destination is not a backend: " << std::hex << out.ip_dst;
  EXPECT_TRUE(sameMac(out.eth_dst, backendMac(host))) << "eth dst is not backend " << int{host} << "'s MAC";
  EXPECT_EQ(out.ip_src, kPortIp);
  EXPECT_GE(out.src_port, partition.firstFor(worker));
  EXPECT_LE(out.src_port, partition.lastFor(worker));
  EXPECT_EQ(out.dst_port, backend_port);
  EXPECT_EQ(out.protocol, in.protocol);
  EXPECT_EQ(out.ttl, in.ttl);
  EXPECT_EQ(out.total_length, in.total_length);
  EXPECT_EQ(output.size() - out.l3_offset, input.size() - in.l3_offset);

  EXPECT_TRUE(ipv4HeaderChecksumValid(output, out.l3_offset)) << "IPv4 header checksum invalid";
  EXPECT_EQ(out.ip_checksum, recomputeIpv4Checksum(output, out.l3_offset));
  EXPECT_TRUE(l4ChecksumValid(output, out.l3_offset)) << "L4 checksum invalid";
  if (in.protocol == IPPROTO_UDP && in.l4_checksum == 0) {
    EXPECT_EQ(out.l4_checksum, 0) << "UDP 'no checksum' must stay zero";
  } else {
    EXPECT_EQ(out.l4_checksum, recomputeL4Checksum(output, out.l3_offset));
  }

  // Untouched bytes: IP header up to the checksum, IP options, and everything after the ports except
  // the L4 checksum field.
  auto same = [&](size_t in_at, size_t out_at, size_t len, const char* what) {
    ASSERT_LE(in_at + len, input.size());
    ASSERT_LE(out_at + len, output.size());
    EXPECT_EQ(0, std::memcmp(&input[in_at], &output[out_at], len)) << what << " changed";
  };
  same(in.l3_offset, out.l3_offset, 10, "IPv4 header (version..protocol)");
  same(in.l3_offset + 20, out.l3_offset + 20, in.ihl_bytes - 20u, "IPv4 options");
  const size_t checksum_at = in.protocol == IPPROTO_TCP ? 16 : 6;
  same(in.l4_offset + 4, out.l4_offset + 4, checksum_at - 4, "L4 header after ports");
  const size_t rest = input.size() - (in.l4_offset + checksum_at + 2);
  same(in.l4_offset + checksum_at + 2, out.l4_offset + checksum_at + 2, rest, "L4 header tail and payload");
}

void setHeadroom(rte_mbuf* m, uint16_t headroom) {
  const uint16_t len = rte_pktmbuf_data_len(m);
  uint8_t* base = static_cast<uint8_t*>(m->buf_addr);
  std::memmove(base + headroom, rte_pktmbuf_mtod(m, uint8_t*), len);
  m->data_off = headroom;
}

}  // namespace test
}  // namespace lb::dataplane
