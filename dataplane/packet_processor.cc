#include "dataplane/packet_processor.h"

#include <rte_arp.h>
#include <rte_icmp.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <span>
#include <variant>

#include "dataplane/checksum.h"
#include "dataplane/established_path.h"
#include "dataplane/ether_frame.h"
#include "dataplane/icmp_errors.h"
#include "dataplane/ipv6_path.h"
#include "dataplane/packet_parser.h"
#include "dataplane/packet_path.h"
#include "dataplane/syn_proxy.h"
#include "dataplane/tcp_splice.h"

namespace lb::dataplane {

// Slow path of writeL2, adding or removing the 802.1Q tag as that port needs.
// `l2_len` is updated; returns false when there is no headroom for a tag.
bool writeL2Retag(rte_mbuf* m, uint16_t& l2_len, uint16_t egress_vlan, const rte_ether_addr& dst,
                  const rte_ether_addr& src) {
  const bool tagged = l2_len > sizeof(rte_ether_hdr);
  if (egress_vlan != 0 && !tagged) {
    if (rte_pktmbuf_prepend(m, sizeof(rte_vlan_hdr)) == nullptr) return false;
    uint8_t* data = rte_pktmbuf_mtod(m, uint8_t*);
    std::memmove(data, data + sizeof(rte_vlan_hdr), 2 * RTE_ETHER_ADDR_LEN);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
    // The original ethertype already sits where the tag's proto field is (bytes 16-17).
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_VLAN);
    l2_len += sizeof(rte_vlan_hdr);
  } else if (egress_vlan == 0 && tagged) {
    uint8_t* data = rte_pktmbuf_mtod(m, uint8_t*);
    std::memmove(data + sizeof(rte_vlan_hdr), data, 2 * RTE_ETHER_ADDR_LEN);
    rte_pktmbuf_adj(m, sizeof(rte_vlan_hdr));
    l2_len -= sizeof(rte_vlan_hdr);
  }
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  eth->dst_addr = dst;
  eth->src_addr = src;
  if (egress_vlan != 0) {
    auto* vlan = reinterpret_cast<rte_vlan_hdr*>(eth + 1);
    vlan->vlan_tci = rte_cpu_to_be_16(egress_vlan);
  }
  return true;
}

Verdict queueFitted(BurstState& s, rte_mbuf* m, uint16_t port, uint16_t l2_len, VerdictKind kind) {
  const uint16_t mtu = s.snap.ports[port].mtu;
  if (rte_pktmbuf_pkt_len(m) - l2_len <= mtu) [[likely]] {
    // A reassembled datagram that fits leaves as one segment, which every PMD can send (a failed
    // linearize, past the data room of a jumbo MTU, leaves the chain for a PMD that takes chains).
    if (m->nb_segs != 1) [[unlikely]] rte_pktmbuf_linearize(m);
    queueTx(s, m, port);
    return Verdict{kind, DropReason::kCount, port};
  }
  if (s.ctx.fragments == nullptr) return dropPacket(s, m, DropReason::kTooBig);
  std::array<rte_mbuf*, Ipv4Fragments::kMaxSplit> fragments;
  const uint16_t made = s.ctx.fragments->split(m, l2_len, mtu, fragments);
  if (made == 0) {  // split() freed the packet
    s.ctx.counters->drops[static_cast<size_t>(DropReason::kTooBig)].inc();
    return Verdict{VerdictKind::kDropped, DropReason::kTooBig, 0};
  }
  for (uint16_t i = 0; i < made; ++i) queueTx(s, fragments[i], port);
  s.ctx.counters->fragments_out.add(made);
  return Verdict{kind, DropReason::kCount, port};
}

