// SYN cookies: answer a SYN with a SYN-ACK whose sequence number (and TSval) encode everything the
// connection needs, so no state exists until the client's first ACK or data segment proves it owns
// its address (delayed binding, issue 5).
//
// The idea is D. J. Bernstein's, as Linux implements it (net/ipv4/syncookies.c): the server ISN is a
// keyed hash of the connection plus a coarse time counter and a small MSS index, and when the client
// offered timestamps the low 6 bits of our TSval carry window scale, SACK-permitted and ECN, and come
// back in the client's TSecr. Our layout:
//
//   h          = SipHash-2-4(key[epoch], saddr, daddr, sport, dport, client ISN, option bits)  64 bits
//   server ISN = low32(h) + ((epoch mod 256) << 24 | MSS index << 21)   (index: 3 bits, kCookieMssTable)
//   TSval      = (now_ms + high32(h)) with its low 6 bits replaced by the option bits
//   option bits: 0-3 window scale (15 = none), 4 SACK-permitted, 5 ECN; bit 6 "timestamps in use"
//                is hashed but never sent
//
// Differences from Linux, and why:
// - The key rotates every epoch (default 64 s), derived from a 128-bit master by SipHash, so all lcores
//   agree on every epoch's key without sharing state, and one leaked epoch key exposes neither the
//   master nor any other epoch. A cookie is accepted in the epoch that issued it and the next one:
//   it stays valid for at least one and less than two epochs.
// - The option bits are hashed: a client (or anyone on path) cannot change the options a cookie
//   grants by editing its TSecr, and a cookie issued with timestamps is not accepted without them.
// - The TSval offset is per connection (high32(h)), as RFC 7323 section 7.1 recommends, so TSvals
//   reveal neither uptime nor a shared clock; it costs no second hash.
// - The MSS index sits in bits 21-23 above 21 bits that must decode to zero, not in the lowest bits,
//   so an ACK off by a small amount is refused rather than decoded to the neighbouring MSS. (An ACK
//   differing only in bits 21-23 still decodes to another table MSS; only the client holding the
//   cookie can make one, and it could have offered that MSS in its SYN anyway.)
// - An offered MSS below 536 is refused (encode returns nullopt) instead of rounded up to 536:
//   rounding up would have the backend send segments larger than the client accepts. The caller
//   drops that SYN and counts it; tiny MSS values are an attack vector anyway (CVE-2019-11477).
//
// Fallback without timestamps: there is nowhere to keep window scale, SACK-permitted or ECN, so the
// SYN-ACK offers none of them. RFC 7323 2.2 / RFC 2018 / RFC 3168 make each of these take effect only
// when both SYN and SYN-ACK carry it, so the connection runs correctly without window scaling (at most
// 64 KiB in flight), without SACK and without ECN. MSS is always kept (3 bits in the ISN).
//
// Forgery: after subtracting the hash, the top 8 ISN bits must equal the epoch and the low 21 bits must
// be zero, so a blind guess passes with probability 2^-29 per epoch tried (two are tried: 2^-28).
//
// Threading: SynCookieCodec caches the epoch keys it derives; one codec per lcore, written only by its
// owning lcore. encode/decode never allocate, lock or make virtual calls except when an epoch key is
// not cached (once per epoch per lcore), which calls SynCookieSecretSource.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "dataplane/tcp_options.h"
#include "hashing/key_hash.h"

namespace lb::dataplane {

// A 128-bit SipHash key: the two little-endian halves of its 16 bytes.
struct SipKey {
  uint64_t k0 = 0;
  uint64_t k1 = 0;
  friend bool operator==(const SipKey&, const SipKey&) = default;
};

// SipHash-2-4 (Aumasson and Bernstein, 2012) over `len` bytes. A keyed PRF: the cookie's security is
// that nobody without the key can produce a valid hash. XXH3 is faster but is not a PRF; an attacker
// who sees many cookies could learn enough to forge them.
uint64_t sipHash24(const SipKey& key, const uint8_t* data, size_t len);

// The same function over whole little-endian 64-bit words: equal to sipHash24 of their byte image,
// without the byte-at-a-time tail. What the cookie path calls.
uint64_t sipHash24Words(const SipKey& key, const uint64_t* words, size_t count);

// Where epoch keys come from. Called when a codec meets an epoch it has not cached (about once per
// epoch per lcore), never per packet. Must return the same key for the same epoch every time, on every
// lcore, or cookies issued on one lcore fail on another.
class SynCookieSecretSource {
 public:
  virtual ~SynCookieSecretSource() = default;
  virtual SipKey epochKey(uint64_t epoch) const = 0;
};

// The production source: key[epoch] = SipHash-2-4 under the master key of (epoch, label), for two
// labels. The master comes from the control plane (e.g. getrandom at start-up); several tetherd
// instances given the same master accept each other's cookies.
class DerivedSecretSource final : public SynCookieSecretSource {
 public:
  explicit DerivedSecretSource(SipKey master) : master_(master) {}

  // SynCookieSecretSource
  SipKey epochKey(uint64_t epoch) const override;

