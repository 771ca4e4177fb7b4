#include "kernels/opencl_kernels.h"

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "common/status_macros.h"
#include "kernels/opencl_sources.h"

namespace tessera::kernels {
namespace {

constexpr char kCommonSource[] = "common.cl";

size_t FloorPow2(size_t v) {
  size_t p = 1;
  while (p * 2 <= v) p *= 2;
  return p;
}

bool IsMatvec(const std::string& name) {
  return absl::StartsWith(name, "matvec_") || absl::StartsWith(name, "matmul_");
}

bool IsLaneReduction(const std::string& name) {
  return absl::StartsWith(name, "rmsnorm") || name == "add_rmsnorm" ||
         name == "attention";
}

}  // namespace

std::string OpenClKernels::BuildOptions(bool single_lane,
                                        bool float_activations) {
  std::string options = absl::StrCat("-cl-std=CL1.2 -DTOKEN_TILE=", kTokenTile);
  if (single_lane) options += " -DSINGLE_LANE";
  if (float_activations) options += " -DFLOAT_ACTIVATIONS";
  return options;
}

absl::StatusOr<std::unique_ptr<OpenClKernels>> OpenClKernels::Create(
    OpenClContext* context, OpenClProgramCache* cache, int forced_lanes,
    bool float_activations) {
  if (forced_lanes < 0 || (forced_lanes & (forced_lanes - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("forced lanes ", forced_lanes, " is not a power of two"));
  }
  std::unique_ptr<OpenClKernels> kernels(
      new OpenClKernels(context, forced_lanes, float_activations));
  for (const EmbeddedSource& source : EmbeddedOpenClSources()) {
    if (absl::string_view(source.name) == kCommonSource) continue;
    TESSERA_RETURN_IF_ERROR_CTX(kernels->AddProgram(cache, source.name),
                                source.name);
  }
  return kernels;
}

absl::Status OpenClKernels::AddProgram(OpenClProgramCache* cache,
                                       const std::string& file) {
  const EmbeddedSource* common = FindEmbeddedOpenClSource(kCommonSource);
  const EmbeddedSource* source = FindEmbeddedOpenClSource(file);
  if (common == nullptr || source == nullptr) {
    return absl::InternalError("embedded OpenCL source missing");
  }
  const absl::string_view texts[] = {
      absl::string_view(common->text, common->size),
      absl::string_view(source->text, source->size)};
  TESSERA_ASSIGN_OR_RETURN(
      ClProgram program,
      cache->Build(texts, BuildOptions(single_lane(), float_activations_)));
  cl_uint count = 0;
  TESSERA_CL_RETURN_IF_ERROR(
      "clCreateKernelsInProgram",
      clCreateKernelsInProgram(program.get(), 0, nullptr, &count));
  std::vector<cl_kernel> created(count);
  TESSERA_CL_RETURN_IF_ERROR(
      "clCreateKernelsInProgram",
      clCreateKernelsInProgram(program.get(), count, created.data(), nullptr));
  std::vector<ClKernel> owned;
  for (cl_kernel k : created) owned.emplace_back(k);
  for (ClKernel& kernel : owned) {
    size_t size = 0;
    TESSERA_CL_RETURN_IF_ERROR(
        "clGetKernelInfo",
        clGetKernelInfo(kernel.get(), CL_KERNEL_FUNCTION_NAME, 0, nullptr,
                        &size));
    std::string name(size, '\0');
    TESSERA_CL_RETURN_IF_ERROR(
        "clGetKernelInfo",
        clGetKernelInfo(kernel.get(), CL_KERNEL_FUNCTION_NAME, size,
                        name.data(), nullptr));
    while (!name.empty() && name.back() == '\0') name.pop_back();
    auto info = std::make_unique<KernelInfo>();
    info->name = name;
    info->kernel = std::move(kernel);
    cl_device_id device = context_->device().device;
    TESSERA_CL_RETURN_IF_ERROR(
        "clGetKernelWorkGroupInfo(CL_KERNEL_WORK_GROUP_SIZE)",
        clGetKernelWorkGroupInfo(
            info->kernel.get(), device, CL_KERNEL_WORK_GROUP_SIZE,
            sizeof(info->max_group_size), &info->max_group_size, nullptr));
    TESSERA_CL_RETURN_IF_ERROR(
        "clGetKernelWorkGroupInfo(CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_"
        "MULTIPLE)",
        clGetKernelWorkGroupInfo(info->kernel.get(), device,
                                 CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                                 sizeof(info->preferred_multiple),
                                 &info->preferred_multiple, nullptr));
    ChooseGeometry(*info);
    kernels_[name] = std::move(info);
  }
  programs_.push_back(std::move(program));
  return absl::OkStatus();
}

// Geometry from the queries: GPUs get lanes = the preferred multiple (a warp
// or wavefront: the reduction stays within a SIMD group as far as the driver
// allows) and a few rows per group; CPU devices get one lane per row and
// enough rows per group to amortise the per-group overhead of the runtime.
void OpenClKernels::ChooseGeometry(KernelInfo& info) const {
  const OpenClDeviceInfo& device = context_->device();
  const size_t max_group = std::max<size_t>(
      1, std::min<size_t>(info.max_group_size, device.max_work_group_size));
  const size_t multiple = std::max<size_t>(1, info.preferred_multiple);
  const size_t max_dim0 =
      static_cast<size_t>(std::max<int64_t>(1, device.max_work_item_sizes[0]));
  const size_t max_dim1 =
      static_cast<size_t>(std::max<int64_t>(1, device.max_work_item_sizes[1]));
  info.lanes = 1;
  info.rows_per_group = 1;
  const bool reduces = IsMatvec(info.name) || IsLaneReduction(info.name);
  if (reduces && forced_lanes_ > 0) {
    info.lanes = std::min<size_t>(forced_lanes_, FloorPow2(max_group));
  } else if (reduces && !single_lane()) {
    const size_t cap = IsMatvec(info.name) ? 64 : 256;
    info.lanes = FloorPow2(
        std::min({std::max(multiple, size_t{1}) * (IsMatvec(info.name) ? 1 : 4),
                  cap, max_group, max_dim0}));
  }
  if (IsMatvec(info.name)) {
    // CPU devices: decode kernels (matvec_*) take 64 rows per group, which
    // amortises the block sums matvec_q4_0 computes per group (PoCL,
    // 2048x2048 Q4_0: 71 us against 103 us in 16-row groups; Q8_0 the same
    // either way); prefill kernels (matmul_*) balance better with 16.
    const size_t cpu_rows = absl::StartsWith(info.name, "matvec_") ? 64 : 16;
    const size_t wanted =
        single_lane() ? std::max<size_t>(multiple, cpu_rows) : 4;
    info.max_rows_per_group =
        std::max<size_t>(1, std::min(max_group / info.lanes, max_dim1));
    info.rows_per_group = std::min(wanted, info.max_rows_per_group);
  }
  size_t items = std::min({max_group, max_dim0, size_t{256}});
  if (items >= multiple) items -= items % multiple;
  info.items = std::max<size_t>(1, items);
}

absl::StatusOr<KernelInfo*> OpenClKernels::Get(const std::string& name) {
  auto it = kernels_.find(name);
  if (it == kernels_.end()) {
    return absl::NotFoundError(absl::StrCat("no OpenCL kernel ", name));
  }
  return it->second.get();
}

absl::Status OpenClKernels::Enqueue(const KernelInfo& kernel, int dims,
                                    const size_t* global, const size_t* local) {
  for (int i = 0; i < dims; ++i) {
    if (global[i] == 0) return absl::OkStatus();  // nothing to do
  }
  const cl_int err =
      clEnqueueNDRangeKernel(context_->queue(), kernel.kernel.get(), dims,
                             nullptr, global, local, 0, nullptr, nullptr);
  if (err == CL_SUCCESS) return absl::OkStatus();
  return ClStatus(absl::StrCat("clEnqueueNDRangeKernel(", kernel.name, ")"),
                  err);
}

absl::Status OpenClKernels::ArgStatus(const KernelInfo& kernel, cl_uint index,
                                      cl_int error) {
  if (error == CL_SUCCESS) return absl::OkStatus();
  return ClStatus(
      absl::StrCat("clSetKernelArg(", kernel.name, ", ", index, ")"), error);
}

absl::Status OpenClKernels::SetArg(const KernelInfo& kernel, cl_uint index,
                                   cl_mem value) {
  return ArgStatus(
      kernel, index,
      clSetKernelArg(kernel.kernel.get(), index, sizeof(value), &value));
}

absl::Status OpenClKernels::SetArg(const KernelInfo& kernel, cl_uint index,
                                   int32_t value) {
  const cl_int v = value;
  return ArgStatus(kernel, index,
                   clSetKernelArg(kernel.kernel.get(), index, sizeof(v), &v));
}

absl::Status OpenClKernels::SetArg(const KernelInfo& kernel, cl_uint index,
                                   float value) {
  const cl_float v = value;
  return ArgStatus(kernel, index,
                   clSetKernelArg(kernel.kernel.get(), index, sizeof(v), &v));
}

absl::Status OpenClKernels::SetArg(const KernelInfo& kernel, cl_uint index,
                                   LocalBytes value) {
  return ArgStatus(kernel, index,
                   clSetKernelArg(kernel.kernel.get(), index,
                                  std::max<size_t>(value.bytes, 4), nullptr));
}

}  // namespace tessera::kernels
