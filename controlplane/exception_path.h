// The kernel's exception path: a net_tap interface the workers feed with the traffic for Tether's own
// address that the dataplane does not handle itself, and whose frames they send out of the uplink
// unchanged. The kernel interface gets the uplink's address and MAC, so the kernel's connections
// (health checks today, routing protocols later) leave and return exactly as production traffic does.
// See ARCHITECTURE.md, "How health checks leave and return".
#pragma once

#include <rte_ether.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controlplane/address.h"

namespace lb::controlplane {

// Creates the tap vdev with the given kernel interface name and MAC; returns its DPDK port id.
absl::StatusOr<uint16_t> createExceptionTap(const std::string& iface, const rte_ether_addr& mac);

// Assigns `address` to the kernel interface and brings it up.
absl::Status configureKernelInterface(const std::string& iface, const Ipv4Prefix& address);

// The kernel's ephemeral ports must not overlap the full-NAT local ports, or a reply to a health check
// would be taken for a full-NAT flow. Moves net.ipv4.ip_local_port_range (of this network namespace)
// above or below [nat_min, nat_max] when it overlaps.
absl::Status separateEphemeralPorts(uint16_t nat_min, uint16_t nat_max);

}  // namespace lb::controlplane
