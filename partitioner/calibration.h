// Measured quality: how much quantising layers changes a model's output,
// computed with the F32 reference forward pass (model/reference_model.h).
// Used by `tessera calibrate` (per-layer sensitivity, written to a sidecar
// the planner reads) and `tessera eval` (a plan's real quality cost).
//
//  - Calibrate: for each layer l and format f, the mean KL divergence of the
//    next-token distribution, over every position of every prompt, when only
//    layer l runs in f (all else F32). Layers before l are shared with the
//    unquantised pass (their hidden states are cached), so each (l, f) costs
//    only layers l..L. Second estimate, LLM-PQ's variance indicator: the
//    expected squared error that weight quantisation adds to the layer's
//    matrix products, sum over matrices of sum_ij (W_ij - Q(W)_ij)^2 E[x_j^2].
//    E[x_j^2] is measured on the calibration prompts for the inputs of q, k,
//    v (attn_norm of the layer input) and of gate, up (ffn_norm of the layer
//    input, a proxy for the mid-layer residual); the inputs of attn_output
//    and ffn_down are taken as unit variance.
//  - MeasurePlanQuality: mean KL and top-1 agreement of a per-layer format
//    assignment against the unquantised model.
//
// Cost: one reference forward pass per (layer, format) per prompt; meant for
// small models (the reference is F32 and simple, not fast). No I/O.
// Thread-safety: pure functions.
#ifndef TESSERA_PARTITIONER_CALIBRATION_H_
#define TESSERA_PARTITIONER_CALIBRATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/ggml_types.h"
#include "model/tokenizer.h"
#include "model/weights.h"
#include "partitioner/quality.h"

namespace tessera::partitioner {

using Prompts = std::vector<std::vector<int32_t>>;  // token ids

// A few short English prompts, for when no prompt file is given.
const std::vector<std::string>& DefaultCalibrationPrompts();

// One prompt per non-empty line of `text`, tokenised (with BOS as the
// vocabulary wants) and cut to `max_tokens`. InvalidArgument when no line
// has tokens or max_tokens < 1.
absl::StatusOr<Prompts> TokenizePrompts(const model::Tokenizer& tokenizer,
                                        const std::vector<std::string>& lines,
                                        int64_t max_tokens);

// KL(P || Q) in nats between softmax(reference) and softmax(other).
// REQUIRES: equal, non-zero sizes.
double KlDivergence(absl::Span<const float> reference,
                    absl::Span<const float> other);

struct Sensitivity {
  std::vector<model::GgmlType> formats;
  std::vector<std::vector<double>> kl;        // [layer][format], nats/token
  std::vector<std::vector<double>> variance;  // [layer][format]
  int64_t prompts = 0;
  int64_t tokens = 0;  // positions scored per (layer, format)
};

// InvalidArgument for no prompts, an empty prompt, a prompt longer than the
// context, a token outside the vocabulary, or a format that cannot be
// quantised; errors of the reference model otherwise.
absl::StatusOr<Sensitivity> Calibrate(const model::ModelWeights& weights,
                                      const Prompts& prompts,
                                      const std::vector<model::GgmlType>& formats);

// The planner's quality table from the KL columns.
QualityTable QualityFromSensitivity(const Sensitivity& sensitivity);

struct PlanQuality {
  double mean_kl = 0;         // nats per token
  double top1_agreement = 0;  // fraction of positions with the same argmax
  int64_t tokens = 0;
};

// `layer_formats` has one entry per layer (F32 = unquantised). Errors as
// Calibrate's.
absl::StatusOr<PlanQuality> MeasurePlanQuality(
    const model::ModelWeights& weights,
    const std::vector<model::GgmlType>& layer_formats, const Prompts& prompts);

}  // namespace tessera::partitioner

#endif  // TESSERA_PARTITIONER_CALIBRATION_H_
