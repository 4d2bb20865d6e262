// HTTP head scanning and cookie lookup (dataplane/http_head.h). Every request and response in the
// tables is also fed split into two segments at every byte offset, into three segments, and one byte
// at a time, and must give exactly what the unsplit head gives. Each partial buffer is its own
// exact-size heap allocation, so under -Dsanitize=true a read past the bytes given is an ASan error.
#include "dataplane/http_head.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace lb::dataplane {
namespace {

using Kind = HttpHeadScanner::Kind;

constexpr std::string_view kSession = "JSESSIONID";

// Bytes owned by one exact-size allocation (std::string's spare capacity would hide over-reads).
class ExactBuffer {
 public:
  explicit ExactBuffer(std::string_view bytes)
      : size_(bytes.size()), data_(new char[bytes.size() == 0 ? 1 : bytes.size()]) {
    if (size_ != 0) std::memcpy(data_.get(), bytes.data(), size_);
  }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  size_t size_;
  std::unique_ptr<char[]> data_;
};

// Everything a scan produces, as owned strings and buffer offsets so outcomes from different
// buffers compare equal.
struct Outcome {
  HeadStatus status = HeadStatus::kIncomplete;
  size_t head_length = 0;
  std::string part1, part2, part3, fields;  // method/target/version, or version/code/reason
  uint16_t status_code = 0;
  std::optional<std::string> cookie;
  size_t cookie_offset = 0;  // where the value starts in the buffer
  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << "{" << toString(o.status) << " len=" << o.head_length << " [" << o.part1 << "|"
            << o.part2 << "|" << o.part3 << "] cookie=" << (o.cookie ? *o.cookie : "<none>") << "@"
            << o.cookie_offset << "}";
}

Outcome describe(const HttpHeadScanner& scanner, Kind kind, std::string_view buffer,
                 std::string_view cookie_name) {
  Outcome o;
  o.status = scanner.status();
  if (o.status != HeadStatus::kComplete) return o;
  o.head_length = scanner.headLength();
  std::optional<std::string_view> cookie;
  if (kind == Kind::kRequest) {
    const HttpRequestHead h = scanner.request(buffer);
    o.part1 = h.method;
    o.part2 = h.target;
    o.part3 = h.version;
    o.fields = h.fields;
    cookie = findCookie(h, cookie_name);
    // The fast path agrees with the forward reference walk over every field line.
    const auto reference = detail::findCookieInFields(h.fields, cookie_name);
    EXPECT_EQ(cookie, reference) << "fast path differs from reference";
  } else {
    const HttpResponseHead h = scanner.response(buffer);
    o.part1 = h.version;
    o.part3 = h.reason;
    o.fields = h.fields;
    o.status_code = h.status_code;
    cookie = findSetCookie(h, cookie_name);
    EXPECT_EQ(cookie, detail::findSetCookieInFields(h.fields, cookie_name));
  }
  if (cookie) {
    o.cookie = std::string(*cookie);
    o.cookie_offset = static_cast<size_t>(cookie->data() - buffer.data());
  }
  return o;
}

// Feeds `input` as segments ending at each of `cuts` and then at input.size(); each call sees a new
// exact-size buffer holding everything received so far (the caller's buffer may move).
Outcome scanSegments(std::string_view input, const std::vector<size_t>& cuts, Kind kind,
                     std::string_view cookie_name, const HttpLimits& limits) {
  HttpHeadScanner scanner(kind, limits);
  std::vector<HeadStatus> seen;
  for (size_t cut : cuts) {
    ExactBuffer prefix(input.substr(0, cut));
    seen.push_back(scanner.scan(prefix.view()));
  }
  ExactBuffer whole(input);
  const HeadStatus final_status = scanner.scan(whole.view());
  // Verdicts are final: a partial buffer says either "incomplete" or the answer for the whole.
  for (HeadStatus s : seen) {
    EXPECT_TRUE(s == HeadStatus::kIncomplete || s == final_status)
        << toString(s) << " before " << toString(final_status);
  }
  return describe(scanner, kind, whole.view(), cookie_name);
}

Outcome scanWhole(std::string_view input, Kind kind, std::string_view cookie_name,
                  const HttpLimits& limits = {}) {
  return scanSegments(input, {}, kind, cookie_name, limits);
}

// Split at every offset into two, a spread of three-way splits, and one byte at a time: all equal
// the unsplit outcome.
void expectSplitInvariant(std::string_view input, Kind kind, std::string_view cookie_name,
                          const HttpLimits& limits = {}) {
  const Outcome whole = scanWhole(input, kind, cookie_name, limits);
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    ASSERT_EQ(scanSegments(input, {cut}, kind, cookie_name, limits), whole) << "split at " << cut;
  }
  const size_t step = input.size() <= 96 ? 1 : input.size() / 48;
  for (size_t a = 0; a <= input.size(); a += step) {
    for (size_t b = a; b <= input.size(); b += step) {
      ASSERT_EQ(scanSegments(input, {a, b}, kind, cookie_name, limits), whole)
          << "split at " << a << "," << b;
    }
  }
  std::vector<size_t> every(input.size());
  for (size_t i = 0; i < every.size(); ++i) every[i] = i;
  ASSERT_EQ(scanSegments(input, every, kind, cookie_name, limits), whole) << "byte at a time";
}

