// Dequantisation of the K-quant super-blocks (256 values each). Byte layouts
// (fp16 unless noted), identical to ggml's block_qN_K:
//   Q2_K (84 B):  uint8 scales[16] | uint8 qs[64] | d | dmin
//       16 sub-blocks of 16; scales[i] = scale (low 4 bits) | min (high 4).
//       x = d * scale * q2 - dmin * min.
//   Q3_K (110 B): uint8 hmask[32] | uint8 qs[64] | uint8 scales[12] | d
//       16 sub-blocks of 16 with 6-bit scales s (stored +32); q = 2 low bits
//       from qs, minus 4 when the hmask bit is clear. x = d * (s - 32) * q.
//   Q4_K (144 B): d | dmin | uint8 scales[12] | uint8 qs[128]
//   Q5_K (176 B): d | dmin | uint8 scales[12] | uint8 qh[32] | uint8 qs[128]
//       8 sub-blocks of 32 with 6-bit scale and min (packed, see ScaleMinK4)
//       x = d * scale * q - dmin * min (q 4 or 5 bits).
//   Q6_K (210 B): uint8 ql[128] | uint8 qh[64] | int8 scales[16] | d
//       16 sub-blocks of 16; q = 4 low bits | 2 high bits, x = d * s * (q-32).
//   Q8_K (292 B): float32 d | int8 qs[256] | int16 bsums[16]; x = d * q.
// Within each 128-value half (Q2_K, Q3_K, Q6_K) the 2-bit fields of one byte
// belong to values 32 apart: bits 2k..2k+1 of qs[l] are value 32k + l.
#include <cstring>

#include "model/quants.h"

namespace tessera::model::internal {
namespace {

// The 6-bit scale and min of sub-block j (0..7) of Q4_K / Q5_K. Sub-blocks
// 0-3 use the low 6 bits of bytes 0-3 (scales) and 4-7 (mins); sub-blocks
// 4-7 take their low 4 bits from bytes 8-11 and their top 2 bits from the
// spare top bits of bytes 0-3 (scales) and 4-7 (mins).
inline void ScaleMinK4(int j, const uint8_t* q, int* scale, int* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
    *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// The 6-bit scale i (0..15) of Q3_K, before subtracting 32: low 4 bits from
// the nibbles of bytes 0-7, high 2 bits from the bit pairs of bytes 8-11.
inline int ScaleQ3K(int i, const uint8_t* s) {
  const int low = i < 8 ? (s[i] & 0x0f) : (s[i - 8] >> 4);
  const int high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
  return low | (high << 4);
}

}  // namespace

void DequantizeQ2_K(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ2_KBytes) {
    const uint8_t* scales = src;
    const float d = LoadHalf(src + 80);
    const float dmin = LoadHalf(src + 82);
    // Value 32k + 16p + l of half h is bit pair k of qs[32h + 16p + l]; its
    // sub-block is 8h + 2k + p. The four pairs of a byte are decoded
    // together so that every shift is a constant (the loop vectorises).
    for (int half = 0; half < 2; ++half, dst += 128) {
      const uint8_t* qs = src + 16 + 32 * half;
      for (int part = 0; part < 2; ++part) {
        float dl[4], ml[4];
        for (int k = 0; k < 4; ++k) {
          const uint8_t sc = scales[8 * half + 2 * k + part];
          dl[k] = d * static_cast<float>(sc & 0x0f);
          ml[k] = dmin * static_cast<float>(sc >> 4);
        }
        float* y = dst + 16 * part;
        const uint8_t* q = qs + 16 * part;
        for (int l = 0; l < 16; ++l) {
          y[l] = dl[0] * static_cast<float>(q[l] & 3) - ml[0];
          y[l + 32] = dl[1] * static_cast<float>((q[l] >> 2) & 3) - ml[1];
          y[l + 64] = dl[2] * static_cast<float>((q[l] >> 4) & 3) - ml[2];
          y[l + 96] = dl[3] * static_cast<float>(q[l] >> 6) - ml[3];
        }
      }
    }
  }
}

void DequantizeQ3_K(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ3_KBytes) {
    const uint8_t* hmask = src;
    const uint8_t* scales = src + 96;
    const float d = LoadHalf(src + 108);
    // Layout of the 2-bit codes as in Q2_K; the high bit of value v is bit
    // v / 32 (= 4h + k) of hmask[v % 32]; a clear bit subtracts 4.
    for (int half = 0; half < 2; ++half, dst += 128) {
      const uint8_t* qs = src + 32 + 32 * half;
      for (int part = 0; part < 2; ++part) {
        float dl[4];
        for (int k = 0; k < 4; ++k) {
          dl[k] = d * static_cast<float>(
                          ScaleQ3K(8 * half + 2 * k + part, scales) - 32);
        }
        float* y = dst + 16 * part;
        const uint8_t* q = qs + 16 * part;
        // Shift the half's 4 mask bits down so the bit for pair k is bit k.
        const uint8_t* h = hmask + 16 * part;
        const int hs = 4 * half;
        for (int l = 0; l < 16; ++l) {
          const int hb = h[l] >> hs;
          y[l] = dl[0] * static_cast<float>((q[l] & 3) - 4 * (~hb & 1));
          y[l + 32] = dl[1] * static_cast<float>(((q[l] >> 2) & 3) -
                                                 4 * (~(hb >> 1) & 1));
          y[l + 64] = dl[2] * static_cast<float>(((q[l] >> 4) & 3) -
                                                 4 * (~(hb >> 2) & 1));
          y[l + 96] =
              dl[3] * static_cast<float>((q[l] >> 6) - 4 * (~(hb >> 3) & 1));
        }
      }
    }
  }
}

