// Builds synthetic Ethernet/IPv4 and Ethernet/IPv6 TCP/UDP frames for the traffic generator.
//
// Use it to produce benchmark and test input (tools/pktgen/gen_pcap.cc writes these frames to a pcap
// that DPDK's net_pcap PMD replays). Frames are FCS-less, as libpcap and DPDK see them. Checksums
// follow RFC 791 (IPv4 header), RFC 1071 (ones'-complement sum) and RFC 768 / RFC 9293 / RFC 8200
// (TCP/UDP pseudo-header), so a receiver that verifies checksums accepts every frame and an
// incremental-update (RFC 1624) bug in a NAT shows up as a bad checksum on the output.
//
// No I/O and no globals: everything here is a pure function of its arguments.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace lb::pktgen {

using MacAddress = std::array<uint8_t, 6>;
using Ipv6Address = std::array<uint8_t, 16>;

enum class L4Protocol : uint8_t { kTcp = 6, kUdp = 17 };

inline constexpr size_t kEthernetHeaderBytes = 14;
inline constexpr size_t kIpv4HeaderBytes = 20;
inline constexpr size_t kIpv6HeaderBytes = 40;
inline constexpr size_t kTcpHeaderBytes = 20;
inline constexpr size_t kUdpHeaderBytes = 8;
// 64-byte minimum Ethernet frame minus the 4-byte FCS that capture files never contain.
inline constexpr size_t kMinFrameBytes = 60;
inline constexpr size_t kMaxFrameBytes = 1514;
inline constexpr uint8_t kTcpFlagAck = 0x10;

// One direction of one flow. Addresses and ports are host byte order; the builder writes network order.
struct FlowSpec {
  L4Protocol protocol = L4Protocol::kTcp;
  bool ipv6 = false;
  uint32_t src_ipv4 = 0;
  uint32_t dst_ipv4 = 0;
  Ipv6Address src_ipv6{};
  Ipv6Address dst_ipv6{};
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
};

struct FrameOptions {
  MacAddress dst_mac{};
  MacAddress src_mac{};
  uint8_t ttl = 64;
  uint16_t ip_id = 0;       // IPv4 identification
  uint32_t tcp_seq = 0;
  uint32_t tcp_ack = 0;
  uint8_t tcp_flags = kTcpFlagAck;
  size_t payload_bytes = 0;  // L4 payload; frames shorter than 60 bytes are zero-padded after the IP packet
};

