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
// 44-46 GB/s on one core. Two rows are read side by side (two-stream
// decode, cpu_ops_avx512.h), sharing each activation load.
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

// Vector v of a superblock of NW weight rows (`cur`, after `prev`) against
// NA activation rows, added into acc. The activation loads are shared by
// the weight rows.
template <int NW, int NA>
inline void StreamVectors(const __m512i (&cur)[NW], const __m512i (&prev)[NW],
                          int v, const TableRegs& t, const Activations<NA>& a,
                          __m512 (&acc)[NW][NA]) {
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  __m512i lo[NW], hi[NW];
  __m512 dw[NW];
  for (int w = 0; w < NW; ++w) {
    lo[w] = _mm512_and_si512(cur[w], nibble);
    hi[w] = _mm512_and_si512(_mm512_srli_epi16(cur[w], 4), nibble);
    dw[w] = _mm512_cvtph_ps(_mm512_castsi512_si256(
        _mm512_permutex2var_epi16(prev[w], t.words[v], cur[w])));
  }
  for (int n = 0; n < NA; ++n) {
    const uint8_t* p = a.at[n] + 64 * v;
    const __m512i corr = _mm512_load_si512(p + kQ4StreamCorr);
    const __m512i act_lo = _mm512_load_si512(p + kQ4StreamLo);
    const __m512i act_hi = _mm512_load_si512(p + kQ4StreamHi);
    const __m512 act_scale = _mm512_load_ps(p + kQ4StreamScale);
    for (int w = 0; w < NW; ++w) {
      __m512i dot = _mm512_dpbusd_epi32(corr, lo[w], act_lo);
      dot = _mm512_dpbusd_epi32(dot, hi[w], act_hi);
      acc[w][n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
                                  _mm512_mul_ps(dw[w], act_scale), acc[w][n]);
    }
  }
}

// Accumulator sets per (weight row, activation row) pair: enough
// independent FMA chains to hide the FMA latency, few enough to leave
// registers for the shared activation loads.
constexpr int AccumulatorSets(int pairs) {
  return pairs == 1 ? 3 : pairs == 2 ? 2 : 1;
}

// NW weight rows of nb blocks each (NW = 1 or 2; rows[1]'s alignment is
// kShiftedB), their dot products with the NA activation rows. The rows are
// read side by side, each prefetched kPrefetchBytes ahead.
template <int NW, int NA, bool kShiftedA, bool kShiftedB>
inline void StreamRowDots(const uint8_t* const (&rows)[NW], int64_t nb,
                          const QuantizedRows& x, const TableRegs& t,
                          float (&out)[NW][NA]) {
  static_assert(NW == 1 || NW == 2, "one or two weight rows");
  constexpr int kSets = AccumulatorSets(NW * NA);
  __m512 acc[kSets][NW][NA];
  for (auto& set : acc) {
    for (auto& row : set) {
      for (__m512& v : row) v = _mm512_setzero_ps();
    }
  }
  const int64_t bytes = nb * kQ4_0BlockBytes;
  StreamReader<kShiftedA> reader_a(rows[0], bytes);
  StreamReader<kShiftedB> reader_b(rows[NW - 1], bytes);
  const uint8_t* prefetch[NW];
  for (int w = 0; w < NW; ++w) prefetch[w] = rows[w] + kPrefetchBytes;
  for (int64_t s = 0; s < x.supers; ++s) {
    const Activations<NA> a(x, s);
    const int64_t left = bytes - s * kQ4StreamWeightBytes;
    __m512i prev[NW] = {};
    __m512i cur[NW];
    if (left >= kQ4StreamWeightBytes) {
      // A whole superblock, unrolled (v is a constant), with no branches.
      // It ends on a 64-byte boundary of the row, so no vector reaches past
      // the row.
#pragma GCC unroll 9
      for (int v = 0; v < kVectors; ++v) {
        for (int w = 0; w < NW; ++w) {
          _mm_prefetch(reinterpret_cast<const char*>(prefetch[w] + 64 * v),
                       _MM_HINT_T0);
        }
        cur[0] = reader_a.Next();
        if constexpr (NW == 2) cur[1] = reader_b.Next();
        StreamVectors<NW, NA>(cur, prev, v, t, a, acc[v % kSets]);
        for (int w = 0; w < NW; ++w) prev[w] = cur[w];
      }
      for (int w = 0; w < NW; ++w) prefetch[w] += kQ4StreamWeightBytes;
    } else {
      // The rows' last blocks: `count` vectors, the last one partly past
      // the rows.
      const int count = static_cast<int>((left + 63) / 64);
#pragma GCC unroll 9
      for (int v = 0; v < kVectors; ++v) {
        if (v == count) break;
        cur[0] = reader_a.Next();
        if constexpr (NW == 2) cur[1] = reader_b.Next();
        if (v == count - 1) {
          cur[0] = reader_a.Last(cur[0]);
          if constexpr (NW == 2) cur[1] = reader_b.Last(cur[1]);
        }
        StreamVectors<NW, NA>(cur, prev, v, t, a, acc[v % kSets]);
        for (int w = 0; w < NW; ++w) prev[w] = cur[w];
      }
    }
  }
  for (int w = 0; w < NW; ++w) {
    for (int n = 0; n < NA; ++n) {
      __m512 sum = acc[0][w][n];
      for (int k = 1; k < kSets; ++k) sum = _mm512_add_ps(sum, acc[k][w][n]);
      out[w][n] = _mm512_reduce_add_ps(sum);
    }
  }
}

