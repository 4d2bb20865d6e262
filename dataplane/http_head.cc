// HTTP/1.x head scanning and cookie lookup (dataplane/http_head.h).
//
// Two loops carry the cost. scan() finds the next CR, LF or NUL 16 bytes at a time, which is where
// every line ends and also where every forbidden byte shows up, so the whole head is validated in
// one pass. findCookie() looks for the cookie name backwards through the Cookie lines, testing the
// name's first and last byte 16 positions at a time (W. Muła, "SIMD-friendly algorithms for
// substring searching", 2016); because the last occurrence wins, the first verified candidate from
// the end is the answer and the bytes before it are never read.
#include "dataplane/http_head.h"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace lb::dataplane {
namespace {

constexpr bool isOws(char c) { return c == ' ' || c == '\t'; }
constexpr bool isDigit(char c) { return c >= '0' && c <= '9'; }

// tchar (RFC 9110 §5.6.2): the bytes of a token such as a method, field name or cookie name.
constexpr std::array<bool, 256> makeTcharTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kTchar = makeTcharTable();

bool isTchar(char c) { return kTchar[static_cast<unsigned char>(c)]; }

// First CR, LF or NUL in [p, end), or end. Loads never cross `end`: the last <16 bytes go one by one.
const char* findLineSpecial(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i nul = _mm_setzero_si128();
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hit =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)), _mm_cmpeq_epi8(v, nul));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
    if (mask != 0) return p + __builtin_ctz(mask);
    p += 16;
  }
#endif
  for (; p < end; ++p) {
    const char c = *p;
    if (c == '\r' || c == '\n' || c == '\0') return p;
  }
  return end;
}

// `s` (already known to be tchars) equals the lower-case literal `lower`, ignoring ASCII case. For
// tchars, c | 0x20 folds exactly the upper-case letters: no other tchar maps onto a letter or '-'.
bool tokenEqualsLower(const char* s, std::string_view lower) {
  for (size_t i = 0; i < lower.size(); ++i) {
    if ((s[i] | 0x20) != lower[i]) return false;
  }
  return true;
}

// Case-insensitive ASCII comparison for arbitrary bytes (the reference walks, which see any input).
bool asciiIEquals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
    if (c != lower[i]) return false;
  }
  return true;
}

bool isHttpVersion(const char* p) {
  return std::memcmp(p, "HTTP/", 5) == 0 && isDigit(p[5]) && p[6] == '.' && isDigit(p[7]);
}

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && isOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && isOws(s.back())) s.remove_suffix(1);
  return s;
}

// A cookie-value may be wrapped in DQUOTEs (RFC 6265 §4.1.1); both sides return what is inside.
std::string_view unquote(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') return v.substr(1, v.size() - 2);
  return v;
}

constexpr std::string_view kCookie = "cookie";
constexpr std::string_view kSetCookie = "set-cookie";

// Calls fn(value) for each line of `fields` whose name is `lower_name` (case-insensitive), value
// being the bytes after ':' without the CR. Robust against any bytes: used by the reference paths.
template <class Fn>
void forEachFieldNamed(std::string_view fields, std::string_view lower_name, Fn&& fn) {
  size_t i = 0;
  while (i < fields.size()) {
    const size_t nl = fields.find('\n', i);
    const size_t line_end = nl == std::string_view::npos ? fields.size() : nl;
    std::string_view line = fields.substr(i, line_end - i);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos && asciiIEquals(line.substr(0, colon), lower_name)) {
      fn(line.substr(colon + 1));
    }
    if (nl == std::string_view::npos) break;
    i = nl + 1;
  }
}

// The value of `name` in one Set-Cookie field value, per RFC 6265 §5.2.
std::optional<std::string_view> setCookieValue(std::string_view value, std::string_view name) {
  const std::string_view pair = value.substr(0, value.find(';'));
  const size_t eq = pair.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  if (trimOws(pair.substr(0, eq)) != name) return std::nullopt;
  return unquote(trimOws(pair.substr(eq + 1)));
}

}  // namespace

std::string_view toString(HeadStatus status) {
  switch (status) {
    case HeadStatus::kIncomplete: return "incomplete";
    case HeadStatus::kComplete: return "complete";
    case HeadStatus::kTooLarge: return "too_large";
    case HeadStatus::kMalformed: return "malformed";
  }
  return "unknown";
}

