// Seeded key hashing for backend selection: flows (IPv4/IPv6 5-tuples), client addresses and byte
// strings such as cookie values.
//
// All functions are XXH3-64 (xxHash, from Debian's libxxhash) over a packed, padding-free image of the
// key, inlined so a hash costs a few nanoseconds. Addresses and ports are taken exactly as they sit in
// the packet (network byte order): hashing never swaps bytes, so a parsed header can be hashed in place.
//
// The symmetric variants give both directions of a connection the same hash (the two endpoints are
// ordered before hashing), which is what RSS-style flow steering and connection tracking need.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#define XXH_INLINE_ALL
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
// Packs into a byte image without padding so that the hash never reads indeterminate bytes.
inline uint64_t hashPackedV4(uint32_t a, uint16_t pa, uint32_t b, uint16_t pb, uint8_t proto,
                             uint64_t seed) {
  unsigned char buf[13];
  std::memcpy(buf, &a, 4);
  std::memcpy(buf + 4, &b, 4);
  std::memcpy(buf + 8, &pa, 2);
  std::memcpy(buf + 10, &pb, 2);
  buf[12] = proto;
  return XXH3_64bits_withSeed(buf, sizeof(buf), seed);
}

inline uint64_t hashPackedV6(const std::array<uint8_t, 16>& a, uint16_t pa,
                             const std::array<uint8_t, 16>& b, uint16_t pb, uint8_t proto,
                             uint64_t seed) {
  unsigned char buf[37];
  std::memcpy(buf, a.data(), 16);
  std::memcpy(buf + 16, b.data(), 16);
  std::memcpy(buf + 32, &pa, 2);
  std::memcpy(buf + 34, &pb, 2);
  buf[36] = proto;
  return XXH3_64bits_withSeed(buf, sizeof(buf), seed);
}
}  // namespace detail

inline uint64_t hashFlow(const FlowKeyV4& k, uint64_t seed) {
  return detail::hashPackedV4(k.src_addr_be, k.src_port_be, k.dst_addr_be, k.dst_port_be,
                              k.protocol, seed);
}

inline uint64_t hashFlow(const FlowKeyV6& k, uint64_t seed) {
  return detail::hashPackedV6(k.src_addr, k.src_port_be, k.dst_addr, k.dst_port_be, k.protocol,
                              seed);
}

// Orders the endpoints (address, then port) so (A->B) and (B->A) hash alike.
inline uint64_t hashFlowSymmetric(const FlowKeyV4& k, uint64_t seed) {
  const bool swap = k.src_addr_be > k.dst_addr_be ||
                    (k.src_addr_be == k.dst_addr_be && k.src_port_be > k.dst_port_be);
  return swap ? detail::hashPackedV4(k.dst_addr_be, k.dst_port_be, k.src_addr_be, k.src_port_be,
                                     k.protocol, seed)
              : detail::hashPackedV4(k.src_addr_be, k.src_port_be, k.dst_addr_be, k.dst_port_be,
                                     k.protocol, seed);
}

inline uint64_t hashFlowSymmetric(const FlowKeyV6& k, uint64_t seed) {
  const int order = std::memcmp(k.src_addr.data(), k.dst_addr.data(), 16);
  const bool swap = order > 0 || (order == 0 && k.src_port_be > k.dst_port_be);
  return swap ? detail::hashPackedV6(k.dst_addr, k.dst_port_be, k.src_addr, k.src_port_be,
                                     k.protocol, seed)
              : detail::hashPackedV6(k.src_addr, k.src_port_be, k.dst_addr, k.dst_port_be,
                                     k.protocol, seed);
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
