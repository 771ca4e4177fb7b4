#include "partitioner/quality.h"

#include <cmath>
#include <numbers>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tessera::partitioner {
namespace {

using model::GgmlType;

struct ErrorSums {
  double error = 0;   // sum of squared differences
  double energy = 0;  // sum of squared values
};

absl::StatusOr<ErrorSums> RoundTripSums(const std::vector<float>& values,
                                        int64_t cols, GgmlType format,
                                        GgmlType fallback) {
  if (cols <= 0 || values.size() % cols != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "weight sample of ", values.size(), " values is not rows of ", cols));
  }
  GgmlType used = model::RowFits(format, cols) ? format : fallback;
  const int64_t n = static_cast<int64_t>(values.size());
  TESSERA_ASSIGN_OR_RETURN(int64_t row_bytes, model::RowBytes(used, cols));
  std::vector<uint8_t> packed(row_bytes * (n / cols));
  std::vector<float> back(n);
  TESSERA_RETURN_IF_ERROR(model::Quantize(used, values.data(), packed.data(), n));
  TESSERA_RETURN_IF_ERROR(model::Dequantize(used, packed.data(), back.data(), n));
  ErrorSums sums;
  for (int64_t i = 0; i < n; ++i) {
    double d = static_cast<double>(values[i]) - back[i];
    sums.error += d * d;
    sums.energy += static_cast<double>(values[i]) * values[i];
  }
  return sums;
}

// Deterministic N(0,1) samples (Box-Muller over mt19937, whose output is
// specified by the standard, unlike std::normal_distribution's).
std::vector<float> GaussianSample(int64_t n) {
  std::mt19937 rng(20240601);
  std::vector<float> out(n);
  for (int64_t i = 0; i < n; i += 2) {
    double u1 = (rng() + 1.0) / 4294967297.0;
    double u2 = (rng() + 1.0) / 4294967297.0;
    double r = std::sqrt(-2.0 * std::log(u1));
    out[i] = static_cast<float>(r * std::cos(2 * std::numbers::pi * u2));
    if (i + 1 < n) {
      out[i + 1] = static_cast<float>(r * std::sin(2 * std::numbers::pi * u2));
    }
  }
  return out;
}

}  // namespace

absl::Status ValidateQuality(const QualityTable& q, const CostTable& costs) {
  if (static_cast<int64_t>(q.cost.size()) != costs.n_layers) {
    return absl::InvalidArgumentError(
        absl::StrCat("quality table has ", q.cost.size(), " layers, model has ",
                     costs.n_layers));
  }
  if (q.formats != costs.formats) {
    return absl::InvalidArgumentError(
        "quality table columns differ from the candidate formats");
  }
  for (size_t l = 0; l < q.cost.size(); ++l) {
    if (q.cost[l].size() != q.formats.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("quality table layer ", l, " has ", q.cost[l].size(),
                       " entries, want ", q.formats.size()));
    }
    for (size_t f = 0; f < q.cost[l].size(); ++f) {
      double v = q.cost[l][f];
      if (!std::isfinite(v) || v < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "quality table layer ", l, " format ",
            model::TypeName(q.formats[f]), " must be finite and >= 0, got ", v));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<QualityTable> AlignQuality(const QualityTable& q,
                                          const CostTable& costs) {
  QualityTable out{q.source, costs.formats, {}};
  std::vector<int> column;
  for (GgmlType f : costs.formats) {
    int found = -1;
    for (size_t i = 0; i < q.formats.size(); ++i) {
      if (q.formats[i] == f) found = static_cast<int>(i);
    }
    if (found < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "quality table (", q.source, ") has no column for format ",
          model::TypeName(f)));
    }
    column.push_back(found);
  }
  for (const auto& row : q.cost) {
    std::vector<double> aligned;
    for (int c : column) {
      aligned.push_back(c < static_cast<int>(row.size()) ? row[c] : NAN);
    }
    out.cost.push_back(std::move(aligned));
  }
  TESSERA_RETURN_IF_ERROR(ValidateQuality(out, costs));
  return out;
}

absl::StatusOr<double> UniformQualityCost(const QualityTable& q,
                                          GgmlType format) {
  for (size_t f = 0; f < q.formats.size(); ++f) {
    if (q.formats[f] != format) continue;
    double sum = 0;
    for (const auto& row : q.cost) sum += row[f];
    return sum;
  }
  return absl::NotFoundError(absl::StrCat("quality table has no format ",
                                          model::TypeName(format)));
}

absl::StatusOr<double> RoundTripError(const std::vector<float>& values,
                                      int64_t cols, GgmlType format,
                                      GgmlType fallback) {
  TESSERA_ASSIGN_OR_RETURN(ErrorSums s,
                           RoundTripSums(values, cols, format, fallback));
  return s.energy > 0 ? s.error / s.energy : 0.0;
}

absl::StatusOr<QualityTable> GaussianProxy(const model::ModelConfig& config,
                                           const CostTable& costs,
                                           GgmlType fallback) {
  // Per format: the sampled error of each matrix's storage format (the
  // fallback for rows that do not fit), weighted by parameter count.
  constexpr int64_t kCols = 256;
  std::vector<float> sample = GaussianSample(64 * kCols);
  std::vector<double> row;
  for (GgmlType f : costs.formats) {
    double weighted = 0, params = 0;
    for (const MatrixShape& m : LayerMatrices(config)) {
      GgmlType used = model::RowFits(f, m.cols) ? f : fallback;
      TESSERA_ASSIGN_OR_RETURN(double e,
                               RoundTripError(sample, kCols, used, used));
      weighted += e * m.rows * m.cols;
      params += static_cast<double>(m.rows) * m.cols;
    }
    row.push_back(params > 0 ? weighted / params : 0.0);
  }
  QualityTable q{"gaussian-proxy", costs.formats, {}};
  q.cost.assign(costs.n_layers, row);
  return q;
}

absl::StatusOr<QualityTable> WeightProxy(
    const CostTable& costs, const std::vector<std::vector<MatrixSample>>& layers,
    GgmlType fallback) {
  if (static_cast<int64_t>(layers.size()) != costs.n_layers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "weight samples for ", layers.size(), " layers, model has ",
        costs.n_layers));
  }
  QualityTable q{"weight-proxy", costs.formats, {}};
  for (size_t l = 0; l < layers.size(); ++l) {
    std::vector<double> row;
    for (GgmlType f : costs.formats) {
      ErrorSums total;
      for (const MatrixSample& m : layers[l]) {
        auto s = RoundTripSums(m.values, m.cols, f, fallback);
        if (!s.ok()) return Annotate(s.status(), absl::StrCat("layer ", l));
        total.error += s->error;
        total.energy += s->energy;
      }
      row.push_back(total.energy > 0 ? total.error / total.energy : 0.0);
    }
    q.cost.push_back(std::move(row));
  }
  return q;
}

}  // namespace tessera::partitioner
