// IPv6 clients. A port with an IPv6 address answers neighbour solicitations (RFC 4861) and echo
// requests for that address and for the IPv6 VIPs, and balances TCP and UDP to an IPv6 service onto
// its IPv4 backends by full-NAT with header translation (RFC 7915's IPv6 -> IPv4 mapping, as DPVS's
// NAT64): the client's packet leaves from a local IPv4 address and port, the backend's reply comes
// back to it and is translated into IPv6 from the VIP. Backends, health checks and the neighbour table
// stay IPv4, so an IPv4-only application gains IPv6 clients unchanged.
//
// HTTP services on an IPv6 VIP take the SYN proxy (syn_proxy.h) as IPv4 ones do: cookies and flows
// keyed by the IPv6 client, the backend connection from a local IPv4 endpoint, and each spliced segment
// translated by the splice first and NAT64 second (one checksum update for both).
//
// A plain flow is armed in both directions like full-NAT's, and the established path translates
// its packets itself: the client's IPv6 packets into IPv4 (ArmedRewrite::kNat64Client), the backend's
// replies into IPv6 (kNat64Reply). Replies go to the MAC
// the client's packets came from, as full-NAT's IPv4 replies do, so Tether never solicits an IPv6
// neighbour itself.
#pragma once

#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>
#include <optional>

#include "dataplane/flow_table.h"
#include "dataplane/packet_parser.h"
#include "dataplane/packet_path.h"

namespace lb::dataplane {

inline constexpr uint32_t kMinIpv6Mtu = 1280;  // RFC 8200 section 5; also the largest ICMPv6 error (RFC 4443 2.4)

// A frame the parser took as IPv6 (FrameKind::kIpv6) on an ordinary port.
Verdict processIpv6(BurstState& s, rte_mbuf* m, ParsedFrame& f);

// A backend's reply on an IPv6 client's flow (FlowEntry::client_v6) that returnToClient found and
// accounted: ports and L4 checksum back to the client's, then the IPv4 header replaced by IPv6 from
// the VIP to the client. `f` describes the IPv4 frame as received (after any splice translation, whose
// TCP checksum delta is `extra_l4_delta`); it describes the IPv6 frame afterwards.
Verdict returnToIpv6Client(BurstState& s, rte_mbuf* m, ParsedFrame& f, FlowEntry& e, uint64_t extra_l4_delta = 0);

// Writes a whole IPv6 header (flow label 0), for a packet Tether builds or translates into IPv6.
inline void writeIpv6Header(rte_ipv6_hdr* ip6, uint8_t traffic_class, uint16_t payload_len, uint8_t proto,
                            uint8_t hop_limit, const Ipv6Bytes& src, const Ipv6Bytes& dst) {
  ip6->vtc_flow = rte_cpu_to_be_32((6u << 28) | (uint32_t{traffic_class} << 20));
  ip6->payload_len = rte_cpu_to_be_16(payload_len);
  ip6->proto = proto;
  ip6->hop_limits = hop_limit;
  std::memcpy(ip6->src_addr, src.data(), src.size());
  std::memcpy(ip6->dst_addr, dst.data(), dst.size());
}

// Precomputes an IPv6 client flow's NAT64 rewrite once its local endpoint and backend are set: the
// IPv4 address and port words, and both directions' folded L4 checksum deltas.
void armNat64(FlowEntry& e);

// The client's IPv6 packet becomes the IPv4 packet full-NAT sends: ports and L4 checksum from the
// flow's precomputed values (plus `extra_l4_delta`, the splice's), then a new IPv4 header (traffic
// class, hop limit and protocol carried over, RFC 7915 section 5.1) and the Ethernet header just
// before the L4 header, which stays where it is. DF is set when the packet fits `egress_mtu`, clear
// when it must leave in fragments (see refuseIfTooBigOnceTranslated). The frame shrinks by the
// difference, taken off its front; `f` describes the IPv4 frame afterwards.
void translateToIpv4(rte_mbuf* m, ParsedFrame& f, const FlowEntry& e, uint16_t egress_mtu,
                     uint64_t extra_l4_delta = 0);

// RFC 7915 section 5.1: toward IPv4 the translator acts as a router. A client packet larger than
// IPv6's minimum MTU that will not fit `egress_mtu` once translated is answered with "packet too big"
// (refuseTooBigV6), announcing the IPv6 MTU that fits and never less than 1280, so the client's path
// MTU discovery works across the translation. A packet within 1280 bytes cannot be made smaller by
// its sender: it is translated without DF and leaves in fragments (an IPv4 link below 1260 bytes).
// nullopt when the packet is to be translated and queued with queueFitted.
std::optional<Verdict> refuseIfTooBigOnceTranslated(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint16_t egress_mtu);

}  // namespace lb::dataplane