// --- HttpHeadScanner ---------------------------------------------------------------------------

// Kept per pending flow: keep it small (offsets, not pointers or views).
static_assert(sizeof(HttpHeadScanner) <= 160);

HttpHeadScanner::HttpHeadScanner(Kind kind, const HttpLimits& limits) : limits_(limits), kind_(kind) {}

void HttpHeadScanner::reset() { *this = HttpHeadScanner(kind_, limits_); }

HeadStatus HttpHeadScanner::scan(std::string_view received) {
  if (status_ != HeadStatus::kIncomplete) return status_;
  const char* base = received.data();
  // Bytes at or past max_head_bytes can never belong to an acceptable head, so they are never read.
  const auto window = static_cast<uint32_t>(std::min<size_t>(received.size(), limits_.max_head_bytes));
  if (window < pos_) return status_;  // fewer bytes than last time: a caller bug; read nothing

  for (;;) {
    const auto q = static_cast<uint32_t>(findLineSpecial(base + pos_, base + window) - base);
    // Checked before what was found at q, so the verdict is the same wherever the segments split.
    if (q - line_start_ > limits_.max_line_bytes) return status_ = HeadStatus::kTooLarge;
    if (q == window) {
      pos_ = window;
      // No line end within the first max_head_bytes: the head would be longer than allowed.
      if (window == limits_.max_head_bytes) return status_ = HeadStatus::kTooLarge;
      return HeadStatus::kIncomplete;
    }
    if (base[q] != '\r') return status_ = HeadStatus::kMalformed;  // bare LF, or NUL
    // The LF would be byte max_head_bytes + 1 (or later) of the head.
    if (q + 1 >= limits_.max_head_bytes) return status_ = HeadStatus::kTooLarge;
    if (q + 1 >= received.size()) {
      pos_ = q;  // look at this CR again when the next byte is here
      return HeadStatus::kIncomplete;
    }
    if (base[q + 1] != '\n') return status_ = HeadStatus::kMalformed;  // bare CR
    if (!processLine(base, line_start_, q)) return status_;
    if (status_ == HeadStatus::kComplete) return status_;
    line_start_ = pos_ = q + 2;
  }
}

// One complete line [begin, end), CRLF excluded. Returns false with status_ set on a verdict.
bool HttpHeadScanner::processLine(const char* base, uint32_t begin, uint32_t end) {
  const char* line = base + begin;
  const uint32_t length = end - begin;
  if (length == 0) {
    if (!start_line_seen_) return true;  // empty line before the start line: skip (RFC 9112 §2.2)
    fields_end_ = begin;
    head_length_ = end + 2;
    status_ = HeadStatus::kComplete;
    return true;
  }
  if (!start_line_seen_) {
    start_begin_ = begin;
    start_end_ = end;
    const bool ok = kind_ == Kind::kRequest ? parseRequestLine(line, length) : parseStatusLine(line, length);
    if (!ok) {
      status_ = HeadStatus::kMalformed;
      return false;
    }
    start_line_seen_ = true;
    fields_begin_ = fields_end_ = end + 2;
    return true;
  }
  if (++fields_ > limits_.max_fields) {
    status_ = HeadStatus::kTooLarge;
    return false;
  }
  // A field name is a non-empty token followed directly by ':'. This also rejects obs-fold (a line
  // starting with SP or HTAB) and whitespace before the colon.
  uint32_t i = 0;
  while (i < length && isTchar(line[i])) ++i;
  if (i == 0 || i == length || line[i] != ':') {
    status_ = HeadStatus::kMalformed;
    return false;
  }
  const std::string_view wanted = kind_ == Kind::kRequest ? kCookie : kSetCookie;
  if (i == wanted.size() && tokenEqualsLower(line, wanted)) {
    if (cookie_count_ < kMaxRecordedCookieFields) {
      cookie_begin_[cookie_count_] = begin + i + 1;
      cookie_end_[cookie_count_] = end;
      ++cookie_count_;
    } else {
      cookie_truncated_ = true;
    }
  }
  return true;
}

