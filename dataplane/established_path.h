// processBurst's established path: a packet of a flow that the slow path armed under the current
// snapshot (FlowEntry::armed_epoch) is forwarded from what the flow entry precomputed, without a
// ParsedFrame and without classification. Two stages, as the burst pipeline needs them:
//
//   screenEstablished  per packet, first pass: reads the few header words the path needs, checks
//                      that the frame is one the path may take, hashes the key, prefetches the index;
//   forwardIfArmed     per packet, second pass: finds the flow direction's line and, when it is
//                      armed, rewrites the frame, writes L2, counts and queues it.
//
// A frame the path may take is exactly one the inline parse (parseFrame) accepts without a drop:
// untagged IPv4 without options, not a fragment, total length within the frame, a TCP header whose
// data offset fits or a UDP length that fits. Beyond that it must carry no SYN, FIN or RST, so every
// client-side TCP state change (and a client reusing a closed flow's 5-tuple) goes through the slow
// path, where a FIN or RST disarms the flow. Anything else, a flow not found, or a flow not armed under
// this snapshot takes the slow path, which parses, classifies and re-arms. Whether a flow is armed
// already answers everything else the slow path would check for it: the snapshot (and with it a
// backend's reset policy) is the one it was armed under, the flow was established (or UDP) when armed,
// and its egress port is untagged.
//
// An IPv6 client's frame (NAT64, dataplane/ipv6_path.h) has its own screen and forward
// (screenIpv6Client, forwardIpv6IfArmed): the same conditions on an IPv6 header without extension
// headers, its key's 32 address bytes compared with the entry's, and the IPv4 header full-NAT sends
// written where the IPv6 header ended. IPv4's stages never run their code: an IPv6 frame leaves the
// first screen as kNotEstablished, and processBurst screens such frames again, as IPv6, only once
// IPv4's loop has stopped at one.
//
// The path does not know a packet's direction: it looks the packet's 5-tuple up, and the index slot
// names a line (FlowDirection), either a flow's client line or its full-NAT reply line, whose
// precomputed rewrite is the same kind of work. So a backend's reply is armed and forwarded exactly as
// a client's packet is, restoring VIP -> client.
#pragma once

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dataplane/checksum.h"
#include "dataplane/ether_frame.h"
#include "dataplane/flow_table.h"
#include "dataplane/ipv6_path.h"
#include "dataplane/packet_path.h"

namespace lb::dataplane {

inline constexpr uint8_t kIpipTtl = 64;

// Offsets of an untagged IPv4 frame without options.
inline constexpr uint32_t kEthLen = sizeof(rte_ether_hdr);
inline constexpr uint32_t kIpOffset = kEthLen;
inline constexpr uint32_t kL4Offset = kEthLen + sizeof(rte_ipv4_hdr);
inline constexpr uint32_t kAddrsOffset = kIpOffset + offsetof(rte_ipv4_hdr, src_addr);
inline constexpr uint32_t kIpv6Growth = sizeof(rte_ipv6_hdr) - sizeof(rte_ipv4_hdr);
// Offsets of an untagged IPv6 frame without extension headers.
inline constexpr uint32_t kIpv6AddrsOffset = kIpOffset + offsetof(rte_ipv6_hdr, src_addr);
inline constexpr uint32_t kIpv6L4Offset = kEthLen + sizeof(rte_ipv6_hdr);

// The L4 checks both screens make once the L4 header is known to lie within the frame (`l4_len`
// bytes, at least the header's fixed part): TCP's data offset within the segment, in one unsigned
// compare (below 20 wraps high), and no SYN, FIN or RST, so every TCP state change takes the slow
// path; UDP's own length within the payload.
// `beyond_header`: the segment's length less the fixed header (20 bytes).
[[gnu::always_inline]] inline bool tcpHeaderTakeable(const uint8_t* l4, uint32_t beyond_header) {
  const auto* tcp = reinterpret_cast<const rte_tcp_hdr*>(l4);
  const uint32_t data_off = (uint32_t{tcp->data_off} >> 2) & 0x3c;  // the high nibble, in bytes
  return data_off - sizeof(rte_tcp_hdr) <= beyond_header &&
         (tcp->tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_FIN_FLAG | RTE_TCP_RST_FLAG)) == 0;
}
[[gnu::always_inline]] inline bool tcpSegmentTakeable(const uint8_t* l4, uint32_t l4_len) {
  return tcpHeaderTakeable(l4, l4_len - sizeof(rte_tcp_hdr));
}
[[gnu::always_inline]] inline bool udpLengthFits(const uint8_t* l4, uint32_t l4_len) {
  const uint32_t udp_len = rte_be_to_cpu_16(reinterpret_cast<const rte_udp_hdr*>(l4)->dgram_len);
  return udp_len - sizeof(rte_udp_hdr) <= l4_len - sizeof(rte_udp_hdr);
}

