// Tether's REST API: JSON over HTTP/1.1 on top of ControlOps, versioned under /api/v1, plus Prometheus
// metrics at /metrics. Every endpoint, schema and error is described in controlplane/openapi.yaml (a
// test checks that each route in routes() appears there); `tetherctl` (tools/tetherctl/) is its client.
//
// Use: construct with the daemon's ControlOps, start(), and stop() (or destroy) before the ControlOps.
// The server runs on its own threads (cpp-httplib's pool), never on an lcore.
//
// Every change follows one path: copy currentConfig(), apply the edit, run validateConfig(), then
// applyConfig(). Request bodies are checked field by field before any Config is built
// (controlplane/rest_json.h), so a bad request changes nothing and its error names the field. Writes
// are serialised by a mutex here, so two concurrent edits through the API never lose one another.
//
// Errors are `{"error": "<message>"}` with: 400 malformed or invalid request, 401 missing or wrong
// bearer token (only when a token is configured), 404 unknown endpoint, service or backend, 405 method
// not allowed on an existing endpoint (with an Allow header), 409 service or backend already exists or
// the change conflicts with the running daemon (boot-only key), 413 body over max_body_bytes, 415 a
// write whose body is not application/json, 500 anything unexpected (no exception leaves a handler).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "controlplane/control_ops.h"

namespace lb::controlplane {

inline constexpr uint16_t kDefaultRestPort = 9180;
inline constexpr size_t kMaxRestBodyBytes = size_t{1} << 20;

struct RestApiOptions {
  // Loopback by default: the API can drain every backend, so exposing it is a deliberate choice.
  std::string address = "127.0.0.1";
  uint16_t port = kDefaultRestPort;  // 0 = any free port (tests); RestApi::port() tells which
  // Empty = no authentication. Otherwise every request needs `Authorization: Bearer <token>`,
  // /metrics included (Prometheus sends it with `authorization: {credentials: ...}`).
  std::string bearer_token;
  size_t max_body_bytes = kMaxRestBodyBytes;
  size_t threads = 4;  // HTTP worker threads; requests are small and writes are serialised anyway
};

// One endpoint: method and OpenAPI path template ("/api/v1/services/{name}").
struct RestRoute {
  std::string_view method;
  std::string_view path;
};

class RestApi {
 public:
  // `ops` must outlive this object.
  explicit RestApi(ControlOps& ops, RestApiOptions options = {});
  ~RestApi();  // stop()s
  RestApi(const RestApi&) = delete;
  RestApi& operator=(const RestApi&) = delete;

  // Binds the listening socket (so a busy port is reported here, not on another thread), then serves on
  // a background thread. Unavailable naming the address when the bind fails; FailedPrecondition when
  // already started.
  absl::Status start();
  // Stops accepting, finishes in-flight requests and joins the thread. Idempotent.
  void stop();
  // The bound port (useful with options.port == 0); 0 before start().
  uint16_t port() const;

  // Every route the server answers, in registration order (OPTIONS and HEAD are implied).
  static std::span<const RestRoute> routes();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lb::controlplane
