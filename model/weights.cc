#include "model/weights.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace tessera::model {
namespace {

std::string DimsString(const std::vector<int64_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

// Finds `name` and checks it has exactly `dims` (ne order) and a type this
// project can read.
absl::StatusOr<TensorView> Find(const GgufFile& file, const std::string& name,
                                std::vector<int64_t> dims) {
  const GgufTensorInfo* info = file.FindTensor(name);
  if (info == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("model: missing tensor ", name));
  }
  // Trailing dimensions of 1 are equivalent (some writers keep them).
  std::vector<int64_t> actual = info->dims;
  while (actual.size() > dims.size() && actual.back() == 1) actual.pop_back();
  if (actual != dims) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model: tensor ", name, " has shape ", DimsString(info->dims),
        ", expected ", DimsString(dims)));
  }
  if (!Traits(info->type).can_dequantize) {
    return absl::InvalidArgumentError(
        absl::StrCat("model: tensor ", name, " has unsupported type ",
                     TypeName(info->type)));
  }
  TensorView view;
  view.name = name;
  view.type = info->type;
  view.cols = dims[0];
  view.rows = dims.size() > 1 ? dims[1] : 1;
  view.data = info->data;
  view.bytes = info->bytes;
  return view;
}

absl::Status LoadLayer(const GgufFile& file, const ModelConfig& c, int64_t i,
                       LayerWeights& l) {
  const std::string p = absl::StrCat("blk.", i, ".");
  TESSERA_ASSIGN_OR_RETURN(l.attn_norm, Find(file, p + "attn_norm.weight", {c.dim}));
  TESSERA_ASSIGN_OR_RETURN(l.wq, Find(file, p + "attn_q.weight", {c.dim, c.dim}));
  TESSERA_ASSIGN_OR_RETURN(l.wk, Find(file, p + "attn_k.weight", {c.dim, c.kv_dim()}));
  TESSERA_ASSIGN_OR_RETURN(l.wv, Find(file, p + "attn_v.weight", {c.dim, c.kv_dim()}));
  TESSERA_ASSIGN_OR_RETURN(l.wo, Find(file, p + "attn_output.weight", {c.dim, c.dim}));
  if (c.qkv_bias) {
    TESSERA_ASSIGN_OR_RETURN(l.bq, Find(file, p + "attn_q.bias", {c.dim}));
    TESSERA_ASSIGN_OR_RETURN(l.bk, Find(file, p + "attn_k.bias", {c.kv_dim()}));
    TESSERA_ASSIGN_OR_RETURN(l.bv, Find(file, p + "attn_v.bias", {c.kv_dim()}));
  }
  TESSERA_ASSIGN_OR_RETURN(l.ffn_norm, Find(file, p + "ffn_norm.weight", {c.dim}));
  TESSERA_ASSIGN_OR_RETURN(l.w_gate, Find(file, p + "ffn_gate.weight", {c.dim, c.ffn_dim}));
  TESSERA_ASSIGN_OR_RETURN(l.w_up, Find(file, p + "ffn_up.weight", {c.dim, c.ffn_dim}));
  TESSERA_ASSIGN_OR_RETURN(l.w_down, Find(file, p + "ffn_down.weight", {c.ffn_dim, c.dim}));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<float>> TensorView::ToFloat() const {
  std::vector<float> out(static_cast<size_t>(rows * cols));
  TESSERA_RETURN_IF_ERROR_CTX(Dequantize(type, data, out.data(), rows * cols),
                              name);
  return out;
}

absl::StatusOr<ModelWeights> LoadWeights(const GgufFile& file,
                                         const ModelConfig& config) {
  ModelWeights w;
  w.config = config;
  const ModelConfig& c = config;
  TESSERA_ASSIGN_OR_RETURN(w.token_embd,
                           Find(file, "token_embd.weight", {c.dim, c.vocab_size}));
  TESSERA_ASSIGN_OR_RETURN(w.output_norm,
                           Find(file, "output_norm.weight", {c.dim}));
  if (c.tied_embeddings) {
    w.output = w.token_embd;
  } else {
    TESSERA_ASSIGN_OR_RETURN(w.output,
                             Find(file, "output.weight", {c.dim, c.vocab_size}));
  }
  // Every layer has at least nine tensors: a block count the file cannot
  // hold is refused before anything is sized by it.
  if (c.n_layers > static_cast<int64_t>(file.tensors().size()) / 9) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model metadata: block_count ", c.n_layers, " but the file has only ",
        file.tensors().size(), " tensors"));
  }
  w.layers.resize(static_cast<size_t>(c.n_layers));
  for (int64_t i = 0; i < c.n_layers; ++i) {
    TESSERA_RETURN_IF_ERROR(LoadLayer(file, c, i, w.layers[i]));
  }
  return w;
}

}  // namespace tessera::model