// The screen of a frame the IPv4 screen refused, for an IPv6 client's TCP or UDP packet the
// established path may take: untagged IPv6, and the conditions screenEstablished sets and the
// parser's (parseIpv6): version 6, no extension header, the payload within one segment, the L4
// header's own length within the payload, no SYN, FIN or RST; and a UDP checksum, which IPv6
// requires (the slow path drops a zero one). Returns kIpv6ClientFrame with the key's ports and
// protocol when the path may take the frame, having hashed the IPv6 key into `tag_out` and
// prefetched its index slot; 0 otherwise.
inline uint64_t screenIpv6Client(const rte_mbuf* m, const FlowTable::LineLookup& flows, const uint8_t* data,
                                 uint32_t& tag_out) {
  const uint32_t frame_len = rte_pktmbuf_data_len(m);
  if (frame_len < kIpv6L4Offset + sizeof(rte_udp_hdr) || m->nb_segs != 1 ||
      frameEtherType(data) != RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
    return 0;
  }
  uint32_t ports;
  uint16_t payload_len_be;
  uint64_t addresses[4];
  std::memcpy(&ports, data + kIpv6L4Offset, sizeof(ports));
  std::memcpy(&payload_len_be, data + kIpOffset + offsetof(rte_ipv6_hdr, payload_len), sizeof(payload_len_be));
  std::memcpy(addresses, data + kIpv6AddrsOffset, sizeof(addresses));
  const uint32_t protocol = data[kIpOffset + offsetof(rte_ipv6_hdr, proto)];
  const uint64_t ports_protocol = uint64_t{ports} | (uint64_t{protocol} << 32);
  tag_out = FlowTable::tagOf(flows.hashWordsV6(addresses, ports_protocol));
  flows.prefetchIndex(tag_out);

  const uint32_t l4_len = rte_be_to_cpu_16(payload_len_be);
  bool ok = (data[kIpOffset] >> 4) == 6 && l4_len + kIpv6L4Offset <= frame_len;
  const uint8_t* l4 = data + kIpv6L4Offset;
  if (protocol == IPPROTO_TCP) {
    ok = ok && l4_len >= sizeof(rte_tcp_hdr) && tcpSegmentTakeable(l4, l4_len);
  } else if (protocol == IPPROTO_UDP) {
    ok = ok && l4_len >= sizeof(rte_udp_hdr) && udpLengthFits(l4, l4_len) &&
         reinterpret_cast<const rte_udp_hdr*>(l4)->dgram_cksum != 0;
  } else {
    ok = false;
  }
  return ok ? ports_protocol | kIpv6ClientFrame : 0;
}

