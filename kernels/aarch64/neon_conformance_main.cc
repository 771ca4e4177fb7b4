// Conformance driver for the AArch64 NEON kernels (kernels/cpu_ops_neon.cc):
// runs NeonKernels() and ScalarKernels() (the yardstick) on the same random
// inputs and compares every output element, and checks the scalar result
// against an exact double-precision sum so that a broken harness cannot pass.
//
// Covered: quant_matvec for Q8_0 and Q4_0 (1..kMaxMatVecRows activation
// rows; 1, 2, 3, 4, 5, 8 and 33 blocks per row; activations quantised by
// QuantizedActivations with each table's offset and layout, as
// MatMulRunner does) and float_matmul for F32 and F16 (1..9 activation rows,
// column counts below, at and around the SIMD widths), each with and without
// `accumulate`, over four weight-row ranges [r0, r1) (all, interior, last,
// empty), with y_stride and x_stride larger than the row and column counts.
// Outputs outside [r0, r1) x [0, n) and the padding must stay bit-identical.
// Weight blocks are random bytes: every int8 / nibble value and scales of
// both signs, as any GGUF file may hold; "saturated" cases pair the most
// negative weight with activations of +-127 (the largest integer products).
//
// Tolerance: each kernel's result may differ from the exact sum by the
// worst-case bound of recursive float summation, (terms + 8) * FLT_EPSILON *
// sum |w * x|, terms being the blocks (integer formats, whose block dots are
// exact) or the columns (float formats); NEON and scalar may differ by twice
// that. A lost, duplicated or misplaced value is orders of magnitude larger.
//
// Also covered: simd.cc's grouped-query attention helpers (DotTransposed,
// WeightedSum and their F16 forms, compiled for NEON here) against exact
// double sums, within 1e-5 of the terms' magnitude (the "max" printed).
//
// Standalone on purpose: it links only the kernel sources (cpu_ops_neon.cc,
// cpu_ops_scalar.cc, cpu_ops_quant.cc, q4_tiles.cc, simd.cc,
// thread_pool.cc) and standalone_logging.cc, so it cross-compiles without
// Abseil's libraries.
// scripts/check_neon.sh builds and runs it under qemu-aarch64; it lives in a
// subfolder so that the kernels component (kernels/*.cc) does not build it.
//
// Usage: neon_conformance [--expect=neon|neon-dotprod]
// Prints one line per case and a final PASS or FAIL line. Exit status: 0 on
// PASS; 1 on any mismatch, or when NEON is not compiled in or is not the
// expected variant; 2 on a bad argument.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cpu_ops_kernels.h"
#include "kernels/cpu_ops_quant.h"
#include "kernels/simd.h"

namespace tessera::kernels {
namespace {

constexpr int64_t kBlock = 32;
constexpr int64_t kWeightRows = 19;
constexpr int64_t kYStride = kWeightRows + 5;
constexpr int64_t kXPad = 3;  // x_stride = cols + kXPad

struct Range {
  int64_t r0, r1;
};
constexpr Range kRanges[] = {
    {0, kWeightRows}, {3, 11}, {kWeightRows - 1, kWeightRows}, {7, 7}};

const char* VariantName(CpuIsa isa) {
  return isa == CpuIsa::kNeonDotProd ? "neon-dotprod" : "neon";
}

const char* FormatName(GgmlType format) {
  switch (format) {
    case GgmlType::kF32:
      return "f32";
    case GgmlType::kF16:
      return "f16";
    case GgmlType::kQ8_0:
      return "q8_0";
    default:
      return "q4_0";
  }
}

// A weight matrix of kWeightRows rows in `format` and its exact values.
struct Weights {
  GgmlType format;
  int64_t cols;
  int64_t row_bytes;
  std::vector<uint8_t> bytes;
  std::vector<double> values;  // kWeightRows x cols

