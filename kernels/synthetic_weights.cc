#include "kernels/synthetic_weights.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kernels/thread_pool.h"

namespace tessera::kernels {
namespace {

using model::GgmlType;
using model::TensorView;

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Approximately N(0, 1): four uniform 16-bit draws summed and centred
// (variance of the sum: 4 * (2^32 - 1) / 12).
inline float Normal(uint64_t& state) {
  const uint64_t r = SplitMix64(state);
  const int64_t sum = static_cast<int64_t>(r & 0xffff) + ((r >> 16) & 0xffff) +
                      ((r >> 32) & 0xffff) + (r >> 48);
  constexpr float kScale = 1.0f / 37837.23f;  // 1 / sqrt(4 * 65536^2 / 12)
  return static_cast<float>(sum - 2 * 65535) * kScale;
}

class Builder {
 public:
  Builder(SyntheticModel& model, const SyntheticOptions& options,
          ThreadPool* pool)
      : model_(model), options_(options), pool_(pool) {}

  // A tensor of `rows` x `cols` values: mean + stddev * N(0, 1).
  absl::StatusOr<TensorView> Make(const std::string& name, GgmlType type,
                                  int64_t cols, int64_t rows, float mean,
                                  float stddev) {
    if (type != GgmlType::kF32 && !model::RowFits(type, cols)) {
      type = GgmlType::kF16;
    }
    TESSERA_ASSIGN_OR_RETURN(const int64_t row_bytes,
                             model::RowBytes(type, cols));
    const int64_t bytes = row_bytes * rows;
    auto buffer = LargePageBuffer::Allocate(static_cast<size_t>(bytes));
    TESSERA_RETURN_IF_ERROR_CTX(buffer.status(), name);
    LargePageBuffer storage = std::move(*buffer);
    const uint64_t tensor_seed = options_.seed * 1000003 + ++tensors_;
    std::vector<absl::Status> errors(pool_ != nullptr ? pool_->num_threads()
                                                      : 1);
    auto fill = [&](int64_t begin, int64_t end, int thread) {
      std::vector<float> values(static_cast<size_t>(cols));
      for (int64_t r = begin; r < end && errors[thread].ok(); ++r) {
        uint64_t state =
            tensor_seed * 0x100000001b3ULL + static_cast<uint64_t>(r);
        for (float& v : values) v = mean + stddev * Normal(state);
        errors[thread] = model::Quantize(type, values.data(),
                                         storage.data() + r * row_bytes, cols);
      }
    };
    if (pool_ != nullptr) {
      pool_->ParallelFor(rows, 64, fill);
    } else {
      fill(0, rows, 0);
    }
    for (const absl::Status& e : errors) TESSERA_RETURN_IF_ERROR_CTX(e, name);
    TensorView view;
    view.name = name;
    view.type = type;
    view.cols = cols;
    view.rows = rows;
    view.data = storage.data();
    view.bytes = bytes;
    model_.storage.push_back(std::move(storage));
    model_.bytes += bytes;
    return view;
  }

 private:
  SyntheticModel& model_;
  const SyntheticOptions& options_;
  ThreadPool* pool_;
  uint64_t tensors_ = 0;
};

absl::Status CheckConfig(const model::ModelConfig& c) {
  if (c.n_layers < 0 || c.dim <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 ||
      c.n_heads % c.n_kv_heads != 0 || c.head_dim * c.n_heads != c.dim ||
      c.ffn_dim <= 0 || c.vocab_size <= 0) {
    return absl::InvalidArgumentError(
        "synthetic model: inconsistent configuration");
  }
  return absl::OkStatus();
}

absl::Status MakeLayer(Builder& b, const model::ModelConfig& c, int64_t i,
                       GgmlType type, float sd, model::LayerWeights& l) {
  const std::string p = absl::StrCat("blk.", i, ".");
  const int64_t kv = c.kv_dim();
  TESSERA_ASSIGN_OR_RETURN(
      l.attn_norm,
      b.Make(p + "attn_norm.weight", GgmlType::kF32, c.dim, 1, 1.0f, 0.05f));
  TESSERA_ASSIGN_OR_RETURN(
      l.ffn_norm,
      b.Make(p + "ffn_norm.weight", GgmlType::kF32, c.dim, 1, 1.0f, 0.05f));
  TESSERA_ASSIGN_OR_RETURN(
      l.wq, b.Make(p + "attn_q.weight", type, c.dim, c.dim, 0, sd));
  TESSERA_ASSIGN_OR_RETURN(l.wk,
                           b.Make(p + "attn_k.weight", type, c.dim, kv, 0, sd));
  TESSERA_ASSIGN_OR_RETURN(l.wv,
                           b.Make(p + "attn_v.weight", type, c.dim, kv, 0, sd));
  TESSERA_ASSIGN_OR_RETURN(
      l.wo, b.Make(p + "attn_output.weight", type, c.dim, c.dim, 0, sd));
  TESSERA_ASSIGN_OR_RETURN(
      l.w_gate, b.Make(p + "ffn_gate.weight", type, c.dim, c.ffn_dim, 0, sd));
  TESSERA_ASSIGN_OR_RETURN(
      l.w_up, b.Make(p + "ffn_up.weight", type, c.dim, c.ffn_dim, 0, sd));
  TESSERA_ASSIGN_OR_RETURN(
      l.w_down, b.Make(p + "ffn_down.weight", type, c.ffn_dim, c.dim, 0, sd));
  if (c.qkv_bias) {
    TESSERA_ASSIGN_OR_RETURN(
        l.bq, b.Make(p + "attn_q.bias", GgmlType::kF32, c.dim, 1, 0, sd));
    TESSERA_ASSIGN_OR_RETURN(
        l.bk, b.Make(p + "attn_k.bias", GgmlType::kF32, kv, 1, 0, sd));
    TESSERA_ASSIGN_OR_RETURN(
        l.bv, b.Make(p + "attn_v.bias", GgmlType::kF32, kv, 1, 0, sd));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SyntheticModel>> MakeSyntheticModel(
    const model::ModelConfig& config, const SyntheticOptions& options,
    ThreadPool* pool) {
  TESSERA_RETURN_IF_ERROR(CheckConfig(config));
  for (GgmlType t : {options.matrix_type, options.embedding_type}) {
    if (!model::Traits(t).can_quantize) {
      return absl::InvalidArgumentError(
          absl::StrCat("synthetic model: cannot write ", model::TypeName(t)));
    }
  }
  auto m = std::make_unique<SyntheticModel>();
  m->weights.config = config;
  Builder b(*m, options, pool);
  const model::ModelConfig& c = config;
  const float sd = options.stddev;
  TESSERA_ASSIGN_OR_RETURN(m->weights.token_embd,
                           b.Make("token_embd.weight", options.embedding_type,
                                  c.dim, c.vocab_size, 0, sd));
  TESSERA_ASSIGN_OR_RETURN(
      m->weights.output_norm,
      b.Make("output_norm.weight", GgmlType::kF32, c.dim, 1, 1.0f, 0.05f));
  if (c.tied_embeddings) {
    m->weights.output = m->weights.token_embd;
  } else {
    TESSERA_ASSIGN_OR_RETURN(m->weights.output,
                             b.Make("output.weight", options.embedding_type,
                                    c.dim, c.vocab_size, 0, sd));
  }
  m->weights.layers.resize(c.n_layers);
  for (int64_t i = 0; i < c.n_layers; ++i) {
    TESSERA_RETURN_IF_ERROR(
        MakeLayer(b, c, i, options.matrix_type, sd, m->weights.layers[i]));
  }
  return m;
}

}  // namespace tessera::kernels
