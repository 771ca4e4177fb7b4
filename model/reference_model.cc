#include "model/reference_model.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/reference_ops.h"

namespace tessera::model {

struct ReferenceModel::Layer {
  std::vector<float> attn_norm, ffn_norm;
  std::vector<float> wq, wk, wv, wo, w_gate, w_up, w_down;
  std::vector<float> bq, bk, bv;  // empty unless qkv_bias
};

namespace {

// Dequantises a matrix and, when `format` is a quantised format its rows fit,
// replaces it by its round trip through that format.
absl::StatusOr<std::vector<float>> LoadMatrix(const TensorView& view,
                                              GgmlType format) {
  TESSERA_ASSIGN_OR_RETURN(std::vector<float> values, view.ToFloat());
  if (format == GgmlType::kF32 || !RowFits(format, view.cols)) return values;
  TESSERA_ASSIGN_OR_RETURN(int64_t row_bytes, RowBytes(format, view.cols));
  std::string packed(static_cast<size_t>(row_bytes * view.rows), '\0');
  const int64_t n = view.rows * view.cols;
  TESSERA_RETURN_IF_ERROR(Quantize(format, values.data(), packed.data(), n));
  TESSERA_RETURN_IF_ERROR(Dequantize(format, packed.data(), values.data(), n));
  return values;
}

absl::StatusOr<std::vector<float>> LoadVector(const TensorView& view) {
  if (!view.present()) return std::vector<float>();
  return view.ToFloat();
}

}  // namespace

ReferenceModel::~ReferenceModel() = default;

absl::StatusOr<std::unique_ptr<ReferenceModel>> ReferenceModel::Create(
    const ModelWeights& weights, const ReferenceOptions& options) {
  const ModelConfig& c = weights.config;
  std::vector<GgmlType> formats = options.layer_formats;
  if (formats.empty()) formats.assign(c.n_layers, GgmlType::kF32);
  if (static_cast<int64_t>(formats.size()) != c.n_layers) {
    return absl::InvalidArgumentError(
        absl::StrCat("reference: ", formats.size(), " layer formats for ",
                     c.n_layers, " layers"));
  }
  for (GgmlType f : formats) {
    if (!Traits(f).can_quantize) {
      return absl::InvalidArgumentError(
          absl::StrCat("reference: cannot quantise to ", TypeName(f)));
    }
  }
  std::unique_ptr<ReferenceModel> model(new ReferenceModel());
  model->config_ = c;
  TESSERA_ASSIGN_OR_RETURN(model->token_embd_, weights.token_embd.ToFloat());
  TESSERA_ASSIGN_OR_RETURN(model->output_norm_, weights.output_norm.ToFloat());
  TESSERA_ASSIGN_OR_RETURN(model->output_, weights.output.ToFloat());
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const LayerWeights& w = weights.layers[i];
    const GgmlType f = formats[i];
    auto layer = std::make_unique<Layer>();
    TESSERA_ASSIGN_OR_RETURN(layer->attn_norm, LoadVector(w.attn_norm));
    TESSERA_ASSIGN_OR_RETURN(layer->ffn_norm, LoadVector(w.ffn_norm));
    TESSERA_ASSIGN_OR_RETURN(layer->wq, LoadMatrix(w.wq, f));
    TESSERA_ASSIGN_OR_RETURN(layer->wk, LoadMatrix(w.wk, f));
    TESSERA_ASSIGN_OR_RETURN(layer->wv, LoadMatrix(w.wv, f));
    TESSERA_ASSIGN_OR_RETURN(layer->wo, LoadMatrix(w.wo, f));
    TESSERA_ASSIGN_OR_RETURN(layer->w_gate, LoadMatrix(w.w_gate, f));
    TESSERA_ASSIGN_OR_RETURN(layer->w_up, LoadMatrix(w.w_up, f));
    TESSERA_ASSIGN_OR_RETURN(layer->w_down, LoadMatrix(w.w_down, f));
    TESSERA_ASSIGN_OR_RETURN(layer->bq, LoadVector(w.bq));
    TESSERA_ASSIGN_OR_RETURN(layer->bk, LoadVector(w.bk));
    TESSERA_ASSIGN_OR_RETURN(layer->bv, LoadVector(w.bv));
    model->layers_.push_back(std::move(layer));
  }
  return model;
}

