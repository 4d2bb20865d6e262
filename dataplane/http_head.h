// HTTP/1.x message heads on the hot path, for cookie stickiness (issue 5): find where a request (or
// response) head ends, its start line, and the value of one named cookie, without copying and without
// reading past the head.
//
// Use it like this. A flow that balances on a cookie keeps the bytes of the client's request head in a
// contiguous, preallocated buffer as TCP segments arrive (at most HttpLimits::max_head_bytes of them),
// and after each segment calls HttpHeadScanner::scan() on everything received so far. The scanner
// remembers where it stopped, so the total work over all segments is O(head bytes), whatever the
// split. On kComplete, request() gives string_views into the caller's buffer and findCookie() the
// session cookie's value. The backend's response head goes through a kResponse scanner and
// findSetCookie(), so the balancer learns value -> backend. Nothing here allocates, locks, throws or
// reads a byte outside the span it was given (nor past max_head_bytes of it), and nothing past the
// blank line that ends the head is parsed: the body, or a pipelined next request, never changes the
// result (a 16-byte load may touch up to 15 bytes of the span after the head; its bytes are ignored).
//
// What is accepted follows RFC 9112 (HTTP/1.1 message syntax), RFC 9110 (field semantics) and
// RFC 6265 (cookies), choosing the strict reading wherever a lenient one would let the balancer and
// the backend disagree about where the head ends or which cookie was sent (request smuggling,
// RFC 9112 §11.2):
//   - Lines end in CRLF. A bare LF is rejected (kMalformed), though RFC 9112 §2.2 lets a recipient
//     accept it: every browser and HTTP library sends CRLF, and a backend that does not accept bare
//     LF would see a different head from ours. A bare CR and a NUL anywhere are rejected (RFC 9110
//     §5.5 lets a recipient reject CR, LF or NUL in a field value).
//   - Empty lines before the start line are skipped (RFC 9112 §2.2), and counted in head_length.
//   - Start lines: `method SP request-target SP HTTP/d.d` (method a token, target non-empty without
//     whitespace or control bytes); `HTTP/d.d SP 3DIGIT [SP reason]` for responses.
//   - Field lines: a token name, then ':' with no whitespace before it (RFC 9112 §5.1 says reject).
//     A line starting with SP or HTAB (obs-fold, RFC 9112 §5.2) is rejected. Field names compare
//     case-insensitively (RFC 9110 §5.1); values may hold any byte except CR, LF and NUL.
//   - Bounds (HttpLimits): total head bytes (exceeded exactly at max_head_bytes + 1), bytes per line,
//     number of field lines. Each is reported as kTooLarge (what a server answers with 414 or 431).
//
// Cookie header semantics (findCookie): every `Cookie` field line counts, and the LAST occurrence of
// the name across all of them wins (issue 5), including a repeat within one line. A line is split on
// every ';' (RFC 6265 §4.1.1 excludes ';' from cookie values even inside quotes), each piece is
// trimmed of SP/HTAB, split at its first '=', and both sides trimmed again; a piece without '=' is
// skipped. Cookie names compare case-sensitively (RFC 6265 §5.4 sends them as set). A value in
// double quotes is returned without them, as findSetCookie does, so a value learned from Set-Cookie
// equals the one the browser sends back.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace lb::dataplane {

enum class HeadStatus : uint8_t {
  kIncomplete,  // no blank line yet and no bound exceeded: wait for more bytes
  kComplete,    // head ends at headLength(); nothing after it was examined
  kTooLarge,    // a bound in HttpLimits was exceeded before the head ended
  kMalformed,   // a byte sequence RFC 9112 says to reject (see the file comment)
};

std::string_view toString(HeadStatus status);

// Bounds on one head. Boot-time configuration; the control plane checks them with valid().
struct HttpLimits {
  static constexpr uint32_t kDefaultMaxHeadBytes = 16 * 1024;
  static constexpr uint32_t kDefaultMaxLineBytes = 16 * 1024;
  static constexpr uint32_t kDefaultMaxFields = 128;
  static constexpr uint32_t kMaxHeadBytesCap = 1u << 20;  // offsets are kept as uint32_t

  uint32_t max_head_bytes = kDefaultMaxHeadBytes;  // start line, fields and the blank line's CRLF
  uint32_t max_line_bytes = kDefaultMaxLineBytes;  // one line, without its CRLF
  uint32_t max_fields = kDefaultMaxFields;         // field lines in one head

  // 16 is the shortest request line with its CRLF; real limits are a few KiB (issue 5: 8-16 KiB).
  constexpr bool valid() const {
    return max_head_bytes >= 16 && max_head_bytes <= kMaxHeadBytesCap && max_line_bytes >= 1 &&
           max_fields >= 1;
  }
};

// The scanner records the values of up to this many Cookie (request) or Set-Cookie (response) field
// lines, so the cookie lookup never walks the other fields. A head with more falls back to a walk
// over all field lines: still correct and bounded, just slower.
inline constexpr size_t kMaxRecordedCookieFields = 8;

// Views of the Cookie (or Set-Cookie) field values of one head, in the order received. Each value is
// the raw bytes after the ':' up to the CR, untrimmed.
struct CookieFieldValues {
  std::array<std::string_view, kMaxRecordedCookieFields> values{};
  uint8_t count = 0;
  bool truncated = false;  // more lines than kMaxRecordedCookieFields; `values` holds the first ones
};