// First pass for one frame; returns the key's second word (ports and protocol), with kNotEstablished
// set when the frame is not one the established path may take. `tag_out`: the key's tag, whose
// index slot is prefetched (stage 3 reads it once the whole burst is screened).
[[gnu::always_inline]] inline uint64_t screenEstablished(rte_mbuf* m, const FlowTable::LineLookup& flows,
                                                         uint8_t*& data_out, uint32_t& tag_out) {
  uint8_t* const data = rte_pktmbuf_mtod(m, uint8_t*);
  data_out = data;
  const uint32_t frame_len = rte_pktmbuf_data_len(m);
  if (frame_len < kL4Offset + sizeof(rte_udp_hdr)) [[unlikely]] {
    // Stage 2 prefetches from every frame's tag. A valid tag (unlike 0, which an empty slot matches)
    // only ever names a real line.
    tag_out = FlowTable::tagOf(0);
    return kNotEstablished;
  }
  // Bytes 12..15: ethertype, version/IHL, TOS. Bytes 20..23: flags + fragment offset, TTL, protocol.
  uint32_t type_vhl, frag_proto, ports;
  uint64_t addrs;
  uint16_t total_len_be;
  std::memcpy(&type_vhl, data + offsetof(rte_ether_hdr, ether_type), sizeof(type_vhl));
  std::memcpy(&frag_proto, data + kIpOffset + offsetof(rte_ipv4_hdr, fragment_offset), sizeof(frag_proto));
  std::memcpy(&total_len_be, data + kIpOffset + offsetof(rte_ipv4_hdr, total_length), sizeof(total_len_be));
  std::memcpy(&addrs, data + kAddrsOffset, sizeof(addrs));
  std::memcpy(&ports, data + kL4Offset, sizeof(ports));  // TCP and UDP both open with the two ports
  const uint32_t protocol = frag_proto >> 24;
  const uint64_t ports_protocol = uint64_t{ports} | (uint64_t{protocol} << 32);
  tag_out = FlowTable::tagOf(flows.hashWords(addrs, ports_protocol));
  flows.prefetchIndex(tag_out);

  const uint32_t total_len = rte_be_to_cpu_16(total_len_be);
  // IPv4 (0x0800) with version 4 and a 20-byte header.
  if ((type_vhl & 0x00ffffff) != 0x00450008) return ports_protocol | kNotEstablished;
  // MF and fragment offset zero, and the protocol, in one compare per protocol. Then the total length
  // covers the IP and L4 headers and lies within the frame, in one unsigned compare (a short total
  // length wraps high) once the frame is known to hold both headers; header bytes are read only
  // after that.
  const uint32_t fragment_protocol = frag_proto & 0xff00ff3f;
  const uint8_t* l4 = data + kL4Offset;
  constexpr uint32_t kTcpHeaders = sizeof(rte_ipv4_hdr) + sizeof(rte_tcp_hdr);
  constexpr uint32_t kUdpHeaders = sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr);
  if (fragment_protocol == uint32_t{IPPROTO_TCP} << 24) {
    const uint32_t beyond_headers = total_len - kTcpHeaders;
    if (frame_len >= kEthLen + kTcpHeaders && beyond_headers <= frame_len - kEthLen - kTcpHeaders &&
        tcpHeaderTakeable(l4, beyond_headers)) {
      return ports_protocol;
    }
  } else if (fragment_protocol == uint32_t{IPPROTO_UDP} << 24) {
    // The frame holds both headers (the first check above).
    if (total_len - kUdpHeaders <= frame_len - kEthLen - kUdpHeaders &&
        udpLengthFits(l4, total_len - sizeof(rte_ipv4_hdr))) {
      return ports_protocol;
    }
  }
  return ports_protocol | kNotEstablished;
}

// The one's-complement sum of an outer IPv4 header's fixed fields as writeIpipOuter stores them:
// version/IHL and TOS, TTL and protocol (IPPROTO_IPIP, or IPPROTO_IPV6 for an IPv6 packet), the
// addresses (`rewrite_addrs`, as they sit in the header). Folded once when a flow is armed.
inline uint16_t ipipOuterFixedSum(uint64_t rewrite_addrs, uint8_t inner_protocol) {
  const uint8_t fixed[4] = {RTE_IPV4_VHL_DEF, 0, kIpipTtl, inner_protocol};
  uint32_t fixed_words;
  std::memcpy(&fixed_words, fixed, sizeof(fixed_words));
  return checksumDeltaFold(uint64_t{fixed_words & 0xffff} + (fixed_words >> 16) + (rewrite_addrs & 0xffffffff) +
                           (rewrite_addrs >> 32));
}

