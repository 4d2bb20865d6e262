// Shared wording for configuration error messages, so the YAML parser, validateConfig() and the
// address parsers all say the same thing the same way:
//   `<key path>: <value> is out of range <min>..<max>`, strings in double quotes, numbers bare.
// Internal to the config library; not part of the Config contract.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace lb::controlplane {

// A user-supplied string as it appears in a message: double-quoted, control bytes and quotes
// escaped, cut to a readable length so a 1 MB scalar does not become a 1 MB log line.
std::string quoteValue(std::string_view text);

// "<path>: <message>" as InvalidArgument. `path` is the key path ("services[1].backends[0].weight").
absl::Status fieldError(std::string_view path, std::string_view message);

// "<value> is out of range <min>..<max>"; `value` is the number as written (cut if absurdly long).
std::string rangeMessage(std::string_view value, uint64_t min, uint64_t max);

// "<path>: <value> is out of range <min>..<max>".
absl::Status outOfRange(std::string_view path, std::string_view value, uint64_t min, uint64_t max);

// Prefixes an InvalidArgument message from a value parser (parseIpv4, parseProtocol, ...) with the key
// path: `"dsrr" is not one of ...` -> `services[0].forwarding: "dsrr" is not one of ...`.
absl::Status withPath(std::string_view path, const absl::Status& status);

// Range check used by validateConfig() for fields whose type is wider than the allowed range.
inline absl::Status checkRange(std::string_view path, uint64_t value, uint64_t min, uint64_t max) {
  if (value >= min && value <= max) return absl::OkStatus();
  return outOfRange(path, absl::StrCat(value), min, max);
}

}  // namespace lb::controlplane