  MatrixRef ref() const {
    return {format, kWeightRows, cols, row_bytes, bytes.data()};
  }
};

void DequantizeBlock(bool q4, const uint8_t* block, double* out) {
  uint16_t half;
  std::memcpy(&half, block, sizeof(half));
  const double d = simd::HalfToFloat(half);
  for (int64_t j = 0; j < kBlock / 2; ++j) {
    if (q4) {
      out[j] = d * ((block[2 + j] & 0x0f) - 8);
      out[j + kBlock / 2] = d * ((block[2 + j] >> 4) - 8);
    } else {
      out[j] = d * static_cast<int8_t>(block[2 + j]);
      out[j + kBlock / 2] = d * static_cast<int8_t>(block[2 + j + kBlock / 2]);
    }
  }
}

Weights RandomQuantWeights(GgmlType format, int64_t cols, std::mt19937& rng) {
  const bool q4 = format == GgmlType::kQ4_0;
  const int64_t block_bytes = q4 ? 18 : 34;
  Weights w{format, cols, cols / kBlock * block_bytes, {}, {}};
  w.bytes.resize(kWeightRows * w.row_bytes);
  w.values.resize(kWeightRows * cols);
  std::uniform_real_distribution<float> scale(1e-3f, 2e-2f);
  for (int64_t b = 0; b < kWeightRows * cols / kBlock; ++b) {
    uint8_t* block = w.bytes.data() + b * block_bytes;
    const uint16_t d = simd::FloatToHalf(rng() & 1 ? scale(rng) : -scale(rng));
    std::memcpy(block, &d, sizeof(d));
    for (int64_t j = 2; j < block_bytes; ++j) {
      block[j] = static_cast<uint8_t>(rng());
    }
    DequantizeBlock(q4, block, &w.values[b * kBlock]);
  }
  return w;
}

Weights RandomFloatWeights(GgmlType format, int64_t cols, std::mt19937& rng) {
  const bool f16 = format == GgmlType::kF16;
  const int64_t value_bytes = f16 ? 2 : 4;
  Weights w{format, cols, cols * value_bytes, {}, {}};
  w.bytes.resize(kWeightRows * w.row_bytes);
  w.values.resize(kWeightRows * cols);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  for (int64_t i = 0; i < kWeightRows * cols; ++i) {
    float v = normal(rng);
    if (f16) {
      const uint16_t h = simd::FloatToHalf(v);
      std::memcpy(&w.bytes[2 * i], &h, sizeof(h));
      v = simd::HalfToFloat(h);
    } else {
      std::memcpy(&w.bytes[4 * i], &v, sizeof(v));
    }
    w.values[i] = v;
  }
  return w;
}

// n rows of `cols` floats, cols + kXPad apart. Each 32-value block has its
// own magnitude (over about four decades); the padding holds NaN, which no
// kernel may read.
std::vector<float> RandomActivations(int64_t n, int64_t cols,
                                     std::mt19937& rng) {
  std::vector<float> x(n * (cols + kXPad), NAN);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> exponent(-4.0f, 4.0f);
  for (int64_t i = 0; i < n; ++i) {
    float magnitude = 1.0f;
    for (int64_t k = 0; k < cols; ++k) {
      if (k % kBlock == 0) magnitude = std::exp(exponent(rng));
      x[i * (cols + kXPad) + k] = magnitude * normal(rng);
    }
  }
  return x;
}

// Exact products and magnitudes sum |w * x| of the weights with n dense
// rows of x, both n x kWeightRows.
struct Exact {
  std::vector<double> sum, magnitude;
};

Exact ExactProducts(const Weights& w, const std::vector<double>& x, int64_t n) {
  Exact e{std::vector<double>(n * kWeightRows),
          std::vector<double>(n * kWeightRows)};
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t r = 0; r < kWeightRows; ++r) {
      double sum = 0, magnitude = 0;
      for (int64_t k = 0; k < w.cols; ++k) {
        const double p = w.values[r * w.cols + k] * x[i * w.cols + k];
        sum += p;
        magnitude += std::fabs(p);
      }
      e.sum[i * kWeightRows + r] = sum;
      e.magnitude[i * kWeightRows + r] = magnitude;
    }
  }
  return e;
}

