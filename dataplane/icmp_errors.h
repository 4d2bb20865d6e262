// ICMP errors (RFC 792) the dataplane sends or passes on, for the two forwarding modes whose packets
// do not reach the backend as the client sent them:
//
//   IPIP       a client packet too large to encapsulate within the egress MTU is answered with
//              "fragmentation needed" (RFC 1191), so the client's path MTU discovery works through
//              the encapsulation;
//   full-NAT   an error a backend or a router sends to a local address about a packet Tether
//              forwarded (port unreachable, fragmentation needed, time exceeded, ...) is translated
//              back, quoted packet included, and sent to the flow's client from the VIP, the way
//              IPVS relays them.
//
// And for every mode, the other direction: a router on the client's side that cannot pass a reply
// (a download's full-size segments) answers the reply's source, the VIP. The error goes to the flow's
// backend, which alone can lower its segment size, as Katran and GLB do for DSR: unchanged but for
// the MACs (DSR L2), encapsulated (IPIP), or translated to the backend's own view (full-NAT).
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <optional>

#include "dataplane/packet_parser.h"
#include "dataplane/packet_path.h"

namespace lb::dataplane {

// A packet that would not fit `usable_mtu`, the link it is bound for (IPIP: the egress MTU less the
// outer header; a full-NAT reply: the client's). With DF set the frame becomes, in place, ICMP
// fragmentation needed from the address it was sent to (the VIP, or the local address of a reply)
// back to its sender, quoting the packet's IP header and first 8 bytes of payload. Without DF, or
// with the lcore's ICMP error budget spent (IcmpErrorBudget), it is dropped as too_big; callers that
// can fragment instead do so (mustRefuseTooBig).
Verdict refuseTooBig(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint16_t usable_mtu);

// An ICMP error addressed to a local address. nullopt when it is not about a full-NAT flow's packet (an
// ICMP type that is not an error, a quoted packet that is not TCP/UDP from a local port): the caller
// treats it as before (the kernel's, or unsupported). Otherwise the frame was relayed to the client,
// handed to the lcore owning the flow, or dropped and counted (no_flow: no flow, or one whose backend
// connection is still being set up by the SYN proxy).
std::optional<Verdict> relayIcmpError(BurstState& s, rte_mbuf* m, ParsedFrame& f);

// An ICMP error addressed to a VIP. nullopt when it is not about a TCP/UDP packet from that VIP (the
// caller drops it as unsupported). Otherwise it was forwarded to the backend of the flow the quoted
// reply belongs to (looked up in this lcore's table), or dropped and counted (no_flow; too_big when
// IPIP's outer header would not fit the egress MTU).
std::optional<Verdict> forwardIcmpToBackend(BurstState& s, rte_mbuf* m, ParsedFrame& f);

}  // namespace lb::dataplane