std::string request(std::string_view fields) {
  return "GET /app/cart?id=7 HTTP/1.1\r\nHost: shop.example\r\n" + std::string(fields) + "\r\n";
}

std::string response(std::string_view fields) {
  return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + std::string(fields) + "\r\n";
}

// --- Request table -----------------------------------------------------------------------------

struct RequestCase {
  const char* name;
  std::string input;
  HeadStatus status;
  std::optional<std::string> session;  // findCookie(head, "JSESSIONID"), when complete
};

std::vector<RequestCase> requestCases() {
  using S = HeadStatus;
  return {
      {"NoCookie", request("Accept: */*\r\n"), S::kComplete, std::nullopt},
      {"NoFields", "GET / HTTP/1.1\r\n\r\n", S::kComplete, std::nullopt},
      {"OneCookie", request("Cookie: JSESSIONID=abc123\r\n"), S::kComplete, "abc123"},
      {"SixCookiesTargetMiddle",
       request("Cookie: _ga=GA1.2.3; theme=dark; JSESSIONID=mid; lang=en; csrf=x1; sid=9\r\n"),
       S::kComplete, "mid"},
      {"RepeatInOneLineLastWins", request("Cookie: JSESSIONID=first; a=1; JSESSIONID=second\r\n"),
       S::kComplete, "second"},
      {"SeveralCookieLinesLastWins",
       request("Cookie: JSESSIONID=one\r\nAccept: */*\r\nCookie: a=b\r\nCookie: JSESSIONID=two; c=d\r\n"),
       S::kComplete, "two"},
      {"EarlierLineKeepsOnlyOccurrence",
       request("Cookie: JSESSIONID=only\r\nCookie: a=b\r\nCookie: c=d\r\n"), S::kComplete, "only"},
      {"CookieNameCaseSensitive",
       request("Cookie: jsessionid=lower; JSESSIONID=upper; JSessionId=mixed\r\n"), S::kComplete,
       "upper"},
      {"OnlyWrongCaseName", request("Cookie: jsessionid=lower\r\n"), S::kComplete, std::nullopt},
      {"HeaderNameLower", request("cookie: JSESSIONID=v1\r\n"), S::kComplete, "v1"},
      {"HeaderNameUpper", request("COOKIE: JSESSIONID=v2\r\n"), S::kComplete, "v2"},
      {"HeaderNameMixed", request("CoOkIe: JSESSIONID=v3\r\n"), S::kComplete, "v3"},
      {"SimilarHeaderNamesIgnored",
       request("Cookies: JSESSIONID=no\r\nX-Cookie: JSESSIONID=no\r\nCookie2: JSESSIONID=no\r\n"),
       S::kComplete, std::nullopt},
      {"PrefixedNameNotMatched", request("Cookie: xJSESSIONID=no\r\n"), S::kComplete, std::nullopt},
      {"SuffixedNameNotMatched", request("Cookie: JSESSIONIDx=no\r\n"), S::kComplete, std::nullopt},
      {"PrefixSuffixAroundReal", request("Cookie: xJSESSIONID=1; JSESSIONID=2; JSESSIONIDx=3\r\n"),
       S::kComplete, "2"},
      {"NameInsideValueNotMatched", request("Cookie: a=JSESSIONID=evil; b=x JSESSIONID=evil2\r\n"),
       S::kComplete, std::nullopt},
      {"NameAsValue", request("Cookie: a=JSESSIONID; JSESSIONID=real\r\n"), S::kComplete, "real"},
      {"QuotedValue", request("Cookie: JSESSIONID=\"quoted\"\r\n"), S::kComplete, "quoted"},
      {"QuotedEmptyValue", request("Cookie: JSESSIONID=\"\"\r\n"), S::kComplete, ""},
      {"LoneQuoteKept", request("Cookie: JSESSIONID=\"\r\n"), S::kComplete, "\""},
      {"EmptyValue", request("Cookie: JSESSIONID=\r\n"), S::kComplete, ""},
      {"EmptyValueThenOther", request("Cookie: JSESSIONID=; a=b\r\n"), S::kComplete, ""},
      {"ValueWithEquals", request("Cookie: JSESSIONID=YWJj==; a=b\r\n"), S::kComplete, "YWJj=="},
      {"NoSpaceAfterColonOrSemicolon", request("Cookie:a=b;JSESSIONID=tight;c=d\r\n"),
       S::kComplete, "tight"},
      {"WhitespaceEverywhere", request("Cookie: \t a=b ;\t JSESSIONID \t= \tspaced \t; c=d \t\r\n"),
       S::kComplete, "spaced"},
      {"TrailingSemicolon", request("Cookie: JSESSIONID=t;\r\n"), S::kComplete, "t"},
      {"EmptyPieces", request("Cookie: ;; JSESSIONID=e ;;\r\n"), S::kComplete, "e"},
      {"PieceWithoutEquals", request("Cookie: JSESSIONID; a=b\r\n"), S::kComplete, std::nullopt},
      {"EmptyCookieField", request("Cookie:\r\nCookie: \r\n"), S::kComplete, std::nullopt},
      {"CommaIsPartOfValue", request("Cookie: JSESSIONID=a,b, c=d\r\n"), S::kComplete, "a,b, c=d"},
      {"SemicolonInsideQuotesSplits", request("Cookie: JSESSIONID=good; a=\"x;JSESSIONID=q\"\r\n"),
       S::kComplete, "q\""},
      {"LeadingEmptyLinesSkipped", "\r\n\r\nGET / HTTP/1.1\r\nCookie: JSESSIONID=lead\r\n\r\n",
       S::kComplete, "lead"},
      {"AbsoluteFormTarget", "GET http://a.example/x?y=1 HTTP/1.0\r\nCookie: JSESSIONID=abs\r\n\r\n",
       S::kComplete, "abs"},
      {"FieldValueWithHighBytes", request("X-Name: caf\xc3\xa9\r\nCookie: JSESSIONID=u\r\n"),
       S::kComplete, "u"},
      {"Incomplete", "GET / HTTP/1.1\r\nCookie: JSESSIONID=x\r\n", S::kIncomplete, std::nullopt},
      {"IncompleteEndsInCr", "GET / HTTP/1.1\r\nCookie: JSESSIONID=x\r\n\r", S::kIncomplete,
       std::nullopt},
      {"Empty", "", S::kIncomplete, std::nullopt},
      // Malformed start lines.
      {"Http09", "GET /\r\n\r\n", S::kMalformed, std::nullopt},
      {"TwoSpacesAfterMethod", "GET  / HTTP/1.1\r\n\r\n", S::kMalformed, std::nullopt},
      {"SpaceInTarget", "GET /a b HTTP/1.1\r\n\r\n", S::kMalformed, std::nullopt},
      {"TabInTarget", "GET /a\tb HTTP/1.1\r\n\r\n", S::kMalformed, std::nullopt},
      {"DelInTarget", "GET /a\x7f HTTP/1.1\r\n\r\n", S::kMalformed, std::nullopt},
      {"TrailingSpaceAfterVersion", "GET / HTTP/1.1 \r\n\r\n", S::kMalformed, std::nullopt},
      {"LowercaseVersion", "GET / http/1.1\r\n\r\n", S::kMalformed, std::nullopt},
      {"VersionWithoutMinor", "GET / HTTP/1\r\n\r\n", S::kMalformed, std::nullopt},
      {"NonTokenMethod", "G@T / HTTP/1.1\r\n\r\n", S::kMalformed, std::nullopt},
      {"NoMethod", " / HTTP/1.1\r\n\r\n", S::kMalformed, std::nullopt},
      {"ResponseLineAsRequest", "HTTP/1.1 200 OK\r\n\r\n", S::kMalformed, std::nullopt},
      // Malformed line ends and fields.
      {"BareLfEndsRequestLine", "GET / HTTP/1.1\nHost: a\r\n\r\n", S::kMalformed, std::nullopt},
      {"BareLfEndsField", "GET / HTTP/1.1\r\nHost: a\n\r\n", S::kMalformed, std::nullopt},
      {"BareLfBlankLine", "GET / HTTP/1.1\r\nHost: a\r\n\n", S::kMalformed, std::nullopt},
      {"BareCrInValue", request("Cookie: JSESSIONID=a\rb\r\n"), S::kMalformed, std::nullopt},
      {"NulInValue", request(std::string("Cookie: JSESSIONID=a\0b\r\n", 24)), S::kMalformed,
       std::nullopt},
      {"ObsFold", request("Cookie: a=b;\r\n JSESSIONID=folded\r\n"), S::kMalformed, std::nullopt},
      {"ObsFoldTab", request("X: a\r\n\tb\r\n"), S::kMalformed, std::nullopt},
      {"SpaceBeforeColon", request("Cookie : JSESSIONID=x\r\n"), S::kMalformed, std::nullopt},
      {"EmptyFieldName", request(": x\r\n"), S::kMalformed, std::nullopt},
      {"FieldWithoutColon", request("Cookie JSESSIONID=x\r\n"), S::kMalformed, std::nullopt},
      {"NonTokenFieldName", request("Coo(kie: JSESSIONID=x\r\n"), S::kMalformed, std::nullopt},
  };
}

