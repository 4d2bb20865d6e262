#include "dataplane/tcp_splice.h"

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include <cstring>

#include "dataplane/checksum.h"
#include "dataplane/ipv4_fragments.h"

namespace lb::dataplane {
namespace {

constexpr uint8_t kTsInsertLen = 12;  // NOP NOP kind len TSval TSecr: keeps the option word aligned
constexpr uint8_t kTcpMaxHeaderLen = 60;

uint64_t delta16(uint16_t old_value, uint16_t new_value) {
  return uint64_t{static_cast<uint16_t>(~old_value)} + new_value;
}

uint64_t replaceSum(uint32_t old_sum, uint32_t new_sum) {
  return uint64_t{static_cast<uint16_t>(~checksumFold(old_sum))} + new_sum;
}

// The options area of a parsed TCP frame, checked against the IP header's length.
TcpOptionsArea optionsOf(const ParsedFrame& f) { return tcpOptionsArea(static_cast<uint8_t*>(f.l4), segmentLength(f)); }

uint16_t tcpHeaderLength(const rte_tcp_hdr* tcp) { return static_cast<uint16_t>((tcp->data_off >> 4) * 4u); }

}  // namespace

uint32_t wordSum(const uint8_t* area, size_t begin, size_t end) {
  uint32_t sum = 0;
  for (size_t i = begin & ~size_t{1}; i < ((end + 1) & ~size_t{1}); i += 2) {
    uint16_t word;
    std::memcpy(&word, area + i, sizeof(word));
    sum += word;
  }
  return sum;
}

uint64_t nopOut(uint8_t* options, size_t begin, size_t end) {
  const uint32_t old_sum = wordSum(options, begin, end);
  std::memset(options + begin, tcp_option::kNop, end - begin);
  return replaceSum(old_sum, wordSum(options, begin, end));
}

bool parseSegmentOptions(const ParsedFrame& f, TcpOptionsArea& area, TcpOptions& parsed) {
  area = optionsOf(f);
  if (area.error != TcpOptionsError::kNone) return false;
  parsed = TcpOptions{};
  return area.bytes.empty() || parseTcpOptions(area.bytes, parsed) == TcpOptionsError::kNone;
}

uint32_t segmentLength(const ParsedFrame& f) {
  if (f.kind == FrameKind::kIpv6) return f.l4_len;  // the parser checked it against the frame
  const uint32_t ip_total = rte_be_to_cpu_16(f.ip->total_length);
  return ip_total > f.l3_len ? ip_total - f.l3_len : 0;
}

uint32_t tcpPayloadLength(const ParsedFrame& f) {
  const uint32_t segment = segmentLength(f);
  const uint32_t header = tcpHeaderLength(static_cast<const rte_tcp_hdr*>(f.l4));
  return segment > header ? segment - header : 0;
}

void setSegmentLength(ParsedFrame& f, uint16_t length) {
  if (f.kind == FrameKind::kIpv6) {
    f.ip6->payload_len = rte_cpu_to_be_16(length);
    f.l4_len = length;
  } else {
    f.ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(f.l3_len + length));
  }
}

void swapAddresses(ParsedFrame& f) {
  if (f.kind == FrameKind::kIpv6) {
    uint8_t sender[sizeof(f.ip6->src_addr)];
    std::memcpy(sender, f.ip6->src_addr, sizeof(sender));
    std::memcpy(f.ip6->src_addr, f.ip6->dst_addr, sizeof(sender));
    std::memcpy(f.ip6->dst_addr, sender, sizeof(sender));
  } else {
    const uint32_t sender = f.ip->src_addr;
    f.ip->src_addr = f.ip->dst_addr;
    f.ip->dst_addr = sender;
  }
}

void finishHeaders(const ParsedFrame& f) {
  auto* tcp = static_cast<rte_tcp_hdr*>(f.l4);
  tcp->cksum = 0;
  if (f.kind == FrameKind::kIpv6) {
    tcp->cksum = rte_ipv6_udptcp_cksum(f.ip6, tcp);
    return;
  }
  f.ip->hdr_checksum = 0;
  f.ip->hdr_checksum = rte_ipv4_cksum(f.ip);
  tcp->cksum = rte_ipv4_udptcp_cksum(f.ip, tcp);
}