namespace {

bool isLocalAddress(const Snapshot& snap, uint32_t address_be) {
  for (uint16_t p = 0; p < snap.port_count; ++p) {
    if (snap.ports[p].isOwnAddress(address_be)) return true;
  }
  return false;
}

bool hasExceptionPath(const BurstState& s) {
  return s.snap.exception_port != kNoPort && s.rx_port == s.snap.exception_uplink;
}

// Hands a frame for Tether's own address to the kernel through the exception port.
Verdict toKernel(BurstState& s, rte_mbuf* m) {
  s.ctx.counters->exception_out.inc();
  queueTx(s, m, s.snap.exception_port);
  return Verdict{VerdictKind::kForwarded, DropReason::kCount, s.snap.exception_port};
}

// Answers ARP requests for VIPs and local addresses in place; hands ARP replies addressed to the
// port to the control plane's resolver. Other ARP traffic is not ours.
Verdict handleArp(BurstState& s, rte_mbuf* m, ParsedFrame& f) {
  rte_arp_hdr* arp = f.arp;
  const LocalPort& port = s.snap.ports[s.rx_port];
  const uint32_t target = arp->arp_data.arp_tip;
  const bool ours = port.isOwnAddress(target) || s.snap.service_index.isVip(target);
  if (arp->arp_opcode == RTE_BE16(RTE_ARP_OP_REQUEST) && ours) {
    const rte_ether_addr requester = arp->arp_data.arp_sha;
    const uint32_t requester_ip = arp->arp_data.arp_sip;
    arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
    arp->arp_data.arp_tha = requester;
    arp->arp_data.arp_tip = requester_ip;
    arp->arp_data.arp_sha = port.mac;
    arp->arp_data.arp_sip = target;
    if (!writeL2(m, f.l2_len, port.vlan, requester, port.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
    s.ctx.counters->arp_replies.inc();
    queueTx(s, m, s.rx_port);
    return Verdict{VerdictKind::kAnswered, DropReason::kCount, s.rx_port};
  }
  if (arp->arp_opcode == RTE_BE16(RTE_ARP_OP_REPLY) && target == port.address_be) {
    // The kernel behind the exception path resolves its own next hops (health checks) too.
    if (hasExceptionPath(s)) {
      if (rte_mbuf* copy = rte_pktmbuf_copy(m, m->pool, 0, UINT32_MAX); copy != nullptr) toKernel(s, copy);
    }
    m->port = s.rx_port;
    if (s.ctx.to_control == nullptr || rte_ring_enqueue(s.ctx.to_control, m) != 0) {
      return dropPacket(s, m, DropReason::kControlFull);
    }
    return Verdict{VerdictKind::kToControl, DropReason::kCount, 0};
  }
  return dropPacket(s, m, DropReason::kNotForUs);
}

Verdict handleIcmp(BurstState& s, rte_mbuf* m, ParsedFrame& f) {
  auto* icmp = static_cast<rte_icmp_hdr*>(f.l4);
  if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0) {
    // Errors quote 28 bytes and are never fragmented by honest senders; their readers expect one segment.
    if (m->nb_segs != 1) return dropPacket(s, m, DropReason::kUnsupported);
    if (isLocalAddress(s.snap, f.key.dst_addr_be)) {
      if (std::optional<Verdict> relayed = relayIcmpError(s, m, f)) return *relayed;
    } else if (std::optional<Verdict> forwarded = forwardIcmpToBackend(s, m, f)) {  // to a VIP
      return *forwarded;
    }
    // Errors about the kernel's own connections (e.g. port unreachable for a health check).
    if (hasExceptionPath(s) && isLocalAddress(s.snap, f.key.dst_addr_be)) return toKernel(s, m);
    return dropPacket(s, m, DropReason::kUnsupported);
  }
  // Echo reply: swap addresses (the IP checksum is unchanged by a swap), flip the type.
  const uint32_t requester = f.ip->src_addr;
  f.ip->src_addr = f.ip->dst_addr;
  f.ip->dst_addr = requester;
  const uint16_t old_word = *reinterpret_cast<uint16_t*>(icmp);
  icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
  const uint16_t new_word = *reinterpret_cast<uint16_t*>(icmp);
  icmp->icmp_cksum = checksumReplace16(icmp->icmp_cksum, old_word, new_word);
  const auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  const rte_ether_addr sender = eth->src_addr;
  const LocalPort& port = s.snap.ports[s.rx_port];
  if (!writeL2(m, f.l2_len, port.vlan, sender, port.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  s.ctx.counters->icmp_replies.inc();
  return queueFitted(s, m, s.rx_port, f.l2_len, VerdictKind::kAnswered);  // a reassembled ping's reply
}

}  // namespace

void updateTcpState(FlowEntry& e, uint8_t flags, bool from_client) {
  if (flags & (RTE_TCP_RST_FLAG | RTE_TCP_FIN_FLAG)) {
    e.state = FlowState::kTcpClosing;
  } else if (from_client && e.state == FlowState::kTcpSynSeen && (flags & RTE_TCP_ACK_FLAG) &&
             !(flags & RTE_TCP_SYN_FLAG)) {
    e.state = FlowState::kTcpEstablished;
  }
}

// Full-NAT rewrites both endpoints of a packet: new source and destination address and port. The IP
// checksum covers the addresses; the TCP/UDP checksum covers them (pseudo-header) and the ports.
// One accumulated delta per checksum, folded once.
void rewriteEndpoints(const ParsedFrame& f, uint32_t src_addr, uint16_t src_port, uint32_t dst_addr,
                      uint16_t dst_port, uint64_t extra_ip_delta, uint64_t extra_l4_delta) {
  rte_ipv4_hdr* ip = f.ip;
  const uint64_t addr_delta = checksumDelta32(ip->src_addr, src_addr) + checksumDelta32(ip->dst_addr, dst_addr);
  ip->src_addr = src_addr;
  ip->dst_addr = dst_addr;
  ip->hdr_checksum = checksumApply(ip->hdr_checksum, addr_delta + extra_ip_delta);
  // TCP and UDP both start with source and destination port: one 32-bit word.
  uint32_t old_ports;
  std::memcpy(&old_ports, f.l4, sizeof(old_ports));
  uint16_t new_port_pair[2] = {src_port, dst_port};
  uint32_t new_ports;
  std::memcpy(&new_ports, new_port_pair, sizeof(new_ports));
  std::memcpy(f.l4, &new_ports, sizeof(new_ports));
  const uint64_t l4_delta = addr_delta + checksumDelta32(old_ports, new_ports) + extra_l4_delta;
  if (f.key.protocol == IPPROTO_TCP) {
    auto* tcp = static_cast<rte_tcp_hdr*>(f.l4);
    tcp->cksum = checksumApply(tcp->cksum, l4_delta);
  } else {
    auto* udp = static_cast<rte_udp_hdr*>(f.l4);
    if (udp->dgram_cksum != 0) {  // zero = no checksum (RFC 768); a computed zero is sent as 0xffff
      const uint16_t updated = checksumApply(udp->dgram_cksum, l4_delta);
      udp->dgram_cksum = updated == 0 ? 0xffff : updated;
    }
  }
}

// Encapsulates the IPv4 packet in an outer IPv4 header (RFC 2003) from the egress port's address to
// the backend (writeIpipOuter); a tagged frame's L2 header moves to the front.
bool encapsulateIpip(rte_mbuf* m, ParsedFrame& f, const FlowEntry& e) {
  const uint16_t inner_len = rte_be_to_cpu_16(f.ip->total_length);
  const uint16_t inner_df = f.ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
  uint8_t* const outer = prependOuterIpv4(m, f.l2_len);
  if (outer == nullptr) return false;
  writeIpipOuter(outer, inner_len, inner_df, e.to_backend, IPPROTO_IPIP);
  f.ip = reinterpret_cast<rte_ipv4_hdr*>(outer);
  return true;
}

uint8_t* prependOuterIpv4(rte_mbuf* m, uint16_t l2_len) {
  auto* const data = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, sizeof(rte_ipv4_hdr)));
  if (data == nullptr) return nullptr;
  if (l2_len == sizeof(rte_ether_hdr)) {
    // writeL2 rewrites both MACs next: of the untagged header only the ethertype must move.
    setFrameEtherType(data, RTE_BE16(RTE_ETHER_TYPE_IPV4));
  } else {
    std::memmove(data, data + sizeof(rte_ipv4_hdr), l2_len);
    // The tag's inner ethertype, the last two bytes of the L2 header.
    const uint16_t ipv4 = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    std::memcpy(data + l2_len - sizeof(ipv4), &ipv4, sizeof(ipv4));
  }
  return data + l2_len;
}

namespace {

template <class Table>
hashing::BackendIndex selectIn(const Table& table, uint64_t key_hash) {
  return table.lookup(key_hash);
}

}  // namespace

const BackendTarget* selectBackend(const Service& svc, uint64_t key_hash, DropReason& why) {
  // One variant dispatch per new flow; established flows never reach the selection table.
  const hashing::BackendIndex chosen =
      std::visit([&](const auto& table) { return selectIn(table, key_hash); }, svc.selector);
  if (chosen == hashing::kNoBackend) {
    why = DropReason::kNoBackend;
    return nullptr;
  }
  const BackendTarget& backend = svc.backends[chosen];
  if (!backend.next_hop_resolved) {
    why = DropReason::kNoNeighbor;
    return nullptr;
  }
  return &backend;
}

namespace {

FlowEntry* createFlow(BurstState& s, const Service& svc, const ParsedFrame& f, uint64_t flow_hash,
                      DropReason& why) {
  const uint64_t key_hash = svc.key == BalanceKey::kSourceAddress
                                ? hashing::hashAddressV4(f.key.src_addr_be, svc.hash_seed)
                                : hashing::hashFlow(f.key, svc.hash_seed);
  const BackendTarget* const chosen = selectBackend(svc, key_hash, why);
  if (chosen == nullptr) return nullptr;
  const BackendTarget& backend = *chosen;
  FlowEntry* e = s.ctx.flows.insert(f.key, flow_hash);
  if (e == nullptr) {
    why = DropReason::kFlowTableFull;
    return nullptr;
  }
  if (svc.forwarding == ForwardingMode::kFullNat && !s.ctx.acquireLocalEndpoint(*e, s.snap, backend.egress_port)) {
    s.ctx.flows.erase(e);
    why = DropReason::kNoLocalPort;
    return nullptr;
  }
  setBackend(*e, backend);
  e->to_client.egress_port = s.rx_port;
  e->forwarding = svc.forwarding;
  e->state = initialFlowState(f);
  if (e->local_port_be != 0) addReplyIndex(s.ctx.flows, e, e->local_address_be, f.key.protocol);
  s.ctx.counters->flows_created.inc();
  s.ctx.counters->backends[backend.counter_slot].new_flows.inc();
  return e;
}

}  // namespace

void releaseFlow(BurstState& s, FlowEntry* e, bool reset) {
  s.ctx.releaseLocalEndpoint(*e);
  s.ctx.flows.erase(e);
  if (reset) s.ctx.counters->flows_reset.inc();
}

Verdict resetClient(BurstState& s, rte_mbuf* m, ParsedFrame& f) {
  turnIntoReset(m, f);
  const rte_ether_addr sender = frameSourceMac(m);
  const LocalPort& port = s.snap.ports[s.rx_port];
  if (!writeL2(m, f.l2_len, port.vlan, sender, port.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  queueTx(s, m, s.rx_port);
  return Verdict{VerdictKind::kAnswered, DropReason::kCount, s.rx_port};
}

namespace {

// A full-NAT rewrite from the key a direction's packets carry to (addrs, ports), as FlowDirection
// holds it: the new words and the folded checksum deltas.
void precomputeFullNat(FlowDirection& d, const hashing::FlowKeyV4& from, uint32_t new_src, uint32_t new_dst,
                       uint32_t new_ports) {
  const uint64_t addr_delta = checksumDelta32(from.src_addr_be, new_src) + checksumDelta32(from.dst_addr_be, new_dst);
  const uint32_t old_ports = uint32_t{from.src_port_be} | (uint32_t{from.dst_port_be} << 16);
  d.rewrite_addrs = uint64_t{new_src} | (uint64_t{new_dst} << 32);
  d.rewrite_ports = new_ports;
  d.ip_check_delta = checksumDeltaFold(addr_delta);
  d.l4_check_delta = checksumDeltaFold(addr_delta + checksumDelta32(old_ports, new_ports));
  d.armed_rewrite = from.protocol == IPPROTO_UDP ? ArmedRewrite::kFullNatUdp : ArmedRewrite::kFullNatTcp;
}

// Precomputes what every client packet of the flow needs (its to_backend line) under the current
// snapshot. The slow path calls it for every packet it forwards on a plain flow and then decides
// whether the established path may take the flow's next packets (forwardOnFlow).
void armFlow(BurstState& s, FlowEntry& e, const ParsedFrame& f) {
  FlowDirection& d = e.to_backend;
  const LocalPort& egress = s.snap.ports[d.egress_port];
  // Full-NAT's source is the flow's local address; IPIP's outer source is the port's own.
  const uint32_t source = e.forwarding == ForwardingMode::kFullNat ? e.local_address_be : egress.address_be;
  d.rewrite_addrs = uint64_t{source} | (uint64_t{e.backend_address_be} << 32);
  setLineToBackend(e, d, egress);
  switch (e.forwarding) {
    case ForwardingMode::kFullNat:
      precomputeFullNat(d, f.key, source, e.backend_address_be,
                        uint32_t{e.local_port_be} | (uint32_t{e.backend_port_be} << 16));
      break;
    case ForwardingMode::kDsrL2:
      d.armed_rewrite = ArmedRewrite::kDsrL2;
      break;
    case ForwardingMode::kDsrIpip: {
      d.ip_check_delta = ipipOuterFixedSum(d.rewrite_addrs, IPPROTO_IPIP);
      d.ipip_max_inner_len = egress.mtu - sizeof(rte_ipv4_hdr);
      d.armed_rewrite = ArmedRewrite::kIpip;
      break;
    }
  }
}

// The same for a plain full-NAT flow's replies (its to_client line): backend -> local address
// becomes VIP -> client, toward the client's MAC out of the port the client came in on. An IPv6
// client's (NAT64) reply keeps the ports and checksum delta armNat64 folded; the addresses are the
// entry's (kNat64Reply).
void armReply(BurstState& s, FlowEntry& e, const ParsedFrame& f) {
  FlowDirection& d = e.to_client;
  const hashing::FlowKeyV4& client = e.to_backend.key;
  const uint32_t answer_ports = uint32_t{client.dst_port_be} | (uint32_t{client.src_port_be} << 16);
  if (e.client_v6) {
    d.rewrite_ports = answer_ports;
    d.l4_check_delta = e.v6_reply_check_delta;
    d.armed_rewrite = ArmedRewrite::kNat64Reply;
  } else {
    precomputeFullNat(d, f.key, client.dst_addr_be, client.src_addr_be, answer_ports);
  }
  setLineNextHop(d, e.client_mac, s.snap.ports[d.egress_port], fromBackendTrafficOffset(e.backend_counter_slot));
}

// Whether an IPv4 packet bound for a link of `usable_mtu` must be refused (refuseTooBig) rather than
// queued: it is over, and DF asks for "fragmentation needed" (RFC 1191), or this lcore has no
// fragment table to split it with. Otherwise queueFitted sends it, in fragments when it is over.
bool mustRefuseTooBig(const BurstState& s, const ParsedFrame& f, uint32_t usable_mtu) {
  return rte_be_to_cpu_16(f.ip->total_length) > usable_mtu &&
         ((f.ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)) != 0 || s.ctx.fragments == nullptr);
}

// Everything after the flow is known, on the slow path: state, counters, rewrite by mode, L2, queue.
// Ends by arming the flow for the established path (see established_path.h) when its next packets
// may skip all of this (armable).
Verdict forwardOnFlow(BurstState& s, rte_mbuf* m, ParsedFrame& f, FlowEntry& e) {
  // Too large for the egress port (IPIP: once encapsulated). A router would answer, and a backend
  // link with a smaller MTU than the client's must not swallow DF packets.
  const uint32_t usable_mtu = s.snap.ports[e.to_backend.egress_port].mtu -
                              (e.forwarding == ForwardingMode::kDsrIpip ? sizeof(rte_ipv4_hdr) : 0);
  if (mustRefuseTooBig(s, f, usable_mtu)) [[unlikely]] return refuseTooBig(s, m, f, static_cast<uint16_t>(usable_mtu));
  e.to_backend.last_seen_tsc = s.now_tsc;
  if (f.key.protocol == IPPROTO_TCP) updateTcpState(e, f.tcp_flags, true);

  countTraffic(s.ctx.counters->backends[e.backend_counter_slot].to_backend, m);

  const LocalPort& egress = s.snap.ports[e.to_backend.egress_port];
  switch (e.forwarding) {
    case ForwardingMode::kFullNat: {
      // Only full-NAT replies come back through us, to this MAC; DSR backends answer directly. An
      // armed reply line holds the MAC too: a client that moved re-arms it on the slow path.
      const rte_ether_addr sender = frameSourceMac(m);
      if (!rte_is_same_ether_addr(&sender, &e.client_mac)) e.to_client.armed_epoch = 0;
      e.client_mac = sender;
      rewriteFullNat(reinterpret_cast<uint8_t*>(f.ip), static_cast<uint8_t*>(f.l4), e.to_backend,
                     f.key.protocol == IPPROTO_UDP);
      break;
    }
    case ForwardingMode::kDsrL2:
      break;
    case ForwardingMode::kDsrIpip:
      if (!encapsulateIpip(m, f, e)) return dropPacket(s, m, DropReason::kNoHeadroom);
      break;
  }
  if (!writeL2(m, f.l2_len, egress.vlan, e.backend_mac, egress.mac)) {
    return dropPacket(s, m, DropReason::kNoHeadroom);
  }
  if (armable(e, egress)) {
    e.to_backend.armed_epoch = s.ctx.flows.snapshotEpoch(s.snap);
  } else {
    e.disarm();  // a FIN or RST: the replies, too, take the slow path from now on
  }
  return queueFitted(s, m, e.to_backend.egress_port, f.l2_len, VerdictKind::kForwarded);
}

Verdict forwardToBackend(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint64_t flow_hash,
                         const Service& svc) {
  FlowEntry* e = s.ctx.flows.findByClient(f.key, flow_hash);
  if (e != nullptr && e->state == FlowState::kTcpClosing &&
      (f.tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == RTE_TCP_SYN_FLAG) [[unlikely]] {
    // A client reusing the 5-tuple of a finished connection opens a new one: balance it afresh
    // (the old backend may be draining or down) and count it as a new flow.
    releaseFlow(s, e, /*reset=*/false);
    e = nullptr;
  }
  if (e != nullptr && s.snap.reset_flows_of_slot[e->backend_counter_slot]) [[unlikely]] {
    // The backend is out of service and the service resets its flows: TCP clients learn at once;
    // a UDP flow is simply balanced again.
    releaseFlow(s, e, /*reset=*/true);
    if (f.key.protocol == IPPROTO_TCP) return resetClient(s, m, f);
    e = nullptr;
  }
  if (e == nullptr) {
    if (shouldWalkToFlowOwner(s, f)) return walkOn(s, m);
    DropReason why = DropReason::kCount;
    e = createFlow(s, svc, f, flow_hash, why);
    if (e == nullptr) return dropPacket(s, m, why);
  }
  armFlow(s, *e, f);
  return forwardOnFlow(s, m, f, *e);
}

// A full-NAT reply: backend -> local address:local port. Restores VIP -> client.
Verdict returnToClient(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint64_t flow_hash) {
  const uint16_t local_port = rte_be_to_cpu_16(f.key.dst_port_be);
  const uint16_t owner = s.ctx.ports.ownerOf(local_port);
  if (owner != s.ctx.worker_index) return handOffToOwner(s, m, owner);
  FlowEntry* e = s.ctx.flows.findByReply(f.key, flow_hash);
  if (e == nullptr) return dropPacket(s, m, DropReason::kNoFlow);
  if (e->proxy_phase == ProxyPhase::kBinding) [[unlikely]] {
    if (s.ctx.proxy == nullptr) return dropPacket(s, m, DropReason::kNoFlow);
    return s.ctx.proxy->onBackendSegment(s, m, f, e);
  }
  if (s.snap.reset_flows_of_slot[e->backend_counter_slot]) [[unlikely]] {
    releaseFlow(s, e, /*reset=*/true);
    return dropPacket(s, m, DropReason::kNoFlow);
  }
  // Too large for the client's link (an IPv6 client's once its header is 20 bytes longer; IPv6 is
  // not fragmented on the way): the backend hears "fragmentation needed" from the local address, as
  // from a router, and sends smaller segments, instead of its packets vanishing.
  const uint32_t client_mtu = s.snap.ports[e->to_client.egress_port].mtu;
  if (e->client_v6 ? rte_be_to_cpu_16(f.ip->total_length) - f.l3_len + sizeof(rte_ipv6_hdr) > client_mtu
                   : mustRefuseTooBig(s, f, client_mtu)) [[unlikely]] {
    return refuseTooBig(s, m, f, static_cast<uint16_t>(client_mtu - (e->client_v6 ? kIpv6Growth : 0)));
  }
  e->to_client.last_seen_tsc = s.now_tsc;
  if (f.key.protocol == IPPROTO_TCP) updateTcpState(*e, f.tcp_flags, false);
  countTraffic(s.ctx.counters->backend_replies[e->backend_counter_slot], m);

  uint64_t ip_delta = 0;
  uint64_t l4_delta = 0;
  if (e->proxy_phase == ProxyPhase::kSpliced) [[unlikely]] {
    // The splice reads the response head from one segment; TCP senders set DF, so this is a forgery.
    if (m->nb_segs != 1) return dropPacket(s, m, DropReason::kUnsupported);
    if (f.tcp_flags & RTE_TCP_SYN_FLAG) {
      // The backend repeats its SYN-ACK: the replayed segments were lost. The client's own
      // retransmission (never acknowledged by us) completes the handshake; the client must not see
      // a second SYN-ACK.
      s.ctx.counters->proxy.segments_duplicate.inc();
      rte_pktmbuf_free(m);
      return Verdict{VerdictKind::kDropped, DropReason::kCount, 0};
    }
    const uint32_t now_ms = s.ctx.proxy != nullptr ? s.ctx.proxy->nowMs(s.now_tsc) : 0;
    if (s.ctx.proxy != nullptr) s.ctx.proxy->learnFromResponse(s, m, f, *e);
    const SpliceError error = spliceBackendToClient(m, f, e->splice, now_ms, l4_delta, ip_delta);
    if (error == SpliceError::kNoHeadroom) return dropPacket(s, m, DropReason::kNoHeadroom);
    if (error != SpliceError::kNone) return dropPacket(s, m, DropReason::kMalformed);
  }
  const LocalPort& out = s.snap.ports[e->to_client.egress_port];
  const bool plain = e->proxy_phase == ProxyPhase::kNone;
  if (e->client_v6) {  // the IPv4 header is replaced; IPv6 fragments are not made here
    if (m->nb_segs != 1) return dropPacket(s, m, DropReason::kTooBig);
    if (plain) armReply(s, *e, f);
    const Verdict v = returnToIpv6Client(s, m, f, *e, l4_delta);
    e->to_client.armed_epoch =
        plain && v.kind == VerdictKind::kForwarded && armable(*e, out) ? s.ctx.flows.snapshotEpoch(s.snap) : 0;
    return v;
  }
  if (plain) {
    armReply(s, *e, f);
    rewriteFullNat(reinterpret_cast<uint8_t*>(f.ip), static_cast<uint8_t*>(f.l4), e->to_client,
                   f.key.protocol == IPPROTO_UDP);
  } else {
    rewriteEndpoints(f, e->to_backend.key.dst_addr_be, e->to_backend.key.dst_port_be, e->to_backend.key.src_addr_be,
                     e->to_backend.key.src_port_be, ip_delta, l4_delta);
  }
  if (!writeL2(m, f.l2_len, out.vlan, e->client_mac, out.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  // The flow's next replies may take the established path; a FIN or RST here disarms them (the
  // client's packets stay armed: its own FIN or RST takes the slow path anyway).
  e->to_client.armed_epoch = plain && armable(*e, out) ? s.ctx.flows.snapshotEpoch(s.snap) : 0;
  return queueFitted(s, m, e->to_client.egress_port, f.l2_len, VerdictKind::kForwarded);
}

// A client segment to an HTTP service (delayed binding): spliced flows are translated and forwarded;
// everything else (SYNs, cookie ACKs, segments of a connection being bound) goes to the SYN proxy.
Verdict forwardHttp(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint64_t flow_hash, uint32_t service) {
  FlowEntry* e = s.ctx.flows.findByClient(f.key, flow_hash);
  if (std::optional<Verdict> spliced = forwardIfSpliced(s, m, f, e)) return *spliced;
  if (e != nullptr && e->proxy_phase == ProxyPhase::kNone) {
    // Created before the service became an HTTP one (reload): it keeps plain forwarding.
    return forwardToBackend(s, m, f, flow_hash, s.snap.services[service]);
  }
  return s.ctx.proxy->onClientSegment(s, m, f, flow_hash, service, e);
}

bool needsFlowLookup(const ParsedFrame& f) {
  return f.kind == FrameKind::kIpv4 && f.key.protocol != IPPROTO_ICMP;
}

Verdict processParsed(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint64_t flow_hash);

// A fragment to a VIP or to a local address (a full-NAT reply) is held until its datagram is whole;
// the datagram then goes the way an unfragmented packet goes, and leaves in fragments again when it
// is over the egress MTU (queueFitted). Fragments to other addresses are not ours to hold.
[[gnu::noinline]] Verdict reassembleFragment(BurstState& s, rte_mbuf* m, ParsedFrame& f) {
  const uint32_t dst = f.key.dst_addr_be;
  if (!s.snap.service_index.isVip(dst) && !isLocalAddress(s.snap, dst)) return dropPacket(s, m, DropReason::kNotForUs);
  if (s.ctx.fragments == nullptr) return dropPacket(s, m, DropReason::kUnsupported);
  s.ctx.counters->fragments_in.inc();
  const Ipv4Fragments::Added added = s.ctx.fragments->add(m, f.ip, f.l2_len, f.l3_len, s.now_tsc);
  s.ctx.counters->drops[static_cast<size_t>(DropReason::kReassemblyFailed)].add(added.freed);
  if (added.datagram == nullptr) return Verdict{VerdictKind::kHeld, DropReason::kCount, 0};
  s.ctx.counters->datagrams_reassembled.inc();
  ParsedFrame whole;
  parseFrameFull(added.datagram, whole);
  return processParsed(s, added.datagram, whole, needsFlowLookup(whole) ? s.ctx.flows.hashKey(whole.key) : 0);
}

Verdict processParsed(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint64_t flow_hash) {
  if (s.rx_port == s.snap.exception_port) [[unlikely]] {
    // The kernel speaks on the uplink with the uplink's own address and MAC: pass it through as is.
    s.ctx.counters->exception_in.inc();
    queueTx(s, m, s.snap.exception_uplink);
    return Verdict{VerdictKind::kForwarded, DropReason::kCount, s.snap.exception_uplink};
  }
  if (f.kind == FrameKind::kDrop) return dropPacket(s, m, f.drop);
  // A port belongs to one VLAN (or none): frames tagged for another segment are not ours to answer.
  if (f.vlan != s.snap.ports[s.rx_port].vlan) return dropPacket(s, m, DropReason::kNotForUs);
  if (f.kind == FrameKind::kArp) return handleArp(s, m, f);
  if (f.kind == FrameKind::kIpv6) return processIpv6(s, m, f);
  if (f.kind == FrameKind::kIpv4Fragment) [[unlikely]] return reassembleFragment(s, m, f);

  const uint32_t dst = f.key.dst_addr_be;
  if (f.key.protocol == IPPROTO_ICMP) {
    if (s.snap.service_index.isVip(dst) || isLocalAddress(s.snap, dst)) return handleIcmp(s, m, f);
    return dropPacket(s, m, DropReason::kNotForUs);
  }
  const uint32_t service = s.snap.service_index.find(dst, f.key.dst_port_be, f.key.protocol);
  if (service != ServiceIndex::kEmpty) {
    const Service& svc = s.snap.services[service];
    // HTTP services need this lcore's SYN proxy; without one they are forwarded as plain full-NAT.
    if (svc.http.enabled && s.ctx.proxy != nullptr && f.key.protocol == IPPROTO_TCP &&
        svc.forwarding == ForwardingMode::kFullNat) [[unlikely]] {
      // The SYN proxy reads request heads from one segment; TCP senders set DF, so this is a forgery.
      if (m->nb_segs != 1) return dropPacket(s, m, DropReason::kUnsupported);
      return forwardHttp(s, m, f, flow_hash, service);
    }
    return forwardToBackend(s, m, f, flow_hash, svc);
  }
  if (isLocalAddress(s.snap, dst)) {
    if (s.ctx.ports.contains(rte_be_to_cpu_16(f.key.dst_port_be))) return returnToClient(s, m, f, flow_hash);
    if (hasExceptionPath(s)) return toKernel(s, m);
  }
  if (s.snap.service_index.isVip(dst)) return dropPacket(s, m, DropReason::kUnknownVip);
  return dropPacket(s, m, DropReason::kNotForUs);
}

// Everything the established path does not take: parse, classify, and act. Out of line, so the
// established loop around it keeps its values in registers.
[[gnu::noinline]] Verdict processSlowPath(BurstState& s, rte_mbuf* m) {
  ParsedFrame f;
  parseFrame(m, f);
  return processParsed(s, m, f, needsFlowLookup(f) ? s.ctx.flows.hashKey(f.key) : 0);
}

}  // namespace

std::optional<Verdict> forwardIfSpliced(BurstState& s, rte_mbuf* m, ParsedFrame& f, FlowEntry*& e) {
  if (e != nullptr && e->proxy_phase != ProxyPhase::kBinding && e->state == FlowState::kTcpClosing &&
      (f.tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == RTE_TCP_SYN_FLAG) [[unlikely]] {
    releaseFlow(s, e, /*reset=*/false);  // a new connection on a finished one's 5-tuple
    e = nullptr;
  }
  if (e == nullptr || e->proxy_phase != ProxyPhase::kSpliced) return std::nullopt;
  if (s.snap.reset_flows_of_slot[e->backend_counter_slot]) [[unlikely]] {
    releaseFlow(s, e, /*reset=*/true);
    return resetClient(s, m, f);
  }
  return forwardSpliced(s, m, f, e);
}

Verdict forwardSpliced(BurstState& s, rte_mbuf* m, ParsedFrame& f, FlowEntry* e) {
  const LocalPort& egress = s.snap.ports[e->to_backend.egress_port];
  // As a plain flow's packet (forwardOnFlow), and before the splice: the answer quotes the segment as
  // the client sent it.
  if (e->client_v6) {
    if (std::optional<Verdict> refused = refuseIfTooBigOnceTranslated(s, m, f, egress.mtu)) return *refused;
  } else if (mustRefuseTooBig(s, f, egress.mtu)) [[unlikely]] {
    return refuseTooBig(s, m, f, egress.mtu);
  }
  e->to_backend.last_seen_tsc = s.now_tsc;
  e->client_mac = frameSourceMac(m);
  updateTcpState(*e, f.tcp_flags, true);
  uint64_t l4_delta = 0;
  if (spliceClientToBackend(f, e->splice, l4_delta) != SpliceError::kNone) {
    return dropPacket(s, m, DropReason::kMalformed);
  }
  countTraffic(s.ctx.counters->backends[e->backend_counter_slot].to_backend, m);
  if (e->client_v6) {
    translateToIpv4(m, f, *e, egress.mtu, l4_delta);
  } else {
    rewriteEndpoints(f, e->local_address_be, e->local_port_be, e->backend_address_be, e->backend_port_be, 0, l4_delta);
  }
  if (!writeL2(m, f.l2_len, egress.vlan, e->backend_mac, egress.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  return queueFitted(s, m, e->to_backend.egress_port, f.l2_len, VerdictKind::kForwarded);
}

namespace {

// Stage 1 and 2 again, for the IPv6 client frames among frames `from`..`count` of a burst that the
// IPv4 screen refused (kIpv6ClientFrame replaces kNotEstablished). Called once a burst at most, and
// only once IPv4's loop has stopped: IPv4's stages never run it.
[[gnu::noinline]] void screenIpv6Clients(const FlowTable::LineLookup& lookup, EstablishedScratch& screened,
                                         rte_mbuf* const* packets, uint16_t from, uint16_t count) {
  bool any_ipv6 = false;
  for (uint16_t k = from; k < count; ++k) {
    if (!(screened.ports_protocol[k] & kNotEstablished)) continue;
    const uint64_t ipv6 = screenIpv6Client(packets[k], lookup, screened.data[k], screened.tag[k]);
    if (ipv6 != 0) {
      screened.ports_protocol[k] = ipv6;
      any_ipv6 = true;
    }
  }
  if (!any_ipv6) return;
  for (uint16_t k = from; k < count; ++k) {
    if (screened.ports_protocol[k] & kIpv6ClientFrame) lookup.prefetchIpv6ClientLines(screened.tag[k]);
  }
}

Verdict forwardedTo(int32_t port) {
  return Verdict{VerdictKind::kForwarded, DropReason::kCount, static_cast<uint16_t>(port)};
}

// Stage 3 from frame `from` on, once IPv4's loop has stopped there: the IPv6 client frames among the
// rest screened (screenIpv6Clients), then each frame in order on the established path or the slow
// path. Returns how many took the established path. Out of line and rebuilding its own
// EstablishedBurst, so that the caller's stays in registers: handed by reference, it cost IPv4's
// loop 6.2 instructions per packet in spills under callgrind, against 4.0 as it is
// (bench/results/dataplane.md, eighth session).
template <bool kVerdicts>
[[gnu::noinline]] uint32_t finishBurst(BurstState& s, rte_mbuf** packets, uint16_t from, uint16_t count,
                                       Verdict* verdicts) {
  WorkerContext& ctx = s.ctx;
  const EstablishedBurst burst{ctx, ctx.flows.lineLookup(), *ctx.counters, s.now_tsc, ctx.flows.snapshotEpoch(s.snap)};
  EstablishedScratch& screened = ctx.screened;
  // The slow path drops IPv6 from a port without an IPv6 address.
  if (s.snap.ports[s.rx_port].has_address6) screenIpv6Clients(burst.lookup, screened, packets, from, count);
  uint32_t established = 0;
  for (uint16_t i = from; i < count; ++i) {
    rte_mbuf* const m = packets[i];
    const uint64_t ports_protocol = screened.ports_protocol[i];
    int32_t port = kNotTaken;
    if (ports_protocol & kIpv6ClientFrame) {
      port = forwardIpv6IfArmed(burst, m, screened.data[i], ports_protocol, screened.tag[i]);
    } else if (!(ports_protocol & kNotEstablished)) {
      // No home line: the slow path may have changed the table since stage 2.
      port = forwardIfArmed<BatchRoom::kCheck>(burst, m, screened.data[i], ports_protocol, screened.tag[i]);
    }
    if (port != kNotTaken) {
      if constexpr (kVerdicts) verdicts[i] = forwardedTo(port);
      ++established;
      continue;
    }
    const Verdict v = processSlowPath(s, m);
    if constexpr (kVerdicts) verdicts[i] = v;
  }
  return established;
}

// The frames processBurstEstablished's loop set aside (`away`, in burst order: their lines were not
// where stage 2 looked), before any later frame of the burst: on the established path through the
// index, or on the slow path. Returns how many took the established path.
template <bool kVerdicts>
[[gnu::noinline]] uint32_t finishAway(BurstState& s, rte_mbuf** packets, std::span<const uint16_t> away,
                                      Verdict* verdicts) {
  WorkerContext& ctx = s.ctx;
  const EstablishedBurst burst{ctx, ctx.flows.lineLookup(), *ctx.counters, s.now_tsc, ctx.flows.snapshotEpoch(s.snap)};
  const EstablishedScratch& screened = ctx.screened;
  uint32_t established = 0;
  for (const uint16_t i : away) {
    const int32_t port = forwardIfArmed<BatchRoom::kCheck>(burst, packets[i], screened.data[i],
                                                           screened.ports_protocol[i], screened.tag[i]);
    if (port != kNotTaken) {
      if constexpr (kVerdicts) verdicts[i] = forwardedTo(port);
      ++established;
      continue;
    }
    const Verdict v = processSlowPath(s, packets[i]);
    if constexpr (kVerdicts) verdicts[i] = v;
  }
  return established;
}

// Whether every port's transmit batch can take `count` more frames.
bool batchesHaveRoom(const WorkerContext& ctx, uint16_t port_count, uint16_t count) {
  for (uint16_t p = 0; p < port_count; ++p) {
    if (ctx.tx[p].count > kMaxBurst - count) return false;
  }
  return true;
}

// processBurst for frames from an untagged ordinary port, where the established path may take them.
// Stage 3's first loop calls nothing: it stops at the first frame the established path does not
// take, and finishBurst goes on from there in order, with the slow path for such frames. The
// separate stages are measured, not assumed: a single pass was 20% slower at 4K flows, and stage 2
// folded into stage 1's loop (8 frames behind) 8% slower (bench/results/dataplane.md).
template <bool kVerdicts>
[[gnu::always_inline]] inline void processBurstEstablished(BurstState& s, rte_mbuf** packets, uint16_t count,
                                                            Verdict* verdicts) {
  WorkerContext& ctx = s.ctx;
  const EstablishedBurst burst{ctx, ctx.flows.lineLookup(), *ctx.counters, s.now_tsc,
                               ctx.flows.snapshotEpoch(s.snap)};
  if (ctx.tx_limits_epoch != burst.epoch) [[unlikely]] {
    for (uint16_t p = 0; p < kMaxPorts; ++p) {
      ctx.tx[p].max_frame_len = p < s.snap.port_count ? uint32_t{s.snap.ports[p].mtu} + kEthLen : 0;
    }
    ctx.tx_limits_epoch = burst.epoch;
  }
  uint64_t rx_bytes = 0;
  // Stage 1: screen every frame, hash its key, prefetch its index slot.
  EstablishedScratch& screened = ctx.screened;
  for (uint16_t k = 0; k < count; ++k) {
    rx_bytes += rte_pktmbuf_pkt_len(packets[k]);
    screened.ports_protocol[k] = screenEstablished(packets[k], burst.lookup, screened.data[k], screened.tag[k]);
  }
  // Counted now, and the burst's size read back from memory after stage 3: a value live across
  // stage 3's loop takes a register its frames could use (the epoch, the clock, the counters and the
  // batches are still reloaded from the stack for every frame; GCC does so although registers are
  // free, and an empty asm to give them no copy in memory made it spill them instead).
  burst.counters.rx_bytes.add(rx_bytes);
  screened.count = count;
  // Stage 2: prefetch the lines those slots name (the slots are in cache by now). Even when
  // every flow's lines fit in L2 (4K flows) this pays: an L2 hit is still ~16 cycles, twice per
  // packet, and the benchmark measured 0.43 -> 0.53 of testpmd once both prefetches really ran. Every
  // frame's tag, screened or not: stage 1 set them all, and a stray prefetch is harmless.
  for (uint16_t k = 0; k < count; ++k) screened.home_line[k] = burst.lookup.prefetchLine(screened.tag[k]);
  // Stage 3: a frame of a flow direction armed under this snapshot is forwarded from its line;
  // everything else is parsed and classified. Frames stay in order: a flow's packets leave as they came.
  // The first loop is IPv4's alone; the first frame it cannot take (an IPv6 client's among them)
  // hands the rest of the burst to finishBurst.
  // Each frame that loop takes adds one to one batch, so room for the whole burst in every batch,
  // checked here once, stands for the check per frame. Without it (batches left full by hand-offs,
  // which flush once per ring burst) finishBurst takes every frame, checking each.
  uint32_t i = 0;
  // Frames whose line stage 2 did not find (displaced further than it looks), to forward after the
  // loop (finishAway): the loop then calls nothing, so it keeps more of the burst's values in
  // registers. While the table does not change, a flow's frames are all found or all set aside, so
  // each flow's order holds. Their count is in memory, like the burst's size.
  screened.away_count = 0;
  if (batchesHaveRoom(ctx, s.snap.port_count, count)) [[likely]] {
    screened.ports_protocol[count] = kNotEstablished;  // ends the loop: no compare with count per frame
    for (;; ++i) {
      const uint64_t ports_protocol = screened.ports_protocol[i];
      if (ports_protocol & kNotEstablished) break;
      uint8_t* const data = screened.data[i];
      uint64_t addrs;
      std::memcpy(&addrs, data + kAddrsOffset, sizeof(addrs));
      FlowDirection* const line = FlowTable::LineLookup::atHome(addrs, ports_protocol, screened.home_line[i]);
      if (line == nullptr) [[unlikely]] {
        screened.away[screened.away_count++] = static_cast<uint16_t>(i);
        continue;
      }
      const int32_t port = forwardArmedLine<BatchRoom::kReserved>(burst, packets[i], data, line);
      if (port == kNotTaken) break;
      if constexpr (kVerdicts) verdicts[i] = forwardedTo(port);
    }
  }
  const uint16_t away_count = screened.away_count;
  uint32_t established = i - away_count;
  if (away_count != 0) [[unlikely]] {
    established += finishAway<kVerdicts>(s, packets, {screened.away.data(), away_count}, verdicts);
  }
  if (i < screened.count) [[unlikely]] {
    established += finishBurst<kVerdicts>(s, packets, static_cast<uint16_t>(i), screened.count, verdicts);
  }
  ctx.counters->established_path.add(established);
}

}  // namespace

void processBurst(WorkerContext& ctx, const Snapshot& snapshot, uint16_t rx_port_word,
                  rte_mbuf** packets, uint16_t count, uint64_t now_tsc, Verdict* verdicts) {
  const auto rx_port = static_cast<uint16_t>(rx_port_word & kHandoffPortMask);
  BurstState s{ctx, snapshot, rx_port, now_tsc, static_cast<uint16_t>(rx_port_word >> kHandoffVisitsShift)};
  count = std::min(count, kMaxBurst);
  ctx.counters->rx_packets.add(count);
  if (rx_port != snapshot.exception_port && snapshot.ports[rx_port].vlan == 0) [[likely]] {
    if (verdicts != nullptr) {
      processBurstEstablished<true>(s, packets, count, verdicts);
    } else {
      processBurstEstablished<false>(s, packets, count, nullptr);
    }
    return;
  }
  // Frames from the exception port, or from a tagged port, always take the slow path.
  uint64_t rx_bytes = 0;
  for (uint16_t i = 0; i < count; ++i) rx_bytes += rte_pktmbuf_pkt_len(packets[i]);
  ctx.counters->rx_bytes.add(rx_bytes);
  for (uint16_t i = 0; i < count; ++i) {
    const Verdict v = processSlowPath(s, packets[i]);
    if (verdicts != nullptr) verdicts[i] = v;
  }
}

}  // namespace lb::dataplane
