#include "model/ggml_types.h"

#include <bit>
#include <cstring>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "model/quants.h"

#if defined(__F16C__) && defined(__AVX__)
#include <immintrin.h>
#endif

namespace tessera::model {

// Block bytes are read with memcpy into host integers: little-endian only.
static_assert(std::endian::native == std::endian::little,
              "tessera_model assumes a little-endian host");

namespace {

using DequantizeFn = void (*)(const uint8_t* src, float* dst, int64_t blocks);
using QuantizeFn = void (*)(const float* src, uint8_t* dst, int64_t blocks);

struct TypeEntry {
  GgmlType type;
  TypeTraits traits;
  DequantizeFn dequantize;  // null when !can_dequantize
  QuantizeFn quantize;      // null when !can_quantize
};

void DequantizeF32(const uint8_t* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void DequantizeF16(const uint8_t* src, float* dst, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__) && defined(__AVX__)
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
#endif
  for (; i < n; ++i) dst[i] = internal::LoadHalf(src + 2 * i);
}

void DequantizeBF16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    dst[i] = Bf16ToFloat(internal::LoadU16(src + 2 * i));
  }
}

void QuantizeF32(const float* src, uint8_t* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void QuantizeF16(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h = FloatToHalf(src[i]);
    std::memcpy(dst + 2 * i, &h, sizeof(h));
  }
}

void QuantizeBF16(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h = FloatToBf16(src[i]);
    std::memcpy(dst + 2 * i, &h, sizeof(h));
  }
}

using namespace internal;  // NOLINT: block constants and kernels below.

// Every type id this project knows. Float types have 1-value "blocks".
constexpr TypeEntry kTypes[] = {
    {GgmlType::kF32, {"f32", 1, 4, true, true}, DequantizeF32, QuantizeF32},
    {GgmlType::kF16, {"f16", 1, 2, true, true}, DequantizeF16, QuantizeF16},
    {GgmlType::kQ4_0,
     {"q4_0", kQk, kQ4_0Bytes, true, true},
     DequantizeQ4_0,
     QuantizeQ4_0},
    {GgmlType::kQ4_1,
     {"q4_1", kQk, kQ4_1Bytes, true, true},
     DequantizeQ4_1,
     QuantizeQ4_1},
    {GgmlType::kQ5_0,
     {"q5_0", kQk, kQ5_0Bytes, true, true},
     DequantizeQ5_0,
     QuantizeQ5_0},
    {GgmlType::kQ5_1,
     {"q5_1", kQk, kQ5_1Bytes, true, true},
     DequantizeQ5_1,
     QuantizeQ5_1},
    {GgmlType::kQ8_0,
     {"q8_0", kQk, kQ8_0Bytes, true, true},
     DequantizeQ8_0,
     QuantizeQ8_0},
    {GgmlType::kQ8_1,
     {"q8_1", kQk, kQ8_1Bytes, true, false},
     DequantizeQ8_1,
     nullptr},
    {GgmlType::kQ2_K,
     {"q2_K", kQkK, kQ2_KBytes, true, false},
     DequantizeQ2_K,
     nullptr},
    {GgmlType::kQ3_K,
     {"q3_K", kQkK, kQ3_KBytes, true, false},
     DequantizeQ3_K,
     nullptr},
    {GgmlType::kQ4_K,
     {"q4_K", kQkK, kQ4_KBytes, true, false},
     DequantizeQ4_K,
     nullptr},
    {GgmlType::kQ5_K,
     {"q5_K", kQkK, kQ5_KBytes, true, false},
     DequantizeQ5_K,
     nullptr},
    {GgmlType::kQ6_K,
     {"q6_K", kQkK, kQ6_KBytes, true, false},
     DequantizeQ6_K,
     nullptr},
    {GgmlType::kQ8_K,
     {"q8_K", kQkK, kQ8_KBytes, true, false},
     DequantizeQ8_K,
     nullptr},
    {GgmlType::kBF16, {"bf16", 1, 2, true, true}, DequantizeBF16, QuantizeBF16},
};

const TypeEntry* FindEntry(uint32_t type_id) {
  for (const TypeEntry& entry : kTypes) {
    if (static_cast<uint32_t>(entry.type) == type_id) return &entry;
  }
  return nullptr;
}

const TypeEntry& Entry(GgmlType type) {
  const TypeEntry* entry = FindEntry(static_cast<uint32_t>(type));
  CHECK(entry != nullptr) << "not a GgmlType enumerator: "
                          << static_cast<uint32_t>(type);
  return *entry;
}

