// Full-NAT source ports owned by one lcore. Ports are partitioned between lcores so a reply's
// destination port alone names the lcore that owns its flow (see ownerOfLocalPort).
//
// FIFO reuse: a released port goes to the back of the queue, so it is reused as late as possible and
// the backend's TIME_WAIT for the previous connection on it has usually ended.
#pragma once

#include <cstdint>
#include <vector>

namespace lb::dataplane {

class LocalPortPool {
 public:
  LocalPortPool(uint16_t first_port, uint16_t last_port) : ring_(uint32_t{last_port} - first_port + 1) {
    for (uint32_t p = first_port; p <= last_port; ++p) ring_[p - first_port] = static_cast<uint16_t>(p);
    count_ = static_cast<uint32_t>(ring_.size());
  }

  // Host-order port, or 0 when exhausted.
  uint16_t acquire() {
    if (count_ == 0) return 0;
    const uint16_t port = ring_[head_];
    head_ = head_ + 1 == ring_.size() ? 0 : head_ + 1;
    --count_;
    return port;
  }

  void release(uint16_t port) {
    uint32_t tail = head_ + count_;
    if (tail >= ring_.size()) tail -= static_cast<uint32_t>(ring_.size());
    ring_[tail] = port;
    ++count_;
  }

  uint32_t available() const { return count_; }

 private:
  std::vector<uint16_t> ring_;
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
