#include "controlplane/lcore_counters_json.h"

#include <string>

namespace lb::controlplane {

nlohmann::json lcoreCountersJson(const dataplane::LcoreCounters& c) {
  nlohmann::json drops = nlohmann::json::object();
  for (size_t r = 0; r < dataplane::kDropReasonCount; ++r) {
    drops[std::string(dataplane::kDropReasonNames[r])] = c.drops[r].read();
  }
  return {{"rx_packets", c.rx_packets.read()},
          {"rx_bytes", c.rx_bytes.read()},
          {"tx_packets", c.tx_packets.read()},
          {"tx_bytes", c.tx_bytes.read()},
          {"flows_created", c.flows_created.read()},
          {"flows_expired", c.flows_expired.read()},
          {"flows_reset", c.flows_reset.read()},
          {"flows_active", c.flows_active.load(std::memory_order_relaxed)},
          {"established_path", c.established_path.read()},
          {"arp_replies", c.arp_replies.read()},
          {"icmp_replies", c.icmp_replies.read()},
          {"nd_replies", c.nd_replies.read()},
          {"icmp_too_big", c.icmp_too_big.read()},
          {"icmp_relayed", c.icmp_relayed.read()},
          {"icmp_to_backend", c.icmp_to_backend.read()},
          {"handoff_out", c.handoff_out.read()},
          {"handoff_in", c.handoff_in.read()},
          {"fragments_in", c.fragments_in.read()},
          {"datagrams_reassembled", c.datagrams_reassembled.read()},
          {"fragments_out", c.fragments_out.read()},
          {"drops", std::move(drops)}};
}

nlohmann::json sumLcoreCounters(const nlohmann::json& lcores) {
  nlohmann::json sum = nlohmann::json::object();
  for (const char* key : kSummedCounters) sum[key] = uint64_t{0};
  nlohmann::json drops = nlohmann::json::object();
  for (const std::string_view reason : dataplane::kDropReasonNames) drops[std::string(reason)] = uint64_t{0};
  for (const nlohmann::json& lcore : lcores) {
    for (const char* key : kSummedCounters) sum[key] = sum[key].get<uint64_t>() + lcore.at(key).get<uint64_t>();
    const nlohmann::json& lcore_drops = lcore.at("drops");
    for (auto& [reason, count] : drops.items()) {
      count = count.get<uint64_t>() + lcore_drops.at(reason).get<uint64_t>();
    }
  }
  sum["drops"] = std::move(drops);
  return sum;
}

}  // namespace lb::controlplane
