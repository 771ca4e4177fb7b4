// Device-resident weights of the OpenCL backend: matrices in an execution
// format, split into row ranges that each fit in one buffer
// (CL_DEVICE_MAX_MEM_ALLOC_SIZE), and float vectors (norm weights, biases).
// The host-side conversion into execution formats is shard_weights.h's; this
// file only re-lays the GGUF blocks out for the device and uploads them.
//
// Device layouts (struct of arrays; opencl/matvec_*.cl document the same):
//   F32:  data = rows*cols float            scales unused
//   F16:  data = rows*cols fp16             scales unused
//   Q8_0: data = rows*cols int8 quants      scales = rows*cols/32 fp16
//   Q4_0: data = rows*cols/2 bytes (GGUF qs[16] of each block, in order)
//                                           scales = rows*cols/32 fp16
//
// Thread-safety: plain values; uploading uses the context's queue.
#ifndef TESSERA_KERNELS_OPENCL_MATRIX_H_
#define TESSERA_KERNELS_OPENCL_MATRIX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "kernels/opencl_context.h"
#include "kernels/opencl_handles.h"
#include "kernels/shard_weights.h"
#include "model/ggml_types.h"

namespace tessera::kernels {

struct DeviceMatrixChunk {
  int64_t row_begin = 0;  // first row of the matrix held here
  int64_t rows = 0;
  ClMem data;
  ClMem scales;  // Q8_0 / Q4_0 only
};

struct DeviceMatrix {
  std::string name;
  model::GgmlType format = model::GgmlType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t bytes = 0;  // device bytes of all chunks
  std::vector<DeviceMatrixChunk> chunks;
};

struct DeviceVector {
  ClMem data;  // float32; null when the vector is absent
  int64_t elements = 0;
  int64_t bytes = 0;
};

// Device bytes of one row of `cols` values in `format` (data + scales).
// REQUIRES: an execution format whose blocks fit `cols`.
int64_t DeviceRowBytes(model::GgmlType format, int64_t cols);

// Uploads the row-wise concatenation of `parts` (matrices in GGUF layout, all
// in the same execution format with the same cols) in chunks of at most
// context.max_buffer_bytes() per buffer. InvalidArgument when the parts
// disagree or are inconsistent; ResourceExhausted when the device is out of
// memory or a single row exceeds a buffer.
absl::StatusOr<DeviceMatrix> UploadMatrix(
    OpenClContext& context, const std::string& name,
    absl::Span<const ExecMatrix* const> parts);

// Uploads the concatenation of `parts` as one float32 buffer. Empty parts
// give an absent vector (null data).
absl::StatusOr<DeviceVector> UploadFloats(
    OpenClContext& context, absl::Span<const std::vector<float>* const> parts);

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_OPENCL_MATRIX_H_