void DequantizeQ4_K(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ4_KBytes) {
    const float d = LoadHalf(src);
    const float dmin = LoadHalf(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* qs = src + 16;
    // Each 32 bytes of qs hold two sub-blocks: low nibbles, then high ones.
    for (int sub = 0; sub < 8; sub += 2, qs += 32, dst += 64) {
      int sc0, m0, sc1, m1;
      ScaleMinK4(sub, scales, &sc0, &m0);
      ScaleMinK4(sub + 1, scales, &sc1, &m1);
      const float d0 = d * static_cast<float>(sc0);
      const float d1 = d * static_cast<float>(sc1);
      const float min0 = dmin * static_cast<float>(m0);
      const float min1 = dmin * static_cast<float>(m1);
      for (int l = 0; l < 32; ++l) {
        dst[l] = d0 * static_cast<float>(qs[l] & 0x0f) - min0;
        dst[l + 32] = d1 * static_cast<float>(qs[l] >> 4) - min1;
      }
    }
  }
}

void DequantizeQ5_K(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ5_KBytes) {
    const float d = LoadHalf(src);
    const float dmin = LoadHalf(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* qh = src + 16;
    const uint8_t* qs = src + 48;
    // As Q4_K; the 5th bit of sub-block s is bit s of qh[l].
    for (int sub = 0; sub < 8; sub += 2, qs += 32, dst += 64) {
      int sc0, m0, sc1, m1;
      ScaleMinK4(sub, scales, &sc0, &m0);
      ScaleMinK4(sub + 1, scales, &sc1, &m1);
      const float d0 = d * static_cast<float>(sc0);
      const float d1 = d * static_cast<float>(sc1);
      const float min0 = dmin * static_cast<float>(m0);
      const float min1 = dmin * static_cast<float>(m1);
      for (int l = 0; l < 32; ++l) {
        const int q0 = (qs[l] & 0x0f) | (((qh[l] >> sub) & 1) << 4);
        const int q1 = (qs[l] >> 4) | (((qh[l] >> (sub + 1)) & 1) << 4);
        dst[l] = d0 * static_cast<float>(q0) - min0;
        dst[l + 32] = d1 * static_cast<float>(q1) - min1;
      }
    }
  }
}

void DequantizeQ6_K(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ6_KBytes) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
    const float d = LoadHalf(src + 208);
    // Per 128-value half: ql[0..63] (low nibbles: values 0-31 / 32-63, high
    // nibbles: 64-95 / 96-127) and qh[0..31] (bit pairs 0,2,4,6 for the four
    // groups of 32).
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8) {
      // Two runs of 16 so each inner loop has fixed scales (vectorises).
      for (int part = 0; part < 2; ++part) {
        const float s0 = d * static_cast<float>(sc[part]);
        const float s1 = d * static_cast<float>(sc[part + 2]);
        const float s2 = d * static_cast<float>(sc[part + 4]);
        const float s3 = d * static_cast<float>(sc[part + 6]);
        for (int l = 16 * part; l < 16 * part + 16; ++l) {
          const int q0 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
          const int q1 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
          const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
          const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
          dst[l] = s0 * static_cast<float>(q0);
          dst[l + 32] = s1 * static_cast<float>(q1);
          dst[l + 64] = s2 * static_cast<float>(q2);
          dst[l + 96] = s3 * static_cast<float>(q3);
        }
      }
      dst += 128;
    }
  }
}

void DequantizeQ8_K(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ8_KBytes, dst += kQkK) {
    float d;
    std::memcpy(&d, src, sizeof(d));
    const int8_t* qs = reinterpret_cast<const int8_t*>(src + 4);
    for (int j = 0; j < kQkK; ++j) dst[j] = d * static_cast<float>(qs[j]);
  }
}

}  // namespace tessera::model::internal
