// How many ICMP errors a worker lcore may originate (fragmentation needed, packet too big): RFC 4443
// section 2.4 (f) requires a limit for ICMPv6 and RFC 1812 section 4.3.2.8 asks one of IPv4 routers.
// Each answers a packet too large for its link, so a flood of such packets with forged sources must
// not turn the balancer into a reflector at line rate. The defaults are Linux's
// (net.ipv4.icmp_msgs_per_sec = 1000, icmp_msgs_burst = 50), per lcore.
#pragma once

#include <rte_cycles.h>

#include <algorithm>
#include <cstdint>

namespace lb::dataplane {

class IcmpErrorBudget {
 public:
  static constexpr uint64_t kPerSecond = 1000;
  static constexpr uint64_t kBurst = 50;

  // Reads the TSC rate, so it is built once the EAL is up (a rate of 0 leaves errors unlimited).
  IcmpErrorBudget() : interval_tsc_(rte_get_tsc_hz() / kPerSecond) {}

  // Whether an error may be sent at `now_tsc`; spends it if so. A virtual-scheduling token bucket
  // (GCRA): one timestamp, no refill loop.
  bool allow(uint64_t now_tsc) {
    if (next_free_tsc_ > now_tsc + kBurst * interval_tsc_) return false;
    next_free_tsc_ = std::max(next_free_tsc_, now_tsc) + interval_tsc_;
    return true;
  }

 private:
  uint64_t interval_tsc_;
  uint64_t next_free_tsc_ = 0;  // when the bucket would be full again
};

}  // namespace lb::dataplane
