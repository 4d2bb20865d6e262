// RestApi: routing, authentication, body checks and the handlers. The JSON shapes and field checks
// live in rest_json.cc; this file decides status codes and runs every change through one path
// (copy, edit, validateConfig, applyConfig) under one mutex.
//
// Routing is our own rather than httplib's per-pattern handlers: one catch-all per method lets us
// tell "no such endpoint" (404) from "endpoint exists, wrong method" (405 + Allow), check the token
// before anything else, and keep the route table in one array that routes() exposes to the OpenAPI test.
#include "controlplane/rest_api.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "controlplane/address.h"
#include "controlplane/rest_json.h"
#include "controlplane/value_text.h"

namespace lb::controlplane {

namespace {

using nlohmann::json;

constexpr std::string_view kJsonContentType = "application/json";
// Prometheus text exposition format 0.0.4.
constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4";
constexpr std::string_view kApiPrefix = "/api/v1";
// httplib keeps idle keep-alive connections open this long; it also bounds how long stop() can take.
constexpr time_t kKeepAliveTimeoutS = 2;
constexpr auto kStartTimeout = std::chrono::seconds(5);

struct Reply {
  int status = 200;
  json body;                        // sent as JSON unless `text` is set
  std::optional<std::string> text;  // sent verbatim with `content_type`
  std::string content_type = std::string(kJsonContentType);
  std::vector<std::pair<std::string, std::string>> headers;
};

Reply okJson(json body, int status = 200) {
  Reply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

Reply errorReply(int status, std::string_view message) {
  return okJson({{"error", std::string(message)}}, status);
}

int httpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return 400;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted: return 409;
    case absl::StatusCode::kUnimplemented: return 501;
    case absl::StatusCode::kUnavailable: return 503;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    default: return 500;
  }
}

// Debian's abseil has its own absl::string_view, which std::string_view does not convert to either
// way; these keep the conversions in one place (and StrFormat, which takes both, does the rest).
std::string messageText(const absl::Status& status) { return std::string(status.message()); }

Reply statusReply(const absl::Status& status) {
  return errorReply(httpStatusFor(status.code()), messageText(status));
}

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) return parts;
    start = slash + 1;
  }
}

std::string_view trimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string lowerAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

void writeReply(const Reply& reply, httplib::Response& response) {
  response.status = reply.status;
  for (const auto& [name, value] : reply.headers) response.set_header(name, value);
  if (reply.status == 204) return;
  if (reply.text.has_value()) {
    response.set_content(*reply.text, reply.content_type.c_str());
    return;
  }
  // Counters and health messages come from outside (a backend's HTTP answer may be any bytes);
  // replace invalid UTF-8 rather than let dump() throw.
  std::string text = reply.body.dump(2, ' ', false, json::error_handler_t::replace);
  text.push_back('\n');
  response.set_content(text, reply.content_type.c_str());
}

// A template segment in braces ("{name}", "{address}:{port}") matches any one non-empty segment.
bool matchPath(std::string_view pattern, std::string_view path, std::vector<std::string>& params) {
  const std::vector<std::string_view> want = splitPath(pattern);
  const std::vector<std::string_view> got = splitPath(path);
  if (want.size() != got.size()) return false;
  params.clear();
  for (size_t i = 0; i < want.size(); ++i) {
    if (!want[i].empty() && want[i].front() == '{') {
      if (got[i].empty()) return false;
      params.emplace_back(got[i]);
    } else if (want[i] != got[i]) {
      return false;
    }
  }
  return true;
}

bool isJsonMediaType(std::string_view content_type) {
  const std::string type = lowerAscii(trimSpaces(content_type.substr(0, content_type.find(';'))));
  return type == kJsonContentType ||
         (type.starts_with("application/") && type.ends_with("+json"));
}

// Compares without an early exit, so response time does not reveal how much of a guess was right.
bool constantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

// What a change is about, so that validateConfig()'s whole-config key paths can be given relative to
// the request body: "services[3].backends[1].port: ..." becomes "port: ..." for a backend PATCH.
struct EditScope {
  std::optional<size_t> service;
  std::optional<size_t> backend;
};