// Shared validation of Dequantize/Quantize: known type, whole blocks.
absl::StatusOr<int64_t> BlockCount(const TypeEntry* entry, uint32_t type_id,
                                   int64_t elements, absl::string_view op) {
  if (entry == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(op, ": unknown tensor type id ", type_id));
  }
  const int64_t block = entry->traits.block_elements;
  if (elements < 0 || elements % block != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, " ", entry->traits.name, ": ", elements,
        " values is not a whole number of ", block, "-value blocks"));
  }
  return elements / block;
}

}  // namespace

std::optional<TypeTraits> GetTypeTraits(uint32_t type_id) {
  const TypeEntry* entry = FindEntry(type_id);
  if (entry == nullptr) return std::nullopt;
  return entry->traits;
}

const TypeTraits& Traits(GgmlType type) { return Entry(type).traits; }

const char* TypeName(GgmlType type) { return Entry(type).traits.name; }

absl::StatusOr<GgmlType> ParseTypeName(absl::string_view name) {
  for (const TypeEntry& entry : kTypes) {
    if (absl::EqualsIgnoreCase(name, entry.traits.name)) return entry.type;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown tensor type name '", name, "'"));
}

absl::StatusOr<int64_t> RowBytes(GgmlType type, int64_t elements) {
  const TypeEntry* entry = FindEntry(static_cast<uint32_t>(type));
  TESSERA_ASSIGN_OR_RETURN(
      int64_t blocks,
      BlockCount(entry, static_cast<uint32_t>(type), elements, "row size"));
  const int64_t block_bytes = entry->traits.block_bytes;
  if (blocks > std::numeric_limits<int64_t>::max() / block_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("row size: ", elements, " ", entry->traits.name,
                     " values overflow int64 bytes"));
  }
  return blocks * block_bytes;
}

bool RowFits(GgmlType type, int64_t row_elements) {
  return row_elements > 0 && RowBytes(type, row_elements).ok();
}

float HalfToFloat(uint16_t h) { return internal::HalfBitsToFloat(h); }

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) {  // NaN: keep it quiet and keep the top payload
    return sign | 0x7e00u | static_cast<uint16_t>((ax >> 13) & 0x3ffu);
  }
  // 65520 is half-way between 65504 (largest half) and 2^16: ties go to
  // the even neighbour, which is infinity.
  if (ax >= 0x477ff000u) return sign | 0x7c00u;
  if (ax < 0x38800000u) {
    // Below the smallest normal half (2^-14): let the FPU round the value
    // into the subnormal grid by adding 0.5, whose ulp is 2^-24.
    float magnitude;
    std::memcpy(&magnitude, &ax, sizeof(magnitude));
    float shifted = magnitude + 0.5f;
    uint32_t bits;
    std::memcpy(&bits, &shifted, sizeof(bits));
    return sign | static_cast<uint16_t>(bits - 0x3f000000u);
  }
  // Normal: rebias the exponent and round the 13 dropped bits to nearest
  // even; a carry out of the mantissa correctly bumps the exponent.
  const uint32_t odd = (ax >> 13) & 1u;
  ax += 0xc8000fffu + odd;  // == -(112 << 23) + 0xfff + odd (mod 2^32)
  return sign | static_cast<uint16_t>(ax >> 13);
}

float Bf16ToFloat(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

uint16_t FloatToBf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  if ((x & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  }
  const uint32_t odd = (x >> 16) & 1u;
  return static_cast<uint16_t>((x + 0x7fffu + odd) >> 16);
}

absl::Status Dequantize(GgmlType type, const void* src, float* dst,
                        int64_t elements) {
  const uint32_t id = static_cast<uint32_t>(type);
  const TypeEntry* entry = FindEntry(id);
  TESSERA_ASSIGN_OR_RETURN(int64_t blocks,
                           BlockCount(entry, id, elements, "dequantize"));
  if (entry->dequantize == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dequantize: type ", entry->traits.name, " cannot be dequantized"));
  }
  entry->dequantize(static_cast<const uint8_t*>(src), dst, blocks);
  return absl::OkStatus();
}

absl::Status Quantize(GgmlType type, const float* src, void* dst,
                      int64_t elements) {
  const uint32_t id = static_cast<uint32_t>(type);
  const TypeEntry* entry = FindEntry(id);
  TESSERA_ASSIGN_OR_RETURN(int64_t blocks,
                           BlockCount(entry, id, elements, "quantize"));
  if (entry->quantize == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "quantize: type ", entry->traits.name, " cannot be written"));
  }
  entry->quantize(src, static_cast<uint8_t*>(dst), blocks);
  return absl::OkStatus();
}

}  // namespace tessera::model
