// Incremental checksum updates (dataplane/checksum.h, RFC 1624 eqn. 3) against full recomputation with
// DPDK's rte_ipv4_cksum / rte_ipv4_udptcp_cksum: random IPv4 headers (with options) and TCP/UDP
// segments, random rewrites of the fields NAT and DSR change, 10k iterations each.
#include "dataplane/checksum.h"

#include <gtest/gtest.h>
#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <cstring>
#include <random>

namespace lb::dataplane {
namespace {

constexpr int kIterations = 10000;

struct Packet {
  alignas(8) uint8_t ip[60] = {};
  alignas(8) uint8_t l4[128] = {};
  size_t ihl = 0;
  size_t l4_len = 0;
  uint8_t protocol = 0;

  rte_ipv4_hdr* ipHeader() { return reinterpret_cast<rte_ipv4_hdr*>(ip); }
  size_t l4ChecksumAt() const { return protocol == IPPROTO_TCP ? offsetof(rte_tcp_hdr, cksum) : offsetof(rte_udp_hdr, dgram_cksum); }
  uint16_t load16(const uint8_t* at) const { uint16_t v; std::memcpy(&v, at, 2); return v; }
  void store16(uint8_t* at, uint16_t v) { std::memcpy(at, &v, 2); }
  uint32_t load32(const uint8_t* at) const { uint32_t v; std::memcpy(&v, at, 4); return v; }
  void store32(uint8_t* at, uint32_t v) { std::memcpy(at, &v, 4); }

  uint16_t ipChecksum() const { return load16(ip + 10); }
  uint16_t l4Checksum() const { return load16(l4 + l4ChecksumAt()); }

  // Full recomputation with the checksum field zeroed, as DPDK specifies.
  uint16_t fullIpChecksum() {
    const uint16_t saved = ipChecksum();
    store16(ip + 10, 0);
    const uint16_t sum = rte_ipv4_cksum(ipHeader());
    store16(ip + 10, saved);
    return sum;
  }
  uint16_t fullL4Checksum() {
    const uint16_t saved = l4Checksum();
    store16(l4 + l4ChecksumAt(), 0);
    const uint16_t sum = rte_ipv4_udptcp_cksum(ipHeader(), l4);
    store16(l4 + l4ChecksumAt(), saved);
    return sum;
  }
};

Packet randomPacket(std::mt19937_64& rng, uint8_t protocol) {
  Packet p;
  p.protocol = protocol;
  p.ihl = 20 + 4 * (rng() % 11);
  const size_t header = protocol == IPPROTO_TCP ? sizeof(rte_tcp_hdr) : sizeof(rte_udp_hdr);
  p.l4_len = header + rng() % (sizeof(p.l4) - header + 1);
  for (uint8_t& b : p.ip) b = static_cast<uint8_t>(rng());
  for (uint8_t& b : p.l4) b = static_cast<uint8_t>(rng());
  p.ip[0] = static_cast<uint8_t>(0x40 | (p.ihl / 4));
  p.ip[9] = protocol;
  p.store16(p.ip + 2, rte_cpu_to_be_16(static_cast<uint16_t>(p.ihl + p.l4_len)));
  if (protocol == IPPROTO_TCP) {
    p.l4[12] = 5 << 4;
  } else {
    p.store16(p.l4 + 4, rte_cpu_to_be_16(static_cast<uint16_t>(p.l4_len)));
  }
  p.store16(p.ip + 10, p.fullIpChecksum());
  p.store16(p.l4 + p.l4ChecksumAt(), p.fullL4Checksum());
  return p;
}

// RFC 1624 section 4's worked example: eqn. 3 yields 0x0000 where eqn. 2 would yield 0xFFFF.
TEST(ChecksumTest, Rfc1624Example) { EXPECT_EQ(checksumReplace16(0xdd2f, 0x5555, 0x3285), 0x0000); }

// Rewriting an address, a port, or both (as full-NAT does) and updating the IPv4 and TCP checksums
// incrementally gives exactly the checksums a full recomputation gives.
TEST(ChecksumTest, TcpIncrementalEqualsFullRecomputation) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < kIterations; ++i) {
    Packet p = randomPacket(rng, IPPROTO_TCP);
    uint16_t ip_sum = p.ipChecksum();
    uint16_t tcp_sum = p.l4Checksum();
    const bool src = rng() % 2 == 0;
    const int what = static_cast<int>(rng() % 3);  // 0 address, 1 port, 2 both
    if (what != 1) {
      uint8_t* at = p.ip + (src ? 12 : 16);
      const uint32_t old_addr = p.load32(at);
      const uint32_t new_addr = static_cast<uint32_t>(rng());
      p.store32(at, new_addr);
      ip_sum = checksumReplace32(ip_sum, old_addr, new_addr);
      tcp_sum = checksumReplace32(tcp_sum, old_addr, new_addr);
    }
    if (what != 0) {
      uint8_t* at = p.l4 + (src ? 0 : 2);
      const uint16_t old_port = p.load16(at);
      const uint16_t new_port = static_cast<uint16_t>(rng());
      p.store16(at, new_port);
      tcp_sum = checksumReplace16(tcp_sum, old_port, new_port);
    }
    ASSERT_EQ(ip_sum, p.fullIpChecksum()) << "iteration " << i;
    ASSERT_EQ(tcp_sum, p.fullL4Checksum()) << "iteration " << i;
  }
}

