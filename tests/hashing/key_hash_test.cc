// Properties of key hashing (hashing/key_hash.h): pinned XXH3 outputs for fixed seeds (so an upgrade
// never silently remaps clients), the documented key images, symmetry, sensitivity to every field,
// and the fast-range reduction.
#include "hashing/key_hash.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tests/hashing/test_support.h"

namespace lb::hashing {
namespace {

// 10.0.0.1:12345 -> 10.0.0.2:80 TCP, fields as they sit in the packet (network byte order).
FlowKeyV4 goldenV4() {
  return {.src_addr_be = 0x0100000a,
          .dst_addr_be = 0x0200000a,
          .src_port_be = 0x3930,
          .dst_port_be = 0x5000,
          .protocol = 6};
}

// [2001:db8::1]:12345 -> [2001:db8::2]:443 TCP.
FlowKeyV6 goldenV6() {
  FlowKeyV6 k;
  k.src_addr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  k.dst_addr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  k.src_port_be = 0x3930;
  k.dst_port_be = 0xbb01;
  k.protocol = 6;
  return k;
}

FlowKeyV4 reversed(const FlowKeyV4& k) {
  return {.src_addr_be = k.dst_addr_be,
          .dst_addr_be = k.src_addr_be,
          .src_port_be = k.dst_port_be,
          .dst_port_be = k.src_port_be,
          .protocol = k.protocol};
}

FlowKeyV6 reversed(const FlowKeyV6& k) {
  FlowKeyV6 r = k;
  std::swap(r.src_addr, r.dst_addr);
  std::swap(r.src_port_be, r.dst_port_be);
  return r;
}

struct GoldenCase {
  std::string name;
  std::function<uint64_t(uint64_t seed)> hash;
  uint64_t seed0;
  uint64_t seed42;
};

class KeyHashGoldenTest : public ::testing::TestWithParam<GoldenCase> {};

// Golden vectors for seeds 0 and 42. If one fails, every client of that key kind would move to a
// different backend after the upgrade: change them only on purpose, and say so in the release notes.
TEST_P(KeyHashGoldenTest, OutputIsPinned) {
  EXPECT_EQ(GetParam().hash(0), GetParam().seed0);
  EXPECT_EQ(GetParam().hash(42), GetParam().seed42);
}

INSTANTIATE_TEST_SUITE_P(
    Keys, KeyHashGoldenTest,
    ::testing::Values(
        GoldenCase{"FlowV4", [](uint64_t s) { return hashFlow(goldenV4(), s); },
                   0x97ca500635b65263ULL, 0x86d6bb4fc4056063ULL},
        GoldenCase{"FlowV6", [](uint64_t s) { return hashFlow(goldenV6(), s); },
                   0x11deea267a77a9f8ULL, 0x06aaf437eaf58d28ULL},
        GoldenCase{"SymmetricV4Reply",
                   [](uint64_t s) { return hashFlowSymmetric(reversed(goldenV4()), s); },
                   0x97ca500635b65263ULL, 0x86d6bb4fc4056063ULL},
        GoldenCase{"SymmetricV6Reply",
                   [](uint64_t s) { return hashFlowSymmetric(reversed(goldenV6()), s); },
                   0x11deea267a77a9f8ULL, 0x06aaf437eaf58d28ULL},
        GoldenCase{"AddressV4", [](uint64_t s) { return hashAddressV4(goldenV4().src_addr_be, s); },
                   0x83cff27f7da39d96ULL, 0xc57ceb3c0d839dd6ULL},
        GoldenCase{"AddressV6", [](uint64_t s) { return hashAddressV6(goldenV6().src_addr, s); },
                   0x275c8fa58c2d19a0ULL, 0x5cfcfa62293170aaULL},
        GoldenCase{"Bytes", [](uint64_t s) { return hashBytes("session=abc123", s); },
                   0x5edb34afd3d5b000ULL, 0x14eee4a519cb38e5ULL},
        GoldenCase{"EmptyBytes", [](uint64_t s) { return hashBytes("", s); },
                   0x2d06800538d394c2ULL, 0xb029411ff43d84d2ULL}),
    [](const auto& info) { return info.param.name; });

// The flow hashes are plain XXH3-64 over the documented images, built here byte by byte from the
// packet fields: IPv4 = src addr, dst addr, src port, dst port, protocol, 3 zero bytes (16 bytes);
// IPv6 = src addr, dst addr, then the same 8-byte ports/protocol word (40 bytes).
TEST(KeyHashTest, FlowHashesAreXxh3OfDocumentedImages) {
  const FlowKeyV4 k4 = goldenV4();
  std::array<unsigned char, 16> image4{};
  std::memcpy(&image4[0], &k4.src_addr_be, 4);
  std::memcpy(&image4[4], &k4.dst_addr_be, 4);
  std::memcpy(&image4[8], &k4.src_port_be, 2);
  std::memcpy(&image4[10], &k4.dst_port_be, 2);
  image4[12] = k4.protocol;
  EXPECT_EQ(hashFlow(k4, 42), XXH3_64bits_withSeed(image4.data(), image4.size(), 42));

  const FlowKeyV6 k6 = goldenV6();
  std::array<unsigned char, 40> image6{};
  std::memcpy(&image6[0], k6.src_addr.data(), 16);
  std::memcpy(&image6[16], k6.dst_addr.data(), 16);
  std::memcpy(&image6[32], &k6.src_port_be, 2);
  std::memcpy(&image6[34], &k6.dst_port_be, 2);
  image6[36] = k6.protocol;
  EXPECT_EQ(hashFlow(k6, 42), XXH3_64bits_withSeed(image6.data(), image6.size(), 42));
}

// The symmetric hash gives both directions of a connection the same value (including same-address
// flows that differ only in ports); the plain flow hash tells the directions apart.
TEST(KeyHashTest, SymmetricHashMatchesBothDirections) {
  std::mt19937_64 rng(9);
  for (int i = 0; i < 1000; ++i) {
    const uint64_t r = rng();
    FlowKeyV4 k4{.src_addr_be = static_cast<uint32_t>(r),
                 .dst_addr_be = i % 10 == 0 ? static_cast<uint32_t>(r) : static_cast<uint32_t>(r >> 32),
                 .src_port_be = static_cast<uint16_t>(rng()),
                 .dst_port_be = static_cast<uint16_t>(rng()),
                 .protocol = 17};
    if (k4.src_port_be == k4.dst_port_be) ++k4.dst_port_be;
    EXPECT_EQ(hashFlowSymmetric(k4, 1), hashFlowSymmetric(reversed(k4), 1));
    EXPECT_NE(hashFlow(k4, 1), hashFlow(reversed(k4), 1));

    FlowKeyV6 k6 = goldenV6();
    for (size_t b = 0; b < 16; ++b) k6.src_addr[b] = static_cast<uint8_t>(rng());
    if (i % 10 == 0) k6.dst_addr = k6.src_addr;
    k6.src_port_be = static_cast<uint16_t>(rng());
    if (k6.src_port_be == k6.dst_port_be) ++k6.src_port_be;
    EXPECT_EQ(hashFlowSymmetric(k6, 1), hashFlowSymmetric(reversed(k6), 1));
    EXPECT_NE(hashFlow(k6, 1), hashFlow(reversed(k6), 1));
  }
}

// Changing any one field of the key, or the seed, changes the hash: no field is dropped from the image.
TEST(KeyHashTest, EveryFieldAndTheSeedMatter) {
  const FlowKeyV4 base4 = goldenV4();
  std::vector<FlowKeyV4> v4(5, base4);
  v4[0].src_addr_be ^= 1;
  v4[1].dst_addr_be ^= 0x80000000u;
  v4[2].src_port_be ^= 1;
  v4[3].dst_port_be ^= 0x8000;
  v4[4].protocol = 17;
  for (const auto& k : v4) {
    EXPECT_NE(hashFlow(k, 42), hashFlow(base4, 42));
    EXPECT_NE(hashFlowSymmetric(k, 42), hashFlowSymmetric(base4, 42));
  }
  EXPECT_NE(hashFlow(base4, 42), hashFlow(base4, 43));

  const FlowKeyV6 base6 = goldenV6();
  std::vector<FlowKeyV6> v6(5, base6);
  v6[0].src_addr[15] ^= 1;
  v6[1].dst_addr[0] ^= 1;
  v6[2].src_port_be ^= 1;
  v6[3].dst_port_be ^= 1;
  v6[4].protocol = 17;
  for (const auto& k : v6) {
    EXPECT_NE(hashFlow(k, 42), hashFlow(base6, 42));
    EXPECT_NE(hashFlowSymmetric(k, 42), hashFlowSymmetric(base6, 42));
  }
  EXPECT_NE(hashAddressV4(1, 42), hashAddressV4(1, 43));
  EXPECT_NE(hashBytes("a", 42), hashBytes("b", 42));
}

// reduceToRange maps onto [0, range), keeps order of the high 32 bits, and spreads keys evenly.
TEST(KeyHashTest, ReduceToRange) {
  EXPECT_EQ(reduceToRange(0, 65537), 0u);
  EXPECT_EQ(reduceToRange(~uint64_t{0}, 65537), 65536u);
  EXPECT_EQ(reduceToRange(~uint64_t{0}, 1), 0u);
  EXPECT_EQ(reduceToRange(uint64_t{1} << 63, 1000), 500u);
  std::vector<uint32_t> buckets(7, 0);
  uint32_t previous = 0;
  for (uint64_t h : testing::sampleHashes(70000)) {
    const uint32_t r = reduceToRange(h, 7);
    ASSERT_LT(r, 7u);
    ++buckets[r];
  }
  for (uint64_t high = 0; high < (uint64_t{1} << 32); high += 0x01000193) {
    const uint32_t r = reduceToRange(high << 32, 65537);
    EXPECT_GE(r, previous);
    previous = r;
  }
  for (uint32_t count : buckets) EXPECT_NEAR(count, 10000, 500);
}

}  // namespace
}  // namespace lb::hashing