// What one kernel call must produce: outputs for activation rows [0, n) and
// weight rows `range`, in a y of n + 1 rows kYStride apart.
struct Spec {
  int64_t n;
  Range range;
  bool accumulate;
  int64_t terms;  // sequential float additions per output (tolerance)
};

bool SameBits(float a, float b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

// Concatenates its arguments, floats with 9 significant digits.
template <typename... Args>
std::string Str(const Args&... args) {
  std::ostringstream out;
  out.precision(9);
  (out << ... << args);
  return out.str();
}

// Empty when both kernels are within tolerance of `want`, given `terms`
// rounded additions over values of total magnitude `magnitude`.
std::string CheckValue(float scalar, float neon, double want, double magnitude,
                       int64_t terms) {
  const double tol = (terms + 8) * double{FLT_EPSILON} * magnitude;
  if (!(std::fabs(scalar - want) <= tol)) {
    return Str("scalar ", scalar, " is not within ", tol, " of the exact ",
               want, " (harness or scalar bug)");
  }
  if (!(std::fabs(double{neon} - scalar) <= 2 * tol)) {
    return Str("neon ", neon, " vs scalar ", scalar, " (exact ", want,
               ", tolerance ", 2 * tol, ")");
  }
  return "";
}

// The outcome of one kernel call on both tables: the first violation (empty
// when none) and the largest |neon - scalar| / magnitude.
struct Verdict {
  std::string error;
  double worst = 0;
};

Verdict Compare(const Spec& spec, const Exact& exact,
                const std::vector<float>& init,
                const std::vector<float>& scalar,
                const std::vector<float>& neon) {
  Verdict verdict;
  for (int64_t j = 0; j <= spec.n; ++j) {
    for (int64_t r = 0; r < kYStride; ++r) {
      const int64_t i = j * kYStride + r;
      std::string error;
      if (j == spec.n || r < spec.range.r0 || r >= spec.range.r1) {
        if (!SameBits(neon[i], init[i]) || !SameBits(scalar[i], init[i])) {
          error = Str("written outside the output range (neon ", neon[i],
                      ", scalar ", scalar[i], ", was ", init[i], ")");
        }
      } else {
        const double base = spec.accumulate ? init[i] : 0.0;
        const double magnitude =
            exact.magnitude[j * kWeightRows + r] + std::fabs(base);
        error = CheckValue(scalar[i], neon[i],
                           exact.sum[j * kWeightRows + r] + base, magnitude,
                           spec.terms);
        if (magnitude > 0) {
          verdict.worst =
              std::max(verdict.worst,
                       std::fabs(double{neon[i]} - scalar[i]) / magnitude);
        }
      }
      if (!error.empty()) {
        verdict.error = Str("y[", j, "][", r, "]: ", error);
        return verdict;
      }
    }
  }
  return verdict;
}

// Calls `run(kernels, range, y)` with both tables for every range of
// kRanges on fresh random outputs; stops at the first failure.
template <typename Run>
Verdict RunRanges(int64_t n, bool accumulate, int64_t terms, const Exact& exact,
                  const Run& run, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Verdict all;
  for (const Range& range : kRanges) {
    std::vector<float> init((n + 1) * kYStride);
    for (float& v : init) v = normal(rng);
    std::vector<float> scalar = init, neon = init;
    run(*ScalarKernels(), range, scalar.data());
    run(*NeonKernels(), range, neon.data());
    const Verdict v =
        Compare({n, range, accumulate, terms}, exact, init, scalar, neon);
    all.worst = std::max(all.worst, v.worst);
    if (!v.error.empty()) {
      all.error = Str("rows [", range.r0, ", ", range.r1, "): ", v.error);
      break;
    }
  }
  return all;
}

struct Tally {
  int cases = 0;
  int failures = 0;
};

void Report(const std::string& name, const Verdict& verdict, Tally& tally) {
  ++tally.cases;
  if (verdict.error.empty()) {
    std::printf("ok    %-44s max |neon-scalar|/sum|wx| = %.2e\n", name.c_str(),
                verdict.worst);
  } else {
    ++tally.failures;
    std::printf("FAIL  %-44s %s\n", name.c_str(), verdict.error.c_str());
  }
}

std::string CaseName(GgmlType format, int64_t cols, int64_t n,
                     bool accumulate) {
  return std::string(FormatName(format)) + " cols=" + std::to_string(cols) +
         " n=" + std::to_string(n) + (accumulate ? " accumulate" : "");
}

// The activations as the integer kernels see them: q * d, dense.
std::vector<double> Dequantized(const QuantizedRows& q) {
  std::vector<double> x(q.rows * q.cols);
  for (int64_t i = 0; i < q.rows * q.cols; ++i) {
    x[i] = double{q.scales[i / kBlock]} * q.qs[i];
  }
  return x;
}

// Weights whose every value is the most negative one of `format` (Q8_0
// -128, Q4_0 nibble 0, i.e. -8), for the largest integer products.
Weights SaturatedWeights(GgmlType format, int64_t cols) {
  const bool q4 = format == GgmlType::kQ4_0;
  const int64_t block_bytes = q4 ? 18 : 34;
  Weights w{format, cols, cols / kBlock * block_bytes, {}, {}};
  w.bytes.assign(kWeightRows * w.row_bytes, q4 ? 0x00 : 0x80);
  w.values.resize(kWeightRows * cols);
  const uint16_t d = simd::FloatToHalf(0.5f);
  for (int64_t b = 0; b < kWeightRows * cols / kBlock; ++b) {
    uint8_t* block = w.bytes.data() + b * block_bytes;
    std::memcpy(block, &d, sizeof(d));
    DequantizeBlock(q4, block, &w.values[b * kBlock]);
  }
  return w;
}

// Activations that quantise to +-127 only: row 0 all +, row 1 all -, row 2
// alternating, row 3 random signs. Against SaturatedWeights every product
// is +-128 x 127 (Q8_0) or +-8 x 127 (Q4_0), the largest there are: the
// plain-NEON path's int16 lanes must hold two of them.
std::vector<float> SaturatedActivations(int64_t n, int64_t cols,
                                        std::mt19937& rng) {
  std::vector<float> x(n * (cols + kXPad), NAN);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < cols; ++k) {
      const bool negative =
          i == 1 || (i == 2 && k % 2 == 1) || (i == 3 && rng() % 2 == 1);
      x[i * (cols + kXPad) + k] = negative ? -1.0f : 1.0f;
    }
  }
  return x;
}

