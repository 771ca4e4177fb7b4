// Internal to tessera_model: block kernels behind Dequantize() / Quantize()
// of model/ggml_types.h. Each function converts `blocks` whole blocks; the
// caller (ggml_types.cc) has validated the element count and the type.
//
// Byte layouts of the blocks are documented beside each kernel in quants.cc
// (32-value formats) and k_quants.cc (256-value super-blocks).
// All functions are pure and thread-safe.
#ifndef TESSERA_MODEL_QUANTS_H_
#define TESSERA_MODEL_QUANTS_H_

#include <cstdint>
#include <cstring>

namespace tessera::model::internal {

// IEEE binary16 bits -> float, exact (every half is a float).
inline float HalfBitsToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24 is exact in float.
    float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    std::memcpy(&bits, &magnitude, sizeof(bits));
    bits |= sign;
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf / NaN
  } else {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// Unaligned little-endian loads from block bytes.
inline uint16_t LoadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline float LoadHalf(const uint8_t* p) { return HalfBitsToFloat(LoadU16(p)); }

inline constexpr int64_t kQk = 32;    // values per block of the 32-value types
inline constexpr int64_t kQkK = 256;  // values per K-quant super-block

// Block sizes in bytes.
inline constexpr int64_t kQ4_0Bytes = 18;
inline constexpr int64_t kQ4_1Bytes = 20;
inline constexpr int64_t kQ5_0Bytes = 22;
inline constexpr int64_t kQ5_1Bytes = 24;
inline constexpr int64_t kQ8_0Bytes = 34;
inline constexpr int64_t kQ8_1Bytes = 36;
inline constexpr int64_t kQ2_KBytes = 84;
inline constexpr int64_t kQ3_KBytes = 110;
inline constexpr int64_t kQ4_KBytes = 144;
inline constexpr int64_t kQ5_KBytes = 176;
inline constexpr int64_t kQ6_KBytes = 210;
inline constexpr int64_t kQ8_KBytes = 292;

// Dequantisation: `src` holds `blocks` blocks, `dst` receives blocks * block
// elements floats.
void DequantizeQ4_0(const uint8_t* src, float* dst, int64_t blocks);
void DequantizeQ4_1(const uint8_t* src, float* dst, int64_t blocks);
void DequantizeQ5_0(const uint8_t* src, float* dst, int64_t blocks);
void DequantizeQ5_1(const uint8_t* src, float* dst, int64_t blocks);
void DequantizeQ8_0(const uint8_t* src, float* dst, int64_t blocks);
void DequantizeQ8_1(const uint8_t* src, float* dst, int64_t blocks);
void DequantizeQ2_K(const uint8_t* src, float* dst, int64_t blocks);
void DequantizeQ3_K(const uint8_t* src, float* dst, int64_t blocks);
void DequantizeQ4_K(const uint8_t* src, float* dst, int64_t blocks);
void DequantizeQ5_K(const uint8_t* src, float* dst, int64_t blocks);
void DequantizeQ6_K(const uint8_t* src, float* dst, int64_t blocks);
void DequantizeQ8_K(const uint8_t* src, float* dst, int64_t blocks);

// Reference quantisation (the rounding of ggml's quantize_row_*_ref):
// `src` holds blocks * 32 floats, `dst` receives `blocks` blocks.
void QuantizeQ4_0(const float* src, uint8_t* dst, int64_t blocks);
void QuantizeQ4_1(const float* src, uint8_t* dst, int64_t blocks);
void QuantizeQ5_0(const float* src, uint8_t* dst, int64_t blocks);
void QuantizeQ5_1(const float* src, uint8_t* dst, int64_t blocks);
void QuantizeQ8_0(const float* src, uint8_t* dst, int64_t blocks);

}  // namespace tessera::model::internal

#endif  // TESSERA_MODEL_QUANTS_H_