SpliceError spliceClientToBackend(const ParsedFrame& f, SpliceState& st, uint64_t& l4_delta) {
  auto* tcp = static_cast<rte_tcp_hdr*>(f.l4);
  TcpOptionsArea area;
  TcpOptions parsed;
  if (!parseSegmentOptions(f, area, parsed)) return SpliceError::kBadOptions;
  uint64_t delta = 0;
  if (tcp->tcp_flags & RTE_TCP_ACK_FLAG) {
    const uint32_t old_ack = tcp->recv_ack;
    const uint32_t new_ack = rte_cpu_to_be_32(rte_be_to_cpu_32(old_ack) - st.seq_delta);
    tcp->recv_ack = new_ack;
    delta += checksumDelta32(old_ack, new_ack);
  }
  if (!(tcp->tcp_flags & RTE_TCP_SYN_FLAG)) {  // a SYN's window is never scaled (RFC 7323 2.2)
    const uint16_t old_win = tcp->rx_win;
    const uint16_t new_win =
        rte_cpu_to_be_16(rescaleWindow(rte_be_to_cpu_16(old_win), st.client_shift, st.backend_reads_shift));
    tcp->rx_win = new_win;
    delta += delta16(old_win, new_win);
  }
  if (parsed.has_timestamps) {
    st.client_tsval = parsed.tsval;
    if (st.flags & SpliceState::kTranslateTs) {
      delta += translateTimestamps(area.bytes, parsed, st.client_ts_delta, 0u - st.ts_delta);
    } else if (st.flags & SpliceState::kInsertTs) {
      delta += nopOut(area.bytes.data(), parsed.ts_offset, parsed.ts_offset + tcp_option::kTimestampsLen);
    }
  }
  if (parsed.sack_count != 0) {
    if (st.flags & SpliceState::kStripSack) {
      delta += nopOut(area.bytes.data(), parsed.sack_offset,
                      parsed.sack_offset + 2u + tcp_option::kSackBlockLen * parsed.sack_count);
    } else {
      delta += translateSackBlocks(area.bytes, parsed, 0u - st.seq_delta);
    }
  }
  l4_delta += delta;
  return SpliceError::kNone;
}

SpliceError spliceBackendToClient(rte_mbuf* m, ParsedFrame& f, SpliceState& st, uint32_t now_ms,
                                  uint64_t& l4_delta, uint64_t& ip_delta) {
  auto* tcp = static_cast<rte_tcp_hdr*>(f.l4);
  TcpOptionsArea area;
  TcpOptions parsed;
  if (!parseSegmentOptions(f, area, parsed)) return SpliceError::kBadOptions;
  const uint16_t header_len = tcpHeaderLength(tcp);
  const bool insert_ts = (st.flags & SpliceState::kInsertTs) && !parsed.has_timestamps &&
                         !(tcp->tcp_flags & RTE_TCP_RST_FLAG) && header_len + kTsInsertLen <= kTcpMaxHeaderLen;
  // Room is checked before anything is written, so a refused packet is left as it came.
  if (insert_ts && rte_pktmbuf_headroom(m) < kTsInsertLen) return SpliceError::kNoHeadroom;

  uint64_t delta = 0;
  const uint32_t old_seq = tcp->sent_seq;
  const uint32_t new_seq = rte_cpu_to_be_32(rte_be_to_cpu_32(old_seq) + st.seq_delta);
  tcp->sent_seq = new_seq;
  delta += checksumDelta32(old_seq, new_seq);
  if (!(tcp->tcp_flags & RTE_TCP_SYN_FLAG)) {
    const uint16_t old_win = tcp->rx_win;
    const uint16_t new_win =
        rte_cpu_to_be_16(rescaleWindow(rte_be_to_cpu_16(old_win), st.backend_shift, st.client_reads_shift));
    tcp->rx_win = new_win;
    delta += delta16(old_win, new_win);
  }
  if (parsed.has_timestamps && (st.flags & SpliceState::kTranslateTs)) {
    delta += translateTimestamps(area.bytes, parsed, st.ts_delta, 0u - st.client_ts_delta);
  }
  if (insert_ts) {
    // Grow the header by 12 bytes at the end of the options: move everything before the payload 12
    // bytes toward the front. The payload keeps its parity (12 is even), so its words' sum is
    // unchanged; only the inserted words, the data offset and the lengths enter the checksums.
    const uint16_t headers = static_cast<uint16_t>(f.l2_len + f.l3_len + header_len);
    auto* start = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, kTsInsertLen));
    std::memmove(start, start + kTsInsertLen, headers);
    f.ip = reinterpret_cast<rte_ipv4_hdr*>(start + f.l2_len);
    f.l4 = start + f.l2_len + f.l3_len;
    tcp = static_cast<rte_tcp_hdr*>(f.l4);
    uint8_t* opt = reinterpret_cast<uint8_t*>(tcp) + header_len;
    opt[0] = tcp_option::kNop;
    opt[1] = tcp_option::kNop;
    opt[2] = tcp_option::kTimestamps;
    opt[3] = tcp_option::kTimestampsLen;
    const uint32_t tsval_be = rte_cpu_to_be_32(now_ms + st.our_ts_base);
    const uint32_t tsecr_be = rte_cpu_to_be_32(st.client_tsval);
    std::memcpy(opt + 4, &tsval_be, 4);
    std::memcpy(opt + 8, &tsecr_be, 4);
    delta += wordSum(opt, 0, kTsInsertLen);

    uint16_t old_word;
    std::memcpy(&old_word, reinterpret_cast<uint8_t*>(tcp) + 12, 2);
    tcp->data_off = static_cast<uint8_t>(((header_len + kTsInsertLen) / 4) << 4);
    uint16_t new_word;
    std::memcpy(&new_word, reinterpret_cast<uint8_t*>(tcp) + 12, 2);
    delta += delta16(old_word, new_word);

    const uint16_t old_total = f.ip->total_length;
    const uint16_t new_total = rte_cpu_to_be_16(static_cast<uint16_t>(rte_be_to_cpu_16(old_total) + kTsInsertLen));
    f.ip->total_length = new_total;
    ip_delta += delta16(old_total, new_total);
    // The pseudo-header's TCP length grows by the same 12.
    const uint16_t old_tcp_len = rte_cpu_to_be_16(static_cast<uint16_t>(rte_be_to_cpu_16(old_total) - f.l3_len));
    const uint16_t new_tcp_len = rte_cpu_to_be_16(static_cast<uint16_t>(rte_be_to_cpu_16(new_total) - f.l3_len));
    delta += delta16(old_tcp_len, new_tcp_len);
  }
  l4_delta += delta;
  return SpliceError::kNone;
}

