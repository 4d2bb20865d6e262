// Tether's typed, validated configuration: file -> parse -> validate -> Config (immutable) -> snapshot.
//
// A Config only exists if the whole file validated, so the daemon never half-starts on a bad file.
// Keys marked [boot] need a restart (they size memory or ports); the rest can be reloaded. Defaults are
// the named constants below (Katran's KatranConfig shape). The YAML schema is documented in
// configs/README.md and exercised by configs/*.yaml.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "controlplane/address.h"
#include "dataplane/service_types.h"
#include "hashing/selector.h"

namespace lb::controlplane {

inline constexpr uint32_t kDefaultBurstSize = 32;
inline constexpr uint32_t kDefaultMbufs = 16383;
inline constexpr uint32_t kDefaultFlowEntriesPerLcore = 1u << 16;
inline constexpr uint16_t kDefaultLocalPortMin = 10000;
inline constexpr uint16_t kDefaultLocalPortMax = 59999;
inline constexpr uint32_t kDefaultTcpSynTimeoutS = 10;
inline constexpr uint32_t kDefaultTcpEstablishedTimeoutS = 300;
inline constexpr uint32_t kDefaultTcpClosingTimeoutS = 10;
inline constexpr uint32_t kDefaultUdpTimeoutS = 30;
inline constexpr uint32_t kDefaultWeight = 1;
inline constexpr uint32_t kMaxWeight = 1000000;

// Allowed ranges, shared by the YAML parser and validateConfig() so both report the same limits.
inline constexpr uint32_t kMinBurstSize = 1;
inline constexpr uint32_t kMaxBurstSize = 256;
inline constexpr uint32_t kMinMbufs = 1023;
inline constexpr uint32_t kMaxMbufs = 1048575;
// Bytes of packet data an mbuf holds, headroom (128) included: DPDK's default (2176) takes a
// 1518-byte frame in one segment. A larger room lets a port deliver longer frames whole, as
// net_af_packet does with a larger framesz once the kernel has joined a datagram's fragments.
inline constexpr uint32_t kDefaultMbufDataRoom = 2176;  // RTE_MBUF_DEFAULT_BUF_SIZE
inline constexpr uint32_t kMaxMbufDataRoom = 65535;      // rte_mbuf's buf_len is 16 bits
inline constexpr uint32_t kMinFlowEntriesPerLcore = 1024;
inline constexpr uint32_t kMaxFlowEntriesPerLcore = 1u << 24;
inline constexpr uint32_t kMinLocalPorts = 1024;  // local_port_max - local_port_min + 1
// IPv4 reassembly (dataplane/ipv4_fragments.h): incomplete datagrams held per lcore (0 = fragments are
// dropped as unsupported) and how long their fragments wait for the rest. Each datagram can hold up to
// 8 mbufs of the pool, so the default lets a flood of fragments hold at most 2048 per lcore.
inline constexpr uint32_t kDefaultFragmentDatagramsPerLcore = 256;
inline constexpr uint32_t kMaxFragmentDatagramsPerLcore = 65536;
inline constexpr uint32_t kDefaultFragmentTimeoutMs = 2000;
inline constexpr uint32_t kMinFragmentTimeoutMs = 10;
inline constexpr uint32_t kMaxFragmentTimeoutMs = 60000;
// Full-NAT source addresses per port: each holds every local port once, so a port's concurrent
// full-NAT flows are bounded by addresses x local ports. Each address costs 4 bytes per local port per
// lcore (the FIFO of free endpoints), so 64 addresses over 50k ports are 12.8 MB.
inline constexpr uint32_t kMaxLocalAddresses = 64;
inline constexpr uint32_t kMinTimeoutS = 1;
inline constexpr uint32_t kMaxTimeoutS = 86400;
inline constexpr uint16_t kMaxVlan = 4094;
inline constexpr size_t kMaxNameLength = 63;  // names become metric labels
// Upper bounds that keep one service's table in tens of MB: a Maglev slot is 2 bytes, and RingTable
// refuses more than 2^26 points (vnodes x backends).
inline constexpr uint32_t kMaxMaglevSize = 1u << 24;
inline constexpr uint32_t kMaxRingVnodes = 1u << 16;
inline constexpr uint64_t kMaxRingPoints = uint64_t{1} << 26;

// Addresses are host byte order here; the snapshot builder converts to network order once.
// Ipv4Prefix and MacAddress live in controlplane/address.h with their parsers and formatters.

struct PortConfig {          // [boot] one entry per DPDK port, in EAL port-id order
  std::string name;          // for logs and metrics only
  Ipv4Prefix address;        // Tether's own address on this port: ARP, ping, IPIP outer source,
                             // and the full-NAT source unless local_addresses is set
  // Full-NAT source addresses on the port's subnet (Tether answers ARP and ping for them). Without it,
  // full-NAT uses `address` alone, which bounds concurrent full-NAT flows out of this port to the
  // local port range; each address adds that many again (DPVS's "laddr" list).
  std::optional<Ipv4Range> local_addresses;
  // Tether's own IPv6 address on this port: neighbour discovery and ping are answered for it and for
  // the IPv6 VIPs. Needed by any IPv6 VIP; without it the port ignores IPv6 frames.
  std::optional<Ipv6Prefix> address6;
  std::optional<uint32_t> gateway;  // next hop for destinations off the port's subnet
  uint16_t vlan = 0;         // 0 = untagged; otherwise 802.1Q tag pushed on egress, expected on ingress
};

// One definition shared with the dataplane's snapshot contract (DPDK-free header).
using dataplane::BalanceKey;
using dataplane::ForwardingMode;
using dataplane::Protocol;

// Operator intent for a backend (health is separate and comes from the checker).
enum class BackendAdminState : uint8_t {
  kEnabled,   // takes new flows in proportion to its weight (when healthy)
  kDraining,  // no new flows or sessions; established ones continue until they end
  kDisabled,  // no new flows; established ones continue or are reset per the service's policy
};

struct BackendConfig {
  uint32_t address = 0;
  uint16_t port = 0;  // full-NAT: backend port; DSR modes: must equal the service port
  uint32_t weight = kDefaultWeight;  // 0..kMaxWeight; 0 = no new flows (drain)
  BackendAdminState state = BackendAdminState::kEnabled;
};

enum class HealthCheckType : uint8_t { kNone, kTcp, kHttp };

enum class DownBackendFlows : uint8_t { kKeep, kReset };

// Health-check limits, shared by the file parser, validateConfig() and the REST API.
inline constexpr uint32_t kMinHealthIntervalMs = 100;
inline constexpr uint32_t kMaxHealthIntervalMs = 3600000;
inline constexpr uint32_t kMinHealthTimeoutMs = 10;
inline constexpr uint32_t kMinHealthRiseFall = 1;
inline constexpr uint32_t kMaxHealthRiseFall = 100;
inline constexpr uint16_t kMinHttpStatus = 100;
inline constexpr uint16_t kMaxHttpStatus = 599;
inline constexpr uint32_t kMaxSlowStartS = 3600;

struct HealthCheckConfig {
  HealthCheckType type = HealthCheckType::kNone;
  uint32_t interval_ms = 2000;   // 100..3600000
  uint32_t timeout_ms = 1000;    // 10..interval_ms
  uint32_t rise = 2;             // consecutive successes to mark a backend up (1..100)
  uint32_t fall = 3;             // consecutive failures to mark it down (1..100)
  uint16_t port = 0;             // 0 = the backend's port
  std::string http_path = "/";   // HTTP only; must start with '/'
  uint16_t http_expect_status = 200;  // HTTP only; 100..599
};

// HTTP services (issue 5): delayed binding (SYN proxy) and sticky backend choice. Only for TCP full-NAT
// services. Every key is reloadable; the snapshot builder converts the times to TSC cycles.
inline constexpr size_t kMaxCookieNameLength = 128;
inline constexpr uint32_t kMinMaxHeadBytes = 512;
inline constexpr uint32_t kMaxMaxHeadBytes = 65536;
inline constexpr uint32_t kMinHeadTimeoutMs = 100;
inline constexpr uint32_t kMaxHeadTimeoutMs = 60000;
inline constexpr uint32_t kMinConnectTimeoutMs = 10;
inline constexpr uint32_t kMaxConnectTimeoutMs = 10000;
inline constexpr uint32_t kMinConnectAttempts = 1;
inline constexpr uint32_t kMaxConnectAttempts = 10;
inline constexpr uint32_t kMinBackendsTried = 1;
inline constexpr uint32_t kMaxBackendsTried = 16;
inline constexpr uint32_t kMinMss = 536;   // RFC 9293 §3.7.1 default send MSS
inline constexpr uint32_t kMaxMss = 9000;  // jumbo frames
inline constexpr uint32_t kMaxWindowScale = 14;  // RFC 7323 §2.3
inline constexpr uint32_t kMinSessionIdleS = 1;
inline constexpr uint32_t kMaxSessionIdleS = 2592000;       // 30 days
inline constexpr uint32_t kMinSessionLifetimeS = 1;
inline constexpr uint32_t kMaxSessionLifetimeS = 31536000;  // 365 days

using dataplane::StickyMethod;
using dataplane::StickyTargetPolicy;

struct HttpConfig {
  // Tried in order; the last must be source_address or five_tuple, which always pick a backend.
  std::vector<StickyMethod> sticky = {StickyMethod::kLearnCookie, StickyMethod::kSourceAddress};
  std::string session_cookie;  // required iff sticky lists learn_cookie; RFC 6265 token
  std::string hash_cookie;     // required iff sticky lists hash_cookie; RFC 6265 token
  StickyTargetPolicy unavailable_target = StickyTargetPolicy::kSoft;
  uint32_t max_head_bytes = 16384;     // 512..65536
  uint32_t head_timeout_ms = 5000;     // 100..60000
  uint32_t connect_timeout_ms = 300;   // per SYN to a backend, 10..10000
  uint32_t connect_attempts = 3;       // SYNs per backend, 1..10
  uint32_t max_backends_tried = 3;     // 1..16
  uint32_t mss = 1460;                 // announced to clients, 536..9000
  uint32_t window_scale = 7;           // announced to clients, 0..14
  // A learnt session expires session_idle_s after its last use or session_lifetime_s after it was
  // learnt, whichever comes first. The two are independent: a lifetime below the idle time simply
  // caps every session at the lifetime.
  uint32_t session_idle_s = 1800;      // 1..2592000
  uint32_t session_lifetime_s = 86400; // 1..31536000
  // The name of another HTTP service whose learnt sessions this one uses (and adds to), so one user
  // stays on one backend across both: an IPv6 VIP next to the IPv4 VIP of the same site, whose
  // browsers move between the two. Empty: the service's sessions are its own. Both must name the
  // same session_cookie (validateConfig()); the owner's session timeouts apply.
  std::string share_sessions_with;
};

struct ServiceConfig {
  std::string name;  // unique, [a-z0-9_-]+
  uint32_t vip = 0;   // IPv4 VIP; 0 when vip6 is set
  // An IPv6 VIP (NAT64 full-NAT): IPv6 clients reach the IPv4 backends from a port's IPv4 address, so
  // forwarding must be fullnat, there is no http block, and some port needs an address6.
  std::optional<Ipv6Address> vip6;
  uint16_t port = 0;  // 1..65535
  Protocol protocol = Protocol::kTcp;
  ForwardingMode forwarding = ForwardingMode::kFullNat;
  BalanceKey key = BalanceKey::kFiveTuple;
  hashing::SelectorParams selector;  // algorithm, maglev_size (prime), ring_vnodes, seed
  HealthCheckConfig health_check;
  // What happens to the established flows of a backend that goes down or is disabled (draining
  // backends always keep theirs): kept until they end, or reset at their next packet.
  DownBackendFlows down_backend_flows = DownBackendFlows::kKeep;
  // Seconds over which a backend that comes back up (health check) ramps from a small share to its full
  // weight, so a cold instance is not handed its whole share of new flows at once. 0 = off.
  uint32_t slow_start_s = 0;
  std::vector<BackendConfig> backends;  // unique (address, port)
  std::optional<HttpConfig> http;       // set: delayed binding with sticky sessions (tcp + fullnat)
};

// The service whose session namespace `service` uses: its http.share_sessions_with, or itself.
inline const std::string& sessionOwnerName(const ServiceConfig& service) {
  return service.http.has_value() && !service.http->share_sessions_with.empty() ? service.http->share_sessions_with
                                                                               : service.name;
}

struct StaticNeighbor {
  uint32_t address = 0;
  MacAddress mac{};
};

struct Timeouts {
  uint32_t tcp_syn_s = kDefaultTcpSynTimeoutS;
  uint32_t tcp_established_s = kDefaultTcpEstablishedTimeoutS;
  uint32_t tcp_closing_s = kDefaultTcpClosingTimeoutS;
  uint32_t udp_s = kDefaultUdpTimeoutS;
};

// How many ICMP errors ("fragmentation needed", "packet too big") each worker lcore may originate: a
// token bucket refilled at `per_second`, holding up to `burst`. RFC 4443 section 2.4 (f) requires a
// limit, so a flood of oversized packets with forged sources cannot make Tether a reflector. The
// defaults are Linux's (net.ipv4.icmp_msgs_per_sec, icmp_msgs_burst). Reloadable.
inline constexpr uint32_t kDefaultIcmpErrorsPerSecond = 1000;
inline constexpr uint32_t kDefaultIcmpErrorBurst = 50;
inline constexpr uint32_t kMaxIcmpErrorsPerSecond = 1000000;
inline constexpr uint32_t kMinIcmpErrorBurst = 1;
inline constexpr uint32_t kMaxIcmpErrorBurst = 100000;

struct IcmpErrorLimits {
  uint32_t per_second = kDefaultIcmpErrorsPerSecond;  // 0..1000000; 0 = originate none
  uint32_t burst = kDefaultIcmpErrorBurst;            // 1..100000
};

struct DataplaneConfig {  // [boot]
  uint32_t burst_size = kDefaultBurstSize;                 // 1..256
  uint32_t mbufs = kDefaultMbufs;                          // 1023..1048575
  uint32_t mbuf_data_room = kDefaultMbufDataRoom;          // 2176..65535 bytes
  uint32_t flow_entries_per_lcore = kDefaultFlowEntriesPerLcore;  // power of two, 1024..1<<24
  uint16_t local_port_min = kDefaultLocalPortMin;          // full-NAT source ports, split per lcore
  uint16_t local_port_max = kDefaultLocalPortMax;
  uint32_t fragment_datagrams_per_lcore = kDefaultFragmentDatagramsPerLcore;  // 0..65536; 0 = no reassembly
  uint32_t fragment_timeout_ms = kDefaultFragmentTimeoutMs;                   // 10..60000
};

// The sticky-session table shared by every lcore (dataplane/session_table.h). [boot]: it is sized
// once at start; a reload that changes it is refused.
inline constexpr uint64_t kDefaultSessionCapacity = uint64_t{1} << 20;
inline constexpr uint64_t kMinSessionCapacity = 1024;
inline constexpr uint64_t kMaxSessionCapacity = uint64_t{1} << 26;
inline constexpr uint32_t kMaxSessionShards = uint32_t{1} << 16;

struct SessionsConfig {  // [boot]
  uint64_t capacity = kDefaultSessionCapacity;  // sessions held without eviction, 1024..67108864
  uint32_t shards = 0;                          // 0 = auto, else a power of two <= 65536
};

struct Config {
  DataplaneConfig dataplane;
  SessionsConfig sessions;
  std::vector<PortConfig> ports;  // at least one
  Timeouts timeouts;
  IcmpErrorLimits icmp_errors;
  std::vector<StaticNeighbor> neighbors;
  std::vector<ServiceConfig> services;  // unique (vip or vip6, port, protocol)
};

// A service's `vip` key as written: an IPv4 address, or an IPv6 one (text with a ':'), named after the
// ServiceConfig fields it fills. InvalidArgument: `"x" is neither an IPv4 nor an IPv6 address`.
struct VipAddress {
  uint32_t vip = 0;
  std::optional<Ipv6Address> vip6;
};
absl::StatusOr<VipAddress> parseVip(std::string_view text);
// The VIP as the file and the REST API write it ("10.99.0.100", "fd00:99::100").
std::string formatVip(const ServiceConfig& service);
// The listener in messages: "10.99.0.100:80/tcp", "[fd00:99::100]:80/tcp" (RFC 3986 brackets).
std::string formatListener(const ServiceConfig& service);
// True when both services listen on the same (VIP, port, protocol). IPv6 services compare by vip6,
// never by their vip (0 for every one of them), and an IPv6 VIP never equals an IPv4 one.
bool sameListener(const ServiceConfig& a, const ServiceConfig& b);

// Parses and validates YAML text. Errors are InvalidArgument with the offending key path and value,
// e.g. "services[1].backends[0].weight: 2000000 is out of range 0..1000000 (line 12)"; unknown or
// repeated keys and wrongly typed values (`port: "80"`) are errors. loadConfigFile() prefixes messages
// with the file path; a missing or unreadable file keeps its errno-derived code (e.g. NotFound).
absl::StatusOr<Config> parseConfig(std::string_view yaml_text);
absl::StatusOr<Config> loadConfigFile(const std::string& path);

// Checks that hold across the whole Config (also used for configs built by the REST API): every
// single-field range above, at least one port, unique port names and addresses, gateway on its port's
// subnet, local_addresses on the port's subnet (at most kMaxLocalAddresses, unicast hosts, no other
// port's address or range), unique port address6 (unicast), unique service names and (vip or vip6,
// port, protocol), VIP not a port address nor a local address (an IPv6 VIP: unicast, not a port's
// address6, fullnat, no http block, some port with an address6), unique backend (address, port) per
// service, DSR/IP-in-IP backend port == service port, maglev_size prime and >= backends, local port
// range >= kMinLocalPorts, flow_entries_per_lcore a power of two, unicast addresses and MACs, static
// neighbors on some port's subnet, an `http` block only on tcp fullnat services with a sticky list that
// has no duplicates and ends with source_address or five_tuple and exactly the cookie names its methods
// need (RFC 6265 tokens), sessions.shards 0 or a power of two. Returns the first violation, worded
// like the parser's errors (without a line number).
absl::Status validateConfig(const Config& config);

// YAML/REST names of the enums: "fullnat" | "dsr" | "ipip", "tcp" | "udp",
// "five_tuple" | "source_address". Parsers return InvalidArgument naming the value and the choices,
// e.g. `"dsrr" is not one of fullnat, dsr, ipip` (callers prefix the key path).
std::string_view forwardingModeName(ForwardingMode mode);
absl::StatusOr<ForwardingMode> parseForwardingMode(std::string_view name);
std::string_view protocolName(Protocol protocol);
absl::StatusOr<Protocol> parseProtocol(std::string_view name);
std::string_view balanceKeyName(BalanceKey key);
std::string_view downBackendFlowsName(DownBackendFlows policy);
std::string_view backendStateName(BackendAdminState state);               // enabled | draining | disabled
absl::StatusOr<BackendAdminState> parseBackendState(std::string_view name);
std::string_view healthCheckTypeName(HealthCheckType type);               // none | tcp | http
absl::StatusOr<HealthCheckType> parseHealthCheckType(std::string_view name);
absl::StatusOr<DownBackendFlows> parseDownBackendFlows(std::string_view name);
absl::StatusOr<BalanceKey> parseBalanceKey(std::string_view name);
std::string_view stickyMethodName(StickyMethod method);  // learn_cookie | hash_cookie | source_address | five_tuple
absl::StatusOr<StickyMethod> parseStickyMethod(std::string_view name);
std::string_view stickyTargetPolicyName(StickyTargetPolicy policy);  // soft | strict
absl::StatusOr<StickyTargetPolicy> parseStickyTargetPolicy(std::string_view name);
// Same wording for hashing::Algorithm ("maglev" | "ring" | "modulo"); hashing::parseAlgorithm words its
// error differently, so config files use this one.
absl::StatusOr<hashing::Algorithm> parseAlgorithmName(std::string_view name);

// formatIpv4 (declared in controlplane/address.h) renders a host-order address as "a.b.c.d".

}  // namespace lb::controlplane
