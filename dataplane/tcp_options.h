// TCP options: a bounded parser, the SYN-ACK options block for SYN cookies, and the in-place rewrites
// a spliced connection needs (SACK edges and timestamps), each with its incremental checksum delta.
//
// Follows RFC 9293 section 3.1 (option format: EOL, NOP, kind/length/value), RFC 9293 3.7.1 (MSS,
// default 536), RFC 7323 (window scale, timestamps) and RFC 2018 (SACK-permitted, SACK blocks).
//
// Parsing is strict where a load balancer has to be: the parser never reads a byte outside the span it
// is given, and a malformed block (length 0 or 1, an option running past the header, a known option
// with the wrong length, a known option twice) is an error the caller turns into a drop, never a
// partial result. Linux skips a known option with a wrong length instead; we cannot, because an option
// we do not understand in a spliced connection would reach the other side untranslated (a SACK block
// in the wrong sequence space, a duplicate timestamp). Unknown kinds with a valid length are skipped.
//
// Byte order: SackBlock, mss, tsval and tsecr hold host-order values; rewrites store network order.
// Offsets are relative to the start of the options area, which must sit at TCP header + 20 (an even
// offset from the start of the checksummed segment): the checksum deltas depend on each field's
// parity, since a field at an odd offset straddles 16-bit words (RFC 1071 section 2(B)).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace lb::dataplane {

inline constexpr size_t kTcpHeaderMinLen = 20;
inline constexpr size_t kTcpOptionsMaxLen = 40;  // data offset is 4 bits: at most 60 - 20 bytes
inline constexpr size_t kMaxSackBlocks = 4;      // 2 + 8 * 4 = 34 bytes fit in 40; 5 blocks do not

// Option kinds (IANA "TCP Option Kind Numbers") and the lengths their RFCs fix.
namespace tcp_option {
inline constexpr uint8_t kEol = 0;
inline constexpr uint8_t kNop = 1;
inline constexpr uint8_t kMss = 2;
inline constexpr uint8_t kWindowScale = 3;
inline constexpr uint8_t kSackPermitted = 4;
inline constexpr uint8_t kSack = 5;
inline constexpr uint8_t kTimestamps = 8;

inline constexpr uint8_t kMssLen = 4;
inline constexpr uint8_t kWindowScaleLen = 3;
inline constexpr uint8_t kSackPermittedLen = 2;
inline constexpr uint8_t kTimestampsLen = 10;
inline constexpr uint8_t kSackBlockLen = 8;
}  // namespace tcp_option

inline constexpr uint16_t kDefaultMss = 536;     // RFC 9293 3.7.1: assumed when a SYN has no MSS option
inline constexpr uint8_t kMaxWindowScale = 14;   // RFC 7323 2.3: larger shifts are treated as 14
inline constexpr uint8_t kNoWindowScale = 0xff;  // "no window scale option" in SynOptions

enum class TcpOptionsError : uint8_t {
  kNone,
  kBadDataOffset,   // data offset below 5 words, or the header runs past the bytes available
  kTruncated,       // a kind byte with no length byte after it
  kLengthTooShort,  // length 0 or 1: not even the kind and length bytes
  kLengthPastEnd,   // the option runs past the end of the options area
  kBadLength,       // known kind with a length its RFC does not allow (MSS != 4, SACK != 2 + 8n...)
  kDuplicate,       // a known option appears twice
};

struct SackBlock {
  uint32_t left = 0;   // first sequence number of the block
  uint32_t right = 0;  // sequence number just after the block
  friend bool operator==(const SackBlock&, const SackBlock&) = default;
};

// What parseTcpOptions found. Fields are valid only when their has_ flag (or count) says so.
struct TcpOptions {
  bool has_mss = false;
  bool has_window_scale = false;
  bool sack_permitted = false;
  bool has_timestamps = false;
  uint16_t mss = 0;
  uint8_t window_scale = 0;  // as received; RFC 7323 clamps to 14 when used (see synOptionsOffered)
  uint32_t tsval = 0;
  uint32_t tsecr = 0;
  uint8_t sack_count = 0;
  std::array<SackBlock, kMaxSackBlocks> sack{};
  uint8_t ts_offset = 0;    // kind byte of the timestamps option, from the start of the options area
  uint8_t sack_offset = 0;  // kind byte of the SACK option
};

