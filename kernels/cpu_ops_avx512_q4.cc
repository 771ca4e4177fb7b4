// AVX-512 VNNI decode kernel for Q4_0 weights against activations in the
// stream layout of QuantizedRows (see cpu_ops_avx512.h).
//
// A weight row is read as 64-byte vectors at row offsets 64v. In that byte
// stream every 32-bit lane holds bytes of a single block, so one vpdpbusd
// per nibble half against the matching activation bytes gives per-lane
// partial sums of one block each; the lane's weight scale comes from a
// word permute of the same vectors (kScaleWords), its activation scale and
// correction from the layout.
//
// On the development machine (Zen 5) experiments showed the 512-bit loads,
// not the arithmetic, bounding this kernel, so each vector costs five: the
// weights once, and the activations' two halves, corrections and scales;
// the permute indices stay in registers. The weights are read as aligned cache
// lines only (a load that crosses a line costs more than a permute): a row that
// does not start on a line gets each vector from two lines with one word
// permute. Whole superblocks run unrolled and branch-free; the row's last,
// partial one takes the branches. Against the 4-blocks-per-step kernel this
// replaced, the kernel alone (BM_MatVecKernelCached) went from 41-43 to
// 44-46 GB/s on one core.
#include <algorithm>
#include <cstdint>

#include "kernels/cpu_ops_avx512.h"
#include "kernels/cpu_ops_dispatch.h"
#include "kernels/x86_intrinsics.h"

namespace tessera::kernels {

#if TESSERA_X86_KERNELS
TESSERA_TARGET_PUSH(TESSERA_AVX512_TARGET)

namespace {

constexpr int kVectors = 9;  // per superblock: 576 bytes

// Lane l of vector v belongs to block (64v + 4l) / 18 of its superblock.
constexpr int BlockOfLane(int v, int l) { return (64 * v + 4 * l) / 18; }

// kScaleWords.words[v]: the word permute (previous vector = words 0..31,
// this vector = words 32..63) that puts each lane's block scale (word 9b of
// the superblock) in the lane's low word; for v = 0 this vector only.
struct ScaleWords {
  alignas(64) uint16_t words[kVectors][32];
  constexpr ScaleWords() : words() {
    for (int v = 0; v < kVectors; ++v) {
      for (int l = 0; l < 32; ++l) {
        const int b = BlockOfLane(v, l % 16);
        words[v][l] =
            static_cast<uint16_t>(v == 0 ? 32 + 9 * b : 9 * b - 32 * (v - 1));
      }
    }
  }
};
constexpr ScaleWords kScaleWords;

// One aligned 64-byte line. The kernel reads whole lines that hold bytes
// of the row it works on, so it may read bytes just before or after the row
// (never past the line, hence never an unmapped page); those bytes are
// shifted out or zeroed before use. AddressSanitizer would report them as
// out of bounds when a row ends or starts mid-line at the edge of its
// allocation, so it does not instrument this load.
__attribute__((no_sanitize_address)) inline __m512i LoadLine(
    const uint8_t* line) {
  __m512i v = _mm512_load_si512(line);
  // Keep the line in a register: folded into each of its users, the load
  // would be repeated.
  asm("" : "+v"(v));
  return v;
}

// The row-relative weight vectors of one row of `bytes` bytes, in order.
// kShifted: the row does not start on a cache line (its offset there is
// even), and each vector is cut from two lines with one word permute.
template <bool kShifted>
class StreamReader {
 public:
  StreamReader(const uint8_t* row, int64_t bytes) {
    const auto begin = reinterpret_cast<uintptr_t>(row);
    first_ = reinterpret_cast<const uint8_t*>(begin & ~uintptr_t{63});
    last_ =
        reinterpret_cast<const uint8_t*>((begin + bytes - 1) & ~uintptr_t{63});
    const int64_t tail = bytes % 64;
    tail_mask_ = tail == 0 ? ~uint64_t{0} : (uint64_t{1} << tail) - 1;
    if constexpr (kShifted) {
      // Word i of a vector is word shift / 2 + i of (line, next line).
      shift_ = _mm512_add_epi16(
          _mm512_set1_epi16(static_cast<int16_t>((begin & 63) / 2)),
          _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19,
                           18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4,
                           3, 2, 1, 0));
      line_ = LoadLine(first_);
    }
    next_ = first_ + 64;
  }

  // The next vector. A shifted row's last vector may need the line after
  // the row's last one, which holds none of its bytes: the last line is
  // read again instead (its bytes there lie past the row; see Last()).
  __m512i Next() {
    if constexpr (kShifted) {
      const __m512i following = LoadLine(std::min(next_, last_));
      next_ += 64;
      const __m512i v = _mm512_permutex2var_epi16(line_, shift_, following);
      line_ = following;
      return v;
    } else {
      next_ += 64;
      return LoadLine(next_ - 128);
    }
  }

  // The row's last vector `v` with the bytes past the row zeroed (other
  // rows' bytes, whose scale words could be infinities or NaNs).
  __m512i Last(__m512i v) const { return _mm512_maskz_mov_epi8(tail_mask_, v); }

