#include "dataplane/ipv6_path.h"

#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <algorithm>
#include <cstring>

#include "dataplane/checksum.h"
#include "dataplane/ether_frame.h"
#include "dataplane/icmpv6_errors.h"
#include "dataplane/ipv6_direct.h"
#include "dataplane/syn_proxy.h"
#include "hashing/key_hash.h"

namespace lb::dataplane {
namespace {

// ICMPv6 types (RFC 4443, RFC 4861).
constexpr uint8_t kEchoRequest = 128;
constexpr uint8_t kEchoReply = 129;
constexpr uint8_t kNeighborSolicitation = 135;
constexpr uint8_t kNeighborAdvertisement = 136;
// Neighbour discovery messages are sent and accepted with hop limit 255 only (RFC 4861 section 7.1),
// so an off-link sender cannot forge them.
constexpr uint8_t kNdHopLimit = 255;
constexpr uint32_t kSolicitationLen = 24;  // type, code, checksum, reserved, target
// Our advertisement: the solicitation's 24 bytes plus one target link-layer address option.
constexpr uint32_t kAdvertisementLen = 32;
constexpr uint8_t kOptionTargetLinkLayer = 2;
constexpr uint8_t kFlagSolicited = 0x40;
constexpr uint8_t kFlagOverride = 0x20;
constexpr Ipv6Bytes kAllNodes = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr rte_ether_addr kAllNodesMac = {{0x33, 0x33, 0, 0, 0, 1}};

Ipv6Bytes addressAt(const uint8_t* p) {
  Ipv6Bytes a;
  std::memcpy(a.data(), p, a.size());
  return a;
}

hashing::FlowKeyV6 clientKeyOf(const ParsedFrame& f) {
  hashing::FlowKeyV6 key;
  key.src_addr = addressAt(f.ip6->src_addr);
  key.dst_addr = addressAt(f.ip6->dst_addr);
  key.src_port_be = f.key.src_port_be;
  key.dst_port_be = f.key.dst_port_be;
  key.protocol = f.key.protocol;
  return key;
}

bool isOurs(const Snapshot& snap, const LocalPort& port, const Ipv6Bytes& address) {
  return (port.has_address6 && sameAddress6(address, port.address6)) || snap.service_index.isVip6(address);
}

// One's-complement terms for removing an address from a pseudo-header sum and adding another, as
// 32-bit words (checksumDelta32's convention: ~word removes it, word adds it).
uint64_t removeAddress6(const Ipv6Bytes& a) {
  uint32_t words[4];
  std::memcpy(words, a.data(), sizeof(words));
  return uint64_t{~words[0]} + uint64_t{~words[1]} + uint64_t{~words[2]} + uint64_t{~words[3]};
}
uint64_t addAddress6(const Ipv6Bytes& a) {
  uint32_t words[4];
  std::memcpy(words, a.data(), sizeof(words));
  return uint64_t{words[0]} + words[1] + words[2] + words[3];
}

Verdict answerToSender(BurstState& s, rte_mbuf* m, ParsedFrame& f, const rte_ether_addr& dst) {
  const LocalPort& port = s.snap.ports[s.rx_port];
  if (!writeL2(m, f.l2_len, port.vlan, dst, port.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  queueTx(s, m, s.rx_port);
  return Verdict{VerdictKind::kAnswered, DropReason::kCount, s.rx_port};
}

// A neighbour solicitation for one of our addresses becomes, in place, the advertisement that
// answers it: solicited and override set, our MAC in a target link-layer address option, sent back
// to the soliciting node (or to all nodes when it is a duplicate address detection probe from ::).
Verdict answerSolicitation(BurstState& s, rte_mbuf* m, ParsedFrame& f) {
  auto* icmp = static_cast<uint8_t*>(f.l4);
  if (f.ip6->hop_limits != kNdHopLimit || icmp[1] != 0 || f.l4_len < kSolicitationLen) {
    return dropPacket(s, m, DropReason::kMalformed);
  }
  const Ipv6Bytes target = addressAt(icmp + 8);
  const LocalPort& port = s.snap.ports[s.rx_port];
  if (!isOurs(s.snap, port, target)) return dropPacket(s, m, DropReason::kNotForUs);

  const Ipv6Bytes requester = addressAt(f.ip6->src_addr);
  const bool duplicate_address_probe = requester == Ipv6Bytes{};
  const rte_ether_addr requester_mac = frameSourceMac(m);
  const uint32_t frame_len = f.l2_len + sizeof(rte_ipv6_hdr) + kAdvertisementLen;
  if (rte_pktmbuf_data_len(m) < frame_len) {
    if (rte_pktmbuf_append(m, static_cast<uint16_t>(frame_len - rte_pktmbuf_data_len(m))) == nullptr) {
      return dropPacket(s, m, DropReason::kNoHeadroom);
    }
  } else {
    rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_data_len(m) - frame_len));
  }
  icmp[0] = kNeighborAdvertisement;
  std::memset(icmp + 2, 0, 6);  // checksum, flags, reserved
  icmp[4] = duplicate_address_probe ? kFlagOverride : (kFlagSolicited | kFlagOverride);
  icmp[24] = kOptionTargetLinkLayer;
  icmp[25] = 1;  // option length in units of 8 bytes
  std::memcpy(icmp + 26, &port.mac, RTE_ETHER_ADDR_LEN);

  rte_ipv6_hdr* ip6 = f.ip6;
  ip6->vtc_flow = RTE_BE32(6u << 28);
  ip6->payload_len = RTE_BE16(kAdvertisementLen);
  ip6->hop_limits = kNdHopLimit;
  std::memcpy(ip6->src_addr, target.data(), target.size());
  const Ipv6Bytes& destination = duplicate_address_probe ? kAllNodes : requester;
  std::memcpy(ip6->dst_addr, destination.data(), destination.size());
  const uint16_t check = rte_ipv6_udptcp_cksum(ip6, icmp);
  std::memcpy(icmp + 2, &check, sizeof(check));
  s.ctx.counters->nd_replies.inc();
  return answerToSender(s, m, f, duplicate_address_probe ? kAllNodesMac : requester_mac);
}

// Echo request -> echo reply: addresses swapped (the pseudo-header sum does not change), type flipped.
Verdict answerEcho(BurstState& s, rte_mbuf* m, ParsedFrame& f) {
  auto* icmp = static_cast<uint8_t*>(f.l4);
  if (icmp[1] != 0) return dropPacket(s, m, DropReason::kMalformed);
  rte_ipv6_hdr* ip6 = f.ip6;
  uint8_t requester[16];
  std::memcpy(requester, ip6->src_addr, sizeof(requester));
  std::memcpy(ip6->src_addr, ip6->dst_addr, sizeof(requester));
  std::memcpy(ip6->dst_addr, requester, sizeof(requester));
  uint16_t old_word, new_word, check;
  std::memcpy(&old_word, icmp, sizeof(old_word));
  icmp[0] = kEchoReply;
  std::memcpy(&new_word, icmp, sizeof(new_word));
  std::memcpy(&check, icmp + 2, sizeof(check));
  check = checksumReplace16(check, old_word, new_word);
  std::memcpy(icmp + 2, &check, sizeof(check));
  s.ctx.counters->icmp_replies.inc();
  return answerToSender(s, m, f, frameSourceMac(m));
}

}  // namespace

void armNat64(FlowEntry& e) {
  const hashing::FlowKeyV6 key = clientKeyV6(e);
  e.to_backend.rewrite_addrs = uint64_t{e.local_address_be} | (uint64_t{e.backend_address_be} << 32);
  e.to_backend.rewrite_ports = uint32_t{e.local_port_be} | (uint32_t{e.backend_port_be} << 16);
  const uint32_t client_ports = uint32_t{key.src_port_be} | (uint32_t{key.dst_port_be} << 16);
  const uint32_t reply_ports = uint32_t{e.backend_port_be} | (uint32_t{e.local_port_be} << 16);
  const uint32_t answer_ports = uint32_t{key.dst_port_be} | (uint32_t{key.src_port_be} << 16);
  // The pseudo-headers' length and protocol words sum alike in both families (RFC 8200 section 8.1,
  // RFC 793): only addresses and ports change the L4 checksum.
  e.to_backend.l4_check_delta = checksumDeltaFold(removeAddress6(key.src_addr) + removeAddress6(key.dst_addr) +
                                       e.local_address_be + e.backend_address_be +
                                       checksumDelta32(client_ports, e.to_backend.rewrite_ports));
  // The IPv4 header's fixed 16-bit words as stored (writeNat64Ipv4Header): version/IHL, DF,
  // protocol (TTL's word), the two addresses.
  const uint8_t fixed[4] = {RTE_IPV4_VHL_DEF, 0, 0, key.protocol};
  uint32_t fixed_words;
  std::memcpy(&fixed_words, fixed, sizeof(fixed_words));
  e.to_backend.ip_check_delta = checksumDeltaFold(uint64_t{fixed_words & 0xffff} + (fixed_words >> 16) +
                                                  RTE_BE16(RTE_IPV4_HDR_DF_FLAG) + e.local_address_be +
                                                  e.backend_address_be);
  e.v6_reply_check_delta = checksumDeltaFold(
      uint64_t{~e.backend_address_be} + uint64_t{~e.local_address_be} + addAddress6(key.dst_addr) +
      addAddress6(key.src_addr) + checksumDelta32(reply_ports, answer_ports));
}

void translateToIpv4(rte_mbuf* m, ParsedFrame& f, const FlowEntry& e, uint16_t egress_mtu, uint64_t extra_l4_delta) {
  const rte_ipv6_hdr* ip6 = f.ip6;
  const auto tos = static_cast<uint8_t>(rte_be_to_cpu_32(ip6->vtc_flow) >> 20);
  const uint8_t ttl = ip6->hop_limits;
  const uint8_t protocol = ip6->proto;
  const uint16_t l4_len = f.l4_len;
  auto* l4 = static_cast<uint8_t*>(f.l4);
  std::memcpy(l4, &e.to_backend.rewrite_ports, sizeof(e.to_backend.rewrite_ports));
  if (protocol == IPPROTO_TCP) {
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(l4);
    tcp->cksum = extra_l4_delta == 0 ? checksumApplyFolded(tcp->cksum, e.to_backend.l4_check_delta)
                                     : checksumApply(tcp->cksum, e.to_backend.l4_check_delta + extra_l4_delta);
  } else {
    auto* udp = reinterpret_cast<rte_udp_hdr*>(l4);
    const uint16_t updated = checksumApplyFolded(udp->dgram_cksum, e.to_backend.l4_check_delta);
    udp->dgram_cksum = updated == 0 ? 0xffff : updated;
  }
  uint8_t* const start = l4 - sizeof(rte_ipv4_hdr) - sizeof(rte_ether_hdr);
  moveFrameStart(m, start);  // shrinks: cannot fail
  setFrameEtherType(start, RTE_BE16(RTE_ETHER_TYPE_IPV4));
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(start + sizeof(rte_ether_hdr));
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->type_of_service = tos;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(l4_len + sizeof(rte_ipv4_hdr)));
  ip->packet_id = 0;  // with DF: an atomic datagram (RFC 6864); without, Ipv4Fragments::split numbers it
  ip->fragment_offset = l4_len + sizeof(rte_ipv4_hdr) <= egress_mtu ? RTE_BE16(RTE_IPV4_HDR_DF_FLAG) : 0;
  ip->time_to_live = ttl;
  ip->next_proto_id = protocol;
  std::memcpy(&ip->src_addr, &e.to_backend.rewrite_addrs, sizeof(e.to_backend.rewrite_addrs));
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  f.l2_len = sizeof(rte_ether_hdr);
  f.l3_len = sizeof(rte_ipv4_hdr);
  f.kind = FrameKind::kIpv4;
  f.ip = ip;
  f.ip6 = nullptr;
}

