#include "dataplane/icmpv6_errors.h"

#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <algorithm>
#include <cstring>

#include "dataplane/checksum.h"
#include "dataplane/ether_frame.h"
#include "dataplane/flow_table.h"
#include "dataplane/ipv6_direct.h"
#include "dataplane/ipv6_path.h"
#include "hashing/key_hash.h"

namespace lb::dataplane {
namespace {

// ICMPv6 error types (RFC 4443) and the ICMPv4 ones they become (RFC 792).
constexpr uint8_t kV6DestinationUnreachable = 1;
constexpr uint8_t kV6PacketTooBig = 2;
constexpr uint8_t kV6TimeExceeded = 3;
constexpr uint8_t kV4DestinationUnreachable = 3;
constexpr uint8_t kV4HostUnreachable = 1;
constexpr uint8_t kV4PortUnreachable = 3;
constexpr uint8_t kV4FragmentationNeeded = 4;
constexpr uint8_t kV4HostProhibited = 10;
constexpr uint8_t kV4TimeExceeded = 11;

constexpr uint8_t kV6NoRoute = 0;
constexpr uint8_t kV6AdministrativelyProhibited = 1;
constexpr uint8_t kV6PortUnreachable = 4;
constexpr uint8_t kV4PortUnreachableCode = 3;
constexpr uint8_t kV4FragmentationNeededCode = 4;

constexpr uint32_t kIcmpHeaderLen = 8;  // both families
constexpr uint8_t kIcmpHopLimit = 64;
constexpr uint32_t kQuotedL4 = 8;       // ports and, for TCP, the sequence number
constexpr uint32_t kMaxIcmpv4Len = 576; // an ICMPv4 error fits 576 bytes (RFC 1812 section 4.3.2.3)
constexpr uint32_t kMinIpv4Mtu = 68;    // RFC 791
constexpr uint8_t kIcmpTtl = 64;

// A quoted TCP/UDP header (`l4_len` bytes of it quoted) back to what its sender wrote before the
// translation that applied `applied_delta`: its ports, and its checksum when the quote holds it.
void restoreQuotedL4(uint8_t* l4, uint32_t l4_len, uint8_t protocol, uint32_t ports, uint16_t applied_delta) {
  std::memcpy(l4, &ports, sizeof(ports));
  const uint32_t check_at = protocol == IPPROTO_UDP ? offsetof(rte_udp_hdr, dgram_cksum) : offsetof(rte_tcp_hdr, cksum);
  if (check_at + sizeof(uint16_t) > l4_len) return;
  uint16_t check;
  std::memcpy(&check, l4 + check_at, sizeof(check));
  check = checksumApplyFolded(check, static_cast<uint16_t>(~applied_delta));  // + ~delta subtracts it
  if (check == 0 && protocol == IPPROTO_UDP) check = 0xffff;
  std::memcpy(l4 + check_at, &check, sizeof(check));
}

// RFC 7915 section 5.2's mapping; false for the types and codes it drops.
bool icmpv4For(uint8_t type6, uint8_t code6, uint8_t& type4, uint8_t& code4) {
  switch (type6) {
    case kV6DestinationUnreachable:
      type4 = kV4DestinationUnreachable;
      switch (code6) {
        case 0:  // no route
        case 2:  // beyond the scope of the source address
        case 3:  // address unreachable
          code4 = kV4HostUnreachable;
          return true;
        case 1:  // administratively prohibited
          code4 = kV4HostProhibited;
          return true;
        case 4:
          code4 = kV4PortUnreachable;
          return true;
        default:
          return false;
      }
    case kV6PacketTooBig:
      type4 = kV4DestinationUnreachable;
      code4 = kV4FragmentationNeeded;
      return true;
    case kV6TimeExceeded:
      type4 = kV4TimeExceeded;
      code4 = code6;  // hop limit / reassembly time, the same codes
      return true;
    default:
      return false;
  }
}

// RFC 7915 section 4.2's mapping; false for the types and codes it drops (protocol unreachable, which
// would become a parameter problem pointing into a header the client never sent, among them).
bool icmpv6For(uint8_t type4, uint8_t code4, uint8_t& type6, uint8_t& code6) {
  if (type4 == kV4TimeExceeded) {
    type6 = kV6TimeExceeded;
    code6 = code4;
    return true;
  }
  if (type4 != kV4DestinationUnreachable) return false;
  switch (code4) {
    case 0: case 1: case 5: case 6: case 7: case 8: case 11: case 12:  // net, host, route: unreachable
      type6 = kV6DestinationUnreachable;
      code6 = kV6NoRoute;
      return true;
    case kV4PortUnreachableCode:
      type6 = kV6DestinationUnreachable;
      code6 = kV6PortUnreachable;
      return true;
    case kV4FragmentationNeededCode:
      type6 = kV6PacketTooBig;
      code6 = 0;
      return true;
    case 9: case 10: case 13:  // administratively prohibited
      type6 = kV6DestinationUnreachable;
      code6 = kV6AdministrativelyProhibited;
      return true;
    default:
      return false;
  }
}

}  // namespace

Verdict relayIcmpToIpv6Client(BurstState& s, rte_mbuf* m, ParsedFrame& f, const FlowEntry& e, uint8_t* quoted_ip,
                              uint32_t quoted_ihl, uint32_t quoted_available) {
  auto* const icmp = static_cast<uint8_t*>(f.l4);
  uint8_t type6 = 0;
  uint8_t code6 = 0;
  if (!icmpv6For(icmp[0], icmp[1], type6, code6)) return dropPacket(s, m, DropReason::kUnsupported);
  uint16_t mtu4_be;
  std::memcpy(&mtu4_be, icmp + 6, sizeof(mtu4_be));
  // IPv6 needs 20 bytes more than IPv4 for the same segment; no IPv6 link is below 1280.
  const uint32_t mtu6 = std::max<uint32_t>(rte_be_to_cpu_16(mtu4_be) + 20u, kMinIpv6Mtu);
  const auto* const q = reinterpret_cast<const rte_ipv4_hdr*>(quoted_ip);
  const uint8_t protocol = q->next_proto_id;
  const auto quoted_tos = q->type_of_service;
  const uint8_t quoted_ttl = q->time_to_live;
  const auto quoted_payload_len = static_cast<uint16_t>(rte_be_to_cpu_16(q->total_length) - quoted_ihl);
  uint8_t* const quoted_l4 = quoted_ip + quoted_ihl;
  const uint32_t quoted_l4_len = std::min<uint32_t>(
      quoted_available - quoted_ihl, kMinIpv6Mtu - 2 * sizeof(rte_ipv6_hdr) - kIcmpHeaderLen);

  // The quoted segment back to what the client sent: its ports, and its L4 checksum without the
  // forward translation's delta, when the quote holds it.
  const uint32_t client_ports = uint32_t{e.to_backend.key.src_port_be} | (uint32_t{e.to_backend.key.dst_port_be} << 16);
  restoreQuotedL4(quoted_l4, quoted_l4_len, protocol, client_ports, e.to_backend.l4_check_delta);

  // [Ethernet][IPv6][ICMPv6][quoted IPv6][quoted L4]: the quoted L4 bytes stay where they are and
  // the headers before them are written into the headroom the frame grows into.
  uint8_t* const quoted_ip6 = quoted_l4 - sizeof(rte_ipv6_hdr);
  uint8_t* const icmp6 = quoted_ip6 - kIcmpHeaderLen;
  auto* const ip6 = reinterpret_cast<rte_ipv6_hdr*>(icmp6 - sizeof(rte_ipv6_hdr));
  uint8_t* const start = reinterpret_cast<uint8_t*>(ip6) - sizeof(rte_ether_hdr);
  if (!moveFrameStart(m, start)) return dropPacket(s, m, DropReason::kNoHeadroom);
  const uint32_t icmp6_len = kIcmpHeaderLen + sizeof(rte_ipv6_hdr) + quoted_l4_len;
  rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - sizeof(rte_ether_hdr) - sizeof(rte_ipv6_hdr) - icmp6_len));

  writeIpv6Header(reinterpret_cast<rte_ipv6_hdr*>(quoted_ip6), quoted_tos, quoted_payload_len, protocol, quoted_ttl,
                  e.client_addr6, e.vip6);
  writeIpv6Header(ip6, 0, static_cast<uint16_t>(icmp6_len), IPPROTO_ICMPV6, kIcmpHopLimit, e.vip6, e.client_addr6);

  icmp6[0] = type6;
  icmp6[1] = code6;
  const uint32_t word = type6 == kV6PacketTooBig ? rte_cpu_to_be_32(mtu6) : 0;  // MTU, or unused
  std::memset(icmp6 + 2, 0, 2);
  std::memcpy(icmp6 + 4, &word, sizeof(word));
  const uint16_t check = rte_ipv6_udptcp_cksum(ip6, icmp6);
  std::memcpy(icmp6 + 2, &check, sizeof(check));
  setFrameEtherType(start, RTE_BE16(RTE_ETHER_TYPE_IPV6));
  f.l2_len = sizeof(rte_ether_hdr);
  f.ip = nullptr;
  f.ip6 = ip6;

  const LocalPort& out = s.snap.ports[e.to_client.egress_port];
  if (!writeL2(m, f.l2_len, out.vlan, e.client_mac, out.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  s.ctx.counters->icmp_relayed.inc();
  queueTx(s, m, e.to_client.egress_port);
  return Verdict{VerdictKind::kForwarded, DropReason::kCount, e.to_client.egress_port};
}

Verdict refuseTooBigV6(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint32_t mtu6) {
  if (!s.ctx.icmp_errors.allow(s.now_tsc, s.snap.icmp_errors)) return dropPacket(s, m, DropReason::kTooBig);
  // [L2][IPv6][ICMPv6][the packet as received, cut to fit 1280 bytes]: the packet stays where it is
  // (IPv6 frames are one segment) and the two new headers go into the headroom before it.
  constexpr uint32_t kGrowth = sizeof(rte_ipv6_hdr) + kIcmpHeaderLen;
  const uint16_t l2_len = f.l2_len;
  const uint32_t quote_len = std::min<uint32_t>(sizeof(rte_ipv6_hdr) + f.l4_len, kMinIpv6Mtu - kGrowth);
  Ipv6Bytes client;
  Ipv6Bytes vip;
  std::memcpy(client.data(), f.ip6->src_addr, client.size());
  std::memcpy(vip.data(), f.ip6->dst_addr, vip.size());
  const rte_ether_addr sender = frameSourceMac(m);
  auto* const data = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, kGrowth));
  if (data == nullptr) return dropPacket(s, m, DropReason::kNoHeadroom);
  std::memmove(data, data + kGrowth, l2_len);  // the ethertype (and a tag) stay; writeL2 sets the MACs
  rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - l2_len - kGrowth - quote_len));
  auto* const ip6 = reinterpret_cast<rte_ipv6_hdr*>(data + l2_len);
  uint8_t* const icmp6 = data + l2_len + sizeof(rte_ipv6_hdr);
  writeIpv6Header(ip6, 0, static_cast<uint16_t>(kIcmpHeaderLen + quote_len), IPPROTO_ICMPV6, kIcmpHopLimit, vip,
                  client);
  icmp6[0] = kV6PacketTooBig;
  icmp6[1] = 0;
  std::memset(icmp6 + 2, 0, 2);
  const uint32_t mtu_be = rte_cpu_to_be_32(mtu6);
  std::memcpy(icmp6 + 4, &mtu_be, sizeof(mtu_be));
  const uint16_t check = rte_ipv6_udptcp_cksum(ip6, icmp6);
  std::memcpy(icmp6 + 2, &check, sizeof(check));
  f.ip6 = ip6;
  f.l4 = icmp6;
  f.l4_len = static_cast<uint16_t>(kIcmpHeaderLen + quote_len);
  const LocalPort& port = s.snap.ports[s.rx_port];
  if (!writeL2(m, f.l2_len, port.vlan, sender, port.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  s.ctx.counters->icmp_too_big.inc();
  queueTx(s, m, s.rx_port);
  return Verdict{VerdictKind::kAnswered, DropReason::kCount, s.rx_port};
}

std::optional<Verdict> forwardIcmpv6ToBackend(BurstState& s, rte_mbuf* m, ParsedFrame& f) {
  auto* const icmp = static_cast<uint8_t*>(f.l4);
  uint8_t type4 = 0;
  uint8_t code4 = 0;
  if (!icmpv4For(icmp[0], icmp[1], type4, code4)) return std::nullopt;
  // The quoted packet is a reply the client was sent: VIP:port -> client:port, TCP or UDP.
  if (f.l4_len < kIcmpHeaderLen + sizeof(rte_ipv6_hdr) + kQuotedL4) return std::nullopt;
  auto* const quote = reinterpret_cast<rte_ipv6_hdr*>(icmp + kIcmpHeaderLen);
  if ((rte_be_to_cpu_32(quote->vtc_flow) >> 28) != 6 ||
      std::memcmp(quote->src_addr, f.ip6->dst_addr, sizeof(quote->src_addr)) != 0) {
    return std::nullopt;
  }
  const uint8_t protocol = quote->proto;
  if (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP) return std::nullopt;
  uint8_t* const quoted_l4 = icmp + kIcmpHeaderLen + sizeof(rte_ipv6_hdr);
  uint32_t ports;
  std::memcpy(&ports, quoted_l4, sizeof(ports));
  hashing::FlowKeyV6 client;
  std::memcpy(client.src_addr.data(), quote->dst_addr, client.src_addr.size());
  std::memcpy(client.dst_addr.data(), quote->src_addr, client.dst_addr.size());
  client.src_port_be = static_cast<uint16_t>(ports >> 16);
  client.dst_port_be = static_cast<uint16_t>(ports);
  client.protocol = protocol;
  // As for IPv4 errors to a VIP (forwardIcmpToBackend): nothing names the lcore owning a client key,
  // so an lcore without the flow passes the error on.
  const FlowEntry* const e = s.ctx.flows.findByClientV6(client, s.ctx.flows.hashKeyV6(client));
  if (e == nullptr) return mayWalkOn(s) ? walkOn(s, m) : dropPacket(s, m, DropReason::kNoFlow);
  // A dual-stack backend answered the client itself and understands the error as it is.
  if (e->forwarding != ForwardingMode::kFullNat) return passIcmpv6ToDirectBackend(s, m, f, *e);

  uint32_t mtu_be;
  std::memcpy(&mtu_be, icmp + 4, sizeof(mtu_be));
  const uint32_t mtu6 = rte_be_to_cpu_32(mtu_be);
  const auto mtu4 = static_cast<uint16_t>(std::clamp<uint32_t>(mtu6 - std::min<uint32_t>(mtu6, 20), kMinIpv4Mtu, UINT16_MAX));
  const uint16_t quoted_payload_len = rte_be_to_cpu_16(quote->payload_len);
  const auto quoted_tos = static_cast<uint8_t>(rte_be_to_cpu_32(quote->vtc_flow) >> 20);
  const uint8_t quoted_ttl = quote->hop_limits;
  const uint32_t available = f.l4_len - kIcmpHeaderLen - sizeof(rte_ipv6_hdr);
  const uint32_t quoted_l4_len =
      std::min<uint32_t>(available, kMaxIcmpv4Len - sizeof(rte_ipv4_hdr) - kIcmpHeaderLen - sizeof(rte_ipv4_hdr));

  // The quoted segment back to what the backend sent: its ports, and its L4 checksum without the
  // reply's translation delta, when the quote holds it.
  const uint32_t backend_ports = uint32_t{e->backend_port_be} | (uint32_t{e->local_port_be} << 16);
  restoreQuotedL4(quoted_l4, quoted_l4_len, protocol, backend_ports, e->v6_reply_check_delta);

  // [Ethernet][IPv4][ICMPv4][quoted IPv4][quoted L4]: the quoted L4 bytes stay where they are and
  // the headers before them are rewritten, so the frame loses 40 bytes at its front.
  uint8_t* const quoted_ip = quoted_l4 - sizeof(rte_ipv4_hdr);
  uint8_t* const icmp4 = quoted_ip - kIcmpHeaderLen;
  auto* const ip = reinterpret_cast<rte_ipv4_hdr*>(icmp4 - sizeof(rte_ipv4_hdr));
  uint8_t* const start = reinterpret_cast<uint8_t*>(ip) - sizeof(rte_ether_hdr);
  moveFrameStart(m, start);  // shrinks: cannot fail
  const uint32_t icmp4_len = kIcmpHeaderLen + sizeof(rte_ipv4_hdr) + quoted_l4_len;
  rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - sizeof(rte_ether_hdr) - sizeof(rte_ipv4_hdr) - icmp4_len));

  auto* const q = reinterpret_cast<rte_ipv4_hdr*>(quoted_ip);
  *q = rte_ipv4_hdr{};
  q->version_ihl = RTE_IPV4_VHL_DEF;
  q->type_of_service = quoted_tos;
  q->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(quoted_payload_len + sizeof(rte_ipv4_hdr)));
  q->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
  q->time_to_live = quoted_ttl;
  q->next_proto_id = protocol;
  q->src_addr = e->backend_address_be;
  q->dst_addr = e->local_address_be;
  q->hdr_checksum = rte_ipv4_cksum(q);

  auto* const header = reinterpret_cast<rte_icmp_hdr*>(icmp4);
  header->icmp_type = type4;
  header->icmp_code = code4;
  header->icmp_ident = 0;  // unused
  header->icmp_seq_nb = type4 == kV4DestinationUnreachable && code4 == kV4FragmentationNeeded
                            ? rte_cpu_to_be_16(mtu4)  // next-hop MTU (RFC 1191)
                            : 0;
  header->icmp_cksum = 0;
  header->icmp_cksum = static_cast<uint16_t>(~rte_raw_cksum(icmp4, icmp4_len));

  *ip = rte_ipv4_hdr{};
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + icmp4_len));
  ip->time_to_live = kIcmpTtl;
  ip->next_proto_id = IPPROTO_ICMP;
  ip->src_addr = e->local_address_be;
  ip->dst_addr = e->backend_address_be;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  setFrameEtherType(start, RTE_BE16(RTE_ETHER_TYPE_IPV4));
  f.l2_len = sizeof(rte_ether_hdr);
  f.ip = ip;
  f.ip6 = nullptr;

  const LocalPort& egress = s.snap.ports[e->to_backend.egress_port];
  if (!writeL2(m, f.l2_len, egress.vlan, e->backend_mac, egress.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  s.ctx.counters->icmp_to_backend.inc();
  queueTx(s, m, e->to_backend.egress_port);
  return Verdict{VerdictKind::kForwarded, DropReason::kCount, e->to_backend.egress_port};
}

}  // namespace lb::dataplane