// Changing any 16-bit word of the IPv4 header (other than the checksum) and updating with
// checksumReplace16 matches a full recomputation (the ICMP type change uses the same path).
TEST(ChecksumTest, HeaderWordIncrementalEqualsFullRecomputation) {
  std::mt19937_64 rng(2);
  for (int i = 0; i < kIterations; ++i) {
    Packet p = randomPacket(rng, IPPROTO_TCP);
    size_t word = 2 * (rng() % (p.ihl / 2));
    if (word == 10 || word < 4) word = 8;  // keep version/IHL/length, never the checksum itself
    const uint16_t old_value = p.load16(p.ip + word);
    const uint16_t new_value = static_cast<uint16_t>(rng());
    p.store16(p.ip + word, new_value);
    ASSERT_EQ(checksumReplace16(p.ipChecksum(), old_value, new_value), p.fullIpChecksum()) << "iteration " << i;
  }
}

// The UDP variants match a full recomputation (which sends a computed 0 as 0xffff), never produce 0
// from a real checksum, and leave a zero ("no checksum") field at zero.
TEST(ChecksumTest, UdpIncrementalEqualsFullRecomputationAndKeepsZero) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < kIterations; ++i) {
    Packet p = randomPacket(rng, IPPROTO_UDP);
    const bool none = rng() % 10 == 0;
    if (none) p.store16(p.l4 + 6, 0);
    uint16_t udp_sum = p.l4Checksum();
    const bool src = rng() % 2 == 0;
    uint8_t* addr_at = p.ip + (src ? 12 : 16);
    const uint32_t old_addr = p.load32(addr_at);
    const uint32_t new_addr = static_cast<uint32_t>(rng());
    p.store32(addr_at, new_addr);
    udp_sum = udpChecksumReplace32(udp_sum, old_addr, new_addr);
    uint8_t* port_at = p.l4 + (src ? 0 : 2);
    const uint16_t old_port = p.load16(port_at);
    const uint16_t new_port = static_cast<uint16_t>(rng());
    p.store16(port_at, new_port);
    udp_sum = udpChecksumReplace16(udp_sum, old_port, new_port);
    if (none) {
      ASSERT_EQ(udp_sum, 0) << "iteration " << i;
    } else {
      ASSERT_NE(udp_sum, 0) << "iteration " << i;
      ASSERT_EQ(udp_sum, p.fullL4Checksum()) << "iteration " << i;
    }
  }
}

// When a rewrite makes the UDP checksum compute to zero, the incremental update sends 0xffff
// (RFC 768), exactly as the full computation does.
TEST(ChecksumTest, UdpChecksumThatComputesToZeroIsSentAsAllOnes) {
  std::mt19937_64 rng(4);
  Packet p = randomPacket(rng, IPPROTO_UDP);
  const uint16_t old_port = p.load16(p.l4 + 2);
  const uint16_t before = p.l4Checksum();
  bool found = false;
  for (uint32_t candidate = 0; candidate <= 0xffff && !found; ++candidate) {
    const uint16_t new_port = static_cast<uint16_t>(candidate);
    p.store16(p.l4 + 2, new_port);
    p.store16(p.l4 + 6, 0);
    // One's-complement sum 0xffff with the field zeroed: the checksum computes to 0.
    const uint32_t raw = uint32_t{rte_raw_cksum(p.l4, p.l4_len)} + rte_ipv4_phdr_cksum(p.ipHeader(), 0);
    if (checksumFold(raw) != 0xffff) continue;
    found = true;
    EXPECT_EQ(p.fullL4Checksum(), 0xffff);
    EXPECT_EQ(udpChecksumReplace16(before, old_port, new_port), 0xffff);
  }
  EXPECT_TRUE(found) << "no port value makes this datagram's checksum zero";
}

// checksumApplyFolded subtracts instead of complementing twice; it must still be eqn. 3 exactly,
// for every checksum and a spread of deltas (0 and 0xffff among them), zero results included.
TEST(ChecksumTest, FoldedDeltaIsEquationThree) {
  uint32_t zeros = 0;
  for (uint32_t delta = 0; delta <= 0xffff; delta += (delta < 16 || delta > 0xffef) ? 1 : 0x101) {
    for (uint32_t check = 0; check <= 0xffff; ++check) {
      const auto eqn3 = static_cast<uint16_t>(~checksumFold(uint32_t{static_cast<uint16_t>(~check)} + delta));
      const uint16_t got = checksumApplyFolded(static_cast<uint16_t>(check), static_cast<uint16_t>(delta));
      if (got == 0) ++zeros;
      ASSERT_EQ(got, eqn3) << "check " << check << " delta " << delta;
    }
  }
  EXPECT_GT(zeros, 0u);
}

// checksumFold reduces any 32-bit one's-complement sum to 16 bits with end-around carry.
TEST(ChecksumTest, FoldHandlesDoubleCarry) {
  EXPECT_EQ(checksumFold(0x0001ffff), 0x0001);
  EXPECT_EQ(checksumFold(0xffffffff), 0xffff);
  EXPECT_EQ(checksumFold(0), 0);
}

}  // namespace
}  // namespace lb::dataplane
