// The 32-value block formats (ggml's "legacy" quants). Byte layouts:
//   Q4_0 (18 B): fp16 d | uint8 qs[16]             x = d * (q - 8)
//   Q4_1 (20 B): fp16 d | fp16 m | uint8 qs[16]    x = d * q + m
//   Q5_0 (22 B): fp16 d | uint32 qh | uint8 qs[16] x = d * (q - 16)
//   Q5_1 (24 B): fp16 d | fp16 m | uint32 qh | uint8 qs[16]  x = d * q + m
//   Q8_0 (34 B): fp16 d | int8 qs[32]              x = d * q
//   Q8_1 (36 B): fp16 d | fp16 s | int8 qs[32]     x = d * q (s = d*sum(q))
// 4-bit codes: value j < 16 is the low nibble of qs[j], value j + 16 the high
// nibble. The 5th bit of value j (0..31) is bit j of the little-endian qh.
#include "model/quants.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/ggml_types.h"

namespace tessera::model::internal {
namespace {

uint32_t LoadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

void StoreHalf(uint8_t* p, float f) {
  uint16_t h = FloatToHalf(f);
  std::memcpy(p, &h, sizeof(h));
}

// Dequantises the 16 nibble bytes of a 4/5-bit block: q = nibble | 5th bit,
// x = (q - zero) * d + m, evaluated as ggml does (symmetric types pass m = 0
// and zero = 8 or 16; affine ones zero = 0 and their m). kFiveBit is a
// template parameter so the 4-bit loops carry no qh work.
template <bool kFiveBit>
inline void DequantizeNibbles(const uint8_t* qs, uint32_t qh, int zero, float d,
                              float m, float* y) {
  // Unpack the codes first, then convert: two simple loops vectorise well.
  int32_t q[kQk];
  for (int j = 0; j < 16; ++j) {
    q[j] = qs[j] & 0x0f;
    q[j + 16] = qs[j] >> 4;
  }
  if constexpr (kFiveBit) {
    for (int j = 0; j < kQk; ++j)
      q[j] |= static_cast<int32_t>((qh >> j) & 1u) << 4;
  }
  for (int j = 0; j < kQk; ++j) y[j] = static_cast<float>(q[j] - zero) * d + m;
}

// Truncates `v` toward zero and clamps it to [lo, hi]; NaN gives lo. For the
// in-range values of the reference rounding this is a plain int conversion,
// but it also keeps degenerate scales (1/d == inf) free of undefined casts.
inline int TruncClamp(float v, int lo, int hi) {
  if (!(v > static_cast<float>(lo))) return lo;
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v);
}

// The value of largest magnitude, sign kept (first one on ties).
float SignedAbsMax(const float* x) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < kQk; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

}  // namespace

void DequantizeQ4_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ4_0Bytes, dst += kQk) {
    DequantizeNibbles<false>(src + 2, 0, 8, LoadHalf(src), 0.0f, dst);
  }
}

void DequantizeQ4_1(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ4_1Bytes, dst += kQk) {
    DequantizeNibbles<false>(src + 4, 0, 0, LoadHalf(src), LoadHalf(src + 2),
                             dst);
  }
}

void DequantizeQ5_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ5_0Bytes, dst += kQk) {
    DequantizeNibbles<true>(src + 6, LoadU32(src + 2), 16, LoadHalf(src), 0.0f,
                            dst);
  }
}

void DequantizeQ5_1(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ5_1Bytes, dst += kQk) {
    DequantizeNibbles<true>(src + 8, LoadU32(src + 4), 0, LoadHalf(src),
                            LoadHalf(src + 2), dst);
  }
}

void DequantizeQ8_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ8_0Bytes, dst += kQk) {
    const float d = LoadHalf(src);
    const int8_t* qs = reinterpret_cast<const int8_t*>(src + 2);
    for (int j = 0; j < kQk; ++j) dst[j] = d * static_cast<float>(qs[j]);
  }
}

void DequantizeQ8_1(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ8_1Bytes, dst += kQk) {
    const float d = LoadHalf(src);
    const int8_t* qs = reinterpret_cast<const int8_t*>(src + 4);
    for (int j = 0; j < kQk; ++j) dst[j] = d * static_cast<float>(qs[j]);
  }
}

// Quantisers. Rounding follows ggml's reference code exactly so files written
// here match llama.cpp's byte for byte: the scale uses the unrounded float d,
// codes are truncated after adding 0.5 (+ the offset), then clamped.

void QuantizeQ8_0(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQk, dst += kQ8_0Bytes) {
    float amax = 0.0f;
    for (int j = 0; j < kQk; ++j) amax = std::max(amax, std::fabs(src[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    StoreHalf(dst, d);
    for (int j = 0; j < kQk; ++j) {
      dst[2 + j] = static_cast<uint8_t>(
          static_cast<int8_t>(TruncClamp(std::roundf(src[j] * id), -128, 127)));
    }
  }
}

void QuantizeQ4_0(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQk, dst += kQ4_0Bytes) {
    const float d = SignedAbsMax(src) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    StoreHalf(dst, d);
    for (int j = 0; j < 16; ++j) {
      const int lo = TruncClamp(src[j] * id + 8.5f, 0, 15);
      const int hi = TruncClamp(src[j + 16] * id + 8.5f, 0, 15);
      dst[2 + j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void QuantizeQ4_1(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQk, dst += kQ4_1Bytes) {
    const auto [min_it, max_it] = std::minmax_element(src, src + kQk);
    const float min = *min_it;
    const float d = (*max_it - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    StoreHalf(dst, d);
    StoreHalf(dst + 2, min);
    for (int j = 0; j < 16; ++j) {
      const int lo = TruncClamp((src[j] - min) * id + 0.5f, 0, 15);
      const int hi = TruncClamp((src[j + 16] - min) * id + 0.5f, 0, 15);
      dst[4 + j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

namespace {

// Packs 32 five-bit codes into qh (5th bits) and qs (low nibbles).
void PackFiveBit(const int* q, uint8_t* qh_dst, uint8_t* qs) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | ((q[j + 16] & 0x0f) << 4));
    qh |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
    qh |= static_cast<uint32_t>((q[j + 16] >> 4) & 1) << (j + 16);
  }
  std::memcpy(qh_dst, &qh, sizeof(qh));
}

}  // namespace

void QuantizeQ5_0(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQk, dst += kQ5_0Bytes) {
    const float d = SignedAbsMax(src) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[kQk];
    for (int j = 0; j < kQk; ++j) {
      q[j] = TruncClamp(src[j] * id + 16.5f, 0, 31);
    }
    StoreHalf(dst, d);
    PackFiveBit(q, dst + 2, dst + 6);
  }
}

void QuantizeQ5_1(const float* src, uint8_t* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQk, dst += kQ5_1Bytes) {
    const auto [min_it, max_it] = std::minmax_element(src, src + kQk);
    const float min = *min_it;
    const float d = (*max_it - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[kQk];
    for (int j = 0; j < kQk; ++j) {
      q[j] = TruncClamp((src[j] - min) * id + 0.5f, 0, 31);
    }
    StoreHalf(dst, d);
    StoreHalf(dst + 2, min);
    PackFiveBit(q, dst + 4, dst + 8);
  }
}

}  // namespace tessera::model::internal
