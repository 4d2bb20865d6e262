// Seeded key hashing for backend selection: flows (IPv4/IPv6 5-tuples), client addresses and byte
// strings such as cookie values.
//
// All functions are XXH3-64 (xxHash, from Debian's libxxhash) over a packed, padding-free image of
// the key, inlined so a hash costs a few nanoseconds. Addresses and ports are taken exactly as they
// sit in the packet (network byte order): hashing never swaps bytes, so a parsed header can be hashed
// in place. Images are defined for little-endian hosts (x86, the only DPDK target we build).
// tests/hashing/key_hash_test.cc pins the values: changing an image or a seed remaps every client
// across an upgrade.
//
// The symmetric variants give both directions of a connection the same hash (the two endpoints are
// ordered before hashing), which is what RSS-style flow steering and connection tracking need.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#define XXH_INLINE_ALL
// GCC 12 reports a false -Wmaybe-uninitialized inside its own avx512fintrin.h whenever XXH3's AVX-512
// long-input loop is inlined (GCC bug 105593), which -Werror turns into a build failure for every file
// that hashes a std::string_view. xxHash returns the same value whatever vector unit it uses, and the
// vector loop only runs for inputs over 240 bytes, so AVX2 costs nothing here.
#if !defined(XXH_VECTOR) && defined(__AVX512F__)
#define XXH_VECTOR XXH_AVX2
#endif
#include <xxhash.h>

