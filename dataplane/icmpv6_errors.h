// ICMP errors of IPv6 clients' flows (NAT64, dataplane/ipv6_path.h), translated across the families
// as RFC 7915 maps them: ICMPv6 from the client's side to ICMPv4 for the backend (section 5.2), and
// ICMPv4 from the backend's side to ICMPv6 for the client (section 4.2).
//
// A router on the client's side that cannot pass a reply (an IPv6 tunnel's smaller MTU is the common
// case) sends "packet too big" to the VIP the reply came from. Only the flow's IPv4 backend can send
// smaller segments, and it understands ICMPv4 only: the error becomes "fragmentation needed" with the
// MTU less the 20 bytes the IPv6 header adds, from the flow's local address, quoting the segment as
// the backend sent it. Without this, an IPv6 client behind such a link would see its downloads stall
// (a path MTU discovery black hole).
#pragma once

#include <rte_mbuf.h>

#include <optional>

#include "dataplane/packet_parser.h"
#include "dataplane/packet_path.h"

namespace lb::dataplane {

// An ICMPv6 error to an IPv6 VIP (FrameKind::kIpv6). nullopt when it is not an error this handles
// (another type, a quote that is not a TCP/UDP reply from the VIP); the caller drops it.
std::optional<Verdict> forwardIcmpv6ToBackend(BurstState& s, rte_mbuf* m, ParsedFrame& f);

// The other direction: an ICMPv4 error from the backend side (a backend's "port unreachable", a
// router's "fragmentation needed") about a packet Tether sent for an IPv6 client's flow `e`, which
// relayIcmpError found. It becomes the ICMPv6 error RFC 7915 section 4.2 maps it to ("fragmentation
// needed" -> "packet too big" with the MTU plus 20), from the VIP to the client, quoting the client's
// own segment. `quoted_ip` is the quoted IPv4 header (`quoted_ihl` long); the message holds
// `quoted_available` bytes of the quoted packet, at least its first 8 L4 bytes.
Verdict relayIcmpToIpv6Client(BurstState& s, rte_mbuf* m, ParsedFrame& f, const FlowEntry& e, uint8_t* quoted_ip,
                              uint32_t quoted_ihl, uint32_t quoted_available);

// An IPv6 client's TCP/UDP packet (FrameKind::kIpv6) too large for the IPv4 link it is bound for
// (refuseIfTooBigOnceTranslated): the frame becomes, in place, ICMPv6 "packet too big" (RFC 4443
// section 3.2) from the address it was sent to, the VIP, to the client, announcing `mtu6` and quoting
// as much of the packet as a 1280-byte error holds. It leaves by the port it came in on, to the MAC it
// came from; the client's stack lowers its path MTU and sends smaller packets. Dropped as too_big
// instead when the lcore's ICMP error budget is spent (IcmpErrorBudget).
Verdict refuseTooBigV6(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint32_t mtu6);

}  // namespace lb::dataplane
