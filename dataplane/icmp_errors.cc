#include "dataplane/icmp_errors.h"

#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <cstring>

#include "dataplane/checksum.h"
#include "dataplane/established_path.h"

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

}  // namespace

Verdict refuseTooBig(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint16_t usable_mtu) {
  rte_ipv4_hdr* ip = f.ip;
  if ((ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)) == 0) return dropPacket(s, m, DropReason::kTooBig);
  // The parser checked that the L4 header (at least 8 bytes) follows the IP header inside the frame.
  const uint32_t quote_len = rte_ipv4_hdr_len(ip) + kQuotedPayload;
  const uint32_t client = ip->src_addr;
  const uint32_t vip = ip->dst_addr;
  const rte_ether_addr sender = rte_pktmbuf_mtod(m, const rte_ether_hdr*)->src_addr;
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
  sealIcmp(ip, vip, client, icmp, kIcmpHeaderLen + quote_len);
  rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - f.l2_len - ip_len));
  const LocalPort& port = s.snap.ports[s.rx_port];
  if (!writeL2(m, f.l2_len, port.vlan, sender, port.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  s.ctx.counters->icmp_too_big.inc();
  queueTx(s, m, s.rx_port);
  return Verdict{VerdictKind::kAnswered, DropReason::kCount, s.rx_port};
}

std::optional<Verdict> relayIcmpError(BurstState& s, rte_mbuf* m, ParsedFrame& f) {
  auto* icmp = static_cast<uint8_t*>(f.l4);
  if (!isError(reinterpret_cast<const rte_icmp_hdr*>(icmp)->icmp_type)) return std::nullopt;
  // Lengths come from the outer header, which the parser checked against the frame.
  const uint32_t icmp_len = rte_be_to_cpu_16(f.ip->total_length) - rte_ipv4_hdr_len(f.ip);
  if (icmp_len < kIcmpHeaderLen + sizeof(rte_ipv4_hdr) + kQuotedPayload) return std::nullopt;
  auto* quoted = reinterpret_cast<rte_ipv4_hdr*>(icmp + kIcmpHeaderLen);
  const uint32_t quoted_ihl = rte_ipv4_hdr_len(quoted);
  const uint32_t available = icmp_len - kIcmpHeaderLen;  // bytes of the quoted packet we have
  if ((quoted->version_ihl >> 4) != 4 || quoted_ihl < sizeof(rte_ipv4_hdr) ||
      quoted_ihl + kQuotedPayload > available) {
    return std::nullopt;
  }
  const uint8_t protocol = quoted->next_proto_id;
  if (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP) return std::nullopt;
  // The quoted packet is one Tether sent: local address:local port -> backend:port.
  uint8_t* const quoted_l4 = reinterpret_cast<uint8_t*>(quoted) + quoted_ihl;
  uint32_t quoted_ports;  // TCP and UDP both open with the two ports
  std::memcpy(&quoted_ports, quoted_l4, sizeof(quoted_ports));
  const uint16_t local_port = rte_be_to_cpu_16(static_cast<uint16_t>(quoted_ports));
  if (quoted->src_addr != f.key.dst_addr_be || !s.ctx.ports.contains(local_port)) return std::nullopt;

  const uint16_t owner = s.ctx.ports.ownerOf(local_port);
  if (owner != s.ctx.worker_index) return handOffToOwner(s, m, owner);
  hashing::FlowKeyV4 reply;
  reply.src_addr_be = quoted->dst_addr;
  reply.dst_addr_be = quoted->src_addr;
  reply.src_port_be = static_cast<uint16_t>(quoted_ports >> 16);
  reply.dst_port_be = static_cast<uint16_t>(quoted_ports);
  reply.protocol = protocol;
  const FlowEntry* e = s.ctx.flows.findByReply(reply, s.ctx.flows.hashKey(reply));
  // A spliced flow's client -> backend segments keep the client's sequence numbers and their length
  // (tcp_splice.h), so the quote's sequence number, which the client's stack checks, is already its
  // own. An error about a flow still being bound is about our SYN to a backend, not the client's.
  if (e == nullptr || e->proxy_phase == ProxyPhase::kBinding) return dropPacket(s, m, DropReason::kNoFlow);

  // Back to what the client sent: client:port -> VIP:port. A checksum the quote holds follows the
  // change (a UDP zero stays zero); the quoted IP header's is recomputed.
  const uint32_t client_ports = uint32_t{e->client_key.src_port_be} | uint32_t{e->client_key.dst_port_be} << 16;
  const uint32_t check_at = protocol == IPPROTO_UDP ? offsetof(rte_udp_hdr, dgram_cksum) : offsetof(rte_tcp_hdr, cksum);
  if (quoted_ihl + check_at + sizeof(uint16_t) <= available) {
    uint16_t check;
    std::memcpy(&check, quoted_l4 + check_at, sizeof(check));
    if (check != 0 || protocol == IPPROTO_TCP) {
      const uint64_t delta = checksumDelta32(quoted->src_addr, e->client_key.src_addr_be) +
                             checksumDelta32(quoted->dst_addr, e->client_key.dst_addr_be) +
                             checksumDelta32(quoted_ports, client_ports);
      check = checksumApply(check, delta);
      if (check == 0 && protocol == IPPROTO_UDP) check = 0xffff;
      std::memcpy(quoted_l4 + check_at, &check, sizeof(check));
    }
  }
  quoted->src_addr = e->client_key.src_addr_be;
  quoted->dst_addr = e->client_key.dst_addr_be;
  std::memcpy(quoted_l4, &client_ports, sizeof(client_ports));
  quoted->hdr_checksum = 0;
  quoted->hdr_checksum = rte_ipv4_cksum(quoted);
  sealIcmp(f.ip, e->client_key.dst_addr_be, e->client_key.src_addr_be, icmp, icmp_len);

  const LocalPort& out = s.snap.ports[e->ingress_port];
  if (!writeL2(m, f.l2_len, out.vlan, e->client_mac, out.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  s.ctx.counters->icmp_relayed.inc();
  queueTx(s, m, e->ingress_port);
  return Verdict{VerdictKind::kForwarded, DropReason::kCount, e->ingress_port};
}

}  // namespace lb::dataplane
