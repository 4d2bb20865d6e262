#include "controlplane/arp_frames.h"

#include <rte_arp.h>
#include <rte_byteorder.h>

#include <cstring>

namespace lb::controlplane {

rte_mbuf* makeArpRequest(rte_mempool* pool, const rte_ether_addr& sender_mac, uint32_t sender_ip,
                         uint32_t target_ip, uint16_t vlan) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  const uint16_t l2_len = sizeof(rte_ether_hdr) + (vlan != 0 ? sizeof(rte_vlan_hdr) : 0);
  const uint16_t len = l2_len + sizeof(rte_arp_hdr);
  auto* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, len));
  std::memset(data, 0, len);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
  std::memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
  eth->src_addr = sender_mac;
  if (vlan != 0) {
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN);
    auto* tag = reinterpret_cast<rte_vlan_hdr*>(eth + 1);
    tag->vlan_tci = rte_cpu_to_be_16(vlan);
    tag->eth_proto = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
  } else {
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
  }
  auto* arp = reinterpret_cast<rte_arp_hdr*>(data + l2_len);
  arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
  arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  arp->arp_hlen = RTE_ETHER_ADDR_LEN;
  arp->arp_plen = sizeof(uint32_t);
  arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
  arp->arp_data.arp_sha = sender_mac;
  arp->arp_data.arp_sip = rte_cpu_to_be_32(sender_ip);
  arp->arp_data.arp_tip = rte_cpu_to_be_32(target_ip);
  return m;
}

std::optional<ArpSender> arpSender(const rte_mbuf* m) {
  const auto* data = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint32_t len = rte_pktmbuf_data_len(m);
  if (len < sizeof(rte_ether_hdr)) return std::nullopt;
  const auto* eth = reinterpret_cast<const rte_ether_hdr*>(data);
  uint32_t l2_len = sizeof(rte_ether_hdr);
  uint16_t type = eth->ether_type;
  if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN)) {
    if (len < l2_len + sizeof(rte_vlan_hdr)) return std::nullopt;
    type = reinterpret_cast<const rte_vlan_hdr*>(eth + 1)->eth_proto;
    l2_len += sizeof(rte_vlan_hdr);
  }
  if (type != rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP) || len < l2_len + sizeof(rte_arp_hdr)) return std::nullopt;
  const auto* arp = reinterpret_cast<const rte_arp_hdr*>(data + l2_len);
  return ArpSender{rte_be_to_cpu_32(arp->arp_data.arp_sip), arp->arp_data.arp_sha};
}

}  // namespace lb::controlplane
