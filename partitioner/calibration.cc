#include "partitioner/calibration.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/reference_model.h"

namespace tessera::partitioner {
namespace {

using model::GgmlType;
using model::ReferenceModel;

absl::Status CheckPrompts(const Prompts& prompts, const model::ModelConfig& c) {
  if (prompts.empty()) return absl::InvalidArgumentError("no prompts");
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto& p = prompts[i];
    if (p.empty() || static_cast<int64_t>(p.size()) > c.context_length) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prompt ", i, " has ", p.size(), " tokens; want 1..", c.context_length));
    }
    for (int32_t t : p) {
      if (t < 0 || t >= c.vocab_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("prompt ", i, ": token id ", t, " outside the vocabulary"));
      }
    }
  }
  return absl::OkStatus();
}

// The unquantised pass over one prompt: the hidden states entering each
// layer (hidden[L] leaves the last one) and the logits of every position.
struct Trace {
  std::vector<std::vector<float>> hidden;
  std::vector<float> logits;
};

absl::StatusOr<Trace> ExactTrace(const ReferenceModel& m,
                                 const std::vector<int32_t>& tokens) {
  const int64_t n_layers = m.config().n_layers;
  auto session = m.NewSession(static_cast<int64_t>(tokens.size()));
  Trace t;
  TESSERA_ASSIGN_OR_RETURN(std::vector<float> h, session->Embed(tokens));
  for (int64_t l = 0; l < n_layers; ++l) {
    t.hidden.push_back(h);
    TESSERA_RETURN_IF_ERROR(session->ForwardLayers(l, l + 1, h));
  }
  t.hidden.push_back(h);
  t.logits = session->Head(h);
  return t;
}

// Sum over positions of KL(reference row || other row).
double SumKl(const std::vector<float>& reference, const std::vector<float>& other,
             int64_t vocab) {
  double sum = 0;
  for (size_t row = 0; row + vocab <= reference.size(); row += vocab) {
    sum += KlDivergence(absl::MakeConstSpan(reference.data() + row, vocab),
                        absl::MakeConstSpan(other.data() + row, vocab));
  }
  return sum;
}

// Logits of the prompt traced in `t` when only `layer` runs in `quant`.
absl::StatusOr<std::vector<float>> OneLayerQuantized(const ReferenceModel& exact,
                                                     const ReferenceModel& quant,
                                                     const Trace& t, int64_t layer) {
  const int64_t n_layers = exact.config().n_layers;
  const int64_t n = static_cast<int64_t>(t.logits.size()) / exact.config().vocab_size;
  std::vector<float> h = t.hidden[layer];
  auto q = quant.NewSession(n);
  TESSERA_RETURN_IF_ERROR(q->ForwardLayers(layer, layer + 1, h));
  auto e = exact.NewSession(n);
  if (layer + 1 < n_layers) {
    TESSERA_RETURN_IF_ERROR(e->ForwardLayers(layer + 1, n_layers, h));
  }
  return e->Head(h);
}

// Mean squares of the normed layer inputs, per column: [layer][column].
struct InputStats {
  std::vector<std::vector<double>> attn, ffn;
  int64_t rows = 0;
};

void AddNormed(const std::vector<float>& hidden, const std::vector<float>& norm,
               int64_t dim, double eps, std::vector<double>& sums) {
  for (size_t row = 0; row + dim <= hidden.size(); row += dim) {
    double ms = 0;
    for (int64_t j = 0; j < dim; ++j) ms += double{hidden[row + j]} * hidden[row + j];
    const double scale = 1.0 / std::sqrt(ms / dim + eps);
    for (int64_t j = 0; j < dim; ++j) {
      const double x = hidden[row + j] * scale * norm[j];
      sums[j] += x * x;
    }
  }
}

absl::StatusOr<InputStats> MeasureInputs(const model::ModelWeights& w,
                                         const std::vector<Trace>& traces) {
  const model::ModelConfig& c = w.config;
  InputStats s;
  s.attn.assign(c.n_layers, std::vector<double>(c.dim, 0));
  s.ffn = s.attn;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    TESSERA_ASSIGN_OR_RETURN(auto attn_norm, w.layers[l].attn_norm.ToFloat());
    TESSERA_ASSIGN_OR_RETURN(auto ffn_norm, w.layers[l].ffn_norm.ToFloat());
    for (const Trace& t : traces) {
      AddNormed(t.hidden[l], attn_norm, c.dim, c.norm_eps, s.attn[l]);
      AddNormed(t.hidden[l], ffn_norm, c.dim, c.norm_eps, s.ffn[l]);
      if (l == 0) s.rows += static_cast<int64_t>(t.hidden[l].size()) / c.dim;
    }
  }
  return s;
}

