#include "dataplane/reply_steering.h"

#include <netinet/in.h>
#include <rte_flow.h>

#include <vector>

#include "absl/strings/str_format.h"
#include "dataplane/port_range_masks.h"

namespace lb::dataplane {
namespace {

struct RuleSpec {
  uint32_t address_be;
  uint8_t protocol;
  PortMask ports;
  uint16_t queue;
};

// One rule: eth / ipv4 dst / tcp|udp dst port block -> queue. Validates first when `validate_only`.
rte_flow* createRule(uint16_t port_id, const RuleSpec& spec, bool validate_only,
                     rte_flow_error& error, int& rc) {
  const rte_flow_attr attr{.group = 0, .priority = 0, .ingress = 1, .egress = 0, .transfer = 0, .reserved = 0};
  rte_flow_item_ipv4 ip_spec{};
  rte_flow_item_ipv4 ip_mask{};
  ip_spec.hdr.dst_addr = spec.address_be;
  ip_mask.hdr.dst_addr = RTE_BE32(0xffffffff);
  rte_flow_item_tcp tcp_spec{};
  rte_flow_item_tcp tcp_mask{};
  rte_flow_item_udp udp_spec{};
  rte_flow_item_udp udp_mask{};
  tcp_spec.hdr.dst_port = udp_spec.hdr.dst_port = rte_cpu_to_be_16(spec.ports.value);
  tcp_mask.hdr.dst_port = udp_mask.hdr.dst_port = rte_cpu_to_be_16(spec.ports.mask);
  const bool tcp = spec.protocol == IPPROTO_TCP;
  const rte_flow_item pattern[] = {
      {.type = RTE_FLOW_ITEM_TYPE_ETH, .spec = nullptr, .last = nullptr, .mask = nullptr},
      {.type = RTE_FLOW_ITEM_TYPE_IPV4, .spec = &ip_spec, .last = nullptr, .mask = &ip_mask},
      {.type = tcp ? RTE_FLOW_ITEM_TYPE_TCP : RTE_FLOW_ITEM_TYPE_UDP,
       .spec = tcp ? static_cast<const void*>(&tcp_spec) : &udp_spec,
       .last = nullptr,
       .mask = tcp ? static_cast<const void*>(&tcp_mask) : &udp_mask},
      {.type = RTE_FLOW_ITEM_TYPE_END, .spec = nullptr, .last = nullptr, .mask = nullptr},
  };
  const rte_flow_action_queue queue{.index = spec.queue};
  const rte_flow_action actions[] = {
      {.type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &queue},
      {.type = RTE_FLOW_ACTION_TYPE_END, .conf = nullptr},
  };
  if (validate_only) {
    rc = rte_flow_validate(port_id, &attr, pattern, actions, &error);
    return nullptr;
  }
  rte_flow* flow = rte_flow_create(port_id, &attr, pattern, actions, &error);
  rc = flow == nullptr ? -1 : 0;
  return flow;
}

}  // namespace

absl::StatusOr<uint32_t> installReplySteering(uint16_t port_id, uint32_t first_address, uint32_t address_count,
                                              const LocalPortPartition& partition, uint16_t workers) {
  std::vector<RuleSpec> specs;
  for (uint32_t a = 0; a < address_count; ++a) {
    const uint32_t address_be = rte_cpu_to_be_32(first_address + a);
    for (uint16_t w = 0; w < workers; ++w) {
      for (const PortMask& block : portRangeMasks(partition.firstFor(w), partition.lastFor(w))) {
        specs.push_back({address_be, IPPROTO_TCP, block, w});
        specs.push_back({address_be, IPPROTO_UDP, block, w});
      }
    }
  }
  std::vector<rte_flow*> created;
  for (size_t i = 0; i < specs.size(); ++i) {
    rte_flow_error error{};
    int rc = 0;
    // Validating the first rule tells whether the PMD can steer at all; later failures mean it ran
    // out of room, which is also a reason to remove every rule and stay with the ring.
    if (i == 0) createRule(port_id, specs[i], /*validate_only=*/true, error, rc);
    rte_flow* flow = rc == 0 ? createRule(port_id, specs[i], false, error, rc) : nullptr;
    if (flow == nullptr) {
      for (rte_flow* f : created) {
        rte_flow_error ignored{};
        rte_flow_destroy(port_id, f, &ignored);
      }
      return absl::UnimplementedError(absl::StrFormat(
          "port %d: no rte_flow reply steering (rule %d of %d: %s); replies use the hand-off ring", port_id,
          i + 1, specs.size(), error.message != nullptr ? error.message : "not supported"));
    }
    created.push_back(flow);
  }
  return static_cast<uint32_t>(created.size());
}

}  // namespace lb::dataplane
