// OpenClKernels: every kernel of kernels/opencl/*.cl built for one device
// (through the program cache), with the work-group geometry chosen for it
// from device and kernel queries, and a typed way to set arguments and
// enqueue.
//
// Programs: one per kernel family file, each compiled with common.cl
// prepended and the options of BuildOptions(). On CPU devices SINGLE_LANE is
// defined (see common.cl) and every reduction kernel runs with one lane.
//
// Thread-safety: not thread-safe (kernels carry their arguments).
#ifndef TESSERA_KERNELS_OPENCL_KERNELS_H_
#define TESSERA_KERNELS_OPENCL_KERNELS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "kernels/opencl_context.h"
#include "kernels/opencl_handles.h"
#include "kernels/opencl_program_cache.h"

namespace tessera::kernels {

// Tokens per work-item in the matmul_* kernels (TOKEN_TILE in the sources).
inline constexpr int kTokenTile = 4;

// A __local kernel argument of `bytes` bytes.
struct LocalBytes {
  size_t bytes;
};

struct KernelInfo {
  std::string name;
  ClKernel kernel;
  size_t max_group_size = 1;  // CL_KERNEL_WORK_GROUP_SIZE
  size_t preferred_multiple =
      1;  // CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE
  // Chosen geometry: lanes per row (dimension 0) for reduction kernels and
  // rows per group (dimension 1) for matvec kernels; `items` for 1-D
  // element-wise kernels.
  size_t lanes = 1;
  size_t rows_per_group = 1;
  // The most rows per group the kernel and device allow with `lanes`.
  size_t max_rows_per_group = 1;
  size_t items = 1;
};

class OpenClKernels {
 public:
  // Builds every program (from the disk cache when possible) and creates
  // every kernel. `context` and `cache` must outlive the result. Errors name
  // the OpenCL call and, for compile failures, carry the build log.
  // forced_lanes > 0 (a power of two) overrides the geometry choice: the
  // multi-lane (GPU) code paths with that many lanes per row, on any device;
  // tests use it to exercise the GPU reductions on a CPU driver.
  // float_activations keeps float activations in the kernels that would
  // otherwise take them in int8 (one-lane Q4_0 decode on x86-64 with
  // AVX-512BW, see matvec_q4_0.cl); tests use it to exercise the float path
  // there too.
  static absl::StatusOr<std::unique_ptr<OpenClKernels>> Create(
      OpenClContext* context, OpenClProgramCache* cache, int forced_lanes = 0,
      bool float_activations = false);

  // Options every program is built with (SINGLE_LANE for one-lane geometry,
  // FLOAT_ACTIVATIONS as above).
  static std::string BuildOptions(bool single_lane, bool float_activations);

  // The kernel called `name`; NotFound (a programmer error) otherwise.
  absl::StatusOr<KernelInfo*> Get(const std::string& name);

  // Sets the arguments of `kernel` in order: cl_mem, int32_t, float, or
  // LocalBytes.
  template <typename... Args>
  static absl::Status SetArgs(const KernelInfo& kernel, const Args&... args) {
    cl_uint index = 0;
    absl::Status status;
    ((status.ok() ? status = SetArg(kernel, index++, args) : status), ...);
    return status;
  }

  // Enqueues `kernel` over `global` work-items in groups of `local` (both of
  // `dims` entries; global is a multiple of local).
  absl::Status Enqueue(const KernelInfo& kernel, int dims, const size_t* global,
                       const size_t* local);

  OpenClContext* context() const { return context_; }

  // True when programs are built with SINGLE_LANE (CPU devices, or forced
  // lanes of 1).
  bool single_lane() const {
    return forced_lanes_ > 0 ? forced_lanes_ == 1 : context_->device().is_cpu;
  }
  bool float_activations() const { return float_activations_; }

 private:
  OpenClKernels(OpenClContext* context, int forced_lanes,
                bool float_activations)
      : context_(context),
        forced_lanes_(forced_lanes),
        float_activations_(float_activations) {}
  absl::Status AddProgram(OpenClProgramCache* cache, const std::string& file);
  absl::Status AddKernel(cl_program program, const std::string& name);
  void ChooseGeometry(KernelInfo& info) const;

  static absl::Status ArgStatus(const KernelInfo& kernel, cl_uint index,
                                cl_int error);
  static absl::Status SetArg(const KernelInfo& kernel, cl_uint index,
                             cl_mem value);
  static absl::Status SetArg(const KernelInfo& kernel, cl_uint index,
                             int32_t value);
  static absl::Status SetArg(const KernelInfo& kernel, cl_uint index,
                             float value);
  static absl::Status SetArg(const KernelInfo& kernel, cl_uint index,
                             LocalBytes value);

  OpenClContext* context_;
  int forced_lanes_;
  bool float_activations_;
  std::vector<ClProgram> programs_;
  absl::flat_hash_map<std::string, std::unique_ptr<KernelInfo>> kernels_;
};

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_OPENCL_KERNELS_H_