std::string scopedMessage(std::string_view message, const Config& config, const EditScope& scope) {
  constexpr std::string_view kServices = "services[";
  if (!message.starts_with(kServices)) return std::string(message);
  const size_t close = message.find(']');
  if (close == std::string_view::npos) return std::string(message);
  size_t index = 0;
  const char* first = message.data() + kServices.size();
  const char* last = message.data() + close;
  if (auto [end, error] = std::from_chars(first, last, index);
      error != std::errc() || end != last || index >= config.services.size()) {
    return std::string(message);
  }
  std::string_view rest = message.substr(close + 1);  // ".maglev_size: ..." or ": ..."
  if (scope.service == index) {
    if (scope.backend.has_value()) {
      const std::string backend_prefix = absl::StrCat(".backends[", *scope.backend, "].");
      if (rest.starts_with(backend_prefix)) return std::string(rest.substr(backend_prefix.size()));
    } else if (rest.starts_with(".")) {
      return std::string(rest.substr(1));
    }
  }
  // The client never sees positions in the service list; name the service instead.
  if (rest.starts_with(".")) {
    rest.remove_prefix(1);
  } else if (rest.starts_with(": ")) {
    rest.remove_prefix(2);
  }
  return absl::StrFormat("service %s: %s", quoteValue(config.services[index].name), rest);
}

std::optional<size_t> findService(const Config& config, std::string_view name) {
  for (size_t i = 0; i < config.services.size(); ++i) {
    if (config.services[i].name == name) return i;
  }
  return std::nullopt;
}

std::optional<size_t> findBackend(const ServiceConfig& service, uint32_t address, uint16_t port) {
  for (size_t i = 0; i < service.backends.size(); ++i) {
    if (service.backends[i].address == address && service.backends[i].port == port) return i;
  }
  return std::nullopt;
}

Reply serviceNotFound(std::string_view name) {
  return errorReply(404, absl::StrCat("service ", quoteValue(name), " not found"));
}

// (vip or vip6, port, protocol) must be unique; a second service on the same listener is a conflict
// (409) with an existing resource rather than a malformed request.
std::optional<Reply> listenerConflict(const Config& config, const ServiceConfig& service,
                                      std::optional<size_t> except) {
  for (size_t i = 0; i < config.services.size(); ++i) {
    const ServiceConfig& other = config.services[i];
    if (i == except || !sameListener(other, service)) continue;
    return errorReply(409, absl::StrFormat("%s is already served by service %s", formatListener(service),
                                           quoteValue(other.name)));
  }
  return std::nullopt;
}

std::string serviceLocation(std::string_view name) {
  return absl::StrFormat("%s/services/%s", kApiPrefix, name);
}

// Query parameters of the session endpoints: only the listed names, each at most once, so a typo
// (`?limt=5`) is an error rather than a default. Returns the error reply, if any.
std::optional<Reply> checkQuery(const httplib::Request& request,
                                std::initializer_list<std::string_view> allowed) {
  for (const auto& [name, value] : request.params) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string list;
      for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return errorReply(400, absl::StrFormat("unknown query parameter %s (expected %s)", quoteValue(name),
                                             list));
    }
    if (request.params.count(name) > 1) {
      return errorReply(400, absl::StrFormat("query parameter %s is given more than once", quoteValue(name)));
    }
  }
  return std::nullopt;
}

// ?cookie=VALUE (hashed by the daemon) or ?key=HEX, exactly one.
std::variant<SessionSelector, Reply> sessionSelector(const httplib::Request& request) {
  if (auto rejected = checkQuery(request, {"cookie", "key"})) return *rejected;
  const bool by_cookie = request.has_param("cookie");
  const bool by_key = request.has_param("key");
  if (by_cookie == by_key) {
    return errorReply(400, "give exactly one of the query parameters cookie (the session cookie's value) "
                           "or key (16 hex digits)");
  }
  SessionSelector which;
  if (by_cookie) {
    which.cookie = request.get_param_value("cookie");
    if (which.cookie->empty()) return errorReply(400, "cookie: must not be empty");
    return which;
  }
  auto key = parseSessionKey(request.get_param_value("key"));
  if (!key.ok()) return errorReply(400, absl::StrCat("key: ", key.status().message()));
  which.key = *key;
  return which;
}

constexpr size_t kDefaultSessionListLimit = 100;

enum class BodyKind { kNone, kJson };

struct Call {
  const httplib::Request& request;
  std::vector<std::string> params;  // path parameters, in template order
  json body;                        // the parsed object, for BodyKind::kJson routes
};

}  // namespace

class RestApi::Impl {
 public:
  Impl(ControlOps& ops, RestApiOptions options) : ops_(ops), options_(std::move(options)) {}
  ~Impl() { stop(); }

  absl::Status start();
  void stop();
  uint16_t port() const { return bound_port_.load(); }