// The outer IPv4 header of RFC 2003 (or RFC 4213, `inner_protocol` IPPROTO_IPV6) encapsulation at
// `outer`, from the flow's precomputed addresses and ipipOuterFixedSum (its ip_check_delta): only the
// total length and DF (copied from an inner IPv4 header) are added per packet. Three stores, fields
// as they sit in the header (little-endian words): version/IHL, TOS, total length, packet id 0,
// flags; TTL, protocol, checksum; source and destination. `inner_len`: the inner packet's length,
// in host order (the caller has it from its MTU check).
[[gnu::always_inline]] inline void writeIpipOuter(uint8_t* outer, uint16_t inner_len, uint16_t inner_df,
                                                  const FlowDirection& e, uint8_t inner_protocol) {
  const uint16_t total_len_be = rte_cpu_to_be_16(static_cast<uint16_t>(inner_len + sizeof(rte_ipv4_hdr)));
  // ~(fixed + total length + DF), one's complement: each term taken off the complemented fixed sum
  // (checksumApplyFolded's identity), so no 32-bit sum to fold twice.
  const uint16_t check = checksumApplyFolded(
      checksumApplyFolded(static_cast<uint16_t>(~e.ip_check_delta), total_len_be), inner_df);
  const uint64_t word0 = uint64_t{RTE_IPV4_VHL_DEF} | (uint64_t{total_len_be} << 16) | (uint64_t{inner_df} << 48);
  const uint32_t word1 = uint32_t{kIpipTtl} | (uint32_t{inner_protocol} << 8) | (uint32_t{check} << 16);
  std::memcpy(outer, &word0, sizeof(word0));
  std::memcpy(outer + 8, &word1, sizeof(word1));
  std::memcpy(outer + offsetof(rte_ipv4_hdr, src_addr), &e.rewrite_addrs, sizeof(e.rewrite_addrs));
}

// The IPv4 header at `ip` that full-NAT sends for an IPv6 client's packet (translateToIpv4): the
// flow's addresses, DF, packet id 0, and the IPv6 header's traffic class, hop limit and protocol; the
// checksum from the sum of the fixed fields the flow armed with (armNat64) plus the three per-packet
// words. Three stores, as writeIpipOuter.
[[gnu::always_inline]] inline void writeNat64Ipv4Header(uint8_t* ip, uint8_t tos, uint16_t total_len_be, uint8_t ttl,
                                                        uint8_t protocol, const FlowDirection& e) {
  const uint16_t vhl_tos = static_cast<uint16_t>(RTE_IPV4_VHL_DEF | (uint32_t{tos} << 8));
  const uint16_t ttl_protocol = static_cast<uint16_t>(ttl | (uint32_t{protocol} << 8));
  const uint16_t check = static_cast<uint16_t>(
      ~checksumFold(uint32_t{e.ip_check_delta} + (uint32_t{tos} << 8) + total_len_be + ttl));
  const uint64_t word0 = uint64_t{vhl_tos} | (uint64_t{total_len_be} << 16) |
                         (uint64_t{RTE_BE16(RTE_IPV4_HDR_DF_FLAG)} << 48);
  const uint32_t word1 = uint32_t{ttl_protocol} | (uint32_t{check} << 16);
  std::memcpy(ip, &word0, sizeof(word0));
  std::memcpy(ip + 8, &word1, sizeof(word1));
  std::memcpy(ip + offsetof(rte_ipv4_hdr, src_addr), &e.rewrite_addrs, sizeof(e.rewrite_addrs));
}

// Full-NAT's rewrite of one direction from its precomputed line, toward the backend or (a reply)
// toward the client: new address and port words stored as they are, each checksum updated with its
// folded delta. `ip` and `l4` point at the headers; the established path passes the fixed offsets
// of an untagged, option-less frame, the slow path the parser's (options, a VLAN tag), so both leave
// with the same bytes. The L4 checksum's offset differs between TCP and UDP, and UDP keeps a zero
// (absent) checksum. Both checksums are read before any store: the IPv4 checksum's two bytes share an
// 8-byte word with the addresses stored just before it, and reading it after that store measured 3%
// fewer packets at 4K flows (three alternating runs, the same instructions).
[[gnu::always_inline]] inline void rewriteFullNat(uint8_t* ip, uint8_t* l4, const FlowDirection& e, bool udp) {
  uint8_t* const l4_check = l4 + (udp ? offsetof(rte_udp_hdr, dgram_cksum) : offsetof(rte_tcp_hdr, cksum));
  uint16_t ip_check;
  uint16_t check;
  std::memcpy(&ip_check, ip + offsetof(rte_ipv4_hdr, hdr_checksum), sizeof(ip_check));
  std::memcpy(&check, l4_check, sizeof(check));
  std::memcpy(ip + offsetof(rte_ipv4_hdr, src_addr), &e.rewrite_addrs, sizeof(e.rewrite_addrs));
  ip_check = checksumApplyFolded(ip_check, e.ip_check_delta);
  std::memcpy(ip + offsetof(rte_ipv4_hdr, hdr_checksum), &ip_check, sizeof(ip_check));
  std::memcpy(l4, &e.rewrite_ports, sizeof(e.rewrite_ports));
  if (udp) {
    if (check == 0) return;  // zero = no checksum (RFC 768); a computed zero is sent as 0xffff
    check = checksumApplyFolded(check, e.l4_check_delta);
    if (check == 0) check = 0xffff;
  } else {
    check = checksumApplyFolded(check, e.l4_check_delta);
  }
  std::memcpy(l4_check, &check, sizeof(check));
}