 private:
  SipKey master_;
};

// The time base of `now` in encode/decode (the worker's TSC, or a test's fake clock).
struct SynCookieClock {
  uint64_t ticks_per_second = 0;  // at least 1000: TSvals tick in milliseconds
  uint32_t epoch_seconds = 64;    // key rotation period; a cookie lives 1 to 2 epochs
};

// The MSS values a cookie can carry (3 bits). Common paths: the IPv4 minimum, IPv6 tunnels (1220),
// IPsec/GRE (1360, 1440), PPPoE (1452), Ethernet (1460), and jumbo frames (4312, 8960). A client's MSS
// is rounded down to the largest entry not above it, which only ever makes segments smaller.
inline constexpr std::array<uint16_t, 8> kCookieMssTable = {536,  1220, 1360, 1440,
                                                            1452, 1460, 4312, 8960};

// Linux's initial receive window (44 * 1460). The SYN-ACK's window is never scaled (RFC 7323 2.2).
inline constexpr uint16_t kDefaultSynAckWindow = 64240;

// What the SYN-ACK carries for one SYN.
struct SynCookie {
  uint32_t server_isn = 0;  // our initial sequence number
  uint32_t tsval = 0;       // our TSval (0 and unused when !accepted.timestamps)
  uint16_t window = 0;      // our receive window, never 0 (a zero window would stall the client)
  SynOptions accepted;      // what the connection gets: echo these in the SYN-ACK (SynAckOptions)
};

// The options block of the SYN-ACK for `cookie`: our MSS and shift, plus whatever the cookie accepted.
// Our window scale is announced only when the client's was accepted (RFC 7323 2.2: a SYN-ACK may carry
// it only then); `client_tsval` is the SYN's TSval, echoed as our TSecr.
inline SynAckOptions synAckOptionsFor(const SynCookie& cookie, uint16_t our_mss,
                                      uint8_t our_window_scale, uint32_t client_tsval) {
  const SynOptions& a = cookie.accepted;
  return {.mss = our_mss,
          .window_scale = a.window_scale == kNoWindowScale ? kNoWindowScale : our_window_scale,
          .sack_permitted = a.sack_permitted,
          .timestamps = a.timestamps,
          .tsval = a.timestamps ? cookie.tsval : 0,
          .tsecr = a.timestamps ? client_tsval : 0};
}

class SynCookieCodec {
 public:
  // Fails if the clock is slower than 1 kHz, the epoch is 0 s or the window is 0. `secrets` must
  // outlive the codec.
  static absl::StatusOr<SynCookieCodec> create(const SynCookieSecretSource& secrets,
                                               const SynCookieClock& clock,
                                               uint16_t syn_ack_window = kDefaultSynAckWindow);

  // The cookie for a SYN from `client_key` (client -> VIP, as received) with sequence number
  // `client_isn`. nullopt when the offered MSS is below 536 (see the file comment).
  std::optional<SynCookie> encode(const hashing::FlowKeyV4& client_key, uint32_t client_isn,
                                  const SynOptions& offered, uint64_t now);
  std::optional<SynCookie> encode(const hashing::FlowKeyV6& client_key, uint32_t client_isn,
                                  const SynOptions& offered, uint64_t now);

  // Checks the client's segment that completes the handshake: for the first segment after the SYN,
  // seq = client_isn + 1 and ack = server_isn + 1, so pass client_isn = seq - 1 and its ack as is.
  // `tsecr` is the segment's TSecr, or nullopt when it has no timestamps option. Returns what the
  // cookie granted, or nullopt if it is forged, for another connection, or older than two epochs.
  std::optional<SynOptions> decode(const hashing::FlowKeyV4& client_key, uint32_t client_isn,
                                   uint32_t ack_seq, std::optional<uint32_t> tsecr, uint64_t now);
  std::optional<SynOptions> decode(const hashing::FlowKeyV6& client_key, uint32_t client_isn,
                                   uint32_t ack_seq, std::optional<uint32_t> tsecr, uint64_t now);

  uint64_t epochAt(uint64_t now) const { return now / ticks_per_epoch_; }
  uint32_t millisecondsAt(uint64_t now) const { return static_cast<uint32_t>(now / ticks_per_ms_); }

 private:
  SynCookieCodec(const SynCookieSecretSource& secrets, const SynCookieClock& clock, uint16_t window);

  // What a cookie is bound to, as the words hashed: the addresses (IPv4: one word, source |
  // destination << 32; IPv6: four), then the ports (source | destination << 16, as stored).
  struct Endpoints {
    std::array<uint64_t, 4> address_words{};
    uint8_t address_word_count = 0;
    uint32_t ports = 0;
  };
  static Endpoints endpointsOf(const hashing::FlowKeyV4& key);
  static Endpoints endpointsOf(const hashing::FlowKeyV6& key);

  std::optional<SynCookie> encodeFor(const Endpoints& client, uint32_t client_isn, const SynOptions& offered,
                                     uint64_t now);
  std::optional<SynOptions> decodeFor(const Endpoints& client, uint32_t client_isn, uint32_t ack_seq,
                                      std::optional<uint32_t> tsecr, uint64_t now);
  const SipKey& keyFor(uint64_t epoch);
  uint64_t cookieHash(const SipKey& key, const Endpoints& client, uint32_t client_isn, uint32_t option_bits) const;

  // Two slots indexed by epoch parity: the current and the previous epoch, which is all decode ever
  // needs, in any order of `now`.
  struct CachedKey {
    uint64_t epoch = ~uint64_t{0};
    SipKey key;
  };

  const SynCookieSecretSource* secrets_;
  uint64_t ticks_per_epoch_;
  uint64_t ticks_per_ms_;
  uint16_t window_;
  std::array<CachedKey, 2> keys_{};
};

}  // namespace lb::dataplane
