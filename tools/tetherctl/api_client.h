// tetherctl's HTTP side: one request to the REST API (controlplane/openapi.yaml), returning the JSON
// body or throwing CommandError with the exit code tetherctl promises:
//   1 - the server answered with an error (its {"error": ...} message is the CommandError's message),
//   2 - the server could not be reached at all (connection refused, timeout, bad --server URL).
// Exceptions are fine here: this is a short-lived command-line tool, and main() turns every one into
// a message and an exit code.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tetherctl {

inline constexpr int kExitError = 1;
inline constexpr int kExitUnreachable = 2;

class CommandError : public std::runtime_error {
 public:
  CommandError(int exit_code, const std::string& message)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exitCode() const { return exit_code_; }

 private:
  int exit_code_;
};

// Percent-encodes one path segment (service names and ADDRESS:PORT need none, but a typo might).
std::string pathSegment(std::string_view text);

class ApiClient {
 public:
  // `server`: "http://host:port" (scheme optional). `token`: sent as a bearer token when non-empty.
  ApiClient(std::string server, std::string token);

  nlohmann::json get(const std::string& path) const;
  nlohmann::json post(const std::string& path, const nlohmann::json& body) const;
  nlohmann::json postEmpty(const std::string& path) const;  // POST without a body (reload)
  nlohmann::json put(const std::string& path, const nlohmann::json& body) const;
  nlohmann::json patch(const std::string& path, const nlohmann::json& body) const;
  nlohmann::json del(const std::string& path) const;
  std::string getText(const std::string& path) const;  // /metrics

  const std::string& server() const { return server_; }

 private:
  std::string send(const std::string& method, const std::string& path, const std::string* body) const;

  std::string server_;
  std::string token_;
};

}  // namespace tetherctl
