// Dequantisation throughput per tensor type, beside a memcpy of the same
// float output as the machine's own reference (compare the ratios, not the
// absolute figures: machines are shared and noisy).
//
//   build/bin/tessera_model_benchmark --benchmark_filter=Dequantize
#include <cstring>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "model/ggml_types.h"

namespace tessera::model {
namespace {

constexpr int64_t kValues = 1 << 22;  // 4M values: 16 MiB of floats

void BM_Dequantize(benchmark::State& state) {
  const auto type = static_cast<GgmlType>(state.range(0));
  std::vector<uint8_t> src(*RowBytes(type, kValues));
  std::mt19937 rng(1);
  for (uint8_t& b : src) b = static_cast<uint8_t>(rng() & 0x3f);  // finite
  std::vector<float> dst(kValues);
  for (auto _ : state) {
    benchmark::DoNotOptimize(Dequantize(type, src.data(), dst.data(), kValues));
    benchmark::ClobberMemory();
  }
  state.SetLabel(TypeName(type));
  state.SetItemsProcessed(state.iterations() * kValues);
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(src.size() + 4 * kValues));
}

void BM_MemcpyFloats(benchmark::State& state) {
  std::vector<float> src(kValues, 1.0f), dst(kValues);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), 4 * kValues);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kValues);
  state.SetBytesProcessed(state.iterations() * 8 * kValues);
}

BENCHMARK(BM_MemcpyFloats);
BENCHMARK(BM_Dequantize)
    ->Arg(static_cast<int>(GgmlType::kF16))
    ->Arg(static_cast<int>(GgmlType::kBF16))
    ->Arg(static_cast<int>(GgmlType::kQ8_0))
    ->Arg(static_cast<int>(GgmlType::kQ4_0))
    ->Arg(static_cast<int>(GgmlType::kQ4_1))
    ->Arg(static_cast<int>(GgmlType::kQ5_0))
    ->Arg(static_cast<int>(GgmlType::kQ5_1))
    ->Arg(static_cast<int>(GgmlType::kQ2_K))
    ->Arg(static_cast<int>(GgmlType::kQ3_K))
    ->Arg(static_cast<int>(GgmlType::kQ4_K))
    ->Arg(static_cast<int>(GgmlType::kQ5_K))
    ->Arg(static_cast<int>(GgmlType::kQ6_K));

}  // namespace
}  // namespace tessera::model
