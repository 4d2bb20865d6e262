// Full-NAT source endpoints (address, port) owned by one lcore for one egress port. Ports are
// partitioned between lcores so a reply's destination port alone names the lcore that owns its flow
// (LocalPortPartition::ownerOf). Every one of the egress port's full-NAT addresses holds the lcore's
// whole chunk, so addresses multiply the flows an lcore can hold without touching that partition.
//
// FIFO reuse: a released endpoint goes to the back of the queue, so it is reused as late as possible
// and the backend's TIME_WAIT for the previous connection on it has usually ended. The queue starts
// address-minor (every address's first port, then every address's second port, ...), so consecutive
// flows spread over the addresses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lb::dataplane {

struct LocalEndpoint {
  uint16_t address_index = 0;  // into the egress port's full-NAT addresses (LocalPort::localSourceBe)
  uint16_t port = 0;           // host order; 0 = none (the pool was exhausted)
};

class LocalPortPool {
 public:
  LocalPortPool() = default;
  LocalPortPool(uint16_t first_port, uint16_t last_port, uint32_t address_count = 1)
      : ring_((uint32_t{last_port} - first_port + 1) * address_count) {
    size_t i = 0;
    for (uint32_t p = first_port; p <= last_port; ++p) {
      for (uint32_t a = 0; a < address_count; ++a) ring_[i++] = a << 16 | p;
    }
    count_ = static_cast<uint32_t>(ring_.size());
  }

  LocalEndpoint acquire() {
    if (count_ == 0) return {};
    const uint32_t entry = ring_[head_];
    head_ = head_ + 1 == ring_.size() ? 0 : head_ + 1;
    --count_;
    return LocalEndpoint{static_cast<uint16_t>(entry >> 16), static_cast<uint16_t>(entry)};
  }

  void release(LocalEndpoint endpoint) {
    uint32_t tail = head_ + count_;
    if (tail >= ring_.size()) tail -= static_cast<uint32_t>(ring_.size());
    ring_[tail] = uint32_t{endpoint.address_index} << 16 | endpoint.port;
    ++count_;
  }

  uint32_t available() const { return count_; }
  uint32_t capacity() const { return static_cast<uint32_t>(ring_.size()); }

 private:
  std::vector<uint32_t> ring_;  // address_index << 16 | port
  uint32_t head_ = 0;
  uint32_t count_ = 0;
};

// Contiguous equal chunks of [port_min, port_max], one per worker.
struct LocalPortPartition {
  uint16_t port_min = 0;
  uint16_t port_max = 0;
  uint16_t workers = 1;

  uint32_t chunk() const { return (uint32_t{port_max} - port_min + 1) / workers; }
  uint16_t firstFor(uint16_t worker) const { return static_cast<uint16_t>(port_min + worker * chunk()); }
  uint16_t lastFor(uint16_t worker) const {
    return static_cast<uint16_t>(port_min + (worker + 1) * chunk() - 1);
  }
  bool contains(uint16_t port) const {
    return port >= port_min && uint32_t{port} < uint32_t{port_min} + chunk() * workers;
  }
  uint16_t ownerOf(uint16_t port) const { return static_cast<uint16_t>((port - port_min) / chunk()); }
};

}  // namespace lb::dataplane