class RequestTableTest : public testing::TestWithParam<RequestCase> {};

// Each request gives its expected verdict and JSESSIONID value.
TEST_P(RequestTableTest, ExpectedVerdictAndCookie) {
  const RequestCase& c = GetParam();
  const Outcome o = scanWhole(c.input, Kind::kRequest, kSession);
  EXPECT_EQ(o.status, c.status) << toString(o.status);
  EXPECT_EQ(o.cookie, c.session);
}

// Splitting the request anywhere into segments never changes the outcome.
TEST_P(RequestTableTest, SameOutcomeAtEverySplit) {
  expectSplitInvariant(GetParam().input, Kind::kRequest, kSession);
}

INSTANTIATE_TEST_SUITE_P(Requests, RequestTableTest, testing::ValuesIn(requestCases()),
                         [](const testing::TestParamInfo<RequestCase>& info) {
                           return std::string(info.param.name);
                         });

// --- Response table ----------------------------------------------------------------------------

struct ResponseCase {
  const char* name;
  std::string input;
  HeadStatus status;
  uint16_t code;
  std::optional<std::string> session;  // findSetCookie(head, "JSESSIONID")
};

std::vector<ResponseCase> responseCases() {
  using S = HeadStatus;
  return {
      {"NoSetCookie", response(""), S::kComplete, 200, std::nullopt},
      {"WithAttributes", response("Set-Cookie: JSESSIONID=abc; Path=/; HttpOnly; Secure\r\n"),
       S::kComplete, 200, "abc"},
      {"NoAttributes", response("Set-Cookie: JSESSIONID=plain\r\n"), S::kComplete, 200, "plain"},
      {"LastSetCookieWins",
       response("Set-Cookie: JSESSIONID=old; Path=/\r\nSet-Cookie: other=1\r\n"
                "set-cookie: JSESSIONID=new; Path=/app\r\n"),
       S::kComplete, 200, "new"},
      {"OtherCookiesOnly", response("Set-Cookie: theme=dark\r\nSet-Cookie: xJSESSIONID=1\r\n"),
       S::kComplete, 200, std::nullopt},
      {"NameInAttributesIgnored", response("Set-Cookie: a=b; JSESSIONID=attr\r\n"), S::kComplete,
       200, std::nullopt},
      {"Quoted", response("Set-Cookie: JSESSIONID=\"q\"; Path=/\r\n"), S::kComplete, 200, "q"},
      {"Whitespace", response("Set-Cookie:  JSESSIONID \t=  w  ; Path=/\r\n"), S::kComplete, 200,
       "w"},
      {"Deletion", response("Set-Cookie: JSESSIONID=; Max-Age=0\r\n"), S::kComplete, 200, ""},
      {"NoEqualsIgnored", response("Set-Cookie: JSESSIONID\r\n"), S::kComplete, 200, std::nullopt},
      {"NameCaseSensitive", response("Set-Cookie: jsessionid=l\r\n"), S::kComplete, 200,
       std::nullopt},
      {"SetCookie2Ignored", response("Set-Cookie2: JSESSIONID=x\r\n"), S::kComplete, 200,
       std::nullopt},
      {"NoReason", "HTTP/1.1 204\r\nSet-Cookie: JSESSIONID=n\r\n\r\n", S::kComplete, 204, "n"},
      {"EmptyReason", "HTTP/1.1 302 \r\n\r\n", S::kComplete, 302, std::nullopt},
      {"LongReason", "HTTP/1.0 503 Service\tTemporarily Unavailable\r\n\r\n", S::kComplete, 503,
       std::nullopt},
      {"Continue", "HTTP/1.1 100 Continue\r\n\r\n", S::kComplete, 100, std::nullopt},
      {"TwoDigitCode", "HTTP/1.1 20 OK\r\n\r\n", S::kMalformed, 0, std::nullopt},
      {"LeadingZeroCode", "HTTP/1.1 099 X\r\n\r\n", S::kMalformed, 0, std::nullopt},
      {"FourDigitCode", "HTTP/1.1 2000 OK\r\n\r\n", S::kMalformed, 0, std::nullopt},
      {"RequestLineAsResponse", "GET / HTTP/1.1\r\n\r\n", S::kMalformed, 0, std::nullopt},
      {"BareLf", "HTTP/1.1 200 OK\nSet-Cookie: JSESSIONID=x\r\n\r\n", S::kMalformed, 0,
       std::nullopt},
      {"ObsFold", response("Set-Cookie: JSESSIONID=x;\r\n Path=/\r\n"), S::kMalformed, 0,
       std::nullopt},
  };
}