// An IPv6 client's reply (kNat64Reply), as returnToIpv6Client translates it on the slow path: ports
// and L4 checksum back to the client's (one folded delta covers the addresses of both families), then
// a 40-byte IPv6 header from the VIP to the client where the 20-byte IPv4 header was, its traffic
// class, hop limit and protocol carried over. The frame grows by 20 bytes at its front. Returns false,
// having changed nothing, for what the slow path must do: a UDP datagram without a checksum (IPv6
// requires one, so it is computed there), no headroom, or a translated frame longer than
// `max_frame_len`. `data` is the frame's new start afterwards.
[[gnu::always_inline]] inline bool translateArmedReplyToIpv6(rte_mbuf* m, uint8_t*& data, const FlowDirection& e,
                                                             uint32_t max_frame_len) {
  const uint8_t* const ip = data + kIpOffset;
  const uint8_t protocol = ip[offsetof(rte_ipv4_hdr, next_proto_id)];
  const bool udp = protocol == IPPROTO_UDP;
  uint8_t* const l4 = data + kL4Offset;
  uint8_t* const l4_check = l4 + (udp ? offsetof(rte_udp_hdr, dgram_cksum) : offsetof(rte_tcp_hdr, cksum));
  uint16_t check;
  std::memcpy(&check, l4_check, sizeof(check));
  if ((udp && check == 0) || rte_pktmbuf_headroom(m) < kIpv6Growth ||
      rte_pktmbuf_pkt_len(m) + kIpv6Growth > max_frame_len) [[unlikely]] {
    return false;
  }
  const uint8_t traffic_class = ip[offsetof(rte_ipv4_hdr, type_of_service)];
  const uint8_t hop_limit = ip[offsetof(rte_ipv4_hdr, time_to_live)];
  uint16_t total_len_be;
  std::memcpy(&total_len_be, ip + offsetof(rte_ipv4_hdr, total_length), sizeof(total_len_be));
  std::memcpy(l4, &e.rewrite_ports, sizeof(e.rewrite_ports));
  check = checksumApplyFolded(check, e.l4_check_delta);
  if (udp && check == 0) check = 0xffff;
  std::memcpy(l4_check, &check, sizeof(check));
  data = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, kIpv6Growth));
  // Both MACs are written by the caller: of the Ethernet header only the ethertype must change.
  setFrameEtherType(data, RTE_BE16(RTE_ETHER_TYPE_IPV6));
  const FlowEntry& entry = entryOfReplyLine(e);
  writeIpv6Header(reinterpret_cast<rte_ipv6_hdr*>(data + kIpOffset), traffic_class,
                  static_cast<uint16_t>(rte_be_to_cpu_16(total_len_be) - sizeof(rte_ipv4_hdr)), protocol, hop_limit,
                  entry.vip6, entry.client_addr6);
  return true;
}

// The values the second pass needs for every frame of a burst, held as locals so the loops keep them
// in registers (stores into frames may alias anything reached through a pointer).
struct EstablishedBurst {
  WorkerContext& ctx;
  FlowTable::LineLookup lookup;
  LcoreCounters& counters;
  uint64_t now_tsc;
  uint32_t epoch;
};

