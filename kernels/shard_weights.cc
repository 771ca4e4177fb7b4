#include "kernels/shard_weights.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/mapped_file.h"
#include "common/status_macros.h"
#include "kernels/q4_tiles.h"
#include "kernels/thread_pool.h"

namespace tessera::kernels {
namespace {

using model::TensorView;

absl::Status CheckView(const TensorView& view) {
  if (!view.present()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor ", view.name, " is missing"));
  }
  if (!model::Traits(view.type).can_dequantize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor ", view.name, " has unreadable type ", TypeName(view.type)));
  }
  absl::StatusOr<int64_t> row_bytes = model::RowBytes(view.type, view.cols);
  if (!row_bytes.ok() || view.rows < 1 ||
      *row_bytes * view.rows != view.bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor ", view.name, ": ", view.bytes,
                     " bytes do not hold ", view.rows, " rows of ", view.cols,
                     " ", TypeName(view.type), " values"));
  }
  return absl::OkStatus();
}

// Rows [begin, end) of `view` dequantised and requantised into `dst`.
absl::Status ConvertRows(const TensorView& view, GgmlType format,
                         int64_t dst_row_bytes, int64_t begin, int64_t end,
                         uint8_t* dst) {
  std::vector<float> row(static_cast<size_t>(view.cols));
  for (int64_t r = begin; r < end; ++r) {
    uint8_t* out = dst + r * dst_row_bytes;
    float* values =
        format == GgmlType::kF32 ? reinterpret_cast<float*>(out) : row.data();
    TESSERA_RETURN_IF_ERROR(
        model::Dequantize(view.type, view.row(r), values, view.cols));
    if (format != GgmlType::kF32) {
      TESSERA_RETURN_IF_ERROR(model::Quantize(format, values, out, view.cols));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> LoadVector(const TensorView& view,
                                              int64_t expected) {
  if (!view.present()) return std::vector<float>();
  TESSERA_RETURN_IF_ERROR(CheckView(view));
  if (view.rows * view.cols != expected) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor ", view.name, " has ", view.rows * view.cols,
                     " values, expected ", expected));
  }
  return view.ToFloat();
}

absl::StatusOr<ExecMatrix> LoadMatrix(const TensorView& view,
                                      int64_t expected_cols,
                                      int64_t expected_rows, GgmlType wanted,
                                      ThreadPool* pool,
                                      std::vector<std::string>& notes) {
  if (view.cols != expected_cols || view.rows != expected_rows) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor ", view.name, " is ", view.rows, " x ", view.cols,
                     ", expected ", expected_rows, " x ", expected_cols));
  }
  TESSERA_ASSIGN_OR_RETURN(ExecMatrix m, ConvertMatrix(view, wanted, pool));
  if (m.format != wanted) {
    notes.push_back(absl::StrCat(view.name, " kept in ", TypeName(m.format),
                                 ": rows of ", view.cols, " values do not fit ",
                                 TypeName(wanted), " blocks of ",
                                 model::Traits(wanted).block_elements));
  }
  return m;
}

int64_t VectorBytes(const ExecLayer& l) {
  return 4 * static_cast<int64_t>(l.attn_norm.size() + l.ffn_norm.size() +
                                  l.bq.size() + l.bk.size() + l.bv.size());
}

absl::StatusOr<ExecLayer> LoadLayer(const model::ModelWeights& weights,
                                    int64_t index, GgmlType format,
                                    ThreadPool* pool,
                                    std::vector<std::string>& notes) {
  const model::ModelConfig& c = weights.config;
  const model::LayerWeights& w = weights.layers[index];
  ExecLayer l;
  l.index = index;
  l.format = format;
  const int64_t kv = c.kv_dim();
  TESSERA_ASSIGN_OR_RETURN(l.attn_norm, LoadVector(w.attn_norm, c.dim));
  TESSERA_ASSIGN_OR_RETURN(l.ffn_norm, LoadVector(w.ffn_norm, c.dim));
  if (l.attn_norm.empty() || l.ffn_norm.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer ", index, " lacks its norm weights"));
  }
  TESSERA_ASSIGN_OR_RETURN(l.bq, LoadVector(w.bq, c.dim));
  TESSERA_ASSIGN_OR_RETURN(l.bk, LoadVector(w.bk, kv));
  TESSERA_ASSIGN_OR_RETURN(l.bv, LoadVector(w.bv, kv));
  auto load = [&](const TensorView& v, int64_t cols, int64_t rows) {
    return LoadMatrix(v, cols, rows, format, pool, notes);
  };
  TESSERA_ASSIGN_OR_RETURN(l.wq, load(w.wq, c.dim, c.dim));
  TESSERA_ASSIGN_OR_RETURN(l.wk, load(w.wk, c.dim, kv));
  TESSERA_ASSIGN_OR_RETURN(l.wv, load(w.wv, c.dim, kv));
  TESSERA_ASSIGN_OR_RETURN(l.wo, load(w.wo, c.dim, c.dim));
  TESSERA_ASSIGN_OR_RETURN(l.w_gate, load(w.w_gate, c.dim, c.ffn_dim));
  TESSERA_ASSIGN_OR_RETURN(l.w_up, load(w.w_up, c.dim, c.ffn_dim));
  TESSERA_ASSIGN_OR_RETURN(l.w_down, load(w.w_down, c.ffn_dim, c.dim));
  return l;
}