// Random activations for quant_matvec, with an all-zero block (scale 0) in
// the last row when there are several blocks.
std::vector<float> QuantActivations(int64_t n, int64_t cols,
                                    std::mt19937& rng) {
  std::vector<float> x = RandomActivations(n, cols, rng);
  if (cols > kBlock) {
    std::fill_n(&x[(n - 1) * (cols + kXPad) + kBlock], kBlock, 0.0f);
  }
  return x;
}

// quant_matvec of `w` with n rows of x (cols + kXPad apart).
void RunQuantCase(const Weights& w, const std::vector<float>& x, int64_t n,
                  const std::string& label, std::mt19937& rng, Tally& tally) {
  const int64_t cols = w.cols;
  const bool q4 = w.format == GgmlType::kQ4_0;
  // As MatMulRunner::Run: each table gets its own offset and Q4_0 layout.
  auto run = [&](const CpuKernels& k, Range range, float* y, bool accumulate) {
    QuantizedActivations q;
    q.Quantize(x.data(), n, cols, cols + kXPad,
               q4 ? k.q4_0_offset : k.q8_0_offset, q4 && k.q4_0_stream,
               nullptr);
    k.quant_matvec(w.ref(), range.r0, range.r1, q.rows(), y, kYStride,
                   accumulate);
  };
  QuantizedActivations reference;
  reference.Quantize(x.data(), n, cols, cols + kXPad, 0, false, nullptr);
  const Exact exact = ExactProducts(w, Dequantized(reference.rows()), n);
  for (bool accumulate : {false, true}) {
    const Verdict verdict = RunRanges(
        n, accumulate, cols / kBlock, exact,
        [&](const CpuKernels& k, Range range, float* y) {
          run(k, range, y, accumulate);
        },
        rng);
    Report(CaseName(w.format, cols, n, accumulate) + label, verdict, tally);
  }
}