class ResponseTableTest : public testing::TestWithParam<ResponseCase> {};

// Each response gives its expected verdict, status code and Set-Cookie value.
TEST_P(ResponseTableTest, ExpectedVerdictAndSetCookie) {
  const ResponseCase& c = GetParam();
  const Outcome o = scanWhole(c.input, Kind::kResponse, kSession);
  EXPECT_EQ(o.status, c.status) << toString(o.status);
  EXPECT_EQ(o.status_code, c.code);
  EXPECT_EQ(o.cookie, c.session);
}

// Splitting the response anywhere into segments never changes the outcome.
TEST_P(ResponseTableTest, SameOutcomeAtEverySplit) {
  expectSplitInvariant(GetParam().input, Kind::kResponse, kSession);
}

INSTANTIATE_TEST_SUITE_P(Responses, ResponseTableTest, testing::ValuesIn(responseCases()),
                         [](const testing::TestParamInfo<ResponseCase>& info) {
                           return std::string(info.param.name);
                         });

// --- Start line and head boundaries ------------------------------------------------------------

// The request line's parts and the field block are views into the caller's buffer, and head_length
// ends at the blank line.
TEST(HttpHeadTest, RequestPartsAreViewsIntoBuffer) {
  const std::string input = "POST /api/v1/items?x=1 HTTP/1.1\r\nHost: a\r\nCookie: k=v\r\n\r\nBODY";
  HttpRequestHead h;
  ASSERT_EQ(parseRequestHead(input, h), HeadStatus::kComplete);
  EXPECT_EQ(h.method, "POST");
  EXPECT_EQ(h.target, "/api/v1/items?x=1");
  EXPECT_EQ(h.version, "HTTP/1.1");
  EXPECT_EQ(h.fields, "Host: a\r\nCookie: k=v\r\n");
  EXPECT_EQ(h.head_length, input.size() - 4);
  EXPECT_EQ(h.method.data(), input.data());
  ASSERT_EQ(h.cookies.count, 1);
  EXPECT_EQ(h.cookies.values[0], " k=v");
  EXPECT_FALSE(h.cookies.truncated);
}

