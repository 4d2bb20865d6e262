// Fixed-size array for hot per-lcore tables, allocated once at start-up from DPDK's memory (hugepages
// when reserved: a 100 MB flow table on 4 KiB pages costs a TLB miss per lookup) and from the heap when
// EAL memory is unavailable (unit tests without EAL, exhausted memory).
#pragma once

#include <rte_malloc.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace lb::dataplane {

template <class T>
class PinnedArray {
 public:
  PinnedArray(size_t count, const T& initial) : size_(count) {
    void* memory = rte_malloc_socket("tether_table", sizeof(T) * count, alignof(T) < 64 ? 64 : alignof(T),
                                     SOCKET_ID_ANY);
    from_dpdk_ = memory != nullptr;
    if (memory == nullptr) memory = ::operator new(sizeof(T) * count, std::align_val_t{64});
    data_ = static_cast<T*>(memory);
    for (size_t i = 0; i < count; ++i) new (&data_[i]) T(initial);
  }
  ~PinnedArray() {
    for (size_t i = 0; i < size_; ++i) data_[i].~T();
    if (from_dpdk_) {
      rte_free(data_);
    } else {
      ::operator delete(data_, std::align_val_t{64});
    }
  }
  PinnedArray(const PinnedArray&) = delete;
  PinnedArray& operator=(const PinnedArray&) = delete;

  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
  bool from_dpdk_ = false;
};

}  // namespace lb::dataplane
