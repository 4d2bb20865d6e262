// ARP frames the control plane sends and reads: requests for next hops (RFC 826) and the sender
// address/MAC in replies the workers pass up.
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <optional>

namespace lb::controlplane {

// Broadcast who-has `target` from (`sender_ip`, `sender_mac`), tagged with `vlan` when non-zero.
// Addresses in host order. nullptr when the pool is empty.
rte_mbuf* makeArpRequest(rte_mempool* pool, const rte_ether_addr& sender_mac, uint32_t sender_ip,
                         uint32_t target_ip, uint16_t vlan);

struct ArpSender {
  uint32_t address = 0;  // host order
  rte_ether_addr mac{};
};

// Sender of an ARP frame as the parser left it (l2 header first); nullopt if not ARP.
std::optional<ArpSender> arpSender(const rte_mbuf* m);

}  // namespace lb::controlplane