  using Handler = Reply (Impl::*)(const Call&);
  struct Entry {
    RestRoute route;
    BodyKind body;
    Handler handler;
  };
  static const Entry kEntries[];  // defined below; the array's size is its initializer's

 private:
  void serve(const httplib::Request& request, httplib::Response& response);
  Reply dispatch(const httplib::Request& request);
  std::optional<Reply> authenticate(const httplib::Request& request) const;
  std::optional<Reply> readJsonBody(const httplib::Request& request, json& body) const;
  // validateConfig() then applyConfig(); an error reply when either refuses. Caller holds write_mutex_.
  std::optional<Reply> commit(const Config& next, const EditScope& scope);

  // Handlers, one per route (kEntries).
  Reply listServices(const Call& call);
  Reply createService(const Call& call);
  Reply getService(const Call& call);
  Reply replaceService(const Call& call);
  Reply patchServiceHandler(const Call& call);
  Reply deleteService(const Call& call);
  Reply listBackends(const Call& call);
  Reply addBackend(const Call& call);
  Reply getBackend(const Call& call);
  Reply patchBackendHandler(const Call& call);
  Reply deleteBackend(const Call& call);
  Reply getConfig(const Call& call);
  Reply getTimeouts(const Call& call);
  Reply patchTimeoutsHandler(const Call& call);
  Reply getIcmpErrors(const Call& call);
  Reply patchIcmpErrorsHandler(const Call& call);
  // PATCH of one reloadable section of the config: `patch` the running config's copy, commit it as
  // a whole, answer with the section as now configured.
  template <class Section>
  Reply patchSection(const Call& call, Section Config::*section, absl::Status (*patch)(const nlohmann::json&, Section&),
                     nlohmann::json (*to_json)(const Section&)) {
    std::lock_guard lock(write_mutex_);
    Config next = ops_.currentConfig();
    if (auto status = patch(call.body, next.*section); !status.ok()) return statusReply(status);
    if (auto rejected = commit(next, {})) return *rejected;
    return okJson(to_json(next.*section));
  }
  Reply reload(const Call& call);
  Reply health(const Call& call);
  Reply stats(const Call& call);
  Reply metrics(const Call& call);
  Reply listSessions(const Call& call);
  Reply lookupSession(const Call& call);
  Reply deleteSessionHandler(const Call& call);

  // Locates service params[0] and backend params[1] in `config`; an error reply when either is missing.
  struct BackendRef {
    size_t service = 0;
    size_t backend = 0;
  };
  std::variant<BackendRef, Reply> locateBackend(const Config& config, const Call& call) const;

  ControlOps& ops_;
  const RestApiOptions options_;
  httplib::Server server_;
  std::thread thread_;
  std::atomic<uint16_t> bound_port_{0};
  std::atomic<bool> listen_returned_{false};
  bool started_ = false;
  bool stopped_ = false;
  std::mutex lifecycle_mutex_;
  std::mutex write_mutex_;  // one read-modify-apply at a time
};

const RestApi::Impl::Entry RestApi::Impl::kEntries[] = {
    {{"GET", "/api/v1/services"}, BodyKind::kNone, &Impl::listServices},
    {{"POST", "/api/v1/services"}, BodyKind::kJson, &Impl::createService},
    {{"GET", "/api/v1/services/{name}"}, BodyKind::kNone, &Impl::getService},
    {{"PUT", "/api/v1/services/{name}"}, BodyKind::kJson, &Impl::replaceService},
    {{"PATCH", "/api/v1/services/{name}"}, BodyKind::kJson, &Impl::patchServiceHandler},
    {{"DELETE", "/api/v1/services/{name}"}, BodyKind::kNone, &Impl::deleteService},
    {{"GET", "/api/v1/services/{name}/backends"}, BodyKind::kNone, &Impl::listBackends},
    {{"POST", "/api/v1/services/{name}/backends"}, BodyKind::kJson, &Impl::addBackend},
    {{"GET", "/api/v1/services/{name}/backends/{address}:{port}"}, BodyKind::kNone, &Impl::getBackend},
    {{"PATCH", "/api/v1/services/{name}/backends/{address}:{port}"}, BodyKind::kJson,
     &Impl::patchBackendHandler},
    {{"DELETE", "/api/v1/services/{name}/backends/{address}:{port}"}, BodyKind::kNone,
     &Impl::deleteBackend},
    {{"GET", "/api/v1/services/{name}/sessions"}, BodyKind::kNone, &Impl::listSessions},
    {{"DELETE", "/api/v1/services/{name}/sessions"}, BodyKind::kNone, &Impl::deleteSessionHandler},
    {{"GET", "/api/v1/services/{name}/sessions/lookup"}, BodyKind::kNone, &Impl::lookupSession},
    {{"GET", "/api/v1/config"}, BodyKind::kNone, &Impl::getConfig},
    {{"GET", "/api/v1/config/timeouts"}, BodyKind::kNone, &Impl::getTimeouts},
    {{"PATCH", "/api/v1/config/timeouts"}, BodyKind::kJson, &Impl::patchTimeoutsHandler},
    {{"GET", "/api/v1/config/icmp_errors"}, BodyKind::kNone, &Impl::getIcmpErrors},
    {{"PATCH", "/api/v1/config/icmp_errors"}, BodyKind::kJson, &Impl::patchIcmpErrorsHandler},
    {{"POST", "/api/v1/reload"}, BodyKind::kNone, &Impl::reload},
    {{"GET", "/api/v1/health"}, BodyKind::kNone, &Impl::health},
    {{"GET", "/api/v1/stats"}, BodyKind::kNone, &Impl::stats},
    {{"GET", "/metrics"}, BodyKind::kNone, &Impl::metrics},
};

