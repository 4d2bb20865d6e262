// libFuzzer target for dataplane/http_head.h: request and response head scans plus cookie lookups on
// arbitrary bytes. Built only with -Dfuzz=true under clang (see the HTTP section of
// tests/dataplane/meson.build for the commands). It checks, beyond ASan/UBSan's memory checks:
//   - split invariance: the input fed as one segment, as two (at a fuzzer-chosen offset) and as
//     three gives the same verdict, head length, start line, field block and cookie value at the same
//     offsets; a partial buffer never reports a verdict other than "incomplete" or the final one;
//   - the fast cookie lookups equal the forward reference walks, on scanned heads and on raw bytes.
// Every partial buffer is its own exact-size allocation, so a read past the bytes given traps.
//
// Input layout: byte 0 picks the cookie name and limits, bytes 1-2 the first split, byte 3 the
// second; the rest is the message. With bit 4 of byte 0 set, the message is prefixed with a request
// line and "Cookie: " so the fuzzer reaches cookie parsing without discovering HTTP first.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dataplane/http_head.h"

namespace {

using lb::dataplane::HeadStatus;
using lb::dataplane::HttpHeadScanner;
using lb::dataplane::HttpLimits;
using Kind = HttpHeadScanner::Kind;
namespace detail = lb::dataplane::detail;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_head_fuzz: %s\n", what);
    std::abort();
  }
}

struct Copy {
  explicit Copy(std::string_view s) : size(s.size()), data(new char[s.size() + (s.empty() ? 1 : 0)]) {
    if (size != 0) std::memcpy(data.get(), s.data(), size);
  }
  std::string_view view() const { return {data.get(), size}; }
  size_t size;
  std::unique_ptr<char[]> data;
};

struct Outcome {
  HeadStatus status = HeadStatus::kIncomplete;
  size_t head_length = 0;
  size_t offsets[10] = {};  // start/size of the three start-line parts and fields, cookie
  bool has_cookie = false;
  bool operator==(const Outcome&) const = default;
};

size_t offsetOf(std::string_view part, std::string_view buffer) {
  return part.data() == nullptr ? 0 : static_cast<size_t>(part.data() - buffer.data());
}

Outcome describe(const HttpHeadScanner& s, Kind kind, std::string_view buf, std::string_view name,
                 bool name_is_token) {
  Outcome o;
  o.status = s.status();
  if (o.status != HeadStatus::kComplete) return o;
  o.head_length = s.headLength();
  check(o.head_length <= buf.size(), "head longer than buffer");
  std::string_view parts[3];
  std::string_view fields;
  std::optional<std::string_view> cookie;
  if (kind == Kind::kRequest) {
    const auto h = s.request(buf);
    parts[0] = h.method, parts[1] = h.target, parts[2] = h.version, fields = h.fields;
    cookie = lb::dataplane::findCookie(h, name);
    if (name_is_token) check(cookie == detail::findCookieInFields(h.fields, name), "findCookie != reference");
  } else {
    const auto h = s.response(buf);
    parts[0] = h.version, parts[1] = {}, parts[2] = h.reason, fields = h.fields;
    check(h.status_code >= 100 && h.status_code <= 999, "status code out of range");
    cookie = lb::dataplane::findSetCookie(h, name);
    if (name_is_token) {
      check(cookie == detail::findSetCookieInFields(h.fields, name), "findSetCookie != reference");
    }
  }
  for (int i = 0; i < 3; ++i) {
    o.offsets[2 * i] = offsetOf(parts[i], buf);
    o.offsets[2 * i + 1] = parts[i].size();
    check(parts[i].empty() || o.offsets[2 * i] + parts[i].size() <= o.head_length, "part past head");
  }
  o.offsets[6] = offsetOf(fields, buf);
  o.offsets[7] = fields.size();
  check(o.offsets[6] + fields.size() <= o.head_length, "fields past head");
  if (cookie) {
    o.has_cookie = true;
    o.offsets[8] = offsetOf(*cookie, buf);
    o.offsets[9] = cookie->size();
    check(cookie->empty() || o.offsets[8] + cookie->size() <= o.head_length, "cookie past head");
  }
  return o;
}

Outcome run(std::string_view msg, Kind kind, const HttpLimits& limits, size_t cut1, size_t cut2,
            int segments, std::string_view name, bool name_is_token) {
  HttpHeadScanner scanner(kind, limits);
  HeadStatus partial[2] = {HeadStatus::kIncomplete, HeadStatus::kIncomplete};
  if (segments >= 2) partial[0] = scanner.scan(Copy(msg.substr(0, cut1)).view());
  if (segments >= 3) partial[1] = scanner.scan(Copy(msg.substr(0, cut2)).view());
  const Copy whole(msg);
  const HeadStatus final_status = scanner.scan(whole.view());
  for (HeadStatus p : partial) {
    check(p == HeadStatus::kIncomplete || p == final_status, "partial verdict differs from final");
  }
  return describe(scanner, kind, whole.view(), name, name_is_token);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const uint8_t mode = data[0];
  static constexpr std::string_view kNames[] = {"JSESSIONID", "connect.sid", "a", "a b"};
  const std::string_view name = kNames[mode & 3];
  const bool name_is_token = lb::dataplane::isValidCookieName(name);
  HttpLimits limits;
  if (mode & 4) limits = {.max_head_bytes = 64, .max_line_bytes = 40, .max_fields = 3};
  if (mode & 8) limits.max_head_bytes = 16;

  std::string msg;
  if (mode & 16) msg = "GET / HTTP/1.1\r\nCookie: ";
  msg.append(reinterpret_cast<const char*>(data) + 4, size - 4);

  const size_t cut1 = (static_cast<size_t>(data[1]) << 8 | data[2]) % (msg.size() + 1);
  const size_t cut2 = cut1 + data[3] % (msg.size() - cut1 + 1);

  for (Kind kind : {Kind::kRequest, Kind::kResponse}) {
    const Outcome whole = run(msg, kind, limits, 0, 0, 1, name, name_is_token);
    check(run(msg, kind, limits, cut1, 0, 2, name, name_is_token) == whole, "two segments differ");
    check(run(msg, kind, limits, cut1, cut2, 3, name, name_is_token) == whole, "three segments differ");
  }

  // The fast per-line cookie search on raw bytes, against the forward reference.
  const Copy raw(std::string_view(reinterpret_cast<const char*>(data) + 4, size - 4));
  const auto fast = detail::lastCookieInValue(raw.view(), name);
  if (name_is_token) check(fast == detail::lastCookieInValueForward(raw.view(), name), "line search != reference");
  // A hand-made head over arbitrary bytes (no scan): lookups stay in bounds.
  lb::dataplane::HttpRequestHead req;
  req.fields = raw.view();
  req.cookies.values[0] = raw.view();
  req.cookies.count = 1;
  (void)lb::dataplane::findCookie(req, name);
  req.cookies.truncated = true;
  (void)lb::dataplane::findCookie(req, name);
  lb::dataplane::HttpResponseHead resp;
  resp.fields = raw.view();
  resp.set_cookies.values[0] = raw.view();
  resp.set_cookies.count = 1;
  (void)lb::dataplane::findSetCookie(resp, name);
  resp.set_cookies.truncated = true;
  (void)lb::dataplane::findSetCookie(resp, name);
  return 0;
}