// Status line parts: version, numeric code, reason.
TEST(HttpHeadTest, ResponseParts) {
  const std::string input = "HTTP/1.1 404 Not Found\r\nSet-Cookie: a=b\r\n\r\n";
  HttpResponseHead h;
  ASSERT_EQ(parseResponseHead(input, h), HeadStatus::kComplete);
  EXPECT_EQ(h.version, "HTTP/1.1");
  EXPECT_EQ(h.status_code, 404);
  EXPECT_EQ(h.reason, "Not Found");
  EXPECT_EQ(h.fields, "Set-Cookie: a=b\r\n");
  EXPECT_EQ(h.head_length, input.size());
  EXPECT_EQ(findSetCookie(h, "a"), "b");
}

// Nothing past the blank line is parsed: a body or pipelined bytes that would be malformed as a head
// (NUL, bare LF, a Cookie line) change nothing.
TEST(HttpHeadTest, BytesAfterHeadAreNotParsed) {
  const std::string head = request("Cookie: JSESSIONID=inhead\r\n");
  const std::string input = head + std::string("\0\n\rCookie: JSESSIONID=body\r\n\r\n", 30);
  expectSplitInvariant(input, Kind::kRequest, kSession);
  const Outcome o = scanWhole(input, Kind::kRequest, kSession);
  EXPECT_EQ(o.status, HeadStatus::kComplete);
  EXPECT_EQ(o.head_length, head.size());
  EXPECT_EQ(o.cookie, "inhead");
}

// Nothing reads past the span it is given, nor past max_head_bytes of it, even without ASan: the
// byte after the span's end is in an inaccessible page. Checked for every prefix of a request (the
// scalar tails after the 16-byte loads), for the cookie searches, and for a span longer than the limit.
TEST(HttpHeadTest, NeverReadsPastSpanOrLimit) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* mem = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  ASSERT_EQ(mprotect(static_cast<char*>(mem) + page, page, PROT_NONE), 0);
  char* guard = static_cast<char*>(mem) + page;

  const std::string head = request("Cookie: a=1; JSESSIONID=guarded\r\n");
  for (size_t n = 0; n <= head.size(); ++n) {
    std::memcpy(guard - n, head.data(), n);
    HttpRequestHead h;
    const HeadStatus s = parseRequestHead(std::string_view(guard - n, n), h);
    EXPECT_EQ(s, n == head.size() ? HeadStatus::kComplete : HeadStatus::kIncomplete) << n;
    if (s == HeadStatus::kComplete) {
      EXPECT_EQ(findCookie(h, kSession), "guarded");
    }
  }
  // Cookie values ending at the guard, at every length, with the name at the very end and start.
  const std::string values[] = {"JSESSIONID=" + std::string(40, 'v'), std::string(40, 'v') + "; JSESSIONID="};
  for (const std::string& value : values) {
    for (size_t n = 0; n <= value.size(); ++n) {
      std::memcpy(guard - n, value.data() + value.size() - n, n);
      const std::string_view v(guard - n, n);
      EXPECT_EQ(detail::lastCookieInValue(v, kSession), detail::lastCookieInValueForward(v, kSession));
    }
  }

  // 200 bytes without a line end, then the guard, in a span claiming 1000: limit 200 means kTooLarge
  // having read only those 200 bytes.
  std::memset(guard - 200, 'a', 200);
  HttpHeadScanner scanner(Kind::kRequest, {.max_head_bytes = 200});
  EXPECT_EQ(scanner.scan(std::string_view(guard - 200, 1000)), HeadStatus::kTooLarge);
  munmap(mem, 2 * page);
}

