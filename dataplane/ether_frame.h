// Ethernet header fields read and written byte-wise. A frame does not always start at an even
// address: the SYN proxy trims a retransmission's overlap from the front of a client segment
// (syn_proxy.cc, any number of bytes), and rte_ether_hdr and rte_ether_addr are declared 2-byte
// aligned, so member access through them there is undefined behaviour (found by packet_path_fuzz
// under UBSan). memcpy of 2 or 6 bytes compiles to the same moves.
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace lb::dataplane {

inline rte_ether_addr frameSourceMac(const uint8_t* frame) {
  rte_ether_addr mac;
  std::memcpy(&mac, frame + offsetof(rte_ether_hdr, src_addr), sizeof(mac));
  return mac;
}
inline rte_ether_addr frameSourceMac(const rte_mbuf* m) { return frameSourceMac(rte_pktmbuf_mtod(m, const uint8_t*)); }

inline uint16_t frameEtherType(const uint8_t* frame) {
  uint16_t type_be;
  std::memcpy(&type_be, frame + offsetof(rte_ether_hdr, ether_type), sizeof(type_be));
  return type_be;
}

inline void setFrameEtherType(uint8_t* frame, uint16_t type_be) {
  std::memcpy(frame + offsetof(rte_ether_hdr, ether_type), &type_be, sizeof(type_be));
}

}  // namespace lb::dataplane
