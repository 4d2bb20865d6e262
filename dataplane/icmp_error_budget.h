// How many ICMP errors a worker lcore may originate (fragmentation needed, packet too big): RFC 4443
// section 2.4 (f) requires a limit for ICMPv6 and RFC 1812 section 4.3.2.8 asks one of IPv4 routers.
// Each answers a packet too large for its link, so a flood of such packets with forged sources must
// not turn the balancer into a reflector at line rate. The rate comes from the snapshot
// (`icmp_errors:` in the config, Linux's net.ipv4.icmp_msgs_per_sec = 1000 and icmp_msgs_burst = 50
// by default), so a reload changes it without touching the lcores' buckets.
#pragma once

#include <algorithm>
#include <cstdint>

namespace lb::dataplane {

// The snapshot's limit, per lcore, in TSC ticks.
struct IcmpErrorRate {
  bool enabled = true;        // false: originate none (icmp_errors.per_second: 0)
  uint64_t interval_tsc = 0;  // ticks per error at the sustained rate; 0 = unlimited
  uint64_t burst = 50;        // errors that may go at once after a quiet spell
};

class IcmpErrorBudget {
 public:
  // Whether an error may be sent at `now_tsc` under `rate`; spends it if so. A virtual-scheduling
  // token bucket (GCRA): one timestamp, no refill loop.
  bool allow(uint64_t now_tsc, const IcmpErrorRate& rate) {
    if (!rate.enabled) return false;
    if (next_free_tsc_ > now_tsc + rate.burst * rate.interval_tsc) return false;
    next_free_tsc_ = std::max(next_free_tsc_, now_tsc) + rate.interval_tsc;
    return true;
  }

 private:
  uint64_t next_free_tsc_ = 0;  // when the bucket would be full again
};

}  // namespace lb::dataplane
