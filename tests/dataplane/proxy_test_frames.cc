#include "tests/dataplane/proxy_test_frames.h"

#include <rte_ip.h>
#include <rte_tcp.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <utility>

namespace lb::dataplane::test {

namespace {

// The TCP header, options and payload, checksum 0.
Bytes tcpBytes(const Segment& s, const Bytes& options) {
  const size_t tcp_len = sizeof(rte_tcp_hdr) + options.size();
  Bytes l4(tcp_len + s.payload.size(), 0);
  auto* tcp = reinterpret_cast<rte_tcp_hdr*>(l4.data());
  tcp->src_port = rte_cpu_to_be_16(s.sport);
  tcp->dst_port = rte_cpu_to_be_16(s.dport);
  tcp->sent_seq = rte_cpu_to_be_32(s.seq);
  tcp->recv_ack = rte_cpu_to_be_32(s.ack);
  tcp->data_off = static_cast<uint8_t>((tcp_len / 4) << 4);
  tcp->tcp_flags = s.flags;
  tcp->rx_win = rte_cpu_to_be_16(s.window);
  std::copy(options.begin(), options.end(), l4.begin() + sizeof(rte_tcp_hdr));
  std::copy(s.payload.begin(), s.payload.end(), l4.begin() + static_cast<std::ptrdiff_t>(tcp_len));
  return l4;
}

// The receiver's check of an IPv6 frame's TCP checksum: pseudo-header plus segment sums to 0xffff.
bool tcpOverIpv6ChecksumValid(const Bytes& frame, size_t l3_offset, size_t l4_len) {
  alignas(8) uint8_t header[sizeof(rte_ipv6_hdr)];
  std::memcpy(header, frame.data() + l3_offset, sizeof(header));
  Bytes l4(frame.begin() + static_cast<std::ptrdiff_t>(l3_offset + sizeof(rte_ipv6_hdr)),
           frame.begin() + static_cast<std::ptrdiff_t>(l3_offset + sizeof(rte_ipv6_hdr) + l4_len));
  uint32_t sum = rte_ipv6_phdr_cksum(reinterpret_cast<const rte_ipv6_hdr*>(header), 0);
  sum += rte_raw_cksum(l4.data(), l4.size());
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

DecodedSegment decodeIpv6Segment(const Bytes& frame) {
  DecodedSegment d;
  constexpr size_t kL3 = sizeof(rte_ether_hdr);
  constexpr size_t kL4 = kL3 + sizeof(rte_ipv6_hdr);
  if (frame.size() < kL4 + sizeof(rte_tcp_hdr)) return d;
  const auto* ip6 = reinterpret_cast<const rte_ipv6_hdr*>(frame.data() + kL3);
  const size_t l4_len = rte_be_to_cpu_16(ip6->payload_len);
  if (ip6->proto != IPPROTO_TCP || kL4 + l4_len > frame.size() || l4_len < sizeof(rte_tcp_hdr)) return d;
  const auto* tcp = reinterpret_cast<const rte_tcp_hdr*>(frame.data() + kL4);
  const size_t header_len = (tcp->data_off >> 4) * 4u;
  if (header_len < sizeof(rte_tcp_hdr) || header_len > l4_len) return d;
  const auto* eth = reinterpret_cast<const rte_ether_hdr*>(frame.data());
  d.v6 = true;
  std::memcpy(d.src6.data(), ip6->src_addr, 16);
  std::memcpy(d.dst6.data(), ip6->dst_addr, 16);
  d.sport = rte_be_to_cpu_16(tcp->src_port);
  d.dport = rte_be_to_cpu_16(tcp->dst_port);
  d.flags = tcp->tcp_flags;
  d.seq = rte_be_to_cpu_32(tcp->sent_seq);
  d.ack = rte_be_to_cpu_32(tcp->recv_ack);
  d.window = rte_be_to_cpu_16(tcp->rx_win);
  d.src_mac = eth->src_addr;
  d.dst_mac = eth->dst_addr;
  const std::span<const uint8_t> options(frame.data() + kL4 + sizeof(rte_tcp_hdr), header_len - sizeof(rte_tcp_hdr));
  if (parseTcpOptions(options, d.options) != TcpOptionsError::kNone) return d;
  d.payload.assign(reinterpret_cast<const char*>(frame.data() + kL4 + header_len), l4_len - header_len);
  d.checksums_valid = tcpOverIpv6ChecksumValid(frame, kL3, l4_len);
  d.ok = true;
  return d;
}

}  // namespace

Bytes buildSegment(const Segment& s) {
  Bytes options = s.options;
  while (options.size() % 4 != 0) options.push_back(tcp_option::kEol);
  if (s.v6) {
    return buildIpv6Frame(s.src_mac, s.dst_mac, s.src6, s.dst6, IPPROTO_TCP, tcpBytes(s, options),
                          offsetof(rte_tcp_hdr, cksum));
  }
  const Bytes l4 = tcpBytes(s, options);
  const size_t ip_len = sizeof(rte_ipv4_hdr) + l4.size();
  Bytes frame(sizeof(rte_ether_hdr) + ip_len, 0);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(frame.data());
  eth->dst_addr = s.dst_mac;
  eth->src_addr = s.src_mac;
  eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(ip_len));
  ip->packet_id = RTE_BE16(0x4242);
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_TCP;
  ip->src_addr = rte_cpu_to_be_32(s.src);
  ip->dst_addr = rte_cpu_to_be_32(s.dst);
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  std::copy(l4.begin(), l4.end(), frame.begin() + sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr));
  auto* tcp = reinterpret_cast<rte_tcp_hdr*>(ip + 1);
  tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
  return frame;
}