 private:
  const uint8_t* first_;
  const uint8_t* last_;
  const uint8_t* next_;  // the line the next Next() reads
  uint64_t tail_mask_;
  __m512i line_, shift_;
};

// kScaleWords in registers, loaded once per call.
struct TableRegs {
  __m512i words[kVectors];
  TableRegs() {
    for (int v = 0; v < kVectors; ++v) {
      words[v] = _mm512_load_si512(kScaleWords.words[v]);
    }
  }
};

// Superblock s of NA activation rows.
template <int NA>
struct Activations {
  const uint8_t* at[NA];

  Activations(const QuantizedRows& x, int64_t s) {
    for (int n = 0; n < NA; ++n) {
      at[n] = x.stream + (n * x.supers + s) * kQ4StreamBytes;
    }
  }
};

// Vector v of a superblock (`cur`, after `prev`) against NA activation
// rows, added into acc.
template <int NA>
inline void StreamVector(__m512i cur, __m512i prev, int v, const TableRegs& t,
                         const Activations<NA>& a, __m512 (&acc)[NA]) {
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  const __m512i lo = _mm512_and_si512(cur, nibble);
  const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(cur, 4), nibble);
  const __m512 dw = _mm512_cvtph_ps(
      _mm512_castsi512_si256(_mm512_permutex2var_epi16(prev, t.words[v], cur)));
  for (int n = 0; n < NA; ++n) {
    const uint8_t* p = a.at[n] + 64 * v;
    __m512i dot = _mm512_load_si512(p + kQ4StreamCorr);
    dot = _mm512_dpbusd_epi32(dot, lo, _mm512_load_si512(p + kQ4StreamLo));
    dot = _mm512_dpbusd_epi32(dot, hi, _mm512_load_si512(p + kQ4StreamHi));
    const __m512 scale = _mm512_mul_ps(dw, _mm512_load_ps(p + kQ4StreamScale));
    acc[n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, acc[n]);
  }
}

// One row of nb blocks, its dot products with the NA activation rows.
template <bool kShifted, int NA>
inline void StreamRowDots(const uint8_t* row, int64_t nb,
                          const QuantizedRows& x, const TableRegs& t,
                          float (&out)[NA]) {
  __m512 acc[3][NA];
  for (auto& set : acc) {
    for (__m512& v : set) v = _mm512_setzero_ps();
  }
  const int64_t bytes = nb * kQ4_0BlockBytes;
  StreamReader<kShifted> reader(row, bytes);
  const uint8_t* prefetch = row + kPrefetchBytes;
  for (int64_t s = 0; s < x.supers; ++s) {
    const Activations<NA> a(x, s);
    const int64_t left = bytes - s * kQ4StreamWeightBytes;
    __m512i prev = _mm512_setzero_si512();
    if (left >= kQ4StreamWeightBytes) {
      // A whole superblock, unrolled (v is a constant), with no branches:
      // three accumulator sets in turn. It ends on a 64-byte boundary of
      // the row, so no vector reaches past the row.
#pragma GCC unroll 9
      for (int v = 0; v < kVectors; ++v) {
        _mm_prefetch(reinterpret_cast<const char*>(prefetch + 64 * v),
                     _MM_HINT_T0);
        const __m512i cur = reader.Next();
        StreamVector<NA>(cur, prev, v, t, a, acc[v % 3]);
        prev = cur;
      }
      prefetch += kQ4StreamWeightBytes;
    } else {
      // The row's last blocks: `count` vectors, the last one partly past
      // the row.
      const int count = static_cast<int>((left + 63) / 64);
#pragma GCC unroll 9
      for (int v = 0; v < kVectors; ++v) {
        if (v == count) break;
        __m512i cur = reader.Next();
        if (v == count - 1) cur = reader.Last(cur);
        StreamVector<NA>(cur, prev, v, t, a, acc[v % 3]);
        prev = cur;
      }
    }
  }
  for (int n = 0; n < NA; ++n) {
    out[n] = _mm512_reduce_add_ps(
        _mm512_add_ps(_mm512_add_ps(acc[0][n], acc[1][n]), acc[2][n]));
  }
}

template <int NA>
void StreamRows(const MatrixRef& w, int64_t r0, int64_t r1,
                const QuantizedRows& x, float* y, int64_t y_stride,
                bool accumulate) {
  const TableRegs t;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + r * w.row_bytes;
    float dots[NA];
    if ((reinterpret_cast<uintptr_t>(row) & 63) == 0) {
      StreamRowDots<false, NA>(row, x.blocks, x, t, dots);
    } else {
      StreamRowDots<true, NA>(row, x.blocks, x, t, dots);
    }
    for (int n = 0; n < NA; ++n) {
      float& o = y[n * y_stride + r];
      o = accumulate ? o + dots[n] : dots[n];
    }
  }
}

}  // namespace

void Avx512Q4StreamMatVec(const MatrixRef& w, int64_t r0, int64_t r1,
                          const QuantizedRows& x, float* y, int64_t y_stride,
                          bool accumulate) {
  ForMatVecRows(x.rows, [&](auto na) {
    StreamRows<decltype(na)::value>(w, r0, r1, x, y, y_stride, accumulate);
  });
}

TESSERA_TARGET_POP()
#endif  // TESSERA_X86_KERNELS

}  // namespace tessera::kernels