// The end of both second passes, once the frame is rewritten: the line's last-seen time, its
// traffic counters (`counted_len` bytes, as the slow path counts that direction), the frame queued on
// `batch` (`tx_len` bytes as it leaves). Returns the egress port.
[[gnu::always_inline]] inline int32_t queueArmed(const EstablishedBurst& b, FlowDirection& e, TxBatch& batch,
                                                 rte_mbuf* m, uint32_t counted_len, uint32_t tx_len) {
  e.last_seen_tsc = b.now_tsc;
  TrafficCounters& traffic = trafficCountersAt(b.counters, e.traffic_offset);
  traffic.packets.inc();
  traffic.bytes.add(counted_len);
  batch.packets[batch.count++] = m;
  batch.bytes += tx_len;
  return e.egress_port;
}

// Second pass for one frame screenEstablished took, once its flow direction's line is found (nullptr:
// none): when that line is armed under this snapshot, forward the frame. Returns the egress port it
// was queued for, or kNotTaken, having changed nothing, when the frame is the slow path's: no armed
// flow, or an outcome other than forwarding (no headroom for IPIP, a full transmit batch), which the
// slow path reaches and counts the same way. So this path calls nothing, and the loop around it keeps
// its values in registers across frames. A frame longer than the egress port's MTU allows
// (TxBatch::max_frame_len; for IPIP, once encapsulated) is also the slow path's: it fragments the
// packet or answers with ICMP.
inline constexpr int32_t kNotTaken = -1;
// kReserved: the caller made sure, once for the burst, that every transmit batch has room for all of
// its frames (batchesHaveRoom), so the per-frame check goes.
enum class BatchRoom : uint8_t { kCheck, kReserved };
template <BatchRoom kRoom>
[[gnu::always_inline]] inline int32_t forwardArmedLine(const EstablishedBurst& b, rte_mbuf* m, uint8_t* data,
                                                       FlowDirection* found) {
  if (found == nullptr || found->armed_epoch != b.epoch) [[unlikely]] return kNotTaken;
  FlowDirection& e = *found;
  TxBatch& batch = b.ctx.tx[e.egress_port];
  const uint32_t pkt_len = rte_pktmbuf_pkt_len(m);
  if ((kRoom == BatchRoom::kCheck && batch.count == batch.packets.size()) || pkt_len > batch.max_frame_len)
      [[unlikely]] {
    return kNotTaken;
  }
  if (e.armed_rewrite == ArmedRewrite::kFullNatTcp) [[likely]] {
    // Queued before the rewrite: stores into the frame may alias anything, so after them the
    // compiler would load the batch and the counters' addresses again.
    const int32_t port = queueArmed(b, e, batch, m, pkt_len, pkt_len);
    rewriteFullNat(data + kIpOffset, data + kL4Offset, e, false);
    std::memcpy(data, e.l2_next_hop, sizeof(e.l2_next_hop));
    return port;
  }
  // The other kinds read the batch's count again: kept in a register from the check above, it was
  // spilled in the full-NAT TCP path too (one instruction per packet there).
  asm volatile("" ::: "memory");
  if (e.armed_rewrite == ArmedRewrite::kIpip) {
    const uint16_t headroom = m->data_off;  // rte_pktmbuf_headroom, read once for the prepend below
    if (headroom < sizeof(rte_ipv4_hdr)) [[unlikely]] return kNotTaken;
    uint16_t inner_len_be;
    std::memcpy(&inner_len_be, data + kIpOffset + offsetof(rte_ipv4_hdr, total_length), sizeof(inner_len_be));
    const uint16_t inner_len = rte_be_to_cpu_16(inner_len_be);
    if (inner_len > e.ipip_max_inner_len) [[unlikely]] return kNotTaken;
    uint16_t inner_df;
    std::memcpy(&inner_df, data + kIpOffset + offsetof(rte_ipv4_hdr, fragment_offset), sizeof(inner_df));
    inner_df &= RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
    // Queued before the frame and mbuf are written, as full-NAT TCP above is.
    const int32_t port = queueArmed(b, e, batch, m, pkt_len, pkt_len + sizeof(rte_ipv4_hdr));
    // rte_pktmbuf_prepend, without checking the headroom again after the stores above.
    m->data_off = static_cast<uint16_t>(headroom - sizeof(rte_ipv4_hdr));
    m->data_len = static_cast<uint16_t>(m->data_len + sizeof(rte_ipv4_hdr));
    m->pkt_len = pkt_len + sizeof(rte_ipv4_hdr);
    data -= sizeof(rte_ipv4_hdr);
    // Both MACs are written below: of the Ethernet header only the ethertype must move.
    setFrameEtherType(data, RTE_BE16(RTE_ETHER_TYPE_IPV4));
    writeIpipOuter(data + kIpOffset, inner_len, inner_df, e, IPPROTO_IPIP);
    std::memcpy(data, e.l2_next_hop, sizeof(e.l2_next_hop));
    return port;
  }
  // The DSR kinds before the rarer ones: a chain of compares measured fewer instructions per packet
  // than a switch (a jump table), and this order the fewest for the two DSR modes together.
  if (e.armed_rewrite == ArmedRewrite::kDsrL2) {
    const int32_t port = queueArmed(b, e, batch, m, pkt_len, pkt_len);
    std::memcpy(data, e.l2_next_hop, sizeof(e.l2_next_hop));
    return port;
  }
  if (e.armed_rewrite == ArmedRewrite::kNat64Reply) {
    // Its checks come with the translation, so it is queued after.
    if (!translateArmedReplyToIpv6(m, data, e, batch.max_frame_len)) return kNotTaken;
    std::memcpy(data, e.l2_next_hop, sizeof(e.l2_next_hop));
    return queueArmed(b, e, batch, m, pkt_len, pkt_len + kIpv6Growth);
  }
  // An IPv4 frame's key never matches the lines of IPv6 clients' own kinds; should one, the slow
  // path decides.
  if (e.armed_rewrite != ArmedRewrite::kFullNatUdp) [[unlikely]] return kNotTaken;
  const int32_t port = queueArmed(b, e, batch, m, pkt_len, pkt_len);
  rewriteFullNat(data + kIpOffset, data + kL4Offset, e, true);
  std::memcpy(data, e.l2_next_hop, sizeof(e.l2_next_hop));
  return port;
}

