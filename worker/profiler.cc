#include "worker/profiler.h"

#include <google/protobuf/text_format.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/mapped_file.h"
#include "model/ggml_types.h"

namespace tessera::worker {
namespace {

constexpr int64_t kRows = 512;
constexpr int64_t kCols = 2048;
constexpr int kPrefillVectors = 16;

struct Matrix {
  model::GgmlType type;
  int64_t row_bytes = 0;
  std::vector<uint8_t> data;
};

Matrix MakeMatrix(model::GgmlType type) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> row(kCols);
  Matrix m{type, *model::RowBytes(type, kCols), {}};
  m.data.resize(m.row_bytes * kRows);
  for (int64_t r = 0; r < kRows; ++r) {
    for (float& x : row) x = dist(rng);
    model::Quantize(type, row.data(), m.data.data() + r * m.row_bytes, kCols)
        .IgnoreError();
  }
  return m;
}

// One pass: y[r] = sum_c W[r][c] * x_v[c] for `vectors` vectors.
float MatVecPass(const Matrix& m, const std::vector<float>& x, int vectors) {
  std::vector<float> row(kCols);
  float sink = 0.0f;
  for (int64_t r = 0; r < kRows; ++r) {
    model::Dequantize(m.type, m.data.data() + r * m.row_bytes, row.data(), kCols)
        .IgnoreError();
    for (int v = 0; v < vectors; ++v) {
      const float* xv = x.data() + v * kCols;
      float acc = 0.0f;
      for (int64_t c = 0; c < kCols; ++c) acc += row[c] * xv[c];
      sink += acc;
    }
  }
  return sink;
}

// Seconds per pass, running passes until `budget` is spent (at least one).
double TimePasses(const Matrix& m, int vectors, absl::Duration budget) {
  std::vector<float> x(kCols * vectors, 0.5f);
  volatile float sink = 0.0f;
  int passes = 0;
  const absl::Time start = absl::Now();
  do {
    sink = sink + MatVecPass(m, x, vectors);
    ++passes;
  } while (absl::Now() - start < budget);
  return absl::ToDoubleSeconds(absl::Now() - start) / passes;
}

}  // namespace

DeviceFacts ReadDeviceFacts() {
  DeviceFacts facts;
  facts.cpu_cores = static_cast<int>(std::thread::hardware_concurrency());
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page_size > 0) {
    facts.memory_bytes = static_cast<int64_t>(pages) * page_size;
  }
  return facts;
}

std::vector<v1::FormatBenchmark> RunFormatBenchmarks(absl::Duration budget) {
  const model::GgmlType types[] = {model::GgmlType::kF32, model::GgmlType::kF16,
                                   model::GgmlType::kQ8_0,
                                   model::GgmlType::kQ4_0};
  const absl::Duration each = budget / 8;
  std::vector<v1::FormatBenchmark> results;
  for (model::GgmlType type : types) {
    const Matrix m = MakeMatrix(type);
    v1::FormatBenchmark b;
    b.set_format(static_cast<v1::TensorFormat>(type));
    b.set_decode_bytes_per_second(m.data.size() / TimePasses(m, 1, each));
    b.set_prefill_flops(2.0 * kPrefillVectors * kRows * kCols /
                        TimePasses(m, kPrefillVectors, each));
    results.push_back(b);
  }
  return results;
}

v1::ProfileResponse EmulatedProfile(v1::ProfileResponse measured,
                                    double slowdown) {
  if (!(slowdown > 1)) return measured;
  for (v1::FormatBenchmark& b : *measured.mutable_benchmarks()) {
    b.set_decode_bytes_per_second(b.decode_bytes_per_second() / slowdown);
    b.set_prefill_flops(b.prefill_flops() / slowdown);
  }
  measured.set_emulated_slowdown(slowdown);
  return measured;
}

absl::StatusOr<v1::ProfileResponse> LoadProfileCache(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return absl::NotFoundError(text.status().message());
  v1::ProfileResponse profile;
  if (!google::protobuf::TextFormat::ParseFromString(*text, &profile)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot parse profile cache ", path));
  }
  return profile;
}

absl::Status SaveProfileCache(const std::string& path,
                              const v1::ProfileResponse& profile) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(profile, &text);
  return WriteStringToFile(path, text);
}

}  // namespace tessera::worker