// Fills weight_bytes and converted_bytes.
void CountBytes(ShardWeights& s) {
  auto count = [&s](const ExecMatrix& m) {
    s.weight_bytes += m.bytes;
    if (!m.in_place) s.converted_bytes += m.bytes;
  };
  for (const ExecLayer& l : s.layers) {
    for (const ExecMatrix* m :
         {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
      count(*m);
    }
    s.weight_bytes += VectorBytes(l);
  }
  if (s.spec.has_head) {
    count(s.output);
    s.weight_bytes += 4 * static_cast<int64_t>(s.output_norm.size());
  }
  if (s.spec.has_embedding) s.weight_bytes += s.token_embd.bytes;
}

}  // namespace

bool IsExecutionFormat(GgmlType format) {
  return format == GgmlType::kF32 || format == GgmlType::kF16 ||
         format == GgmlType::kQ8_0 || format == GgmlType::kQ4_0;
}

GgmlType ExecutionFormatFor(GgmlType wanted, int64_t cols) {
  if (wanted == GgmlType::kF32 || wanted == GgmlType::kF16) return wanted;
  return model::RowFits(wanted, cols) ? wanted : GgmlType::kF16;
}

absl::Status ValidateShardSpec(const model::ModelConfig& config,
                               const ShardSpec& spec) {
  if (spec.first_layer < 0 || spec.first_layer > spec.end_layer ||
      spec.end_layer > config.n_layers) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard layers [", spec.first_layer, ", ", spec.end_layer,
                     ") are not inside the model's ", config.n_layers));
  }
  const int64_t n = spec.end_layer - spec.first_layer;
  if (static_cast<int64_t>(spec.layer_formats.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard has ", n, " layers but ", spec.layer_formats.size(),
                     " layer formats"));
  }
  for (size_t i = 0; i < spec.layer_formats.size(); ++i) {
    if (!IsExecutionFormat(spec.layer_formats[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer ", spec.first_layer + static_cast<int64_t>(i),
                       ": ", TypeName(spec.layer_formats[i]),
                       " is not an execution format (f32, f16, q8_0, q4_0)"));
    }
  }
  if (spec.has_head && !IsExecutionFormat(spec.head_format)) {
    return absl::InvalidArgumentError(
        absl::StrCat("head format ", TypeName(spec.head_format),
                     " is not an execution format (f32, f16, q8_0, q4_0)"));
  }
  if (spec.has_embedding && spec.first_layer != 0) {
    return absl::InvalidArgumentError(
        "only a shard starting at layer 0 can hold the embedding");
  }
  if (spec.has_head && spec.end_layer != config.n_layers) {
    return absl::InvalidArgumentError(
        "only a shard ending at the last layer can hold the head");
  }
  if (n == 0 && !spec.has_embedding && !spec.has_head) {
    return absl::InvalidArgumentError("shard has nothing to run");
  }
  return absl::OkStatus();
}

absl::StatusOr<ExecMatrix> ConvertMatrix(const TensorView& view,
                                         GgmlType wanted, ThreadPool* pool) {
  TESSERA_RETURN_IF_ERROR(CheckView(view));
  if (!IsExecutionFormat(wanted)) {
    return absl::InvalidArgumentError(absl::StrCat(
        view.name, ": ", TypeName(wanted), " is not an execution format"));
  }
  ExecMatrix m;
  m.name = view.name;
  m.format = ExecutionFormatFor(wanted, view.cols);
  m.source_format = view.type;
  m.rows = view.rows;
  m.cols = view.cols;
  TESSERA_ASSIGN_OR_RETURN(m.row_bytes, model::RowBytes(m.format, view.cols));
  m.bytes = m.row_bytes * m.rows;
  if (view.type == m.format) {
    m.data = view.data;
    m.in_place = true;
    return m;
  }
  auto storage = LargePageBuffer::Allocate(static_cast<size_t>(m.bytes));
  TESSERA_RETURN_IF_ERROR_CTX(storage.status(), view.name);
  m.storage = std::move(*storage);
  absl::Status status = absl::OkStatus();
  if (pool == nullptr) {
    status =
        ConvertRows(view, m.format, m.row_bytes, 0, m.rows, m.storage.data());
  } else {
    std::vector<absl::Status> errors(pool->num_threads());
    pool->ParallelFor(m.rows, 64, [&](int64_t begin, int64_t end, int t) {
      if (!errors[t].ok()) return;
      errors[t] = ConvertRows(view, m.format, m.row_bytes, begin, end,
                              m.storage.data());
    });
    for (absl::Status& e : errors) status.Update(e);
  }
  TESSERA_RETURN_IF_ERROR_CTX(status, absl::StrCat("convert ", view.name));
  m.data = m.storage.data();
  return m;
}