namespace lb::hashing {

// Fields in network byte order, as copied out of the IP and L4 headers.
struct FlowKeyV4 {
  uint32_t src_addr_be = 0;
  uint32_t dst_addr_be = 0;
  uint16_t src_port_be = 0;
  uint16_t dst_port_be = 0;
  uint8_t protocol = 0;
};

struct FlowKeyV6 {
  std::array<uint8_t, 16> src_addr{};
  std::array<uint8_t, 16> dst_addr{};
  uint16_t src_port_be = 0;
  uint16_t dst_port_be = 0;
  uint8_t protocol = 0;
};

namespace detail {
// The hashed image is built from whole 64-bit words, never byte by byte: XXH3 reads its input in
// 8-byte loads, and a load that spans several narrower stores cannot be store-forwarded (about 15
// cycles each, which made a 13-byte packed image cost 4x a 16-byte one). The words are also what
// makes the image padding-free, so the hash never reads indeterminate bytes.
//
// IPv4 image, 16 bytes (XXH3's 9..16-byte path): word 0 = addr_a | addr_b << 32,
// word 1 = port_a | port_b << 16 | protocol << 32. Fields keep network byte order inside the words.
inline uint64_t portsWord(uint16_t pa, uint16_t pb, uint8_t proto) {
  return uint64_t{pa} | (uint64_t{pb} << 16) | (uint64_t{proto} << 32);
}

inline uint64_t hashImageV4(uint32_t a, uint16_t pa, uint32_t b, uint16_t pb, uint8_t proto,
                            uint64_t seed) {
  const uint64_t image[2] = {uint64_t{a} | (uint64_t{b} << 32), portsWord(pa, pb, proto)};
  return XXH3_64bits_withSeed(image, sizeof(image), seed);
}

// IPv6 image, 40 bytes (XXH3's 17..128-byte path, whose 8-byte reads all fall on word boundaries at
// this length): addr_a (16 bytes), addr_b (16 bytes), then the ports word as for IPv4.
struct AddrWordsV6 {
  uint64_t w[2];  // the address bytes as stored, two native words
};

inline AddrWordsV6 addrWords(const std::array<uint8_t, 16>& addr) {
  AddrWordsV6 words;
  std::memcpy(words.w, addr.data(), 16);
  return words;
}

inline uint64_t hashImageV6(const AddrWordsV6& a, const AddrWordsV6& b, uint64_t ports_word,
                            uint64_t seed) {
  const uint64_t image[5] = {a.w[0], a.w[1], b.w[0], b.w[1], ports_word};
  return XXH3_64bits_withSeed(image, sizeof(image), seed);
}

// x when keep is all ones, y when it is zero: a select the compiler cannot turn into a branch
// (which endpoint sorts first is a coin toss per packet, and a mispredict costs more than the hash).
inline uint64_t blend(uint64_t keep, uint64_t x, uint64_t y) { return y ^ ((x ^ y) & keep); }
}  // namespace detail

inline uint64_t hashFlow(const FlowKeyV4& k, uint64_t seed) {
  return detail::hashImageV4(k.src_addr_be, k.src_port_be, k.dst_addr_be, k.dst_port_be,
                             k.protocol, seed);
}

inline uint64_t hashFlow(const FlowKeyV6& k, uint64_t seed) {
  return detail::hashImageV6(detail::addrWords(k.src_addr), detail::addrWords(k.dst_addr),
                             detail::portsWord(k.src_port_be, k.dst_port_be, k.protocol), seed);
}

// Orders the endpoints so (A->B) and (B->A) hash alike: the lower (address, port) goes first, with
// the IPv4 address compared as the stored 32-bit value and IPv6 addresses compared bytewise
// (memcmp order), ports as stored.
inline uint64_t hashFlowSymmetric(const FlowKeyV4& k, uint64_t seed) {
  const uint64_t src = (uint64_t{k.src_addr_be} << 16) | k.src_port_be;
  const uint64_t dst = (uint64_t{k.dst_addr_be} << 16) | k.dst_port_be;
  const uint64_t lo = std::min(src, dst), hi = std::max(src, dst);
  return detail::hashImageV4(static_cast<uint32_t>(lo >> 16), static_cast<uint16_t>(lo),
                             static_cast<uint32_t>(hi >> 16), static_cast<uint16_t>(hi), k.protocol,
                             seed);
}

inline uint64_t hashFlowSymmetric(const FlowKeyV6& k, uint64_t seed) {
  const detail::AddrWordsV6 s = detail::addrWords(k.src_addr), d = detail::addrWords(k.dst_addr);
  // Byte-swapped words compare like memcmp on the 16 address bytes. Bitwise & and | (not && and ||)
  // keep the comparison free of branches.
  const uint64_t s0 = __builtin_bswap64(s.w[0]), s1 = __builtin_bswap64(s.w[1]);
  const uint64_t d0 = __builtin_bswap64(d.w[0]), d1 = __builtin_bswap64(d.w[1]);
  const bool swap = (s0 > d0) | ((s0 == d0) & ((s1 > d1) | ((s1 == d1) &
                                                             (k.src_port_be > k.dst_port_be))));
  const uint64_t keep = uint64_t{swap} - 1;  // all ones: keep the packet's order
  const detail::AddrWordsV6 a = {{detail::blend(keep, s.w[0], d.w[0]),
                                  detail::blend(keep, s.w[1], d.w[1])}};
  const detail::AddrWordsV6 b = {{detail::blend(keep, d.w[0], s.w[0]),
                                  detail::blend(keep, d.w[1], s.w[1])}};
  const uint16_t pa = swap ? k.dst_port_be : k.src_port_be;
  const uint16_t pb = swap ? k.src_port_be : k.dst_port_be;
  return detail::hashImageV6(a, b, detail::portsWord(pa, pb, k.protocol), seed);
}

// Source-address affinity (the seeds' "IP hash").
inline uint64_t hashAddressV4(uint32_t addr_be, uint64_t seed) {
  return XXH3_64bits_withSeed(&addr_be, sizeof(addr_be), seed);
}

inline uint64_t hashAddressV6(const std::array<uint8_t, 16>& addr, uint64_t seed) {
  return XXH3_64bits_withSeed(addr.data(), addr.size(), seed);
}

// Cookie values and other opaque keys.
inline uint64_t hashBytes(std::string_view bytes, uint64_t seed) {
  return XXH3_64bits_withSeed(bytes.data(), bytes.size(), seed);
}

// Maps a 64-bit hash onto [0, range) with one multiply instead of a division (Lemire's
// "fast range"); uses the high 32 bits, which XXH3 mixes fully.
inline uint32_t reduceToRange(uint64_t hash, uint32_t range) {
  return static_cast<uint32_t>(((hash >> 32) * static_cast<uint64_t>(range)) >> 32);
}

}  // namespace lb::hashing
