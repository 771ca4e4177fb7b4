// Tensor element types of the GGUF format (numbering as in ggml) and their
// block layouts, with dequantisation of every readable type and quantisation
// into the execution formats.
//
// Block layouts (little-endian, `d`/`m` are IEEE fp16 unless noted):
//   Q8_0 (32 values, 34 bytes):  d, int8 qs[32]           x = d*q
//   Q4_0 (32 values, 18 bytes):  d, uint8 qs[16]          x = d*(nibble-8);
//        element j<16 is the low nibble of qs[j], element j+16 the high one
//   Q4_1 (32, 20): d, m, qs[16]                           x = d*nibble + m
//   Q5_0 (32, 22): d, uint32 qh, qs[16]                   5th bit from qh
//   Q5_1 (32, 24): d, m, uint32 qh, qs[16]
//   K-quants (256 values per super-block): Q2_K 84, Q3_K 110, Q4_K 144,
//   Q5_K 176, Q6_K 210 bytes, layouts exactly as ggml's block_qN_K.
//   BF16: upper 16 bits of an IEEE float32.
//
// All functions are pure and thread-safe.
#ifndef TESSERA_MODEL_GGML_TYPES_H_
#define TESSERA_MODEL_GGML_TYPES_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera::model {

// Values are the on-disk type ids of GGUF; never renumber.
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kBF16 = 30,
};

struct TypeTraits {
  const char* name;       // "f32", "q4_K", ... (ggml's spelling)
  int64_t block_elements;  // values per block (1 for float types)
  int64_t block_bytes;    // bytes per block
  bool can_dequantize;    // readable by this project
  bool can_quantize;      // writable by Quantize()
};

// Traits of a known type id; std::nullopt for ids this project does not know.
std::optional<TypeTraits> GetTypeTraits(uint32_t type_id);
const TypeTraits& Traits(GgmlType type);  // REQUIRES: a GgmlType enumerator
const char* TypeName(GgmlType type);

// Parses "f32", "F16", "q8_0", "Q4_K" ... (case-insensitive).
absl::StatusOr<GgmlType> ParseTypeName(absl::string_view name);

// Bytes of a row of `elements` values. InvalidArgument if `elements` is not a
// multiple of the block size or the byte count would overflow int64.
absl::StatusOr<int64_t> RowBytes(GgmlType type, int64_t elements);

// True when rows of `row_elements` values can be stored in `type`.
bool RowFits(GgmlType type, int64_t row_elements);

// fp16 / bf16 <-> f32, round-to-nearest-even on the way down.
float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);
float Bf16ToFloat(uint16_t h);
uint16_t FloatToBf16(float f);

// Converts `elements` values of `type` at `src` into floats at `dst`.
// REQUIRES: src holds RowBytes(type, elements) bytes, dst holds `elements`.
// InvalidArgument for types that cannot be dequantised or a partial block.
absl::Status Dequantize(GgmlType type, const void* src, float* dst,
                        int64_t elements);

// Converts `elements` floats into `type` (F32, F16, BF16, Q8_0, Q4_0, Q4_1,
// Q5_0, Q5_1; rounding as ggml's reference quantisers, so blocks match
// llama.cpp's byte for byte). Non-finite inputs give unspecified codes.
// REQUIRES: dst holds RowBytes(type, elements) bytes.
// InvalidArgument for other types or a partial block.
absl::Status Quantize(GgmlType type, const float* src, void* dst,
                      int64_t elements);

}  // namespace tessera::model

#endif  // TESSERA_MODEL_GGML_TYPES_H_