// --- lifecycle -----------------------------------------------------------------------------------

absl::Status RestApi::Impl::start() {
  std::lock_guard lock(lifecycle_mutex_);
  if (started_) return absl::FailedPreconditionError("REST API already started");
  const auto serve_fn = [this](const httplib::Request& request, httplib::Response& response) {
    serve(request, response);
  };
  // Responses go out in two writes (headers, body); without TCP_NODELAY the second waits for the
  // client's delayed ACK, adding ~40 ms per request on keep-alive connections (Prometheus scrapes).
  server_.set_tcp_nodelay(true);
  server_.Get(".*", serve_fn);  // also answers HEAD
  server_.Post(".*", serve_fn);
  server_.Put(".*", serve_fn);
  server_.Patch(".*", serve_fn);
  server_.Delete(".*", serve_fn);
  server_.Options(".*", serve_fn);
  // httplib reads a POST/PUT/PATCH/DELETE body until EOF when it has neither Content-Length nor
  // Transfer-Encoding, and answers 400 when the client (rightly) keeps the connection open. RFC 9112
  // §6.3 says such a request has no body, so `curl -X DELETE url` is served here, before that read.
  server_.set_pre_routing_handler([this](const httplib::Request& request, httplib::Response& response) {
    const bool may_have_body = request.method == "POST" || request.method == "PUT" ||
                               request.method == "PATCH" || request.method == "DELETE";
    if (!may_have_body || request.has_header("Content-Length") ||
        request.has_header("Transfer-Encoding")) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    serve(request, response);
    return httplib::Server::HandlerResponse::Handled;
  });
  // Errors httplib answers itself (body too large, bad request line) get the same JSON shape.
  server_.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request&, httplib::Response& response) {
    if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message = absl::StrCat("HTTP ", response.status);
    if (response.status == 413) {
      message = absl::StrCat("request body is larger than ", options_.max_body_bytes, " bytes");
    } else if (response.status == 414) {
      message = "request URI is too long";
    } else if (response.status == 400) {
      message = "bad HTTP request";
    }
    writeReply(errorReply(response.status, message), response);
    return httplib::Server::HandlerResponse::Handled;
  }));
  // serve() catches everything; this is the last line of defence should that ever change.
  server_.set_exception_handler(
      [](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
        writeReply(errorReply(500, "internal error"), response);
      });
  // httplib's default also sets SO_REUSEPORT, which would let a second tetherd bind the same port
  // and silently take half the connections. Keep only SO_REUSEADDR (restart while in TIME_WAIT).
  server_.set_socket_options([](socket_t sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server_.set_payload_max_length(options_.max_body_bytes);
  server_.set_keep_alive_timeout(kKeepAliveTimeoutS);
  const size_t threads = std::max<size_t>(1, options_.threads);
  server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };

  errno = 0;
  int port = -1;
  if (options_.port == 0) {
    port = server_.bind_to_any_port(options_.address);
  } else if (server_.bind_to_port(options_.address, options_.port)) {
    port = options_.port;
  }
  if (port <= 0) {
    const int error = errno;
    return absl::UnavailableError(absl::StrFormat(
        "REST API cannot listen on %s:%d%s", options_.address, options_.port,
        error != 0 ? absl::StrCat(": ", std::strerror(error)) : std::string()));
  }
  bound_port_ = static_cast<uint16_t>(port);
  started_ = true;
  thread_ = std::thread([this] {
    server_.listen_after_bind();
    listen_returned_ = true;
  });
  // httplib's stop() does nothing until the accept loop is running, so a stop() right after start()
  // could be lost and leave the thread listening forever. Wait for the loop.
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (!server_.is_running() && !listen_returned_) {
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!server_.is_running()) {
    return absl::UnavailableError(absl::StrFormat("REST API on %s:%d did not start", options_.address,
                                                  port));
  }
  return absl::OkStatus();
}

