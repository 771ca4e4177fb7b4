#include "kernels/cpu_ops_kernels.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace tessera::kernels {
namespace {

const CpuKernels* Table(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kScalar:
      return ScalarKernels();
    case CpuIsa::kAvx2:
      return Avx2Kernels();
    case CpuIsa::kAvxVnni:
      return AvxVnniKernels();
    case CpuIsa::kAvx512Vnni:
      return Avx512VnniKernels();
    case CpuIsa::kNeon:
    case CpuIsa::kNeonDotProd: {
      const CpuKernels* neon = NeonKernels();
      return neon != nullptr && neon->isa == isa ? neon : nullptr;
    }
    case CpuIsa::kBest:
      return Table(DetectBestIsa());
  }
  return nullptr;
}

bool CpuSupports(CpuIsa isa) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  switch (isa) {
    case CpuIsa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("f16c");
    case CpuIsa::kAvxVnni:
      return CpuSupports(CpuIsa::kAvx2) && __builtin_cpu_supports("avxvnni");
    case CpuIsa::kAvx512Vnni:
      return __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vnni") &&
             __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma");
    default:
      break;
  }
#endif
  // Scalar always; NEON kernels are compiled only for targets that have it.
  return isa == CpuIsa::kScalar || isa == CpuIsa::kNeon ||
         isa == CpuIsa::kNeonDotProd;
}

}  // namespace

const char* IsaName(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kScalar:
      return "scalar";
    case CpuIsa::kAvx2:
      return "avx2";
    case CpuIsa::kAvxVnni:
      return "avx-vnni";
    case CpuIsa::kAvx512Vnni:
      return "avx512-vnni";
    case CpuIsa::kNeon:
      return "neon";
    case CpuIsa::kNeonDotProd:
      return "neon-dotprod";
    case CpuIsa::kBest:
      return "best";
  }
  return "unknown";
}

absl::StatusOr<CpuIsa> ParseIsa(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (CpuIsa isa :
       {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvxVnni, CpuIsa::kAvx512Vnni,
        CpuIsa::kNeon, CpuIsa::kNeonDotProd, CpuIsa::kBest}) {
    if (lower == IsaName(isa)) return isa;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown CPU instruction set '", name,
      "'; expected best, scalar, avx2, avx-vnni, avx512-vnni, neon or "
      "neon-dotprod"));
}

bool IsaAvailable(CpuIsa isa) {
  if (isa == CpuIsa::kBest) return true;
  return Table(isa) != nullptr && CpuSupports(isa);
}

CpuIsa DetectBestIsa() {
  for (CpuIsa isa : {CpuIsa::kAvx512Vnni, CpuIsa::kAvxVnni, CpuIsa::kAvx2,
                     CpuIsa::kNeonDotProd, CpuIsa::kNeon}) {
    if (IsaAvailable(isa)) return isa;
  }
  return CpuIsa::kScalar;
}

const CpuKernels& GetCpuKernels(CpuIsa isa) {
  const CpuKernels* table = Table(isa);
  CHECK(table != nullptr) << "CPU kernels for " << IsaName(isa)
                          << " are not compiled in";
  return *table;
}

}  // namespace tessera::kernels