// A head of exactly max_head_bytes is accepted; one byte more is kTooLarge, at every split, and a
// prefix shows kTooLarge exactly when it holds max_head_bytes bytes without the head's end.
TEST(HttpHeadTest, TooLargeExactlyAtLimitPlusOne) {
  const std::string base = "GET / HTTP/1.1\r\nCookie: JSESSIONID=v\r\nX-Pad: ";
  const uint32_t limit = 300;
  const std::string exact = base + std::string(limit - base.size() - 4, 'p') + "\r\n\r\n";
  const std::string over = base + std::string(limit - base.size() - 3, 'p') + "\r\n\r\n";
  ASSERT_EQ(exact.size(), limit);
  ASSERT_EQ(over.size(), limit + 1);
  const HttpLimits limits{.max_head_bytes = limit};
  EXPECT_EQ(scanWhole(exact, Kind::kRequest, kSession, limits).status, HeadStatus::kComplete);
  EXPECT_EQ(scanWhole(exact, Kind::kRequest, kSession, limits).cookie, "v");
  EXPECT_EQ(scanWhole(over, Kind::kRequest, kSession, limits).status, HeadStatus::kTooLarge);
  expectSplitInvariant(exact, Kind::kRequest, kSession, limits);
  expectSplitInvariant(over, Kind::kRequest, kSession, limits);
  for (size_t n = 0; n <= over.size(); ++n) {
    HttpHeadScanner scanner(Kind::kRequest, limits);
    const HeadStatus s = scanner.scan(std::string_view(over).substr(0, n));
    EXPECT_EQ(s, n >= limit ? HeadStatus::kTooLarge : HeadStatus::kIncomplete) << n;
  }
  // The same bound holds when the extra byte is in the start line or a leading empty line.
  EXPECT_EQ(scanWhole("\r\n" + exact, Kind::kRequest, kSession, limits).status,
            HeadStatus::kTooLarge);
}

// A line of exactly max_line_bytes (CRLF excluded) is accepted; one byte more is kTooLarge.
TEST(HttpHeadTest, LineLengthBound) {
  const HttpLimits limits{.max_head_bytes = 4096, .max_line_bytes = 100};
  const std::string prefix = "Cookie: JSESSIONID=";
  const std::string exact = request(prefix + std::string(100 - prefix.size(), 'v') + "\r\n");
  const std::string over = request(prefix + std::string(101 - prefix.size(), 'v') + "\r\n");
  EXPECT_EQ(scanWhole(exact, Kind::kRequest, kSession, limits).status, HeadStatus::kComplete);
  EXPECT_EQ(scanWhole(over, Kind::kRequest, kSession, limits).status, HeadStatus::kTooLarge);
  expectSplitInvariant(over, Kind::kRequest, kSession, limits);
  // A long start line counts too.
  const std::string long_target = "GET /" + std::string(100, 't') + " HTTP/1.1\r\n\r\n";
  EXPECT_EQ(scanWhole(long_target, Kind::kRequest, kSession, limits).status, HeadStatus::kTooLarge);
}

// max_fields field lines are accepted; one more is kTooLarge.
TEST(HttpHeadTest, FieldCountBound) {
  const HttpLimits limits{.max_fields = 5};
  std::string five;
  for (int i = 0; i < 4; ++i) five += "X-" + std::to_string(i) + ": v\r\n";  // plus Host: 5
  EXPECT_EQ(scanWhole(request(five), Kind::kRequest, kSession, limits).status, HeadStatus::kComplete);
  EXPECT_EQ(scanWhole(request(five + "X-9: v\r\n"), Kind::kRequest, kSession, limits).status,
            HeadStatus::kTooLarge);
}

