#include "tests/dataplane/ipv6_frames.h"

#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

namespace lb::dataplane::test {

Ipv6Bytes address(const Bytes& b, size_t at) {
  Ipv6Bytes a;
  std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(at), a.size(), a.begin());
  return a;
}

// One's-complement check of an IPv6 frame's L4 checksum (TCP, UDP, ICMPv6), as a receiver does it.
bool ipv6L4ChecksumValid(const Bytes& frame) {
  if (frame.size() < kL4) return false;
  const size_t l4_len = get16(frame, kIp6 + 4);
  if (frame.size() < kL4 + l4_len) return false;
  alignas(8) uint8_t header[40];
  std::vector<uint64_t> l4((l4_len + 7) / 8 + 1, 0);
  std::memcpy(header, &frame[kIp6], sizeof(header));
  std::memcpy(l4.data(), &frame[kL4], l4_len);
  // The pseudo-header's sum plus the whole message's, checksum included, is 0xffff when valid.
  uint32_t sum = rte_ipv6_phdr_cksum(reinterpret_cast<const rte_ipv6_hdr*>(header), 0);
  sum += rte_raw_cksum(l4.data(), l4_len);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

Bytes ipv6Frame(const Ipv6Bytes& src, const Ipv6Bytes& dst, uint8_t next_header, Bytes l4, size_t check_at,
                uint8_t hop_limit, rte_ether_addr eth_dst) {
  return buildIpv6Frame(clientMac(), eth_dst, src, dst, next_header, std::move(l4), check_at, hop_limit);
}

Bytes clientTcp6(uint8_t flags, const Bytes& payload) {
  return ipv6Frame(kClientIp6, kVip6, IPPROTO_TCP, tcpSegment(kClientPort, kWebPort, flags, payload),
                   offsetof(rte_tcp_hdr, cksum));
}
Bytes clientUdp6(const Bytes& payload) {
  return ipv6Frame(kClientIp6, kVip6, IPPROTO_UDP, udpDatagram(kClientPort, kUdpPort, payload),
                   offsetof(rte_udp_hdr, dgram_cksum));
}

Bytes neighborSolicitation(const Ipv6Bytes& target, const Ipv6Bytes& source, uint8_t hop_limit) {
  Bytes ns(24, 0);
  ns[0] = 135;
  std::copy(target.begin(), target.end(), ns.begin() + 8);
  // Source link-layer address option (RFC 4861 section 4.3), as Linux sends it.
  const rte_ether_addr mac = clientMac();
  ns.insert(ns.end(), {1, 1});
  ns.insert(ns.end(), mac.addr_bytes, mac.addr_bytes + 6);
  // To the target's solicited-node multicast address ff02::1:ffXX:XXXX, its MAC 33:33:ff:XX:XX:XX.
  Ipv6Bytes solicited = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, target[13], target[14], target[15]};
  const rte_ether_addr multicast{{0x33, 0x33, 0xff, target[13], target[14], target[15]}};
  return ipv6Frame(source, solicited, IPPROTO_ICMPV6, ns, 2, hop_limit, multicast);
}

}  // namespace lb::dataplane::test
