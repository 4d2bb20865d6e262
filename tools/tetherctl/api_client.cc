#include "tools/tetherctl/api_client.h"

#include <httplib.h>

#include <cstdio>
#include <optional>

namespace tetherctl {

namespace {

constexpr time_t kConnectTimeoutS = 3;
constexpr time_t kReadTimeoutS = 30;  // a reload rebuilds every table before it answers

// The server's {"error": "..."} when there is one, else the status and the start of the body.
std::string errorMessage(const httplib::Response& response) {
  const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  std::string message;
  if (body.is_object() && body.contains("error") && body["error"].is_string()) {
    message = body["error"].get<std::string>();
  } else {
    message = "HTTP " + std::to_string(response.status);
    std::string text = response.body.substr(0, response.body.find('\n'));
    if (text.size() > 200) text = text.substr(0, 200) + "...";
    if (!text.empty()) message += ": " + text;
  }
  if (response.status == 401) message += " (use --token or TETHER_TOKEN)";
  return message;
}

std::string describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "connection failed (is tetherd running, with its REST API on this address?)";
    case httplib::Error::ConnectionTimeout: return "connection timed out";
    case httplib::Error::Read: return "the connection closed before an answer arrived";
    case httplib::Error::Write: return "the request could not be sent";
    default: return httplib::to_string(error);
  }
}

}  // namespace

std::string pathSegment(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '_' || c == '.' || c == '~' || c == ':';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof(escaped), "%%%02X", c);
      out += escaped;
    }
  }
  return out;
}

ApiClient::ApiClient(std::string server, std::string token)
    : server_(std::move(server)), token_(std::move(token)) {
  while (!server_.empty() && server_.back() == '/') server_.pop_back();
}

std::string ApiClient::send(const std::string& method, const std::string& path,
                            const std::string* body) const {
  std::optional<httplib::Client> maybe_client;
  try {
    maybe_client.emplace(server_);  // throws for an unsupported scheme
  } catch (const std::exception& e) {
    throw CommandError(kExitUnreachable,
                       "invalid --server " + server_ + " (expected http://HOST:PORT): " + e.what());
  }
  httplib::Client& client = *maybe_client;
  if (!client.is_valid()) {
    throw CommandError(kExitUnreachable, "invalid --server " + server_ + " (expected http://HOST:PORT)");
  }
  client.set_connection_timeout(kConnectTimeoutS, 0);
  client.set_read_timeout(kReadTimeoutS, 0);
  httplib::Headers headers;
  if (!token_.empty()) headers.emplace("Authorization", "Bearer " + token_);
  const std::string empty;
  const std::string& payload = body != nullptr ? *body : empty;
  const char* content_type = body != nullptr ? "application/json" : nullptr;
  httplib::Result result = [&] {
    if (method == "POST") {
      return body != nullptr ? client.Post(path, headers, payload, content_type)
                             : client.Post(path, headers);
    }
    if (method == "PUT") return client.Put(path, headers, payload, content_type);
    if (method == "PATCH") return client.Patch(path, headers, payload, content_type);
    if (method == "DELETE") return client.Delete(path, headers);
    return client.Get(path, headers);
  }();
  if (!result) {
    throw CommandError(kExitUnreachable, "cannot reach " + server_ + ": " + describe(result.error()));
  }
  if (result->status < 200 || result->status >= 300) {
    throw CommandError(kExitError, errorMessage(*result));
  }
  return result->body;
}

namespace {
nlohmann::json parseBody(const std::string& text) {
  if (text.empty()) return nlohmann::json::object();
  nlohmann::json body = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) throw CommandError(kExitError, "the server's answer is not JSON");
  return body;
}
}  // namespace

nlohmann::json ApiClient::get(const std::string& path) const { return parseBody(send("GET", path, nullptr)); }

nlohmann::json ApiClient::post(const std::string& path, const nlohmann::json& body) const {
  const std::string text = body.dump();
  return parseBody(send("POST", path, &text));
}

nlohmann::json ApiClient::postEmpty(const std::string& path) const {
  return parseBody(send("POST", path, nullptr));
}

nlohmann::json ApiClient::put(const std::string& path, const nlohmann::json& body) const {
  const std::string text = body.dump();
  return parseBody(send("PUT", path, &text));
}

nlohmann::json ApiClient::patch(const std::string& path, const nlohmann::json& body) const {
  const std::string text = body.dump();
  return parseBody(send("PATCH", path, &text));
}

nlohmann::json ApiClient::del(const std::string& path) const { return parseBody(send("DELETE", path, nullptr)); }

std::string ApiClient::getText(const std::string& path) const { return send("GET", path, nullptr); }

}  // namespace tetherctl