std::optional<Verdict> refuseIfTooBigOnceTranslated(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint16_t egress_mtu) {
  if (f.l4_len + sizeof(rte_ipv4_hdr) <= egress_mtu || f.l4_len + sizeof(rte_ipv6_hdr) <= kMinIpv6Mtu) [[likely]] {
    return std::nullopt;
  }
  return refuseTooBigV6(s, m, f, std::max<uint32_t>(egress_mtu + sizeof(rte_ipv6_hdr) - sizeof(rte_ipv4_hdr), kMinIpv6Mtu));
}

namespace {

// A new IPv6 client flow: backend chosen as for IPv4 (the service's key over the IPv6 key). In
// full-NAT a local IPv4 endpoint is taken, the reply index added, and both directions' per-flow
// checksum deltas folded; DSR and IPIP flows need none of that (their replies bypass Tether).
FlowEntry* createFlow(BurstState& s, const Service& svc, const ParsedFrame& f, const hashing::FlowKeyV6& key,
                      uint64_t flow_hash, DropReason& why) {
  const uint64_t key_hash = svc.key == BalanceKey::kSourceAddress ? hashing::hashAddressV6(key.src_addr, svc.hash_seed)
                                                                  : hashing::hashFlow(key, svc.hash_seed);
  const BackendTarget* const chosen = selectBackend(svc, key_hash, why);
  if (chosen == nullptr) return nullptr;
  const BackendTarget& backend = *chosen;
  FlowEntry* e = s.ctx.flows.insertV6(key, flow_hash);
  if (e == nullptr) {
    why = DropReason::kFlowTableFull;
    return nullptr;
  }
  const bool full_nat = svc.forwarding == ForwardingMode::kFullNat;
  if (full_nat && !s.ctx.acquireLocalEndpoint(*e, s.snap, backend.egress_port)) {
    s.ctx.flows.erase(e);
    why = DropReason::kNoLocalPort;
    return nullptr;
  }
  setBackend(*e, backend);
  e->to_client.egress_port = s.rx_port;
  e->forwarding = svc.forwarding;
  e->state = initialFlowState(f);
  if (full_nat) {
    addReplyIndex(s.ctx.flows, e, e->local_address_be, key.protocol);
    armNat64(*e);
  }
  s.ctx.counters->flows_created.inc();
  s.ctx.counters->backends[backend.counter_slot].new_flows.inc();
  return e;
}

// Arms a plain IPv6 client flow's client line under the current snapshot (kNat64Client): its next
// packets take the established path (forwardIpv6IfArmed). The addresses, ports and both checksum
// sums are the flow's since armNat64; the next hop is the snapshot's.
void armNat64Client(BurstState& s, FlowEntry& e, const LocalPort& egress) {
  FlowDirection& d = e.to_backend;
  setLineToBackend(e, d, egress);
  d.armed_rewrite = ArmedRewrite::kNat64Client;
  d.armed_epoch = s.ctx.flows.snapshotEpoch(s.snap);
}

Verdict forwardToBackend(BurstState& s, rte_mbuf* m, ParsedFrame& f, const Service& svc) {
  if (f.key.protocol == IPPROTO_UDP && static_cast<const rte_udp_hdr*>(f.l4)->dgram_cksum == 0) {
    return dropPacket(s, m, DropReason::kMalformed);  // a zero UDP checksum is not allowed over IPv6
  }
  const hashing::FlowKeyV6 key = clientKeyOf(f);
  const uint64_t flow_hash = s.ctx.flows.hashKeyV6(key);
  FlowEntry* e = s.ctx.flows.findByClientV6(key, flow_hash);
  if (e != nullptr && e->state == FlowState::kTcpClosing &&
      (f.tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == RTE_TCP_SYN_FLAG) [[unlikely]] {
    releaseFlow(s, e, /*reset=*/false);  // a new connection on a finished one's 5-tuple
    e = nullptr;
  }
  if (e != nullptr && s.snap.reset_flows_of_slot[e->backend_counter_slot]) [[unlikely]] {
    // The flow is balanced afresh; a TCP client's next segment reaches a backend that does not know
    // the connection and resets it.
    releaseFlow(s, e, /*reset=*/true);
    e = nullptr;
  }
  if (e == nullptr) {
    if (shouldWalkToFlowOwner(s, f)) return walkOn(s, m);
    DropReason why = DropReason::kCount;
    e = createFlow(s, svc, f, key, flow_hash, why);
    if (e == nullptr) return dropPacket(s, m, why);
  }
  e->to_backend.last_seen_tsc = s.now_tsc;
  if (f.key.protocol == IPPROTO_TCP) updateTcpState(*e, f.tcp_flags, true);
  if (e->forwarding != ForwardingMode::kFullNat) return forwardIpv6Direct(s, m, f, *e);
  // The armed reply line holds the client's MAC (a client that moved re-arms it on the slow path),
  // and a FIN or RST sends the replies, too, back to the slow path.
  const rte_ether_addr sender = frameSourceMac(m);
  if (!rte_is_same_ether_addr(&sender, &e->client_mac)) e->to_client.armed_epoch = 0;
  e->client_mac = sender;
  if (e->state != FlowState::kTcpEstablished && e->state != FlowState::kUdp) e->disarm();
  const LocalPort& egress = s.snap.ports[e->to_backend.egress_port];
  if (std::optional<Verdict> refused = refuseIfTooBigOnceTranslated(s, m, f, egress.mtu)) return *refused;
  translateToIpv4(m, f, *e, egress.mtu);
  countTraffic(s.ctx.counters->backends[e->backend_counter_slot].to_backend, m);
  if (!writeL2(m, f.l2_len, egress.vlan, e->backend_mac, egress.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  if (armable(*e, egress)) armNat64Client(s, *e, egress);
  return queueFitted(s, m, e->to_backend.egress_port, f.l2_len, VerdictKind::kForwarded);
}

// A client segment to an HTTP service, as forwardHttp for IPv4: spliced flows are translated (splice,
// then NAT64) and forwarded; SYNs, cookie ACKs and segments of a connection being bound go to the SYN
// proxy with the IPv6 key its cookies and flows are made from.
Verdict forwardHttpV6(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint32_t service) {
  const hashing::FlowKeyV6 key = clientKeyOf(f);
  const uint64_t flow_hash = s.ctx.flows.hashKeyV6(key);
  FlowEntry* e = s.ctx.flows.findByClientV6(key, flow_hash);
  if (std::optional<Verdict> spliced = forwardIfSpliced(s, m, f, e)) return *spliced;
  // Created before the service became an HTTP one (reload): it keeps plain forwarding.
  if (e != nullptr && e->proxy_phase == ProxyPhase::kNone) return forwardToBackend(s, m, f, s.snap.services[service]);
  return s.ctx.proxy->onClientSegment(s, m, f, flow_hash, service, e, &key);
}

}  // namespace

Verdict processIpv6(BurstState& s, rte_mbuf* m, ParsedFrame& f) {
  const LocalPort& port = s.snap.ports[s.rx_port];
  if (!port.has_address6) return dropPacket(s, m, DropReason::kNotForUs);
  const Ipv6Bytes destination = addressAt(f.ip6->dst_addr);
  if (f.key.protocol == IPPROTO_ICMPV6) {
    const uint8_t type = *static_cast<const uint8_t*>(f.l4);
    // Solicitations go to the target's solicited-node multicast address: the target decides.
    if (type == kNeighborSolicitation) return answerSolicitation(s, m, f);
    if (!isOurs(s.snap, port, destination)) return dropPacket(s, m, DropReason::kNotForUs);
    if (type == kEchoRequest) return answerEcho(s, m, f);
    if (type < kEchoRequest && s.snap.service_index.isVip6(destination)) {  // an error (RFC 4443 section 2.1)
      if (std::optional<Verdict> forwarded = forwardIcmpv6ToBackend(s, m, f)) return *forwarded;
    }
    return dropPacket(s, m, DropReason::kUnsupported);
  }
  const uint32_t service = s.snap.service_index.findV6(destination, f.key.dst_port_be, f.key.protocol);
  if (service == ServiceIndex::kEmpty) {
    return dropPacket(s, m, s.snap.service_index.isVip6(destination) ? DropReason::kUnknownVip : DropReason::kNotForUs);
  }
  const Service& svc = s.snap.services[service];
  // HTTP services need this lcore's SYN proxy, which splices full-NAT flows only; without one they are
  // forwarded as plain flows.
  if (svc.http.enabled && s.ctx.proxy != nullptr && f.key.protocol == IPPROTO_TCP &&
      svc.forwarding == ForwardingMode::kFullNat) {
    return forwardHttpV6(s, m, f, service);
  }
  return forwardToBackend(s, m, f, svc);
}

Verdict returnToIpv6Client(BurstState& s, rte_mbuf* m, ParsedFrame& f, FlowEntry& e, uint64_t extra_l4_delta) {
  const rte_ipv4_hdr* ip = f.ip;
  const uint16_t l4_len = static_cast<uint16_t>(rte_be_to_cpu_16(ip->total_length) - f.l3_len);
  const LocalPort& out = s.snap.ports[e.to_client.egress_port];
  // returnToClient refused what was over as the backend sent it; only a splice's inserted TCP option
  // can still make it over here, and IPv6 is not fragmented on the client's behalf.
  if (sizeof(rte_ipv6_hdr) + l4_len > out.mtu) return dropPacket(s, m, DropReason::kTooBig);
  const uint8_t tos = ip->type_of_service;
  const uint8_t hop_limit = ip->time_to_live;
  const uint8_t protocol = ip->next_proto_id;
  auto* l4 = static_cast<uint8_t*>(f.l4);
  const uint32_t answer_ports = uint32_t{e.to_backend.key.dst_port_be} | (uint32_t{e.to_backend.key.src_port_be} << 16);
  std::memcpy(l4, &answer_ports, sizeof(answer_ports));
  // IPv4 allows a UDP datagram without a checksum; IPv6 does not (RFC 8200 section 8.1): compute it.
  bool compute_udp_checksum = false;
  if (protocol == IPPROTO_TCP) {
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(l4);
    tcp->cksum = extra_l4_delta == 0 ? checksumApplyFolded(tcp->cksum, e.v6_reply_check_delta)
                                     : checksumApply(tcp->cksum, e.v6_reply_check_delta + extra_l4_delta);
  } else {
    auto* udp = reinterpret_cast<rte_udp_hdr*>(l4);
    if (udp->dgram_cksum == 0) {
      compute_udp_checksum = true;
    } else {
      const uint16_t updated = checksumApplyFolded(udp->dgram_cksum, e.v6_reply_check_delta);
      udp->dgram_cksum = updated == 0 ? 0xffff : updated;
    }
  }
  uint8_t* const start = l4 - sizeof(rte_ipv6_hdr) - sizeof(rte_ether_hdr);
  if (!moveFrameStart(m, start)) return dropPacket(s, m, DropReason::kNoHeadroom);
  setFrameEtherType(start, RTE_BE16(RTE_ETHER_TYPE_IPV6));
  auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(start + sizeof(rte_ether_hdr));
  writeIpv6Header(ip6, tos, l4_len, protocol, hop_limit, e.vip6, e.client_addr6);
  if (compute_udp_checksum) reinterpret_cast<rte_udp_hdr*>(l4)->dgram_cksum = rte_ipv6_udptcp_cksum(ip6, l4);
  f.kind = FrameKind::kIpv6;
  f.ip = nullptr;
  f.ip6 = ip6;
  f.l2_len = sizeof(rte_ether_hdr);
  f.l3_len = sizeof(rte_ipv6_hdr);
  f.l4_len = l4_len;
  if (!writeL2(m, f.l2_len, out.vlan, e.client_mac, out.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  queueTx(s, m, e.to_client.egress_port);
  return Verdict{VerdictKind::kForwarded, DropReason::kCount, e.to_client.egress_port};
}

}  // namespace lb::dataplane
