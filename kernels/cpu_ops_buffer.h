// AlignedBuffer: grow-only, 64-byte aligned scratch memory for the CPU
// backend's activations, quantised rows and repacked weight panels. Contents
// are unspecified after a resize. Not thread-safe.
#ifndef TESSERA_KERNELS_CPU_OPS_BUFFER_H_
#define TESSERA_KERNELS_CPU_OPS_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace tessera::kernels {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;

  // Ensures capacity for `bytes` bytes; returns the (possibly new) storage.
  uint8_t* Reserve(int64_t bytes) {
    if (bytes > capacity_) {
      const size_t rounded = (static_cast<size_t>(bytes) + 63) & ~size_t{63};
      data_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, rounded)));
      capacity_ = static_cast<int64_t>(rounded);
    }
    return data_.get();
  }
  template <typename T>
  T* Reserve(int64_t count) {
    return reinterpret_cast<T*>(
        Reserve(count * static_cast<int64_t>(sizeof(T))));
  }

  uint8_t* data() const { return data_.get(); }
  int64_t capacity() const { return capacity_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> data_;
  int64_t capacity_ = 0;
};

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_CPU_OPS_BUFFER_H_