// Parses an options area. Reads only options[0, size). On error `out` is unspecified.
TcpOptionsError parseTcpOptions(std::span<const uint8_t> options, TcpOptions& out);

// The options area of a TCP header: bytes 20 .. data offset * 4, checked against `available` (the
// bytes from the TCP header to the end of the frame). An empty span with kBadDataOffset on error.
struct TcpOptionsArea {
  std::span<uint8_t> bytes;
  TcpOptionsError error = TcpOptionsError::kNone;
};
TcpOptionsArea tcpOptionsArea(uint8_t* tcp_header, size_t available);

// What a SYN offers or, after a cookie, what the connection was accepted with.
struct SynOptions {
  uint16_t mss = kDefaultMss;              // the peer's MSS: the largest segment we may send it
  uint8_t window_scale = kNoWindowScale;   // the peer's shift (0..14), kNoWindowScale if absent
  bool sack_permitted = false;
  bool timestamps = false;
  bool ecn = false;                        // SYN carried ECE and CWR (RFC 3168 6.1.1)
  friend bool operator==(const SynOptions&, const SynOptions&) = default;
};

// A parsed SYN's options as an offer: MSS 536 when absent (RFC 9293), window scale clamped to 14
// (RFC 7323 2.3). `ecn_setup` is the SYN's ECE and CWR flags both set.
SynOptions synOptionsOffered(const TcpOptions& syn, bool ecn_setup);

// The options block of our SYN-ACK. Window scale and SACK-permitted are sent only when accepted, and
// timestamps only when the SYN carried them (RFC 7323 3.2: a SYN-ACK may carry TSopt only then).
struct SynAckOptions {
  uint16_t mss = 0;                       // our MSS
  uint8_t window_scale = kNoWindowScale;  // our shift; kNoWindowScale omits the option
  bool sack_permitted = false;
  bool timestamps = false;
  uint32_t tsval = 0;  // ours (from the cookie)
  uint32_t tsecr = 0;  // the SYN's TSval
};

inline constexpr size_t kSynAckOptionsMaxLen = 20;  // MSS 4 + (SACK-permitted or NOPs + TS) 12 + WS 4

// Writes the block (Linux's layout, each 4-byte word aligned so receivers' fast paths match:
// MSS | SACKOK TS or NOP NOP TS | NOP WS | NOP NOP SACKOK without timestamps) and returns its length, a
// multiple of 4. Returns 0 if `out` is shorter than kSynAckOptionsMaxLen.
size_t writeSynAckOptions(std::span<uint8_t> out, const SynAckOptions& options);

// In-place rewrites for splicing. Each stores network order, keeps `parsed` in step with the bytes,
// and returns the checksum delta to fold into the TCP checksum with checksumApply (checksum.h), so a
// caller rewriting ports, sequence numbers and options applies one delta once.

// Stores `value` (host order) big-endian at options[offset, offset + 4) and returns its delta. The
// caller guarantees offset + 4 <= options.size() (the offsets parseTcpOptions records do).
uint64_t storeBe32WithDelta(std::span<uint8_t> options, size_t offset, uint32_t value);

// Adds `offset` (mod 2^32) to both edges of every SACK block: maps SACKs from one side's sequence
// space into the other's (e.g. offset = seqOffset(backend ISN, cookie ISN) for the client's view).
uint64_t translateSackBlocks(std::span<uint8_t> options, TcpOptions& parsed, uint32_t offset);

// Adds the offsets (mod 2^32) to TSval and TSecr; 0 leaves a field as it is.
uint64_t translateTimestamps(std::span<uint8_t> options, TcpOptions& parsed, uint32_t tsval_offset,
                             uint32_t tsecr_offset);

// Sets TSval and TSecr.
uint64_t rewriteTimestamps(std::span<uint8_t> options, TcpOptions& parsed, uint32_t tsval,
                           uint32_t tsecr);

}  // namespace lb::dataplane
