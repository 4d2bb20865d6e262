#include "dataplane/syn_cookie.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "absl/status/status.h"

namespace lb::dataplane {
namespace {

// Option bits: the low 6 travel in our TSval and come back in the client's TSecr.
constexpr uint32_t kTsOptionBits = 6;
constexpr uint32_t kTsOptionMask = (1u << kTsOptionBits) - 1;
constexpr uint32_t kOptWindowScaleMask = 0xf;  // 15: no window scale
constexpr uint32_t kOptSackPermitted = 1u << 4;
constexpr uint32_t kOptEcn = 1u << 5;
constexpr uint32_t kOptTimestampsInUse = 1u << 6;  // hashed only: "this cookie went out with TSopt"

// ISN - low32(h) = (epoch mod 256) << 24 | MSS index << 21, and the low 21 bits must be zero. The
// index sits above the zero bits, not in the lowest bits as in Linux, so an ACK that is off by a
// little (ack + 1) fails instead of decoding to the neighbouring MSS.
constexpr uint32_t kEpochShift = 24;
constexpr uint32_t kMssIndexShift = 21;
constexpr uint32_t kMssIndexMask = 0x7;
constexpr uint32_t kMustBeZeroMask = (1u << kMssIndexShift) - 1;
static_assert(kCookieMssTable.size() == kMssIndexMask + 1, "the MSS index has exactly 3 bits");

// Domain separation for the two halves of a derived epoch key ("synck-k0", "synck-k1" in ASCII).
constexpr uint64_t kEpochKeyLabel0 = 0x73796e636b2d6b30;
constexpr uint64_t kEpochKeyLabel1 = 0x73796e636b2d6b31;

struct SipState {
  uint64_t v0, v1, v2, v3;

  explicit SipState(const SipKey& key)
      : v0(key.k0 ^ 0x736f6d6570736575),
        v1(key.k1 ^ 0x646f72616e646f6d),
        v2(key.k0 ^ 0x6c7967656e657261),
        v3(key.k1 ^ 0x7465646279746573) {}

  void round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }

  void compress(uint64_t m) {  // c = 2 rounds per message word
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }

  uint64_t finish() {  // d = 4 finalization rounds
    v2 ^= 0xff;
    round();
    round();
    round();
    round();
    return v0 ^ v1 ^ v2 ^ v3;
  }
};

uint16_t mssIndex(uint16_t mss) {
  auto index = static_cast<uint16_t>(kCookieMssTable.size() - 1);
  while (index > 0 && kCookieMssTable[index] > mss) --index;
  return index;
}

}  // namespace

uint64_t sipHash24(const SipKey& key, const uint8_t* data, size_t len) {
  SipState s(key);
  const size_t whole = len / 8;
  for (size_t i = 0; i < whole; ++i) {
    uint64_t m;
    std::memcpy(&m, data + 8 * i, 8);  // little-endian hosts only, like hashing/key_hash.h
    s.compress(m);
  }
  uint64_t last = uint64_t{len & 0xff} << 56;
  for (size_t i = 0; i < len % 8; ++i) last |= uint64_t{data[8 * whole + i]} << (8 * i);
  s.compress(last);
  return s.finish();
}

uint64_t sipHash24Words(const SipKey& key, const uint64_t* words, size_t count) {
  SipState s(key);
  for (size_t i = 0; i < count; ++i) s.compress(words[i]);
  s.compress(uint64_t{(count * 8) & 0xff} << 56);
  return s.finish();
}

SipKey DerivedSecretSource::epochKey(uint64_t epoch) const {
  const uint64_t half0[2] = {epoch, kEpochKeyLabel0};
  const uint64_t half1[2] = {epoch, kEpochKeyLabel1};
  return {sipHash24Words(master_, half0, 2), sipHash24Words(master_, half1, 2)};
}

