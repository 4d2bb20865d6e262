#include "dataplane/tcp_options.h"

#include <algorithm>
#include <cstring>

#include "dataplane/checksum.h"
#include "dataplane/tcp_seq.h"

namespace lb::dataplane {
namespace {

uint16_t loadBe16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

uint32_t loadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void storeBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

void storeBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// Validates one known option's length; sets the duplicate error if it was seen before.
TcpOptionsError checkKnown(bool& seen, bool length_ok) {
  if (!length_ok) return TcpOptionsError::kBadLength;
  if (seen) return TcpOptionsError::kDuplicate;
  seen = true;
  return TcpOptionsError::kNone;
}

}  // namespace

TcpOptionsError parseTcpOptions(std::span<const uint8_t> options, TcpOptions& out) {
  out = TcpOptions{};
  const uint8_t* p = options.data();
  const size_t size = options.size();
  bool seen_sack = false;
  size_t i = 0;
  while (i < size) {
    const uint8_t kind = p[i];
    if (kind == tcp_option::kEol) break;  // the rest is padding
    if (kind == tcp_option::kNop) {
      ++i;
      continue;
    }
    if (size - i < 2) return TcpOptionsError::kTruncated;
    const uint8_t len = p[i + 1];
    if (len < 2) return TcpOptionsError::kLengthTooShort;
    if (len > size - i) return TcpOptionsError::kLengthPastEnd;
    const uint8_t* value = p + i + 2;
    TcpOptionsError error = TcpOptionsError::kNone;
    switch (kind) {
      case tcp_option::kMss:
        error = checkKnown(out.has_mss, len == tcp_option::kMssLen);
        if (error == TcpOptionsError::kNone) out.mss = loadBe16(value);
        break;
      case tcp_option::kWindowScale:
        error = checkKnown(out.has_window_scale, len == tcp_option::kWindowScaleLen);
        if (error == TcpOptionsError::kNone) out.window_scale = value[0];
        break;
      case tcp_option::kSackPermitted:
        error = checkKnown(out.sack_permitted, len == tcp_option::kSackPermittedLen);
        break;
      case tcp_option::kTimestamps:
        error = checkKnown(out.has_timestamps, len == tcp_option::kTimestampsLen);
        if (error == TcpOptionsError::kNone) {
          out.tsval = loadBe32(value);
          out.tsecr = loadBe32(value + 4);
          out.ts_offset = static_cast<uint8_t>(i);
        }
        break;
      case tcp_option::kSack: {
        const size_t blocks = (len - 2u) / tcp_option::kSackBlockLen;
        error = checkKnown(seen_sack, (len - 2u) % tcp_option::kSackBlockLen == 0 && blocks >= 1 &&
                                          blocks <= kMaxSackBlocks);
        if (error != TcpOptionsError::kNone) break;
        out.sack_count = static_cast<uint8_t>(blocks);
        out.sack_offset = static_cast<uint8_t>(i);
        for (size_t b = 0; b < blocks; ++b) {
          out.sack[b] = {loadBe32(value + 8 * b), loadBe32(value + 8 * b + 4)};
        }
        break;
      }
      default:
        break;  // unknown kind, valid length: skip it
    }
    if (error != TcpOptionsError::kNone) return error;
    i += len;
  }
  return TcpOptionsError::kNone;
}

TcpOptionsArea tcpOptionsArea(uint8_t* tcp_header, size_t available) {
  if (available < kTcpHeaderMinLen) return {{}, TcpOptionsError::kBadDataOffset};
  const size_t header_len = size_t{static_cast<uint8_t>(tcp_header[12] >> 4)} * 4;
  if (header_len < kTcpHeaderMinLen || header_len > available) {
    return {{}, TcpOptionsError::kBadDataOffset};
  }
  return {{tcp_header + kTcpHeaderMinLen, header_len - kTcpHeaderMinLen}, TcpOptionsError::kNone};
}

SynOptions synOptionsOffered(const TcpOptions& syn, bool ecn_setup) {
  SynOptions offered;
  offered.mss = syn.has_mss ? syn.mss : kDefaultMss;
  offered.window_scale =
      syn.has_window_scale ? std::min(syn.window_scale, kMaxWindowScale) : kNoWindowScale;
  offered.sack_permitted = syn.sack_permitted;
  offered.timestamps = syn.has_timestamps;
  offered.ecn = ecn_setup;
  return offered;
}

size_t writeSynAckOptions(std::span<uint8_t> out, const SynAckOptions& options) {
  if (out.size() < kSynAckOptionsMaxLen) return 0;
  uint8_t* p = out.data();
  p[0] = tcp_option::kMss;
  p[1] = tcp_option::kMssLen;
  storeBe16(p + 2, options.mss);
  p += 4;
  if (options.timestamps) {
    if (options.sack_permitted) {
      p[0] = tcp_option::kSackPermitted;
      p[1] = tcp_option::kSackPermittedLen;
    } else {
      p[0] = tcp_option::kNop;
      p[1] = tcp_option::kNop;
    }
    p[2] = tcp_option::kTimestamps;
    p[3] = tcp_option::kTimestampsLen;
    storeBe32(p + 4, options.tsval);
    storeBe32(p + 8, options.tsecr);
    p += 12;
  } else if (options.sack_permitted) {
    p[0] = tcp_option::kNop;
    p[1] = tcp_option::kNop;
    p[2] = tcp_option::kSackPermitted;
    p[3] = tcp_option::kSackPermittedLen;
    p += 4;
  }
  if (options.window_scale != kNoWindowScale) {
    p[0] = tcp_option::kNop;
    p[1] = tcp_option::kWindowScale;
    p[2] = tcp_option::kWindowScaleLen;
    p[3] = std::min(options.window_scale, kMaxWindowScale);
    p += 4;
  }
  return static_cast<size_t>(p - out.data());
}

uint64_t storeBe32WithDelta(std::span<uint8_t> options, size_t offset, uint32_t value) {
  uint8_t* at = options.data() + offset;
  uint32_t old_word;  // as stored: the checksum helpers take fields in packet byte order
  std::memcpy(&old_word, at, 4);
  storeBe32(at, value);
  uint32_t new_word;
  std::memcpy(&new_word, at, 4);
  const uint64_t delta = checksumDelta32(old_word, new_word);
  if ((offset & 1) == 0) return delta;
  // At an odd offset the field's bytes fall in the other half of each 16-bit word, which multiplies
  // its contribution by 2^8 modulo 2^16 - 1: fold the delta to 16 bits and swap its bytes.
  // delta < 2^33, so two 16-bit folds leave at most 17 bits and checksumFold finishes the job.
  const uint64_t partial = (delta & 0xffff) + ((delta >> 16) & 0xffff) + (delta >> 32);
  const uint16_t sum = checksumFold(static_cast<uint32_t>(partial));
  return static_cast<uint16_t>((sum << 8) | (sum >> 8));
}

uint64_t translateSackBlocks(std::span<uint8_t> options, TcpOptions& parsed, uint32_t offset) {
  uint64_t delta = 0;
  for (size_t b = 0; b < parsed.sack_count; ++b) {
    SackBlock& block = parsed.sack[b];
    block.left = seqAdd(block.left, offset);
    block.right = seqAdd(block.right, offset);
    const size_t at = size_t{parsed.sack_offset} + 2 + 8 * b;
    delta += storeBe32WithDelta(options, at, block.left);
    delta += storeBe32WithDelta(options, at + 4, block.right);
  }
  return delta;
}

uint64_t rewriteTimestamps(std::span<uint8_t> options, TcpOptions& parsed, uint32_t tsval,
                           uint32_t tsecr) {
  if (!parsed.has_timestamps) return 0;
  parsed.tsval = tsval;
  parsed.tsecr = tsecr;
  const size_t at = size_t{parsed.ts_offset} + 2;
  return storeBe32WithDelta(options, at, tsval) + storeBe32WithDelta(options, at + 4, tsecr);
}

uint64_t translateTimestamps(std::span<uint8_t> options, TcpOptions& parsed, uint32_t tsval_offset,
                             uint32_t tsecr_offset) {
  if (!parsed.has_timestamps) return 0;
  return rewriteTimestamps(options, parsed, parsed.tsval + tsval_offset, parsed.tsecr + tsecr_offset);
}

}  // namespace lb::dataplane