// A complete request head. Every view points into the buffer given to the scanner.
struct HttpRequestHead {
  std::string_view method;   // e.g. "GET"
  std::string_view target;   // request-target as sent, e.g. "/cart?id=7"
  std::string_view version;  // e.g. "HTTP/1.1"
  std::string_view fields;   // every field line with its CRLF; empty if there are none
  size_t head_length = 0;    // bytes from the buffer start through the blank line; the body starts here
  CookieFieldValues cookies;
};

// A complete response head.
struct HttpResponseHead {
  std::string_view version;  // e.g. "HTTP/1.1"
  uint16_t status_code = 0;  // 100..999; a 1xx head is followed by another head on the connection
  std::string_view reason;   // may be empty
  std::string_view fields;
  size_t head_length = 0;
  CookieFieldValues set_cookies;
};

// Incremental head scanner for one message. Holds offsets only, never pointers, so the caller may
// move its buffer between calls, provided the bytes already given are unchanged.
//
// State is 132 bytes and holds no heap memory; keep one per pending flow, or one per lcore reused
// with reset().
class HttpHeadScanner {
 public:
  enum class Kind : uint8_t { kRequest, kResponse };

  explicit HttpHeadScanner(Kind kind, const HttpLimits& limits = {});

  // `received` is every byte of the message received so far, starting at its first byte. Examines
  // only bytes not examined by earlier calls (a CR at the very end is looked at again with the byte
  // after it). Once the status is kComplete, kTooLarge or kMalformed it stays so: further calls
  // return it without reading. Never reads past received.size() nor past max_head_bytes.
  HeadStatus scan(std::string_view received);

  HeadStatus status() const { return status_; }
  // Bytes of the head through the blank line's LF. Valid when status() is kComplete.
  size_t headLength() const { return head_length_; }

  // The head as views into `received` (the same bytes given to scan(), or any buffer holding them).
  // Require status() == kComplete and the matching kind; otherwise return an empty head.
  HttpRequestHead request(std::string_view received) const;
  HttpResponseHead response(std::string_view received) const;

  // Ready for the next message on the same connection.
  void reset();

 private:
  bool processLine(const char* base, uint32_t begin, uint32_t end);
  bool parseRequestLine(const char* line, uint32_t length);
  bool parseStatusLine(const char* line, uint32_t length);
  CookieFieldValues cookieFields(std::string_view received) const;

  HttpLimits limits_;
  Kind kind_;
  HeadStatus status_ = HeadStatus::kIncomplete;
  bool start_line_seen_ = false;
  uint8_t cookie_count_ = 0;
  bool cookie_truncated_ = false;
  uint16_t status_code_ = 0;
  uint32_t pos_ = 0;          // every byte before pos_ has been examined
  uint32_t line_start_ = 0;   // first byte of the line being scanned
  uint32_t fields_ = 0;       // field lines seen
  uint32_t head_length_ = 0;
  // Start line as three parts: [start, part1_end) SP [part2_begin, part2_end) SP [part3_begin,
  // start_end). Request: method, target, version. Response: version, status code, reason.
  uint32_t start_begin_ = 0;
  uint32_t part1_end_ = 0;
  uint32_t part2_begin_ = 0;
  uint32_t part2_end_ = 0;
  uint32_t part3_begin_ = 0;
  uint32_t start_end_ = 0;
  uint32_t fields_begin_ = 0;
  uint32_t fields_end_ = 0;
  std::array<uint32_t, kMaxRecordedCookieFields> cookie_begin_{};
  std::array<uint32_t, kMaxRecordedCookieFields> cookie_end_{};
};

// One-shot forms for a head already fully in memory. `out` is written only on kComplete.
HeadStatus parseRequestHead(std::string_view bytes, HttpRequestHead& out,
                            const HttpLimits& limits = {});
HeadStatus parseResponseHead(std::string_view bytes, HttpResponseHead& out,
                             const HttpLimits& limits = {});

// Whether `name` is a cookie-name (an RFC 9110 token, RFC 6265 §4.1.1). The lookups below require
// one; the config validator checks it once so the hot path doesn't.
bool isValidCookieName(std::string_view name);

// The value of cookie `name` in the request's Cookie field lines: the last occurrence wins. A value
// present but empty (`name=` or `name=""`) is an empty view; absent is nullopt. Cost is one pass
// backwards over the Cookie lines that stops at the first (i.e. last-sent) match.
std::optional<std::string_view> findCookie(const HttpRequestHead& head, std::string_view name);

// The value set for cookie `name` by the response's Set-Cookie lines (RFC 6265 §5.2: the
// name-value pair is everything before the first ';'; a pair without '=' or with an empty name is
// ignored). The last Set-Cookie for the name wins, as it does in the user agent. An expiring
// Set-Cookie (`name=; Max-Age=0`) yields its (usually empty) value like any other.
std::optional<std::string_view> findSetCookie(const HttpResponseHead& head, std::string_view name);

namespace detail {

// Reference implementations, forward and obviously written, exposed so the tests and the fuzzer can
// check the fast paths against them. findCookie also uses them when a head has more than
// kMaxRecordedCookieFields Cookie lines.
std::optional<std::string_view> lastCookieInValueForward(std::string_view value,
                                                         std::string_view name);
std::optional<std::string_view> findCookieInFields(std::string_view fields, std::string_view name);
std::optional<std::string_view> findSetCookieInFields(std::string_view fields,
                                                      std::string_view name);

// The fast path for one Cookie field value: candidates found 16 bytes at a time from the end.
std::optional<std::string_view> lastCookieInValue(std::string_view value, std::string_view name);

}  // namespace detail

}  // namespace lb::dataplane