// sum_ij (W_ij - Q(W)_ij)^2 * mean_sq[j] (mean_sq empty: unit variance).
absl::StatusOr<double> WeightedError(const model::TensorView& view, GgmlType f,
                                     const std::vector<double>& sums, int64_t rows) {
  if (f == GgmlType::kF32 || !model::RowFits(f, view.cols)) return 0.0;
  TESSERA_ASSIGN_OR_RETURN(std::vector<float> w, view.ToFloat());
  TESSERA_ASSIGN_OR_RETURN(int64_t row_bytes, model::RowBytes(f, view.cols));
  std::vector<uint8_t> packed(row_bytes);
  std::vector<float> back(view.cols);
  double total = 0;
  for (int64_t r = 0; r < view.rows; ++r) {
    const float* src = w.data() + r * view.cols;
    TESSERA_RETURN_IF_ERROR(model::Quantize(f, src, packed.data(), view.cols));
    TESSERA_RETURN_IF_ERROR(model::Dequantize(f, packed.data(), back.data(), view.cols));
    for (int64_t j = 0; j < view.cols; ++j) {
      const double d = double{src[j]} - back[j];
      total += d * d * (sums.empty() ? 1.0 : sums[j] / std::max<int64_t>(rows, 1));
    }
  }
  return total;
}

absl::StatusOr<double> VarianceIndicator(const model::LayerWeights& lw, GgmlType f,
                                         const InputStats& s, int64_t layer) {
  const std::vector<double> unit;
  const std::pair<const model::TensorView*, const std::vector<double>*> parts[] = {
      {&lw.wq, &s.attn[layer]},   {&lw.wk, &s.attn[layer]}, {&lw.wv, &s.attn[layer]},
      {&lw.wo, &unit},            {&lw.w_gate, &s.ffn[layer]},
      {&lw.w_up, &s.ffn[layer]},  {&lw.w_down, &unit}};
  double total = 0;
  for (const auto& [view, sums] : parts) {
    TESSERA_ASSIGN_OR_RETURN(double e, WeightedError(*view, f, *sums, s.rows));
    total += e;
  }
  return total;
}

absl::Status AddKlColumn(const ReferenceModel& exact, const ReferenceModel& quant,
                         const std::vector<Trace>& traces, size_t f,
                         Sensitivity& out) {
  const int64_t vocab = exact.config().vocab_size;
  for (int64_t l = 0; l < exact.config().n_layers; ++l) {
    double sum = 0;
    for (const Trace& t : traces) {
      TESSERA_ASSIGN_OR_RETURN(auto logits, OneLayerQuantized(exact, quant, t, l));
      sum += SumKl(t.logits, logits, vocab);
    }
    out.kl[l][f] = sum / static_cast<double>(out.tokens);
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<std::string>& DefaultCalibrationPrompts() {
  static const auto* prompts = new std::vector<std::string>{
      "Once upon a time, there was a little girl who loved to play outside.",
      "The old man walked slowly to the market to buy bread and milk.",
      "Tom found a shiny red ball under the big tree in the park.",
      "In the morning the sun came up and the birds began to sing.",
      "She opened the box and saw a small puppy looking back at her.",
      "The capital of France is Paris, and it is known for its museums.",
      "Water boils at one hundred degrees Celsius at sea level.",
      "def add(a, b):\n    return a + b",
  };
  return *prompts;
}

absl::StatusOr<Prompts> TokenizePrompts(const model::Tokenizer& tokenizer,
                                        const std::vector<std::string>& lines,
                                        int64_t max_tokens) {
  if (max_tokens < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_tokens must be >= 1, got ",
                                                   max_tokens));
  }
  Prompts out;
  for (const std::string& line : lines) {
    if (line.empty()) continue;
    std::vector<int32_t> ids = tokenizer.Encode(line, tokenizer.add_bos_default());
    if (static_cast<int64_t>(ids.size()) > max_tokens) ids.resize(max_tokens);
    if (!ids.empty()) out.push_back(std::move(ids));
  }
  if (out.empty()) return absl::InvalidArgumentError("no prompt has any tokens");
  return out;
}

