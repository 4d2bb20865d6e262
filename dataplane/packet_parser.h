// Bounds-checked parse of one frame: Ethernet, one optional 802.1Q tag, ARP or IPv4 (with options),
// then TCP, UDP or ICMP. Every length is checked against the frame before it is read, so a hostile
// frame yields a DropReason, never an out-of-bounds read.
#pragma once

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <cstdint>

#include "dataplane/drop_reason.h"
#include "hashing/key_hash.h"

namespace lb::dataplane {

enum class FrameKind : uint8_t { kIpv4, kArp, kDrop };

struct ParsedFrame {
  FrameKind kind = FrameKind::kDrop;
  DropReason drop = DropReason::kMalformed;
  uint16_t l2_len = 0;   // Ethernet header plus VLAN tag if present
  uint16_t vlan = 0;     // tag (VID) seen on ingress, 0 if untagged
  uint16_t l3_len = 0;   // IPv4 header length including options
  uint8_t tcp_flags = 0;
  rte_ipv4_hdr* ip = nullptr;
  void* l4 = nullptr;    // TCP/UDP/ICMP header
  rte_arp_hdr* arp = nullptr;
  hashing::FlowKeyV4 key;  // src/dst address, ports (0 for ICMP), protocol
};

// Fills `out`; fields not relevant to the frame's kind are left as they were (callers read only what
// `kind` says is valid), which keeps the per-packet cost to what the frame needs.
void parseFrame(rte_mbuf* m, ParsedFrame& out);

inline ParsedFrame parseFrame(rte_mbuf* m) {
  ParsedFrame f;
  parseFrame(m, f);
  return f;
}

}  // namespace lb::dataplane
