// Bounds-checked parse of one frame: Ethernet, one optional 802.1Q tag, ARP, IPv4 (with options) or
// IPv6 (without extension headers), then TCP, UDP, ICMP or ICMPv6. Every length is checked against the frame before it is read, so a hostile
// frame yields a DropReason, never an out-of-bounds read. An IPv4 fragment is recognised as such
// (kIpv4Fragment) for reassembly; a reassembled datagram is an mbuf chain whose first segment holds
// every header, and parses like any other IPv4 frame.
#pragma once

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dataplane/drop_reason.h"
#include "hashing/key_hash.h"

namespace lb::dataplane {

enum class FrameKind : uint8_t {
  kIpv4,
  kArp,
  kIpv6,
  kIpv4Fragment,  // `ip`, `l2_len`, `l3_len`, the key's addresses and protocol (ports 0): no L4 read
  kDrop,
};

struct ParsedFrame {
  FrameKind kind = FrameKind::kDrop;
  DropReason drop = DropReason::kMalformed;
  uint16_t l2_len = 0;   // Ethernet header plus VLAN tag if present
  uint16_t vlan = 0;     // tag (VID) seen on ingress, 0 if untagged
  uint16_t l3_len = 0;   // IPv4 header length including options; 40 for IPv6
  uint8_t tcp_flags = 0;
  rte_ipv4_hdr* ip = nullptr;
  rte_ipv6_hdr* ip6 = nullptr;  // kIpv6 only (then `ip` is not set)
  void* l4 = nullptr;    // TCP/UDP/ICMP/ICMPv6 header
  rte_arp_hdr* arp = nullptr;
  hashing::FlowKeyV4 key;  // src/dst address (IPv4 only), ports (0 for ICMP), protocol
  uint16_t l4_len = 0;     // kIpv6 only: the payload length (L4 header and data)
};

// The full parse: every case above. parseFrame() calls it for whatever the inline check below
// does not take.
void parseFrameFull(rte_mbuf* m, ParsedFrame& out);

// Fills `out`; fields not relevant to the frame's kind are left as they were (callers read only what
// `kind` says is valid), which keeps the per-packet cost to what the frame needs.
//
// Nearly every frame is untagged IPv4 without options, unfragmented, carrying TCP or UDP. That case is
// recognised here inline with a few combined word compares and takes exactly the checks and writes
// parseFrameFull would make for it; anything else (or anything that fails a check) goes to the full
// parse, which decides between forwarding and a DropReason.
inline void parseFrame(rte_mbuf* m, ParsedFrame& f) {
  constexpr uint32_t kL2 = sizeof(rte_ether_hdr);
  constexpr uint32_t kL3 = sizeof(rte_ipv4_hdr);
  const uint32_t frame_len = rte_pktmbuf_data_len(m);
  if (m->nb_segs == 1 && frame_len >= kL2 + kL3 + sizeof(rte_udp_hdr)) [[likely]] {
    uint8_t* const data = rte_pktmbuf_mtod(m, uint8_t*);
    // Bytes 12..15: ethertype, version/IHL, TOS. IPv4 (0x0800) and 0x45 (version 4, 20-byte header).
    uint32_t type_vhl;
    std::memcpy(&type_vhl, data + offsetof(rte_ether_hdr, ether_type), sizeof(type_vhl));
    // IPv4 bytes 6..9: flags + fragment offset, TTL, protocol. Not a fragment: MF and offset zero.
    uint32_t frag_proto;
    std::memcpy(&frag_proto, data + kL2 + offsetof(rte_ipv4_hdr, fragment_offset), sizeof(frag_proto));
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(data + kL2);
    const uint32_t total_len = rte_be_to_cpu_16(ip->total_length);
    const uint8_t protocol = static_cast<uint8_t>(frag_proto >> 24);
    if ((type_vhl & 0x00ffffff) == 0x00450008 && (frag_proto & 0x0000ff3f) == 0 &&
        total_len <= frame_len - kL2) [[likely]] {
      uint8_t* const l4 = data + kL2 + kL3;
      const uint32_t l4_len = total_len - kL3;  // read only once total_len covers the L4 header below
      bool ok = false;
      uint8_t tcp_flags = 0;
      if (protocol == IPPROTO_TCP && total_len >= kL3 + sizeof(rte_tcp_hdr)) {
        const auto* tcp = reinterpret_cast<const rte_tcp_hdr*>(l4);
        const uint32_t data_off = (tcp->data_off >> 4) * 4u;
        // 20 <= data_off <= l4_len in one unsigned compare (l4_len >= 20 here; data_off < 20 wraps high).
        ok = data_off - sizeof(rte_tcp_hdr) <= l4_len - sizeof(rte_tcp_hdr);
        tcp_flags = tcp->tcp_flags;
      } else if (protocol == IPPROTO_UDP && total_len >= kL3 + sizeof(rte_udp_hdr)) {
        const uint32_t udp_len = rte_be_to_cpu_16(reinterpret_cast<const rte_udp_hdr*>(l4)->dgram_len);
        ok = udp_len - sizeof(rte_udp_hdr) <= l4_len - sizeof(rte_udp_hdr);  // 8 <= udp_len <= l4_len, likewise
      }
      if (ok) [[likely]] {
        f.kind = FrameKind::kIpv4;
        f.l2_len = kL2;
        f.vlan = 0;
        f.l3_len = kL3;
        f.tcp_flags = tcp_flags;
        f.ip = ip;
        f.l4 = l4;
        // The key as two 8-byte stores: the flow table reads it back as two words right away
        // (FlowTable::hashKey), and a load is forwarded from the store buffer only when one store
        // covers it (narrower stores cost a ~15-cycle stall, see hashing/key_hash.h).
        static_assert(offsetof(hashing::FlowKeyV4, src_port_be) == 8 && sizeof(hashing::FlowKeyV4) == 16);
        auto* key_bytes = reinterpret_cast<uint8_t*>(&f.key);
        std::memcpy(key_bytes, &ip->src_addr, 2 * sizeof(uint32_t));  // source, destination address
        uint32_t ports;  // TCP and UDP both open with source and destination port
        std::memcpy(&ports, l4, sizeof(ports));
        const uint64_t ports_protocol = uint64_t{ports} | (uint64_t{protocol} << 32);  // padding: 0
        std::memcpy(key_bytes + 8, &ports_protocol, sizeof(ports_protocol));
        return;
      }
    }
  }
  parseFrameFull(m, f);
}

inline ParsedFrame parseFrame(rte_mbuf* m) {
  ParsedFrame f;
  parseFrame(m, f);
  return f;
}

}  // namespace lb::dataplane
