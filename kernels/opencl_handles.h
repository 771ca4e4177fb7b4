// Move-only owners of OpenCL objects: ClMem, ClKernel, ClProgram, ClQueue,
// ClContext release their object (clReleaseX) on destruction. A
// default-constructed handle owns nothing.
//
// Thread-safety: as the object it wraps (OpenCL objects may be released from
// any thread; one handle must not be used by two threads at once).
#ifndef TESSERA_KERNELS_OPENCL_HANDLES_H_
#define TESSERA_KERNELS_OPENCL_HANDLES_H_

#include <utility>

#include "kernels/opencl_status.h"

namespace tessera::kernels {

template <typename T, cl_int (*Release)(T)>
class ClHandle {
 public:
  ClHandle() = default;
  // Takes ownership of `object` (may be null).
  explicit ClHandle(T object) : object_(object) {}
  ~ClHandle() { reset(); }

  ClHandle(ClHandle&& other) noexcept
      : object_(std::exchange(other.object_, nullptr)) {}
  ClHandle& operator=(ClHandle&& other) noexcept {
    if (this != &other) {
      reset();
      object_ = std::exchange(other.object_, nullptr);
    }
    return *this;
  }
  ClHandle(const ClHandle&) = delete;
  ClHandle& operator=(const ClHandle&) = delete;

  T get() const { return object_; }
  explicit operator bool() const { return object_ != nullptr; }
  // Releases the owned object now (the driver frees it once pending commands
  // that use it have completed).
  void reset() {
    if (object_ != nullptr) Release(object_);
    object_ = nullptr;
  }

 private:
  T object_ = nullptr;
};

using ClContext = ClHandle<cl_context, clReleaseContext>;
using ClQueue = ClHandle<cl_command_queue, clReleaseCommandQueue>;
using ClProgram = ClHandle<cl_program, clReleaseProgram>;
using ClKernel = ClHandle<cl_kernel, clReleaseKernel>;
using ClMem = ClHandle<cl_mem, clReleaseMemObject>;

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_OPENCL_HANDLES_H_
