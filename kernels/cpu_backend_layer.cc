// The compute of CpuBackend::Forward: one pass of up to kMaxRowsPerPass rows
// through the shard's layers and head. Scratch buffers hold the pass's rows:
// norm_ (normed input), q_/k_/v_, att_ (attention output), gate_/up_.
#include <algorithm>

#include "kernels/cpu_backend.h"
#include "kernels/cpu_ops.h"
#include "kernels/simd.h"

namespace tessera::kernels {
namespace {

MatrixRef Ref(const ExecMatrix& m) {
  return MatrixRef{m.format, m.rows, m.cols, m.row_bytes, m.data, m.q4_tiled};
}

float* Floats(const AlignedBuffer& b) {
  return reinterpret_cast<float*>(b.data());
}

// Grain for element-wise row loops: run inline for decode-sized batches.
int64_t RowGrain(int64_t n, int threads) {
  return std::max<int64_t>(4, (n + 2 * threads - 1) / (2 * threads));
}

}  // namespace

void CpuBackend::EnsureScratch(int64_t rows) {
  const model::ModelConfig& c = shard_->config;
  norm_.Reserve<float>(rows * c.dim);
  q_.Reserve<float>(rows * c.dim);
  att_.Reserve<float>(rows * c.dim);
  k_.Reserve<float>(rows * c.kv_dim());
  v_.Reserve<float>(rows * c.kv_dim());
  gate_.Reserve<float>(rows * c.ffn_dim);
  up_.Reserve<float>(rows * c.ffn_dim);
  cos_sin_.Reserve<float>(rows * std::max<int64_t>(c.rope_dim, 1));
  row_position_.resize(rows);
  row_segment_.resize(rows);
}

void CpuBackend::RunPass(const std::vector<Segment>& segments, int64_t begin,
                         int64_t end, float* x) {
  const int64_t n = end - begin;
  EnsureScratch(n);
  one_row_per_session_ = true;
  for (const Segment& s : segments) {
    const int64_t first = std::max(begin, s.begin);
    const int64_t last = std::min(end, s.begin + s.count);
    one_row_per_session_ &= last - first <= 1;
    for (int64_t i = first; i < last; ++i) {
      row_position_[i - begin] = s.start + (i - s.begin);
      row_segment_[i - begin] = &s;
    }
  }
  const int64_t rope_dim = shard_->config.rope_dim;
  for (int64_t i = 0; i < n; ++i) {
    RopeAngles(rope_inv_freq_, row_position_[i],
               Floats(cos_sin_) + i * rope_dim);
  }
  for (int64_t l = 0; l < static_cast<int64_t>(shard_->layers.size()); ++l) {
    RunLayer(l, n, x);
  }
}

void CpuBackend::NormRows(const float* x, const std::vector<float>& weight,
                          int64_t n, float* out) {
  const model::ModelConfig& c = shard_->config;
  pool_.ParallelFor(n, RowGrain(n, pool_.num_threads()),
                    [&](int64_t b, int64_t e, int) {
                      for (int64_t i = b; i < e; ++i) {
                        RmsNorm(x + i * c.dim, weight.data(), c.dim, c.norm_eps,
                                out + i * c.dim);
                      }
                    });
}

void CpuBackend::RunLayer(int64_t l, int64_t n, float* x) {
  const model::ModelConfig& c = shard_->config;
  const ExecLayer& L = shard_->layers[l];
  NormRows(x, L.attn_norm, n, Floats(norm_));
  ProjectQkv(l, n);
  Attention(l, n);
  const MatMulJob wo[] = {{Ref(L.wo), x, c.dim, /*accumulate=*/true}};
  matmul_.Run(wo, Floats(att_), n, c.dim);
  NormRows(x, L.ffn_norm, n, Floats(norm_));
  FeedForward(l, n, x);
}

void CpuBackend::ProjectQkv(int64_t l, int64_t n) {
  const model::ModelConfig& c = shard_->config;
  const ExecLayer& L = shard_->layers[l];
  const MatMulJob qkv[] = {{Ref(L.wq), Floats(q_), c.dim},
                           {Ref(L.wk), Floats(k_), c.kv_dim()},
                           {Ref(L.wv), Floats(v_), c.kv_dim()}};
  matmul_.Run(qkv, Floats(norm_), n, c.dim);
}

void CpuBackend::PrepareHeads(int64_t l, int64_t i, int64_t kv_head,
                              int64_t kv_heads) {
  const model::ModelConfig& c = shard_->config;
  const ExecLayer& L = shard_->layers[l];
  const int64_t group = c.n_heads / c.n_kv_heads;
  const int64_t q_offset = kv_head * group * c.head_dim;
  const int64_t q_size = kv_heads * group * c.head_dim;
  const int64_t kv_offset = kv_head * c.head_dim;
  const int64_t kv_size = kv_heads * c.head_dim;
  float* q = Floats(q_) + i * c.dim + q_offset;
  float* k = Floats(k_) + i * c.kv_dim() + kv_offset;
  float* v = Floats(v_) + i * c.kv_dim() + kv_offset;
  if (!L.bq.empty()) simd::Add(L.bq.data() + q_offset, q, q_size);
  if (!L.bk.empty()) simd::Add(L.bk.data() + kv_offset, k, kv_size);
  if (!L.bv.empty()) simd::Add(L.bv.data() + kv_offset, v, kv_size);
  const float* cs = Floats(cos_sin_) + i * c.rope_dim;
  const bool neox = c.arch == model::Architecture::kQwen2;
  ApplyRope(q, kv_heads * group, c.head_dim, c.rope_dim, cs, neox);
  ApplyRope(k, kv_heads, c.head_dim, c.rope_dim, cs, neox);
  kv_->StoreSlice(row_segment_[i]->session, l, row_position_[i], kv_offset,
                  kv_size, k, v);
}

void CpuBackend::AttendTask(int64_t l, int64_t i, int64_t kv_head,
                            int thread) {
  const model::ModelConfig& c = shard_->config;
  const int64_t group = c.n_heads / c.n_kv_heads;
  const int64_t offset = i * c.dim + kv_head * group * c.head_dim;
  AttendGroup(Floats(q_) + offset, group, c.head_dim,
              kv_->View(row_segment_[i]->session, l), kv_head * c.head_dim,
              row_position_[i] + 1, Floats(scores_[thread]),
              Floats(att_) + offset);
}

void CpuBackend::Attention(int64_t l, int64_t n) {
  const model::ModelConfig& c = shard_->config;
  const int64_t group = c.n_heads / c.n_kv_heads;
  // Scores scratch for the longest row of the pass.
  int64_t longest = 0;
  for (int64_t i = 0; i < n; ++i) {
    longest = std::max(longest, row_position_[i] + 1);
  }
  for (AlignedBuffer& b : scores_) b.Reserve<float>(group * longest);
  const int64_t heads = c.n_kv_heads;
  if (one_row_per_session_) {
    // No row reads another row's keys: each (row, KV head) task prepares
    // its own heads and attends, so the serial RoPE phase disappears and
    // every task starts reading its cache at once.
    pool_.ParallelFor(n * heads, 1, [&](int64_t b, int64_t e, int thread) {
      for (int64_t task = b; task < e; ++task) {
        PrepareHeads(l, task / heads, task % heads, 1);
        AttendTask(l, task / heads, task % heads, thread);
      }
    });
    return;
  }
  // Rows of one session attend to each other's keys: all are stored first.
  pool_.ParallelFor(
      n, RowGrain(n, pool_.num_threads()), [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) PrepareHeads(l, i, 0, heads);
      });
  // One task per (row, KV head): its `group` query heads share the keys.
  pool_.ParallelFor(n * heads, 1, [&](int64_t b, int64_t e, int thread) {
    for (int64_t task = b; task < e; ++task) {
      AttendTask(l, task / heads, task % heads, thread);
    }
  });
}