absl::StatusOr<SynCookieCodec> SynCookieCodec::create(const SynCookieSecretSource& secrets,
                                                      const SynCookieClock& clock,
                                                      uint16_t syn_ack_window) {
  if (clock.ticks_per_second < 1000) {
    return absl::InvalidArgumentError(
        "SYN cookie clock: ticks_per_second must be at least 1000 (TSvals count milliseconds)");
  }
  if (clock.epoch_seconds == 0) {
    return absl::InvalidArgumentError("SYN cookie clock: epoch_seconds must be at least 1");
  }
  if (clock.ticks_per_second > ~uint64_t{0} / clock.epoch_seconds) {
    return absl::InvalidArgumentError("SYN cookie clock: the epoch is too long to count in ticks");
  }
  if (syn_ack_window == 0) {
    return absl::InvalidArgumentError("SYN cookie: the SYN-ACK window must not be 0");
  }
  return SynCookieCodec(secrets, clock, syn_ack_window);
}

SynCookieCodec::SynCookieCodec(const SynCookieSecretSource& secrets, const SynCookieClock& clock,
                               uint16_t window)
    : secrets_(&secrets),
      ticks_per_epoch_(clock.ticks_per_second * clock.epoch_seconds),
      ticks_per_ms_(clock.ticks_per_second / 1000),
      window_(window) {}

const SipKey& SynCookieCodec::keyFor(uint64_t epoch) {
  CachedKey& slot = keys_[epoch & 1];
  if (slot.epoch != epoch) [[unlikely]] {
    slot.key = secrets_->epochKey(epoch);
    slot.epoch = epoch;
  }
  return slot.key;
}

SynCookieCodec::Endpoints SynCookieCodec::endpointsOf(const hashing::FlowKeyV4& key) {
  Endpoints e;
  e.address_words[0] = uint64_t{key.src_addr_be} | (uint64_t{key.dst_addr_be} << 32);
  e.address_word_count = 1;
  e.ports = uint32_t{key.src_port_be} | (uint32_t{key.dst_port_be} << 16);
  return e;
}

SynCookieCodec::Endpoints SynCookieCodec::endpointsOf(const hashing::FlowKeyV6& key) {
  Endpoints e;
  std::memcpy(&e.address_words[0], key.src_addr.data(), key.src_addr.size());
  std::memcpy(&e.address_words[2], key.dst_addr.data(), key.dst_addr.size());
  e.address_word_count = 4;
  e.ports = uint32_t{key.src_port_be} | (uint32_t{key.dst_port_be} << 16);
  return e;
}

uint64_t SynCookieCodec::cookieHash(const SipKey& key, const Endpoints& client, uint32_t client_isn,
                                    uint32_t option_bits) const {
  // Whole words, as hashing/key_hash.h does: addresses and ports in packet byte order.
  std::array<uint64_t, 6> words{};
  const size_t n = client.address_word_count;
  std::copy_n(client.address_words.begin(), n, words.begin());
  words[n] = uint64_t{client.ports} | (uint64_t{client_isn} << 32);
  words[n + 1] = uint64_t{option_bits};
  return sipHash24Words(key, words.data(), n + 2);
}

std::optional<SynCookie> SynCookieCodec::encode(const hashing::FlowKeyV4& client_key, uint32_t client_isn,
                                                const SynOptions& offered, uint64_t now) {
  return encodeFor(endpointsOf(client_key), client_isn, offered, now);
}

std::optional<SynCookie> SynCookieCodec::encode(const hashing::FlowKeyV6& client_key, uint32_t client_isn,
                                                const SynOptions& offered, uint64_t now) {
  return encodeFor(endpointsOf(client_key), client_isn, offered, now);
}

std::optional<SynOptions> SynCookieCodec::decode(const hashing::FlowKeyV4& client_key, uint32_t client_isn,
                                                 uint32_t ack_seq, std::optional<uint32_t> tsecr, uint64_t now) {
  return decodeFor(endpointsOf(client_key), client_isn, ack_seq, tsecr, now);
}