// method SP request-target SP HTTP-version (RFC 9112 §3).
bool HttpHeadScanner::parseRequestLine(const char* line, uint32_t length) {
  uint32_t m = 0;
  while (m < length && isTchar(line[m])) ++m;
  // At least: method, SP, one target byte, SP, "HTTP/d.d".
  if (m == 0 || length < m + 11 || line[m] != ' ') return false;
  const uint32_t version_at = length - 8;
  if (line[version_at - 1] != ' ' || !isHttpVersion(line + version_at)) return false;
  // The target is anything visible: no SP or HTAB (RFC 9112 §3.2 says not to guess), no controls.
  // Accumulated without an early exit so the compiler vectorizes it.
  bool bad = false;
  for (uint32_t i = m + 1; i < version_at - 1; ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    bad |= (c <= 0x20) | (c == 0x7f);
  }
  if (bad) return false;
  part1_end_ = start_begin_ + m;
  part2_begin_ = start_begin_ + m + 1;
  part2_end_ = start_begin_ + version_at - 1;
  part3_begin_ = start_begin_ + version_at;
  return true;
}

// HTTP-version SP 3DIGIT SP [reason-phrase] (RFC 9112 §4). A missing SP after the code when there
// is no reason is accepted: several servers send "HTTP/1.1 200\r\n".
bool HttpHeadScanner::parseStatusLine(const char* line, uint32_t length) {
  if (length < 12 || !isHttpVersion(line) || line[8] != ' ') return false;
  if (!isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) || line[9] == '0') return false;
  if (length > 12 && line[12] != ' ') return false;
  status_code_ = static_cast<uint16_t>((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
  part1_end_ = start_begin_ + 8;
  part2_begin_ = start_begin_ + 9;
  part2_end_ = start_begin_ + 12;
  part3_begin_ = start_begin_ + std::min<uint32_t>(length, 13);
  return true;
}

CookieFieldValues HttpHeadScanner::cookieFields(std::string_view received) const {
  CookieFieldValues c;
  c.count = cookie_count_;
  c.truncated = cookie_truncated_;
  for (size_t i = 0; i < cookie_count_; ++i) {
    c.values[i] = received.substr(cookie_begin_[i], cookie_end_[i] - cookie_begin_[i]);
  }
  return c;
}

HttpRequestHead HttpHeadScanner::request(std::string_view received) const {
  HttpRequestHead h;
  if (status_ != HeadStatus::kComplete || kind_ != Kind::kRequest || received.size() < head_length_) {
    return h;
  }
  h.method = received.substr(start_begin_, part1_end_ - start_begin_);
  h.target = received.substr(part2_begin_, part2_end_ - part2_begin_);
  h.version = received.substr(part3_begin_, start_end_ - part3_begin_);
  h.fields = received.substr(fields_begin_, fields_end_ - fields_begin_);
  h.head_length = head_length_;
  h.cookies = cookieFields(received);
  return h;
}

HttpResponseHead HttpHeadScanner::response(std::string_view received) const {
  HttpResponseHead h;
  if (status_ != HeadStatus::kComplete || kind_ != Kind::kResponse || received.size() < head_length_) {
    return h;
  }
  h.version = received.substr(start_begin_, part1_end_ - start_begin_);
  h.status_code = status_code_;
  h.reason = received.substr(part3_begin_, start_end_ - part3_begin_);
  h.fields = received.substr(fields_begin_, fields_end_ - fields_begin_);
  h.head_length = head_length_;
  h.set_cookies = cookieFields(received);
  return h;
}

HeadStatus parseRequestHead(std::string_view bytes, HttpRequestHead& out, const HttpLimits& limits) {
  HttpHeadScanner scanner(HttpHeadScanner::Kind::kRequest, limits);
  const HeadStatus status = scanner.scan(bytes);
  if (status == HeadStatus::kComplete) out = scanner.request(bytes);
  return status;
}

HeadStatus parseResponseHead(std::string_view bytes, HttpResponseHead& out, const HttpLimits& limits) {
  HttpHeadScanner scanner(HttpHeadScanner::Kind::kResponse, limits);
  const HeadStatus status = scanner.scan(bytes);
  if (status == HeadStatus::kComplete) out = scanner.response(bytes);
  return status;
}

// --- Cookie lookup -----------------------------------------------------------------------------

bool isValidCookieName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), isTchar);
}