void RestApi::Impl::stop() {
  std::lock_guard lock(lifecycle_mutex_);
  if (!started_ || stopped_) return;
  stopped_ = true;
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

// --- request pipeline ----------------------------------------------------------------------------

void RestApi::Impl::serve(const httplib::Request& request, httplib::Response& response) {
  Reply reply;
  try {
    reply = dispatch(request);
  } catch (const std::exception& e) {
    reply = errorReply(500, absl::StrCat("internal error: ", e.what()));
  } catch (...) {
    reply = errorReply(500, "internal error: unknown exception");
  }
  try {
    writeReply(reply, response);
  } catch (...) {
    response.status = 500;
    response.set_content("{\"error\": \"internal error while writing the response\"}\n",
                         std::string(kJsonContentType).c_str());
  }
}

Reply RestApi::Impl::dispatch(const httplib::Request& request) {
  if (auto denied = authenticate(request)) return *denied;
  std::string_view path = request.path;
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const std::string_view method = request.method == "HEAD" ? "GET" : std::string_view(request.method);

  std::vector<std::string> allowed;
  std::vector<std::string> params;
  for (const Entry& entry : kEntries) {
    if (!matchPath(entry.route.path, path, params)) continue;
    if (entry.route.method != method) {
      allowed.emplace_back(entry.route.method);
      continue;
    }
    Call call{request, params, json()};
    if (entry.body == BodyKind::kJson) {
      if (auto rejected = readJsonBody(request, call.body)) return *rejected;
    }
    return (this->*entry.handler)(call);
  }
  if (allowed.empty()) {
    return errorReply(404, absl::StrCat("no such endpoint: ", request.method, " ", quoteValue(path)));
  }
  if (std::find(allowed.begin(), allowed.end(), "GET") != allowed.end()) allowed.emplace_back("HEAD");
  allowed.emplace_back("OPTIONS");
  const std::string allow = absl::StrJoin(allowed, ", ");
  Reply reply;
  if (method == "OPTIONS") {
    reply.status = 204;
  } else {
    reply = errorReply(405, absl::StrFormat("method %s is not allowed on %s (allowed: %s)",
                                            request.method, path, allow));
  }
  reply.headers.emplace_back("Allow", allow);
  return reply;
}

std::optional<Reply> RestApi::Impl::authenticate(const httplib::Request& request) const {
  if (options_.bearer_token.empty()) return std::nullopt;
  const auto unauthorized = [](std::string_view message, std::string_view challenge) {
    Reply reply = errorReply(401, message);
    reply.headers.emplace_back("WWW-Authenticate", std::string(challenge));
    return reply;
  };
  constexpr std::string_view kScheme = "bearer ";  // RFC 6750; the scheme is case-insensitive
  const std::string header = request.get_header_value("Authorization");
  if (header.empty()) {
    return unauthorized("missing bearer token (send \"Authorization: Bearer <token>\")",
                        "Bearer realm=\"tether\"");
  }
  if (header.size() < kScheme.size() || lowerAscii(header.substr(0, kScheme.size())) != kScheme) {
    return unauthorized("Authorization header is not \"Bearer <token>\"", "Bearer realm=\"tether\"");
  }
  const std::string_view token = trimSpaces(std::string_view(header).substr(kScheme.size()));
  if (!constantTimeEquals(token, options_.bearer_token)) {
    return unauthorized("invalid bearer token", "Bearer realm=\"tether\", error=\"invalid_token\"");
  }
  return std::nullopt;
}

std::optional<Reply> RestApi::Impl::readJsonBody(const httplib::Request& request, json& body) const {
  const std::string content_type = request.get_header_value("Content-Type");
  if (!isJsonMediaType(content_type)) {
    return errorReply(415, content_type.empty()
                               ? std::string("request body must be JSON (Content-Type: application/json)")
                               : absl::StrCat("request body must be JSON (Content-Type: application/json), "
                                              "got Content-Type ",
                                              quoteValue(content_type)));
  }
  auto parsed = parseJsonObject(request.body);
  if (!parsed.ok()) return statusReply(parsed.status());
  body = *std::move(parsed);
  return std::nullopt;
}

std::optional<Reply> RestApi::Impl::commit(const Config& next, const EditScope& scope) {
  // The same rules as the config file, checked here so the message can be made body-relative; the
  // daemon's applyConfig() checks again (and adds its own, e.g. boot-only keys).
  if (auto status = validateConfig(next); !status.ok()) {
    return errorReply(httpStatusFor(status.code()), scopedMessage(messageText(status), next, scope));
  }
  if (auto status = ops_.applyConfig(next); !status.ok()) {
    return errorReply(httpStatusFor(status.code()), scopedMessage(messageText(status), next, scope));
  }
  return std::nullopt;
}

std::variant<RestApi::Impl::BackendRef, Reply> RestApi::Impl::locateBackend(const Config& config,
                                                                             const Call& call) const {
  const std::optional<size_t> service = findService(config, call.params[0]);
  if (!service) return serviceNotFound(call.params[0]);
  auto id = parseBackendId(call.params[1]);
  if (!id.ok()) return errorReply(400, absl::StrCat("backend ", id.status().message()));
  const std::optional<size_t> backend = findBackend(config.services[*service], id->first, id->second);
  if (!backend) {
    return errorReply(404, absl::StrCat("service ", quoteValue(config.services[*service].name),
                                        " has no backend ", backendId(id->first, id->second)));
  }
  return BackendRef{*service, *backend};
}

// --- services ------------------------------------------------------------------------------------

Reply RestApi::Impl::listServices(const Call&) {
  json services = json::array();
  for (const ServiceConfig& service : ops_.currentConfig().services) {
    services.push_back(serviceToJson(service));
  }
  return okJson({{"services", services}});
}

Reply RestApi::Impl::createService(const Call& call) {
  auto service = serviceFromJson(call.body, /*require_backends=*/false);
  if (!service.ok()) return statusReply(service.status());
  std::lock_guard lock(write_mutex_);
  Config next = ops_.currentConfig();
  if (findService(next, service->name)) {
    return errorReply(409, absl::StrCat("service ", quoteValue(service->name), " already exists"));
  }
  if (auto conflict = listenerConflict(next, *service, std::nullopt)) return *conflict;
  next.services.push_back(*service);
  if (auto rejected = commit(next, {.service = next.services.size() - 1})) return *rejected;
  Reply reply = okJson(serviceToJson(*service), 201);
  reply.headers.emplace_back("Location", serviceLocation(service->name));
  return reply;
}

Reply RestApi::Impl::getService(const Call& call) {
  const Config config = ops_.currentConfig();
  const std::optional<size_t> index = findService(config, call.params[0]);
  if (!index) return serviceNotFound(call.params[0]);
  return okJson(serviceToJson(config.services[*index]));
}

Reply RestApi::Impl::replaceService(const Call& call) {
  const std::string& name = call.params[0];
  // The name is the resource's identity: it may be omitted from the body, but not changed.
  json body = call.body;
  if (auto it = body.find("name"); it == body.end()) {
    body["name"] = name;
  } else if (it->is_string() && it->get_ref<const std::string&>() != name) {
    return errorReply(400, absl::StrCat("name: ", quoteValue(it->get_ref<const std::string&>()),
                                        " does not match the service in the path ", quoteValue(name),
                                        " (to rename, POST the new service and DELETE the old one)"));
  }
  std::lock_guard lock(write_mutex_);
  Config next = ops_.currentConfig();
  const std::optional<size_t> index = findService(next, name);
  if (!index) return serviceNotFound(name);
  auto service = serviceFromJson(body, /*require_backends=*/true);
  if (!service.ok()) return statusReply(service.status());
  if (auto conflict = listenerConflict(next, *service, index)) return *conflict;
  next.services[*index] = *service;
  if (auto rejected = commit(next, {.service = *index})) return *rejected;
  return okJson(serviceToJson(*service));
}

Reply RestApi::Impl::patchServiceHandler(const Call& call) {
  std::lock_guard lock(write_mutex_);
  Config next = ops_.currentConfig();
  const std::optional<size_t> index = findService(next, call.params[0]);
  if (!index) return serviceNotFound(call.params[0]);
  ServiceConfig& service = next.services[*index];
  if (auto status = patchService(call.body, service); !status.ok()) return statusReply(status);
  if (auto rejected = commit(next, {.service = *index})) return *rejected;
  return okJson(serviceToJson(service));
}

Reply RestApi::Impl::deleteService(const Call& call) {
  std::lock_guard lock(write_mutex_);
  Config next = ops_.currentConfig();
  const std::optional<size_t> index = findService(next, call.params[0]);
  if (!index) return serviceNotFound(call.params[0]);
  const ServiceConfig removed = next.services[*index];
  next.services.erase(next.services.begin() + static_cast<std::ptrdiff_t>(*index));
  if (auto rejected = commit(next, {})) return *rejected;
  return okJson(serviceToJson(removed));
}

// --- backends ------------------------------------------------------------------------------------

Reply RestApi::Impl::listBackends(const Call& call) {
  const Config config = ops_.currentConfig();
  const std::optional<size_t> index = findService(config, call.params[0]);
  if (!index) return serviceNotFound(call.params[0]);
  json backends = json::array();
  for (const BackendConfig& backend : config.services[*index].backends) {
    backends.push_back(backendToJson(backend));
  }
  return okJson({{"service", config.services[*index].name}, {"backends", backends}});
}

Reply RestApi::Impl::addBackend(const Call& call) {
  std::lock_guard lock(write_mutex_);
  Config next = ops_.currentConfig();
  const std::optional<size_t> index = findService(next, call.params[0]);
  if (!index) return serviceNotFound(call.params[0]);
  ServiceConfig& service = next.services[*index];
  auto backend = backendFromJson(call.body, service);
  if (!backend.ok()) return statusReply(backend.status());
  if (findBackend(service, backend->address, backend->port)) {
    return errorReply(409, absl::StrCat("service ", quoteValue(service.name), " already has backend ",
                                        backendId(backend->address, backend->port)));
  }
  service.backends.push_back(*backend);
  const std::string location = absl::StrCat(serviceLocation(service.name), "/backends/",
                                            backendId(backend->address, backend->port));
  if (auto rejected = commit(next, {.service = *index, .backend = service.backends.size() - 1})) {
    return *rejected;
  }
  Reply reply = okJson(backendToJson(*backend), 201);
  reply.headers.emplace_back("Location", location);
  return reply;
}

Reply RestApi::Impl::getBackend(const Call& call) {
  const Config config = ops_.currentConfig();
  auto ref = locateBackend(config, call);
  if (auto* error = std::get_if<Reply>(&ref)) return *error;
  const BackendRef& at = std::get<BackendRef>(ref);
  return okJson(backendToJson(config.services[at.service].backends[at.backend]));
}

Reply RestApi::Impl::patchBackendHandler(const Call& call) {
  std::lock_guard lock(write_mutex_);
  Config next = ops_.currentConfig();
  auto ref = locateBackend(next, call);
  if (auto* error = std::get_if<Reply>(&ref)) return *error;
  const BackendRef& at = std::get<BackendRef>(ref);
  BackendConfig& backend = next.services[at.service].backends[at.backend];
  if (auto status = patchBackend(call.body, backend); !status.ok()) return statusReply(status);
  if (auto rejected = commit(next, {.service = at.service, .backend = at.backend})) return *rejected;
  return okJson(backendToJson(backend));
}

Reply RestApi::Impl::deleteBackend(const Call& call) {
  std::lock_guard lock(write_mutex_);
  Config next = ops_.currentConfig();
  auto ref = locateBackend(next, call);
  if (auto* error = std::get_if<Reply>(&ref)) return *error;
  const BackendRef& at = std::get<BackendRef>(ref);
  std::vector<BackendConfig>& backends = next.services[at.service].backends;
  const BackendConfig removed = backends[at.backend];
  backends.erase(backends.begin() + static_cast<std::ptrdiff_t>(at.backend));
  if (auto rejected = commit(next, {.service = at.service})) return *rejected;
  return okJson(backendToJson(removed));
}

// --- config, reload, observability ---------------------------------------------------------------

Reply RestApi::Impl::getConfig(const Call&) { return okJson(configToJson(ops_.currentConfig())); }

Reply RestApi::Impl::getTimeouts(const Call&) {
  return okJson(timeoutsToJson(ops_.currentConfig().timeouts));
}

Reply RestApi::Impl::patchTimeoutsHandler(const Call& call) {
  return patchSection(call, &Config::timeouts, patchTimeouts, timeoutsToJson);
}

Reply RestApi::Impl::getIcmpErrors(const Call&) {
  return okJson(icmpErrorsToJson(ops_.currentConfig().icmp_errors));
}

Reply RestApi::Impl::patchIcmpErrorsHandler(const Call& call) {
  return patchSection(call, &Config::icmp_errors, patchIcmpErrors, icmpErrorsToJson);
}

Reply RestApi::Impl::reload(const Call&) {
  std::lock_guard lock(write_mutex_);
  if (auto status = ops_.reloadFromFile(); !status.ok()) {
    // The request is fine; the file is not. A file that does not validate (or changes a boot-only key)
    // conflicts with the running state: 409. One that cannot be read is the server's problem: 500.
    int http_status = 500;
    if (status.code() == absl::StatusCode::kInvalidArgument ||
        status.code() == absl::StatusCode::kFailedPrecondition) {
      http_status = 409;
    } else if (status.code() == absl::StatusCode::kUnavailable) {
      http_status = 503;
    }
    return errorReply(http_status, absl::StrCat("reload failed, running configuration unchanged: ",
                                                status.message()));
  }
  return okJson(configToJson(ops_.currentConfig()));
}

Reply RestApi::Impl::health(const Call&) { return okJson(healthToJson(ops_.health())); }

Reply RestApi::Impl::stats(const Call&) { return okJson(ops_.stats()); }

Reply RestApi::Impl::metrics(const Call&) {
  Reply reply;
  reply.text = ops_.metricsText();
  reply.content_type = std::string(kMetricsContentType);
  return reply;
}

// --- sticky sessions -----------------------------------------------------------------------------

Reply RestApi::Impl::listSessions(const Call& call) {
  if (auto rejected = checkQuery(call.request, {"cursor", "limit"})) return *rejected;
  uint64_t cursor = 0;
  if (call.request.has_param("cursor")) {
    auto parsed = parseSessionKey(call.request.get_param_value("cursor"));
    if (!parsed.ok()) return errorReply(400, absl::StrCat("cursor: ", parsed.status().message()));
    cursor = *parsed;
  }
  size_t limit = kDefaultSessionListLimit;
  if (call.request.has_param("limit")) {
    const std::string text = call.request.get_param_value("limit");
    uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
      return errorReply(400, absl::StrCat("limit: ", quoteValue(text), " is not a decimal integer"));
    }
    if (value < 1 || value > kMaxSessionListLimit) {
      return errorReply(400, absl::StrCat("limit: ", rangeMessage(text, 1, kMaxSessionListLimit)));
    }
    limit = static_cast<size_t>(value);
  }
  auto page = ops_.listSessions(call.params[0], cursor, limit);
  if (!page.ok()) return statusReply(page.status());
  json sessions = json::array();
  for (const SessionView& session : page->sessions) sessions.push_back(sessionToJson(session));
  return okJson({{"service", call.params[0]},
                 {"sessions", sessions},
                 {"next_cursor", formatSessionKey(page->next_cursor)},
                 {"more", page->more}});
}

