#include "controlplane/exception_path.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_format.h"

namespace lb::controlplane {
namespace {

constexpr const char* kTapDeviceName = "net_tap_exception";
constexpr const char* kPortRangePath = "/proc/sys/net/ipv4/ip_local_port_range";
constexpr uint32_t kMinEphemeralPorts = 1024;

absl::Status ioctlOn(int fd, unsigned long request, ifreq& req, const char* what) {
  if (ioctl(fd, request, &req) != 0) {
    return absl::InternalError(absl::StrFormat("%s %s: %s", what, req.ifr_name, std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint16_t> createExceptionTap(const std::string& iface, const rte_ether_addr& mac) {
  if (iface.empty() || iface.size() >= IFNAMSIZ) {
    return absl::InvalidArgumentError(absl::StrFormat("exception interface name \"%s\" must be 1..%d characters",
                                                      iface, IFNAMSIZ - 1));
  }
  const std::string args = absl::StrFormat("iface=%s,mac=%02x:%02x:%02x:%02x:%02x:%02x", iface, mac.addr_bytes[0],
                                           mac.addr_bytes[1], mac.addr_bytes[2], mac.addr_bytes[3],
                                           mac.addr_bytes[4], mac.addr_bytes[5]);
  if (int rc = rte_eal_hotplug_add("vdev", kTapDeviceName, args.c_str()); rc != 0) {
    return absl::InternalError(absl::StrFormat("cannot create the exception tap (%s %s): %d", kTapDeviceName, args, rc));
  }
  uint16_t port = 0;
  if (rte_eth_dev_get_port_by_name(kTapDeviceName, &port) != 0) {
    return absl::InternalError("exception tap created but its port is not found");
  }
  return port;
}

absl::Status configureKernelInterface(const std::string& iface, const Ipv4Prefix& address) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrFormat("socket: %s", std::strerror(errno)));
  ifreq req{};
  std::strncpy(req.ifr_name, iface.c_str(), IFNAMSIZ - 1);
  auto* sin = reinterpret_cast<sockaddr_in*>(&req.ifr_addr);
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = htonl(address.address);
  absl::Status st = ioctlOn(fd, SIOCSIFADDR, req, "set address of");
  if (st.ok()) {
    sin->sin_addr.s_addr = htonl(prefixMask(address.prefix_length));
    st = ioctlOn(fd, SIOCSIFNETMASK, req, "set netmask of");
  }
  if (st.ok()) st = ioctlOn(fd, SIOCGIFFLAGS, req, "read flags of");
  if (st.ok()) {
    req.ifr_flags |= IFF_UP | IFF_RUNNING;
    st = ioctlOn(fd, SIOCSIFFLAGS, req, "bring up");
  }
  close(fd);
  return st;
}

absl::Status separateEphemeralPorts(uint16_t nat_min, uint16_t nat_max) {
  uint32_t low = 0, high = 0;
  {
    std::ifstream in(kPortRangePath);
    if (!(in >> low >> high)) return absl::InternalError(absl::StrFormat("cannot read %s", kPortRangePath));
  }
  if (high < nat_min || low > nat_max) return absl::OkStatus();
  uint32_t new_low, new_high;
  if (65535u - nat_max >= kMinEphemeralPorts) {
    new_low = nat_max + 1u;
    new_high = 65535;
  } else if (nat_min >= 1024u + kMinEphemeralPorts) {
    new_low = 1024;
    new_high = nat_min - 1u;
  } else {
    return absl::InvalidArgumentError(absl::StrFormat(
        "local ports %d..%d leave fewer than %d ports for the kernel's own connections", nat_min, nat_max,
        kMinEphemeralPorts));
  }
  std::ofstream out(kPortRangePath);
  out << new_low << ' ' << new_high << '\n';
  if (!out) return absl::InternalError(absl::StrFormat("cannot write %s", kPortRangePath));
  return absl::OkStatus();
}

}  // namespace lb::controlplane