// forwardArmedLine with the line found by probing the index from the frame's tag.
template <BatchRoom kRoom>
[[gnu::always_inline]] inline int32_t forwardIfArmed(const EstablishedBurst& b, rte_mbuf* m, uint8_t* data,
                                                     uint64_t ports_protocol, uint32_t tag) {
  uint64_t addrs;
  std::memcpy(&addrs, data + kAddrsOffset, sizeof(addrs));
  return forwardArmedLine<kRoom>(b, m, data, b.lookup.find(addrs, ports_protocol, tag));
}

// An IPv6 client frame of a DSR (kDsrL2) or IPIP (kIpip6) flow, armed: the MACs alone, or the IPv6
// packet inside the outer IPv4 header forwardIpv6Direct writes. A frame that would not fit the
// egress MTU is the slow path's ("packet too big").
[[gnu::always_inline]] inline int32_t forwardIpv6DirectIfFits(const EstablishedBurst& b, FlowDirection& e,
                                                              TxBatch& batch, rte_mbuf* m, uint8_t* data) {
  const uint32_t pkt_len = rte_pktmbuf_pkt_len(m);
  const bool ipip = e.armed_rewrite == ArmedRewrite::kIpip6;
  const uint32_t tx_len = pkt_len + (ipip ? sizeof(rte_ipv4_hdr) : 0);
  if (batch.count == batch.packets.size() || tx_len > batch.max_frame_len) return kNotTaken;
  if (ipip) {
    if (rte_pktmbuf_headroom(m) < sizeof(rte_ipv4_hdr)) return kNotTaken;
    uint16_t payload_len_be;
    std::memcpy(&payload_len_be, data + kIpOffset + offsetof(rte_ipv6_hdr, payload_len), sizeof(payload_len_be));
    const auto inner_len = static_cast<uint16_t>(rte_be_to_cpu_16(payload_len_be) + sizeof(rte_ipv6_hdr));
    data = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, sizeof(rte_ipv4_hdr)));
    // Both MACs are written below: of the Ethernet header only the ethertype must move.
    setFrameEtherType(data, RTE_BE16(RTE_ETHER_TYPE_IPV4));
    writeIpipOuter(data + kIpOffset, inner_len, 0, e, IPPROTO_IPV6);
  }
  std::memcpy(data, e.l2_next_hop, sizeof(e.l2_next_hop));
  return queueArmed(b, e, batch, m, pkt_len, tx_len);
}

