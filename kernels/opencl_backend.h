// OpenCL implementation of kernels::Backend.
//
// Runs a shard's layers on one OpenCL device (GPU drivers such as Adreno,
// Mali, Intel, NVIDIA, or PoCL on a CPU). Weights are uploaded once in their
// execution format (F32, F16, Q8_0, Q4_0: GGUF's quantisation, with quants
// and scales in separate arrays, see opencl_matrix.h), tensors larger than
// CL_DEVICE_MAX_MEM_ALLOC_SIZE split by rows over several buffers. The KV
// cache of every session lives in device memory, and activations stay on the
// device for the whole shard: one Forward() writes the input rows (or token
// ids) and reads back only the stage output (hidden rows or logits).
//
// Kernels come from kernels/opencl/*.cl (embedded at build time); compiled
// program binaries are cached on disk, keyed by device name, driver version
// and source hash, under $TESSERA_CACHE_DIR/opencl or ~/.cache/tessera/opencl.
//
// Forward validates the whole batch and reserves KV space before touching
// any state, so rejected batches change nothing. A device error during
// execution (a driver failure, not bad input) drops the sessions the batch
// created and empties those it restarted at position 0, whose cache may be
// partly overwritten; continuing sessions keep their state.
//
// Thread-safety: as Backend (not thread-safe; callers serialise calls).
#ifndef TESSERA_KERNELS_OPENCL_BACKEND_H_
#define TESSERA_KERNELS_OPENCL_BACKEND_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "kernels/backend.h"

namespace tessera::kernels {

// Creates an OpenCL backend on device `device` of platform `platform`
// (indices as listed by `clinfo -l`). platform == -1 and device == -1 pick
// the first GPU of any platform, else the first device of any type.
// Unavailable when the machine has no OpenCL platform or no such device;
// InvalidArgument for bad options; any OpenCL failure becomes a Status naming
// the call and the error.
absl::StatusOr<std::unique_ptr<Backend>> CreateOpenClBackend(
    int platform, int device, const BackendOptions& options);

// Knobs for tests and tools; the defaults are what CreateOpenClBackend uses.
struct OpenClTuning {
  // Program binary cache directory; unset: $TESSERA_CACHE_DIR/opencl or
  // ~/.cache/tessera/opencl; empty string: no disk cache.
  std::optional<std::string> cache_dir;
  // Largest buffer to allocate; 0: CL_DEVICE_MAX_MEM_ALLOC_SIZE. A smaller
  // value forces large tensors to be split as on devices with small limits.
  int64_t max_buffer_bytes = 0;
  // Most rows processed by one pass over the layers (larger batches are
  // processed in several passes); 0: the default (256).
  int64_t max_rows_per_pass = 0;
  // Lanes per row in the reduction kernels (a power of two); 0: chosen from
  // device queries (1 on CPU devices). Tests force > 1 to run the GPU code
  // paths on a CPU driver.
  int lanes = 0;
};

absl::StatusOr<std::unique_ptr<Backend>> CreateOpenClBackend(
    int platform, int device, const BackendOptions& options,
    const OpenClTuning& tuning);

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_OPENCL_BACKEND_H_
