// Every packet the dataplane does not forward or answer is counted under one of these reasons
// (house style: every drop has a name). Names are the metric label values.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace lb::dataplane {

enum class DropReason : uint8_t {
  kMalformed,      // truncated or inconsistent headers
  kUnsupported,    // ethertype / IP protocol / IPv6 extension header we do not handle; a fragment
                   // when reassembly is off
  kUnknownVip,     // addressed to a VIP address but no service on that port and protocol
  kNoBackend,      // service has no backend with non-zero weight
  kNoNeighbor,     // next hop's MAC not resolved yet
  kFlowTableFull,  // connection table at capacity
  kNoLocalPort,    // full-NAT source ports of this lcore exhausted
  kNoFlow,         // full-NAT reply for a flow this lcore does not know (expired or forged)
  kNotForUs,       // addressed to neither a VIP nor a local address
  kHandoffFull,    // reply for another lcore, and its hand-off ring is full
  kControlFull,    // ARP for the control plane, and its ring is full
  kTxFull,         // tx_burst did not take it
  kNoHeadroom,     // no room to push an encapsulation or VLAN header
  kBadSynCookie,   // an ACK to an HTTP service with no connection and no valid SYN cookie
  kProxyFull,      // this lcore's table of connections being bound (delayed binding) is full
  kStickyRefused,  // strict stickiness: the session's backend cannot take it; the client got a RST
  kTooBig,         // over the MTU of the link it is bound for (IPIP: with the outer header) and
                   // neither sent in fragments nor answered: DF clear where it cannot be fragmented, or
                   // the lcore's ICMP error budget spent (icmp_error_budget.h); with DF set the
                   // sender normally gets ICMP fragmentation needed or packet too big (icmp_too_big)
  kReassemblyFailed,  // an IPv4 fragment given up on: its datagram timed out, had more than 8
                      // fragments or overlapping ones, or the fragment table was full
  kCount,
};

inline constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::kCount);

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonNames = {
    "malformed",     "unsupported", "unknown_vip",  "no_backend",   "no_neighbor",
    "flow_table_full", "no_local_port", "no_flow", "not_for_us",   "handoff_full",
    "control_full",  "tx_full",     "no_headroom",  "bad_syn_cookie", "proxy_full",
    "sticky_refused", "too_big",    "reassembly_failed",
};

inline constexpr std::string_view dropReasonName(DropReason reason) {
  return kDropReasonNames[static_cast<size_t>(reason)];
}

}  // namespace lb::dataplane
