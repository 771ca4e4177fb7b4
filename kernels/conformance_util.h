// Helpers for the backend conformance tests (header-only, tests only):
// batches, error measures, greedy decoding on a Backend and on the
// reference, and a reference whose weights went through the same format.
#ifndef TESSERA_KERNELS_CONFORMANCE_UTIL_H_
#define TESSERA_KERNELS_CONFORMANCE_UTIL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "absl/status/statusor.h"
#include "common/status_macros.h"
#include "kernels/backend.h"
#include "model/ggml_types.h"
#include "model/reference_model.h"
#include "model/weights.h"

namespace tessera::kernels {

// Normalised mean squared error: sum (got - want)^2 / sum want^2.
inline double Nmse(const std::vector<float>& got,
                   const std::vector<float>& want) {
  if (got.size() != want.size()) return INFINITY;
  double err = 0, ref = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    err += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    ref += double(want[i]) * want[i];
  }
  return ref > 0 ? err / ref : err;
}

// What each format may cost beyond the reference with round-tripped weights:
// float summation order (F32, F16), 8-bit activations (Q8_0, Q4_0).
inline double NmseLimit(model::GgmlType format) {
  switch (format) {
    case model::GgmlType::kF32:
    case model::GgmlType::kF16:
      return 1e-9;
    default:
      return 1e-3;
  }
}

inline int32_t Argmax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// Row i of a batch output.
inline std::vector<float> Row(const BatchOutput& out, size_t i) {
  return std::vector<float>(out.data.begin() + i * out.row_width,
                            out.data.begin() + (i + 1) * out.row_width);
}

// Tokens of one session from `position`; only the last row wants logits.
inline Batch TokenBatch(uint64_t session, int32_t position,
                        const std::vector<int32_t>& tokens) {
  Batch b;
  for (size_t i = 0; i < tokens.size(); ++i) {
    b.rows.push_back({session, position + static_cast<int32_t>(i), tokens[i],
                      i + 1 == tokens.size()});
  }
  return b;
}

inline Batch HiddenBatch(uint64_t session, int32_t position, int64_t rows,
                         const std::vector<float>& hidden) {
  Batch b;
  for (int64_t i = 0; i < rows; ++i) {
    b.rows.push_back({session, position + static_cast<int32_t>(i), 0, true});
  }
  b.hidden = hidden;
  return b;
}

// Hidden-state-like rows: N(0, 1) values, deterministic in `seed`.
inline std::vector<float> RandomRows(int64_t rows, int64_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(rows * dim);
  for (float& x : v) x = normal(rng);
  return v;
}

// The reference model with every layer matrix and the output matrix
// round-tripped through `format` (what a backend holding that format sees).
class RoundTripReference {
 public:
  static absl::StatusOr<std::unique_ptr<RoundTripReference>> Create(
      const model::ModelWeights& weights, model::GgmlType format) {
    std::unique_ptr<RoundTripReference> r(new RoundTripReference());
    r->weights_ = weights;
    const model::TensorView& out = weights.output;
    if (format != model::GgmlType::kF32 && model::RowFits(format, out.cols)) {
      TESSERA_ASSIGN_OR_RETURN(std::vector<float> values, out.ToFloat());
      TESSERA_ASSIGN_OR_RETURN(int64_t row_bytes,
                               model::RowBytes(format, out.cols));
      std::vector<uint8_t> packed(row_bytes * out.rows);
      const int64_t n = out.rows * out.cols;
      TESSERA_RETURN_IF_ERROR(
          model::Quantize(format, values.data(), packed.data(), n));
      r->output_.resize(n);
      TESSERA_RETURN_IF_ERROR(
          model::Dequantize(format, packed.data(), r->output_.data(), n));
      model::TensorView& view = r->weights_.output;
      view.type = model::GgmlType::kF32;
      view.data = reinterpret_cast<const uint8_t*>(r->output_.data());
      view.bytes = n * 4;
    }
    model::ReferenceOptions options;
    options.layer_formats.assign(weights.config.n_layers, format);
    TESSERA_ASSIGN_OR_RETURN(
        r->model_, model::ReferenceModel::Create(r->weights_, options));
    return r;
  }

  const model::ReferenceModel& model() const { return *model_; }

 private:
  RoundTripReference() = default;
  std::vector<float> output_;
  model::ModelWeights weights_;
  std::unique_ptr<model::ReferenceModel> model_;
};

inline std::vector<int32_t> GreedyReference(model::ReferenceSession& session,
                                            std::vector<int32_t> tokens,
                                            int64_t new_tokens) {
  std::vector<int32_t> generated;
  for (int64_t i = 0; i < new_tokens; ++i) {
    auto logits = session.Forward(tokens);
    if (!logits.ok()) break;
    generated.push_back(Argmax(*logits));
    tokens = {generated.back()};
  }
  return generated;
}

inline absl::StatusOr<std::vector<int32_t>> GreedyBackend(
    Backend& backend, uint64_t session, std::vector<int32_t> tokens,
    int64_t new_tokens) {
  std::vector<int32_t> generated;
  int32_t position = 0;
  for (int64_t i = 0; i < new_tokens; ++i) {
    TESSERA_ASSIGN_OR_RETURN(BatchOutput out, backend.Forward(TokenBatch(
                                                  session, position, tokens)));
    position += static_cast<int32_t>(tokens.size());
    generated.push_back(Argmax(out.data));
    tokens = {generated.back()};
  }
  return generated;
}

// Feeds prompt + continuation (but its last token) in one batch and returns
// the fraction of continuation tokens that are the backend's argmax.
inline absl::StatusOr<double> TeacherForcedAgreement(
    Backend& backend, uint64_t session, const std::vector<int32_t>& prompt,
    const std::vector<int32_t>& continuation) {
  std::vector<int32_t> tokens = prompt;
  tokens.insert(tokens.end(), continuation.begin(), continuation.end() - 1);
  Batch batch = TokenBatch(session, 0, tokens);
  for (size_t i = 0; i < tokens.size(); ++i) {
    batch.rows[i].want_output = i + 1 >= prompt.size();
  }
  TESSERA_ASSIGN_OR_RETURN(BatchOutput out, backend.Forward(batch));
  if (out.num_rows != static_cast<int64_t>(continuation.size())) {
    return absl::InternalError("unexpected number of output rows");
  }
  int64_t agree = 0;
  for (size_t i = 0; i < continuation.size(); ++i) {
    agree += Argmax(Row(out, i)) == continuation[i] ? 1 : 0;
  }
  return static_cast<double>(agree) / continuation.size();
}

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_CONFORMANCE_UTIL_H_
