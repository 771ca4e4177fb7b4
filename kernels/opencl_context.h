// OpenClContext: one device's context and in-order command queue, with the
// buffer operations the backend needs, each returning a Status that names the
// failing OpenCL call.
//
// Commands run in submission order (in-order queue). Writes may be
// asynchronous: the host memory passed to Write(blocking=false) must stay
// valid until Finish() or a later blocking Read() returns.
//
// Thread-safety: not thread-safe; one owner issues all commands.
#ifndef TESSERA_KERNELS_OPENCL_CONTEXT_H_
#define TESSERA_KERNELS_OPENCL_CONTEXT_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/opencl_device.h"
#include "kernels/opencl_handles.h"

namespace tessera::kernels {

class OpenClContext {
 public:
  // Creates a context and queue on `device`. Errors name the OpenCL call.
  static absl::StatusOr<std::unique_ptr<OpenClContext>> Create(
      const OpenClDeviceInfo& device);

  const OpenClDeviceInfo& device() const { return device_; }
  cl_context context() const { return context_.get(); }
  cl_command_queue queue() const { return queue_.get(); }

  // Largest single buffer: CL_DEVICE_MAX_MEM_ALLOC_SIZE, or a smaller limit
  // set for tests with set_max_buffer_bytes (0 restores the device limit).
  int64_t max_buffer_bytes() const;
  void set_max_buffer_bytes(int64_t bytes) { max_buffer_override_ = bytes; }

  // A device buffer of `bytes`. InvalidArgument for bytes <= 0;
  // ResourceExhausted when bytes exceeds max_buffer_bytes() (callers split
  // large tensors) or the device is out of memory.
  absl::StatusOr<ClMem> CreateBuffer(int64_t bytes,
                                     cl_mem_flags flags = CL_MEM_READ_WRITE);

  absl::Status Write(cl_mem buffer, int64_t offset_bytes, int64_t bytes,
                     const void* data, bool blocking);
  // Blocking read: on success `data` holds the bytes and every command issued
  // before has completed.
  absl::Status Read(cl_mem buffer, int64_t offset_bytes, int64_t bytes,
                    void* data);
  absl::Status Copy(cl_mem src, int64_t src_offset, cl_mem dst,
                    int64_t dst_offset, int64_t bytes);
  // Waits for every issued command.
  absl::Status Finish();

 private:
  OpenClContext(const OpenClDeviceInfo& device, ClContext context,
                ClQueue queue);

  OpenClDeviceInfo device_;
  ClContext context_;
  ClQueue queue_;
  int64_t max_buffer_override_ = 0;
};

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_OPENCL_CONTEXT_H_
