// IPv4, IPv6 and Ethernet MAC address text <-> value conversion for the control plane (config files,
// REST, logs). Nothing here runs per packet.
//
// IPv4 addresses are held in HOST byte order (10.0.0.1 == 0x0a000001) everywhere in the control plane;
// the snapshot builder converts to network order exactly once. Parsing is deliberately strict: exactly
// four decimal octets with no leading zeros, because inet_aton() reads "010.0.0.1" as octal 8.0.0.1 and
// "10.1" as 10.0.0.1, and a config typo should be an error, not a different address.
//
// IPv6 addresses stay in NETWORK order (the 16 bytes of the header): nothing does arithmetic on them,
// and the dataplane compares them as bytes. Text is RFC 4291 §2.2 (inet_pton), formatted as RFC 5952's
// canonical form (inet_ntop), so what the REST API returns is what an operator would type.
//
// Errors are InvalidArgument whose message names only the value (`"10.0.0.300" is not an IPv4 address`);
// callers prefix the key path.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace lb::controlplane {

// Host-order IPv4 address plus prefix length, e.g. a port's own "10.99.0.2/24".
struct Ipv4Prefix {
  uint32_t address = 0;
  uint8_t prefix_length = 32;  // 0..32

  friend bool operator==(const Ipv4Prefix&, const Ipv4Prefix&) = default;
};

// Host-order inclusive range of consecutive IPv4 addresses, e.g. a port's full-NAT source addresses
// "10.99.0.100-10.99.0.131".
struct Ipv4Range {
  uint32_t first = 0;
  uint32_t last = 0;

  uint64_t size() const { return uint64_t{last} - first + 1; }
  bool contains(uint32_t address) const { return address >= first && address <= last; }
  bool overlaps(const Ipv4Range& other) const { return first <= other.last && other.first <= last; }
  friend bool operator==(const Ipv4Range&, const Ipv4Range&) = default;
};

using MacAddress = std::array<uint8_t, 6>;

// Network-order IPv6 address: fd00:99::2 is {0xfd, 0x00, 0x00, 0x99, 0, ..., 0, 0x02}.
using Ipv6Address = std::array<uint8_t, 16>;

// An IPv6 address plus prefix length, e.g. a port's own "fd00:99::2/64".
struct Ipv6Prefix {
  Ipv6Address address{};
  uint8_t prefix_length = 128;  // 0..128

  friend bool operator==(const Ipv6Prefix&, const Ipv6Prefix&) = default;
};

// "a.b.c.d" -> host order.
absl::StatusOr<uint32_t> parseIpv4(std::string_view text);
// "a.b.c.d/len", len 0..32. Host bits may be set: a port's prefix is its own address plus subnet size.
absl::StatusOr<Ipv4Prefix> parseIpv4Prefix(std::string_view text);
// "a.b.c.d-e.f.g.h" (first <= last) or a single "a.b.c.d".
absl::StatusOr<Ipv4Range> parseIpv4Range(std::string_view text);
// RFC 4291 text ("fd00:99::2", "::ffff:10.0.0.1"). Zone ids ("fe80::1%eth0") and brackets
// ("[::1]") are rejected: a VIP or port address names no interface, and brackets belong to URLs.
absl::StatusOr<Ipv6Address> parseIpv6(std::string_view text);
// "address/len", len 0..128.
absl::StatusOr<Ipv6Prefix> parseIpv6Prefix(std::string_view text);
// "aa:bb:cc:dd:ee:ff", two hex digits per octet, either case.
absl::StatusOr<MacAddress> parseMac(std::string_view text);

std::string formatIpv4(uint32_t address_host_order);
std::string formatIpv4Prefix(const Ipv4Prefix& prefix);
std::string formatIpv4Range(const Ipv4Range& range);  // "first-last", or one address when first == last
std::string formatMac(const MacAddress& mac);  // lower case, colon separated
std::string formatIpv6(const Ipv6Address& address);  // RFC 5952: lower case, longest zero run as ::
std::string formatIpv6Prefix(const Ipv6Prefix& prefix);

// Netmask for a prefix length in host order: 24 -> 0xffffff00, 0 -> 0.
constexpr uint32_t prefixMask(uint8_t prefix_length) {
  return prefix_length == 0 ? 0u : ~uint32_t{0} << (32 - (prefix_length > 32 ? 32 : prefix_length));
}

constexpr bool prefixContains(const Ipv4Prefix& prefix, uint32_t address) {
  const uint32_t mask = prefixMask(prefix.prefix_length);
  return (prefix.address & mask) == (address & mask);
}

// True for addresses a host, VIP or next hop can have: excludes 0.0.0.0/8 ("this network"),
// 127.0.0.0/8 (loopback) and 224.0.0.0/3 (multicast, reserved, limited broadcast).
constexpr bool isUnicastIpv4(uint32_t address) {
  const uint32_t first_octet = address >> 24;
  return first_octet != 0 && first_octet != 127 && first_octet < 224;
}

// True for addresses a VIP or a port can have: excludes :: (unspecified), ::1 (loopback), ff00::/8
// (multicast) and ::ffff:0:0/96 (IPv4-mapped, which would name an IPv4 host, RFC 4291 §2.5.5.2).
constexpr bool isUnicastIpv6(const Ipv6Address& address) {
  if (address[0] == 0xff) return false;
  for (size_t i = 0; i < 10; ++i) {
    if (address[i] != 0) return true;
  }
  if (address[10] == 0xff && address[11] == 0xff) return false;
  for (size_t i = 10; i < 15; ++i) {
    if (address[i] != 0) return true;
  }
  return address[15] > 1;
}

// Unicast MAC: not all zero and the I/G (group) bit of the first octet clear.
constexpr bool isUnicastMac(const MacAddress& mac) {
  bool any_set = false;
  for (uint8_t octet : mac) any_set = any_set || octet != 0;
  return any_set && (mac[0] & 0x01) == 0;
}

}  // namespace lb::controlplane