absl::StatusOr<ShardWeights> PrepareShardWeights(
    const model::ModelWeights& weights, const ShardSpec& spec,
    ThreadPool* pool) {
  const model::ModelConfig& c = weights.config;
  TESSERA_RETURN_IF_ERROR(ValidateShardSpec(c, spec));
  if (static_cast<int64_t>(weights.layers.size()) != c.n_layers) {
    return absl::InvalidArgumentError(
        absl::StrCat("model has ", weights.layers.size(),
                     " layers, config says ", c.n_layers));
  }
  ShardWeights s;
  s.config = c;
  s.spec = spec;
  for (int64_t i = spec.first_layer; i < spec.end_layer; ++i) {
    TESSERA_ASSIGN_OR_RETURN(
        ExecLayer layer,
        LoadLayer(weights, i, spec.layer_formats[i - spec.first_layer], pool,
                  s.notes));
    s.layers.push_back(std::move(layer));
  }
  if (spec.has_embedding) {
    TESSERA_RETURN_IF_ERROR(CheckView(weights.token_embd));
    if (weights.token_embd.cols != c.dim ||
        weights.token_embd.rows != c.vocab_size) {
      return absl::InvalidArgumentError("token_embd does not match the config");
    }
    s.token_embd = weights.token_embd;
  }
  if (spec.has_head) {
    TESSERA_ASSIGN_OR_RETURN(s.output_norm,
                             LoadVector(weights.output_norm, c.dim));
    if (s.output_norm.empty()) {
      return absl::InvalidArgumentError("model lacks output_norm");
    }
    TESSERA_ASSIGN_OR_RETURN(s.output,
                             LoadMatrix(weights.output, c.dim, c.vocab_size,
                                        spec.head_format, pool, s.notes));
  }
  CountBytes(s);
  return s;
}

absl::Status EmbedRows(const TensorView& token_embd,
                       absl::Span<const int32_t> tokens, float* out) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= token_embd.rows) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", tokens[i], " outside the vocabulary of ",
                       token_embd.rows));
    }
    TESSERA_RETURN_IF_ERROR(
        model::Dequantize(token_embd.type, token_embd.row(tokens[i]),
                          out + i * token_embd.cols, token_embd.cols));
  }
  return absl::OkStatus();
}

namespace {

absl::Status TileQ4Matrix(ExecMatrix& m, ThreadPool* pool,
                          int64_t& converted_bytes) {
  if (m.format != GgmlType::kQ4_0 || m.q4_tiled || m.bytes == 0) {
    return absl::OkStatus();
  }
  auto storage = LargePageBuffer::Allocate(static_cast<size_t>(m.bytes));
  TESSERA_RETURN_IF_ERROR_CTX(storage.status(), m.name);
  const int64_t blocks = m.cols / 32;
  auto rows = [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      TileQ4Row(m.data + r * m.row_bytes, blocks,
                storage->data() + r * m.row_bytes);
    }
  };
  if (pool != nullptr) {
    pool->ParallelFor(m.rows, 64, rows);
  } else {
    rows(0, m.rows, 0);
  }
  if (m.in_place) {
    // The original is not read again: out of resident memory with it.
    MappedFile::DropPages(m.data, static_cast<size_t>(m.bytes));
    converted_bytes += m.bytes;
  }
  m.storage = std::move(*storage);
  m.data = m.storage.data();
  m.in_place = false;
  m.q4_tiled = true;
  return absl::OkStatus();
}

}  // namespace

absl::Status TileQ4Matrices(ShardWeights& shard, ThreadPool* pool) {
  for (ExecLayer& layer : shard.layers) {
    for (ExecMatrix* m : {&layer.wq, &layer.wk, &layer.wv, &layer.wo,
                          &layer.w_gate, &layer.w_up, &layer.w_down}) {
      TESSERA_RETURN_IF_ERROR(TileQ4Matrix(*m, pool, shard.converted_bytes));
    }
  }
  if (shard.spec.has_head) {
    TESSERA_RETURN_IF_ERROR(
        TileQ4Matrix(shard.output, pool, shard.converted_bytes));
  }
  return absl::OkStatus();
}

}  // namespace tessera::kernels
