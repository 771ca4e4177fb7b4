// Per-op microbenchmarks of the CPU backend (Google Benchmark). Matrix
// shapes are tinyllama-1.1b's FFN (2048 -> 5632 and back). Decode matvecs
// cycle over more weight bytes than the last-level cache holds and report
// bytes/s, to be compared with BM_MemoryRead at the same thread count;
// prefill gemms report tokens/s (items) for a 128-row batch, per ISA
// (isa: CpuIsa value, 6 = best, 1 = avx2, 2 = avx-vnni) and, for AVX2,
// also through the matvec fallback (gemm:0) that ran before it had a gemm
// kernel.
//
//   build-cpu/kernels/tessera_kernels_benchmark --benchmark_filter=MatVec
#include <chrono>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/large_pages.h"
#include "kernels/cpu_kv_cache.h"
#include "kernels/cpu_ops.h"
#include "kernels/cpu_ops_buffer.h"
#include "kernels/cpu_ops_kernels.h"
#include "kernels/cpu_ops_matmul.h"
#include "kernels/cpu_ops_quant.h"
#include "kernels/q4_tiles.h"
#include "kernels/simd.h"
#include "kernels/thread_pool.h"
#include "model/ggml_types.h"

namespace tessera::kernels {
namespace {

using model::GgmlType;

constexpr int64_t kDim = 2048;
constexpr int64_t kFfn = 5632;
constexpr int64_t kCycleBytes = 256LL << 20;  // well beyond the L3 cache

std::vector<float> RandomFloats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

// `copies` rows x cols matrices in `format`, filled with random values.
struct Matrices {
  Matrices(GgmlType format, int64_t rows, int64_t cols, int copies) {
    const int64_t row_bytes = *model::RowBytes(format, cols);
    const std::vector<float> values = RandomFloats(rows * cols, 7);
    for (int c = 0; c < copies; ++c) {
      storage.push_back(
          *LargePageBuffer::Allocate(static_cast<size_t>(row_bytes * rows)));
      (void)model::Quantize(format, values.data(), storage.back().data(),
                            rows * cols);
      refs.push_back({format, rows, cols, row_bytes, storage.back().data()});
    }
  }
  std::vector<LargePageBuffer> storage;
  std::vector<MatrixRef> refs;
};

GgmlType FormatArg(int64_t v) { return static_cast<GgmlType>(v); }
CpuIsa IsaArg(int64_t v) { return static_cast<CpuIsa>(v); }

void BM_MatVec(benchmark::State& state) {
  const GgmlType format = FormatArg(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  const int64_t one = *model::RowBytes(format, kDim) * kFfn;
  Matrices m(format, kFfn, kDim, static_cast<int>(kCycleBytes / one) + 1);
  ThreadPool pool(threads);
  MatMulRunner runner(GetCpuKernels(CpuIsa::kBest), pool);
  const std::vector<float> x = RandomFloats(kDim, 3);
  std::vector<float> y(kFfn);
  size_t i = 0;
  for (auto _ : state) {
    const MatMulJob job{m.refs[i++ % m.refs.size()], y.data(), kFfn};
    runner.Run({&job, 1}, x.data(), 1, kDim);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * one);
}

// Q4_0 decode through MatMulRunner with 2 threads, the same matrices in
// GGUF order (stream kernel) and in the tile layout (q4_tiles.h), timed
// alternately in one run: GB/s of each and their ratio.
void BM_MatVecQ4Layouts(benchmark::State& state) {
  const CpuKernels& kernels = GetCpuKernels(CpuIsa::kBest);
  if (!kernels.q4_0_tiles) {
    state.SkipWithError("no Q4_0 tile kernels on this machine");
    return;
  }
  const int64_t one = *model::RowBytes(GgmlType::kQ4_0, kDim) * kFfn;
  Matrices plain(GgmlType::kQ4_0, kFfn, kDim,
                 static_cast<int>(kCycleBytes / one) + 1);
  Matrices tiled(GgmlType::kQ4_0, kFfn, kDim,
                 static_cast<int>(plain.refs.size()));
  for (size_t c = 0; c < tiled.refs.size(); ++c) {
    MatrixRef& ref = tiled.refs[c];
    std::vector<uint8_t> row(ref.row_bytes);
    for (int64_t r = 0; r < ref.rows; ++r) {
      uint8_t* at = tiled.storage[c].data() + r * ref.row_bytes;
      std::memcpy(row.data(), at, row.size());
      TileQ4Row(row.data(), kDim / 32, at);
    }
    ref.q4_tiled = true;
  }
  ThreadPool pool(2);
  MatMulRunner runner(kernels, pool);
  const std::vector<float> x = RandomFloats(kDim, 3);
  std::vector<float> y(kFfn);
  double seconds[2] = {0, 0};
  size_t i = 0;
  for (auto _ : state) {
    for (int layout = 0; layout < 2; ++layout) {
      const Matrices& m = layout == 0 ? plain : tiled;
      const MatMulJob job{m.refs[i % m.refs.size()], y.data(), kFfn};
      const auto start = std::chrono::steady_clock::now();
      runner.Run({&job, 1}, x.data(), 1, kDim);
      seconds[layout] += std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - start)
                             .count();
      benchmark::DoNotOptimize(y.data());
    }
    ++i;
  }
  const double bytes = static_cast<double>(state.iterations()) * one;
  state.counters["stream_GBps"] = bytes / seconds[0] / 1e9;
  state.counters["tiles_GBps"] = bytes / seconds[1] / 1e9;
  state.counters["tiles_over_stream"] = seconds[0] / seconds[1];
}

// The decode kernel of `isa` alone (activations quantised once, outside the
// loop) on a matrix that stays in the L2 cache: its compute rate, which must
// exceed the memory bandwidth for decode to be memory bound.
void BM_MatVecKernelCached(benchmark::State& state) {
  const GgmlType format = FormatArg(state.range(0));
  const CpuIsa isa = IsaArg(state.range(1));
  if (!IsaAvailable(isa)) {
    state.SkipWithError("ISA not available on this machine");
    return;
  }
  constexpr int64_t kRows = 512;
  Matrices m(format, kRows, kDim, 1);
  const CpuKernels& kernels = GetCpuKernels(isa);
  const std::vector<float> x = RandomFloats(kDim, 3);
  std::vector<float> y(kRows);
  QuantizedActivations q;
  q.Quantize(
      x.data(), 1, kDim, kDim,
      format == GgmlType::kQ4_0 ? kernels.q4_0_offset : kernels.q8_0_offset,
      format == GgmlType::kQ4_0 && kernels.q4_0_stream, nullptr);
  for (auto _ : state) {
    if (format == GgmlType::kF16) {
      kernels.float_matmul(m.refs[0], 0, kRows, x.data(), 1, kDim, y.data(),
                           kRows, false);
    } else {
      kernels.quant_matvec(m.refs[0], 0, kRows, q.rows(), y.data(), kRows,
                           false);
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * m.refs[0].row_bytes * kRows);
}

// Prefill: a `rows`-row batch through MatMulRunner on `isa`, with its gemm
// kernel (gemm = 1) or with the decode matvec over groups of kMaxMatVecRows
// rows that the runner falls back to without one (gemm = 0).
void BM_Gemm(benchmark::State& state) {
  const GgmlType format = FormatArg(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  const int64_t rows = state.range(2);
  const CpuIsa isa = IsaArg(state.range(3));
  if (!IsaAvailable(isa)) {
    state.SkipWithError("ISA not available on this machine");
    return;
  }
  CpuKernels kernels = GetCpuKernels(isa);
  if (state.range(4) == 0) kernels.quant_gemm = nullptr;
  Matrices m(format, kFfn, kDim, 1);
  ThreadPool pool(threads);
  MatMulRunner runner(kernels, pool);
  const std::vector<float> x = RandomFloats(rows * kDim, 3);
  std::vector<float> y(rows * kFfn);
  for (auto _ : state) {
    const MatMulJob job{m.refs[0], y.data(), kFfn};
    runner.Run({&job, 1}, x.data(), rows, kDim);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["GMAC/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * rows * kDim * kFfn / 1e9,
      benchmark::Counter::kIsRate);
}

// The gemm kernel alone, one thread, activations quantised once: 256
// weight rows (in the L2 cache once repacked) x 128 activation rows.
void BM_GemmKernel(benchmark::State& state) {
  const GgmlType format = FormatArg(state.range(0));
  const CpuIsa isa = IsaArg(state.range(1));
  if (!IsaAvailable(isa) || GetCpuKernels(isa).quant_gemm == nullptr) {
    state.SkipWithError("no gemm kernel for this ISA here");
    return;
  }
  const CpuKernels& kernels = GetCpuKernels(isa);
  constexpr int64_t kRows = 256, kBatch = 128;
  Matrices m(format, kRows, kDim, 1);
  const std::vector<float> x = RandomFloats(kBatch * kDim, 3);
  QuantizedActivations q;
  q.Quantize(
      x.data(), kBatch, kDim, kDim,
      format == GgmlType::kQ4_0 ? kernels.q4_0_offset : kernels.q8_0_offset,
      false, nullptr);
  AlignedBuffer scratch;
  uint8_t* panel = scratch.Reserve(kernels.gemm_scratch_bytes(kDim));
  std::vector<float> y(kBatch * kRows);
  for (auto _ : state) {
    kernels.quant_gemm(m.refs[0], 0, kRows, q.rows(), y.data(), kRows, false,
                       panel);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GMAC/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kBatch * kDim * kRows / 1e9,
      benchmark::Counter::kIsRate);
}

void BM_MemoryRead(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t words = kCycleBytes / 8;
  std::vector<uint64_t> data(words, 1);
  ThreadPool pool(threads);
  std::vector<uint64_t> sink(threads);
  for (auto _ : state) {
    pool.ParallelFor(words, words / threads, [&](int64_t b, int64_t e, int t) {
      uint64_t acc = 0;
      for (int64_t k = b; k < e; ++k) acc += data[k];
      sink[t] += acc;
    });
    benchmark::DoNotOptimize(sink.data());
  }
  state.SetBytesProcessed(state.iterations() * kCycleBytes);
}

void BM_QuantizeActivations(benchmark::State& state) {
  const int64_t rows = state.range(0);
  const bool stream = state.range(1) != 0;
  const std::vector<float> x = RandomFloats(rows * kFfn, 5);
  QuantizedActivations q;
  for (auto _ : state) {
    q.Quantize(x.data(), rows, kFfn, kFfn, stream ? 8 : 128, stream, nullptr);
    benchmark::DoNotOptimize(q.rows().qs);
  }
  state.SetItemsProcessed(state.iterations() * rows * kFfn);
}

void BM_RmsNorm(benchmark::State& state) {
  const std::vector<float> x = RandomFloats(kDim, 1), w = RandomFloats(kDim, 2);
  std::vector<float> out(kDim);
  for (auto _ : state) {
    RmsNorm(x.data(), w.data(), kDim, 1e-5f, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kDim);
}

void BM_SwiGlu(benchmark::State& state) {
  const std::vector<float> g = RandomFloats(kFfn, 1), u = RandomFloats(kFfn, 2);
  std::vector<float> out(kFfn);
  for (auto _ : state) {
    simd::SwiGlu(g.data(), u.data(), out.data(), kFfn);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kFfn);
}

// One decode row of tinyllama's attention (8 query heads per KV head of 64)
// over `length` cached positions.
void BM_AttendGroup(benchmark::State& state) {
  const int64_t length = state.range(0);
  const GgmlType kv_type = state.range(1) ? GgmlType::kF16 : GgmlType::kF32;
  constexpr int64_t kHeadDim = 64, kGroup = 8, kKvDim = 256;
  KvCache cache(1, kKvDim, kv_type, int64_t{1} << 30);
  (void)cache.Reserve({{1, length}});
  const std::vector<float> row = RandomFloats(kKvDim, 9);
  for (int64_t t = 0; t < length; ++t)
    cache.Store(1, 0, t, row.data(), row.data());
  const std::vector<float> q = RandomFloats(kGroup * kHeadDim, 4);
  std::vector<float> scores(kGroup * length), out(kGroup * kHeadDim);
  for (auto _ : state) {
    AttendGroup(q.data(), kGroup, kHeadDim, cache.View(1, 0), 0, length,
                scores.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * length);
}

constexpr int64_t kQ8 = static_cast<int64_t>(GgmlType::kQ8_0);
constexpr int64_t kQ4 = static_cast<int64_t>(GgmlType::kQ4_0);
constexpr int64_t kF16 = static_cast<int64_t>(GgmlType::kF16);

BENCHMARK(BM_MatVec)
    ->ArgsProduct({{kQ8, kQ4, kF16}, {1, 2}})
    ->ArgNames({"format", "threads"})
    ->UseRealTime();
BENCHMARK(BM_MatVecQ4Layouts)->UseRealTime();
constexpr int64_t kBest = static_cast<int64_t>(CpuIsa::kBest);
constexpr int64_t kAvx2 = static_cast<int64_t>(CpuIsa::kAvx2);
constexpr int64_t kAvxVnni = static_cast<int64_t>(CpuIsa::kAvxVnni);

BENCHMARK(BM_MatVecKernelCached)
    ->ArgsProduct({{kQ8, kQ4, kF16}, {kBest, kAvxVnni, kAvx2}})
    ->ArgNames({"format", "isa"});

BENCHMARK(BM_Gemm)
    ->ArgsProduct({{kQ8, kQ4}, {1, 2}, {128}, {kBest, kAvxVnni, kAvx2}, {1}})
    ->ArgsProduct({{kQ8, kQ4}, {1, 2}, {128}, {kAvx2}, {0}})
    ->ArgNames({"format", "threads", "rows", "isa", "gemm"})
    ->UseRealTime();
BENCHMARK(BM_GemmKernel)
    ->ArgsProduct({{kQ8, kQ4}, {kBest, kAvxVnni, kAvx2}})
    ->ArgNames({"format", "isa"});
BENCHMARK(BM_MemoryRead)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();
BENCHMARK(BM_QuantizeActivations)
    ->ArgsProduct({{1, 128}, {0, 1}})
    ->ArgNames({"rows", "stream"});
BENCHMARK(BM_RmsNorm);
BENCHMARK(BM_SwiGlu);
BENCHMARK(BM_AttendGroup)
    ->ArgsProduct({{128, 1024}, {0, 1}})
    ->ArgNames({"length", "f16"});

}  // namespace
}  // namespace tessera::kernels
