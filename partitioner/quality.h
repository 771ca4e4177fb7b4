// QualityTable: how much running each layer in each format costs in output
// quality. A plan's quality cost is the sum over layers of the entry of the
// layer's format; the planner keeps it within a budget.
//
// Sources, best first:
//  - calibration (`tessera calibrate`): the measured KL divergence of the
//    next-token distribution when only that layer is quantised;
//  - a weight-only proxy measured on the model's weights: the relative
//    squared error ||W - Q(W)||^2 / ||W||^2 of the layer's matrices after a
//    round trip through the format (model::Quantize / Dequantize);
//  - the same proxy for a shape without weights, measured on a fixed
//    pseudo-random Gaussian matrix (the same value for every layer).
// The proxies assume every layer matters equally to the output; only
// calibration sees differences between layers.
//
// Thread-safety: plain data and pure functions.
#ifndef TESSERA_PARTITIONER_QUALITY_H_
#define TESSERA_PARTITIONER_QUALITY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/ggml_types.h"
#include "partitioner/cost_model.h"

namespace tessera::partitioner {

struct QualityTable {
  std::string source;  // "calibration-kl", "weight-proxy", "gaussian-proxy"
  std::vector<model::GgmlType> formats;   // columns
  std::vector<std::vector<double>> cost;  // [layer][format] >= 0
};

// InvalidArgument unless the table has one row per layer of `costs`, a
// column for every format of `costs`, and finite entries >= 0.
absl::Status ValidateQuality(const QualityTable& quality,
                             const CostTable& costs);

// The table with its columns reordered to `costs.formats`.
// InvalidArgument when a format of `costs` is missing.
absl::StatusOr<QualityTable> AlignQuality(const QualityTable& quality,
                                          const CostTable& costs);

// Sum of column `format` over all layers: the cost of running every layer in
// that format. NotFound when the table has no such column.
absl::StatusOr<double> UniformQualityCost(const QualityTable& quality,
                                          model::GgmlType format);

// Relative squared error of a round trip of `values` (rows of `cols`) through
// `format`; rows that do not fit the format go through `fallback` instead.
// InvalidArgument for cols <= 0, a size not a multiple of cols, or a format
// that cannot be quantised. 0 for an all-zero input.
absl::StatusOr<double> RoundTripError(const std::vector<float>& values,
                                      int64_t cols, model::GgmlType format,
                                      model::GgmlType fallback);

// The Gaussian proxy for every layer of `costs` (see above), built for the
// matrix shapes of `config`.
absl::StatusOr<QualityTable> GaussianProxy(const model::ModelConfig& config,
                                           const CostTable& costs,
                                           model::GgmlType fallback);

// Weights of one matrix, already dequantised to F32 (possibly a sample of
// its rows).
struct MatrixSample {
  int64_t cols = 0;
  std::vector<float> values;  // rows * cols
};

// The weight-only proxy from `layers[l]` = samples of layer l's matrices:
// per format, sum of squared round-trip errors over sum of squared weights.
// InvalidArgument when the layer count differs from `costs` or a sample is
// malformed.
absl::StatusOr<QualityTable> WeightProxy(
    const CostTable& costs, const std::vector<std::vector<MatrixSample>>& layers,
    model::GgmlType fallback);

}  // namespace tessera::partitioner

#endif  // TESSERA_PARTITIONER_QUALITY_H_