std::unique_ptr<ReferenceSession> ReferenceModel::NewSession(
    int64_t max_tokens) const {
  max_tokens = std::clamp<int64_t>(max_tokens, 1, config_.context_length);
  return std::unique_ptr<ReferenceSession>(
      new ReferenceSession(this, max_tokens));
}

ReferenceSession::ReferenceSession(const ReferenceModel* model,
                                   int64_t max_tokens)
    : model_(model), max_tokens_(max_tokens) {
  const ModelConfig& c = model->config();
  // The caches grow with the session (RunLayer), so a long context costs
  // memory only once it is used.
  k_cache_.assign(c.n_layers, {});
  v_cache_.assign(c.n_layers, {});
  layer_positions_.assign(c.n_layers, 0);
}

absl::StatusOr<std::vector<float>> ReferenceSession::Embed(
    absl::Span<const int32_t> tokens) const {
  const ModelConfig& c = model_->config();
  std::vector<float> hidden(tokens.size() * c.dim);
  for (size_t t = 0; t < tokens.size(); ++t) {
    if (tokens[t] < 0 || tokens[t] >= c.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token id ", tokens[t], " outside vocabulary of ", c.vocab_size));
    }
    std::copy_n(model_->token_embd_.data() + int64_t{tokens[t]} * c.dim, c.dim,
                hidden.data() + t * c.dim);
  }
  return hidden;
}

std::vector<float> ReferenceSession::Head(
    const std::vector<float>& hidden) const {
  const ModelConfig& c = model_->config();
  const int64_t n = static_cast<int64_t>(hidden.size()) / c.dim;
  std::vector<float> logits(n * c.vocab_size);
  std::vector<float> normed(c.dim);
  for (int64_t t = 0; t < n; ++t) {
    ref::RmsNorm(hidden.data() + t * c.dim, model_->output_norm_.data(), c.dim,
                 c.norm_eps, normed.data());
    ref::MatVec(model_->output_.data(), nullptr, normed.data(), c.dim,
                c.vocab_size, logits.data() + t * c.vocab_size);
  }
  return logits;
}