void CpuBackend::FeedForward(int64_t l, int64_t n, float* x) {
  const model::ModelConfig& c = shard_->config;
  const ExecLayer& L = shard_->layers[l];
  const int64_t ffn = c.ffn_dim;
  float *gate = Floats(gate_), *up = Floats(up_);
  const MatMulJob gate_up[] = {{Ref(L.w_gate), gate, ffn},
                               {Ref(L.w_up), up, ffn}};
  matmul_.Run(gate_up, Floats(norm_), n, c.dim);
  pool_.ParallelFor(
      n, RowGrain(n, pool_.num_threads()), [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) {
          simd::SwiGlu(gate + i * ffn, up + i * ffn, gate + i * ffn, ffn);
        }
      });
  const MatMulJob down[] = {{Ref(L.w_down), x, c.dim, /*accumulate=*/true}};
  matmul_.Run(down, gate, n, ffn);
}

void CpuBackend::Head(const Batch& batch, const float* x, int64_t begin,
                      int64_t n, float* logits) {
  const model::ModelConfig& c = shard_->config;
  float* h = Floats(norm_);
  int64_t outputs = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!batch.rows[begin + i].want_output) continue;
    RmsNorm(x + i * c.dim, shard_->output_norm.data(), c.dim, c.norm_eps,
            h + outputs * c.dim);
    ++outputs;
  }
  if (outputs == 0) return;
  const MatMulJob head[] = {{Ref(shard_->output), logits, c.vocab_size}};
  matmul_.Run(head, h, outputs, c.dim);
}

}  // namespace tessera::kernels