bool Shifted(const uint8_t* row) {
  return (reinterpret_cast<uintptr_t>(row) & 63) != 0;
}

// StreamRowDots with the rows' alignments as template arguments.
template <int NW, int NA>
inline void RowDots(const uint8_t* const (&rows)[NW], const QuantizedRows& x,
                    const TableRegs& t, float (&out)[NW][NA]) {
  const bool a = Shifted(rows[0]), b = Shifted(rows[NW - 1]);
  if (a) {
    if (b) {
      StreamRowDots<NW, NA, true, true>(rows, x.blocks, x, t, out);
    } else {
      StreamRowDots<NW, NA, true, false>(rows, x.blocks, x, t, out);
    }
  } else if (b) {
    StreamRowDots<NW, NA, false, true>(rows, x.blocks, x, t, out);
  } else {
    StreamRowDots<NW, NA, false, false>(rows, x.blocks, x, t, out);
  }
}

// Weight rows `r` (one or two, read side by side) against the NA
// activation rows, into y.
template <int NA, int NW>
inline void StreamRowGroup(const MatrixRef& w, const int64_t (&r)[NW],
                           const QuantizedRows& x, const TableRegs& t,
                           float* y, int64_t y_stride, bool accumulate) {
  const uint8_t* rows[NW];
  for (int i = 0; i < NW; ++i) rows[i] = w.data + r[i] * w.row_bytes;
  float dots[NW][NA];
  RowDots<NW, NA>(rows, x, t, dots);
  for (int i = 0; i < NW; ++i) {
    for (int n = 0; n < NA; ++n) {
      float& o = y[n * y_stride + r[i]];
      o = accumulate ? o + dots[i][n] : dots[i][n];
    }
  }
}

// Rows [r0, r1) as two streams: row i of the first half beside row i of
// the second. Two streams per core keep more of the memory system busy
// than one (the hardware prefetcher tracks each), and each activation load
// serves two weight rows.
template <int NA>
void StreamRows(const MatrixRef& w, int64_t r0, int64_t r1,
                const QuantizedRows& x, float* y, int64_t y_stride,
                bool accumulate) {
  const TableRegs t;
  ForDecodeRows<true>(r0, r1, [&](const auto& rows) {
    StreamRowGroup<NA>(w, rows, x, t, y, y_stride, accumulate);
  });
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
