#include "controlplane/value_text.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"

namespace lb::controlplane {

namespace {
constexpr size_t kMaxQuotedChars = 64;
}  // namespace

std::string quoteValue(std::string_view text) {
  if (text.size() > kMaxQuotedChars) {
    return absl::StrFormat("\"%s...\" (%d characters)",
                           absl::CHexEscape(absl::string_view(text.data(), kMaxQuotedChars)),
                           text.size());
  }
  return absl::StrFormat("\"%s\"", absl::CHexEscape(absl::string_view(text.data(), text.size())));
}

absl::Status fieldError(std::string_view path, std::string_view message) {
  return absl::InvalidArgumentError(absl::StrFormat("%s: %s", path, message));
}

std::string rangeMessage(std::string_view value, uint64_t min, uint64_t max) {
  // Numbers print bare; only a runaway digit string gets the quoted, shortened form.
  const std::string shown = value.size() > kMaxQuotedChars ? quoteValue(value) : std::string(value);
  return absl::StrFormat("%s is out of range %d..%d", shown, min, max);
}

absl::Status outOfRange(std::string_view path, std::string_view value, uint64_t min, uint64_t max) {
  return absl::InvalidArgumentError(absl::StrFormat("%s: %s", path, rangeMessage(value, min, max)));
}

absl::Status withPath(std::string_view path, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrFormat("%s: %s", path, status.message()));
}

}  // namespace lb::controlplane