Bytes synOptions(uint16_t mss, uint8_t window_scale, bool sack, bool timestamps, uint32_t tsval,
                 uint32_t tsecr) {
  std::array<uint8_t, kSynAckOptionsMaxLen> block{};
  const size_t n = writeSynAckOptions(block, SynAckOptions{.mss = mss,
                                                          .window_scale = window_scale,
                                                          .sack_permitted = sack,
                                                          .timestamps = timestamps,
                                                          .tsval = tsval,
                                                          .tsecr = tsecr});
  return Bytes(block.begin(), block.begin() + static_cast<ptrdiff_t>(n));
}

namespace {
void putBe32(Bytes& b, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(v >> shift));
}
}  // namespace

Bytes timestampOption(uint32_t tsval, uint32_t tsecr) {
  Bytes b = {tcp_option::kNop, tcp_option::kNop, tcp_option::kTimestamps, tcp_option::kTimestampsLen};
  putBe32(b, tsval);
  putBe32(b, tsecr);
  return b;
}

Bytes sackOption(uint32_t left, uint32_t right) {
  Bytes b = {tcp_option::kNop, tcp_option::kNop, tcp_option::kSack, 10};
  putBe32(b, left);
  putBe32(b, right);
  return b;
}

DecodedSegment decodeSegment(const Bytes& frame) {
  DecodedSegment d;
  const DecodedFrame f = decode(frame);
  if (f.ether_type == RTE_ETHER_TYPE_IPV6 && !f.vlan_tci) return decodeIpv6Segment(frame);
  if (!f.has_ipv4 || f.protocol != IPPROTO_TCP || f.ether_type != RTE_ETHER_TYPE_IPV4) return d;
  if (frame.size() < f.l4_offset + sizeof(rte_tcp_hdr)) return d;
  const auto* tcp = reinterpret_cast<const rte_tcp_hdr*>(frame.data() + f.l4_offset);
  const size_t header_len = (tcp->data_off >> 4) * 4u;
  const size_t l4_end = f.l3_offset + f.total_length;
  if (header_len < sizeof(rte_tcp_hdr) || f.l4_offset + header_len > l4_end || l4_end > frame.size()) return d;
  d.src = f.ip_src;
  d.dst = f.ip_dst;
  d.sport = f.src_port;
  d.dport = f.dst_port;
  d.flags = tcp->tcp_flags;
  d.seq = rte_be_to_cpu_32(tcp->sent_seq);
  d.ack = rte_be_to_cpu_32(tcp->recv_ack);
  d.window = rte_be_to_cpu_16(tcp->rx_win);
  d.src_mac = f.eth_src;
  d.dst_mac = f.eth_dst;
  const std::span<const uint8_t> options(frame.data() + f.l4_offset + sizeof(rte_tcp_hdr),
                                         header_len - sizeof(rte_tcp_hdr));
  if (parseTcpOptions(options, d.options) != TcpOptionsError::kNone) return d;
  d.payload.assign(reinterpret_cast<const char*>(frame.data() + f.l4_offset + header_len),
                   l4_end - f.l4_offset - header_len);
  d.checksums_valid = ipv4HeaderChecksumValid(frame, f.l3_offset) && l4ChecksumValid(frame, f.l3_offset);
  d.ok = true;
  return d;
}

Segment answering(const DecodedSegment& to, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t window,
                  Bytes options, std::string payload) {
  Segment s;
  s.src_mac = to.dst_mac;
  s.dst_mac = to.src_mac;
  s.src = to.dst;
  s.dst = to.src;
  s.v6 = to.v6;
  s.src6 = to.dst6;
  s.dst6 = to.src6;
  s.sport = to.dport;
  s.dport = to.sport;
  s.flags = flags;
  s.seq = seq;
  s.ack = ack;
  s.window = window;
  s.options = std::move(options);
  s.payload = std::move(payload);
  return s;
}

}  // namespace lb::dataplane::test
