// Pieces of the per-packet path shared by packet_processor.cc and the SYN proxy (syn_proxy.cc): the
// burst's context, drop accounting, tx queueing, L2 and full-NAT rewrites. Internal to the dataplane.
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>
#include <optional>

#include "dataplane/packet_parser.h"
#include "dataplane/packet_processor.h"
#include "dataplane/snapshot.h"
#include "dataplane/worker_context.h"

namespace lb::dataplane {

struct BurstState {
  WorkerContext& ctx;
  const Snapshot& snap;
  uint16_t rx_port;
  uint64_t now_tsc;
  // Lcores a packet looking for its flow has visited: an ICMP error to a VIP (forwardIcmpToBackend)
  // or a client's TCP segment of a connection the receiving lcore does not know (shouldWalkToFlowOwner).
  uint16_t walk_visits = 0;
};

inline Verdict dropPacket(WorkerContext& ctx, rte_mbuf* m, DropReason reason) {
  ctx.counters->drops[static_cast<size_t>(reason)].inc();
  rte_pktmbuf_free(m);
  return Verdict{VerdictKind::kDropped, reason, 0};
}
inline Verdict dropPacket(BurstState& s, rte_mbuf* m, DropReason reason) { return dropPacket(s.ctx, m, reason); }

// Queues for transmit. Forwarding yields at most one packet per received one, but the SYN proxy can
// emit several (held segments replayed, timer-driven SYNs and RSTs), so a full batch is checked for
// and its overflow counted as tx_full instead of written past the end.
// `pkt_len`: the frame's length as it leaves, when the caller has it at hand.
inline void queueTx(WorkerContext& ctx, rte_mbuf* m, uint16_t port, uint32_t pkt_len) {
  TxBatch& batch = ctx.tx[port];
  if (batch.count == batch.packets.size()) [[unlikely]] {
    ctx.counters->drops[static_cast<size_t>(DropReason::kTxFull)].inc();
    rte_pktmbuf_free(m);
    return;
  }
  batch.packets[batch.count++] = m;
  batch.bytes += pkt_len;
}
inline void queueTx(WorkerContext& ctx, rte_mbuf* m, uint16_t port) {
  queueTx(ctx, m, port, rte_pktmbuf_pkt_len(m));
}
inline void queueTx(BurstState& s, rte_mbuf* m, uint16_t port) { queueTx(s.ctx, m, port); }

// One packet of a flow direction, by its frame length as received.
inline void countTraffic(TrafficCounters& traffic, const rte_mbuf* m) {
  traffic.packets.inc();
  traffic.bytes.add(rte_pktmbuf_pkt_len(m));
}

// queueTx for a frame (L2 header of `l2_len` bytes, then IPv4) that may be over the port's MTU: a
// datagram reassembled here, or a packet IPIP's outer header made too large (DF clear). Such a frame
// leaves in fragments (Ipv4Fragments::split); without reassembly configured it is dropped as too_big.
// Returns `kind` toward `port`, or the drop.
Verdict queueFitted(BurstState& s, rte_mbuf* m, uint16_t port, uint16_t l2_len, VerdictKind kind);

bool writeL2Retag(rte_mbuf* m, uint16_t& l2_len, uint16_t egress_vlan, const rte_ether_addr& dst,
                  const rte_ether_addr& src);

// A hand-off carries its rx port in mbuf->port's low byte (port ids are below kMaxPorts) and, for an
// ICMP error looking for its flow's lcore (forwardIcmpToBackend), the lcores it has visited in the
// high byte. The receiving lcore passes that word to processBurst as the rx port.
inline constexpr uint16_t kHandoffPortMask = 0xff;
inline constexpr uint16_t kHandoffVisitsShift = 8;

// A full-NAT reply (or an ICMP error about a full-NAT flow) for a local port another lcore owns. The
// flow lives only in its owner's table: af_packet fanout (and RSS without a matching key) may deliver
// a reply to any queue, so the packet goes to the owner's ring instead of the table being shared.
inline Verdict handOffToOwner(BurstState& s, rte_mbuf* m, uint16_t owner, uint16_t visits = 0) {
  static_assert(kMaxPorts <= kHandoffPortMask + 1, "rx port ids fit the low byte");
  rte_ring* ring = s.ctx.handoff_to[owner];
  m->port = static_cast<uint16_t>(s.rx_port | (visits << kHandoffVisitsShift));
  if (ring == nullptr || rte_ring_enqueue(ring, m) != 0) return dropPacket(s, m, DropReason::kHandoffFull);
  s.ctx.counters->handoff_out.inc();
  return Verdict{VerdictKind::kHandedOff, DropReason::kCount, 0};
}

// A packet whose flow this lcore does not have, when no address names the lcore that does: it walks
// to the next lcore's hand-off ring, counting visits in the mbuf's port word, until an lcore has the
// flow or every one has been asked (mayWalkOn false: this is the last).
inline bool mayWalkOn(const BurstState& s) { return s.walk_visits + 1 < s.ctx.ports.workers; }
inline Verdict walkOn(BurstState& s, rte_mbuf* m) {
  return handOffToOwner(s, m, static_cast<uint16_t>((s.ctx.worker_index + 1) % s.ctx.ports.workers),
                        static_cast<uint16_t>(s.walk_visits + 1));
}

// A client's TCP segment, not a SYN, of a connection this lcore has no flow for. Its flow may be on
// another lcore: af_packet's fanout rolls a packet over to another queue when the hashed queue's ring
// is full (DPDK 22.11 sets PACKET_FANOUT_FLAG_ROLLOVER), and an RSS table change moves flows. Adopting
// it here would send it to the backend from another local endpoint, which the backend answers with a
// RST; so it walks the lcores first (walkOn). When no lcore has it (a connection from before a
// restart, or expired), the walk comes back to the lcore that received it, which adopts it as
// established: that is where its next segments arrive.
inline bool shouldWalkToFlowOwner(const BurstState& s, const ParsedFrame& f) {
  return f.key.protocol == IPPROTO_TCP && (f.tcp_flags & RTE_TCP_SYN_FLAG) == 0 &&
         s.walk_visits < s.ctx.ports.workers && s.ctx.ports.workers > 1;
}

// Makes `start`, a byte of the mbuf's buffer, the frame's first: a frame that grows at its front takes
// headroom, one that shrinks drops bytes (header translation, ICMP translation). False when the
// headroom is too small.
inline bool moveFrameStart(rte_mbuf* m, uint8_t* start) {
  uint8_t* const data = rte_pktmbuf_mtod(m, uint8_t*);
  if (start < data) return rte_pktmbuf_prepend(m, static_cast<uint16_t>(data - start)) != nullptr;
  rte_pktmbuf_adj(m, static_cast<uint16_t>(start - data));
  return true;
}

// Rewrites the L2 header for the egress port. Untagged in and out is the common case and stays inline.
inline bool writeL2(rte_mbuf* m, uint16_t& l2_len, uint16_t egress_vlan, const rte_ether_addr& dst,
                    const rte_ether_addr& src) {
  if (l2_len == sizeof(rte_ether_hdr) && egress_vlan == 0) [[likely]] {
    auto* bytes = rte_pktmbuf_mtod(m, uint8_t*);
    std::memcpy(bytes, &dst, RTE_ETHER_ADDR_LEN);
    std::memcpy(bytes + RTE_ETHER_ADDR_LEN, &src, RTE_ETHER_ADDR_LEN);
    return true;
  }
  return writeL2Retag(m, l2_len, egress_vlan, dst, src);
}

// Whether the established path may take a plain flow's next packets in a direction leaving through
// `egress`: TCP established (a SYN-seen flow must still see its handshake's ACK on the slow path, a
// closing one its reuse) or UDP, and an untagged port (the path writes a 12-byte L2 header).
inline bool armable(const FlowEntry& e, const LocalPort& egress) {
  return (e.state == FlowState::kTcpEstablished || e.state == FlowState::kUdp) && egress.vlan == 0;
}

// A new flow's state from its first packet: a TCP SYN starts the handshake; any other TCP segment
// (e.g. after a balancer restart) is adopted as established.
inline FlowState initialFlowState(const ParsedFrame& f) {
  if (f.key.protocol != IPPROTO_TCP) return FlowState::kUdp;
  const bool syn_only = (f.tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == RTE_TCP_SYN_FLAG;
  return syn_only ? FlowState::kTcpSynSeen : FlowState::kTcpEstablished;
}

// The backend a new flow's balancing hash selects in the service's table, or nullptr with `why` set
// (no backend with weight, or its next hop's MAC not known yet).
const BackendTarget* selectBackend(const Service& svc, uint64_t key_hash, DropReason& why);

// Points a flow at a backend: where its packets go and whose counters they feed.
inline void setBackend(FlowEntry& e, const BackendTarget& b) {
  e.backend_address_be = b.address_be;
  e.backend_port_be = b.port_be;
  e.backend_mac = b.next_hop_mac;
  e.to_backend.egress_port = b.egress_port;
  e.backend_counter_slot = static_cast<uint16_t>(b.counter_slot);
}

// Where an armed line's packets go and are counted: `destination` from `egress`'s MAC, into the
// traffic counters at `traffic_offset`. Every arm sets these three the same way.
inline void setLineNextHop(FlowDirection& d, const rte_ether_addr& destination, const LocalPort& egress,
                           uint32_t traffic_offset) {
  std::memcpy(d.l2_next_hop, &destination, RTE_ETHER_ADDR_LEN);
  std::memcpy(d.l2_next_hop + RTE_ETHER_ADDR_LEN, &egress.mac, RTE_ETHER_ADDR_LEN);
  d.traffic_offset = traffic_offset;
}

// The to_backend line's next hop: the flow's backend, counted as its traffic toward the backend.
inline void setLineToBackend(const FlowEntry& e, FlowDirection& d, const LocalPort& egress) {
  setLineNextHop(d, e.backend_mac, egress, toBackendTrafficOffset(e.backend_counter_slot));
}

// Indexes a full-NAT flow by the 5-tuple its backend's replies carry (backend -> local address and
// the flow's local port), so returnToClient finds it.
inline void addReplyIndex(FlowTable& flows, FlowEntry* e, uint32_t local_address_be, uint8_t protocol) {
  hashing::FlowKeyV4 reply;
  reply.src_addr_be = e->backend_address_be;
  reply.src_port_be = e->backend_port_be;
  reply.dst_addr_be = local_address_be;
  reply.dst_port_be = e->local_port_be;
  reply.protocol = protocol;
  flows.addReplyKey(e, reply);
}

// Full-NAT rewrite of both endpoints; `extra_ip_delta` / `extra_l4_delta` are checksum deltas of other
// fields already changed (splice translation), folded in with the address delta: one fold per packet.
void rewriteEndpoints(const ParsedFrame& f, uint32_t src_addr, uint16_t src_port, uint32_t dst_addr,
                      uint16_t dst_port, uint64_t extra_ip_delta = 0, uint64_t extra_l4_delta = 0);

// Encapsulates the IPv4 packet in an outer IPv4 header (RFC 2003) from the flow's precomputed
// addresses (armFlow); false when the mbuf has no headroom for it.
bool encapsulateIpip(rte_mbuf* m, ParsedFrame& f, const FlowEntry& e);

// Makes room for an outer IPv4 header between the L2 header (`l2_len` bytes, tagged or not) and the
// packet: the frame grows 20 bytes at its front and its ethertype becomes IPv4. Returns where the
// outer header goes, or nullptr when the mbuf has no headroom for it.
uint8_t* prependOuterIpv4(rte_mbuf* m, uint16_t l2_len);

// TCP state from a segment's flags: FIN or RST closes; the client's ACK of the handshake establishes.
void updateTcpState(FlowEntry& e, uint8_t flags, bool from_client);

// Turns a client's TCP segment (IPv4 or IPv6) into the RST that ends its connection (RFC 9293
// section 3.10.7.3): back to the sender, no payload, sequence number taken from its ACK.
Verdict resetClient(BurstState& s, rte_mbuf* m, ParsedFrame& f);

// Releases a flow's local port and entry.
void releaseFlow(BurstState& s, FlowEntry* e, bool reset);

// What a client segment of an HTTP service does with its flow `e` (nullptr: none) before the SYN proxy
// sees it: a new SYN on a finished connection's 5-tuple frees the old flow (`e` becomes nullptr); a
// spliced flow's segment is forwarded, or answered with a RST when its backend's flows are reset.
// nullopt: the SYN proxy takes it.
std::optional<Verdict> forwardIfSpliced(BurstState& s, rte_mbuf* m, ParsedFrame& f, FlowEntry*& e);

// Forwards a client segment of a spliced (or binding, for the replay) flow to its backend:
// splice translation, full-NAT rewrite (NAT64 for an IPv6 client), L2, queue.
Verdict forwardSpliced(BurstState& s, rte_mbuf* m, ParsedFrame& f, FlowEntry* e);

}  // namespace lb::dataplane