// Verdicts are sticky, and a bound exceeded before a malformed byte wins over it (and vice versa),
// whatever the split: the first event in byte order decides.
TEST(HttpHeadTest, FirstEventInByteOrderDecides) {
  const HttpLimits limits{.max_head_bytes = 64};
  const std::string malformed_first = "GET / HTTP/1.1\r\nX: a\nb" + std::string(80, 'c');
  const std::string too_large_first = "GET / HTTP/1.1\r\nX: " + std::string(80, 'c') + "\n";
  EXPECT_EQ(scanWhole(malformed_first, Kind::kRequest, kSession, limits).status,
            HeadStatus::kMalformed);
  EXPECT_EQ(scanWhole(too_large_first, Kind::kRequest, kSession, limits).status,
            HeadStatus::kTooLarge);
  expectSplitInvariant(malformed_first, Kind::kRequest, kSession, limits);
  expectSplitInvariant(too_large_first, Kind::kRequest, kSession, limits);
}

// An 8 KiB cookie fits the default 16 KiB head; a 16 KiB cookie needs a larger configured limit
// (and is kTooLarge with the default), and is found at every split.
TEST(HttpHeadTest, LargeCookies) {
  std::mt19937 rng(5);
  auto value = [&](size_t n) {
    std::string v(n, 'x');
    for (char& c : v) c = static_cast<char>('A' + rng() % 26);
    return v;
  };
  const std::string v8 = value(8 * 1024);
  const std::string r8 = request("Cookie: a=1; JSESSIONID=" + v8 + "; z=2\r\n");
  EXPECT_EQ(scanWhole(r8, Kind::kRequest, kSession).cookie, v8);

  const std::string v16 = value(16 * 1024);
  const std::string r16 = request("Cookie: JSESSIONID=" + v16 + "\r\nCookie: other=" + value(300) + "\r\n");
  EXPECT_EQ(scanWhole(r16, Kind::kRequest, kSession).status, HeadStatus::kTooLarge);
  const HttpLimits big{.max_head_bytes = 32 * 1024, .max_line_bytes = 32 * 1024};
  EXPECT_EQ(scanWhole(r16, Kind::kRequest, kSession, big).cookie, v16);
  expectSplitInvariant(r16, Kind::kRequest, kSession, big);
}

// More Cookie lines than the scanner records: the fallback walk still finds the last occurrence,
// including one in a line past the recorded ones.
TEST(HttpHeadTest, MoreCookieLinesThanRecorded) {
  std::string fields;
  for (size_t i = 0; i < kMaxRecordedCookieFields + 3; ++i) {
    fields += "Cookie: c" + std::to_string(i) + "=v\r\n";
    if (i == 1) fields += "Cookie: JSESSIONID=early\r\n";
    if (i == kMaxRecordedCookieFields + 1) fields += "Cookie: JSESSIONID=late\r\n";
  }
  const std::string input = request(fields);
  HttpRequestHead h;
  ASSERT_EQ(parseRequestHead(input, h), HeadStatus::kComplete);
  EXPECT_TRUE(h.cookies.truncated);
  EXPECT_EQ(h.cookies.count, kMaxRecordedCookieFields);
  EXPECT_EQ(findCookie(h, kSession), "late");
  expectSplitInvariant(input, Kind::kRequest, kSession);
}

// Same for more Set-Cookie lines than recorded.
TEST(HttpHeadTest, MoreSetCookieLinesThanRecorded) {
  std::string fields;
  for (size_t i = 0; i < kMaxRecordedCookieFields + 2; ++i) {
    fields += "Set-Cookie: c" + std::to_string(i) + "=v; Path=/\r\n";
  }
  fields += "Set-Cookie: JSESSIONID=last\r\n";
  const std::string input = response(fields);
  HttpResponseHead h;
  ASSERT_EQ(parseResponseHead(input, h), HeadStatus::kComplete);
  EXPECT_TRUE(h.set_cookies.truncated);
  EXPECT_EQ(findSetCookie(h, kSession), "last");
  EXPECT_EQ(findSetCookie(h, "c3"), "v");
}

// The scanner examines only new bytes: re-scanning the same prefix changes nothing, the buffer may
// move between calls, and reset() readies it for the next (pipelined) request on the connection.
TEST(HttpHeadTest, IncrementalAndReset) {
  const std::string first = request("Cookie: JSESSIONID=one\r\n");
  const std::string second = "GET /next HTTP/1.1\r\nCookie: JSESSIONID=two\r\n\r\n";
  const std::string stream = first + second;
  HttpHeadScanner scanner(Kind::kRequest);
  EXPECT_EQ(scanner.scan(std::string_view(stream).substr(0, 20)), HeadStatus::kIncomplete);
  EXPECT_EQ(scanner.scan(std::string_view(stream).substr(0, 20)), HeadStatus::kIncomplete);
  const std::string moved(stream);
  EXPECT_EQ(scanner.scan(moved), HeadStatus::kComplete);
  EXPECT_EQ(scanner.headLength(), first.size());
  EXPECT_EQ(findCookie(scanner.request(moved), kSession), "one");
  // A shorter buffer than before is a caller bug: nothing is read and the verdict stands.
  EXPECT_EQ(scanner.scan(std::string_view()), HeadStatus::kComplete);

  scanner.reset();
  const std::string_view rest = std::string_view(stream).substr(first.size());
  EXPECT_EQ(scanner.scan(rest), HeadStatus::kComplete);
  const HttpRequestHead h = scanner.request(rest);
  EXPECT_EQ(h.target, "/next");
  EXPECT_EQ(findCookie(h, kSession), "two");
}

