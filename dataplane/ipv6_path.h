// IPv6 clients. A port with an IPv6 address answers neighbour solicitations (RFC 4861) and echo
// requests for that address and for the IPv6 VIPs, and balances TCP and UDP to an IPv6 service onto
// its IPv4 backends by full-NAT with header translation (RFC 7915's IPv6 -> IPv4 mapping, as DPVS's
// NAT64): the client's packet leaves from a local IPv4 address and port, the backend's reply comes
// back to it and is translated into IPv6 from the VIP. Backends, health checks and the neighbour table
// stay IPv4, so an IPv4-only application gains IPv6 clients unchanged.
//
// Both directions take the slow path (the established path screens IPv4 only). Replies go to the MAC
// the client's packets came from, as full-NAT's IPv4 replies do, so Tether never solicits an IPv6
// neighbour itself.
#pragma once

#include <rte_mbuf.h>

#include "dataplane/flow_table.h"
#include "dataplane/packet_parser.h"
#include "dataplane/packet_path.h"

namespace lb::dataplane {

// A frame the parser took as IPv6 (FrameKind::kIpv6) on an ordinary port.
Verdict processIpv6(BurstState& s, rte_mbuf* m, ParsedFrame& f);

// A backend's reply on an IPv6 client's flow (FlowEntry::client_v6) that returnToClient found and
// accounted: ports and L4 checksum back to the client's, then the IPv4 header replaced by IPv6 from
// the VIP to the client. `f` describes the IPv4 frame as received.
Verdict returnToIpv6Client(BurstState& s, rte_mbuf* m, ParsedFrame& f, FlowEntry& e);

}  // namespace lb::dataplane
