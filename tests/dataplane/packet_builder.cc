#include "tests/dataplane/packet_builder.h"

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

namespace lb::dataplane::test {

void put16(Bytes& b, size_t at, uint16_t host_value) {
  b[at] = static_cast<uint8_t>(host_value >> 8);
  b[at + 1] = static_cast<uint8_t>(host_value);
}

uint16_t get16(const Bytes& b, size_t at) { return static_cast<uint16_t>((b[at] << 8) | b[at + 1]); }

namespace {

void put32(Bytes& b, size_t at, uint32_t host_value) {
  put16(b, at, static_cast<uint16_t>(host_value >> 16));
  put16(b, at + 2, static_cast<uint16_t>(host_value));
}

uint32_t get32(const Bytes& b, size_t at) {
  return (uint32_t{get16(b, at)} << 16) | get16(b, at + 2);
}

void putMac(Bytes& b, size_t at, const rte_ether_addr& mac) {
  std::memcpy(&b[at], mac.addr_bytes, RTE_ETHER_ADDR_LEN);
}

// Writes Ethernet [+ tag] and returns the L3 offset.
size_t putL2(Bytes& b, const rte_ether_addr& src, const rte_ether_addr& dst, std::optional<uint16_t> vlan,
             uint16_t ether_type) {
  putMac(b, 0, dst);
  putMac(b, 6, src);
  if (vlan) {
    put16(b, 12, RTE_ETHER_TYPE_VLAN);
    put16(b, 14, *vlan);
    put16(b, 16, ether_type);
    return 18;
  }
  put16(b, 12, ether_type);
  return 14;
}

// The IPv4 header and the L4 segment copied into aligned storage, so DPDK's checksum helpers can be
// called on them whatever the frame's alignment. `l4_len` follows total_length, clipped to the frame.
struct AlignedPacket {
  alignas(8) uint8_t ip[60] = {};
  alignas(8) uint8_t l4[65536] = {};  // any IPv4 payload (reassembled datagrams)
  size_t ihl = 0;
  size_t l4_len = 0;
  uint8_t protocol = 0;
  bool ok = false;
};

AlignedPacket copyOut(const Bytes& frame, size_t l3_offset) {
  AlignedPacket p;
  if (frame.size() < l3_offset + sizeof(rte_ipv4_hdr)) return p;
  p.ihl = size_t{frame[l3_offset] & 0x0fu} * 4;
  const size_t total = get16(frame, l3_offset + 2);
  if (p.ihl < sizeof(rte_ipv4_hdr) || total < p.ihl || frame.size() < l3_offset + total) return p;
  p.l4_len = total - p.ihl;
  if (p.l4_len > sizeof(p.l4)) return p;
  std::memcpy(p.ip, &frame[l3_offset], p.ihl);
  std::memcpy(p.l4, &frame[l3_offset + p.ihl], p.l4_len);
  p.protocol = frame[l3_offset + 9];
  p.ok = true;
  return p;
}

// Offset of the checksum field inside the L4 header, or SIZE_MAX for protocols without one we know.
size_t l4ChecksumOffset(uint8_t protocol) {
  switch (protocol) {
    case IPPROTO_TCP: return offsetof(rte_tcp_hdr, cksum);
    case IPPROTO_UDP: return offsetof(rte_udp_hdr, dgram_cksum);
    case IPPROTO_ICMP: return offsetof(rte_icmp_hdr, icmp_cksum);
    default: return SIZE_MAX;
  }
}

uint16_t foldSum(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

}  // namespace

rte_ether_addr testMac(uint16_t id) {
  rte_ether_addr mac{{0x02, 0x00, 0x00, 0x00, static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)}};
  return mac;
}

bool sameMac(const rte_ether_addr& a, const rte_ether_addr& b) {
  return std::memcmp(a.addr_bytes, b.addr_bytes, RTE_ETHER_ADDR_LEN) == 0;
}

Bytes buildIpv6Frame(const rte_ether_addr& src_mac, const rte_ether_addr& dst_mac, const std::array<uint8_t, 16>& src,
                     const std::array<uint8_t, 16>& dst, uint8_t next_header, Bytes l4, size_t check_at,
                     uint8_t hop_limit) {
  constexpr size_t kIp6 = 14;
  constexpr size_t kL4 = kIp6 + 40;
  Bytes f(kL4 + l4.size(), 0);
  std::memcpy(&f[0], dst_mac.addr_bytes, 6);
  std::memcpy(&f[6], src_mac.addr_bytes, 6);
  put16(f, 12, RTE_ETHER_TYPE_IPV6);
  f[kIp6] = 0x60;
  f[kIp6 + 1] = 0x20;  // traffic class 0x02: carried into the IPv4 TOS
  put16(f, kIp6 + 4, static_cast<uint16_t>(l4.size()));
  f[kIp6 + 6] = next_header;
  f[kIp6 + 7] = hop_limit;
  std::copy(src.begin(), src.end(), f.begin() + kIp6 + 8);
  std::copy(dst.begin(), dst.end(), f.begin() + kIp6 + 24);
  std::copy(l4.begin(), l4.end(), f.begin() + kL4);
  if (check_at != SIZE_MAX) {
    alignas(8) uint8_t header[40];
    std::vector<uint64_t> aligned((l4.size() + 7) / 8 + 1, 0);
    std::memcpy(header, &f[kIp6], sizeof(header));
    std::memcpy(aligned.data(), l4.data(), l4.size());
    reinterpret_cast<uint8_t*>(aligned.data())[check_at] = 0;
    reinterpret_cast<uint8_t*>(aligned.data())[check_at + 1] = 0;
    const uint16_t check = rte_ipv6_udptcp_cksum(reinterpret_cast<const rte_ipv6_hdr*>(header), aligned.data());
    std::memcpy(&f[kL4 + check_at], &check, sizeof(check));
  }
  return f;
}

Bytes tcpSegment(uint16_t src_port, uint16_t dst_port, uint8_t flags, const Bytes& payload) {
  Bytes t(20 + payload.size(), 0);
  put16(t, 0, src_port);
  put16(t, 2, dst_port);
  t[4] = 0x12;  // sequence number 0x12000000
  t[12] = 0x50;
  t[13] = flags;
  put16(t, 14, 65535);
  std::copy(payload.begin(), payload.end(), t.begin() + 20);
  return t;
}
Bytes udpDatagram(uint16_t src_port, uint16_t dst_port, const Bytes& payload) {
  Bytes u(8 + payload.size(), 0);
  put16(u, 0, src_port);
  put16(u, 2, dst_port);
  put16(u, 4, static_cast<uint16_t>(8 + payload.size()));
  std::copy(payload.begin(), payload.end(), u.begin() + 8);
  return u;
}

PacketBuilder& PacketBuilder::ethernet(const rte_ether_addr& src, const rte_ether_addr& dst) {
  eth_src_ = src;
  eth_dst_ = dst;
  return *this;
}

PacketBuilder& PacketBuilder::vlan(uint16_t vid) {
  vlan_ = vid;
  return *this;
}

PacketBuilder& PacketBuilder::ipv4(uint32_t src, uint32_t dst) {
  has_ip_ = true;
  ip_src_ = src;
  ip_dst_ = dst;
  return *this;
}

PacketBuilder& PacketBuilder::ttl(uint8_t ttl) {
  ttl_ = ttl;
  return *this;
}

PacketBuilder& PacketBuilder::ipId(uint16_t id) {
  ip_id_ = id;
  return *this;
}

PacketBuilder& PacketBuilder::dontFragment() {
  df_ = true;
  return *this;
}

PacketBuilder& PacketBuilder::tos(uint8_t tos) {
  tos_ = tos;
  return *this;
}

PacketBuilder& PacketBuilder::ipOptions(Bytes options) {
  ip_options_ = std::move(options);
  while (ip_options_.size() % 4 != 0) ip_options_.push_back(0);
  if (ip_options_.size() > 40) ip_options_.resize(40);
  return *this;
}

PacketBuilder& PacketBuilder::tcp(uint16_t src_port, uint16_t dst_port, uint8_t flags, uint32_t seq,
                                  uint32_t ack) {
  l4_ = L4::kTcp;
  protocol_ = IPPROTO_TCP;
  src_port_ = src_port;
  dst_port_ = dst_port;
  tcp_flags_ = flags;
  seq_ = seq;
  ack_ = ack;
  return *this;
}

PacketBuilder& PacketBuilder::udp(uint16_t src_port, uint16_t dst_port) {
  l4_ = L4::kUdp;
  protocol_ = IPPROTO_UDP;
  src_port_ = src_port;
  dst_port_ = dst_port;
  return *this;
}

PacketBuilder& PacketBuilder::zeroUdpChecksum() {
  zero_udp_checksum_ = true;
  return *this;
}

PacketBuilder& PacketBuilder::icmpEcho(bool request, uint16_t ident, uint16_t sequence) {
  l4_ = L4::kIcmp;
  protocol_ = IPPROTO_ICMP;
  icmp_type_ = request ? RTE_IP_ICMP_ECHO_REQUEST : RTE_IP_ICMP_ECHO_REPLY;
  icmp_code_ = 0;
  src_port_ = ident;  // reused as identifier / sequence number
  dst_port_ = sequence;
  return *this;
}

PacketBuilder& PacketBuilder::icmpError(uint8_t type, uint8_t code, uint32_t rest) {
  l4_ = L4::kIcmp;
  protocol_ = IPPROTO_ICMP;
  icmp_type_ = type;
  icmp_code_ = code;
  src_port_ = static_cast<uint16_t>(rest >> 16);  // the header's second word
  dst_port_ = static_cast<uint16_t>(rest);
  return *this;
}

PacketBuilder& PacketBuilder::ipProtocol(uint8_t protocol) {
  l4_ = L4::kRaw;
  protocol_ = protocol;
  return *this;
}

PacketBuilder& PacketBuilder::payload(Bytes bytes) {
  payload_ = std::move(bytes);
  return *this;
}

PacketBuilder& PacketBuilder::padTo(size_t frame_len) {
  pad_to_ = frame_len;
  return *this;
}

Bytes PacketBuilder::build() const {
  const size_t l2_len = vlan_ ? 18 : 14;
  if (!has_ip_) {
    Bytes frame(l2_len + payload_.size());
    putL2(frame, eth_src_, eth_dst_, vlan_, RTE_ETHER_TYPE_IPV4);
    std::copy(payload_.begin(), payload_.end(), frame.begin() + static_cast<ptrdiff_t>(l2_len));
    return frame;
  }
  size_t l4_header = 0;
  switch (l4_) {
    case L4::kTcp: l4_header = sizeof(rte_tcp_hdr); break;
    case L4::kUdp: l4_header = sizeof(rte_udp_hdr); break;
    case L4::kIcmp: l4_header = sizeof(rte_icmp_hdr); break;
    case L4::kNone:
    case L4::kRaw: l4_header = 0; break;
  }
  const size_t ihl = sizeof(rte_ipv4_hdr) + ip_options_.size();
  const size_t total = ihl + l4_header + payload_.size();
  Bytes frame(std::max(l2_len + total, pad_to_), 0);
  const size_t l3 = putL2(frame, eth_src_, eth_dst_, vlan_, RTE_ETHER_TYPE_IPV4);

  frame[l3] = static_cast<uint8_t>(0x40 | (ihl / 4));
  frame[l3 + 1] = tos_;
  put16(frame, l3 + 2, static_cast<uint16_t>(total));
  put16(frame, l3 + 4, ip_id_);
  put16(frame, l3 + 6, df_ ? RTE_IPV4_HDR_DF_FLAG : 0);
  frame[l3 + 8] = ttl_;
  frame[l3 + 9] = protocol_;
  put32(frame, l3 + 12, ip_src_);
  put32(frame, l3 + 16, ip_dst_);
  std::copy(ip_options_.begin(), ip_options_.end(), frame.begin() + static_cast<ptrdiff_t>(l3 + 20));
  const size_t l4 = l3 + ihl;
  std::copy(payload_.begin(), payload_.end(), frame.begin() + static_cast<ptrdiff_t>(l4 + l4_header));

  switch (l4_) {
    case L4::kTcp:
      put16(frame, l4, src_port_);
      put16(frame, l4 + 2, dst_port_);
      put32(frame, l4 + 4, seq_);
      put32(frame, l4 + 8, ack_);
      frame[l4 + 12] = 5 << 4;
      frame[l4 + 13] = tcp_flags_;
      put16(frame, l4 + 14, 65535);
      break;
    case L4::kUdp:
      put16(frame, l4, src_port_);
      put16(frame, l4 + 2, dst_port_);
      put16(frame, l4 + 4, static_cast<uint16_t>(l4_header + payload_.size()));
      break;
    case L4::kIcmp:
      frame[l4] = icmp_type_;
      frame[l4 + 1] = icmp_code_;
      put16(frame, l4 + 4, src_port_);
      put16(frame, l4 + 6, dst_port_);
      break;
    case L4::kNone:
    case L4::kRaw:
      break;
  }

  const uint16_t ip_sum = recomputeIpv4Checksum(frame, l3);
  std::memcpy(&frame[l3 + 10], &ip_sum, sizeof(ip_sum));
  if (l4_ == L4::kTcp || l4_ == L4::kIcmp || (l4_ == L4::kUdp && !zero_udp_checksum_)) {
    const uint16_t l4_sum = recomputeL4Checksum(frame, l3);
    std::memcpy(&frame[l4 + l4ChecksumOffset(protocol_)], &l4_sum, sizeof(l4_sum));
  }
  return frame;
}

namespace {

Bytes arpFrame(uint16_t opcode, const rte_ether_addr& eth_dst, const rte_ether_addr& sender_mac,
               uint32_t sender_ip, const rte_ether_addr& target_mac, uint32_t target_ip,
               std::optional<uint16_t> vlan) {
  Bytes frame((vlan ? 18 : 14) + sizeof(rte_arp_hdr), 0);
  const size_t a = putL2(frame, sender_mac, eth_dst, vlan, RTE_ETHER_TYPE_ARP);
  put16(frame, a, RTE_ARP_HRD_ETHER);
  put16(frame, a + 2, RTE_ETHER_TYPE_IPV4);
  frame[a + 4] = RTE_ETHER_ADDR_LEN;
  frame[a + 5] = 4;
  put16(frame, a + 6, opcode);
  putMac(frame, a + 8, sender_mac);
  put32(frame, a + 14, sender_ip);
  putMac(frame, a + 18, target_mac);
  put32(frame, a + 24, target_ip);
  return frame;
}

}  // namespace

Bytes arpRequest(const rte_ether_addr& sender_mac, uint32_t sender_ip, uint32_t target_ip,
                 std::optional<uint16_t> vlan) {
  const rte_ether_addr broadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  return arpFrame(RTE_ARP_OP_REQUEST, broadcast, sender_mac, sender_ip, rte_ether_addr{}, target_ip, vlan);
}

Bytes arpReply(const rte_ether_addr& sender_mac, uint32_t sender_ip, const rte_ether_addr& target_mac,
               uint32_t target_ip, std::optional<uint16_t> vlan) {
  return arpFrame(RTE_ARP_OP_REPLY, target_mac, sender_mac, sender_ip, target_mac, target_ip, vlan);
}

rte_mbuf* toMbuf(rte_mempool* pool, const Bytes& frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  char* data = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  if (data == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  if (!frame.empty()) std::memcpy(data, frame.data(), frame.size());
  return m;
}

Bytes fromMbuf(const rte_mbuf* m) {
  const auto* data = rte_pktmbuf_mtod(m, const uint8_t*);
  return Bytes(data, data + rte_pktmbuf_data_len(m));
}

rte_ether_addr getMac(const Bytes& b, size_t at) {
  rte_ether_addr mac;
  std::memcpy(mac.addr_bytes, &b[at], RTE_ETHER_ADDR_LEN);
  return mac;
}

DecodedFrame decode(const Bytes& frame) {
  DecodedFrame d;
  if (frame.size() < 14) return d;
  d.eth_dst = getMac(frame, 0);
  d.eth_src = getMac(frame, 6);
  d.ether_type = get16(frame, 12);
  d.l3_offset = 14;
  if (d.ether_type == RTE_ETHER_TYPE_VLAN) {
    if (frame.size() < 18) return d;
    d.vlan_tci = get16(frame, 14);
    d.ether_type = get16(frame, 16);
    d.l3_offset = 18;
  }
  const size_t l3 = d.l3_offset;
  if (d.ether_type == RTE_ETHER_TYPE_ARP) {
    if (frame.size() < l3 + sizeof(rte_arp_hdr)) return d;
    d.has_arp = true;
    d.arp_opcode = get16(frame, l3 + 6);
    d.arp_sha = getMac(frame, l3 + 8);
    d.arp_sip = get32(frame, l3 + 14);
    d.arp_tha = getMac(frame, l3 + 18);
    d.arp_tip = get32(frame, l3 + 24);
    return d;
  }
  if (d.ether_type != RTE_ETHER_TYPE_IPV4 || frame.size() < l3 + sizeof(rte_ipv4_hdr)) return d;
  d.ihl_bytes = static_cast<uint8_t>((frame[l3] & 0x0f) * 4);
  if (frame.size() < l3 + d.ihl_bytes || d.ihl_bytes < sizeof(rte_ipv4_hdr)) return d;
  d.has_ipv4 = true;
  d.total_length = get16(frame, l3 + 2);
  d.fragment_offset = get16(frame, l3 + 6);
  d.ttl = frame[l3 + 8];
  d.protocol = frame[l3 + 9];
  std::memcpy(&d.ip_checksum, &frame[l3 + 10], sizeof(d.ip_checksum));
  d.ip_src = get32(frame, l3 + 12);
  d.ip_dst = get32(frame, l3 + 16);
  d.l4_offset = l3 + d.ihl_bytes;
  const size_t l4 = d.l4_offset;
  if ((d.protocol == IPPROTO_TCP && frame.size() >= l4 + sizeof(rte_tcp_hdr)) ||
      (d.protocol == IPPROTO_UDP && frame.size() >= l4 + sizeof(rte_udp_hdr))) {
    d.has_ports = true;
    d.src_port = get16(frame, l4);
    d.dst_port = get16(frame, l4 + 2);
    const size_t at = l4 + l4ChecksumOffset(d.protocol);
    std::memcpy(&d.l4_checksum, &frame[at], sizeof(d.l4_checksum));
    if (d.protocol == IPPROTO_TCP) d.tcp_flags = frame[l4 + 13];
  } else if (d.protocol == IPPROTO_ICMP && frame.size() >= l4 + sizeof(rte_icmp_hdr)) {
    d.icmp_type = frame[l4];
    std::memcpy(&d.l4_checksum, &frame[l4 + 2], sizeof(d.l4_checksum));
  }
  return d;
}

uint16_t recomputeIpv4Checksum(const Bytes& frame, size_t l3_offset) {
  alignas(8) uint8_t header[60] = {};
  const size_t ihl = size_t{frame[l3_offset] & 0x0fu} * 4;
  std::memcpy(header, &frame[l3_offset], std::min(ihl, sizeof(header)));
  header[10] = 0;
  header[11] = 0;
  return rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(header));
}

bool ipv4HeaderChecksumValid(const Bytes& frame, size_t l3_offset) {
  const size_t ihl = size_t{frame[l3_offset] & 0x0fu} * 4;
  if (ihl < sizeof(rte_ipv4_hdr) || frame.size() < l3_offset + ihl) return false;
  alignas(8) uint8_t header[60] = {};
  std::memcpy(header, &frame[l3_offset], ihl);
  return rte_raw_cksum(header, ihl) == 0xffff;
}

uint16_t recomputeL4Checksum(const Bytes& frame, size_t l3_offset) {
  AlignedPacket p = copyOut(frame, l3_offset);
  const size_t at = l4ChecksumOffset(p.protocol);
  if (!p.ok || at == SIZE_MAX || p.l4_len < at + 2) return 0;
  p.l4[at] = 0;
  p.l4[at + 1] = 0;
  if (p.protocol == IPPROTO_ICMP) return static_cast<uint16_t>(~rte_raw_cksum(p.l4, p.l4_len));
  return rte_ipv4_udptcp_cksum(reinterpret_cast<const rte_ipv4_hdr*>(p.ip), p.l4);
}

bool l4ChecksumValid(const Bytes& frame, size_t l3_offset) {
  const AlignedPacket p = copyOut(frame, l3_offset);
  const size_t at = l4ChecksumOffset(p.protocol);
  if (!p.ok || at == SIZE_MAX || p.l4_len < at + 2) return false;
  if (p.protocol == IPPROTO_ICMP) return rte_raw_cksum(p.l4, p.l4_len) == 0xffff;
  if (p.protocol == IPPROTO_UDP && p.l4[at] == 0 && p.l4[at + 1] == 0) return true;
  const uint32_t sum = uint32_t{rte_raw_cksum(p.l4, p.l4_len)} +
                       rte_ipv4_phdr_cksum(reinterpret_cast<const rte_ipv4_hdr*>(p.ip), 0);
  return foldSum(sum) == 0xffff;
}

}  // namespace lb::dataplane::test