void turnIntoReset(rte_mbuf* m, ParsedFrame& f) {
  auto* tcp = static_cast<rte_tcp_hdr*>(f.l4);
  const uint32_t payload = tcpPayloadLength(f);
  const uint32_t seq_span = payload + ((tcp->tcp_flags & RTE_TCP_SYN_FLAG) ? 1 : 0) +
                            ((tcp->tcp_flags & RTE_TCP_FIN_FLAG) ? 1 : 0);
  const bool had_ack = (tcp->tcp_flags & RTE_TCP_ACK_FLAG) != 0;
  const uint32_t their_seq = rte_be_to_cpu_32(tcp->sent_seq);
  tcp->sent_seq = had_ack ? tcp->recv_ack : 0;
  tcp->recv_ack = rte_cpu_to_be_32(their_seq + seq_span);
  tcp->tcp_flags = RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG;
  tcp->data_off = 5 << 4;
  tcp->rx_win = 0;
  tcp->tcp_urp = 0;
  const uint16_t their_port = tcp->src_port;
  tcp->src_port = tcp->dst_port;
  tcp->dst_port = their_port;
  swapAddresses(f);
  setSegmentLength(f, sizeof(rte_tcp_hdr));
  if (f.kind == FrameKind::kIpv6) {
    f.ip6->hop_limits = 64;
  } else {
    f.ip->time_to_live = 64;
  }
  finishHeaders(f);
  keepFirstSegment(m);
  rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - (f.l2_len + f.l3_len + sizeof(rte_tcp_hdr))));
}

