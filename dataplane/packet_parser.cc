#include "dataplane/packet_parser.h"

#include <rte_icmp.h>

#include <algorithm>

#include "dataplane/ipv4_fragments.h"

namespace lb::dataplane {
namespace {

void drop(ParsedFrame& f, DropReason reason) {
  f.kind = FrameKind::kDrop;
  f.drop = reason;
}

// TCP or UDP header of an L4 payload of `l4_len` bytes, of which `header_avail` can be read here
// (fewer when a reassembled datagram continues in the next segment): the ports into the key, TCP's
// flags. False when the header or its own length does not fit.
bool parsePorts(const uint8_t* l4, uint16_t l4_len, uint16_t header_avail, uint8_t protocol, ParsedFrame& f) {
  if (protocol == IPPROTO_TCP) {
    if (header_avail < sizeof(rte_tcp_hdr)) return false;
    const auto* tcp = reinterpret_cast<const rte_tcp_hdr*>(l4);
    const uint16_t data_off = static_cast<uint16_t>((tcp->data_off >> 4) * 4);
    if (data_off < sizeof(rte_tcp_hdr) || data_off > header_avail) return false;
    f.key.src_port_be = tcp->src_port;
    f.key.dst_port_be = tcp->dst_port;
    f.tcp_flags = tcp->tcp_flags;
    return true;
  }
  if (header_avail < sizeof(rte_udp_hdr)) return false;
  const auto* udp = reinterpret_cast<const rte_udp_hdr*>(l4);
  const uint16_t udp_len = rte_be_to_cpu_16(udp->dgram_len);
  if (udp_len < sizeof(rte_udp_hdr) || udp_len > l4_len) return false;
  f.key.src_port_be = udp->src_port;
  f.key.dst_port_be = udp->dst_port;
  return true;
}

// IPv6 without extension headers: what clients send for TCP, UDP, ping and neighbour discovery. A
// packet with an extension header (hop-by-hop options of MLD, a fragment header) is not ours to
// balance; it is counted as unsupported.
void parseIpv6(uint8_t* data, uint32_t frame_len, ParsedFrame& f) {
  const uint32_t l3_avail = frame_len - f.l2_len;
  if (l3_avail < sizeof(rte_ipv6_hdr)) return drop(f, DropReason::kMalformed);
  auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(data + f.l2_len);
  if ((rte_be_to_cpu_32(ip6->vtc_flow) >> 28) != 6) return drop(f, DropReason::kMalformed);
  const uint16_t l4_len = rte_be_to_cpu_16(ip6->payload_len);
  if (l4_len > l3_avail - sizeof(rte_ipv6_hdr)) return drop(f, DropReason::kMalformed);
  uint8_t* const l4 = data + f.l2_len + sizeof(rte_ipv6_hdr);
  f.ip6 = ip6;
  f.l3_len = sizeof(rte_ipv6_hdr);
  f.l4 = l4;
  f.l4_len = l4_len;
  f.key.src_addr_be = 0;
  f.key.dst_addr_be = 0;
  f.key.protocol = ip6->proto;
  switch (ip6->proto) {
    case IPPROTO_TCP:
    case IPPROTO_UDP:
      if (!parsePorts(l4, l4_len, l4_len, ip6->proto, f)) return drop(f, DropReason::kMalformed);
      break;
    case IPPROTO_ICMPV6:
      if (l4_len < sizeof(rte_icmp_hdr)) return drop(f, DropReason::kMalformed);  // type, code, checksum, 4 more
      f.key.src_port_be = 0;
      f.key.dst_port_be = 0;
      break;
    default:
      // Extension headers sent to a multicast group (a client's MLD reports carry hop-by-hop options)
      // are link chatter no one asked Tether for; to a unicast address they are traffic it cannot take.
      return drop(f, ip6->dst_addr[0] == 0xff ? DropReason::kNotForUs : DropReason::kUnsupported);
  }
  f.kind = FrameKind::kIpv6;
}

}  // namespace

void parseFrameFull(rte_mbuf* m, ParsedFrame& f) {
  // Ports are not configured for chained (jumbo) frames: a received chain is refused, and the only
  // chain taken is an IPv4 datagram reassembled here.
  if (m->nb_segs != 1 && !isReassembled(m)) return drop(f, DropReason::kUnsupported);
  uint8_t* const data = rte_pktmbuf_mtod(m, uint8_t*);
  // Headers are read within the first segment (`frame_len` bytes); lengths are checked against the
  // whole packet.
  const uint32_t frame_len = rte_pktmbuf_data_len(m);
  const uint32_t packet_len = rte_pktmbuf_pkt_len(m);
  if (frame_len < sizeof(rte_ether_hdr)) return drop(f, DropReason::kMalformed);

  const auto* eth = reinterpret_cast<const rte_ether_hdr*>(data);
  uint16_t ether_type = eth->ether_type;
  f.l2_len = sizeof(rte_ether_hdr);
  f.vlan = 0;
  f.tcp_flags = 0;
  if (ether_type == RTE_BE16(RTE_ETHER_TYPE_VLAN)) {
    if (frame_len < sizeof(rte_ether_hdr) + sizeof(rte_vlan_hdr)) return drop(f, DropReason::kMalformed);
    const auto* vlan = reinterpret_cast<const rte_vlan_hdr*>(data + sizeof(rte_ether_hdr));
    f.vlan = rte_be_to_cpu_16(vlan->vlan_tci) & 0x0fff;
    ether_type = vlan->eth_proto;
    f.l2_len += sizeof(rte_vlan_hdr);
  }

  if (m->nb_segs != 1 && ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4)) return drop(f, DropReason::kUnsupported);
  if (ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
    if (frame_len < f.l2_len + sizeof(rte_arp_hdr)) return drop(f, DropReason::kMalformed);
    auto* arp = reinterpret_cast<rte_arp_hdr*>(data + f.l2_len);
    if (arp->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
        arp->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != RTE_ETHER_ADDR_LEN ||
        arp->arp_plen != sizeof(uint32_t)) {
      return drop(f, DropReason::kUnsupported);
    }
    f.kind = FrameKind::kArp;
    f.arp = arp;
    return;
  }
  if (ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6)) return parseIpv6(data, frame_len, f);
  if (ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4)) return drop(f, DropReason::kUnsupported);

  if (frame_len - f.l2_len < sizeof(rte_ipv4_hdr)) return drop(f, DropReason::kMalformed);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(data + f.l2_len);
  if ((ip->version_ihl >> 4) != 4) return drop(f, DropReason::kMalformed);
  const uint16_t ihl_bytes = static_cast<uint16_t>((ip->version_ihl & 0x0f) * 4);
  const uint16_t total_len = rte_be_to_cpu_16(ip->total_length);
  // Frames may carry Ethernet padding past total_length, never less than it.
  if (ihl_bytes < sizeof(rte_ipv4_hdr) || ihl_bytes > frame_len - f.l2_len || total_len < ihl_bytes ||
      total_len > packet_len - f.l2_len) {
    return drop(f, DropReason::kMalformed);
  }
  f.ip = ip;
  f.l3_len = ihl_bytes;
  f.key.src_addr_be = ip->src_addr;
  f.key.dst_addr_be = ip->dst_addr;
  f.key.protocol = ip->next_proto_id;
  // Only the first fragment carries the L4 header: the datagram is balanced once it is whole.
  if ((ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0) {
    f.key.src_port_be = 0;
    f.key.dst_port_be = 0;
    f.kind = FrameKind::kIpv4Fragment;
    return;
  }
  const uint16_t l4_len = total_len - ihl_bytes;
  const auto header_avail = static_cast<uint16_t>(std::min<uint32_t>(l4_len, frame_len - f.l2_len - ihl_bytes));
  uint8_t* const l4 = data + f.l2_len + ihl_bytes;
  f.l4 = l4;

  switch (ip->next_proto_id) {
    case IPPROTO_TCP:
    case IPPROTO_UDP:
      if (!parsePorts(l4, l4_len, header_avail, ip->next_proto_id, f)) return drop(f, DropReason::kMalformed);
      break;
    case IPPROTO_ICMP:
      if (header_avail < sizeof(rte_icmp_hdr)) return drop(f, DropReason::kMalformed);
      f.key.src_port_be = 0;
      f.key.dst_port_be = 0;
      break;
    default:
      return drop(f, DropReason::kUnsupported);
  }
  f.kind = FrameKind::kIpv4;
}

}  // namespace lb::dataplane