// Asking for a head that is not complete, or of the other kind, gives an empty head.
TEST(HttpHeadTest, HeadAccessorsRequireCompleteMatchingKind) {
  HttpHeadScanner scanner(Kind::kRequest);
  const std::string partial = "GET / HTTP/1.1\r\n";
  scanner.scan(partial);
  EXPECT_TRUE(scanner.request(partial).method.empty());
  const std::string full = partial + "\r\n";
  scanner.scan(full);
  EXPECT_EQ(scanner.request(full).method, "GET");
  EXPECT_EQ(scanner.response(full).status_code, 0);
  EXPECT_TRUE(scanner.request(partial).method.empty());  // buffer shorter than the head
}

// Cookie names are RFC 9110 tokens.
TEST(HttpHeadTest, CookieNameValidation) {
  EXPECT_TRUE(isValidCookieName("JSESSIONID"));
  EXPECT_TRUE(isValidCookieName("connect.sid"));
  EXPECT_TRUE(isValidCookieName("__Host-id"));
  EXPECT_FALSE(isValidCookieName(""));
  EXPECT_FALSE(isValidCookieName("a b"));
  EXPECT_FALSE(isValidCookieName("a=b"));
  EXPECT_FALSE(isValidCookieName("a;b"));
  EXPECT_FALSE(isValidCookieName("\"a\""));
}

// Other cookie names, including connect.sid and one-byte names, and the empty name (never found).
TEST(HttpHeadTest, OtherCookieNames) {
  HttpRequestHead h;
  const std::string input = request("Cookie: a=1; connect.sid=s%3Axyz; b=2; a=3\r\n");
  ASSERT_EQ(parseRequestHead(input, h), HeadStatus::kComplete);
  EXPECT_EQ(findCookie(h, "connect.sid"), "s%3Axyz");
  EXPECT_EQ(findCookie(h, "a"), "3");
  EXPECT_EQ(findCookie(h, "b"), "2");
  EXPECT_EQ(findCookie(h, "c"), std::nullopt);
  EXPECT_EQ(findCookie(h, ""), std::nullopt);
  EXPECT_EQ(findSetCookie(HttpResponseHead{}, ""), std::nullopt);
}

// The vectorized backwards search equals the forward reference on random cookie strings built from
// the bytes that matter (name bytes, '=', ';', OWS, quotes), at every length around the 16-byte
// block boundaries, for names of 1 to 17 bytes.
TEST(HttpHeadTest, FastCookieSearchMatchesReference) {
  std::mt19937_64 rng(2024);
  const std::vector<std::string> names = {"J", "JS", "JSESSIONID", "a", "aJ", "JSESSIONIDJSESSIO"};
  const std::string alphabet = "JSESSIONIDa=;; \t\"x";
  for (int iter = 0; iter < 200000; ++iter) {
    const std::string& name = names[rng() % names.size()];
    std::string value(rng() % 90, ' ');
    for (char& c : value) c = alphabet[rng() % alphabet.size()];
    // Often plant the name at a pair start so matches are common.
    if (rng() % 2 == 0 && value.size() > name.size() + 2) {
      const size_t at = rng() % (value.size() - name.size() - 1);
      value.replace(at, name.size() + 1, name + "=");
      if (at > 0) value[at - 1] = ';';
    }
    ExactBuffer buf(value);
    ASSERT_EQ(detail::lastCookieInValue(buf.view(), name),
              detail::lastCookieInValueForward(buf.view(), name))
        << "name=" << name << " value=[" << value << "]";
  }
}

// Verdict names are stable (they become counter labels).
TEST(HttpHeadTest, StatusNames) {
  EXPECT_EQ(toString(HeadStatus::kIncomplete), "incomplete");
  EXPECT_EQ(toString(HeadStatus::kComplete), "complete");
  EXPECT_EQ(toString(HeadStatus::kTooLarge), "too_large");
  EXPECT_EQ(toString(HeadStatus::kMalformed), "malformed");
}

}  // namespace
}  // namespace lb::dataplane