namespace detail {

inline void putBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

inline void putBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// RFC 1071 ones'-complement sum of big-endian 16-bit words, not yet folded or inverted.
inline uint32_t sumBe16(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += (static_cast<uint32_t>(p[i]) << 8) | p[i + 1];
  if (n & 1) sum += static_cast<uint32_t>(p[n - 1]) << 8;
  return sum;
}

inline uint16_t foldChecksum(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace detail

// Internet checksum (RFC 1071) of a byte range, as the value to store in big-endian order.
inline uint16_t internetChecksum(std::span<const uint8_t> bytes) {
  return detail::foldChecksum(detail::sumBe16(bytes.data(), bytes.size()));
}

// Frame length for a flow and payload, before padding to the 60-byte minimum.
inline size_t unpaddedFrameBytes(const FlowSpec& flow, size_t payload_bytes) {
  const size_t l3 = flow.ipv6 ? kIpv6HeaderBytes : kIpv4HeaderBytes;
  const size_t l4 = flow.protocol == L4Protocol::kTcp ? kTcpHeaderBytes : kUdpHeaderBytes;
  return kEthernetHeaderBytes + l3 + l4 + payload_bytes;
}

// Writes one frame into `out` and returns its length (>= 60), or 0 if `out` is too small or the frame
// would exceed 1514 bytes. The payload is a deterministic byte pattern so replays are reproducible.
inline size_t buildFrame(const FlowSpec& flow, const FrameOptions& opt, std::span<uint8_t> out) {
  const size_t unpadded = unpaddedFrameBytes(flow, opt.payload_bytes);
  const size_t frame_bytes = unpadded < kMinFrameBytes ? kMinFrameBytes : unpadded;
  if (frame_bytes > kMaxFrameBytes || out.size() < frame_bytes) return 0;
  uint8_t* f = out.data();
  std::memset(f, 0, frame_bytes);

  std::memcpy(f, opt.dst_mac.data(), 6);
  std::memcpy(f + 6, opt.src_mac.data(), 6);
  detail::putBe16(f + 12, flow.ipv6 ? 0x86dd : 0x0800);

  uint8_t* ip = f + kEthernetHeaderBytes;
  const size_t l3_bytes = flow.ipv6 ? kIpv6HeaderBytes : kIpv4HeaderBytes;
  uint8_t* l4 = ip + l3_bytes;
  const size_t l4_header = flow.protocol == L4Protocol::kTcp ? kTcpHeaderBytes : kUdpHeaderBytes;
  const size_t l4_bytes = l4_header + opt.payload_bytes;
  const auto proto = static_cast<uint8_t>(flow.protocol);

  // Pseudo-header sum (RFC 9293 3.1, RFC 768, RFC 8200 8.1): addresses, protocol, L4 length.
  uint32_t pseudo = 0;
  if (flow.ipv6) {
    ip[0] = 0x60;                                          // version 6, traffic class 0, flow label 0
    detail::putBe16(ip + 4, static_cast<uint16_t>(l4_bytes));  // payload length
    ip[6] = proto;                                         // next header
    ip[7] = opt.ttl;                                       // hop limit
    std::memcpy(ip + 8, flow.src_ipv6.data(), 16);
    std::memcpy(ip + 24, flow.dst_ipv6.data(), 16);
    pseudo = detail::sumBe16(ip + 8, 32);
  } else {
    ip[0] = 0x45;                                          // version 4, IHL 5 words
    detail::putBe16(ip + 2, static_cast<uint16_t>(kIpv4HeaderBytes + l4_bytes));
    detail::putBe16(ip + 4, opt.ip_id);
    detail::putBe16(ip + 6, 0x4000);                       // DF, offset 0
    ip[8] = opt.ttl;
    ip[9] = proto;
    detail::putBe32(ip + 12, flow.src_ipv4);
    detail::putBe32(ip + 16, flow.dst_ipv4);
    detail::putBe16(ip + 10, internetChecksum({ip, kIpv4HeaderBytes}));
    pseudo = detail::sumBe16(ip + 12, 8);
  }
  pseudo += proto;
  pseudo += static_cast<uint32_t>(l4_bytes);

  detail::putBe16(l4, flow.src_port);
  detail::putBe16(l4 + 2, flow.dst_port);
  uint8_t* payload = l4 + l4_header;
  for (size_t i = 0; i < opt.payload_bytes; ++i) payload[i] = static_cast<uint8_t>('a' + i % 26);

  uint8_t* checksum_field = nullptr;
  if (flow.protocol == L4Protocol::kTcp) {
    detail::putBe32(l4 + 4, opt.tcp_seq);
    detail::putBe32(l4 + 8, opt.tcp_ack);
    l4[12] = static_cast<uint8_t>((kTcpHeaderBytes / 4) << 4);  // data offset, no options
    l4[13] = opt.tcp_flags;
    detail::putBe16(l4 + 14, 65535);                             // window
    checksum_field = l4 + 16;
  } else {
    detail::putBe16(l4 + 4, static_cast<uint16_t>(l4_bytes));
    checksum_field = l4 + 6;
  }
  uint16_t l4_checksum = detail::foldChecksum(detail::sumBe16(l4, l4_bytes, pseudo));
  // RFC 768: a computed UDP checksum of zero is sent as all ones (zero means "none"; IPv6 forbids none).
  if (flow.protocol == L4Protocol::kUdp && l4_checksum == 0) l4_checksum = 0xffff;
  detail::putBe16(checksum_field, l4_checksum);
  return frame_bytes;
}

}  // namespace lb::pktgen