// One token row through one layer: attention block, then SwiGLU FFN, each
// with a pre-norm and a residual connection.
void ReferenceSession::RunLayer(int64_t layer_index, float* hidden,
                                int64_t n) {
  const ModelConfig& c = model_->config();
  const ReferenceModel::Layer& L = *model_->layers_[layer_index];
  const bool neox = c.arch == Architecture::kQwen2;
  const int64_t kv = c.kv_dim();
  const int64_t group = c.n_heads / c.n_kv_heads;
  std::vector<float> x(c.dim), q(c.dim), att(c.dim), proj(c.dim);
  std::vector<float> gate(c.ffn_dim), up(c.ffn_dim);
  // The cache grows to the session's tokens (ForwardLayers checked them
  // against max_tokens_).
  const size_t need =
      static_cast<size_t>(layer_positions_[layer_index] + n) * kv;
  if (k_cache_[layer_index].size() < need) {
    k_cache_[layer_index].resize(need);
    v_cache_[layer_index].resize(need);
  }
  float* keys = k_cache_[layer_index].data();
  float* values = v_cache_[layer_index].data();
  for (int64_t t = 0; t < n; ++t) {
    float* h = hidden + t * c.dim;
    const int64_t pos = layer_positions_[layer_index]++;
    ref::RmsNorm(h, L.attn_norm.data(), c.dim, c.norm_eps, x.data());
    ref::MatVec(L.wq.data(), L.bq.empty() ? nullptr : L.bq.data(), x.data(),
                c.dim, c.dim, q.data());
    float* k = keys + pos * kv;
    float* v = values + pos * kv;
    ref::MatVec(L.wk.data(), L.bk.empty() ? nullptr : L.bk.data(), x.data(),
                c.dim, kv, k);
    ref::MatVec(L.wv.data(), L.bv.empty() ? nullptr : L.bv.data(), x.data(),
                c.dim, kv, v);
    for (int64_t head = 0; head < c.n_heads; ++head) {
      ref::Rope(q.data() + head * c.head_dim, c.rope_dim, pos,
                c.rope_freq_base, neox);
    }
    for (int64_t head = 0; head < c.n_kv_heads; ++head) {
      ref::Rope(k + head * c.head_dim, c.rope_dim, pos, c.rope_freq_base, neox);
    }
    for (int64_t head = 0; head < c.n_heads; ++head) {
      const int64_t kv_offset = (head / group) * c.head_dim;
      ref::Attention(q.data() + head * c.head_dim, keys + kv_offset,
                     values + kv_offset, pos + 1, c.head_dim, kv,
                     att.data() + head * c.head_dim);
    }
    ref::MatVec(L.wo.data(), nullptr, att.data(), c.dim, c.dim, proj.data());
    for (int64_t i = 0; i < c.dim; ++i) h[i] += proj[i];

    ref::RmsNorm(h, L.ffn_norm.data(), c.dim, c.norm_eps, x.data());
    ref::MatVec(L.w_gate.data(), nullptr, x.data(), c.dim, c.ffn_dim,
                gate.data());
    ref::MatVec(L.w_up.data(), nullptr, x.data(), c.dim, c.ffn_dim, up.data());
    ref::SwiGlu(gate.data(), up.data(), c.ffn_dim, gate.data());
    ref::MatVec(L.w_down.data(), nullptr, gate.data(), c.ffn_dim, c.dim,
                proj.data());
    for (int64_t i = 0; i < c.dim; ++i) h[i] += proj[i];
  }
}

absl::Status ReferenceSession::ForwardLayers(int64_t first, int64_t end,
                                             std::vector<float>& hidden) {
  const ModelConfig& c = model_->config();
  if (first < 0 || end > c.n_layers || first > end) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reference: bad layer range [", first, ", ", end, ")"));
  }
  if (hidden.empty() || hidden.size() % c.dim != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("reference: hidden size ", hidden.size(),
                     " is not a positive multiple of ", c.dim));
  }
  const int64_t n = static_cast<int64_t>(hidden.size()) / c.dim;
  for (int64_t l = first; l < end; ++l) {
    if (layer_positions_[l] != layer_positions_[first]) {
      return absl::InvalidArgumentError(
          "reference: layers of the range are at different positions");
    }
  }
  if (end > first && layer_positions_[first] + n > max_tokens_) {
    return absl::OutOfRangeError(absl::StrCat(
        "reference: ", layer_positions_[first] + n,
        " tokens exceed the session's cache of ", max_tokens_));
  }
  for (int64_t l = first; l < end; ++l) RunLayer(l, hidden.data(), n);
  if (end > first) position_ = layer_positions_[end - 1];
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> ReferenceSession::ForwardAll(
    absl::Span<const int32_t> tokens) {
  if (tokens.empty()) {
    return absl::InvalidArgumentError("reference: no tokens to run");
  }
  TESSERA_ASSIGN_OR_RETURN(std::vector<float> hidden, Embed(tokens));
  TESSERA_RETURN_IF_ERROR(
      ForwardLayers(0, model_->config().n_layers, hidden));
  return Head(hidden);
}

absl::StatusOr<std::vector<float>> ReferenceSession::Forward(
    absl::Span<const int32_t> tokens) {
  TESSERA_ASSIGN_OR_RETURN(std::vector<float> all, ForwardAll(tokens));
  const int64_t vocab = model_->config().vocab_size;
  return std::vector<float>(all.end() - vocab, all.end());
}

}  // namespace tessera::model