// Second pass for an IPv6 client frame screenIpv6Client took: when its flow's client line is armed
// as kNat64Client (DSR and IPIP lines: forwardIpv6DirectIfFits), the frame becomes the IPv4 packet to the
// backend, as ipv6_path.cc's forwardToBackend sends it: ports and L4 checksum from the line (the folded delta
// covers both pseudo-headers), the IPv4 header and L2 written where the IPv6 header ended, the frame
// 20 bytes shorter at its front. The same returns as forwardIfArmed; counted at the IPv4 length, as
// the slow path counts.
[[gnu::always_inline]] inline int32_t forwardIpv6IfArmed(const EstablishedBurst& b, rte_mbuf* m, uint8_t* data,
                                                         uint64_t ports_protocol, uint32_t tag) {
  uint64_t addresses[4];
  std::memcpy(addresses, data + kIpv6AddrsOffset, sizeof(addresses));
  FlowDirection* const found =
      b.lookup.findIpv6Client(addresses, ports_protocol & ~kIpv6ClientFrame, tag);
  if (found == nullptr || found->armed_epoch != b.epoch) [[unlikely]] return kNotTaken;
  FlowDirection& e = *found;
  TxBatch& batch = b.ctx.tx[e.egress_port];
  if (e.armed_rewrite != ArmedRewrite::kNat64Client) [[unlikely]] return forwardIpv6DirectIfFits(b, e, batch, m, data);
  const uint32_t tx_len = rte_pktmbuf_pkt_len(m) - kIpv6Growth;
  if (batch.count == batch.packets.size() || tx_len > batch.max_frame_len) [[unlikely]] return kNotTaken;

  const uint8_t* const ip6 = data + kIpOffset;
  uint32_t vtc_flow_be;
  uint16_t payload_len_be;
  std::memcpy(&vtc_flow_be, ip6 + offsetof(rte_ipv6_hdr, vtc_flow), sizeof(vtc_flow_be));
  std::memcpy(&payload_len_be, ip6 + offsetof(rte_ipv6_hdr, payload_len), sizeof(payload_len_be));
  const auto tos = static_cast<uint8_t>(rte_be_to_cpu_32(vtc_flow_be) >> 20);
  const uint8_t protocol = ip6[offsetof(rte_ipv6_hdr, proto)];
  const uint8_t hop_limit = ip6[offsetof(rte_ipv6_hdr, hop_limits)];
  const bool udp = protocol == IPPROTO_UDP;

  uint8_t* const l4 = data + kIpv6L4Offset;
  std::memcpy(l4, &e.rewrite_ports, sizeof(e.rewrite_ports));
  uint8_t* const l4_check = l4 + (udp ? offsetof(rte_udp_hdr, dgram_cksum) : offsetof(rte_tcp_hdr, cksum));
  uint16_t check;
  std::memcpy(&check, l4_check, sizeof(check));
  check = checksumApplyFolded(check, e.l4_check_delta);
  if (udp && check == 0) check = 0xffff;  // the screen took only datagrams with a checksum
  std::memcpy(l4_check, &check, sizeof(check));

  uint8_t* const frame = data + kIpv6Growth;
  const uint16_t total_len_be =
      rte_cpu_to_be_16(static_cast<uint16_t>(rte_be_to_cpu_16(payload_len_be) + sizeof(rte_ipv4_hdr)));
  writeNat64Ipv4Header(frame + kIpOffset, tos, total_len_be, hop_limit, protocol, e);
  std::memcpy(frame, e.l2_next_hop, sizeof(e.l2_next_hop));
  setFrameEtherType(frame, RTE_BE16(RTE_ETHER_TYPE_IPV4));
  rte_pktmbuf_adj(m, kIpv6Growth);  // the frame is one segment (screenIpv6Client): cannot fail
  return queueArmed(b, e, batch, m, tx_len, tx_len);
}

}  // namespace lb::dataplane