double KlDivergence(absl::Span<const float> reference, absl::Span<const float> other) {
  const float max_p = *std::max_element(reference.begin(), reference.end());
  const float max_q = *std::max_element(other.begin(), other.end());
  double zp = 0, zq = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    zp += std::exp(double{reference[i]} - max_p);
    zq += std::exp(double{other[i]} - max_q);
  }
  const double log_zp = std::log(zp), log_zq = std::log(zq);
  double kl = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    const double lp = reference[i] - max_p - log_zp;
    const double lq = other[i] - max_q - log_zq;
    kl += std::exp(lp) * (lp - lq);
  }
  return std::max(0.0, kl);
}

absl::StatusOr<Sensitivity> Calibrate(const model::ModelWeights& weights,
                                      const Prompts& prompts,
                                      const std::vector<GgmlType>& formats) {
  const model::ModelConfig& c = weights.config;
  TESSERA_RETURN_IF_ERROR(CheckPrompts(prompts, c));
  TESSERA_ASSIGN_OR_RETURN(auto exact, ReferenceModel::Create(weights));
  std::vector<Trace> traces;
  Sensitivity out{formats, {}, {}, static_cast<int64_t>(prompts.size()), 0};
  for (const auto& p : prompts) {
    TESSERA_ASSIGN_OR_RETURN(Trace t, ExactTrace(*exact, p));
    traces.push_back(std::move(t));
    out.tokens += static_cast<int64_t>(p.size());
  }
  out.kl.assign(c.n_layers, std::vector<double>(formats.size(), 0));
  out.variance = out.kl;
  TESSERA_ASSIGN_OR_RETURN(InputStats stats, MeasureInputs(weights, traces));
  for (size_t f = 0; f < formats.size(); ++f) {
    if (formats[f] == GgmlType::kF32) continue;  // unchanged: zero loss
    model::ReferenceOptions options;
    options.layer_formats.assign(c.n_layers, formats[f]);
    TESSERA_ASSIGN_OR_RETURN(auto quant, ReferenceModel::Create(weights, options));
    TESSERA_RETURN_IF_ERROR(AddKlColumn(*exact, *quant, traces, f, out));
    for (int64_t l = 0; l < c.n_layers; ++l) {
      TESSERA_ASSIGN_OR_RETURN(out.variance[l][f],
                               VarianceIndicator(weights.layers[l], formats[f], stats, l));
    }
  }
  return out;
}

QualityTable QualityFromSensitivity(const Sensitivity& s) {
  return QualityTable{"calibration-kl", s.formats, s.kl};
}

absl::StatusOr<PlanQuality> MeasurePlanQuality(
    const model::ModelWeights& weights, const std::vector<GgmlType>& layer_formats,
    const Prompts& prompts) {
  TESSERA_RETURN_IF_ERROR(CheckPrompts(prompts, weights.config));
  TESSERA_ASSIGN_OR_RETURN(auto exact, ReferenceModel::Create(weights));
  model::ReferenceOptions options;
  options.layer_formats = layer_formats;
  TESSERA_ASSIGN_OR_RETURN(auto planned, ReferenceModel::Create(weights, options));
  const int64_t vocab = weights.config.vocab_size;
  PlanQuality q;
  double kl = 0;
  int64_t agree = 0;
  for (const auto& p : prompts) {
    const int64_t n = static_cast<int64_t>(p.size());
    TESSERA_ASSIGN_OR_RETURN(auto ref, exact->NewSession(n)->ForwardAll(p));
    TESSERA_ASSIGN_OR_RETURN(auto got, planned->NewSession(n)->ForwardAll(p));
    kl += SumKl(ref, got, vocab);
    for (int64_t row = 0; row < n; ++row) {
      auto a = ref.begin() + row * vocab, b = got.begin() + row * vocab;
      agree += std::max_element(a, a + vocab) - a == std::max_element(b, b + vocab) - b;
    }
    q.tokens += n;
  }
  q.mean_kl = kl / static_cast<double>(q.tokens);
  q.top1_agreement = static_cast<double>(agree) / static_cast<double>(q.tokens);
  return q;
}

}  // namespace tessera::partitioner
