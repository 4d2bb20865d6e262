#include "controlplane/address.h"

#include <arpa/inet.h>

#include <charconv>

#include "absl/strings/str_format.h"
#include "controlplane/value_text.h"

namespace lb::controlplane {

namespace {

// One decimal number with 1..max_digits digits, no sign, no leading zero (so "010" is rejected
// rather than silently read as decimal or octal), at most `max`.
bool parseDecimal(std::string_view text, size_t max_digits, uint32_t max, uint32_t& value) {
  if (text.empty() || text.size() > max_digits) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() && value <= max;
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<uint32_t> parseIpv4(std::string_view text) {
  uint32_t address = 0;
  std::string_view rest = text;
  bool ok = true;
  for (int i = 0; ok && i < 4; ++i) {
    // Octets 0-2 end at a dot; the last one takes whatever is left, so "1.2.3.4.5" fails there.
    const size_t dot = i < 3 ? rest.find('.') : rest.size();
    uint32_t octet = 0;
    ok = dot != std::string_view::npos && parseDecimal(rest.substr(0, dot), 3, 255, octet);
    address = address << 8 | octet;
    if (ok) rest.remove_prefix(i < 3 ? dot + 1 : dot);
  }
  if (!ok) return absl::InvalidArgumentError(quoteValue(text) + " is not an IPv4 address");
  return address;
}

absl::StatusOr<Ipv4Prefix> parseIpv4Prefix(std::string_view text) {
  const size_t slash = text.find('/');
  uint32_t length = 0;
  if (slash != std::string_view::npos && parseDecimal(text.substr(slash + 1), 2, 32, length)) {
    if (auto address = parseIpv4(text.substr(0, slash)); address.ok()) {
      return Ipv4Prefix{.address = *address, .prefix_length = static_cast<uint8_t>(length)};
    }
  }
  return absl::InvalidArgumentError(
      quoteValue(text) + " is not an IPv4 prefix (expected address/length, e.g. 10.0.0.2/24)");
}

absl::StatusOr<Ipv4Range> parseIpv4Range(std::string_view text) {
  const size_t dash = text.find('-');
  auto first = parseIpv4(text.substr(0, dash));
  auto last = dash == std::string_view::npos ? first : parseIpv4(text.substr(dash + 1));
  if (!first.ok() || !last.ok()) {
    return absl::InvalidArgumentError(quoteValue(text) +
                                      " is not an IPv4 range (expected first-last, e.g. 10.0.0.100-10.0.0.131)");
  }
  if (*last < *first) {
    return absl::InvalidArgumentError(quoteValue(text) + " is not an IPv4 range (the last address is below the first)");
  }
  return Ipv4Range{.first = *first, .last = *last};
}

absl::StatusOr<Ipv6Address> parseIpv6(std::string_view text) {
  // inet_pton reads a C string, so an embedded NUL would end the text early ("::1\0junk" is ::1); and
  // nothing longer than INET6_ADDRSTRLEN can be an address. '%' and brackets fail inet_pton anyway;
  // checking them here keeps that true whatever the libc.
  const bool plausible = !text.empty() && text.size() < INET6_ADDRSTRLEN &&
                         text.find_first_of(std::string_view("%[]\0", 4)) == std::string_view::npos;
  Ipv6Address address{};
  if (!plausible || inet_pton(AF_INET6, std::string(text).c_str(), address.data()) != 1) {
    return absl::InvalidArgumentError(quoteValue(text) + " is not an IPv6 address");
  }
  return address;
}

absl::StatusOr<Ipv6Prefix> parseIpv6Prefix(std::string_view text) {
  const size_t slash = text.find('/');
  uint32_t length = 0;
  if (slash != std::string_view::npos && parseDecimal(text.substr(slash + 1), 3, 128, length)) {
    if (auto address = parseIpv6(text.substr(0, slash)); address.ok()) {
      return Ipv6Prefix{.address = *address, .prefix_length = static_cast<uint8_t>(length)};
    }
  }
  return absl::InvalidArgumentError(
      quoteValue(text) + " is not an IPv6 prefix (expected address/length, e.g. fd00:99::2/64)");
}

absl::StatusOr<MacAddress> parseMac(std::string_view text) {
  // "aa:bb:cc:dd:ee:ff" is exactly 17 characters: six pairs and five colons.
  MacAddress mac{};
  bool ok = text.size() == 17;
  for (size_t i = 0; ok && i < mac.size(); ++i) {
    const int high = hexDigit(text[3 * i]);
    const int low = hexDigit(text[3 * i + 1]);
    ok = high >= 0 && low >= 0 && (i == mac.size() - 1 || text[3 * i + 2] == ':');
    if (ok) mac[i] = static_cast<uint8_t>(high << 4 | low);
  }
  if (!ok) {
    return absl::InvalidArgumentError(quoteValue(text) +
                                      " is not a MAC address (expected aa:bb:cc:dd:ee:ff)");
  }
  return mac;
}

std::string formatIpv4(uint32_t address_host_order) {
  return absl::StrFormat("%d.%d.%d.%d", address_host_order >> 24, (address_host_order >> 16) & 0xff,
                         (address_host_order >> 8) & 0xff, address_host_order & 0xff);
}

std::string formatIpv4Prefix(const Ipv4Prefix& prefix) {
  return absl::StrFormat("%s/%d", formatIpv4(prefix.address), prefix.prefix_length);
}

std::string formatIpv4Range(const Ipv4Range& range) {
  if (range.first == range.last) return formatIpv4(range.first);
  return absl::StrFormat("%s-%s", formatIpv4(range.first), formatIpv4(range.last));
}

std::string formatMac(const MacAddress& mac) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                         mac[5]);
}

std::string formatIpv6(const Ipv6Address& address) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, address.data(), text, sizeof(text));
  return text;
}

std::string formatIpv6Prefix(const Ipv6Prefix& prefix) {
  return absl::StrFormat("%s/%d", formatIpv6(prefix.address), prefix.prefix_length);
}

}  // namespace lb::controlplane