void RunFloatCase(const Weights& w, int64_t n, std::mt19937& rng,
                  Tally& tally) {
  const int64_t cols = w.cols;
  const std::vector<float> x = RandomActivations(n, cols, rng);
  std::vector<double> dense(n * cols);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < cols; ++k) {
      dense[i * cols + k] = x[i * (cols + kXPad) + k];
    }
  }
  const Exact exact = ExactProducts(w, dense, n);
  for (bool accumulate : {false, true}) {
    const Verdict verdict = RunRanges(
        n, accumulate, cols, exact,
        [&](const CpuKernels& k, Range range, float* y) {
          k.float_matmul(w.ref(), range.r0, range.r1, x.data(), n, cols + kXPad,
                         y, kYStride, accumulate);
        },
        rng);
    Report(CaseName(w.format, cols, n, accumulate), verdict, tally);
  }
}

// Whether |got - want| is within a float rounding budget of the terms'
// magnitude; keeps the worst relative error in verdict.worst and the first
// failure, prefixed by `what`, in verdict.error.
void CheckSum(const std::string& what, float got, double want, double magnitude,
              Verdict& verdict) {
  const double error = std::fabs(got - want);
  verdict.worst = std::max(verdict.worst, error / (magnitude + 1e-30));
  if (error <= 1e-5 * magnitude || !verdict.error.empty()) return;
  verdict.error =
      Str(what, ": got ", got, ", want ", want, " (terms ", magnitude, ")");
}

// simd.cc's grouped-query attention helpers (built here for NEON) against
// double sums: head counts below, at and above the four per pass; key
// counts and head sizes below, at and between the 4-lane steps; F32 and
// F16 caches. Keys are dimension-major rows of 64 (a cache page), values
// token-major rows of dims + 3.
Verdict AttentionCase(int64_t heads, int64_t dims, int64_t n, bool f16,
                      std::mt19937& rng) {
  constexpr int64_t kStride = 64;
  std::uniform_real_distribution<float> u(-1, 1);
  auto random = [&](int64_t count) {
    std::vector<float> v(count);
    for (float& x : v) x = u(rng);
    return v;
  };
  auto rounded = [&](std::vector<float> v) {
    for (float& x : v) x = f16 ? simd::HalfToFloat(simd::FloatToHalf(x)) : x;
    return v;
  };
  auto halves = [](const std::vector<float>& v) {
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); ++i) h[i] = simd::FloatToHalf(v[i]);
    return h;
  };
  const int64_t v_stride = dims + 3;
  const std::vector<float> q = random(heads * dims);
  const std::vector<float> kt = rounded(random(dims * kStride));
  const std::vector<float> p = random(heads * n);
  const std::vector<float> v = rounded(random(n * v_stride));
  const std::vector<float> init = random(heads * dims);
  std::vector<float> scores(heads * n), out = init;
  const float scale = 0.125f;
  if (f16) {
    const std::vector<uint16_t> kh = halves(kt), vh = halves(v);
    simd::DotTransposedF16(q.data(), heads, dims, kh.data(), kStride, n, scale,
                           scores.data(), n);
    simd::WeightedSumF16(p.data(), heads, n, n, vh.data(), v_stride, dims,
                         out.data());
  } else {
    simd::DotTransposed(q.data(), heads, dims, kt.data(), kStride, n, scale,
                        scores.data(), n);
    simd::WeightedSum(p.data(), heads, n, n, v.data(), v_stride, dims,
                      out.data());
  }
  Verdict verdict;
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < n; ++i) {
      double want = 0, magnitude = 0;
      for (int64_t d = 0; d < dims; ++d) {
        const double term = double{q[h * dims + d]} * kt[d * kStride + i];
        want += term;
        magnitude += std::fabs(term);
      }
      CheckSum(Str("score ", h, ",", i), scores[h * n + i], scale * want,
               scale * magnitude, verdict);
    }
    for (int64_t j = 0; j < dims; ++j) {
      double want = init[h * dims + j], magnitude = std::fabs(want);
      for (int64_t i = 0; i < n; ++i) {
        const double term = double{p[h * n + i]} * v[i * v_stride + j];
        want += term;
        magnitude += std::fabs(term);
      }
      CheckSum(Str("output ", h, ",", j), out[h * dims + j], want, magnitude,
               verdict);
    }
  }
  return verdict;
}

