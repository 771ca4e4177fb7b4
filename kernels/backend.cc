#include "kernels/backend.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kernels/cpu_backend.h"
#include "kernels/opencl_backend.h"

namespace tessera::kernels {
namespace {

constexpr char kSpecHelp[] =
    "expected cpu[:ISA] (ISA: best, scalar, avx2, avx-vnni, avx512-vnni, "
    "neon, neon-dotprod) or opencl[:PLATFORM:DEVICE]";

absl::StatusOr<std::unique_ptr<Backend>> CreateCpu(
    const std::vector<std::string>& parts, const BackendOptions& options) {
  CpuBackendOptions cpu;
  if (parts.size() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad backend 'cpu:...': ", kSpecHelp));
  }
  if (parts.size() == 2) {
    absl::StatusOr<CpuIsa> isa = ParseIsa(parts[1]);
    if (!isa.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad backend: ", isa.status().message()));
    }
    cpu.isa = *isa;
  }
  return CreateCpuBackend(options, cpu);
}

absl::StatusOr<std::unique_ptr<Backend>> CreateOpenCl(
    const std::vector<std::string>& parts, const BackendOptions& options) {
  int platform = -1, device = -1;
  if (parts.size() == 3) {
    if (!absl::SimpleAtoi(parts[1], &platform) ||
        !absl::SimpleAtoi(parts[2], &device) || platform < 0 || device < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad backend 'opencl:", parts[1], ":", parts[2],
                       "': PLATFORM and DEVICE must be non-negative integers"));
    }
  } else if (parts.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad backend 'opencl:...': ", kSpecHelp));
  }
  return CreateOpenClBackend(platform, device, options);
}

}  // namespace

absl::StatusOr<GgmlType> ParseKvType(const std::string& name) {
  if (name == "f32") return GgmlType::kF32;
  if (name == "f16") return GgmlType::kF16;
  return absl::InvalidArgumentError(
      absl::StrCat("bad KV cache type '", name, "': expected f32 or f16"));
}

bool Backend::SupportsFormat(GgmlType format) const {
  return format == GgmlType::kF32 || format == GgmlType::kF16 ||
         format == GgmlType::kQ8_0 || format == GgmlType::kQ4_0;
}

absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(
    const std::string& spec, const BackendOptions& options) {
  const std::vector<std::string> parts = absl::StrSplit(spec, ':');
  if (parts[0] == "cpu") return CreateCpu(parts, options);
  if (parts[0] == "opencl") return CreateOpenCl(parts, options);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown backend '", spec, "': ", kSpecHelp));
}

}  // namespace tessera::kernels
