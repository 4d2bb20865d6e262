// Placeholder until the YAML parser lands; keeps the tree building.
#include "controlplane/config.h"

namespace lb::controlplane {
absl::StatusOr<Config> parseConfig(std::string_view) {
  return absl::UnimplementedError("config parser not written yet");
}
absl::StatusOr<Config> loadConfigFile(const std::string&) {
  return absl::UnimplementedError("config parser not written yet");
}
absl::Status validateConfig(const Config&) { return absl::OkStatus(); }
std::string_view forwardingModeName(ForwardingMode) { return "fullnat"; }
std::string formatIpv4(uint32_t) { return ""; }
}  // namespace lb::controlplane
