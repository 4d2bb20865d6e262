// Port bring-up: one rx queue per worker, one tx queue per worker, RSS with a symmetric key where the
// PMD supports it, so both directions of a connection land on one queue when hardware allows.
#pragma once

#include <rte_mempool.h>

#include <cstdint>

#include "absl/status/status.h"

namespace lb::dataplane {

inline constexpr uint16_t kRxDescriptors = 1024;
inline constexpr uint16_t kTxDescriptors = 1024;

absl::Status setupPort(uint16_t port_id, uint16_t queues, rte_mempool* pool);

}  // namespace lb::dataplane
