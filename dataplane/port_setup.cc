#include "dataplane/port_setup.h"

#include <rte_ethdev.h>

#include <array>
#include <cerrno>
#include <string_view>

#include "absl/strings/str_format.h"

namespace lb::dataplane {
namespace {

// Repeating 0x6d5a makes the Toeplitz hash symmetric in (src, dst) (Woo & Park, "Scalable TCP
// Session Monitoring with Symmetric Receive-side Scaling", 2012).
constexpr size_t kRssKeyLength = 40;
std::array<uint8_t, kRssKeyLength> symmetricRssKey() {
  std::array<uint8_t, kRssKeyLength> key{};
  for (size_t i = 0; i < key.size(); i += 2) {
    key[i] = 0x6d;
    key[i + 1] = 0x5a;
  }
  return key;
}

}  // namespace

absl::Status setupPort(uint16_t port_id, uint16_t queues, rte_mempool* pool) {
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port_id, &info); rc != 0) {
    return absl::InternalError(absl::StrFormat("port %d: cannot read device info (%d)", port_id, rc));
  }
  if (queues > info.max_rx_queues || queues > info.max_tx_queues) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "port %d (%s) has %d rx / %d tx queues, %d workers need %d each (for af_packet, set qpairs=%d)",
        port_id, info.driver_name, info.max_rx_queues, info.max_tx_queues, queues, queues, queues));
  }
  static std::array<uint8_t, kRssKeyLength> rss_key = symmetricRssKey();
  rte_eth_conf conf{};
  const uint64_t rss_hf = info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
  if (queues > 1 && rss_hf != 0) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
    if (info.hash_key_size == kRssKeyLength) {
      conf.rx_adv_conf.rss_conf.rss_key = rss_key.data();
      conf.rx_adv_conf.rss_conf.rss_key_len = kRssKeyLength;
    }
  }
  if (int rc = rte_eth_dev_configure(port_id, queues, queues, &conf); rc != 0) {
    return absl::InternalError(absl::StrFormat("port %d: configure failed (%d)", port_id, rc));
  }
  uint16_t rxd = kRxDescriptors;
  uint16_t txd = kTxDescriptors;
  rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rxd, &txd);
  const int socket = rte_eth_dev_socket_id(port_id);
  for (uint16_t q = 0; q < queues; ++q) {
    if (int rc = rte_eth_rx_queue_setup(port_id, q, rxd, socket, nullptr, pool); rc != 0) {
      if (rc == -ENOMEM && std::string_view(info.driver_name) == "net_af_packet") {
        // The driver copies each ring frame into one mbuf and refuses mbufs smaller than its frames.
        return absl::InvalidArgumentError(absl::StrFormat(
            "port %d (net_af_packet): its framesz does not fit an mbuf of dataplane.mbuf_data_room %d bytes; "
            "set mbuf_data_room to at least framesz + 96",
            port_id, rte_pktmbuf_data_room_size(pool)));
      }
      return absl::InternalError(absl::StrFormat("port %d: rx queue %d setup failed (%d)", port_id, q, rc));
    }
    if (int rc = rte_eth_tx_queue_setup(port_id, q, txd, socket, nullptr); rc != 0) {
      return absl::InternalError(absl::StrFormat("port %d: tx queue %d setup failed (%d)", port_id, q, rc));
    }
  }
  if (int rc = rte_eth_dev_start(port_id); rc != 0) {
    return absl::InternalError(absl::StrFormat("port %d: start failed (%d)", port_id, rc));
  }
  // Promiscuous: a one-armed balancer receives frames for VIP MACs it answers ARP for.
  rte_eth_promiscuous_enable(port_id);
  return absl::OkStatus();
}

}  // namespace lb::dataplane