namespace detail {

std::optional<std::string_view> lastCookieInValueForward(std::string_view value,
                                                         std::string_view name) {
  if (name.empty()) return std::nullopt;
  std::optional<std::string_view> result;
  size_t i = 0;
  for (;;) {
    size_t semi = value.find(';', i);
    if (semi == std::string_view::npos) semi = value.size();
    const std::string_view piece = trimOws(value.substr(i, semi - i));
    const size_t eq = piece.find('=');
    if (eq != std::string_view::npos && trimOws(piece.substr(0, eq)) == name) {
      result = unquote(trimOws(piece.substr(eq + 1)));
    }
    if (semi == value.size()) break;
    i = semi + 1;
  }
  return result;
}

std::optional<std::string_view> lastCookieInValue(std::string_view value, std::string_view name) {
  const size_t n = name.size();
  const size_t len = value.size();
  if (n == 0 || len <= n) return std::nullopt;  // room for at least "name="
  const char* s = value.data();

  // Is the name at p a whole cookie name, and if so its value? p is a pair start when only OWS lies
  // between it and the previous ';' (or the start); the name ends at OWS* '='.
  auto verify = [&](size_t p) -> std::optional<std::string_view> {
    if (std::memcmp(s + p, name.data(), n) != 0) return std::nullopt;
    size_t j = p;
    while (j > 0 && isOws(s[j - 1])) --j;
    if (j > 0 && s[j - 1] != ';') return std::nullopt;
    size_t k = p + n;
    while (k < len && isOws(s[k])) ++k;
    if (k == len || s[k] != '=') return std::nullopt;
    ++k;
    const void* semi = std::memchr(s + k, ';', len - k);
    const size_t end = semi == nullptr ? len : static_cast<size_t>(static_cast<const char*>(semi) - s);
    return unquote(trimOws(std::string_view(s + k, end - k)));
  };

  const char first = name.front();
  const char last = name.back();
  size_t remaining = len - n;  // candidate starts [0, remaining): each leaves room for a '=' after
#if defined(__SSE2__)
  const __m128i vfirst = _mm_set1_epi8(first);
  const __m128i vlast = _mm_set1_epi8(last);
  while (remaining >= 16) {
    const size_t block = remaining - 16;
    // Highest byte read: block + n - 1 + 15 = remaining + n - 2 < len.
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + block));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + block + n - 1));
    unsigned mask = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, vfirst), _mm_cmpeq_epi8(b, vlast))));
    while (mask != 0) {
      const int bit = 31 - __builtin_clz(mask);
      if (auto v = verify(block + static_cast<size_t>(bit))) return v;
      mask &= ~(1u << bit);
    }
    remaining = block;
  }
#endif
  while (remaining > 0) {
    --remaining;
    if (s[remaining] == first && s[remaining + n - 1] == last) {
      if (auto v = verify(remaining)) return v;
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> findCookieInFields(std::string_view fields, std::string_view name) {
  std::optional<std::string_view> result;
  forEachFieldNamed(fields, kCookie, [&](std::string_view value) {
    if (auto v = lastCookieInValueForward(value, name)) result = v;
  });
  return result;
}

std::optional<std::string_view> findSetCookieInFields(std::string_view fields,
                                                      std::string_view name) {
  if (name.empty()) return std::nullopt;
  std::optional<std::string_view> result;
  forEachFieldNamed(fields, kSetCookie, [&](std::string_view value) {
    if (auto v = setCookieValue(value, name)) result = v;
  });
  return result;
}

}  // namespace detail

std::optional<std::string_view> findCookie(const HttpRequestHead& head, std::string_view name) {
  if (name.empty()) return std::nullopt;
  if (head.cookies.truncated) return detail::findCookieInFields(head.fields, name);
  for (size_t i = std::min<size_t>(head.cookies.count, kMaxRecordedCookieFields); i-- > 0;) {
    if (auto v = detail::lastCookieInValue(head.cookies.values[i], name)) return v;
  }
  return std::nullopt;
}

std::optional<std::string_view> findSetCookie(const HttpResponseHead& head, std::string_view name) {
  if (name.empty()) return std::nullopt;
  if (head.set_cookies.truncated) return detail::findSetCookieInFields(head.fields, name);
  for (size_t i = std::min<size_t>(head.set_cookies.count, kMaxRecordedCookieFields); i-- > 0;) {
    if (auto v = setCookieValue(head.set_cookies.values[i], name)) return v;
  }
  return std::nullopt;
}

}  // namespace lb::dataplane