bool turnIntoSynAck(rte_mbuf* m, ParsedFrame& f, uint32_t seq, uint32_t ack, uint16_t window,
                    const uint8_t* options, uint8_t options_len) {
  if (m->nb_segs != 1) return false;
  const bool v6 = f.kind == FrameKind::kIpv6;
  // IPv4 options are dropped (the header becomes 20 bytes); IPv6 has no extension headers here.
  const uint16_t l3_len = v6 ? sizeof(rte_ipv6_hdr) : sizeof(rte_ipv4_hdr);
  const auto* in_tcp = static_cast<const rte_tcp_hdr*>(f.l4);
  const uint16_t client_port = in_tcp->src_port;
  const uint16_t vip_port = in_tcp->dst_port;
  uint32_t client_addr = 0, vip_addr = 0;
  if (!v6) {
    client_addr = f.ip->src_addr;
    vip_addr = f.ip->dst_addr;
  }
  const uint32_t needed = f.l2_len + l3_len + sizeof(rte_tcp_hdr) + options_len;
  const uint32_t have = rte_pktmbuf_pkt_len(m);
  if (have < needed) {
    if (rte_pktmbuf_append(m, static_cast<uint16_t>(needed - have)) == nullptr) return false;
  } else if (have > needed) {
    rte_pktmbuf_trim(m, static_cast<uint16_t>(have - needed));
  }
  uint8_t* l3 = rte_pktmbuf_mtod_offset(m, uint8_t*, f.l2_len);
  auto* tcp = reinterpret_cast<rte_tcp_hdr*>(l3 + l3_len);
  const auto segment_len = static_cast<uint16_t>(sizeof(rte_tcp_hdr) + options_len);
  if (v6) {
    swapAddresses(f);
    f.ip6->vtc_flow = RTE_BE32(6u << 28);
    f.ip6->payload_len = rte_cpu_to_be_16(segment_len);
    f.ip6->hop_limits = 64;
    f.l4_len = segment_len;
  } else {
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(l3);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->type_of_service = 0;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(l3_len + segment_len));
    ip->packet_id = 0;
    ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_TCP;
    ip->src_addr = vip_addr;
    ip->dst_addr = client_addr;
    f.ip = ip;
  }
  tcp->src_port = vip_port;
  tcp->dst_port = client_port;
  tcp->sent_seq = rte_cpu_to_be_32(seq);
  tcp->recv_ack = rte_cpu_to_be_32(ack);
  tcp->data_off = static_cast<uint8_t>(((sizeof(rte_tcp_hdr) + options_len) / 4) << 4);
  tcp->tcp_flags = RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG;
  tcp->rx_win = rte_cpu_to_be_16(window);
  tcp->tcp_urp = 0;
  std::memcpy(tcp + 1, options, options_len);
  f.l4 = tcp;
  f.l3_len = l3_len;
  finishHeaders(f);
  return true;
}

rte_mbuf* buildSyn(rte_mempool* pool, const SynSegment& syn) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  std::array<uint8_t, kSynAckOptionsMaxLen> options{};
  const size_t options_len = writeSynAckOptions(options, SynAckOptions{.mss = syn.mss,
                                                                       .window_scale = syn.window_scale,
                                                                       .sack_permitted = syn.sack_permitted,
                                                                       .timestamps = syn.timestamps,
                                                                       .tsval = syn.tsval,
                                                                       .tsecr = 0});
  const uint16_t l2_len = syn.vlan != 0 ? sizeof(rte_ether_hdr) + sizeof(rte_vlan_hdr) : sizeof(rte_ether_hdr);
  const uint16_t l3_total = static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + sizeof(rte_tcp_hdr) + options_len);
  auto* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(l2_len + l3_total)));
  if (data == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
  eth->dst_addr = syn.dst_mac;
  eth->src_addr = syn.src_mac;
  if (syn.vlan != 0) {
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_VLAN);
    auto* vlan = reinterpret_cast<rte_vlan_hdr*>(eth + 1);
    vlan->vlan_tci = rte_cpu_to_be_16(syn.vlan);
    vlan->eth_proto = RTE_BE16(RTE_ETHER_TYPE_IPV4);
  } else {
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
  }
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(data + l2_len);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->type_of_service = 0;
  ip->total_length = rte_cpu_to_be_16(l3_total);
  ip->packet_id = 0;
  ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_TCP;
  ip->src_addr = syn.src_addr_be;
  ip->dst_addr = syn.dst_addr_be;
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* tcp = reinterpret_cast<rte_tcp_hdr*>(ip + 1);
  tcp->src_port = syn.src_port_be;
  tcp->dst_port = syn.dst_port_be;
  tcp->sent_seq = rte_cpu_to_be_32(syn.seq);
  tcp->recv_ack = 0;
  tcp->data_off = static_cast<uint8_t>(((sizeof(rte_tcp_hdr) + options_len) / 4) << 4);
  tcp->tcp_flags = RTE_TCP_SYN_FLAG;
  tcp->rx_win = rte_cpu_to_be_16(syn.window);
  tcp->tcp_urp = 0;
  std::memcpy(tcp + 1, options.data(), options_len);
  tcp->cksum = 0;
  tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
  return m;
}

}  // namespace lb::dataplane
