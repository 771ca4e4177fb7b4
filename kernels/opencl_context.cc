#include "kernels/opencl_context.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tessera::kernels {

OpenClContext::OpenClContext(const OpenClDeviceInfo& device, ClContext context,
                             ClQueue queue)
    : device_(device), context_(std::move(context)), queue_(std::move(queue)) {}

absl::StatusOr<std::unique_ptr<OpenClContext>> OpenClContext::Create(
    const OpenClDeviceInfo& device) {
  cl_context_properties properties[] = {
      CL_CONTEXT_PLATFORM,
      reinterpret_cast<cl_context_properties>(device.platform), 0};
  cl_int err = CL_SUCCESS;
  ClContext context(
      clCreateContext(properties, 1, &device.device, nullptr, nullptr, &err));
  if (err != CL_SUCCESS) return ClStatus("clCreateContext", err);
  ClQueue queue(clCreateCommandQueue(context.get(), device.device, 0, &err));
  if (err != CL_SUCCESS) return ClStatus("clCreateCommandQueue", err);
  return std::unique_ptr<OpenClContext>(
      new OpenClContext(device, std::move(context), std::move(queue)));
}

int64_t OpenClContext::max_buffer_bytes() const {
  if (max_buffer_override_ > 0) {
    return std::min(max_buffer_override_, device_.max_alloc_bytes);
  }
  return device_.max_alloc_bytes;
}

absl::StatusOr<ClMem> OpenClContext::CreateBuffer(int64_t bytes,
                                                  cl_mem_flags flags) {
  if (bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("clCreateBuffer: bad size ", bytes));
  }
  if (bytes > max_buffer_bytes()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "clCreateBuffer: ", bytes, " bytes exceed the largest buffer of ",
        max_buffer_bytes(), " bytes (CL_DEVICE_MAX_MEM_ALLOC_SIZE)"));
  }
  cl_int err = CL_SUCCESS;
  ClMem mem(clCreateBuffer(context_.get(), flags, static_cast<size_t>(bytes),
                           nullptr, &err));
  if (err != CL_SUCCESS) {
    return ClStatus("clCreateBuffer", err, absl::StrCat(bytes, " bytes"));
  }
  return mem;
}

absl::Status OpenClContext::Write(cl_mem buffer, int64_t offset_bytes,
                                  int64_t bytes, const void* data,
                                  bool blocking) {
  if (bytes == 0) return absl::OkStatus();
  return ClStatus(
      "clEnqueueWriteBuffer",
      clEnqueueWriteBuffer(queue_.get(), buffer, blocking ? CL_TRUE : CL_FALSE,
                           offset_bytes, bytes, data, 0, nullptr, nullptr));
}

absl::Status OpenClContext::Read(cl_mem buffer, int64_t offset_bytes,
                                 int64_t bytes, void* data) {
  if (bytes == 0) return Finish();
  return ClStatus(
      "clEnqueueReadBuffer",
      clEnqueueReadBuffer(queue_.get(), buffer, CL_TRUE, offset_bytes, bytes,
                          data, 0, nullptr, nullptr));
}

absl::Status OpenClContext::Copy(cl_mem src, int64_t src_offset, cl_mem dst,
                                 int64_t dst_offset, int64_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  return ClStatus("clEnqueueCopyBuffer",
                  clEnqueueCopyBuffer(queue_.get(), src, dst, src_offset,
                                      dst_offset, bytes, 0, nullptr, nullptr));
}

absl::Status OpenClContext::Finish() {
  return ClStatus("clFinish", clFinish(queue_.get()));
}

}  // namespace tessera::kernels
