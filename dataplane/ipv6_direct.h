// IPv6 clients of a DSR or IPIP service: the backends are dual-stack hosts, configured and resolved
// by their IPv4 address as every backend is, that hold the IPv6 VIP on a loopback or tunnel device
// and answer the client directly, as they do for IPv4 VIPs. Nothing is translated:
//  - dsr: the client's IPv6 frame leaves with the backend's MAC and the port's (ArmedRewrite::kDsrL2);
//  - ipip: the IPv6 packet leaves inside an IPv4 header from the port's address to the backend's,
//    protocol 41 (RFC 4213 section 3.5, "6in4"; Linux's `sit` device decapsulates it), DF clear as
//    section 3.2 asks of a tunnel with a static MTU (ArmedRewrite::kIpip6).
// An IPv6 packet the backend's link cannot carry (for IPIP, once encapsulated) is answered with
// "packet too big", as a router answers it; IPv6 packets are never fragmented on the way. A
// client-side ICMPv6 error about a backend's reply reaches that backend the same way as the flow's
// packets, so its kernel lowers the path MTU to the client.
#pragma once

#include <rte_mbuf.h>

#include "dataplane/flow_table.h"
#include "dataplane/packet_parser.h"
#include "dataplane/packet_path.h"

namespace lb::dataplane {

// A client packet of an IPv6 flow `e` whose forwarding is DSR or IPIP, found or created and accounted
// (state, last seen) by the caller: checked against the egress MTU, encapsulated for IPIP, sent to
// the backend's MAC, and the flow's client line armed for the established path when it may be.
Verdict forwardIpv6Direct(BurstState& s, rte_mbuf* m, ParsedFrame& f, FlowEntry& e);

// An ICMPv6 error (FrameKind::kIpv6) quoting a reply of the DSR or IPIP flow `e`: passed unchanged
// but for the L2 header, or encapsulated, to the flow's backend.
Verdict passIcmpv6ToDirectBackend(BurstState& s, rte_mbuf* m, ParsedFrame& f, const FlowEntry& e);

}  // namespace lb::dataplane
