#include "dataplane/icmp_errors.h"

#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <cstring>

#include "dataplane/checksum.h"
#include "dataplane/established_path.h"
#include "dataplane/ether_frame.h"
#include "dataplane/icmpv6_errors.h"
#include "dataplane/ipv4_fragments.h"

namespace lb::dataplane {
namespace {

// RFC 792 message types; rte_icmp.h names only echo.
constexpr uint8_t kDestinationUnreachable = 3;
constexpr uint8_t kFragmentationNeeded = 4;  // code of kDestinationUnreachable
constexpr uint8_t kTimeExceeded = 11;
constexpr uint8_t kParameterProblem = 12;
constexpr uint32_t kIcmpHeaderLen = 8;
constexpr uint32_t kQuotedPayload = 8;  // what every error quotes at least after the IP header

bool isError(uint8_t type) {
  return type == kDestinationUnreachable || type == kTimeExceeded || type == kParameterProblem;
}

// The outer header of an ICMP message from `src` to `dst`, checksums of both the IP header and the
// whole ICMP message (`icmp_len` bytes from `icmp`) recomputed: these messages are rare, and a full
// sum is simpler to trust than a chain of incremental updates.
void sealIcmp(rte_ipv4_hdr* ip, uint32_t src, uint32_t dst, uint8_t* icmp, uint32_t icmp_len) {
  ip->src_addr = src;
  ip->dst_addr = dst;
  ip->time_to_live = kIpipTtl;
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* header = reinterpret_cast<rte_icmp_hdr*>(icmp);
  header->icmp_cksum = 0;
  header->icmp_cksum = static_cast<uint16_t>(~rte_raw_cksum(icmp, icmp_len));
}

// The packet an ICMP error quotes, when it is an IPv4 TCP or UDP packet with at least its first 8 L4
// bytes (both ports and, for TCP, the sequence number): all that relaying needs.
struct Quote {
  uint8_t* icmp;          // the ICMP header
  uint32_t icmp_len;      // the whole ICMP message, from the outer header's lengths
  rte_ipv4_hdr* ip;       // the quoted IP header
  uint8_t* l4;            // its L4 header
  uint32_t ihl;           // its IP header length
  uint32_t available;     // bytes of the quoted packet the message holds
  uint32_t ports;         // the first L4 word as stored: source port, destination port
  uint8_t protocol;
};

std::optional<Quote> quotedPacket(const ParsedFrame& f) {
  Quote q;
  q.icmp = static_cast<uint8_t*>(f.l4);
  if (!isError(reinterpret_cast<const rte_icmp_hdr*>(q.icmp)->icmp_type)) return std::nullopt;
  // Lengths come from the outer header, which the parser checked against the frame.
  q.icmp_len = rte_be_to_cpu_16(f.ip->total_length) - rte_ipv4_hdr_len(f.ip);
  if (q.icmp_len < kIcmpHeaderLen + sizeof(rte_ipv4_hdr) + kQuotedPayload) return std::nullopt;
  q.ip = reinterpret_cast<rte_ipv4_hdr*>(q.icmp + kIcmpHeaderLen);
  q.ihl = rte_ipv4_hdr_len(q.ip);
  q.available = q.icmp_len - kIcmpHeaderLen;
  if ((q.ip->version_ihl >> 4) != 4 || q.ihl < sizeof(rte_ipv4_hdr) || q.ihl + kQuotedPayload > q.available) {
    return std::nullopt;
  }
  q.protocol = q.ip->next_proto_id;
  if (q.protocol != IPPROTO_TCP && q.protocol != IPPROTO_UDP) return std::nullopt;
  q.l4 = reinterpret_cast<uint8_t*>(q.ip) + q.ihl;
  std::memcpy(&q.ports, q.l4, sizeof(q.ports));  // TCP and UDP both open with the two ports
  return q;
}

// Rewrites the quoted packet's addresses and ports (and TCP sequence number) to the given ones: its
// L4 checksum, when quoted and present, follows the change (a UDP zero stays zero); its IP header's
// is recomputed.
void rewriteQuote(const Quote& q, uint32_t src, uint32_t dst, uint32_t ports, uint32_t tcp_seq_be) {
  uint64_t delta = checksumDelta32(q.ip->src_addr, src) + checksumDelta32(q.ip->dst_addr, dst) +
                   checksumDelta32(q.ports, ports);
  constexpr uint32_t kSeqAt = offsetof(rte_tcp_hdr, sent_seq);
  uint32_t old_seq = 0;
  if (q.protocol == IPPROTO_TCP) {
    std::memcpy(&old_seq, q.l4 + kSeqAt, sizeof(old_seq));
    delta += checksumDelta32(old_seq, tcp_seq_be);
  }
  const uint32_t check_at = q.protocol == IPPROTO_UDP ? offsetof(rte_udp_hdr, dgram_cksum) : offsetof(rte_tcp_hdr, cksum);
  if (q.ihl + check_at + sizeof(uint16_t) <= q.available) {
    uint16_t check;
    std::memcpy(&check, q.l4 + check_at, sizeof(check));
    if (check != 0 || q.protocol == IPPROTO_TCP) {
      check = checksumApply(check, delta);
      if (check == 0 && q.protocol == IPPROTO_UDP) check = 0xffff;
      std::memcpy(q.l4 + check_at, &check, sizeof(check));
    }
  }
  q.ip->src_addr = src;
  q.ip->dst_addr = dst;
  std::memcpy(q.l4, &ports, sizeof(ports));
  if (q.protocol == IPPROTO_TCP) std::memcpy(q.l4 + kSeqAt, &tcp_seq_be, sizeof(tcp_seq_be));
  q.ip->hdr_checksum = 0;
  q.ip->hdr_checksum = rte_ipv4_cksum(q.ip);
}

// The 5-tuple of a packet answering the quoted one: the reply key of a packet Tether sent a backend,
// the client key of a reply Tether (or a DSR backend) sent a client.
hashing::FlowKeyV4 answerKey(const Quote& q) {
  hashing::FlowKeyV4 key;
  key.src_addr_be = q.ip->dst_addr;
  key.dst_addr_be = q.ip->src_addr;
  key.src_port_be = static_cast<uint16_t>(q.ports >> 16);
  key.dst_port_be = static_cast<uint16_t>(q.ports);
  key.protocol = q.protocol;
  return key;
}

uint32_t quotedSeq(const Quote& q) {
  uint32_t seq = 0;
  if (q.protocol == IPPROTO_TCP) std::memcpy(&seq, q.l4 + offsetof(rte_tcp_hdr, sent_seq), sizeof(seq));
  return seq;
}

}  // namespace

Verdict refuseTooBig(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint16_t usable_mtu) {
  rte_ipv4_hdr* ip = f.ip;
  if ((ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)) == 0 ||
      !s.ctx.icmp_errors.allow(s.now_tsc, s.snap.icmp_errors)) {
    return dropPacket(s, m, DropReason::kTooBig);
  }
  // The parser checked that the L4 header (at least 8 bytes) follows the IP header inside the frame.
  const uint32_t quote_len = rte_ipv4_hdr_len(ip) + kQuotedPayload;
  // Answered from the address the packet was sent to (the VIP, or a reply's local address).
  const uint32_t packet_source = ip->src_addr;
  const uint32_t packet_destination = ip->dst_addr;
  const rte_ether_addr sender = frameSourceMac(m);
  uint8_t* const icmp = reinterpret_cast<uint8_t*>(ip) + sizeof(rte_ipv4_hdr);
  std::memmove(icmp + kIcmpHeaderLen, ip, quote_len);
  const uint16_t ip_len = static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + kIcmpHeaderLen + quote_len);
  *ip = rte_ipv4_hdr{};
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->total_length = rte_cpu_to_be_16(ip_len);
  ip->next_proto_id = IPPROTO_ICMP;
  auto* header = reinterpret_cast<rte_icmp_hdr*>(icmp);
  header->icmp_type = kDestinationUnreachable;
  header->icmp_code = kFragmentationNeeded;
  header->icmp_ident = 0;                               // unused
  header->icmp_seq_nb = rte_cpu_to_be_16(usable_mtu);  // next-hop MTU (RFC 1191)
  sealIcmp(ip, packet_destination, packet_source, icmp, kIcmpHeaderLen + quote_len);
  keepFirstSegment(m);
  rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - f.l2_len - ip_len));
  const LocalPort& port = s.snap.ports[s.rx_port];
  if (!writeL2(m, f.l2_len, port.vlan, sender, port.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  s.ctx.counters->icmp_too_big.inc();
  queueTx(s, m, s.rx_port);
  return Verdict{VerdictKind::kAnswered, DropReason::kCount, s.rx_port};
}

std::optional<Verdict> relayIcmpError(BurstState& s, rte_mbuf* m, ParsedFrame& f) {
  const std::optional<Quote> q = quotedPacket(f);
  // The quoted packet is one Tether sent: local address:local port -> backend:port.
  if (!q) return std::nullopt;
  const uint16_t local_port = rte_be_to_cpu_16(static_cast<uint16_t>(q->ports));
  if (q->ip->src_addr != f.key.dst_addr_be || !s.ctx.ports.contains(local_port)) return std::nullopt;

  const uint16_t owner = s.ctx.ports.ownerOf(local_port);
  if (owner != s.ctx.worker_index) return handOffToOwner(s, m, owner);
  const hashing::FlowKeyV4 reply = answerKey(*q);
  const FlowEntry* e = s.ctx.flows.findByReply(reply, s.ctx.flows.hashKey(reply));
  // A spliced flow's client -> backend segments keep the client's sequence numbers and their length
  // (tcp_splice.h), so the quote's sequence number, which the client's stack checks, is already its
  // own. An error about a flow still being bound is about our SYN to a backend, not the client's.
  if (e == nullptr || e->proxy_phase == ProxyPhase::kBinding) return dropPacket(s, m, DropReason::kNoFlow);
  if (e->client_v6) {
    return relayIcmpToIpv6Client(s, m, f, *e, reinterpret_cast<uint8_t*>(q->ip), q->ihl, q->available);
  }

  // Back to what the client sent: client:port -> VIP:port.
  const uint32_t client_ports = uint32_t{e->to_backend.key.src_port_be} | uint32_t{e->to_backend.key.dst_port_be} << 16;
  rewriteQuote(*q, e->to_backend.key.src_addr_be, e->to_backend.key.dst_addr_be, client_ports, quotedSeq(*q));
  sealIcmp(f.ip, e->to_backend.key.dst_addr_be, e->to_backend.key.src_addr_be, q->icmp, q->icmp_len);

  const LocalPort& out = s.snap.ports[e->to_client.egress_port];
  if (!writeL2(m, f.l2_len, out.vlan, e->client_mac, out.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  s.ctx.counters->icmp_relayed.inc();
  queueTx(s, m, e->to_client.egress_port);
  return Verdict{VerdictKind::kForwarded, DropReason::kCount, e->to_client.egress_port};
}

std::optional<Verdict> forwardIcmpToBackend(BurstState& s, rte_mbuf* m, ParsedFrame& f) {
  const std::optional<Quote> q = quotedPacket(f);
  // The quoted packet is a reply the client was sent: VIP:port -> client:port.
  if (!q || q->ip->src_addr != f.key.dst_addr_be) return std::nullopt;
  const hashing::FlowKeyV4 client = answerKey(*q);
  // Nothing names the lcore owning a client key (RSS chose it), and RSS gives every error from one
  // router to one VIP the same lcore: not found here, the error walks on to the next lcore, counting
  // the lcores it has seen, until one has the flow or all have said no. Errors are rare; a walk costs
  // at most workers - 1 hand-offs. An error about a flow still being bound is about our SYN-ACK, which
  // the backend never sent.
  FlowEntry* const e = s.ctx.flows.findByClient(client, s.ctx.flows.hashKey(client));
  if (e == nullptr) {
    if (!mayWalkOn(s)) return dropPacket(s, m, DropReason::kNoFlow);
    return walkOn(s, m);
  }
  if (e->proxy_phase == ProxyPhase::kBinding) return dropPacket(s, m, DropReason::kNoFlow);

  const LocalPort& egress = s.snap.ports[e->to_backend.egress_port];
  switch (e->forwarding) {
    case ForwardingMode::kDsrL2:
      break;  // the backend holds the VIP: the message already reads as addressed to it
    case ForwardingMode::kDsrIpip:
      if (rte_be_to_cpu_16(f.ip->total_length) + sizeof(rte_ipv4_hdr) > egress.mtu) {
        return dropPacket(s, m, DropReason::kTooBig);
      }
      if (!encapsulateIpip(m, f, *e)) return dropPacket(s, m, DropReason::kNoHeadroom);
      break;
    case ForwardingMode::kFullNat: {
      // To what the backend sent: backend:port -> local address:local port, and a spliced flow's
      // sequence number back into the backend's space (the client saw it moved by seq_delta).
      const uint32_t backend_ports = uint32_t{e->backend_port_be} | uint32_t{e->local_port_be} << 16;
      uint32_t seq = quotedSeq(*q);
      if (e->proxy_phase == ProxyPhase::kSpliced) seq = rte_cpu_to_be_32(rte_be_to_cpu_32(seq) - e->splice.seq_delta);
      rewriteQuote(*q, e->backend_address_be, e->local_address_be, backend_ports, seq);
      sealIcmp(f.ip, e->local_address_be, e->backend_address_be, q->icmp, q->icmp_len);
      break;
    }
  }
  if (!writeL2(m, f.l2_len, egress.vlan, e->backend_mac, egress.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  s.ctx.counters->icmp_to_backend.inc();
  queueTx(s, m, e->to_backend.egress_port);
  return Verdict{VerdictKind::kForwarded, DropReason::kCount, e->to_backend.egress_port};
}

}  // namespace lb::dataplane