Reply RestApi::Impl::lookupSession(const Call& call) {
  auto which = sessionSelector(call.request);
  if (auto* error = std::get_if<Reply>(&which)) return *error;
  auto session = ops_.findSession(call.params[0], std::get<SessionSelector>(which));
  if (!session.ok()) return statusReply(session.status());
  json body = sessionToJson(*session);
  body["service"] = call.params[0];
  return okJson(body);
}

Reply RestApi::Impl::deleteSessionHandler(const Call& call) {
  auto which = sessionSelector(call.request);
  if (auto* error = std::get_if<Reply>(&which)) return *error;
  if (auto status = ops_.deleteSession(call.params[0], std::get<SessionSelector>(which)); !status.ok()) {
    return statusReply(status);
  }
  return okJson({{"deleted", true}});
}

// --- RestApi -------------------------------------------------------------------------------------

RestApi::RestApi(ControlOps& ops, RestApiOptions options)
    : impl_(std::make_unique<Impl>(ops, std::move(options))) {}

RestApi::~RestApi() = default;

absl::Status RestApi::start() { return impl_->start(); }
void RestApi::stop() { impl_->stop(); }
uint16_t RestApi::port() const { return impl_->port(); }

std::span<const RestRoute> RestApi::routes() {
  static const std::vector<RestRoute> kRoutes = [] {
    std::vector<RestRoute> routes;
    for (const Impl::Entry& entry : Impl::kEntries) routes.push_back(entry.route);
    return routes;
  }();
  return kRoutes;
}

}  // namespace lb::controlplane
