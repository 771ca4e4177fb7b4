// The per-ISA inner kernels of the CPU backend: dot products of weight rows
// in an execution format (F32, F16, Q8_0, Q4_0; GGUF block layouts) with
// activation rows, selected once at run time.
//
// ISAs (best first): AVX-512 with VNNI, AVX-VNNI (256-bit VNNI without
// AVX-512: Intel Alder Lake and later, AMD Zen 5), AVX2 (x86-64; compiled
// with target attributes so a portable build still has them, chosen by
// CPUID), NEON with
// or without the dot-product extension (AArch64; compiled only there), and a
// scalar fallback available everywhere. Integer formats take activations
// quantised to 8-bit blocks (QuantizedRows); float formats take F32 rows.
//
// All kernels are pure functions over caller-provided memory and may run
// concurrently on disjoint output ranges.
#ifndef TESSERA_KERNELS_CPU_OPS_KERNELS_H_
#define TESSERA_KERNELS_CPU_OPS_KERNELS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/ggml_types.h"

namespace tessera::kernels {

using model::GgmlType;

enum class CpuIsa {
  kScalar,
  kAvx2,
  kAvxVnni,
  kAvx512Vnni,
  kNeon,
  kNeonDotProd,
  kBest
};

// "scalar", "avx2", "avx-vnni", "avx512-vnni", ...
const char* IsaName(CpuIsa isa);
// Parses an IsaName() or "best". InvalidArgument otherwise.
absl::StatusOr<CpuIsa> ParseIsa(absl::string_view name);
// The best ISA that is both compiled in and supported by this CPU.
CpuIsa DetectBestIsa();
// Whether `isa` is compiled in and runnable here (kBest always is).
bool IsaAvailable(CpuIsa isa);

// A weight matrix in its execution format: `rows` rows of `cols` values,
// each row `row_bytes` long (a whole number of blocks), row-major.
struct MatrixRef {
  GgmlType format = GgmlType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_bytes = 0;
  const uint8_t* data = nullptr;
  // Q4_0 rows in the tile layout of q4_tiles.h (only for kernel tables with
  // q4_0_tiles).
  bool q4_tiled = false;
};

// Activation rows quantised Q8_0-style for integer dot products: each block
// of 32 values x is stored as int8 q = round(x / d) with d = max|x| / 127.
// For kernels that multiply unsigned weight bytes u = w + offset with these
// signed values, the corrections -offset * (sum of q) are precomputed per
// block and per group of 4 values so sum(w*q) = sum(u*q) + correction.
// Arrays are row-major; rows are `cols` (qs), `blocks` (scales, block_corr)
// and cols/4 (quad_corr) apart.
struct QuantizedRows {
  int64_t rows = 0;
  int64_t cols = 0;    // multiple of 32
  int64_t blocks = 0;  // cols / 32
  int32_t offset = 0;
  const int8_t* qs = nullptr;
  const float* scales = nullptr;
  const int32_t* block_corr = nullptr;
  const int32_t* quad_corr = nullptr;
  // Optional Q4_0 stream layout (QuantizedActivations fills it on request,
  // else `stream` is null) for kernels that read a Q4_0 weight row as a
  // plain stream of 64-byte vectors. In a row's byte stream (18-byte blocks:
  // fp16 scale, then 16 bytes holding values j and 16 + j in the low and
  // high nibble of byte j) every 4-byte lane holds bytes of one block only,
  // so activations can be laid out to meet the weight bytes where they lie.
  // A superblock is 32 blocks = 576 bytes = 9 vectors; per superblock s of
  // an activation row, kQ4StreamBytes bytes (offsets kQ4Stream*):
  //   lo[576]:    at stream byte p = 18b + 2 + j (block 32s + b, j < 16),
  //               value j of that block; 0 at the scale bytes;
  //   hi[576]:    the same with value 16 + j;
  //   corr[144]:  int32, lane i = -offset * (sum of lo and hi at bytes
  //               4i..4i+3);
  //   scale[144]: float, lane i = the scale of the block holding byte 4i.
  // Bytes, lanes and scales past the row's last block are 0. Activation
  // rows are `supers` superblocks apart (supers = ceil(blocks / 32)).
  int64_t supers = 0;
  const uint8_t* stream = nullptr;
  // Optional Q4_0 tile layout (q4_tiles.h) for tiled weights: each row's
  // Q4Tiles(blocks) activation tiles, rows Q4Tiles(blocks) x
  // kQ4TileActBytes bytes apart; null unless requested.
  const uint8_t* tiles = nullptr;
};

// Output convention of every kernel: for weight rows r in [r0, r1) and
// activation rows n, y[n * y_stride + r] = dot(W[r], x[n]), or += when
// `accumulate` (a fused residual add).
struct CpuKernels {
  CpuIsa isa;
  // The `offset` this ISA wants in QuantizedRows for Q8_0 / Q4_0 weights.
  int32_t q8_0_offset;
  int32_t q4_0_offset;
  // Integer formats, one pass over the weights for up to kMaxMatVecRows
  // activation rows (decode). REQUIRES: x.rows <= kMaxMatVecRows.
  void (*quant_matvec)(const MatrixRef& w, int64_t r0, int64_t r1,
                       const QuantizedRows& x, float* y, int64_t y_stride,
                       bool accumulate);
  // Integer formats, many activation rows (prefill): weights are repacked
  // panel by panel into `scratch` (gemm_scratch_bytes(cols) bytes, 64-byte
  // aligned) and reused across all activation rows. nullptr when the ISA
  // has no such kernel (callers then use quant_matvec).
  // REQUIRES: r0 is a multiple of kGemmPanelRows.
  void (*quant_gemm)(const MatrixRef& w, int64_t r0, int64_t r1,
                     const QuantizedRows& x, float* y, int64_t y_stride,
                     bool accumulate, uint8_t* scratch);
  int64_t (*gemm_scratch_bytes)(int64_t cols);
  // F32 / F16 weights with F32 activations (x: n rows, x_stride apart).
  void (*float_matmul)(const MatrixRef& w, int64_t r0, int64_t r1,
                       const float* x, int64_t n, int64_t x_stride, float* y,
                       int64_t y_stride, bool accumulate);
  // Whether quant_matvec wants the stream layout for Q4_0 (it still accepts
  // rows without it).
  bool q4_0_stream = false;
  // Whether quant_matvec and quant_gemm take Q4_0 matrices in the tile
  // layout (MatrixRef::q4_tiled): quant_matvec then needs the activations'
  // tile layout (QuantizedRows::tiles). Backends tile their Q4_0 matrices
  // at load when set.
  bool q4_0_tiles = false;
};

// Bytes of one GGUF block of 32 values: an fp16 scale and the quants.
inline constexpr int64_t kQ8_0BlockBytes = 34;
inline constexpr int64_t kQ4_0BlockBytes = 18;

inline constexpr int64_t kMaxMatVecRows = 4;
inline constexpr int64_t kGemmPanelRows = 16;
// The Q4_0 stream layout of QuantizedRows (see there): blocks and weight
// bytes per superblock, the offsets of an activation superblock's parts,
// and its size (a multiple of 64).
inline constexpr int64_t kQ4StreamBlocks = 32;
inline constexpr int64_t kQ4StreamWeightBytes = 576;
inline constexpr int64_t kQ4StreamLo = 0;
inline constexpr int64_t kQ4StreamHi = 576;
inline constexpr int64_t kQ4StreamCorr = 1152;
inline constexpr int64_t kQ4StreamScale = 1728;
inline constexpr int64_t kQ4StreamBytes = 2304;

// The kernel table of `isa` (kBest: DetectBestIsa()).
// REQUIRES: IsaAvailable(isa).
const CpuKernels& GetCpuKernels(CpuIsa isa);

// Per-ISA tables, defined by the kernel files (nullptr when not compiled).
const CpuKernels* ScalarKernels();
const CpuKernels* Avx2Kernels();
const CpuKernels* AvxVnniKernels();
const CpuKernels* Avx512VnniKernels();
const CpuKernels* NeonKernels();

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_CPU_OPS_KERNELS_H_