std::optional<SynOptions> SynCookieCodec::decode(const hashing::FlowKeyV6& client_key, uint32_t client_isn,
                                                 uint32_t ack_seq, std::optional<uint32_t> tsecr, uint64_t now) {
  return decodeFor(endpointsOf(client_key), client_isn, ack_seq, tsecr, now);
}

std::optional<SynCookie> SynCookieCodec::encodeFor(const Endpoints& client, uint32_t client_isn,
                                                   const SynOptions& offered, uint64_t now) {
  if (offered.mss < kCookieMssTable[0]) return std::nullopt;
  const uint16_t mss_index = mssIndex(offered.mss);

  SynCookie cookie;
  cookie.window = window_;
  cookie.accepted.mss = kCookieMssTable[mss_index];
  uint32_t option_bits = 0;
  if (offered.timestamps) {
    SynOptions& a = cookie.accepted;
    a.timestamps = true;
    a.window_scale = offered.window_scale == kNoWindowScale
                         ? kNoWindowScale
                         : std::min(offered.window_scale, kMaxWindowScale);
    a.sack_permitted = offered.sack_permitted;
    a.ecn = offered.ecn;
    option_bits = kOptTimestampsInUse |
                  (a.window_scale == kNoWindowScale ? kOptWindowScaleMask : a.window_scale) |
                  (a.sack_permitted ? kOptSackPermitted : 0) | (a.ecn ? kOptEcn : 0);
  }

  const uint64_t epoch = epochAt(now);
  const uint64_t h = cookieHash(keyFor(epoch), client, client_isn, option_bits);
  cookie.server_isn = static_cast<uint32_t>(h) +
                      (static_cast<uint32_t>(epoch & 0xff) << kEpochShift) +
                      (uint32_t{mss_index} << kMssIndexShift);
  if (offered.timestamps) {
    // Replace the low bits of our clock with the options, stepping back 64 ms rather than forward
    // if that would put the TSval ahead of the clock (Linux does the same).
    const uint32_t ts_now = millisecondsAt(now) + static_cast<uint32_t>(h >> 32);
    const uint32_t low = option_bits & kTsOptionMask;
    uint32_t tsval = (ts_now & ~kTsOptionMask) | low;
    if (low > (ts_now & kTsOptionMask)) tsval -= kTsOptionMask + 1;
    cookie.tsval = tsval;
  }
  return cookie;
}

std::optional<SynOptions> SynCookieCodec::decodeFor(const Endpoints& client, uint32_t client_isn,
                                                    uint32_t ack_seq, std::optional<uint32_t> tsecr,
                                                    uint64_t now) {
  const uint32_t option_bits = tsecr ? (kOptTimestampsInUse | (*tsecr & kTsOptionMask)) : 0;
  const uint32_t server_isn = ack_seq - 1;
  const uint64_t epoch = epochAt(now);
  // The epoch that issued the cookie is this one or the one before; both are tried because the ISN's
  // epoch bits are hidden under the hash until it is subtracted.
  for (uint64_t age = 0; age < 2 && age <= epoch; ++age) {
    const uint64_t issued = epoch - age;
    const uint64_t h = cookieHash(keyFor(issued), client, client_isn, option_bits);
    const uint32_t rest = server_isn - static_cast<uint32_t>(h);
    if ((rest >> kEpochShift) != (issued & 0xff) || (rest & kMustBeZeroMask) != 0) continue;
    const uint32_t mss_index = (rest >> kMssIndexShift) & kMssIndexMask;

    SynOptions accepted;
    accepted.mss = kCookieMssTable[mss_index];
    if (tsecr) {
      const uint32_t ws = option_bits & kOptWindowScaleMask;
      // 15 means "none"; the hash already guarantees no other value above 14 was issued.
      accepted.window_scale = ws == kOptWindowScaleMask ? kNoWindowScale : static_cast<uint8_t>(ws);
      accepted.sack_permitted = (option_bits & kOptSackPermitted) != 0;
      accepted.ecn = (option_bits & kOptEcn) != 0;
      accepted.timestamps = true;
    }
    return accepted;
  }
  return std::nullopt;
}

}  // namespace lb::dataplane
