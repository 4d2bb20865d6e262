#include "dataplane/ipv6_direct.h"

#include <rte_ip.h>

#include <algorithm>
#include <cstring>

#include "dataplane/established_path.h"
#include "dataplane/icmpv6_errors.h"
#include "dataplane/ipv6_path.h"

namespace lb::dataplane {
namespace {

// The client line's values for the flow's mode under the current snapshot: the next hop and, for
// IPIP, the outer header's addresses and fixed sum. Made afresh for every packet the slow path
// sends, so a backend's new MAC is in the line before it is armed again.
void prepareClientLine(FlowDirection& d, const FlowEntry& e, const LocalPort& egress) {
  setLineToBackend(e, d, egress);
  if (e.forwarding == ForwardingMode::kDsrIpip) {
    d.rewrite_addrs = uint64_t{egress.address_be} | (uint64_t{e.backend_address_be} << 32);
    d.ip_check_delta = ipipOuterFixedSum(d.rewrite_addrs, IPPROTO_IPV6);
    d.armed_rewrite = ArmedRewrite::kIpip6;
  } else {
    d.armed_rewrite = ArmedRewrite::kDsrL2;
  }
}

// The IPv6 packet `f` describes, to the flow's backend as `line` says: inside the outer IPv4 header
// for IPIP (DF clear, RFC 4213 section 3.2: an outer header over the MTU leaves in fragments), then
// the backend's L2 header.
Verdict sendToBackend(BurstState& s, rte_mbuf* m, ParsedFrame& f, const FlowEntry& e, const FlowDirection& line) {
  const uint16_t port = e.to_backend.egress_port;
  const LocalPort& egress = s.snap.ports[port];
  const uint32_t packet_len = sizeof(rte_ipv6_hdr) + f.l4_len;
  if (e.forwarding == ForwardingMode::kDsrIpip) {
    uint8_t* const outer = prependOuterIpv4(m, f.l2_len);
    if (outer == nullptr) return dropPacket(s, m, DropReason::kNoHeadroom);
    writeIpipOuter(outer, static_cast<uint16_t>(packet_len), 0, line, IPPROTO_IPV6);
  } else if (packet_len > egress.mtu) {
    return dropPacket(s, m, DropReason::kTooBig);  // IPv6 is not fragmented on the sender's behalf
  }
  if (!writeL2(m, f.l2_len, egress.vlan, e.backend_mac, egress.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  return queueFitted(s, m, port, f.l2_len, VerdictKind::kForwarded);
}

}  // namespace

Verdict forwardIpv6Direct(BurstState& s, rte_mbuf* m, ParsedFrame& f, FlowEntry& e) {
  const LocalPort& egress = s.snap.ports[e.to_backend.egress_port];
  const bool ipip = e.forwarding == ForwardingMode::kDsrIpip;
  const uint32_t packet_len = sizeof(rte_ipv6_hdr) + f.l4_len;
  const uint32_t usable_mtu = egress.mtu - (ipip ? sizeof(rte_ipv4_hdr) : 0);
  if (packet_len > usable_mtu) [[unlikely]] {
    // As a router would (RFC 8200 section 5), never announcing less than IPv6's minimum. A packet
    // within that minimum cannot be made smaller by its sender: IPIP fragments its outer header.
    if (packet_len > kMinIpv6Mtu) return refuseTooBigV6(s, m, f, std::max<uint32_t>(usable_mtu, kMinIpv6Mtu));
    if (!ipip) return dropPacket(s, m, DropReason::kTooBig);  // a DSR link below IPv6's minimum MTU
  }
  countTraffic(s.ctx.counters->backends[e.backend_counter_slot].to_backend, m);
  prepareClientLine(e.to_backend, e, egress);
  if (armable(e, egress)) {
    e.to_backend.armed_epoch = s.ctx.flows.snapshotEpoch(s.snap);
  } else {
    e.disarm();
  }
  return sendToBackend(s, m, f, e, e.to_backend);
}

Verdict passIcmpv6ToDirectBackend(BurstState& s, rte_mbuf* m, ParsedFrame& f, const FlowEntry& e) {
  // A copy: the error must not arm or change the flow's line.
  FlowDirection line = e.to_backend;
  prepareClientLine(line, e, s.snap.ports[e.to_backend.egress_port]);
  const Verdict verdict = sendToBackend(s, m, f, e, line);
  if (verdict.kind == VerdictKind::kForwarded) s.ctx.counters->icmp_to_backend.inc();
  return verdict;
}

}  // namespace lb::dataplane