void RunAttentionCases(std::mt19937& rng, Tally& tally) {
  for (bool f16 : {false, true}) {
    for (int64_t heads : {1, 3, 4, 6, 8}) {
      for (int64_t dims : {3, 4, 7, 16, 64}) {
        for (int64_t n : {1, 5, 16, 37, 64}) {
          Report(Str("attention ", f16 ? "f16" : "f32", " heads=", heads,
                     " dims=", dims, " keys=", n),
                 AttentionCase(heads, dims, n, f16, rng), tally);
        }
      }
    }
  }
}

void RunAllCases(Tally& tally) {
  std::mt19937 rng(20240611);
  RunAttentionCases(rng, tally);
  for (GgmlType format : {GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    // Odd and even block counts, and every remainder of 4-block groups.
    for (int64_t blocks : {1, 2, 3, 4, 5, 8, 33}) {
      const int64_t cols = blocks * kBlock;
      const Weights w = RandomQuantWeights(format, cols, rng);
      for (int64_t n = 1; n <= kMaxMatVecRows; ++n) {
        RunQuantCase(w, QuantActivations(n, cols, rng), n, "", rng, tally);
      }
    }
    const Weights saturated = SaturatedWeights(format, 3 * kBlock);
    for (int64_t n = 1; n <= kMaxMatVecRows; ++n) {
      RunQuantCase(saturated, SaturatedActivations(n, 3 * kBlock, rng), n,
                   " saturated", rng, tally);
    }
  }
  for (GgmlType format : {GgmlType::kF32, GgmlType::kF16}) {
    // Below, at and around the 4- and 8-wide SIMD steps.
    for (int64_t cols : {1, 3, 4, 7, 8, 9, 17, 64, 259}) {
      const Weights w = RandomFloatWeights(format, cols, rng);
      for (int64_t n = 1; n <= 9; ++n) RunFloatCase(w, n, rng, tally);
    }
  }
}

int Main(int argc, char** argv) {
  const char* expect = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--expect=", 9) != 0) {
      std::fprintf(stderr, "usage: %s [--expect=neon|neon-dotprod]\n", argv[0]);
      return 2;
    }
    expect = argv[i] + 9;
  }
  const CpuKernels* neon = NeonKernels();
  if (neon == nullptr) {
    std::printf("FAIL: NEON kernels are not compiled in (AArch64 only)\n");
    return 1;
  }
  const char* variant = VariantName(neon->isa);
  std::printf("NEON kernel table: %s\n", variant);
  if (expect != nullptr && std::strcmp(expect, variant) != 0) {
    std::printf("FAIL: expected the %s kernels\n", expect);
    return 1;
  }
  Tally tally;
  RunAllCases(tally);
  if (tally.failures > 0) {
    std::printf(
        "FAIL: %s: %d of %d cases differ from the scalar kernels or "
        "exact sums\n",
        variant, tally.failures, tally.cases);
    return 1;
  }
  std::printf("PASS: %s: %d cases match the scalar kernels or exact sums\n",
              variant, tally.cases);
  return 0;
}

}  // namespace
}  // namespace tessera::kernels

int main(int argc, char** argv) { return tessera::kernels::Main(argc, argv); }
