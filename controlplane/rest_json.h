// Config <-> JSON for the REST API (controlplane/rest_api.h, described in controlplane/openapi.yaml).
//
// The JSON shapes use the YAML config file's key names and value spellings (configs/README.md), so an
// operator who knows the file knows the API: `{"address": "10.99.0.11", "port": 8080, "weight": 1}`.
//
// Readers are strict for the same reason the YAML parser is: a typo must be an error, not a default.
// Unknown fields, repeated keys, wrong JSON types (`"port": "80"`, `"weight": 1.5`, `null`) and
// out-of-range values are rejected before any Config is built, with messages naming the field by its
// path inside the request body and worded like the config file's (controlplane/value_text.h):
//   `weight: 2000000 is out of range 0..1000000`, `backends[1].port: "80" is a string, expected an
//   integer (remove the quotes)`, `forwarding: "dsrr" is not one of fullnat, dsr, ipip`.
// Rules that span fields or services (prime table size, DSR port == service port, unique backends)
// stay in validateConfig(); rest_api.cc runs it on the edited Config and rewrites its key paths.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controlplane/config.h"
#include "controlplane/control_ops.h"

namespace lb::controlplane {

// A backend's name in URLs and messages: "10.99.0.11:8080".
std::string backendId(uint32_t address, uint16_t port);
// Parses "a.b.c.d:port" (port 1..65535). InvalidArgument names the text.
absl::StatusOr<std::pair<uint32_t, uint16_t>> parseBackendId(std::string_view text);

// --- Config -> JSON ------------------------------------------------------------------------------
nlohmann::json backendToJson(const BackendConfig& backend);
nlohmann::json healthCheckToJson(const HealthCheckConfig& health_check);
nlohmann::json serviceToJson(const ServiceConfig& service);  // "http" only when the service has one
nlohmann::json httpToJson(const HttpConfig& http);
nlohmann::json timeoutsToJson(const Timeouts& timeouts);
nlohmann::json icmpErrorsToJson(const IcmpErrorLimits& limits);
nlohmann::json configToJson(const Config& config);
// {"backends": [{service, address, port, state, transitions, last_error}], "summary": {up, down, unknown}}
nlohmann::json healthToJson(const std::vector<BackendHealth>& health);

// --- sticky sessions -----------------------------------------------------------------------------
// {"key": "<16 hex digits>", "backend": "a.b.c.d:port" | null (left the service), "backend_id": hex,
//  "created_age_s": n, "last_used_age_s": n}
nlohmann::json sessionToJson(const SessionView& session);
// Session keys (and list cursors) travel as 16 lower-case hex digits, since JSON numbers above 2^53
// do not survive most clients. The parser takes 1..16 hex digits of either case.
std::string formatSessionKey(uint64_t key);
absl::StatusOr<uint64_t> parseSessionKey(std::string_view text);

// --- request body -> Config pieces ----------------------------------------------------------------
// Parses a request body that must be one JSON object. Malformed JSON (message carries line and column),
// a repeated key anywhere in the document, and any other top-level type are InvalidArgument.
absl::StatusOr<nlohmann::json> parseJsonObject(std::string_view body);

// A whole service (POST /services, PUT /services/{name}). Required: name, vip, port; with
// `require_backends` also backends (PUT replaces the list, so it must be given, possibly empty).
// Everything else takes the config file's defaults. A backend's port may be omitted for dsr/ipip
// services (it must equal the service port anyway) and is required for fullnat, as in the file.
absl::StatusOr<ServiceConfig> serviceFromJson(const nlohmann::json& body, bool require_backends);

// One backend to add to `service` (POST /services/{name}/backends): address required, port as above,
// weight and state optional.
absl::StatusOr<BackendConfig> backendFromJson(const nlohmann::json& body, const ServiceConfig& service);

// Partial updates. Each applies only the fields present; an empty object, unknown fields, and fields
// that PATCH cannot change (a service's name, vip, port, protocol, backends; a backend's address, port)
// are errors. On error the target is left unchanged.
absl::Status patchBackend(const nlohmann::json& body, BackendConfig& backend);
// algorithm, key, maglev_size, ring_vnodes, seed, forwarding, health_check and http (merged field by
// field; `"http": null` removes the block).
absl::Status patchService(const nlohmann::json& body, ServiceConfig& service);
absl::Status patchTimeouts(const nlohmann::json& body, Timeouts& timeouts);
// The same for `icmp_errors` (per_second 0..1000000, burst 1..100000).
absl::Status patchIcmpErrors(const nlohmann::json& body, IcmpErrorLimits& limits);

}  // namespace lb::controlplane
